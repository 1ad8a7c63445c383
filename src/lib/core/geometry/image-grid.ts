import type { Vec3 } from '../volume/volume';

/**
 * The geometry of an image series in patient space (DICOM LPS, mm): what a CT series defines through
 * ImagePositionPatient, ImageOrientationPatient and PixelSpacing.
 *
 * Voxel (i, j, k): i runs along a row (the row direction, DICOM's first IOP triplet), j down the columns
 * (the column direction, the second triplet), k over the slices in increasing position along
 * `normalLps` = row × column. The centre of voxel (i, j, k) is
 * `slicePositionLps[k] + i·spacingMm[0]·rowLps + j·spacingMm[1]·columnLps`. spacingMm[2] is the median
 * step between slice positions; `slicePositionsMm` keeps every slice's own position along the normal,
 * which is what contours are matched against (never an assumed constant step).
 */
export interface ImageGrid {
  dims: Vec3;
  /** [column spacing (along a row), row spacing (down a column), median slice step] in mm */
  spacingMm: Vec3;
  rowLps: Vec3;
  columnLps: Vec3;
  normalLps: Vec3;
  /** ImagePositionPatient of each slice, in slice order. */
  slicePositionLps: Vec3[];
  /** Position of each slice along the normal (dot(IPP, normal)), ascending. */
  slicePositionsMm: number[];
  /** Row-major 4x4 from (i, j, k, 1) to LPS, using the first slice and the median step. */
  affineIjkToLps: Float64Array;
  frameOfReferenceUid: string;
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
