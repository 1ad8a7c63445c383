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
