import type { Mask, Vec3 } from '../volume/volume';
import { emptyQueryDistances, pointDistances, type PointSet } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import type { Workspace } from './workspace';

export interface VoxelCentreDistances {
  /** Distances (mm) from each reference surface voxel centre to the nearest test surface voxel centre. */
  referenceToTest: Float64Array;
  testToReference: Float64Array;
}

/**
 * Surface voxels inside the box: foreground voxels with a face (6-connected) neighbour in the background
 * or outside the array. Flags over the box grid and their indices in ascending order.
 */
function surfaceVoxels(mask: Mask, box: VoxelBox, workspace: Workspace, name: string): PointSet {
  const [nx, ny, nz] = mask.dims;
  const plane = nx * ny;
  const data = mask.data;
  const total = (box.iMax - box.iMin + 1) * (box.jMax - box.jMin + 1) * (box.kMax - box.kMin + 1);
  const flags = workspace.u8(`${name}.flags`, total);
  let indices = workspace.i32(`${name}.indices`, Math.min(total, 1 << 14));
  let count = 0;
  let m = 0;
  for (let k = box.kMin; k <= box.kMax; k++) {
    for (let j = box.jMin; j <= box.jMax; j++) {
      let n = box.iMin + nx * (j + ny * k);
      for (let i = box.iMin; i <= box.iMax; i++, n++, m++) {
        const surface =
          data[n] !== 0 &&
          (i === 0 ||
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
            data[n + plane] === 0);
        flags[m] = surface ? 1 : 0;
        if (!surface) continue;
        if (count === indices.length) {
          const grown = workspace.i32(`${name}.indices`, count * 2);
          grown.set(indices.subarray(0, count));
          indices = grown;
        }
        indices[count++] = m;
      }
    }
  }
  return { flags, indices, count };
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
  const refSurface = surfaceVoxels(reference, box, workspace, 'voxelCentre.reference');
  const testSurface = surfaceVoxels(test, box, workspace, 'voxelCentre.test');
  const query = emptyQueryDistances();
  pointDistances(testSurface, refSurface, dims, reference.spacingMm, workspace, query);
  const referenceToTest = query.distancesMm.slice(0, query.count);
  pointDistances(refSurface, testSurface, dims, reference.spacingMm, workspace, query);
  const testToReference = query.distancesMm.slice(0, query.count);
  return { referenceToTest, testToReference };
}
