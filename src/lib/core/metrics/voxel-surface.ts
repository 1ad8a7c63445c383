import type { Mask } from '../volume/volume';
import type { PointSet } from './distance-transform';
import type { VoxelBox } from './mask-scan';
import type { Workspace } from './workspace';

/** The boundary voxels of one mask over a box grid ([box extents], i fastest), both kinds at once. */
export interface VoxelSurfaces {
  /** Foreground voxels with a face (6-connected) neighbour in the background or outside the array. */
  surface: PointSet;
  /** Foreground voxels with an in-plane 4-neighbour in the background or outside the image. */
  boundary: PointSet;
}

/**
 * Surface voxels (for voxel-centre distances) and in-plane boundary pixels (for added path length) of a
 * mask, in one pass over the box. Buffers come from the workspace under `name`.
 */
export function voxelSurfaces(mask: Mask, box: VoxelBox, workspace: Workspace, name: string): VoxelSurfaces {
  const [nx, ny, nz] = mask.dims;
  const plane = nx * ny;
  const data = mask.data;
  const total = (box.iMax - box.iMin + 1) * (box.jMax - box.jMin + 1) * (box.kMax - box.kMin + 1);
  const surfaceFlags = workspace.u8(`${name}.surfaceFlags`, total);
  const boundaryFlags = workspace.u8(`${name}.boundaryFlags`, total);
  const initial = Math.min(total, 1 << 14);
  let surfaceIndices = workspace.i32(`${name}.surfaceIndices`, initial);
  let boundaryIndices = workspace.i32(`${name}.boundaryIndices`, initial);
  let surfaceCount = 0;
  let boundaryCount = 0;
  let m = 0;
  for (let k = box.kMin; k <= box.kMax; k++) {
    const kEdge = k === 0 || k === nz - 1;
    for (let j = box.jMin; j <= box.jMax; j++) {
      const jEdge = j === 0 || j === ny - 1;
      let n = box.iMin + nx * (j + ny * k);
      for (let i = box.iMin; i <= box.iMax; i++, n++, m++) {
        if (data[n] === 0) {
          surfaceFlags[m] = 0;
          boundaryFlags[m] = 0;
          continue;
        }
        const inPlane =
          jEdge ||
          i === 0 ||
          i === nx - 1 ||
          data[n - 1] === 0 ||
          data[n + 1] === 0 ||
          data[n - nx] === 0 ||
          data[n + nx] === 0;
        const surface = inPlane || kEdge || data[n - plane] === 0 || data[n + plane] === 0;
        boundaryFlags[m] = inPlane ? 1 : 0;
        surfaceFlags[m] = surface ? 1 : 0;
        if (inPlane) {
          if (boundaryCount === boundaryIndices.length) {
            boundaryIndices = workspace.growI32(`${name}.boundaryIndices`, boundaryIndices, boundaryCount);
          }
          boundaryIndices[boundaryCount++] = m;
        }
        if (surface) {
          if (surfaceCount === surfaceIndices.length) {
            surfaceIndices = workspace.growI32(`${name}.surfaceIndices`, surfaceIndices, surfaceCount);
          }
          surfaceIndices[surfaceCount++] = m;
        }
      }
    }
  }
  return {
    surface: { flags: surfaceFlags, indices: surfaceIndices, count: surfaceCount },
    boundary: { flags: boundaryFlags, indices: boundaryIndices, count: boundaryCount },
  };
}
