import type { Mask } from '../volume/volume';
import { foregroundBox } from '../volume/crop';
import { mulberry32 } from './random';

/**
 * How one simulated observer (physician) deviates from a reference contour. Applied by
 * `applyObserverStyle` in this order: margin, in-plane smoothing, cranial/caudal extent, missed slice,
 * missed structure.
 */
export interface ObserverStyle {
  /** Observer code, e.g. 'RO1'. */
  code: string;
  /** Systematic margin in mm: > 0 expands, < 0 contracts (exact Euclidean distance, anisotropic spacing). */
  marginMm: number;
  /** Extra margin in mm for CTV and nodal structures (observers vary more on targets). */
  targetMarginMm: number;
  /** In-plane smoothing, 0 none .. 1 strong: Gaussian blur per slice (sigma = 2 mm x smoothness), then >= 0.5. */
  smoothness: number;
  /** Whole slices added (+) or removed (-) at the cranial end of the structure. */
  cranialSlices: number;
  /** Whole slices added (+) or removed (-) at the caudal end of the structure. */
  caudalSlices: number;
  /** Probability of leaving out one slice strictly inside the structure's extent. */
  missedSliceProbability: number;
  /** Probability of missing a whole nodal structure (the result is empty). */
  missedStructureProbability: number;
}

/** Structure categories the style distinguishes. */
export type ObserverStyleCategory = 'OAR' | 'CTV' | 'nodal' | 'external' | 'other';

/** Gaussian sigma in mm at smoothness 1. */
const maxSmoothingSigmaMm = 2;

function checkStyle(style: ObserverStyle): void {
  const finite = (name: string, value: number) => {
    if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite number, got ${value}`);
  };
  finite('marginMm', style.marginMm);
  finite('targetMarginMm', style.targetMarginMm);
  for (const [name, value] of [
    ['smoothness', style.smoothness],
    ['missedSliceProbability', style.missedSliceProbability],
    ['missedStructureProbability', style.missedStructureProbability],
  ] as const) {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${value}`);
  }
  for (const [name, value] of [
    ['cranialSlices', style.cranialSlices],
    ['caudalSlices', style.caudalSlices],
  ] as const) {
    if (!Number.isInteger(value)) throw new RangeError(`${name} must be a whole number, got ${value}`);
  }
}

/**
 * A simulated observer's contour of a structure: the reference `mask` changed by `style`, deterministic
 * for a given `seed`.
 *
 * - Margin: `marginMm` (plus `targetMarginMm` for CTV and nodal) applied exactly: an expansion by m adds
 *   every voxel whose centre lies within m mm (d <= m, Euclidean, anisotropic spacing) of a foreground voxel
 *   centre; a contraction removes every foreground voxel within |m| mm of a background voxel centre
 *   (outside the array is background).
 * - Smoothing: per axial slice, Gaussian blur with sigma = 2 mm x `smoothness`, kept where >= 0.5.
 * - Extent: the last slice at the cranial (+z in LPS) or caudal end is repeated on `n` further slices, or
 *   `n` end slices are cleared; clipped to the array.
 * - Missed slice: with probability `missedSliceProbability`, one slice strictly between the first and last
 *   non-empty slice is cleared. Missed structure: nodal structures are returned empty with probability
 *   `missedStructureProbability`.
 *
 * The 'external' category gets smoothing only. All work is on the mask's bounding box plus the margin.
 * Empty masks are returned as an empty copy. Always returns a new mask; the input is not modified.
 * Throws RangeError for non-finite margins, probabilities or smoothness outside [0, 1], or fractional
 * slice counts.
 */
export function applyObserverStyle(
  mask: Mask,
  category: ObserverStyleCategory,
  style: ObserverStyle,
  seed: number,
): Mask {
  checkStyle(style);
  const random = mulberry32(seed);
  // draw every random number up front, always in the same order, so one setting never shifts another's
  const missedSliceDraw = random();
  const missedSlicePick = random();
  const missedStructureDraw = random();

  const isExternal = category === 'external';
  const marginMm = isExternal
    ? 0
    : style.marginMm + (category === 'CTV' || category === 'nodal' ? style.targetMarginMm : 0);
  const data = morphologyInBox(mask, marginMm, style.smoothness);
  const out: Mask = { data, dims: mask.dims, spacingMm: mask.spacingMm, affineIjkToLps: mask.affineIjkToLps };
  if (isExternal) return out;

  const cranialUp = mask.affineIjkToLps[10] >= 0;
  changeExtent(out, cranialUp ? 1 : -1, style.cranialSlices);
  changeExtent(out, cranialUp ? -1 : 1, style.caudalSlices);
  if (missedSliceDraw < style.missedSliceProbability) missSlice(out, missedSlicePick);
  if (category === 'nodal' && missedStructureDraw < style.missedStructureProbability) data.fill(0);
  return out;
}

