/**
 * Planes of a volume for display: the axial plane k, the coronal plane j and the sagittal plane i of a
 * flat volume (x fastest, `index = i + nx*(j + ny*k)`, see volume.ts), as a flat 2-D image whose pixel
 * (x, y) is `plane[x + width*y]`.
 *
 * Plane axes (volume axis 0 = i, 1 = j, 2 = k along the plane's columns, rows and normal):
 * axial (i, j, k), coronal (i, k, j), sagittal (j, k, i). Rows run in ascending index of their axis
 * unless `flipRows` is set, which puts the last index on top: for the coronal and sagittal planes of a
 * series whose slice normal points superior, that shows the head up.
 */
import type { Vec3, VoxelArray } from './volume';

export const SLICE_PLANES = ['axial', 'coronal', 'sagittal'] as const;

export type SlicePlane = (typeof SLICE_PLANES)[number];

/** Volume axes (0 = i, 1 = j, 2 = k) along a plane's columns, its rows, and its normal. */
export const planeAxes: Readonly<Record<SlicePlane, readonly [number, number, number]>> = {
  axial: [0, 1, 2],
  coronal: [0, 2, 1],
  sagittal: [1, 2, 0],
};

export interface PlaneSize {
  /** pixels per row */
  width: number;
  /** rows */
  height: number;
  /** planes of this orientation in the volume (valid indices 0 .. count − 1) */
  count: number;
}

/** Width, height and number of the planes of one orientation in a volume of `dims`. */
export function planeSize(dims: Vec3, plane: SlicePlane): PlaneSize {
  const [h, v, n] = planeAxes[plane];
  return { width: dims[h], height: dims[v], count: dims[n] };
}

/** In-plane pixel spacing [between columns, between rows] in mm of a plane of a volume at `spacingMm`. */
export function planeSpacingMm(spacingMm: Vec3, plane: SlicePlane): [number, number] {
  const [h, v] = planeAxes[plane];
  return [spacingMm[h], spacingMm[v]];
}

/**
 * The plane `index` of a flat volume, as a new array of the volume's type (or written into `out`, which
 * must hold width·height values). Pixel (x, y) is the voxel with the plane's column axis at x and row axis
 * at y, or at height − 1 − y with `flipRows`.
 * Errors: RangeError when the data length differs from dims, the index is outside 0 .. count − 1 or not an
 * integer, or `out` has the wrong length.
 */
export function extractPlane<T extends VoxelArray>(
  data: T,
  dims: Vec3,
  plane: SlicePlane,
  index: number,
  options: { flipRows?: boolean; out?: T } = {},
): T {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz)
    throw new RangeError(`volume holds ${data.length} values, ${nx}x${ny}x${nz} needs ${nx * ny * nz}`);
  const { width, height, count } = planeSize(dims, plane);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new RangeError(`${plane} plane ${index} is outside 0..${count - 1}`);
  const out =
    options.out ?? (new (data.constructor as new (length: number) => VoxelArray)(width * height) as T);
  if (out.length !== width * height)
    throw new RangeError(`output holds ${out.length} values, the ${plane} plane ${width}x${height}`);
  const flip = options.flipRows === true;
  const sliceSize = nx * ny;
  for (let y = 0; y < height; y++) {
    const row = flip ? height - 1 - y : y;
    const target = y * width;
    if (plane === 'axial') {
      const start = index * sliceSize + row * nx;
      out.set(data.subarray(start, start + nx), target);
    } else if (plane === 'coronal') {
      const start = row * sliceSize + index * nx;
      out.set(data.subarray(start, start + nx), target);
    } else {
      // sagittal: consecutive pixels of a row are a whole image row (nx voxels) apart
      let source = row * sliceSize + index;
      for (let x = 0; x < width; x++, source += nx) out[target + x] = data[source];
    }
  }
  return out;
}

/**
 * A binary mask stored as its bounding box only: `data` (0 or 1, x fastest) covers the voxels
 * `originIjk` .. `originIjk + dims − 1` of the full grid; everything outside is background.
 */
export interface PlacedMask {
  data: Uint8Array;
  dims: Vec3;
  originIjk: Vec3;
}

/**
 * The part of plane `index` (of the full grid) that a placed mask covers: its pixels, and the full-plane
 * pixel (x, y) of its first pixel, rows in ascending index (no flip). Null when the plane misses the box.
 */
