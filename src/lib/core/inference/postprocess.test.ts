import { describe, expect, it } from 'vitest';
import { applyPostprocessing, fillHolesAxial, keepLargestComponent } from './postprocess';
import { mulberry32 } from '../phantom/random';
import type { Vec3 } from '../volume/volume';

function index(dims: Vec3, i: number, j: number, k: number): number {
  return i + dims[0] * (j + dims[1] * k);
}

/** A zero mask with the listed (i, j, k) voxels set to 1. */
function maskOf(dims: Vec3, voxels: Array<[number, number, number]>): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [i, j, k] of voxels) mask[index(dims, i, j, k)] = 1;
  return mask;
}

/** Every voxel of the inclusive box [i0, i1] x [j0, j1] x [k0, k1]. */
function boxVoxels(
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  k0: number,
  k1: number,
): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) out.push([i, j, k]);
    }
  }
  return out;
}

/** The outline (one voxel thick) of the square [a, b] x [a, b] on slice k. */
function squareRing(a: number, b: number, k: number): Array<[number, number, number]> {
  return boxVoxels(a, b, a, b, k, k).filter(([i, j]) => i === a || i === b || j === a || j === b);
}

function sum(mask: Uint8Array): number {
  let total = 0;
  for (const v of mask) total += v;
  return total;
}

/**
 * Brute-force reference for keepLargestComponent: label 26-connected components of the 1 voxels by
 * depth-first search over (i, j, k) triples with explicit bounds checks, in memory order; keep the largest,
 * the earliest label on ties.
 */
function largestComponentByDefinition(
  mask: Uint8Array,
  dims: Vec3,
): { mask: Uint8Array; components: number } {
  const [nx, ny, nz] = dims;
  const label = new Array<number>(mask.length).fill(0);
  const sizes: number[] = [0];
  for (let n = 0; n < mask.length; n++) {
    if (mask[n] !== 1 || label[n] !== 0) continue;
    const id = sizes.length;
    sizes.push(0);
    const stack = [n];
    label[n] = id;
    while (stack.length > 0) {
      const p = stack.pop() as number;
      sizes[id]++;
      const i = p % nx;
      const j = Math.floor(p / nx) % ny;
      const k = Math.floor(p / (nx * ny));
      for (let dk = -1; dk <= 1; dk++) {
        for (let dj = -1; dj <= 1; dj++) {
          for (let di = -1; di <= 1; di++) {
            const a = i + di;
            const b = j + dj;
            const c = k + dk;
            if (a < 0 || b < 0 || c < 0 || a >= nx || b >= ny || c >= nz) continue;
            const q = index(dims, a, b, c);
            if (mask[q] === 1 && label[q] === 0) {
              label[q] = id;
              stack.push(q);
            }
          }
        }
      }
    }
  }
  let best = 0;
  for (let id = 1; id < sizes.length; id++) if (sizes[id] > sizes[best]) best = id;
  const out = Uint8Array.from(mask);
  for (let n = 0; n < mask.length; n++) if (mask[n] === 1 && label[n] !== best) out[n] = 0;
  return { mask: out, components: sizes.length - 1 };
}

/**
 * Brute-force reference for fillHolesAxial: for every 0 voxel separately, search its slice through
 * 4-connected 0 voxels and fill it when no voxel on the slice border is reachable.
 */
function fillHolesByDefinition(mask: Uint8Array, dims: Vec3): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = Uint8Array.from(mask);
  for (let k = 0; k < nz; k++) {
    for (let j0 = 0; j0 < ny; j0++) {
      for (let i0 = 0; i0 < nx; i0++) {
        if (mask[index(dims, i0, j0, k)] !== 0) continue;
        const seen = new Set<string>([`${i0},${j0}`]);
        const stack: Array<[number, number]> = [[i0, j0]];
        let open = false;
        while (stack.length > 0 && !open) {
          const [i, j] = stack.pop() as [number, number];
          if (i === 0 || j === 0 || i === nx - 1 || j === ny - 1) open = true;
          for (const [a, b] of [
            [i - 1, j],
            [i + 1, j],
            [i, j - 1],
            [i, j + 1],
          ]) {
            if (a < 0 || b < 0 || a >= nx || b >= ny || seen.has(`${a},${b}`)) continue;
            if (mask[index(dims, a, b, k)] !== 0) continue;
            seen.add(`${a},${b}`);
            stack.push([a, b]);
          }
        }
        if (!open) out[index(dims, i0, j0, k)] = 1;
      }
    }
  }
  return out;
}

