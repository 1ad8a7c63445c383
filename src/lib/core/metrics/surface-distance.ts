import type { Mask, Vec3 } from '../volume/volume';
import {
  emptyQueryDistances,
  pointDistances,
  type PointSet,
  type QueryDistances,
} from './distance-transform';
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
    const outRow = cj * cornerNx;
    // rows j-1 and j of the box; a missing row (before the first, after the last) is background
    const previousRow = cj >= 1 ? sliceBase + nx * (j - 1) + box.iMin : -1;
    const currentRow = cj < boxNy ? sliceBase + nx * j + box.iMin : -1;
    let previousColumn = 0;
    if (previousRow >= 0 && currentRow >= 0) {
      for (let ci = 0; ci < boxNx; ci++) {
        const column = (data[previousRow + ci] << 1) | data[currentRow + ci];
        out[outRow + ci] = (previousColumn << 2) | column;
        previousColumn = column;
      }
    } else if (previousRow >= 0) {
      for (let ci = 0; ci < boxNx; ci++) {
        const column = data[previousRow + ci] << 1;
        out[outRow + ci] = (previousColumn << 2) | column;
        previousColumn = column;
      }
    } else {
      for (let ci = 0; ci < boxNx; ci++) {
        const column = data[currentRow + ci];
        out[outRow + ci] = (previousColumn << 2) | column;
        previousColumn = column;
      }
    }
    out[outRow + boxNx] = previousColumn << 2;
  }
}

/** One mask's neighbourhood codes on the corner grid of a box ((box + 1) corners per axis). */
export interface CornerGrid {
  /** Corner grid dims; corner (ci, cj, ck) lies between voxels box.min + c - 1 and box.min + c. */
  dims: Vec3;
  /** DeepMind 2x2x2 code of every surface corner (entries elsewhere are unspecified). */
  codes: Uint8Array;
  /** The in-plane 2x2 code of every corner of each voxel slice of the box (marching squares), per slice. */
  sliceCodes: Uint8Array;
  /** Corners whose 3-D code is neither 0 nor 255: the surface elements. */
  surface: PointSet;
  /** Corners of each voxel slice whose in-plane code is neither 0 nor 15: the marching-squares contour. */
  contour: PointSet;
}

/**
 * DeepMind neighbourhood codes of every corner of the box's corner grid, the in-plane codes of every voxel
 * slice (kept for added path length) and the surface corners. Buffers come from the workspace under
 * `name`, so a grid is valid until the next call with the same name.
 */
export function cornerGrid(mask: Mask, box: VoxelBox, workspace: Workspace, name: string): CornerGrid {
  const cornerNx = box.iMax - box.iMin + 2;
  const cornerNy = box.jMax - box.jMin + 2;
  const boxNz = box.kMax - box.kMin + 1;
  const cornerNz = boxNz + 1;
  const plane = cornerNx * cornerNy;
  const total = plane * cornerNz;
  const codes = workspace.u8(`${name}.codes`, total);
  const sliceCodes = workspace.u8(`${name}.sliceCodes`, plane * boxNz);
  const flags = workspace.u8(`${name}.surfaceFlags`, total);
  let indices = workspace.i32(`${name}.surfaceIndices`, Math.min(total, 1 << 16));
  let count = 0;
  const contourFlags = workspace.u8(`${name}.contourFlags`, plane * boxNz);
  let contourIndices = workspace.i32(`${name}.contourIndices`, Math.min(total, 1 << 16));
  let contourCount = 0;
  flags.fill(0, 0, total);
  contourFlags.fill(0, 0, plane * boxNz);
  for (let ck = 0; ck < cornerNz; ck++) {
    const hasPrevious = ck > 0;
    const hasCurrent = ck < boxNz;
    if (hasCurrent) sliceCornerCodes(mask, box, box.kMin + ck, sliceCodes.subarray(ck * plane));
    const previous = (ck - 1) * plane;
    const current = ck * plane;
    for (let c = 0; c < plane; c++) {
      const q0 = hasPrevious ? sliceCodes[previous + c] : 0;
      const q1 = hasCurrent ? sliceCodes[current + c] : 0;
      // all outside (code 0) or all inside (code 255): neither surface nor contour
      if ((q0 | q1) === 0 || (q0 & q1) === 15) continue;
      if (q1 !== 0 && q1 !== 15) {
        contourFlags[current + c] = 1;
        if (contourCount === contourIndices.length) {
          contourIndices = workspace.growI32(`${name}.contourIndices`, contourIndices, contourCount);
        }
        contourIndices[contourCount++] = current + c;
      }
      codes[current + c] = combineSlices[(q0 << 4) | q1];
      flags[current + c] = 1;
      if (count === indices.length) indices = workspace.growI32(`${name}.surfaceIndices`, indices, count);
      indices[count++] = current + c;
    }
  }
  return {
    dims: [cornerNx, cornerNy, cornerNz],
    codes,
    sliceCodes,
    surface: { flags, indices, count },
    contour: { flags: contourFlags, indices: contourIndices, count: contourCount },
  };
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
 * other mask. Outside the array is background. The grids are the two masks' corner grids over their
 * union bounding box (none: both directions have no elements). A mask without surface gives +Infinity
 * distances from the other.
 */
export function surfaceDistances(
  reference: CornerGrid | null,
  test: CornerGrid | null,
  spacingMm: Vec3,
  workspace: Workspace,
): SurfaceDistances {
  const result: SurfaceDistances = {
    referenceToTest: emptyDirected(),
    testToReference: emptyDirected(),
    surfaceAreaReferenceMm2: 0,
    surfaceAreaTestMm2: 0,
  };
  if (reference === null || test === null) return result;
  const areaOfCode = surfelAreaTable(spacingMm);
  const query = emptyQueryDistances();
  pointDistances(test.surface, reference.surface, reference.dims, spacingMm, workspace, query);
  directed(query, reference.codes, areaOfCode, result.referenceToTest);
  pointDistances(reference.surface, test.surface, reference.dims, spacingMm, workspace, query);
  directed(query, test.codes, areaOfCode, result.testToReference);
  result.surfaceAreaReferenceMm2 = sum(result.referenceToTest.areasMm2, result.referenceToTest.count);
  result.surfaceAreaTestMm2 = sum(result.testToReference.areasMm2, result.testToReference.count);
  return result;
}

function sum(values: Float64Array, count: number): number {
  let total = 0;
  for (let n = 0; n < count; n++) total += values[n];
  return total;
}
