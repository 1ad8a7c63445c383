import type { Mask, Vec3 } from '../volume/volume';
import { queryDistances, type QueryDistances } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import { surfelAreaTable } from './surfel-area';
import type { Workspace } from './workspace';

/** Distances (mm) from each surface element of one mask to the other mask's surface, with areas (mm²). */
export interface DirectedDistances {
  count: number;
  distancesMm: Float64Array;
  areasMm2: Float64Array;
}

export interface SurfaceDistances {
  referenceToTest: DirectedDistances;
  testToReference: DirectedDistances;
  surfaceAreaReferenceMm2: number;
  surfaceAreaTestMm2: number;
}

/** Per-code bit pairs: code3d = spread(q of slice k-1) << 1 | spread(q of slice k), as one 256-entry table. */
const combineSlices = (() => {
  const spread = (q: number) => ((q & 8) << 3) | ((q & 4) << 2) | ((q & 2) << 1) | (q & 1);
  const table = new Uint8Array(256);
  for (let previous = 0; previous < 16; previous++) {
    for (let current = 0; current < 16; current++)
      table[(previous << 4) | current] = (spread(previous) << 1) | spread(current);
  }
  return table;
})();

/**
 * The in-plane 2x2 neighbourhood code of each corner of one voxel slice, over the corner grid of `box`:
 * bit 3 (i-1, j-1), bit 2 (i-1, j), bit 1 (i, j-1), bit 0 (i, j), voxels outside the box or the array
 * counting as background. `k` outside the box gives all zeros.
 */
export function sliceCornerCodes(mask: Mask, box: VoxelBox, k: number, out: Uint8Array): void {
  const [nx, ny] = mask.dims;
  const data = mask.data;
  const boxNx = box.iMax - box.iMin + 1;
  const boxNy = box.jMax - box.jMin + 1;
  const cornerNx = boxNx + 1;
  const cornerNy = boxNy + 1;
  if (k < box.kMin || k > box.kMax) {
    out.fill(0, 0, cornerNx * cornerNy);
    return;
  }
  const sliceBase = nx * ny * k;
  for (let cj = 0; cj < cornerNy; cj++) {
    const j = box.jMin + cj;
    const previousRow = cj >= 1 ? sliceBase + nx * (j - 1) + box.iMin : -1;
    const currentRow = cj < boxNy ? sliceBase + nx * j + box.iMin : -1;
    const outRow = cj * cornerNx;
    let previousColumn = 0;
    for (let ci = 0; ci < cornerNx; ci++) {
      let column = 0;
      if (ci < boxNx) {
        if (previousRow >= 0) column = data[previousRow + ci] << 1;
        if (currentRow >= 0) column |= data[currentRow + ci];
      }
      out[outRow + ci] = (previousColumn << 2) | column;
      previousColumn = column;
    }
  }
}

/**
 * DeepMind neighbourhood codes of every corner of the box's corner grid ((box + 1) corners per axis,
 * corner (ci, cj, ck) lying between voxels box.min + c - 1 and box.min + c), and the surface flags
 * (code neither 0 nor 255). Returns the number of surface corners.
 */
function cornerCodes(
  mask: Mask,
  box: VoxelBox,
  codes: Uint8Array,
  surface: Uint8Array,
  previous: Uint8Array,
  current: Uint8Array,
): number {
  const cornerNx = box.iMax - box.iMin + 2;
  const cornerNy = box.jMax - box.jMin + 2;
  const cornerNz = box.kMax - box.kMin + 2;
  const plane = cornerNx * cornerNy;
  let surfaceCount = 0;
  previous.fill(0, 0, plane);
  for (let ck = 0; ck < cornerNz; ck++) {
    sliceCornerCodes(mask, box, box.kMin + ck, current);
    const base = ck * plane;
    for (let c = 0; c < plane; c++) {
      const code = combineSlices[(previous[c] << 4) | current[c]];
      codes[base + c] = code;
      const isSurface = code !== 0 && code !== 255 ? 1 : 0;
      surface[base + c] = isSurface;
      surfaceCount += isSurface;
    }
    previous.set(current.subarray(0, plane));
  }
  return surfaceCount;
}