/**
 * A random 0/1 grid of 1..maxSide voxels a side. Every other grid lives at byte offset 1 of a larger
 * buffer, so the unaligned scan path is exercised too.
 */
function randomGrid(random: () => number, trial: number, maxSide: number): { mask: Uint8Array; dims: Vec3 } {
  const dims: Vec3 = [
    1 + Math.floor(random() * maxSide),
    1 + Math.floor(random() * maxSide),
    1 + Math.floor(random() * maxSide),
  ];
  const count = dims[0] * dims[1] * dims[2];
  const density = 0.15 + 0.6 * random();
  const mask = trial % 2 === 0 ? new Uint8Array(count) : new Uint8Array(count + 1).subarray(1);
  for (let n = 0; n < count; n++) mask[n] = random() < density ? 1 : 0;
  return { mask, dims };
}

describe('keepLargestComponent', () => {
  it('keeps the larger of two blobs and counts the removed voxels exactly', () => {
    const dims: Vec3 = [10, 8, 6];
    const big = boxVoxels(0, 2, 0, 2, 0, 2); // 27 voxels
    const small = boxVoxels(6, 7, 5, 6, 3, 4); // 8 voxels
    const mask = maskOf(dims, [...small, ...big]);
    expect(keepLargestComponent(mask, dims)).toEqual({ removedVoxels: 8, components: 2 });
    expect(Array.from(mask)).toEqual(Array.from(maskOf(dims, big)));
  });

  it('joins voxels that touch only at a corner (26-connectivity) and separates them across a gap', () => {
    const dims: Vec3 = [5, 5, 5];
    const diagonal = maskOf(dims, [
      [1, 1, 1],
      [2, 2, 2],
      [3, 3, 3],
      [0, 0, 4],
    ]);
    expect(keepLargestComponent(diagonal, dims)).toEqual({ removedVoxels: 1, components: 2 });
    expect(Array.from(diagonal)).toEqual(
      Array.from(
        maskOf(dims, [
          [1, 1, 1],
          [2, 2, 2],
          [3, 3, 3],
        ]),
      ),
    );

    const gap = maskOf(dims, [
      [1, 1, 1],
      [3, 1, 1],
    ]);
    expect(keepLargestComponent(gap, dims)).toEqual({ removedVoxels: 1, components: 2 });
    expect(sum(gap)).toBe(1);
    expect(gap[index(dims, 1, 1, 1)]).toBe(1);
  });

  it('breaks a tie by the component whose first voxel comes first in memory order', () => {
    const dims: Vec3 = [8, 4, 4];
    // A starts at (6, 0, 0), B at (0, 2, 3); A is first in memory even though B has the smaller i.
    const a = boxVoxels(6, 7, 0, 1, 0, 0);
    const b = boxVoxels(0, 1, 2, 3, 3, 3);
    const mask = maskOf(dims, [...b, ...a]);
    expect(keepLargestComponent(mask, dims)).toEqual({ removedVoxels: 4, components: 2 });
    expect(Array.from(mask)).toEqual(Array.from(maskOf(dims, a)));
  });

  it('leaves a single component, voxels of other values and an empty mask untouched', () => {
    const dims: Vec3 = [4, 4, 4];
    const single = maskOf(dims, boxVoxels(1, 2, 1, 2, 1, 2));
    const before = Array.from(single);
    expect(keepLargestComponent(single, dims)).toEqual({ removedVoxels: 0, components: 1 });
    expect(Array.from(single)).toEqual(before);

    const labelled = maskOf(dims, [[0, 0, 0], ...boxVoxels(2, 3, 2, 3, 2, 3)]);
    labelled[index(dims, 1, 1, 1)] = 2; // not foreground: neither removed nor a bridge
    expect(keepLargestComponent(labelled, dims)).toEqual({ removedVoxels: 1, components: 2 });
    expect(labelled[index(dims, 0, 0, 0)]).toBe(0);
    expect(labelled[index(dims, 1, 1, 1)]).toBe(2);

    const empty = new Uint8Array(64);
    expect(keepLargestComponent(empty, dims)).toEqual({ removedVoxels: 0, components: 0 });
    expect(sum(empty)).toBe(0);
    expect(keepLargestComponent(new Uint8Array(0), [0, 3, 3])).toEqual({ removedVoxels: 0, components: 0 });
  });

  it('throws RangeError when dims do not describe the mask', () => {
    expect(() => keepLargestComponent(new Uint8Array(10), [3, 3, 1])).toThrow(RangeError);
    expect(() => keepLargestComponent(new Uint8Array(6), [2, -3, -1])).toThrow(RangeError);
    expect(() => keepLargestComponent(new Uint8Array(3), [1.5, 2, 1])).toThrow(RangeError);
  });

  it('matches a brute-force labelling on 50 random grids', () => {
    const random = mulberry32(20240611);
    let removedTotal = 0;
    for (let trial = 0; trial < 50; trial++) {
      const { mask, dims } = randomGrid(random, trial, 7);
      const expected = largestComponentByDefinition(mask, dims);
      const removed = sum(mask) - sum(expected.mask);
      expect(keepLargestComponent(mask, dims)).toEqual({
        removedVoxels: removed,
        components: expected.components,
      });
      expect(Array.from(mask)).toEqual(Array.from(expected.mask));
      removedTotal += removed;
    }
    expect(removedTotal).toBeGreaterThan(0); // the grids are sparse enough to have several components
  });
});

