import { describe, expect, it } from 'vitest';
import { linearPercentile, weightedNearestRank } from './quantile';
import { mulberry32 } from '../../../../test/helpers/random';

/**
 * The definition (DeepMind's compute_robust_hausdorff): sort by value, the first value whose cumulative
 * weight / total reaches `fraction`, clamped to the last. The total is summed in input order.
 */
function nearestRankByDefinition(values: number[], weights: number[], fraction: number): number {
  if (values.length === 0) return NaN;
  let total = 0;
  for (const w of weights) total += w;
  const order = values.map((_, n) => n).sort((a, b) => values[a] - values[b]);
  let cumulative = 0;
  for (const n of order) {
    cumulative += weights[n];
    if (cumulative / total >= fraction) return values[n];
  }
  return values[order[order.length - 1]];
}

/** numpy.percentile(a, 100·fraction) with the default 'linear' method, including numpy's _lerp. */
function numpyLinear(values: number[], fraction: number): number {
  if (values.length === 0) return NaN;
  const a = [...values].sort((x, y) => x - y);
  const position = (a.length - 1) * fraction;
  const lo = Math.floor(position);
  const hi = Math.min(Math.ceil(position), a.length - 1);
  const t = position - lo;
  const diff = a[hi] - a[lo];
  return t >= 0.5 ? a[hi] - diff * (1 - t) : a[lo] + diff * t;
}

/** The textbook form a[floor] + (a[ceil] − a[floor])·frac on a sorted copy. */
function plainLinear(values: number[], fraction: number): number {
  const a = [...values].sort((x, y) => x - y);
  const position = (a.length - 1) * fraction;
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  return a[lo] + (a[hi] - a[lo]) * (position - lo);
}

/** Values from a small set so that ties are everywhere. */
function tiedValues(random: () => number, n: number, distinct: number): number[] {
  return Array.from({ length: n }, () => Math.floor(random() * distinct) * 0.5);
}

