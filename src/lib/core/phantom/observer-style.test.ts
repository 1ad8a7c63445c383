import { describe, expect, it } from 'vitest';
import { axisAlignedAffine, type Mask, type Vec3 } from '../volume/volume';
import { applyObserverStyle, type ObserverStyle } from './observer-style';

const neutral: ObserverStyle = {
  code: 'RO0',
  marginMm: 0,
  targetMarginMm: 0,
  smoothness: 0,
  cranialSlices: 0,
  caudalSlices: 0,
  missedSliceProbability: 0,
  missedStructureProbability: 0,
};

type Range3 = [[number, number], [number, number], [number, number]];

/** A mask with the inclusive index box set. */
function boxMask(dims: Vec3, spacingMm: Vec3, [[i0, i1], [j0, j1], [k0, k1]]: Range3): Mask {
  const [nx, ny, nz] = dims;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++) for (let i = i0; i <= i1; i++) data[i + nx * (j + ny * k)] = 1;
  return { data, dims, spacingMm, affineIjkToLps: axisAlignedAffine(spacingMm) };
}

/** Inclusive per-axis extent of the foreground. */
function extent(mask: Mask): Range3 | null {
  const [nx, ny, nz] = mask.dims;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-1, -1, -1];
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        if (mask.data[i + nx * (j + ny * k)] === 0) continue;
        [i, j, k].forEach((v, axis) => {
          lo[axis] = Math.min(lo[axis], v);
          hi[axis] = Math.max(hi[axis], v);
        });
      }
  if (hi[0] < 0) return null;
  return [
    [lo[0], hi[0]],
    [lo[1], hi[1]],
    [lo[2], hi[2]],
  ];
}

function count(mask: Mask): number {
  let n = 0;
  for (const v of mask.data) n += v;
  return n;
}

/** Brute-force reference: voxel centres within `marginMm` of the foreground (expansion) or kept by erosion. */
function bruteForceMargin(mask: Mask, marginMm: number): Uint8Array {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacingMm;
  const out = new Uint8Array(mask.data.length);
  const target = marginMm > 0 ? 1 : 0;
  const points: Array<[number, number, number]> = [];
  for (let k = -1; k <= nz; k++)
    for (let j = -1; j <= ny; j++)
      for (let i = -1; i <= nx; i++) {
        const inside = i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz;
        const v = inside ? mask.data[i + nx * (j + ny * k)] : 0;
        if (v === target) points.push([i, j, k]);
      }
  const r2 = marginMm * marginMm;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        let near = false;
        for (const [a, b, c] of points) {
          const d2 = ((i - a) * sx) ** 2 + ((j - b) * sy) ** 2 + ((k - c) * sz) ** 2;
          if (d2 <= r2 + 1e-9) {
            near = true;
            break;
          }
        }
        out[i + nx * (j + ny * k)] = marginMm > 0 ? (near ? 1 : 0) : near ? 0 : 1;
      }
  return out;
}

