import type { Mask } from '../volume/volume';
import { emptyQueryDistances, queryDistances } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import { sliceCornerCodes } from './surface-distance';
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
  /** Per slice k (index into the array): pixel-model APL at each tolerance, 0 where nothing is added. */
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

/** Boundary pixels of slice k within the box: inside, with a 4-neighbour outside the mask or the image. */
function boundaryPixels(mask: Mask, box: VoxelBox, k: number, out: Uint8Array): number {
  const [nx, ny] = mask.dims;
  const data = mask.data;
  const boxNx = box.iMax - box.iMin + 1;
  const boxNy = box.jMax - box.jMin + 1;
  let count = 0;
  for (let bj = 0; bj < boxNy; bj++) {
    const j = box.jMin + bj;
    const row = nx * (j + ny * k);
    for (let bi = 0; bi < boxNx; bi++) {
      const i = box.iMin + bi;
      const n = row + i;
      let boundary = 0;
      if (data[n] !== 0) {
        boundary =
          i === 0 ||
          i === nx - 1 ||
          j === 0 ||
          j === ny - 1 ||
          data[n - 1] === 0 ||
          data[n + 1] === 0 ||
          data[n - nx] === 0 ||
          data[n + nx] === 0
            ? 1
            : 0;
      }
      out[bj * boxNx + bi] = boundary;
      count += boundary;
    }
  }
  return count;
}

/**
 * Added path length (Vaassen et al. 2020): on each axial slice, the part of the reference boundary
 * farther than τ (in-plane, mm) from the test boundary, which a physician would have to draw.
 * Pixel model: reference boundary pixels (inside, with a 4-neighbour outside the mask or the image)
 * whose centre is farther than τ from every test boundary pixel centre, times (sx + sy) / 2.
 * Contour model: DeepMind's 2-D contour elements (marching squares at pixel corners, exact segment
 * lengths) of the reference farther than τ from the test's contour corners. d = τ is not added; where
 * the test is empty on a slice, the whole reference boundary of that slice is added. `box` is the union
 * bounding box of both masks. Throws RangeError for a negative or non-finite tolerance.
 */
export function addedPathLength(
  reference: Mask,
  test: Mask,
  box: VoxelBox,
  tolerancesMm: readonly number[],
  workspace: Workspace,
): AddedPathLength {
  for (const tolerance of tolerancesMm) {
    if (!(tolerance >= 0 && Number.isFinite(tolerance)))
      throw new RangeError(`APL tolerance must be >= 0 mm, got ${tolerance}`);
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
  if (box.count === 0) return result;

  const boxNx = box.iMax - box.iMin + 1;
  const boxNy = box.jMax - box.jMin + 1;
  const boxNz = box.kMax - box.kMin + 1;
  const pixels = boxNx * boxNy;
  const cornerPlane = (boxNx + 1) * (boxNy + 1);
  const refPixels = workspace.u8('apl.refPixels', pixels * boxNz);
  const testPixels = workspace.u8('apl.testPixels', pixels * boxNz);
  const refCodes = workspace.u8('apl.refCodes', cornerPlane * boxNz);
  const testCodes = workspace.u8('apl.testCodes', cornerPlane * boxNz);
  const refCorners = workspace.u8('apl.refCorners', cornerPlane * boxNz);
  const testCorners = workspace.u8('apl.testCorners', cornerPlane * boxNz);
  const refBoundaryBySlice = new Int32Array(boxNz);

  for (let bk = 0; bk < boxNz; bk++) {
    const k = box.kMin + bk;
    refBoundaryBySlice[bk] = boundaryPixels(reference, box, k, refPixels.subarray(bk * pixels));
    boundaryPixels(test, box, k, testPixels.subarray(bk * pixels));
    const codesAt = bk * cornerPlane;
    sliceCornerCodes(reference, box, k, refCodes.subarray(codesAt));
    sliceCornerCodes(test, box, k, testCodes.subarray(codesAt));
    for (let c = codesAt; c < codesAt + cornerPlane; c++) {
      refCorners[c] = refCodes[c] !== 0 && refCodes[c] !== 15 ? 1 : 0;
      testCorners[c] = testCodes[c] !== 0 && testCodes[c] !== 15 ? 1 : 0;
    }
  }

  const query = emptyQueryDistances();
  // only "farther than τ" matters: distances beyond the largest τ need no exact value
  const thresholds = { mode: 'slices' as const, maxDistanceMm: Math.max(0, ...tolerancesMm) };
  // pixel model: in-plane distances from reference boundary pixels to test boundary pixels
  queryDistances(testPixels, refPixels, [boxNx, boxNy, boxNz], [si, sj, 1], workspace, query, thresholds);
  const addedBySlice = tolerancesMm.map(() => new Int32Array(boxNz));
  for (let m = 0; m < query.count; m++) {
    const d = query.distancesMm[m];
    const bk = Math.floor(query.indices[m] / pixels);
    for (let t = 0; t < taus; t++) if (d > tolerancesMm[t]) addedBySlice[t][bk]++;
  }
  for (let bk = 0; bk < boxNz; bk++) {
    if (refBoundaryBySlice[bk] === 0) continue;
    result.referenceSlices++;
    result.referenceBoundaryPixelLengthMm += refBoundaryBySlice[bk] * pixelLengthMm;
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
  queryDistances(
    testCorners,
    refCorners,
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
