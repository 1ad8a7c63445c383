/**
 * Dose on the CT grid. A planning system exports dose on its own grid (typically 2.5-3 mm, possibly
 * rotated against the CT); contours are masks on the CT grid. We bring the dose to the contours: the dose
 * is resampled to the CT grid (trilinear), each CT voxel of the mask weighs its voxel volume.
 *
 * Sampling: the centre of CT voxel (i, j, k) is taken to LPS by the CT's `affineIjkToLps` and from there
 * to a continuous dose index (u, v, w) by the inverse of the dose's affine; the dose there is the
 * trilinear interpolation of the 8 surrounding dose voxels.
 *
 * Outside the dose grid: a point is inside when -0.5 <= u < nu - 0.5 on every axis (within the footprint
 * of the dose voxels; ITK's `IsInsideBuffer`, which plastimatch uses). Between the outermost voxel centres
 * and that border the outermost value holds (no extrapolation); beyond it the dose is 0 Gy and the voxel is
 * counted in `outsideVoxels`, so a DVH can say which share of the structure it could not see.
 */
import { binaryMaskSummary, type IndexBox } from '../volume/crop';
import { voxelVolumeMm3, type Mask, type Vec3, type Volume } from '../volume/volume';

/** The dose at every voxel of a mask, in mask index order (i fastest), as computeDvh takes it. */
export interface DoseInMask {
  /** dose in Gy of each mask voxel (a view of `buffer` when one was given) */
  doseGy: Float32Array;
  /** mask voxels whose centre lies outside the dose grid; their dose is 0 Gy */
  outsideVoxels: number;
  /** volume of one CT voxel in cc (cm³) */
  voxelCc: number;
}

/** Options of {@link sampleDoseInMask}. */
export interface SampleDoseOptions {
  /**
   * The mask's voxel count and box when already known (binaryMaskSummary, or what is stored with the
   * contour): saves one scan of the mask. Must be exact; a mismatch throws RangeError.
   */
  summary?: { voxels: number; box: IndexBox | null };
  /** reused for the result when at least `voxels` long, so repeated calls allocate nothing */
  buffer?: Float32Array;
}

/** A grid to resample onto: its dims and where its voxels are (spacing as in Volume). */
export interface TargetGrid {
  dims: Vec3;
  spacingMm: Vec3;
  affineIjkToLps: Float64Array;
}

/**
 * Dose (Gy) at the centre of every voxel of `mask` (value 1), trilinear on `dose`'s grid; see the module
 * comment for the outside-grid policy. Only the mask's bounding box is visited, and only its voxels are
 * interpolated, so a small structure costs little whatever the size of the CT.
 *
 * Empty mask: `doseGy` of length 0, `outsideVoxels` 0. Throws RangeError when either affine is not an
 * invertible 4x4 with bottom row 0 0 0 1, the dose data does not match its dims, or `options.summary`
 * disagrees with the mask.
 */
export function sampleDoseInMask(
  dose: Volume<Float32Array>,
  mask: Mask,
  options: SampleDoseOptions = {},
): DoseInMask {
  checkDose(dose);
  const { voxels, box } = options.summary ?? binaryMaskSummary(mask.data, mask.dims);
  const voxelCc = voxelVolumeMm3(mask.spacingMm) / 1000;
  const buffer = options.buffer;
  const out =
    buffer !== undefined && buffer.length >= voxels ? buffer.subarray(0, voxels) : new Float32Array(voxels);
  if (box === null || voxels === 0) {
    if (voxels !== 0) throw new RangeError(`summary says ${voxels} mask voxels but gives no box`);
    return { doseGy: out, outsideVoxels: 0, voxelCc };
  }
  const sampler = new RowSampler(dose, mask.affineIjkToLps);
  const [nx, ny] = mask.dims;
  const { iMin, iMax, jMin, jMax, kMin, kMax } = box;
  let written = 0;
  for (let k = kMin; k <= kMax; k++) {
    for (let j = jMin; j <= jMax; j++) {
      written = sampler.sampleRow(j, k, iMin, iMax, mask.data, nx * (j + ny * k), out, written);
    }
  }
  if (written !== voxels) {
    throw new RangeError(`the mask has ${written} voxels in its box, its summary says ${voxels}`);
  }
  const outside = sampler.outside;
  return { doseGy: out, outsideVoxels: outside, voxelCc };
}

