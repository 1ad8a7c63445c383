import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../volume/volume';
import {
  emptyQueryDistances,
  queryDistances,
  type DistanceMode,
  type QueryDistances,
} from './distance-transform';
import { Workspace } from './workspace';
import { mulberry32 } from '../../../../test/helpers/random';
import { gridDistance } from '../../../../test/helpers/grid-distance';

const emptyResult = (): QueryDistances => ({
  count: 0,
  distancesMm: new Float64Array(0),
  indices: new Int32Array(0),
});

interface BruteForce {
  /** The minimum over all features, +Infinity without features. */
  min: number;
  /** Every candidate value within relative 1e-12 of the minimum (a tie within rounding). */
  nearTies: number[];
}

/** In 'slices' mode only features on the query's slice count, and Δk is 0. */
function bruteForce(
  features: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  index: number,
  slices = false,
): BruteForce {
  const [nx, ny] = dims;
  const qi = index % nx;
  const qj = Math.floor(index / nx) % ny;
  const qk = Math.floor(index / (nx * ny));
  const candidates: number[] = [];
  let min = Infinity;
  for (let n = 0; n < features.length; n++) {
    if (features[n] === 0) continue;
    if (slices && Math.floor(n / (nx * ny)) !== qk) continue;
    const d = gridDistance(
      (n % nx) - qi,
      (Math.floor(n / nx) % ny) - qj,
      Math.floor(n / (nx * ny)) - qk,
      spacing,
    );
    candidates.push(d);
    if (d < min) min = d;
  }
  return { min, nearTies: candidates.filter((d) => d - min <= 1e-12 * Math.max(min, 1e-300)) };
}

/** Distance by query index: the report's order is unspecified. */
function byIndex(result: QueryDistances): Map<number, number> {
  const out = new Map<number, number>();
  for (let m = 0; m < result.count; m++) out.set(result.indices[m], result.distancesMm[m]);
  return out;
}

/** Linear indices of the queries, ascending. */
function queryIndices(queries: Uint8Array): number[] {
  const out: number[] = [];
  for (let n = 0; n < queries.length; n++) if (queries[n] !== 0) out.push(n);
  return out;
}

function randomSparse(random: () => number, length: number, density: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let n = 0; n < length; n++) out[n] = random() < density ? 1 : 0;
  return out;
}

const spacings: Vec3[] = [
  [1, 1, 1],
  [0.5, 0.8, 2.5],
  [0.9765625, 0.9765625, 3],
  [1.3, 0.7, 0.35],
  [2.5, 0.5, 0.8],
];

