import type { Vec3 } from '../volume/volume';
import { emptyQueryDistances, pointDistances } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import type { VoxelSurfaces } from './voxel-surface';
import type { Workspace } from './workspace';

export interface VoxelCentreDistances {
  /** Distances (mm) from each reference surface voxel centre to the nearest test surface voxel centre. */
  referenceToTest: Float64Array;
  testToReference: Float64Array;
}

/**
 * Voxel-centre surface distances, the convention of MONAI, MetricsReloaded and MedPy (not DeepMind's):
 * face-connected surface voxels, Euclidean distances (mm) between voxel centres, every voxel counting
 * once. The surfaces are over the union bounding box `box`; a mask without surface voxels gives
 * +Infinity from the other.
 */
export function voxelCentreDistances(
  reference: VoxelSurfaces,
  test: VoxelSurfaces,
  box: VoxelBox,
  spacingMm: Vec3,
  workspace: Workspace,
): VoxelCentreDistances {
  const dims: Vec3 = [box.iMax - box.iMin + 1, box.jMax - box.jMin + 1, box.kMax - box.kMin + 1];
  const query = emptyQueryDistances();
  pointDistances(test.surface, reference.surface, dims, spacingMm, workspace, query);
  const referenceToTest = query.distancesMm.slice(0, query.count);
  pointDistances(reference.surface, test.surface, dims, spacingMm, workspace, query);
  const testToReference = query.distancesMm.slice(0, query.count);
  return { referenceToTest, testToReference };
}