/**
 * The dose resampled onto `grid` (trilinear at every voxel centre, 0 Gy outside the dose grid), over the
 * whole grid or only over `box` (inclusive, clamped to the grid): the result is then the box's sub-grid,
 * its affine moved so that every voxel keeps its patient coordinates (as cropMask does). `outsideVoxels`
 * counts the result's voxels outside the dose grid.
 *
 * Throws RangeError for a non-invertible affine, dose data that does not match its dims, or a box that
 * does not intersect the grid.
 */
export function resampleDoseToGrid(
  dose: Volume<Float32Array>,
  grid: TargetGrid,
  box?: IndexBox,
): { dose: Volume<Float32Array>; outsideVoxels: number } {
  checkDose(dose);
  const [nx, ny, nz] = grid.dims;
  const i0 = Math.max(0, box?.iMin ?? 0);
  const j0 = Math.max(0, box?.jMin ?? 0);
  const k0 = Math.max(0, box?.kMin ?? 0);
  const i1 = Math.min(nx - 1, box?.iMax ?? nx - 1);
  const j1 = Math.min(ny - 1, box?.jMax ?? ny - 1);
  const k1 = Math.min(nz - 1, box?.kMax ?? nz - 1);
  if (i1 < i0 || j1 < j0 || k1 < k0) {
    throw new RangeError(`box does not intersect the ${grid.dims.join('x')} grid`);
  }
  const dims: Vec3 = [i1 - i0 + 1, j1 - j0 + 1, k1 - k0 + 1];
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  const sampler = new RowSampler(dose, grid.affineIjkToLps);
  let written = 0;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) written = sampler.sampleRow(j, k, i0, i1, null, 0, out, written);
  }
  const outside = sampler.outside;
  const a = grid.affineIjkToLps;
  const affine = Float64Array.from(a);
  for (let r = 0; r < 3; r++) {
    affine[r * 4 + 3] = a[r * 4] * i0 + a[r * 4 + 1] * j0 + a[r * 4 + 2] * k0 + a[r * 4 + 3];
  }
  return {
    dose: { data: out, dims, spacingMm: grid.spacingMm, affineIjkToLps: affine },
    outsideVoxels: outside,
  };
}

/**
 * Samples the dose along rows of a target grid: voxels (i, j, k) for i in iFrom..iTo, all of them or only
 * those where `mask[maskRow + i]` is 1, written in order from `outStart`. Outside points give 0 and are
 * counted in `outside`.
 *
 * When a step along the target's i axis moves only along the dose's u axis (both grids axial, the usual
 * case), v and w are constant along the row: the four dose rows around it are blended once per row into
 * `line` (bilinear in v, w), and each voxel needs only a linear interpolation in u. Otherwise each voxel is
 * interpolated trilinearly. Same inside/outside rule and clamping either way.
 */
class RowSampler {
  outside = 0;
  private readonly m: Float64Array;
  private readonly data: Float32Array;
  private readonly nu: number;
  private readonly nv: number;
  private readonly nw: number;
  private readonly alongU: boolean;
  private readonly line: Float64Array;

  constructor(dose: Volume<Float32Array>, targetAffine: Float64Array) {
    this.m = ctToDoseIndex(targetAffine, dose.affineIjkToLps);
    this.data = dose.data;
    [this.nu, this.nv, this.nw] = dose.dims;
    this.alongU = this.m[4] === 0 && this.m[8] === 0;
    this.line = new Float64Array(this.nu);
  }

  sampleRow(
    j: number,
    k: number,
    iFrom: number,
    iTo: number,
    mask: Uint8Array | null,
    maskRow: number,
    out: Float32Array,
    outStart: number,
  ): number {
    let first = iFrom;
    let last = iTo;
    if (mask !== null) {
      // only the stretch between the row's first and last mask voxel matters
      const found = mask.subarray(maskRow + iFrom, maskRow + iTo + 1).indexOf(1);
      if (found < 0) return outStart;
      first = iFrom + found;
      last = maskRow + iTo;
      while (mask[last] === 0) last--;
      last -= maskRow;
    }
    return this.alongU
      ? this.rowAlongU(j, k, first, last, mask, maskRow, out, outStart)
      : this.rowGeneral(j, k, first, last, mask, maskRow, out, outStart);
  }