const fractions = [0, 0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

describe('weightedNearestRank', () => {
  it('matches the definition on random data with many ties and continuous weights', () => {
    const random = mulberry32(1);
    let checked = 0;
    for (let trial = 0; trial < 500; trial++) {
      const n = 1 + Math.floor(random() * 60);
      const values = tiedValues(random, n, 1 + Math.floor(random() * 8));
      // zero weights too: they must never move the answer past a reached fraction
      const weights = Array.from({ length: n }, () => (random() < 0.1 ? 0 : 0.01 + random() * 3));
      if (!weights.some((w) => w > 0)) weights[0] = 1;
      // continuous weights make a cumulative fraction equal to `fraction` within rounding unlikely;
      // exact boundaries are tested with dyadic weights below
      for (const fraction of [0.05, 0.3, 0.5, 0.77, 0.95, random()]) {
        const got = weightedNearestRank(Float64Array.from(values), Float64Array.from(weights), n, fraction);
        expect(got).toBe(nearestRankByDefinition(values, weights, fraction));
        checked++;
      }
    }
    expect(checked).toBe(3000);
  });

  it('matches the definition exactly at reached boundaries (dyadic weights, every sum exact)', () => {
    const random = mulberry32(2);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(random() * 40);
      const values = tiedValues(random, n, 1 + Math.floor(random() * 6));
      const weights = Array.from({ length: n }, () => Math.floor(random() * 5) / 8);
      if (!weights.some((w) => w > 0)) weights[n - 1] = 0.25;
      const total = weights.reduce((a, b) => a + b, 0);
      // fractions landing exactly on cumulative sums, plus 0 and 1
      const boundaries = [0, 1, weights[0] / total, (weights[0] + weights[n - 1]) / total, 0.5, 0.95];
      for (const fraction of boundaries) {
        if (!(fraction >= 0 && fraction <= 1)) continue;
        const got = weightedNearestRank(Float64Array.from(values), Float64Array.from(weights), n, fraction);
        expect(got).toBe(nearestRankByDefinition(values, weights, fraction));
      }
    }
  });

  it('takes the first value whose cumulative fraction reaches the fraction (>=, not >)', () => {
    // 20 unit weights: the 19th value's cumulative fraction is exactly 19/20 = 0.95
    const values = Float64Array.from({ length: 20 }, (_, n) => 19 - n);
    const weights = new Float64Array(20).fill(1);
    expect(weightedNearestRank(values, weights, 20, 0.95)).toBe(18);
    expect(
      weightedNearestRank(Float64Array.from([3, 1, 2, 4]), Float64Array.from([1, 1, 1, 1]), 4, 0.5),
    ).toBe(2);
    expect(
      weightedNearestRank(Float64Array.from([3, 1, 2, 4]), Float64Array.from([1, 1, 1, 1]), 4, 0.51),
    ).toBe(3);
  });

  it('weights by area, not by count', () => {
    // one heavy element at distance 5 outweighs nine light ones at 0
    const values = Float64Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
    const weights = Float64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 91]);
    expect(weightedNearestRank(values.slice(), weights.slice(), 10, 0.09)).toBe(0);
    expect(weightedNearestRank(values.slice(), weights.slice(), 10, 0.095)).toBe(5);
    expect(weightedNearestRank(values.slice(), weights.slice(), 10, 0.5)).toBe(5);
  });

  it('gives the minimum at fraction 0 and the last value reaching the total at fraction 1', () => {
    const random = mulberry32(3);
    for (let trial = 0; trial < 100; trial++) {
      const n = 1 + Math.floor(random() * 30);
      const values = tiedValues(random, n, 10);
      const weights = Array.from({ length: n }, () => 1 + Math.floor(random() * 4));
      expect(weightedNearestRank(Float64Array.from(values), Float64Array.from(weights), n, 0)).toBe(
        Math.min(...values),
      );
      expect(weightedNearestRank(Float64Array.from(values), Float64Array.from(weights), n, 1)).toBe(
        Math.max(...values),
      );
    }
    // trailing zero-weight elements are never reached at fraction 1
    expect(weightedNearestRank(Float64Array.from([1, 2, 3]), Float64Array.from([1, 1, 0]), 3, 1)).toBe(2);
  });

  it('handles +Infinity distances (an empty other surface)', () => {
    const values = Float64Array.from([Infinity, Infinity, Infinity]);
    expect(weightedNearestRank(values, Float64Array.from([1, 2, 3]), 3, 0.95)).toBe(Infinity);
    expect(weightedNearestRank(Float64Array.from([1, Infinity]), Float64Array.from([1, 1]), 2, 0.5)).toBe(1);
    expect(weightedNearestRank(Float64Array.from([1, Infinity]), Float64Array.from([1, 1]), 2, 0.95)).toBe(
      Infinity,
    );
  });

  it('uses only the first `count` entries', () => {
    const values = Float64Array.from([1, 2, 3, 100, 100]);
    const weights = Float64Array.from([1, 1, 1, 1000, 1000]);
    expect(weightedNearestRank(values, weights, 3, 1)).toBe(3);
    expect(Array.from(values.subarray(3))).toEqual([100, 100]);
  });

  it('reorders values and weights together, keeping the (value, weight) pairs', () => {
    const random = mulberry32(4);
    const n = 200;
    const values = tiedValues(random, n, 12);
    const weights = Array.from({ length: n }, () => random());
    const v = Float64Array.from(values);
    const w = Float64Array.from(weights);
    weightedNearestRank(v, w, n, 0.95);
    const pairs = (a: ArrayLike<number>, b: ArrayLike<number>) =>
      Array.from({ length: n }, (_, m) => [a[m], b[m]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(pairs(v, w)).toEqual(pairs(values, weights));
  });

  it('gives NaN for empty input', () => {
    expect(weightedNearestRank(new Float64Array(0), new Float64Array(0), 0, 0.95)).toBeNaN();
    expect(weightedNearestRank(Float64Array.from([1]), Float64Array.from([1]), 0, 0.5)).toBeNaN();
  });

  it('rejects a fraction outside [0, 1] or NaN with a RangeError', () => {
    for (const fraction of [-0.01, 1.01, 95, Number.NaN, -Infinity, Infinity]) {
      expect(() => weightedNearestRank(Float64Array.from([1]), Float64Array.from([1]), 1, fraction)).toThrow(
        RangeError,
      );
      // also when empty: validation comes first
      expect(() => weightedNearestRank(new Float64Array(0), new Float64Array(0), 0, fraction)).toThrow(
        RangeError,
      );
    }
  });
});