/** Inclusive bounding box of the foreground as [i0, i1, j0, j1, k0, k1], or null when empty. */
function boundingBox(mask: Mask): [number, number, number, number, number, number] | null {
  const box = foregroundBox(mask.data, mask.dims);
  return box === null ? null : [box.iMin, box.iMax, box.jMin, box.jMax, box.kMin, box.kMax];
}

/**
 * Margin and smoothing on a working box: the bounding box padded far enough that nothing reaches its edge.
 * The box may extend beyond the array (read as background, never written back).
 */
function morphologyInBox(mask: Mask, marginMm: number, smoothness: number): Uint8Array {
  const result = new Uint8Array(mask.data);
  const box = boundingBox(mask);
  if (box === null || (marginMm === 0 && smoothness === 0)) return result;
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacingMm;
  const sigmaMm = maxSmoothingSigmaMm * smoothness;
  const radius = Math.abs(marginMm);
  const padX = Math.ceil(radius / sx) + Math.ceil((3 * sigmaMm) / sx) + 1;
  const padY = Math.ceil(radius / sy) + Math.ceil((3 * sigmaMm) / sy) + 1;
  const padZ = Math.ceil(radius / sz) + 1;
  const ox = box[0] - padX;
  const oy = box[2] - padY;
  const oz = box[4] - padZ;
  const bx = box[1] - box[0] + 1 + 2 * padX;
  const by = box[3] - box[2] + 1 + 2 * padY;
  const bz = box[5] - box[4] + 1 + 2 * padZ;

  let work = new Uint8Array(bx * by * bz);
  for (let k = Math.max(0, oz); k < Math.min(nz, oz + bz); k++) {
    for (let j = Math.max(0, oy); j < Math.min(ny, oy + by); j++) {
      const i0 = Math.max(0, ox);
      const i1 = Math.min(nx, ox + bx);
      const src = i0 + nx * (j + ny * k);
      work.set(mask.data.subarray(src, src + i1 - i0), i0 - ox + bx * (j - oy + by * (k - oz)));
    }
  }
  if (marginMm !== 0) work = applyMargin(work, [bx, by, bz], mask.spacingMm, marginMm);
  if (sigmaMm > 0) smoothSlices(work, [bx, by, bz], mask.spacingMm, sigmaMm);

  for (let k = Math.max(0, oz); k < Math.min(nz, oz + bz); k++) {
    for (let j = Math.max(0, oy); j < Math.min(ny, oy + by); j++) {
      const i0 = Math.max(0, ox);
      const i1 = Math.min(nx, ox + bx);
      const src = i0 - ox + bx * (j - oy + by * (k - oz));
      result.set(work.subarray(src, src + i1 - i0), i0 + nx * (j + ny * k));
    }
  }
  return result;
}

/**
 * Exact dilation (m > 0) or erosion (m < 0) by a Euclidean ball of |m| mm. The nearest voxel of the other
 * kind is always a 6-connected boundary voxel, so stamping the ball from boundary voxels only is exact.
 * The box has at least ceil(|m| / s) + 1 voxels of background padding on every side.
 */
function applyMargin(
  work: Uint8Array,
  dims: [number, number, number],
  spacingMm: readonly number[],
  marginMm: number,
) {
  const [bx, by, bz] = dims;
  const plane = bx * by;
  const radius = Math.abs(marginMm);
  const limit = radius * radius * (1 + 1e-12);
  const rx = Math.floor(radius / spacingMm[0]);
  const ry = Math.floor(radius / spacingMm[1]);
  const rz = Math.floor(radius / spacingMm[2]);
  const offsets: number[] = [];
  for (let dk = -rz; dk <= rz; dk++) {
    const zz = dk * spacingMm[2];
    for (let dj = -ry; dj <= ry; dj++) {
      const yy = dj * spacingMm[1];
      for (let di = -rx; di <= rx; di++) {
        const xx = di * spacingMm[0];
        if (xx * xx + yy * yy + zz * zz <= limit && (di !== 0 || dj !== 0 || dk !== 0))
          offsets.push(di + bx * (dj + by * dk));
      }
    }
  }
  const ball = Int32Array.from(offsets);
  const out = new Uint8Array(work);
  // dilation: stamp 1 around foreground voxels next to background; erosion: stamp 0 around background
  // voxels next to foreground
  const seed = marginMm > 0 ? 1 : 0;
  for (let k = 1; k < bz - 1; k++) {
    for (let j = 1; j < by - 1; j++) {
      for (let i = 1; i < bx - 1; i++) {
        const n = i + bx * (j + by * k);
        if (work[n] !== seed) continue;
        if (
          work[n - 1] === seed &&
          work[n + 1] === seed &&
          work[n - bx] === seed &&
          work[n + bx] === seed &&
          work[n - plane] === seed &&
          work[n + plane] === seed
        )
          continue;
        for (let m = 0; m < ball.length; m++) out[n + ball[m]] = seed;
      }
    }
  }
  return out;
}

