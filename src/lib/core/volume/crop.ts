import type { Mask, Vec3 } from './volume';

/** An inclusive voxel box (i, j, k ranges). */
export interface IndexBox {
  iMin: number;
  iMax: number;
  jMin: number;
  jMax: number;
  kMin: number;
  kMax: number;
}

/**
 * The sub-volume of `mask` inside `box` (clamped to the array), with the affine moved so that every voxel
 * keeps its patient coordinates. The data is a fresh copy (transferable to a worker).
 */
export function cropMask(mask: Mask, box: IndexBox): Mask {
  const [nx, ny, nz] = mask.dims;
  const i0 = Math.max(0, box.iMin);
  const j0 = Math.max(0, box.jMin);
  const k0 = Math.max(0, box.kMin);
  const i1 = Math.min(nx - 1, box.iMax);
  const j1 = Math.min(ny - 1, box.jMax);
  const k1 = Math.min(nz - 1, box.kMax);
  const dims: Vec3 = [i1 - i0 + 1, j1 - j0 + 1, k1 - k0 + 1];
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let m = 0;
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const start = i0 + nx * (j + ny * k);
      data.set(mask.data.subarray(start, start + dims[0]), m);
      m += dims[0];
    }
  }
  const a = mask.affineIjkToLps;
  const affine = Float64Array.from(a);
  for (let row = 0; row < 3; row++) {
    affine[row * 4 + 3] = a[row * 4] * i0 + a[row * 4 + 1] * j0 + a[row * 4 + 2] * k0 + a[row * 4 + 3];
  }
  return { data, dims, spacingMm: mask.spacingMm, affineIjkToLps: affine };
}

/** Inclusive index box of the non-zero voxels (x fastest), or null when there are none. */
export function foregroundBox(data: ArrayLike<number>, dims: Vec3): IndexBox | null {
  return scanMask(data, dims, false).box;
}

/** A box as the [i0, j0, k0, i1, j1, k1] array stored in contour.bbox_ijk. */
export function boxToIjk(box: IndexBox | null): number[] | null {
  return box === null ? null : [box.iMin, box.jMin, box.kMin, box.iMax, box.jMax, box.kMax];
}
/**
 * Voxel count and inclusive box of a binary mask (every value 0 or 1, x fastest) in one pass. Slices with
 * no 1 are skipped by a native search (`indexOf`), so a small organ in a large grid costs little more than
 * its own slices. Values other than 0 and 1 are not supported (use foregroundBox).
 */
export function binaryMaskSummary(data: Uint8Array, dims: Vec3): { voxels: number; box: IndexBox | null } {
  return scanMask(data, dims, true);
}

/** Sum and box of the non-zero voxels; with `skipEmptySlices`, slices without a 1 are jumped over. */
function scanMask(
  data: ArrayLike<number>,
  dims: Vec3,
  skipEmptySlices: boolean,
): { voxels: number; box: IndexBox | null } {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const search = skipEmptySlices && data instanceof Uint8Array ? data : null;
  let voxels = 0;
  let iMin = nx;
  let iMax = -1;
  let jMin = ny;
  let jMax = -1;
  let kMin = nz;
  let kMax = -1;
  for (let k = 0; k < nz; k++) {
    const start = k * plane;
    let jFrom = 0;
    if (search !== null) {
      const found = search.indexOf(1, start);
      if (found < 0) break;
      if (found >= start + plane) {
        // nothing until slice floor(found / plane): jump there
        k = Math.floor(found / plane) - 1;
        continue;
      }
      jFrom = Math.floor((found - start) / nx);
    }
    for (let j = jFrom; j < ny; j++) {
      const row = start + nx * j;
      let first = -1;
      let last = -1;
      for (let i = 0; i < nx; i++) {
        const v = data[row + i]!;
        if (v !== 0) {
          voxels += v;
          if (first < 0) first = i;
          last = i;
        }
      }
      if (first < 0) continue;
      if (first < iMin) iMin = first;
      if (last > iMax) iMax = last;
      if (j < jMin) jMin = j;
      if (j > jMax) jMax = j;
      if (k < kMin) kMin = k;
      if (k > kMax) kMax = k;
    }
  }
  return { voxels, box: iMax < 0 ? null : { iMin, iMax, jMin, jMax, kMin, kMax } };
}