describe('fillHolesAxial', () => {
  it('fills the hole of a ring but not the inside of a C open to the border', () => {
    const dims: Vec3 = [9, 9, 2];
    const ring = squareRing(1, 5, 0); // encloses the 3 x 3 square [2, 4]^2
    const c = squareRing(1, 5, 1).filter(([i, j]) => !(i === 5 && j === 3)); // gap on the right wall
    const mask = maskOf(dims, [...ring, ...c]);
    expect(fillHolesAxial(mask, dims)).toEqual({ filledVoxels: 9 });
    expect(Array.from(mask)).toEqual(Array.from(maskOf(dims, [...boxVoxels(1, 5, 1, 5, 0, 0), ...c])));
  });

  it('fills a hole that opens to the border only on another slice, on the slice where it is enclosed', () => {
    const dims: Vec3 = [7, 7, 3];
    // A tube along k: closed rings on slices 0 and 2, a C on slice 1 whose gap leads to the border.
    const mask = maskOf(dims, [
      ...squareRing(1, 4, 0),
      ...squareRing(1, 4, 1).filter(([i, j]) => !(i === 1 && j === 2)),
      ...squareRing(1, 4, 2),
    ]);
    expect(fillHolesAxial(mask, dims)).toEqual({ filledVoxels: 8 });
    for (const k of [0, 2]) expect(mask[index(dims, 2, 2, k)]).toBe(1);
    expect(mask[index(dims, 2, 2, 1)]).toBe(0);
    expect(mask[index(dims, 3, 3, 1)]).toBe(0);
  });

  it('treats the background as 4-connected: a diagonal gap in the wall does not open a hole', () => {
    const dims: Vec3 = [5, 5, 1];
    const mask = maskOf(dims, [
      [2, 1, 0],
      [1, 2, 0],
      [3, 2, 0],
      [2, 3, 0],
    ]);
    expect(fillHolesAxial(mask, dims)).toEqual({ filledVoxels: 1 });
    expect(mask[index(dims, 2, 2, 0)]).toBe(1);
  });

  it('fills inside a ring drawn on the image border itself', () => {
    const dims: Vec3 = [4, 5, 1];
    const mask = maskOf(
      dims,
      boxVoxels(0, 3, 0, 4, 0, 0).filter(([i, j]) => i === 0 || i === 3 || j === 0 || j === 4),
    );
    expect(fillHolesAxial(mask, dims)).toEqual({ filledVoxels: 6 });
    expect(sum(mask)).toBe(20);
  });

  it('is a no-op on an empty mask and on a mask without holes', () => {
    const dims: Vec3 = [6, 6, 3];
    const empty = new Uint8Array(108);
    expect(fillHolesAxial(empty, dims)).toEqual({ filledVoxels: 0 });
    expect(sum(empty)).toBe(0);
    const solid = maskOf(dims, boxVoxels(1, 4, 1, 4, 0, 2));
    expect(fillHolesAxial(solid, dims)).toEqual({ filledVoxels: 0 });
    expect(sum(solid)).toBe(48);
    expect(fillHolesAxial(new Uint8Array(0), [4, 0, 2])).toEqual({ filledVoxels: 0 });
    expect(() => fillHolesAxial(new Uint8Array(8), [2, 2, 3])).toThrow(RangeError);
  });

  it('matches a per-voxel brute-force search on 50 random grids', () => {
    const random = mulberry32(7);
    let filledTotal = 0;
    for (let trial = 0; trial < 50; trial++) {
      const { mask, dims } = randomGrid(random, trial, 9);
      const expected = fillHolesByDefinition(mask, dims);
      const filled = sum(expected) - sum(mask);
      expect(fillHolesAxial(mask, dims)).toEqual({ filledVoxels: filled });
      expect(Array.from(mask)).toEqual(Array.from(expected));
      filledTotal += filled;
    }
    expect(filledTotal).toBeGreaterThan(0); // the grids are dense enough to enclose holes
  });
});

