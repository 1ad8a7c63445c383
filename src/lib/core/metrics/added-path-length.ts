import type { Mask } from '../volume/volume';
import { emptyQueryDistances, pointDistances, type PointSet } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import type { CornerGrid } from './surface-distance';
import type { Workspace } from './workspace';

/** Added path length per tolerance, in two boundary models, summed over axial slices (the k axis). */
export interface AddedPathLength {
  /** Tolerances in mm, in the order of the per-tolerance arrays. */
  tolerancesMm: number[];
  /** Pixel model: added reference boundary pixels times the pixel length, per tolerance. */
  pixelMm: number[];
  /** Contour model: length of the reference's marching-squares contour farther than τ, per tolerance. */
  contourMm: number[];
  /** Slices with at least one added boundary pixel, per tolerance. */
  slicesWithAddedPixel: number[];
  /** Per tolerance (first index), per slice k (second index): pixel-model APL, 0 where nothing is added. */
  pixelMmBySlice: Float64Array[];
  referenceBoundaryPixelLengthMm: number;
  referenceContourLengthMm: number;
  /** Slices on which the reference is not empty. */
  referenceSlices: number;
  /** (sx + sy) / 2: the length a boundary pixel adds. */
  pixelLengthMm: number;
}

/** Length (mm) of the marching-squares contour through a 2x2 pixel neighbourhood, per 4-bit code. */
export function contourLengthTable(si: number, sj: number): Float64Array {
  const diagonal = 0.5 * Math.sqrt(si * si + sj * sj);
  const table = new Float64Array(16);
  for (const code of [1, 2, 4, 8, 7, 11, 13, 14]) table[code] = diagonal;
  table[0b0011] = sj;
  table[0b1100] = sj;
  table[0b0101] = si;
  table[0b1010] = si;
  table[0b0110] = 2 * diagonal;
  table[0b1001] = 2 * diagonal;
  return table;
}

/**
 * Added path length (Vaassen et al. 2020): on each axial slice, the part of the reference boundary
 * farther than τ (in-plane, mm) from the test boundary, which a physician would have to draw.
 * Pixel model: reference boundary pixels (inside, with a 4-neighbour outside the mask or the image)
 * whose centre is farther than τ from every test boundary pixel centre, times (sx + sy) / 2.
 * Contour model: DeepMind's 2-D contour elements (marching squares at pixel corners, exact segment
 * lengths) of the reference farther than τ from the test's contour corners. d = τ is not added; where
 * the test is empty on a slice, the whole reference boundary of that slice is added. `box` is the union
 * bounding box of both masks and `grids` their corner grids over it (null when both are empty). Throws
 * RangeError for a negative or non-finite tolerance.
 */
export function addedPathLength(
  reference: Mask,
  box: VoxelBox,
  boundaries: { reference: PointSet; test: PointSet } | null,
  grids: { reference: CornerGrid; test: CornerGrid } | null,
  tolerancesMm: readonly number[],
  workspace: Workspace,
): AddedPathLength {
  for (const tolerance of tolerancesMm) {
    if (!(tolerance >= 0 && Number.isFinite(tolerance))) {
      throw new RangeError(`APL tolerance must be >= 0 mm, got ${tolerance}`);
    }
  }
  const [si, sj] = reference.spacingMm;
  const pixelLengthMm = (si + sj) / 2;
  const nz = reference.dims[2];
  const taus = tolerancesMm.length;
  const result: AddedPathLength = {
    tolerancesMm: [...tolerancesMm],
    pixelMm: new Array<number>(taus).fill(0),
    contourMm: new Array<number>(taus).fill(0),
    slicesWithAddedPixel: new Array<number>(taus).fill(0),
    pixelMmBySlice: tolerancesMm.map(() => new Float64Array(nz)),
    referenceBoundaryPixelLengthMm: 0,
    referenceContourLengthMm: 0,
    referenceSlices: 0,
    pixelLengthMm,
  };
  if (box.count === 0 || grids === null || boundaries === null) return result;

  const boxNx = box.iMax - box.iMin + 1;
  const boxNy = box.jMax - box.jMin + 1;
  const boxNz = box.kMax - box.kMin + 1;
  const pixels = boxNx * boxNy;
  // only "farther than τ" matters: distances beyond the largest τ need no exact value
  const thresholds = { mode: 'slices' as const, maxDistanceMm: Math.max(0, ...tolerancesMm) };
  const query = emptyQueryDistances();

  // pixel model: in-plane distances from reference boundary pixels to test boundary pixels
  const refPixels = boundaries.reference;
  const testPixels = boundaries.test;
  const boundaryBySlice = new Int32Array(boxNz);
  for (let m = 0; m < refPixels.count; m++) boundaryBySlice[Math.floor(refPixels.indices[m] / pixels)]++;
  pointDistances(testPixels, refPixels, [boxNx, boxNy, boxNz], [si, sj, 1], workspace, query, thresholds);
  const addedBySlice = tolerancesMm.map(() => new Int32Array(boxNz));
  for (let m = 0; m < query.count; m++) {
    const d = query.distancesMm[m];
    const bk = Math.floor(query.indices[m] / pixels);
    for (let t = 0; t < taus; t++) if (d > tolerancesMm[t]) addedBySlice[t][bk]++;
  }
  for (let bk = 0; bk < boxNz; bk++) {
    if (boundaryBySlice[bk] === 0) continue;
    result.referenceSlices++;
    result.referenceBoundaryPixelLengthMm += boundaryBySlice[bk] * pixelLengthMm;
    for (let t = 0; t < taus; t++) {
      const added = addedBySlice[t][bk];
      if (added === 0) continue;
      const apl = added * pixelLengthMm;
      result.pixelMm[t] += apl;
      result.pixelMmBySlice[t][box.kMin + bk] = apl;
      result.slicesWithAddedPixel[t]++;
    }
  }

  // contour model: marching-squares contour elements of the reference farther than τ from the test's
  const refCodes = grids.reference.sliceCodes;
  pointDistances(
    grids.test.contour,
    grids.reference.contour,
    [boxNx + 1, boxNy + 1, boxNz],
    [si, sj, 1],
    workspace,
    query,
    thresholds,
  );
  const lengthOfCode = contourLengthTable(si, sj);
  for (let m = 0; m < query.count; m++) {
    const d = query.distancesMm[m];
    const length = lengthOfCode[refCodes[query.indices[m]]];
    result.referenceContourLengthMm += length;
    for (let t = 0; t < taus; t++) if (d > tolerancesMm[t]) result.contourMm[t] += length;
  }
  return result;
}