describe('linearPercentile', () => {
  it("matches numpy's linear method bit for bit on random data with ties", () => {
    const random = mulberry32(5);
    let checked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(random() * 50);
      const values =
        trial % 2 === 0
          ? tiedValues(random, n, 1 + Math.floor(random() * 6))
          : Array.from({ length: n }, () => random() * 40);
      for (const fraction of [...fractions, random()]) {
        const got = linearPercentile(Float64Array.from(values), n, fraction);
        expect(got).toBe(numpyLinear(values, fraction));
        // and the textbook formula agrees up to rounding
        expect(got).toBeCloseTo(plainLinear(values, fraction), 12);
        checked++;
      }
    }
    expect(checked).toBe(4000);
  });

  it('reproduces values computed by numpy.percentile', () => {
    // numpy 2.x: np.percentile([1, 2, 3, 4, 10], [0, 25, 50, 95, 100]) -> [1, 2, 3, 8.8, 10]
    const a = [1, 2, 3, 4, 10];
    expect(linearPercentile(Float64Array.from(a), 5, 0)).toBe(1);
    expect(linearPercentile(Float64Array.from(a), 5, 0.25)).toBe(2);
    expect(linearPercentile(Float64Array.from(a), 5, 0.5)).toBe(3);
    expect(linearPercentile(Float64Array.from(a), 5, 0.95)).toBe(8.799999999999999);
    expect(linearPercentile(Float64Array.from(a), 5, 1)).toBe(10);
    // np.percentile([0, 1], 95) == 0.95 and np.percentile([2, 2, 2], 37) == 2
    expect(linearPercentile(Float64Array.from([1, 0]), 2, 0.95)).toBe(0.95);
    expect(linearPercentile(Float64Array.from([2, 2, 2]), 3, 0.37)).toBe(2);
  });

  it('returns the single value for n = 1 at any fraction', () => {
    for (const fraction of fractions)
      expect(linearPercentile(Float64Array.from([4.25]), 1, fraction)).toBe(4.25);
  });

  it('gives the minimum at 0 and the maximum at 1', () => {
    const random = mulberry32(6);
    for (let trial = 0; trial < 50; trial++) {
      const values = Array.from({ length: 1 + Math.floor(random() * 30) }, () => random() * 10 - 5);
      expect(linearPercentile(Float64Array.from(values), values.length, 0)).toBe(Math.min(...values));
      expect(linearPercentile(Float64Array.from(values), values.length, 1)).toBe(Math.max(...values));
    }
  });

  it('is non-decreasing in the fraction', () => {
    const random = mulberry32(7);
    const values = tiedValues(random, 37, 9);
    let previous = -Infinity;
    for (let step = 0; step <= 200; step++) {
      const value = linearPercentile(Float64Array.from(values), values.length, step / 200);
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
  });

  it('uses only the first `count` entries and keeps them a permutation', () => {
    const values = Float64Array.from([5, 1, 4, 2, 3, -100, 100]);
    expect(linearPercentile(values, 5, 0.5)).toBe(3);
    expect(Array.from(values.subarray(0, 5)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(values.subarray(5))).toEqual([-100, 100]);
  });

  it('gives NaN for empty input', () => {
    expect(linearPercentile(new Float64Array(0), 0, 0.95)).toBeNaN();
    expect(linearPercentile(Float64Array.from([1, 2]), 0, 0.5)).toBeNaN();
  });

  it('rejects a fraction outside [0, 1] or NaN with a RangeError', () => {
    for (const fraction of [-0.5, 1.5, 95, Number.NaN]) {
      expect(() => linearPercentile(Float64Array.from([1, 2]), 2, fraction)).toThrow(RangeError);
    }
  });
});