export function placedPlane(
  mask: PlacedMask,
  plane: SlicePlane,
  index: number,
): { data: Uint8Array; width: number; height: number; offsetX: number; offsetY: number } | null {
  const [h, v, n] = planeAxes[plane];
  const local = index - mask.originIjk[n];
  if (local < 0 || local >= mask.dims[n]) return null;
  const data = extractPlane(mask.data, mask.dims, plane, local);
  return {
    data,
    width: mask.dims[h],
    height: mask.dims[v],
    offsetX: mask.originIjk[h],
    offsetY: mask.originIjk[v],
  };
}

/**
 * Voxels in exactly one of two binary masks on each axial slice k of a grid with `nz` slices:
 * |A_k| + |B_k| − 2·|A_k ∩ B_k|. Both empty gives zeros. Each mask's box must lie within the grid's
 * slices (RangeError otherwise).
 */
export function axialDifferenceCounts(a: PlacedMask, b: PlacedMask, nz: number): Float64Array {
  for (const mask of [a, b]) {
    if (mask.originIjk[2] < 0 || mask.originIjk[2] + mask.dims[2] > nz)
      throw new RangeError(
        `mask slices ${mask.originIjk[2]}..${mask.originIjk[2] + mask.dims[2] - 1} exceed the grid's 0..${nz - 1}`,
      );
    if (mask.data.length !== mask.dims[0] * mask.dims[1] * mask.dims[2])
      throw new RangeError(
        `mask holds ${mask.data.length} values, its box ${mask.dims.join('x')} ${mask.dims[0] * mask.dims[1] * mask.dims[2]}`,
      );
  }
  const counts = new Float64Array(nz);
  for (const mask of [a, b]) {
    const sliceSize = mask.dims[0] * mask.dims[1];
    for (let kk = 0; kk < mask.dims[2]; kk++) {
      let sum = 0;
      const end = (kk + 1) * sliceSize;
      for (let m = kk * sliceSize; m < end; m++) sum += mask.data[m];
      counts[mask.originIjk[2] + kk] += sum;
    }
  }
  // the intersection lies in the overlap of the two boxes
  const lo = [0, 0, 0];
  const hi = [0, 0, 0];
  for (let axis = 0; axis < 3; axis++) {
    lo[axis] = Math.max(a.originIjk[axis], b.originIjk[axis]);
    hi[axis] = Math.min(a.originIjk[axis] + a.dims[axis], b.originIjk[axis] + b.dims[axis]);
    if (hi[axis] <= lo[axis]) return counts;
  }
  for (let k = lo[2]; k < hi[2]; k++) {
    let both = 0;
    for (let j = lo[1]; j < hi[1]; j++) {
      let ma = lo[0] - a.originIjk[0] + a.dims[0] * (j - a.originIjk[1] + a.dims[1] * (k - a.originIjk[2]));
      let mb = lo[0] - b.originIjk[0] + b.dims[0] * (j - b.originIjk[1] + b.dims[1] * (k - b.originIjk[2]));
      for (let i = lo[0]; i < hi[0]; i++, ma++, mb++) both += a.data[ma] & b.data[mb];
    }
    counts[k] -= 2 * both;
  }
  return counts;
}

/** Patient-side letters at the four edges of a displayed plane (DICOM LPS: L/R, P/A, S/I). */
export interface PlaneOrientation {
  left: string;
  right: string;
  top: string;
  bottom: string;
}

/**
 * Which side of the patient each edge of a displayed plane faces, from the series' direction cosines
 * (row, column and slice normal, nine numbers in LPS): the edge a plane axis points to gets the letter of
 * that axis's largest LPS component. Rows point down the screen, or up with `flipRows`.
 */
export function planeOrientation(
  directionLps: ArrayLike<number>,
  plane: SlicePlane,
  flipRows: boolean,
): PlaneOrientation {
  const [h, v] = planeAxes[plane];
  const axis = (n: number, sign: number): Vec3 => [
    sign * directionLps[3 * n],
    sign * directionLps[3 * n + 1],
    sign * directionLps[3 * n + 2],
  ];
  const down = flipRows ? -1 : 1;
  return {
    right: lpsLetter(axis(h, 1)),
    left: lpsLetter(axis(h, -1)),
    bottom: lpsLetter(axis(v, down)),
    top: lpsLetter(axis(v, -down)),
  };
}

function lpsLetter(vector: Vec3): string {
  let axis = 0;
  for (let n = 1; n < 3; n++) if (Math.abs(vector[n]) > Math.abs(vector[axis])) axis = n;
  const positive = vector[axis] >= 0;
  return axis === 0 ? (positive ? 'L' : 'R') : axis === 1 ? (positive ? 'P' : 'A') : positive ? 'S' : 'I';
}
