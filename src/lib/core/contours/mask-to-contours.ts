/**
 * Mask to planar contours, the export half of DESIGN.md's "Rasterisation": marching squares on each slice,
 * every ring (outer boundary, hole, island in a hole) its own CLOSED_PLANAR contour, so that rasterising
 * the contours with the even-odd voxel-centre rule gives back the mask.
 */
import { contours as d3Contours } from 'd3-contour';
import { AppError } from '../errors';
import type { ImageGrid } from '../geometry/image-grid';
import type { Mask } from '../volume/volume';
import type { Contour } from './structure-set';

/** The contours of one slice k of the grid. */
export interface SliceContours {
  k: number;
  contours: Contour[];
}

/**
 * Traces the boundary of a binary mask on every slice: marching squares (d3-contour) at threshold 0.5 on
 * the slice, so each vertex lies halfway between a voxel centre inside and a 4-neighbour outside, and no
 * voxel centre is ever on an edge. Outside the array is background, so shapes touching the border are
 * closed just outside it. Diagonal-only neighbours (saddles) become separate rings (4-connectivity of the
 * foreground). Each ring becomes one CLOSED_PLANAR contour in patient space (LPS, mm): the voxel centre
 * (i, j, k) is `slicePositionLps[k] + i·spacingMm[0]·rowLps + j·spacingMm[1]·columnLps`, and a vertex at
 * fractional (i, j) maps the same way. The closing point is not repeated and collinear vertices are
 * dropped (the polygon is unchanged). `referencedSopInstanceUids` is left empty: the writer knows the
 * slice UIDs.
 *
 * Without simplification the even-odd voxel-centre rasterisation of the result equals the mask exactly.
 * With `simplifyToleranceMm` > 0 each ring is simplified by Douglas–Peucker in the slice plane (every
 * removed vertex within the tolerance of the kept polyline), never below 3 points; rings may then touch
 * or cross, and the round trip is no longer exact.
 *
 * Returns only slices with at least one contour, in ascending k; an empty mask gives [].
 * Errors: AppError('INVALID_ARGUMENT') when the mask is not on the grid (dims, data length, number of
 * slice positions) or the tolerance is negative or not finite.
 */
export function maskToContours(
  mask: Mask,
  grid: ImageGrid,
  options: { simplifyToleranceMm?: number } = {},
): SliceContours[] {
  const [nx, ny, nz] = mask.dims;
  if (grid.dims.some((n, axis) => n !== mask.dims[axis])) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `mask dimensions ${mask.dims.join('x')} differ from the image grid ${grid.dims.join('x')}`,
    );
  }
  if (mask.data.length !== nx * ny * nz) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `mask data holds ${mask.data.length} voxels, expected ${nx}x${ny}x${nz} = ${nx * ny * nz}`,
    );
  }
  if (grid.slicePositionLps.length !== nz) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `image grid has ${grid.slicePositionLps.length} slice positions for ${nz} slices`,
    );
  }
  const toleranceMm = options.simplifyToleranceMm ?? 0;
  if (!(toleranceMm >= 0 && Number.isFinite(toleranceMm))) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `simplifyToleranceMm must be a finite number >= 0, got ${options.simplifyToleranceMm}`,
    );
  }

  const sliceSize = nx * ny;
  const result: SliceContours[] = [];
  let crop = new Uint8Array(0);
  for (let k = 0; k < nz; k++) {
    const slice = mask.data.subarray(k * sliceSize, (k + 1) * sliceSize);
    // the slice's bounding box: marching squares runs on it plus a one-voxel margin of background only
    let iMin = nx;
    let iMax = -1;
    let jMin = ny;
    let jMax = -1;
    if (slice.indexOf(1) < 0) continue;
    // masks hold 0 and 1: indexOf and lastIndexOf find a row's extent at native speed
    for (let j = 0; j < ny; j++) {
      const row = slice.subarray(j * nx, (j + 1) * nx);
      const first = row.indexOf(1);
      if (first < 0) continue;
      const last = row.lastIndexOf(1);
      if (first < iMin) iMin = first;
      if (last > iMax) iMax = last;
      if (j < jMin) jMin = j;
      jMax = j;
    }
    if (iMax < 0) continue;
    const cropNx = iMax - iMin + 3;
    const cropNy = jMax - jMin + 3;
    if (crop.length < cropNx * cropNy) crop = new Uint8Array(cropNx * cropNy);
    crop.fill(0, 0, cropNx * cropNy);
    for (let j = jMin; j <= jMax; j++) {
      crop.set(slice.subarray(j * nx + iMin, j * nx + iMax + 1), (j - jMin + 1) * cropNx + 1);
    }
    // d3-contour only indexes `values[x + nx·y]`; a typed array serves as well as number[].
    const multiPolygon = d3Contours()
      .size([cropNx, cropNy])
      .smooth(false)
      .contour(crop.subarray(0, cropNx * cropNy) as unknown as number[], 0.5);
    const contours: Contour[] = [];
    for (const polygon of multiPolygon.coordinates) {
      for (const ring of polygon) {
        const shifted = ring.map(([u, v]) => [u + iMin - 1, v + jMin - 1]);
        contours.push(ringToContour(shifted, grid, k, toleranceMm));
      }
    }
    if (contours.length > 0) result.push({ k, contours });
  }
  return result;
}

