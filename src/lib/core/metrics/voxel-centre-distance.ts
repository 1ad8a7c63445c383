import type { Mask, Vec3 } from '../volume/volume';
import { queryDistances, type QueryDistances } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import type { Workspace } from './workspace';

export interface VoxelCentreDistances {
  /** Distances (mm) from each reference surface voxel centre to the nearest test surface voxel centre. */
  referenceToTest: Float64Array;
  testToReference: Float64Array;
}

/**
 * Surface voxels inside the box: foreground voxels with a face (6-connected) neighbour in the background
 * or outside the array. Writes flags over the box grid and returns their number.
 */
function surfaceVoxels(mask: Mask, box: VoxelBox, out: Uint8Array): number {
  const [nx, ny, nz] = mask.dims;
  const plane = nx * ny;
  const data = mask.data;
  let count = 0;
  let m = 0;
  for (let k = box.kMin; k <= box.kMax; k++) {
    for (let j = box.jMin; j <= box.jMax; j++) {
      let n = box.iMin + nx * (j + ny * k);
      for (let i = box.iMin; i <= box.iMax; i++, n++, m++) {
        let surface = 0;
        if (data[n] !== 0) {
          surface =
            i === 0 ||
            i === nx - 1 ||
            j === 0 ||
            j === ny - 1 ||
            k === 0 ||
            k === nz - 1 ||
            data[n - 1] === 0 ||
            data[n + 1] === 0 ||
            data[n - nx] === 0 ||
            data[n + nx] === 0 ||
            data[n - plane] === 0 ||
            data[n + plane] === 0
              ? 1
              : 0;
        }
        out[m] = surface;
        count += surface;
      }
    }
  }
  return count;
}

/**
 * Voxel-centre surface distances, the convention of MONAI, MetricsReloaded and MedPy (not DeepMind's):
 * surface voxels as above, Euclidean distances (mm) between voxel centres, every voxel counting once.
 * `box` is the union bounding box; a mask without surface voxels gives +Infinity from the other.
 */
export function voxelCentreDistances(
  reference: Mask,
  test: Mask,
  box: VoxelBox,
  workspace: Workspace,
): VoxelCentreDistances {
  if (box.count === 0) return { referenceToTest: new Float64Array(0), testToReference: new Float64Array(0) };
  const dims: Vec3 = [box.iMax - box.iMin + 1, box.jMax - box.jMin + 1, box.kMax - box.kMin + 1];
  const voxels = dims[0] * dims[1] * dims[2];
  const refSurface = workspace.u8('voxelCentre.ref', voxels);
  const testSurface = workspace.u8('voxelCentre.test', voxels);
  surfaceVoxels(reference, box, refSurface);
  surfaceVoxels(test, box, testSurface);
  const query: QueryDistances = { count: 0, distancesMm: new Float64Array(0), indices: new Int32Array(0) };
  queryDistances(testSurface, refSurface, dims, reference.spacingMm, workspace, query);
  const referenceToTest = query.distancesMm.slice(0, query.count);
  queryDistances(refSurface, testSurface, dims, reference.spacingMm, workspace, query);
  const testToReference = query.distancesMm.slice(0, query.count);
  return { referenceToTest, testToReference };
}
