import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import {
  axialDifferenceCounts,
  extractPlane,
  placedPlane,
  planeOrientation,
  planeSize,
  planeSpacingMm,
  type PlacedMask,
} from './slice-plane';
import type { Vec3 } from './volume';

// voxel (i, j, k) holds 100·k + 10·j + i, so every extracted value names its own position
const dims: Vec3 = [4, 3, 2];
const coded = Int16Array.from({ length: 24 }, (_, n) => {
  const i = n % 4;
  const j = Math.floor(n / 4) % 3;
  const k = Math.floor(n / 12);
  return 100 * k + 10 * j + i;
});

describe('extractPlane', () => {
  it('takes the axial plane k with i along rows and j down', () => {
    expect(Array.from(extractPlane(coded, dims, 'axial', 1))).toEqual([
      100, 101, 102, 103, 110, 111, 112, 113, 120, 121, 122, 123,
    ]);
  });

  it('takes the coronal plane j with i along rows and k down, or k up when flipped', () => {
    expect(Array.from(extractPlane(coded, dims, 'coronal', 2))).toEqual([20, 21, 22, 23, 120, 121, 122, 123]);
    expect(Array.from(extractPlane(coded, dims, 'coronal', 2, { flipRows: true }))).toEqual([
      120, 121, 122, 123, 20, 21, 22, 23,
    ]);
  });

  it('takes the sagittal plane i with j along rows and k down', () => {
    expect(Array.from(extractPlane(coded, dims, 'sagittal', 3))).toEqual([3, 13, 23, 103, 113, 123]);
    expect(Array.from(extractPlane(coded, dims, 'sagittal', 0, { flipRows: true }))).toEqual([
      100, 110, 120, 0, 10, 20,
    ]);
  });

  it('keeps the array type and writes into a given buffer', () => {
    const float = Float32Array.from(coded, (v) => v + 0.5);
    const plane = extractPlane(float, dims, 'axial', 0);
    expect(plane).toBeInstanceOf(Float32Array);
    expect(plane[5]).toBe(11.5);
    const out = new Uint8Array(6);
    const mask = Uint8Array.from(coded, (v) => v % 2);
    expect(extractPlane(mask, dims, 'sagittal', 1, { out })).toBe(out);
    expect(Array.from(out)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('agrees with the voxel formula on a random volume in every plane', () => {
    const random = mulberry32(3);
    const big: Vec3 = [7, 5, 6];
    const [nx, ny] = big;
    const data = Float64Array.from({ length: 7 * 5 * 6 }, () => random());
    const at = (i: number, j: number, k: number) => data[i + nx * (j + ny * k)];
    for (const plane of ['axial', 'coronal', 'sagittal'] as const) {
      const { width, height, count } = planeSize(big, plane);
      for (let index = 0; index < count; index++) {
        for (const flipRows of [false, true]) {
          const image = extractPlane(data, big, plane, index, { flipRows });
          for (let y = 0; y < height; y++) {
            const row = flipRows ? height - 1 - y : y;
            for (let x = 0; x < width; x++) {
              const expected =
                plane === 'axial'
                  ? at(x, row, index)
                  : plane === 'coronal'
                    ? at(x, index, row)
                    : at(index, x, row);
              expect(image[x + width * y]).toBe(expected);
            }
          }
        }
      }
    }
  });

  it('refuses indices outside the volume and data of the wrong size', () => {
    expect(() => extractPlane(coded, dims, 'axial', 2)).toThrow(RangeError);
    expect(() => extractPlane(coded, dims, 'sagittal', -1)).toThrow(/outside 0\.\.3/);
    expect(() => extractPlane(coded, dims, 'coronal', 0.5)).toThrow(RangeError);
    expect(() => extractPlane(coded.subarray(1), dims, 'axial', 0)).toThrow(/23 values/);
    expect(() => extractPlane(coded, dims, 'axial', 0, { out: new Int16Array(11) })).toThrow(RangeError);
  });
});

describe('planeSize and planeSpacingMm', () => {
  it('uses the slice spacing vertically in the coronal and sagittal planes', () => {
    const spacing: Vec3 = [0.9, 0.8, 2.5];
    expect(planeSize(dims, 'axial')).toEqual({ width: 4, height: 3, count: 2 });
    expect(planeSize(dims, 'coronal')).toEqual({ width: 4, height: 2, count: 3 });
    expect(planeSize(dims, 'sagittal')).toEqual({ width: 3, height: 2, count: 4 });
    expect(planeSpacingMm(spacing, 'axial')).toEqual([0.9, 0.8]);
    expect(planeSpacingMm(spacing, 'coronal')).toEqual([0.9, 2.5]);
    expect(planeSpacingMm(spacing, 'sagittal')).toEqual([0.8, 2.5]);
  });
});

/** A full-grid mask as a placed mask cropped to [lo, hi). */
function place(full: Uint8Array, grid: Vec3, lo: Vec3, hi: Vec3): PlacedMask {
  const size: Vec3 = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
  const data = new Uint8Array(size[0] * size[1] * size[2]);
  for (let k = 0; k < size[2]; k++)
    for (let j = 0; j < size[1]; j++)
      for (let i = 0; i < size[0]; i++)
        data[i + size[0] * (j + size[1] * k)] =
          full[i + lo[0] + grid[0] * (j + lo[1] + grid[1] * (k + lo[2]))];
  return { data, dims: size, originIjk: lo };
}

describe('placedPlane', () => {
  it('gives the covered part of a plane at its offset, and null off the box', () => {
    const grid: Vec3 = [6, 5, 4];
    const random = mulberry32(11);
    const full = new Uint8Array(6 * 5 * 4);
    const lo: Vec3 = [1, 2, 1];
    const hi: Vec3 = [5, 4, 3];
    for (let k = lo[2]; k < hi[2]; k++)
      for (let j = lo[1]; j < hi[1]; j++)
        for (let i = lo[0]; i < hi[0]; i++) full[i + 6 * (j + 5 * k)] = random() < 0.5 ? 1 : 0;
    const mask = place(full, grid, lo, hi);
    for (const plane of ['axial', 'coronal', 'sagittal'] as const) {
      const { width, count } = planeSize(grid, plane);
      for (let index = 0; index < count; index++) {
        const whole = extractPlane(full, grid, plane, index);
        const part = placedPlane(mask, plane, index);
        const n = plane === 'axial' ? 2 : plane === 'coronal' ? 1 : 0;
        if (index < lo[n] || index >= hi[n]) {
          expect(part).toBeNull();
          continue;
        }
        expect(part).not.toBeNull();
        const p = part!;
        let inside = 0;
        for (let y = 0; y < p.height; y++)
          for (let x = 0; x < p.width; x++) {
            expect(p.data[x + p.width * y]).toBe(whole[x + p.offsetX + width * (y + p.offsetY)]);
            inside += p.data[x + p.width * y];
          }
        expect(inside).toBe(whole.reduce((a, b) => a + b, 0));
      }
    }
  });
});

describe('axialDifferenceCounts', () => {
  it('counts the voxels in exactly one mask per slice, like a full-grid count', () => {
    const grid: Vec3 = [8, 7, 6];
    const random = mulberry32(5);
    const boxA: [Vec3, Vec3] = [
      [1, 0, 0],
      [6, 5, 4],
    ];
    const boxB: [Vec3, Vec3] = [
      [3, 2, 2],
      [8, 7, 6],
    ];
    const fill = ([lo, hi]: [Vec3, Vec3]) => {
      const full = new Uint8Array(8 * 7 * 6);
      for (let k = lo[2]; k < hi[2]; k++)
        for (let j = lo[1]; j < hi[1]; j++)
          for (let i = lo[0]; i < hi[0]; i++) full[i + 8 * (j + 7 * k)] = random() < 0.6 ? 1 : 0;
      return full;
    };
    const a = fill(boxA);
    const b = fill(boxB);
    const expected = Array.from({ length: 6 }, (_, k) => {
      let n = 0;
      for (let m = k * 56; m < (k + 1) * 56; m++) n += a[m] ^ b[m];
      return n;
    });
    const counts = axialDifferenceCounts(place(a, grid, ...boxA), place(b, grid, ...boxB), 6);
    expect(Array.from(counts)).toEqual(expected);
  });

  it('gives zeros for identical masks and each size for disjoint boxes', () => {
    const one: PlacedMask = { data: new Uint8Array([1, 1, 0, 1]), dims: [2, 2, 1], originIjk: [0, 0, 1] };
    expect(Array.from(axialDifferenceCounts(one, one, 3))).toEqual([0, 0, 0]);
    const far: PlacedMask = { data: new Uint8Array([1, 1]), dims: [1, 1, 2], originIjk: [5, 5, 1] };
    expect(Array.from(axialDifferenceCounts(one, far, 3))).toEqual([0, 4, 1]);
    expect(() => axialDifferenceCounts(one, far, 2)).toThrow(RangeError);
  });
});

describe('planeOrientation', () => {
  const headFirstSupine = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  it('labels the edges of a head-first supine series as radiologists read them', () => {
    expect(planeOrientation(headFirstSupine, 'axial', false)).toEqual({
      left: 'R',
      right: 'L',
      top: 'A',
      bottom: 'P',
    });
    expect(planeOrientation(headFirstSupine, 'coronal', true)).toEqual({
      left: 'R',
      right: 'L',
      top: 'S',
      bottom: 'I',
    });
    expect(planeOrientation(headFirstSupine, 'sagittal', true)).toEqual({
      left: 'A',
      right: 'P',
      top: 'S',
      bottom: 'I',
    });
  });

  it('follows the direction cosines of a feet-first prone series', () => {
    expect(planeOrientation([-1, 0, 0, 0, -1, 0, 0, 0, 1], 'axial', false)).toEqual({
      left: 'L',
      right: 'R',
      top: 'P',
      bottom: 'A',
    });
  });
});
