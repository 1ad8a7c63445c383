import type { Mask } from '../volume/volume';
import { queryDistances, type QueryDistances } from './distance-transform';
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
 * bounding box of both masks.
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
  const pixels = boxNx * boxNy;
  const corners = (boxNx + 1) * (boxNy + 1);
  const refPixels = workspace.u8('apl.refPixels', pixels);
  const testPixels = workspace.u8('apl.testPixels', pixels);
  const refCodes = workspace.u8('apl.refCodes', corners);
  const testCodes = workspace.u8('apl.testCodes', corners);
  const refCorners = workspace.u8('apl.refCorners', corners);
  const testCorners = workspace.u8('apl.testCorners', corners);
  const lengthOfCode = contourLengthTable(si, sj);
  const added = new Float64Array(taus);
  const addedLength = new Float64Array(taus);
  const query: QueryDistances = { count: 0, distancesMm: new Float64Array(0), indices: new Int32Array(0) };

  for (let k = box.kMin; k <= box.kMax; k++) {
    const refBoundary = boundaryPixels(reference, box, k, refPixels);
    if (refBoundary === 0) continue;
    result.referenceSlices++;
    result.referenceBoundaryPixelLengthMm += refBoundary * pixelLengthMm;
    boundaryPixels(test, box, k, testPixels);

    queryDistances(testPixels, refPixels, [boxNx, boxNy, 1], [si, sj, 1], workspace, query);
    added.fill(0);
    for (let m = 0; m < query.count; m++) {
      const d = query.distancesMm[m];
      for (let t = 0; t < taus; t++) if (d > tolerancesMm[t]) added[t]++;
    }
    for (let t = 0; t < taus; t++) {
      if (added[t] === 0) continue;
      const apl = added[t] * pixelLengthMm;
      result.pixelMm[t] += apl;
      result.pixelMmBySlice[t][k] = apl;
      result.slicesWithAddedPixel[t]++;
    }

    sliceCornerCodes(reference, box, k, refCodes);
    sliceCornerCodes(test, box, k, testCodes);
    for (let c = 0; c < corners; c++) {
      refCorners[c] = refCodes[c] !== 0 && refCodes[c] !== 15 ? 1 : 0;
      testCorners[c] = testCodes[c] !== 0 && testCodes[c] !== 15 ? 1 : 0;
    }
    queryDistances(testCorners, refCorners, [boxNx + 1, boxNy + 1, 1], [si, sj, 1], workspace, query);
    addedLength.fill(0);
    for (let m = 0; m < query.count; m++) {
      const d = query.distancesMm[m];
      const length = lengthOfCode[refCodes[query.indices[m]]];
      result.referenceContourLengthMm += length;
      for (let t = 0; t < taus; t++) if (d > tolerancesMm[t]) addedLength[t] += length;
    }
    for (let t = 0; t < taus; t++) result.contourMm[t] += addedLength[t];
  }
  return result;
}
