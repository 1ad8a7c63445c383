import { AppError } from '../errors';
import type { ImageGrid } from '../geometry/image-grid';
import type { Mask } from '../volume/volume';
import type { Roi } from './structure-set';

/** Version of the rasterisation rule; stored with every mask made from contours. */
export const rasteriserVersion = 'contourbench-rasterise/1.0';

export interface RasteriseReport {
  contours: number;
  /** CLOSED_PLANAR contours placed on a slice. */
  used: number;
  /** POINT, OPEN_PLANAR and OPEN_NONPLANAR contours: reported, not rasterised. */
  skippedType: number;
  /** Closed contours farther than half a step from every slice, with their position along the normal. */
  skippedOffGrid: Array<{ contour: number; positionMm: number }>;
  /** Closed contours with fewer than three points. */
  skippedDegenerate: number;
  /** Largest distance (mm) between a contour's plane and the slice it was placed on. */
  maxPlaneOffsetMm: number;
  /** Largest spread (mm) of a contour's points along the normal (a planar contour has ~0). */
  maxNonPlanarityMm: number;
  /** Slices holding at least one contour. */
  slices: number;
}

/**
 * The slice a contour at `positionMm` (along the grid normal) belongs to: the nearest slice by each
 * slice's own position, if it lies within half the step to its neighbour on that side; -1 otherwise.
 */
export function nearestSlice(
  slicePositionsMm: readonly number[],
  positionMm: number,
  singleSliceStepMm: number,
): number {
  const n = slicePositionsMm.length;
  if (n === 0) return -1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (slicePositionsMm[mid] <= positionMm) lo = mid;
    else hi = mid;
  }
  const k =
    Math.abs(slicePositionsMm[hi] - positionMm) < Math.abs(slicePositionsMm[lo] - positionMm) ? hi : lo;
  const offset = positionMm - slicePositionsMm[k];
  const neighbour = offset >= 0 ? k + 1 : k - 1;
  const step =
    neighbour >= 0 && neighbour < n
      ? Math.abs(slicePositionsMm[neighbour] - slicePositionsMm[k])
      : n > 1
        ? Math.abs(slicePositionsMm[k === 0 ? 1 : k] - slicePositionsMm[k === 0 ? 0 : k - 1])
        : singleSliceStepMm;
  return Math.abs(offset) <= step / 2 + 1e-6 ? k : -1;
}

/**
 * Rasterises one ROI on an image grid (DESIGN.md "Rasterisation"): each closed planar contour goes to
 * the slice nearest its plane by that slice's own position (within half a step); a voxel is inside when
 * its centre is inside by the even-odd (crossing-number) rule over all the ROI's contours on that slice,
 * so nested contours are holes. No partial volume, no interpolation between slices. A voxel centre with
 * u = x exactly on a crossing x counts as inside on the left end of a span and outside on the right end.
 */