describe('applyObserverStyle', () => {
  const dims: Vec3 = [24, 22, 16];
  const spacing: Vec3 = [0.8, 1.1, 2.5];
  const cube = boxMask(dims, spacing, [
    [8, 15],
    [7, 14],
    [5, 10],
  ]);

  it('leaves the mask unchanged (as a new array) with the neutral style', () => {
    for (const category of ['OAR', 'CTV', 'nodal', 'external', 'other'] as const) {
      const out = applyObserverStyle(cube, category, neutral, 1);
      expect(out.data).toEqual(cube.data);
      expect(out.data).not.toBe(cube.data);
      expect(out.dims).toEqual(cube.dims);
    }
  });

  it('expands a cube by 2 mm: floor(2 / spacing) voxels along each axis', () => {
    const out = applyObserverStyle(cube, 'OAR', { ...neutral, marginMm: 2 }, 1);
    // 2 / 0.8 -> 2 voxels, 2 / 1.1 -> 1 voxel, 2 / 2.5 -> 0 voxels per side
    expect(extent(out)).toEqual([
      [6, 17],
      [6, 15],
      [5, 10],
    ]);
    expect(out.data).toEqual(bruteForceMargin(cube, 2));
  });

  it('contracts a cube by 2 mm and matches the brute-force distance everywhere', () => {
    const out = applyObserverStyle(cube, 'OAR', { ...neutral, marginMm: -2 }, 1);
    expect(extent(out)).toEqual([
      [10, 13],
      [8, 13],
      [5, 10],
    ]);
    expect(out.data).toEqual(bruteForceMargin(cube, -2));
  });

  it('is exact for a 3 mm margin on a sphere-like shape, including the slice axis', () => {
    const [nx, ny, nz] = dims;
    const blob = boxMask(dims, spacing, [
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
    blob.data.fill(0);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const d = ((i - 12) * 0.8) ** 2 + ((j - 11) * 1.1) ** 2 + ((k - 8) * 2.5) ** 2;
          blob.data[i + nx * (j + ny * k)] = d <= 36 ? 1 : 0;
        }
    expect(applyObserverStyle(blob, 'OAR', { ...neutral, marginMm: 3 }, 1).data).toEqual(
      bruteForceMargin(blob, 3),
    );
    expect(applyObserverStyle(blob, 'OAR', { ...neutral, marginMm: -3 }, 1).data).toEqual(
      bruteForceMargin(blob, -3),
    );
  });

  it('treats the outside of the array as background when contracting a mask that touches the edge', () => {
    const edge = boxMask(dims, spacing, [
      [0, 9],
      [0, 21],
      [0, 15],
    ]);
    const out = applyObserverStyle(edge, 'OAR', { ...neutral, marginMm: -2 }, 1);
    expect(extent(out)).toEqual([
      [2, 7],
      [1, 20],
      [0, 15],
    ]);
  });

  it('adds the target margin only for CTV and nodal structures', () => {
    const style = { ...neutral, marginMm: 0, targetMarginMm: 2 };
    expect(applyObserverStyle(cube, 'OAR', style, 1).data).toEqual(cube.data);
    expect(applyObserverStyle(cube, 'CTV', style, 1).data).toEqual(bruteForceMargin(cube, 2));
    expect(applyObserverStyle(cube, 'nodal', style, 1).data).toEqual(bruteForceMargin(cube, 2));
  });

  it('leaves external unchanged except for smoothing', () => {
    const style = {
      ...neutral,
      marginMm: 5,
      cranialSlices: 2,
      missedSliceProbability: 1,
      missedStructureProbability: 1,
    };
    expect(applyObserverStyle(cube, 'external', style, 1).data).toEqual(cube.data);
    const smoothed = applyObserverStyle(cube, 'external', { ...style, smoothness: 1 }, 1);
    expect(smoothed.data).not.toEqual(cube.data);
    expect(extent(smoothed)?.[2]).toEqual([5, 10]);
  });

  it('smoothing rounds corners and stays in-plane', () => {
    const out = applyObserverStyle(cube, 'OAR', { ...neutral, smoothness: 1 }, 1);
    const [nx, ny] = dims;
    // a corner voxel of the square is lost, the centre is kept
    expect(out.data[8 + nx * (7 + ny * 7)]).toBe(0);
    expect(out.data[12 + nx * (11 + ny * 7)]).toBe(1);
    expect(extent(out)?.[2]).toEqual([5, 10]);
    expect(count(out)).toBeLessThan(count(cube));
  });

  it('adds and removes exactly N slices at the cranial and caudal ends', () => {
    const plus = applyObserverStyle(cube, 'OAR', { ...neutral, cranialSlices: 3, caudalSlices: 2 }, 1);
    expect(extent(plus)?.[2]).toEqual([3, 13]);
    expect(count(plus)).toBe(count(cube) + 5 * 8 * 8);
    const minus = applyObserverStyle(cube, 'OAR', { ...neutral, cranialSlices: -2, caudalSlices: -1 }, 1);
    expect(extent(minus)?.[2]).toEqual([6, 8]);
    expect(count(minus)).toBe(count(cube) - 3 * 8 * 8);
  });

  it('takes cranial as +z in LPS, so a flipped slice axis swaps the ends', () => {
    const flipped: Mask = { ...cube, affineIjkToLps: Float64Array.from(cube.affineIjkToLps) };
    flipped.affineIjkToLps[10] = -2.5;
    const out = applyObserverStyle(flipped, 'OAR', { ...neutral, cranialSlices: 3 }, 1);
    expect(extent(out)?.[2]).toEqual([2, 10]);
  });

  it('clips added slices to the array', () => {
    const out = applyObserverStyle(cube, 'OAR', { ...neutral, cranialSlices: 40 }, 1);
    expect(extent(out)?.[2]).toEqual([5, 15]);
  });

  it('misses exactly one inner slice with probability 1, and none with probability 0', () => {
    for (let seed = 0; seed < 20; seed++) {
      const out = applyObserverStyle(cube, 'OAR', { ...neutral, missedSliceProbability: 1 }, seed);
      const plane = dims[0] * dims[1];
      const empty: number[] = [];
      for (let k = 5; k <= 10; k++) {
        if (out.data.subarray(plane * k, plane * (k + 1)).every((v) => v === 0)) empty.push(k);
      }
      expect(empty).toHaveLength(1);
      expect(empty[0]).toBeGreaterThan(5);
      expect(empty[0]).toBeLessThan(10);
      expect(count(out)).toBe(count(cube) - 64);
    }
    expect(applyObserverStyle(cube, 'OAR', { ...neutral, missedSliceProbability: 0 }, 3).data).toEqual(
      cube.data,
    );
  });

  it('misses whole structures only when nodal', () => {
    const style = { ...neutral, missedStructureProbability: 1 };
    expect(count(applyObserverStyle(cube, 'nodal', style, 1))).toBe(0);
    expect(applyObserverStyle(cube, 'CTV', style, 1).data).toEqual(cube.data);
  });

  it('is deterministic by seed and varies between seeds', () => {
    const style = { ...neutral, missedSliceProbability: 0.5, missedStructureProbability: 0.5 };
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const a = applyObserverStyle(cube, 'nodal', style, seed);
      const b = applyObserverStyle(cube, 'nodal', style, seed);
      expect(a.data).toEqual(b.data);
      outcomes.add(`${count(a)}`);
    }
    // missed structure (0), missed slice (384 - 64) and untouched (384) all occur
    expect([...outcomes].sort()).toEqual(['0', '320', '384']);
  });

  it('returns an empty copy for an empty mask', () => {
    const empty: Mask = { ...cube, data: new Uint8Array(cube.data.length) };
    const out = applyObserverStyle(
      empty,
      'CTV',
      { ...neutral, marginMm: 3, smoothness: 1, cranialSlices: 2 },
      1,
    );
    expect(count(out)).toBe(0);
  });

  it('rejects invalid styles with RangeError', () => {
    expect(() => applyObserverStyle(cube, 'OAR', { ...neutral, smoothness: 2 }, 1)).toThrow(RangeError);
    expect(() => applyObserverStyle(cube, 'OAR', { ...neutral, marginMm: NaN }, 1)).toThrow(RangeError);
    expect(() => applyObserverStyle(cube, 'OAR', { ...neutral, cranialSlices: 1.5 }, 1)).toThrow(RangeError);
    expect(() => applyObserverStyle(cube, 'OAR', { ...neutral, missedSliceProbability: -0.1 }, 1)).toThrow(
      RangeError,
    );
  });
});