  private rowAlongU(
    j: number,
    k: number,
    first: number,
    last: number,
    mask: Uint8Array | null,
    maskRow: number,
    out: Float32Array,
    outStart: number,
  ): number {
    const { m, data, nu, nv, nw, line } = this;
    const v = m[5] * j + m[6] * k + m[7];
    const w = m[9] * j + m[10] * k + m[11];
    let n = outStart;
    if (!(v >= -0.5 && v < nv - 0.5 && w >= -0.5 && w < nw - 0.5)) {
      for (let i = first; i <= last; i++) {
        if (mask !== null && mask[maskRow + i] === 0) continue;
        out[n++] = 0;
        this.outside++;
      }
      return n;
    }
    const uBase = m[1] * j + m[2] * k + m[3];
    const du = m[0];
    // blend the four dose rows around (v, w) over the u cells this stretch can reach
    const vc = v < 0 ? 0 : v > nv - 1 ? nv - 1 : v;
    const wc = w < 0 ? 0 : w > nw - 1 ? nw - 1 : w;
    const b = Math.min(Math.floor(vc), nv > 1 ? nv - 2 : 0);
    const c = Math.min(Math.floor(wc), nw > 1 ? nw - 2 : 0);
    const fv = vc - b;
    const fw = wc - c;
    const r00 = nu * (b + nv * c);
    const r10 = r00 + (nv > 1 ? nu : 0);
    const r01 = r00 + (nw > 1 ? nu * nv : 0);
    const r11 = r01 + (nv > 1 ? nu : 0);
    const uA = du * first + uBase;
    const uB = du * last + uBase;
    const uLow = Math.min(uA, uB);
    const uHigh = Math.max(uA, uB);
    const aFrom = Math.max(0, Math.min(Math.floor(uLow < 0 ? 0 : uLow), nu - 2));
    const aTo = Math.min(nu - 1, Math.floor(uHigh < 0 ? 0 : uHigh) + 1);
    for (let a = aFrom; a <= aTo; a++) {
      const x0 = data[r00 + a]! + fv * (data[r10 + a]! - data[r00 + a]!);
      const x1 = data[r01 + a]! + fv * (data[r11 + a]! - data[r01 + a]!);
      line[a] = x0 + fw * (x1 - x0);
    }
    const uMax = nu - 0.5;
    const uLast = nu - 1;
    const aCap = nu > 1 ? nu - 2 : 0;
    const step = nu > 1 ? 1 : 0;
    if (uLow >= 0 && uHigh < uLast) {
      // the whole stretch lies between the outermost dose centres: no bounds, no clamping
      for (let i = first; i <= last; i++) {
        if (mask !== null && mask[maskRow + i] === 0) continue;
        const u = du * i + uBase;
        const a = Math.floor(u);
        const y0 = line[a]!;
        out[n++] = y0 + (u - a) * (line[a + 1]! - y0);
      }
      return n;
    }
    for (let i = first; i <= last; i++) {
      if (mask !== null && mask[maskRow + i] === 0) continue;
      const u = du * i + uBase;
      if (!(u >= -0.5 && u < uMax)) {
        out[n++] = 0;
        this.outside++;
        continue;
      }
      const uc = u < 0 ? 0 : u > uLast ? uLast : u;
      const a = Math.min(Math.floor(uc), aCap);
      const y0 = line[a]!;
      out[n++] = y0 + (uc - a) * (line[a + step]! - y0);
    }
    return n;
  }

  private rowGeneral(
    j: number,
    k: number,
    first: number,
    last: number,
    mask: Uint8Array | null,
    maskRow: number,
    out: Float32Array,
    outStart: number,
  ): number {
    const { m, data, nu, nv, nw } = this;
    const u0 = m[1] * j + m[2] * k + m[3];
    const v0 = m[5] * j + m[6] * k + m[7];
    const w0 = m[9] * j + m[10] * k + m[11];
    let n = outStart;
    for (let i = first; i <= last; i++) {
      if (mask !== null && mask[maskRow + i] === 0) continue;
      const value = trilinear(data, nu, nv, nw, m[0] * i + u0, m[4] * i + v0, m[8] * i + w0);
      if (value !== value) {
        out[n++] = 0;
        this.outside++;
      } else {
        out[n++] = value;
      }
    }
    return n;
  }
}

/**
 * Trilinear interpolation at the continuous index (u, v, w) of a float grid of nu x nv x nw voxels
 * (u fastest), or NaN when the point is outside [-0.5, n - 0.5) on some axis. Inside that range but beyond
 * the outermost voxel centres the index is clamped to them.
 */