describe('queryDistances against brute force', () => {
  // search radius 0 sends every query that is not itself a feature to the separable transform; 1.5 mm
  // mixes local search and transform; the default searches farther than these grids reach
  it.each([
    ['volume', 0],
    ['volume', 1.5],
    ['volume', undefined],
    ['slices', 0],
    ['slices', 1.5],
    ['slices', undefined],
  ] as Array<[DistanceMode, number | undefined]>)(
    '%s mode, search radius %s mm: matches the brute-force minimum bit for bit on random sparse grids (ties within rounding excepted)',
    (mode, searchRadiusMm) => {
      const random = mulberry32(mode === 'volume' ? 20240611 : 20240612);
      const workspace = new Workspace();
      const result = emptyResult();
      let checked = 0;
      let exact = 0;
      const notExact: string[] = [];
      for (let trial = 0; trial < 400; trial++) {
        // 1-wide axes, nz = 1 and single voxels are all frequent at these sizes
        const dims: Vec3 = [
          1 + Math.floor(random() * 12),
          1 + Math.floor(random() * 12),
          trial % 5 === 0 ? 1 : 1 + Math.floor(random() * 12),
        ];
        const spacing = spacings[trial % spacings.length];
        const total = dims[0] * dims[1] * dims[2];
        const features = randomSparse(random, total, [0.01, 0.05, 0.2, 0.6][trial % 4]);
        const queries = randomSparse(random, total, 0.3 + 0.6 * random());
        queryDistances(features, queries, dims, spacing, workspace, result, { mode, searchRadiusMm });

        const order = queryIndices(queries);
        expect(result.count).toBe(order.length);
        const reported = Array.from(result.indices.subarray(0, result.count));
        // every query exactly once, in no particular order
        expect([...reported].sort((a, b) => a - b)).toEqual(order);
        for (let m = 0; m < result.count; m++) {
          const { min, nearTies } = bruteForce(features, dims, spacing, result.indices[m], mode === 'slices');
          const got = result.distancesMm[m];
          checked++;
          if (got === min) {
            exact++;
          } else if (!nearTies.includes(got)) {
            notExact.push(`dims ${dims} spacing ${spacing} index ${result.indices[m]}: ${got} vs ${min}`);
          }
        }
      }
      expect(notExact).toEqual([]);
      expect(checked).toBeGreaterThan(10_000);
      // ties within rounding are rare: nearly everything must be bit-identical to the brute force
      expect(exact / checked).toBeGreaterThan(0.999);
    },
  );

  it('is bit-exact on integer spacing, where every candidate is an exact integer before the root', () => {
    const random = mulberry32(7);
    const workspace = new Workspace();
    const result = emptyResult();
    for (let trial = 0; trial < 100; trial++) {
      const dims: Vec3 = [
        1 + Math.floor(random() * 12),
        1 + Math.floor(random() * 12),
        1 + Math.floor(random() * 12),
      ];
      const spacing: Vec3 = [
        1 + Math.floor(random() * 3),
        1 + Math.floor(random() * 3),
        1 + Math.floor(random() * 3),
      ];
      const total = dims[0] * dims[1] * dims[2];
      const features = randomSparse(random, total, 0.05 + 0.2 * random());
      const queries = randomSparse(random, total, 0.5);
      queryDistances(features, queries, dims, spacing, workspace, result);
      for (let m = 0; m < result.count; m++) {
        expect(result.distancesMm[m]).toBe(bruteForce(features, dims, spacing, result.indices[m]).min);
      }
    }
  });

  it('slices mode ignores features on other slices and gives +Infinity on a slice without any', () => {
    const dims: Vec3 = [3, 3, 3];
    const features = new Uint8Array(27);
    features[0 + 3 * (0 + 3 * 0)] = 1; // (0, 0, 0)
    features[2 + 3 * (2 + 3 * 2)] = 1; // (2, 2, 2)
    const queries = new Uint8Array(27);
    queries[0 + 3 * (0 + 3 * 1)] = 1; // (0, 0, 1): nothing on slice 1, (0, 0, 0) 2.5 mm below
    queries[2 + 3 * (2 + 3 * 0)] = 1; // (2, 2, 0): the in-plane (0, 0, 0)
    queries[2 + 3 * (2 + 3 * 2)] = 1; // on a feature
    const spacing: Vec3 = [0.5, 0.8, 2.5];
    const slices = queryDistances(features, queries, dims, spacing, new Workspace(), emptyQueryDistances(), {
      mode: 'slices',
    });
    expect(byIndex(slices)).toEqual(
      new Map([
        [9, Infinity],
        [8, gridDistance(2, 2, 0, spacing)],
        [26, 0],
      ]),
    );
    const volume = queryDistances(features, queries, dims, spacing, new Workspace(), emptyQueryDistances());
    expect(byIndex(volume)).toEqual(
      new Map([
        [9, 2.5],
        [8, gridDistance(2, 2, 0, spacing)],
        [26, 0],
      ]),
    );
  });

  it('gives the same answer in both modes on a single slice', () => {
    const random = mulberry32(17);
    for (let trial = 0; trial < 20; trial++) {
      const dims: Vec3 = [1 + Math.floor(random() * 12), 1 + Math.floor(random() * 12), 1];
      const features = randomSparse(random, dims[0] * dims[1], 0.1);
      const queries = randomSparse(random, dims[0] * dims[1], 0.5);
      const a = queryDistances(
        features,
        queries,
        dims,
        [0.7, 1.1, 3],
        new Workspace(),
        emptyQueryDistances(),
      );
      const b = queryDistances(
        features,
        queries,
        dims,
        [0.7, 1.1, 3],
        new Workspace(),
        emptyQueryDistances(),
        { mode: 'slices' },
      );
      expect(byIndex(a)).toEqual(byIndex(b));
    }
  });

  it('handles a row longer than 65535 voxels', () => {
    const nx = 70000;
    const features = new Uint8Array(2 * nx);
    features[0] = 1; // row j = 0 only; row j = 1 has no feature of its own
    const queries = new Uint8Array(2 * nx);
    queries[nx - 1] = 1;
    queries[2 * nx - 1] = 1;
    const spacing: Vec3 = [0.5, 0.8, 1];
    const result = queryDistances(
      features,
      queries,
      [nx, 2, 1],
      spacing,
      new Workspace(),
      emptyQueryDistances(),
    );
    expect(byIndex(result)).toEqual(
      new Map([
        [nx - 1, gridDistance(nx - 1, 0, 0, spacing)],
        [2 * nx - 1, gridDistance(nx - 1, 1, 0, spacing)],
      ]),
    );
  });

  it('gives 0 at a query that is also a feature', () => {
    const dims: Vec3 = [5, 4, 3];
    const features = new Uint8Array(60);
    features[17] = 1;
    features[42] = 1;
    const result = queryDistances(features, features, dims, [0.5, 0.8, 2.5], new Workspace(), emptyResult());
    expect(result.count).toBe(2);
    expect(Array.from(result.distancesMm.subarray(0, 2))).toEqual([0, 0]);
  });

  it('measures single-axis offsets as offset times that axis spacing exactly', () => {
    const dims: Vec3 = [9, 9, 9];
    const spacing: Vec3 = [0.5, 0.8, 2.5];
    const centre = 4 + 9 * (4 + 9 * 4);
    const features = new Uint8Array(729);
    features[centre] = 1;
    for (const [axis, stride] of [
      [0, 1],
      [1, 9],
      [2, 81],
    ] as const) {
      for (const steps of [1, 2, 3, 4]) {
        const queries = new Uint8Array(729);
        queries[centre + steps * stride] = 1;
        const result = queryDistances(features, queries, dims, spacing, new Workspace(), emptyResult());
        expect(result.count).toBe(1);
        expect(result.distancesMm[0]).toBe(steps * spacing[axis]);
      }
    }
  });

  it('gives +Infinity for every query when there is no feature', () => {
    const dims: Vec3 = [4, 3, 2];
    const queries = new Uint8Array(24);
    queries[0] = 1;
    queries[5] = 1;
    queries[23] = 1;
    const result = queryDistances(
      new Uint8Array(24),
      queries,
      dims,
      [1, 1, 1],
      new Workspace(),
      emptyResult(),
    );
    expect(result.count).toBe(3);
    expect(byIndex(result)).toEqual(
      new Map([
        [0, Infinity],
        [5, Infinity],
        [23, Infinity],
      ]),
    );
  });

  it('reaches every query from a single feature in the far corner', () => {
    // rows and columns without a feature of their own must still get finite distances
    const dims: Vec3 = [3, 4, 5];
    const features = new Uint8Array(60);
    features[59] = 1;
    const queries = new Uint8Array(60).fill(1);
    const result = queryDistances(features, queries, dims, [0.5, 0.8, 2.5], new Workspace(), emptyResult());
    expect(result.count).toBe(60);
    for (let m = 0; m < 60; m++) expect(Number.isFinite(result.distancesMm[m])).toBe(true);
    expect(byIndex(result).get(0)).toBe(gridDistance(2, 3, 4, [0.5, 0.8, 2.5]));
  });

  it('answers count 0 without queries, with or without features', () => {
    const dims: Vec3 = [4, 4, 4];
    const features = new Uint8Array(64);
    features[10] = 1;
    const result: QueryDistances = {
      count: 99,
      distancesMm: new Float64Array(4),
      indices: new Int32Array(4),
    };
    expect(queryDistances(features, new Uint8Array(64), dims, [1, 1, 1], new Workspace(), result).count).toBe(
      0,
    );
    result.count = 99;
    expect(
      queryDistances(new Uint8Array(64), new Uint8Array(64), dims, [1, 1, 1], new Workspace(), result).count,
    ).toBe(0);
  });

  it('rejects non-positive or NaN spacing with a RangeError', () => {
    const features = new Uint8Array(8).fill(1);
    for (const spacing of [
      [0, 1, 1],
      [1, -1, 1],
      [1, 1, 0],
      [1, 1, -2.5],
      [Number.NaN, 1, 1],
    ] as Vec3[]) {
      expect(() =>
        queryDistances(features, features, [2, 2, 2], spacing, new Workspace(), emptyResult()),
      ).toThrow(RangeError);
    }
  });

  it('grows a too-small result buffer and reuses a large one', () => {
    const dims: Vec3 = [6, 5, 4];
    const features = new Uint8Array(120);
    features[0] = 1;
    const queries = new Uint8Array(120).fill(1);
    const small = emptyResult();
    queryDistances(features, queries, dims, [1, 1, 1], new Workspace(), small);
    expect(small.count).toBe(120);
    expect(small.distancesMm.length).toBeGreaterThanOrEqual(120);
    expect(small.indices.length).toBeGreaterThanOrEqual(120);

    const bigDistances = new Float64Array(500);
    const big: QueryDistances = { count: 0, distancesMm: bigDistances, indices: new Int32Array(500) };
    queryDistances(features, queries, dims, [1, 1, 1], new Workspace(), big);
    expect(big.distancesMm).toBe(bigDistances);
    expect(Array.from(big.distancesMm.subarray(0, 120))).toEqual(
      Array.from(small.distancesMm.subarray(0, 120)),
    );
  });

  it('does not depend on what a reused workspace held before', () => {
    const random = mulberry32(99);
    const shared = new Workspace();
    // dirty the workspace with a larger grid first
    const bigDims: Vec3 = [12, 11, 10];
    queryDistances(
      randomSparse(random, 1320, 0.1),
      randomSparse(random, 1320, 0.5),
      bigDims,
      [0.3, 0.7, 1.1],
      shared,
      emptyResult(),
    );
    for (let trial = 0; trial < 30; trial++) {
      const dims: Vec3 = [
        1 + Math.floor(random() * 8),
        1 + Math.floor(random() * 8),
        1 + Math.floor(random() * 8),
      ];
      const total = dims[0] * dims[1] * dims[2];
      const features = randomSparse(random, total, 0.1);
      const queries = randomSparse(random, total, 0.5);
      const reused = queryDistances(features, queries, dims, [0.5, 0.8, 2.5], shared, emptyResult());
      const fresh = queryDistances(features, queries, dims, [0.5, 0.8, 2.5], new Workspace(), emptyResult());
      expect(reused.count).toBe(fresh.count);
      expect(byIndex(reused)).toEqual(byIndex(fresh));
    }
  });

  it('leaves the feature and query arrays unchanged', () => {
    const random = mulberry32(3);
    const dims: Vec3 = [7, 6, 5];
    const features = randomSparse(random, 210, 0.1);
    const queries = randomSparse(random, 210, 0.5);
    const featuresCopy = features.slice();
    const queriesCopy = queries.slice();
    queryDistances(features, queries, dims, [0.5, 0.8, 2.5], new Workspace(), emptyResult());
    expect(features).toEqual(featuresCopy);
    expect(queries).toEqual(queriesCopy);
  });
});