export function rasteriseRoi(
  roi: Roi,
  grid: ImageGrid,
  out?: Uint8Array,
): { mask: Mask; report: RasteriseReport } {
  const [nx, ny, nz] = grid.dims;
  const plane = nx * ny;
  const data = out ?? new Uint8Array(plane * nz);
  data.fill(0, 0, plane * nz);
  const report: RasteriseReport = {
    contours: roi.contours.length,
    used: 0,
    skippedType: 0,
    skippedOffGrid: [],
    skippedDegenerate: 0,
    maxPlaneOffsetMm: 0,
    maxNonPlanarityMm: 0,
    slices: 0,
  };
  const [sx, sy] = grid.spacingMm;
  const { rowLps: row, columnLps: column, normalLps: normal } = grid;

  // contours per slice, as rings of continuous (u, v) = (i, j) index coordinates
  const rings = new Map<number, Float64Array[]>();
  roi.contours.forEach((contour, index) => {
    if (contour.geometricType !== 'CLOSED_PLANAR' && contour.geometricType !== 'CLOSEDPLANAR_XOR') {
      report.skippedType++;
      return;
    }
    const points = contour.pointsLps;
    const count = points.length / 3;
    if (count < 3) {
      report.skippedDegenerate++;
      return;
    }
    let sum = 0;
    let low = Infinity;
    let high = -Infinity;
    for (let p = 0; p < points.length; p += 3) {
      const along = points[p] * normal[0] + points[p + 1] * normal[1] + points[p + 2] * normal[2];
      sum += along;
      if (along < low) low = along;
      if (along > high) high = along;
    }
    const positionMm = sum / count;
    report.maxNonPlanarityMm = Math.max(report.maxNonPlanarityMm, high - low);
    const k = nearestSlice(grid.slicePositionsMm, positionMm, grid.spacingMm[2]);
    if (k < 0) {
      report.skippedOffGrid.push({ contour: index, positionMm });
      return;
    }
    report.maxPlaneOffsetMm = Math.max(
      report.maxPlaneOffsetMm,
      Math.abs(positionMm - grid.slicePositionsMm[k]),
    );
    const origin = grid.slicePositionLps[k];
    const ring = new Float64Array(count * 2);
    for (let p = 0, q = 0; p < points.length; p += 3, q += 2) {
      const dx = points[p] - origin[0];
      const dy = points[p + 1] - origin[1];
      const dz = points[p + 2] - origin[2];
      ring[q] = (dx * row[0] + dy * row[1] + dz * row[2]) / sx;
      ring[q + 1] = (dx * column[0] + dy * column[1] + dz * column[2]) / sy;
    }
    const list = rings.get(k) ?? [];
    list.push(ring);
    rings.set(k, list);
    report.used++;
  });

  report.slices = rings.size;
  // Each edge crosses the rows its ends span. Drawn outlines cross a row a few times per structure; a
  // contour zigzagging across the whole image would cost time and memory in proportion to points x rows,
  // so a slice beyond a generous bound is refused before any crossing is computed.
  const maxCrossings = 8 * plane + 1_000_000;
  for (const [k, sliceRings] of rings) {
    const crossings = spannedRows(sliceRings, ny);
    if (crossings > maxCrossings) {
      throw new AppError(
        'INVALID_INPUT',
        `ROI "${roi.name}": its contours on slice ${k} cross the voxel rows ${crossings} times, more than the ${maxCrossings} a drawn outline on a ${nx} x ${ny} grid could`,
      );
    }
  }
  const crossingsPerRow = new Int32Array(ny + 1);
  let crossings = new Float64Array(1024);
  for (const [k, sliceRings] of rings) {
    // count the crossings of each row j (voxel centres at v = j), then place them row by row
    crossingsPerRow.fill(0);
    forEachCrossing(sliceRings, ny, (j) => crossingsPerRow[j + 1]++);
    for (let j = 0; j < ny; j++) crossingsPerRow[j + 1] += crossingsPerRow[j];
    const total = crossingsPerRow[ny];
    if (crossings.length < total) crossings = new Float64Array(total * 2);
    const fill = Int32Array.from(crossingsPerRow.subarray(0, ny));
    forEachCrossing(sliceRings, ny, (j, u) => {
      crossings[fill[j]++] = u;
    });
    const sliceBase = k * plane;
    for (let j = 0; j < ny; j++) {
      const start = crossingsPerRow[j];
      const end = crossingsPerRow[j + 1];
      if (end - start < 2) continue;
      const rowCrossings = crossings.subarray(start, end).sort();
      const rowBase = sliceBase + j * nx;
      // inside iff an odd number of crossings lie right of the centre: u in [x0, x1), [x2, x3), ...
      for (let c = 0; c + 1 < rowCrossings.length; c += 2) {
        const from = Math.max(0, Math.ceil(rowCrossings[c]));
        const to = Math.min(nx, Math.ceil(rowCrossings[c + 1]));
        for (let i = from; i < to; i++) data[rowBase + i] = 1;
      }
    }
  }
  return {
    mask: { data, dims: grid.dims, spacingMm: grid.spacingMm, affineIjkToLps: grid.affineIjkToLps },
    report,
  };
}

/** How many rows of voxel centres (0 <= j < ny) the edges of `rings` span: a bound on their crossings. */
function spannedRows(rings: Float64Array[], ny: number): number {
  let total = 0;
  for (const ring of rings) {
    const n = ring.length;
    for (let a = 0; a < n; a += 2) {
      const b = a + 2 < n ? a + 2 : 0;
      const va = ring[a + 1];
      const vb = ring[b + 1];
      const low = Math.max(0, Math.ceil(Math.min(va, vb)));
      const high = Math.min(ny - 1, Math.floor(Math.max(va, vb)));
      if (high >= low) total += high - low + 1;
    }
  }
  return total;
}

/** Calls `visit(j, u)` for every crossing of a ring edge with a row of voxel centres v = j, 0 <= j < ny. */
function forEachCrossing(rings: Float64Array[], ny: number, visit: (j: number, u: number) => void): void {
  for (const ring of rings) {
    const n = ring.length;
    for (let a = 0; a < n; a += 2) {
      const b = a + 2 < n ? a + 2 : 0;
      const ua = ring[a];
      const va = ring[a + 1];
      const ub = ring[b];
      const vb = ring[b + 1];
      if (va === vb) continue;
      // an edge crosses row j when exactly one end has v > j: lowV <= j < highV
      const lowV = va < vb ? va : vb;
      const highV = va < vb ? vb : va;
      let j = Math.ceil(lowV);
      if (j < 0) j = 0;
      const last = Math.min(ny - 1, Math.floor(highV));
      for (; j <= last; j++) {
        if (va > j === vb > j) continue;
        visit(j, ua + ((j - va) * (ub - ua)) / (vb - va));
      }
    }
  }
}
