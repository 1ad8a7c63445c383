/**
 * A 3-D image on a regular grid.
 *
 * Voxel (i, j, k) is `data[i + nx * (j + ny * k)]`: i (x) varies fastest, then j, then k (the slice
 * axis). `spacingMm` is the distance between voxel centres along i, j and k. `affineIjkToLps` is a
 * row-major 4x4 matrix taking the voxel index (i, j, k, 1) to patient coordinates in mm in DICOM's LPS
 * convention (x to the patient's left, y to posterior, z to superior). NIfTI stores RAS: readers negate
 * the first two rows.
 */
export type VoxelArray =
  Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export type Vec3 = readonly [number, number, number];

export interface Volume<T extends VoxelArray = VoxelArray> {
  data: T;
  dims: Vec3;
  spacingMm: Vec3;
  affineIjkToLps: Float64Array;
}

/** A binary mask: every voxel is exactly 0 or 1 (the metric kernels rely on it). */
export type Mask = Volume<Uint8Array>;

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

/** Volume of one voxel in mm³. */
export function voxelVolumeMm3(spacingMm: Vec3): number {
  return spacingMm[0] * spacingMm[1] * spacingMm[2];
}

/** Patient coordinates (LPS, mm) of the voxel centre (i, j, k). */
export function voxelToLps(
  affineIjkToLps: Float64Array,
  i: number,
  j: number,
  k: number,
): [number, number, number] {
  const a = affineIjkToLps;
  return [
    a[0] * i + a[1] * j + a[2] * k + a[3],
    a[4] * i + a[5] * j + a[6] * k + a[7],
    a[8] * i + a[9] * j + a[10] * k + a[11],
  ];
}

/** The affine of an axis-aligned grid: LPS axes along i, j, k, origin at voxel (0, 0, 0). */
export function axisAlignedAffine(spacingMm: Vec3, originLps: Vec3 = [0, 0, 0]): Float64Array {
  return Float64Array.from([
    spacingMm[0],
    0,
    0,
    originLps[0],
    0,
    spacingMm[1],
    0,
    originLps[1],
    0,
    0,
    spacingMm[2],
    originLps[2],
    0,
    0,
    0,
    1,
  ]);
}

/**
 * The affine of a grid whose i, j and k axes run along the unit vectors of `directionLps` (row, column and
 * slice normal: nine numbers) at these spacings, with voxel (0, 0, 0) at `originLps`.
 */
export function gridAffine(
  directionLps: ArrayLike<number>,
  spacingMm: Vec3,
  originLps: ArrayLike<number>,
): Float64Array {
  const d = directionLps;
  const [sx, sy, sz] = spacingMm;
  return Float64Array.from([
    d[0]! * sx,
    d[3]! * sy,
    d[6]! * sz,
    originLps[0]!,
    d[1]! * sx,
    d[4]! * sy,
    d[7]! * sz,
    originLps[1]!,
    d[2]! * sx,
    d[5]! * sy,
    d[8]! * sz,
    originLps[2]!,
    0,
    0,
    0,
    1,
  ]);
}

/**
 * Why two volumes are not on the same grid, or null when they are: same dims, spacings within
 * `toleranceMm`, affines within `toleranceMm` (translations) and 1e-5 (direction cosines).
 */
export function gridMismatch(a: Volume, b: Volume, toleranceMm = 1e-4): string | null {
  if (a.dims.some((n, axis) => n !== b.dims[axis])) {
    return `dimensions differ: ${a.dims.join('x')} vs ${b.dims.join('x')}`;
  }
  if (a.spacingMm.some((s, axis) => Math.abs(s - b.spacingMm[axis]) > toleranceMm)) {
    return `voxel spacing differs: ${a.spacingMm.join(' x ')} mm vs ${b.spacingMm.join(' x ')} mm`;
  }
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 4; col++) {
      const index = row * 4 + col;
      const tolerance = col === 3 ? toleranceMm : 1e-5 * Math.max(1, Math.abs(a.affineIjkToLps[index]));
      if (Math.abs(a.affineIjkToLps[index] - b.affineIjkToLps[index]) > tolerance) {
        return col === 3
          ? `origins differ: (${originOf(a).join(', ')}) vs (${originOf(b).join(', ')}) mm`
          : 'orientations differ (the affines rotate the axes differently)';
      }
    }
  }
  return null;
}

function originOf(v: Volume): number[] {
  return [v.affineIjkToLps[3], v.affineIjkToLps[7], v.affineIjkToLps[11]];
}

/**
 * The binary mask of a label image: 1 where the voxel equals `label`, or where it is non-zero when no
 * label is given. NaN is background.
 */
export function toMask(volume: Volume, label?: number): Mask {
  const source = volume.data;
  const out = new Uint8Array(source.length);
  if (label === undefined) {
    for (let n = 0; n < source.length; n++) out[n] = source[n] !== 0 && source[n] === source[n] ? 1 : 0;
  } else {
    for (let n = 0; n < source.length; n++) out[n] = source[n] === label ? 1 : 0;
  }
  return { data: out, dims: volume.dims, spacingMm: volume.spacingMm, affineIjkToLps: volume.affineIjkToLps };
}
