import type { Vec3 } from '../volume/volume';

/**
 * Resampling between a CT grid and a model's grid. Both grids cover the same physical extent (the CT's
 * voxels as boxes): the model grid has n' = round(n * s / t) voxels along an axis of n voxels at spacing
 * s for a target spacing t, so its actual spacing is n * s / n'. Voxel centres map edge-aligned:
 * source index = (target index + 0.5) * n / n' - 0.5. This is what skimage's resize (nnU-Net) does.
 */
export interface ResampledGrid {
  dims: Vec3;
  spacingMm: Vec3;
}

/** The model grid for a CT grid and a target spacing per axis (null keeps that axis as it is). */
export function targetGrid(
  dims: Vec3,
  spacingMm: Vec3,
  target: readonly [number | null, number | null, number | null] | 'native',
): ResampledGrid {
  if (target === 'native') return { dims, spacingMm };
  const out = [0, 1, 2].map((axis) => {
    const t = target[axis];
    const n = dims[axis] as number;
    const s = spacingMm[axis] as number;
    if (t === null || t === undefined) return [n, s];
    const m = Math.max(1, Math.round((n * s) / t));
    return [m, (n * s) / m];
  });
  return {
    dims: [out[0]![0]!, out[1]![0]!, out[2]![0]!],
    spacingMm: [out[0]![1]!, out[1]![1]!, out[2]![1]!],
  };
}

function sourcePositions(from: number, to: number): Float64Array {
  const positions = new Float64Array(to);
  const ratio = from / to;
  for (let i = 0; i < to; i += 1) positions[i] = Math.min(from - 1, Math.max(0, (i + 0.5) * ratio - 0.5));
  return positions;
}

/**
 * Trilinear resampling of intensities (row-major, x fastest) from `fromDims` to `toDims`; positions
 * outside the source are clamped to its edge voxels.
 */
export function resampleLinear(
  source: ArrayLike<number>,
  fromDims: Vec3,
  toDims: Vec3,
  out = new Float32Array(toDims[0] * toDims[1] * toDims[2]),
): Float32Array {
  const [nx, ny] = fromDims;
  const [mx, my, mz] = toDims;
  const identity = fromDims[0] === mx && fromDims[1] === my && fromDims[2] === mz;
  if (identity) {
    for (let i = 0; i < out.length; i += 1) out[i] = source[i] as number;
    return out;
  }
  const px = sourcePositions(fromDims[0], mx);
  const py = sourcePositions(fromDims[1], my);
  const pz = sourcePositions(fromDims[2], mz);
  const x0 = new Int32Array(mx);
  const x1 = new Int32Array(mx);
  const fx = new Float64Array(mx);
  for (let i = 0; i < mx; i += 1) {
    x0[i] = Math.floor(px[i]!);
    x1[i] = Math.min(nx - 1, x0[i]! + 1);
    fx[i] = px[i]! - x0[i]!;
  }
  let o = 0;
  for (let k = 0; k < mz; k += 1) {
    const z0 = Math.floor(pz[k]!);
    const z1 = Math.min(fromDims[2] - 1, z0 + 1);
    const fz = pz[k]! - z0;
    for (let j = 0; j < my; j += 1) {
      const y0 = Math.floor(py[j]!);
      const y1 = Math.min(ny - 1, y0 + 1);
      const fy = py[j]! - y0;
      const r00 = nx * (y0 + ny * z0);
      const r01 = nx * (y1 + ny * z0);
      const r10 = nx * (y0 + ny * z1);
      const r11 = nx * (y1 + ny * z1);
      for (let i = 0; i < mx; i += 1, o += 1) {
        const a = x0[i]!;
        const b = x1[i]!;
        const f = fx[i]!;
        const c00 = (source[r00 + a] as number) * (1 - f) + (source[r00 + b] as number) * f;
        const c01 = (source[r01 + a] as number) * (1 - f) + (source[r01 + b] as number) * f;
        const c10 = (source[r10 + a] as number) * (1 - f) + (source[r10 + b] as number) * f;
        const c11 = (source[r11 + a] as number) * (1 - f) + (source[r11 + b] as number) * f;
        const c0 = c00 * (1 - fy) + c01 * fy;
        const c1 = c10 * (1 - fy) + c11 * fy;
        out[o] = c0 * (1 - fz) + c1 * fz;
      }
    }
  }
  return out;
}

/** Nearest-neighbour resampling of labels from `fromDims` to `toDims` (same extent, edge-aligned). */
export function resampleNearest(source: Uint8Array, fromDims: Vec3, toDims: Vec3): Uint8Array {
  const [nx, ny] = fromDims;
  const [mx, my, mz] = toDims;
  if (fromDims[0] === mx && fromDims[1] === my && fromDims[2] === mz) return source.slice();
  const index = (from: number, to: number) => {
    const positions = sourcePositions(from, to);
    return Int32Array.from(positions, (p) => Math.min(from - 1, Math.round(p)));
  };
  const ix = index(fromDims[0], mx);
  const iy = index(fromDims[1], my);
  const iz = index(fromDims[2], mz);
  const out = new Uint8Array(mx * my * mz);
  let o = 0;
  for (let k = 0; k < mz; k += 1) {
    for (let j = 0; j < my; j += 1) {
      const row = nx * (iy[j]! + ny * iz[k]!);
      for (let i = 0; i < mx; i += 1, o += 1) out[o] = source[row + ix[i]!]!;
    }
  }
  return out;
}