function directed(
  from: QueryDistances,
  codes: Uint8Array,
  areaOfCode: Float64Array,
  target: DirectedDistances,
): DirectedDistances {
  const n = from.count;
  if (target.distancesMm.length < n) target.distancesMm = new Float64Array(Math.ceil(n * 1.25));
  if (target.areasMm2.length < n) target.areasMm2 = new Float64Array(Math.ceil(n * 1.25));
  target.count = n;
  target.distancesMm.set(from.distancesMm.subarray(0, n));
  const indices = from.indices;
  const areas = target.areasMm2;
  for (let m = 0; m < n; m++) areas[m] = areaOfCode[codes[indices[m]]];
  return target;
}

const emptyDirected = (): DirectedDistances => ({
  count: 0,
  distancesMm: new Float64Array(0),
  areasMm2: new Float64Array(0),
});

/**
 * Surface distances in the convention of DeepMind's surface-distance (`compute_surface_distances`,
 * Nikolov et al. 2018): surface elements sit at voxel corners where the 2x2x2 neighbourhood is mixed,
 * each with the marching-cubes area of its neighbourhood code; each element's distance is the exact
 * Euclidean distance (mm, anisotropic spacing) from its corner to the nearest surface corner of the
 * other mask. Outside the array is background. `box` is the union bounding box of the two masks (empty:
 * both directions have no elements). A mask without surface gives +Infinity distances from the other.
 */
export function surfaceDistances(
  reference: Mask,
  test: Mask,
  box: VoxelBox,
  workspace: Workspace,
  previousResult?: SurfaceDistances,
): SurfaceDistances {
  const result: SurfaceDistances = previousResult ?? {
    referenceToTest: emptyDirected(),
    testToReference: emptyDirected(),
    surfaceAreaReferenceMm2: 0,
    surfaceAreaTestMm2: 0,
  };
  result.referenceToTest.count = 0;
  result.testToReference.count = 0;
  result.surfaceAreaReferenceMm2 = 0;
  result.surfaceAreaTestMm2 = 0;
  if (box.count === 0) return result;

  const spacingMm = reference.spacingMm;
  const cornerDims: Vec3 = [box.iMax - box.iMin + 2, box.jMax - box.jMin + 2, box.kMax - box.kMin + 2];
  const corners = cornerDims[0] * cornerDims[1] * cornerDims[2];
  const plane = cornerDims[0] * cornerDims[1];
  const refCodes = workspace.u8('surface.refCodes', corners);
  const testCodes = workspace.u8('surface.testCodes', corners);
  const refSurface = workspace.u8('surface.refSurface', corners);
  const testSurface = workspace.u8('surface.testSurface', corners);
  const previous = workspace.u8('surface.previousSlice', plane);
  const current = workspace.u8('surface.currentSlice', plane);
  cornerCodes(reference, box, refCodes, refSurface, previous, current);
  cornerCodes(test, box, testCodes, testSurface, previous, current);

  const areaOfCode = surfelAreaTable(spacingMm);
  const query: QueryDistances = { count: 0, distancesMm: new Float64Array(0), indices: new Int32Array(0) };
  // distances from reference elements: a transform of the test surface, read at reference corners
  queryDistances(testSurface, refSurface, cornerDims, spacingMm, workspace, query);
  directed(query, refCodes, areaOfCode, result.referenceToTest);
  queryDistances(refSurface, testSurface, cornerDims, spacingMm, workspace, query);
  directed(query, testCodes, areaOfCode, result.testToReference);

  result.surfaceAreaReferenceMm2 = sum(result.referenceToTest.areasMm2, result.referenceToTest.count);
  result.surfaceAreaTestMm2 = sum(result.testToReference.areasMm2, result.testToReference.count);
  return result;
}

function sum(values: Float64Array, count: number): number {
  let total = 0;
  for (let n = 0; n < count; n++) total += values[n];
  return total;
}
