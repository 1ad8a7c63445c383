import { describe, expect, it } from 'vitest';
import { bootstrapCi, quantileSorted } from './descriptive';
import { bootstrapMedianCi, rankableValues, summariseMetricSample } from './metric-sample';
import { mannWhitneyU } from './rank-tests';

describe('metric samples with missed structures', () => {
  it('keeps +∞ in quantiles and leaves the mean undefined', () => {
    const s = summariseMetricSample([2, 4, 6, Infinity]);
    expect(s.n).toBe(4);
    expect(s.missed).toBe(1);
    expect(s.median).toBe(5);
    expect(s.q1).toBe(3.5);
    // type 7: position 2.25 interpolates between 6 and +∞
    expect(s.q3).toBe(Infinity);
    expect(s.mean).toBeNull();
    expect(s.sd).toBeNull();
    expect(s.max).toBe(Infinity);
    expect(quantileSorted([1, Infinity, Infinity], 1)).toBe(Infinity);
    expect(quantileSorted([1, 2, Infinity], 0.5)).toBe(2);
  });

  it('summarises finite samples like summarise, with a repeatable bootstrap interval', () => {
    const values = [0.81, 0.9, 0.85, 0.88, 0.92, 0.79, 0.86];
    const a = summariseMetricSample(values, { seed: 7 });
    expect(a.mean).toBeCloseTo(0.858571428571, 10);
    expect(a.median).toBe(0.86);
    expect(a.medianCi).toEqual(summariseMetricSample(values, { seed: 7 }).medianCi);
    // the same draws as the general bootstrap on the sorted values
    const sorted = [...values].sort((x, y) => x - y);
    const general = bootstrapCi(sorted, { seed: 7 })!;
    expect([a.medianCi!.lower, a.medianCi!.upper]).toEqual([general.lower, general.upper]);
    const even = [...sorted, 0.95];
    const fast = bootstrapMedianCi(Float64Array.from(even), { seed: 3, resamples: 500 })!;
    const slow = bootstrapCi(even, { seed: 3, resamples: 500 })!;
    expect([fast.lower, fast.upper]).toEqual([slow.lower, slow.upper]);
    expect(summariseMetricSample(values, { medianCi: false }).medianCi).toBeNull();
    expect(a.medianCi!.lower).toBeLessThanOrEqual(0.86);
    expect(a.medianCi!.upper).toBeGreaterThanOrEqual(0.86);
    expect(summariseMetricSample([]).median).toBeNull();
  });

  it('ranks a miss worst without changing the other ranks', () => {
    const x = [3, Infinity, 5];
    const y = [1, 2, 4];
    const ranked = rankableValues(x, y);
    expect(ranked[1]).toBeGreaterThan(5);
    // the same test as with any value beyond every finite one
    expect(mannWhitneyU(ranked, y).p).toBe(mannWhitneyU([3, 100, 5], y).p);
    expect(() => summariseMetricSample([1, NaN])).toThrow(RangeError);
  });
});