/**
 * One d3-contour ring to a contour. d3-contour puts the value at array position (x, y) at the planar
 * point (x + 0.5, y + 0.5), so a ring vertex (u, v) is at voxel index (i, j) = (u − 0.5, v − 0.5).
 */
function ringToContour(ring: number[][], grid: ImageGrid, k: number, toleranceMm: number): Contour {
  // GeoJSON rings repeat the first point at the end; DICOM closes CLOSED_PLANAR contours implicitly.
  const n = ring.length > 1 && samePoint(ring[0], ring[ring.length - 1]) ? ring.length - 1 : ring.length;
  // Consecutive marching-squares vertices differ by (±1, 0), (0, ±1) or (±0.5, ±0.5), exactly in floating
  // point, so a vertex is collinear with its neighbours exactly when the step in equals the step out.
  let indexI: number[] = [];
  let indexJ: number[] = [];
  for (let m = 0; m < n; m++) {
    const previous = ring[(m + n - 1) % n];
    const current = ring[m];
    const next = ring[(m + 1) % n];
    const sameStep =
      current[0] - previous[0] === next[0] - current[0] && current[1] - previous[1] === next[1] - current[1];
    if (!sameStep) {
      indexI.push(current[0] - 0.5);
      indexJ.push(current[1] - 0.5);
    }
  }
  if (toleranceMm > 0) {
    const keep = simplifyClosedRing(indexI, indexJ, grid.spacingMm[0], grid.spacingMm[1], toleranceMm);
    indexI = keep.map((m) => indexI[m]);
    indexJ = keep.map((m) => indexJ[m]);
  }

  const origin = grid.slicePositionLps[k];
  const row = grid.rowLps;
  const column = grid.columnLps;
  const [spacingI, spacingJ] = grid.spacingMm;
  const pointsLps = new Float64Array(indexI.length * 3);
  for (let m = 0; m < indexI.length; m++) {
    const alongRowMm = indexI[m] * spacingI;
    const alongColumnMm = indexJ[m] * spacingJ;
    for (let axis = 0; axis < 3; axis++) {
      pointsLps[3 * m + axis] = origin[axis] + alongRowMm * row[axis] + alongColumnMm * column[axis];
    }
  }
  return { geometricType: 'CLOSED_PLANAR', pointsLps, referencedSopInstanceUids: [] };
}

function samePoint(a: number[], b: number[]): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * Douglas–Peucker on a closed ring given in voxel indices, distances in mm in the slice plane (row and
 * column are orthonormal, so (i·spacingI, j·spacingJ) are in-plane coordinates). The ring is split at
 * vertex 0 and the vertex farthest from it, each half simplified as an open polyline. Returns the indices
 * of the kept vertices in ring order, at least 3 (the ring encloses area, so some vertex lies off the
 * chord between the two anchors).
 */
function simplifyClosedRing(
  indexI: number[],
  indexJ: number[],
  spacingI: number,
  spacingJ: number,
  toleranceMm: number,
): number[] {
  const n = indexI.length;
  if (n <= 3) return Array.from({ length: n }, (_, m) => m);
  const x = indexI.map((i) => i * spacingI);
  const y = indexJ.map((j) => j * spacingJ);

  let far = 1;
  let farDistance = -1;
  for (let m = 1; m < n; m++) {
    const distance = Math.hypot(x[m] - x[0], y[m] - y[0]);
    if (distance > farDistance) {
      farDistance = distance;
      far = m;
    }
  }

  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[far] = 1;
  // Spans in unwrapped indices: [0, far] and [far, n], where n stands for vertex 0 again.
  const stack: Array<[number, number]> = [
    [0, far],
    [far, n],
  ];
  while (stack.length > 0) {
    const [start, end] = stack.pop()!;
    if (end - start < 2) continue;
    const a = start % n;
    const b = end % n;
    let worst = -1;
    let worstDistance = toleranceMm;
    for (let u = start + 1; u < end; u++) {
      const m = u % n;
      const distance = distanceToSegment(x[m], y[m], x[a], y[a], x[b], y[b]);
      if (distance > worstDistance) {
        worstDistance = distance;
        worst = u;
      }
    }
    if (worst >= 0) {
      keep[worst % n] = 1;
      stack.push([start, worst], [worst, end]);
    }
  }

  let kept = 0;
  for (let m = 0; m < n; m++) kept += keep[m];
  if (kept < 3) {
    let third = -1;
    let thirdDistance = -1;
    for (let m = 1; m < n; m++) {
      if (m === far) continue;
      const distance = distanceToSegment(x[m], y[m], x[0], y[0], x[far], y[far]);
      if (distance > thirdDistance) {
        thirdDistance = distance;
        third = m;
      }
    }
    keep[third] = 1;
  }

  const indices: number[] = [];
  for (let m = 0; m < n; m++) if (keep[m]) indices.push(m);
  return indices;
}

/** Euclidean distance from point p to segment ab. */
function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  let t = lengthSquared > 0 ? ((px - ax) * dx + (py - ay) * dy) / lengthSquared : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}