describe('applyPostprocessing', () => {
  it('keeps the largest component before filling holes', () => {
    const dims: Vec3 = [12, 9, 1];
    // a blob inside the ring's hole: removed first, then its place is filled with the rest of the hole
    const ring = squareRing(1, 7, 0); // 24 voxels enclosing the 5 x 5 square [2, 6]^2
    const inner: Array<[number, number, number]> = [[4, 4, 0]];
    const outer = boxVoxels(10, 10, 0, 1, 0, 0);
    const mask = maskOf(dims, [...ring, ...inner, ...outer]);
    expect(applyPostprocessing(mask, dims, { largestComponent: true, fillHoles: true })).toEqual({
      removedVoxels: 3,
      components: 3,
      filledVoxels: 25,
    });
    expect(Array.from(mask)).toEqual(Array.from(maskOf(dims, boxVoxels(1, 7, 1, 7, 0, 0))));
  });

  it('runs only the requested steps', () => {
    const dims: Vec3 = [9, 9, 1];
    const voxels = [...squareRing(1, 5, 0), ...boxVoxels(8, 8, 7, 8, 0, 0)];
    const none = maskOf(dims, voxels);
    expect(applyPostprocessing(none, dims, {})).toEqual({ removedVoxels: 0, components: 0, filledVoxels: 0 });
    expect(Array.from(none)).toEqual(Array.from(maskOf(dims, voxels)));

    const fillOnly = maskOf(dims, voxels);
    expect(applyPostprocessing(fillOnly, dims, { fillHoles: true })).toEqual({
      removedVoxels: 0,
      components: 0,
      filledVoxels: 9,
    });
    expect(sum(fillOnly)).toBe(16 + 2 + 9);

    const largestOnly = maskOf(dims, voxels);
    expect(applyPostprocessing(largestOnly, dims, { largestComponent: true, fillHoles: false })).toEqual({
      removedVoxels: 2,
      components: 2,
      filledVoxels: 0,
    });
    expect(sum(largestOnly)).toBe(16);
  });

  it('matches the two references composed, on 50 random grids', () => {
    const random = mulberry32(99);
    for (let trial = 0; trial < 50; trial++) {
      const { mask, dims } = randomGrid(random, trial, 8);
      const kept = largestComponentByDefinition(mask, dims);
      const expected = fillHolesByDefinition(kept.mask, dims);
      const result = applyPostprocessing(mask, dims, { largestComponent: true, fillHoles: true });
      expect(result.components).toBe(kept.components);
      expect(Array.from(mask)).toEqual(Array.from(expected));
    }
  });
});
