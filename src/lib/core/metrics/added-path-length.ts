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

/** Appends index to a growing list held in the workspace under `name`; returns the (possibly new) list. */
function append(
  workspace: Workspace,
  name: string,
  list: Int32Array,
  count: number,
  index: number,
): Int32Array {
  if (count === list.length) {
    const grown = workspace.i32(name, count * 2);
    grown.set(list.subarray(0, count));
    list = grown;
  }
  list[count] = index;
  return list;
}

/**
 * Boundary pixels of every slice of the box: inside, with a 4-neighbour outside the mask or the image.
 * Flags over the box grid [boxNx, boxNy, boxNz] and their indices in ascending order.
 */
function boundaryPixels(mask: Mask, box: VoxelBox, workspace: Workspace, name: string): PointSet {
  const [nx, ny] = mask.dims;
  const data = mask.data;
  const total = (box.iMax - box.iMin + 1) * (box.jMax - box.jMin + 1) * (box.kMax - box.kMin + 1);
  const flags = workspace.u8(`${name}.flags`, total);
  let indices = workspace.i32(`${name}.indices`, Math.min(total, 1 << 14));
  let count = 0;
  let m = 0;
  for (let k = box.kMin; k <= box.kMax; k++) {
    for (let j = box.jMin; j <= box.jMax; j++) {
      const row = nx * (j + ny * k);
      for (let i = box.iMin; i <= box.iMax; i++, m++) {
        const n = row + i;
        const boundary =
          data[n] !== 0 &&
          (i === 0 ||
            i === nx - 1 ||
            j === 0 ||
            j === ny - 1 ||
            data[n - 1] === 0 ||
            data[n + 1] === 0 ||
            data[n - nx] === 0 ||
            data[n + nx] === 0);
        flags[m] = boundary ? 1 : 0;
        if (boundary) indices = append(workspace, `${name}.indices`, indices, count++, m);
      }
    }
  }
  return { flags, indices, count };
}

/** Corners of each slice whose in-plane code is mixed (neither 0 nor 15): the marching-squares contour. */
function contourCorners(sliceCodes: Uint8Array, total: number, workspace: Workspace, name: string): PointSet {
  const flags = workspace.u8(`${name}.flags`, total);
  let indices = workspace.i32(`${name}.indices`, Math.min(total, 1 << 14));
  let count = 0;
  for (let c = 0; c < total; c++) {
    const code = sliceCodes[c];
    const contour = code !== 0 && code !== 15;
    flags[c] = contour ? 1 : 0;
    if (contour) indices = append(workspace, `${name}.indices`, indices, count++, c);
  }
  return { flags, indices, count };
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
  test: Mask,
  box: VoxelBox,
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
  if (box.count === 0 || grids === null) return result;

  const boxNx = box.iMax - box.iMin + 1;
  const boxNy = box.jMax - box.jMin + 1;
  const boxNz = box.kMax - box.kMin + 1;
  const pixels = boxNx * boxNy;
  // only "farther than τ" matters: distances beyond the largest τ need no exact value
  const thresholds = { mode: 'slices' as const, maxDistanceMm: Math.max(0, ...tolerancesMm) };
  const query = emptyQueryDistances();

  // pixel model: in-plane distances from reference boundary pixels to test boundary pixels
  const refPixels = boundaryPixels(reference, box, workspace, 'apl.refPixels');
  const testPixels = boundaryPixels(test, box, workspace, 'apl.testPixels');
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
  const cornerTotal = (boxNx + 1) * (boxNy + 1) * boxNz;
  const refCodes = grids.reference.sliceCodes;
  const refCorners = contourCorners(refCodes, cornerTotal, workspace, 'apl.refCorners');
  const testCorners = contourCorners(grids.test.sliceCodes, cornerTotal, workspace, 'apl.testCorners');
  pointDistances(
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