/** Per k-slice Gaussian blur (separable, truncated at 3 sigma) and threshold at 0.5, in place. */
function smoothSlices(
  work: Uint8Array,
  dims: [number, number, number],
  spacingMm: readonly number[],
  sigmaMm: number,
) {
  const [bx, by, bz] = dims;
  const kernelX = gaussianKernel(sigmaMm / spacingMm[0]);
  const kernelY = gaussianKernel(sigmaMm / spacingMm[1]);
  const rx = (kernelX.length - 1) / 2;
  const ry = (kernelY.length - 1) / 2;
  const plane = bx * by;
  const a = new Float32Array(plane);
  const b = new Float32Array(plane);
  for (let k = 0; k < bz; k++) {
    const base = plane * k;
    let any = false;
    for (let n = 0; n < plane; n++) {
      a[n] = work[base + n];
      if (a[n] !== 0) any = true;
    }
    if (!any) continue;
    for (let j = 0; j < by; j++) {
      const row = bx * j;
      for (let i = 0; i < bx; i++) {
        let sum = 0;
        for (let d = -rx; d <= rx; d++) {
          const ii = i + d;
          if (ii >= 0 && ii < bx) sum += kernelX[d + rx] * a[row + ii];
        }
        b[row + i] = sum;
      }
    }
    for (let j = 0; j < by; j++) {
      for (let i = 0; i < bx; i++) {
        let sum = 0;
        for (let d = -ry; d <= ry; d++) {
          const jj = j + d;
          if (jj >= 0 && jj < by) sum += kernelY[d + ry] * b[i + bx * jj];
        }
        work[base + i + bx * j] = sum >= 0.5 ? 1 : 0;
      }
    }
  }
}

/** Normalised Gaussian weights for sigma in voxels, radius ceil(3 sigma). */
function gaussianKernel(sigmaVoxels: number): Float64Array {
  const radius = Math.ceil(3 * sigmaVoxels);
  const kernel = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let d = -radius; d <= radius; d++) {
    kernel[d + radius] = Math.exp(-(d * d) / (2 * sigmaVoxels * sigmaVoxels));
    total += kernel[d + radius];
  }
  for (let n = 0; n < kernel.length; n++) kernel[n] /= total;
  return kernel;
}

/** First and last non-empty k-slice, or null. */
function sliceExtent(mask: Mask): [number, number] | null {
  const plane = mask.dims[0] * mask.dims[1];
  let first = -1;
  let last = -1;
  for (let k = 0; k < mask.dims[2]; k++) {
    const data = mask.data;
    let any = false;
    for (let n = plane * k, end = plane * (k + 1); n < end; n++) {
      if (data[n] !== 0) {
        any = true;
        break;
      }
    }
    if (any) {
      if (first < 0) first = k;
      last = k;
    }
  }
  return first < 0 ? null : [first, last];
}

/** Adds (count > 0, repeating the end slice) or clears (count < 0) slices at the end that `direction` points to. */
function changeExtent(mask: Mask, direction: 1 | -1, count: number): void {
  if (count === 0) return;
  const extent = sliceExtent(mask);
  if (extent === null) return;
  const plane = mask.dims[0] * mask.dims[1];
  const nz = mask.dims[2];
  const end = direction === 1 ? extent[1] : extent[0];
  const data = mask.data;
  if (count > 0) {
    const source = data.slice(plane * end, plane * (end + 1));
    for (let step = 1; step <= count; step++) {
      const k = end + direction * step;
      if (k < 0 || k >= nz) break;
      data.set(source, plane * k);
    }
  } else {
    for (let step = 0; step < -count; step++) {
      const k = end - direction * step;
      if (k < extent[0] || k > extent[1]) break;
      data.fill(0, plane * k, plane * (k + 1));
    }
  }
}

/** Clears one slice strictly between the first and last non-empty slice, chosen by `pick` in [0, 1). */
function missSlice(mask: Mask, pick: number): void {
  const extent = sliceExtent(mask);
  if (extent === null || extent[1] - extent[0] < 2) return;
  const inner = extent[1] - extent[0] - 1;
  const k = extent[0] + 1 + Math.min(inner - 1, Math.floor(pick * inner));
  const plane = mask.dims[0] * mask.dims[1];
  mask.data.fill(0, plane * k, plane * (k + 1));
}
