import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import { binaryMaskSummary, foregroundBox } from './crop';
import type { Vec3 } from './volume';

describe('binaryMaskSummary', () => {
  it('counts and boxes like a full scan, for empty, sparse, edge and dense masks', () => {
    const random = mulberry32(8);
    const dims: Vec3 = [17, 13, 11];
    const n = dims[0] * dims[1] * dims[2];
    const masks: Uint8Array[] = [new Uint8Array(n), new Uint8Array(n).fill(1)];
    for (const density of [0.0005, 0.01, 0.3]) {
      for (let r = 0; r < 20; r++)
        masks.push(Uint8Array.from({ length: n }, () => (random() < density ? 1 : 0)));
    }
    const corners = new Uint8Array(n);
    corners[0] = 1;
    corners[n - 1] = 1;
    masks.push(corners);
    const lastSlice = new Uint8Array(n);
    lastSlice[n - 5] = 1;
    masks.push(lastSlice);
    for (const mask of masks) {
      const voxels = mask.reduce((a, b) => a + b, 0);
      expect(binaryMaskSummary(mask, dims)).toEqual({ voxels, box: foregroundBox(mask, dims) });
    }
  });
});