function trilinear(
  data: Float32Array,
  nu: number,
  nv: number,
  nw: number,
  u: number,
  v: number,
  w: number,
): number {
  if (!(u >= -0.5 && u < nu - 0.5 && v >= -0.5 && v < nv - 0.5 && w >= -0.5 && w < nw - 0.5)) return NaN;
  const uc = u < 0 ? 0 : u > nu - 1 ? nu - 1 : u;
  const vc = v < 0 ? 0 : v > nv - 1 ? nv - 1 : v;
  const wc = w < 0 ? 0 : w > nw - 1 ? nw - 1 : w;
  // the lower corner never sits on the last voxel unless the axis has one voxel, so +1 stays in range
  const a = Math.min(Math.floor(uc), nu > 1 ? nu - 2 : 0);
  const b = Math.min(Math.floor(vc), nv > 1 ? nv - 2 : 0);
  const c = Math.min(Math.floor(wc), nw > 1 ? nw - 2 : 0);
  const fu = uc - a;
  const fv = vc - b;
  const fw = wc - c;
  const su = nu > 1 ? 1 : 0;
  const sv = nv > 1 ? nu : 0;
  const sw = nw > 1 ? nu * nv : 0;
  const n000 = a + nu * (b + nv * c);
  const n010 = n000 + sv;
  const n001 = n000 + sw;
  const n011 = n001 + sv;
  const x00 = data[n000]! + fu * (data[n000 + su]! - data[n000]!);
  const x10 = data[n010]! + fu * (data[n010 + su]! - data[n010]!);
  const x01 = data[n001]! + fu * (data[n001 + su]! - data[n001]!);
  const x11 = data[n011]! + fu * (data[n011 + su]! - data[n011]!);
  const y0 = x00 + fv * (x10 - x00);
  const y1 = x01 + fv * (x11 - x01);
  return y0 + fw * (y1 - y0);
}

/** inverse(doseAffine) · ctAffine: CT voxel index to continuous dose index, row-major 4x4. */
function ctToDoseIndex(ctAffine: Float64Array, doseAffine: Float64Array): Float64Array {
  const inverse = invertAffine(doseAffine, 'dose');
  checkAffine(ctAffine, 'CT');
  const out = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      let sum = c === 3 ? inverse[r * 4 + 3] : 0;
      for (let n = 0; n < 3; n++) sum += inverse[r * 4 + n] * ctAffine[n * 4 + c];
      out[r * 4 + c] = sum;
    }
  }
  out[15] = 1;
  return out;
}

function checkAffine(a: Float64Array, name: string): void {
  if (
    a.length !== 16 ||
    !a.every(Number.isFinite) ||
    a[12] !== 0 ||
    a[13] !== 0 ||
    a[14] !== 0 ||
    a[15] !== 1
  ) {
    throw new RangeError(`${name} affine must be 16 finite numbers with bottom row 0 0 0 1`);
  }
}

/** Inverse of an affine 4x4 (row-major), by the adjugate of its 3x3 part. */
function invertAffine(a: Float64Array, name: string): Float64Array {
  checkAffine(a, name);
  const [a00, a01, a02, , a10, a11, a12, , a20, a21, a22] = a;
  const c00 = a11 * a22 - a12 * a21;
  const c01 = a02 * a21 - a01 * a22;
  const c02 = a01 * a12 - a02 * a11;
  const c10 = a12 * a20 - a10 * a22;
  const c11 = a00 * a22 - a02 * a20;
  const c12 = a02 * a10 - a00 * a12;
  const c20 = a10 * a21 - a11 * a20;
  const c21 = a01 * a20 - a00 * a21;
  const c22 = a00 * a11 - a01 * a10;
  const det = a00 * c00 + a01 * c10 + a02 * c20;
  const scale = Math.max(...[a00, a01, a02, a10, a11, a12, a20, a21, a22].map(Math.abs));
  if (!(Math.abs(det) > 1e-12 * scale ** 3)) throw new RangeError(`${name} affine is singular`);
  const r = [
    c00 / det,
    c01 / det,
    c02 / det,
    c10 / det,
    c11 / det,
    c12 / det,
    c20 / det,
    c21 / det,
    c22 / det,
  ];
  const [tx, ty, tz] = [a[3], a[7], a[11]];
  return Float64Array.from([
    r[0],
    r[1],
    r[2],
    -(r[0] * tx + r[1] * ty + r[2] * tz),
    r[3],
    r[4],
    r[5],
    -(r[3] * tx + r[4] * ty + r[5] * tz),
    r[6],
    r[7],
    r[8],
    -(r[6] * tx + r[7] * ty + r[8] * tz),
    0,
    0,
    0,
    1,
  ]);
}

function checkDose(dose: Volume<Float32Array>): void {
  const [nu, nv, nw] = dose.dims;
  if (![nu, nv, nw].every((n) => Number.isInteger(n) && n >= 1) || dose.data.length !== nu * nv * nw) {
    throw new RangeError(`dose grid ${dose.dims.join('x')} does not match its ${dose.data.length} values`);
  }
}
