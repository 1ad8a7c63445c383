import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import { quantileSorted } from './descriptive';
import { kthPairValue, pairQuantile, pairwiseDifferences, walshAverages } from './pairwise-order';

function sample(n: number, seed: number, ties = false): Float64Array {
  const random = mulberry32(seed);
  return Float64Array.from({ length: n }, () =>
    ties ? Math.round(random() * 8) / 4 : random() * 10 - 3,
  ).sort();
}

function allDifferences(x: Float64Array, y: Float64Array): Float64Array {
  const out = new Float64Array(x.length * y.length);
  let w = 0;
  for (const a of x) for (const b of y) out[w++] = a - b;
  return out.sort();
}

function allWalsh(d: Float64Array): Float64Array {
  const out = new Float64Array((d.length * (d.length + 1)) / 2);
  let w = 0;
  for (let i = 0; i < d.length; i += 1) for (let j = i; j < d.length; j += 1) out[w++] = (d[i]! + d[j]!) / 2;
  return out.sort();
}

describe('order statistics of pair values without sorting them', () => {
  it.each([false, true])('finds every k-th pairwise difference (ties: %s)', (ties) => {
    const x = sample(37, 1, ties);
    const y = sample(23, 2, ties);
    const sorted = allDifferences(x, y);
    const values = pairwiseDifferences(x, y);
    for (const k of [1, 2, 17, 300, 425, 426, 851 - 1, sorted.length])
      expect(kthPairValue(values, k)).toBe(sorted[k - 1]);
    expect(pairQuantile(values, 0.5)).toBe(quantileSorted(sorted, 0.5));
  });

  it.each([false, true])('finds every k-th Walsh average (ties: %s)', (ties) => {
    const d = sample(40, 3, ties);
    const sorted = allWalsh(d);
    const values = walshAverages(d);
    for (const k of [1, 5, 99, 410, 411, 700, sorted.length])
      expect(kthPairValue(values, k)).toBe(sorted[k - 1]);
    expect(pairQuantile(values, 0.5)).toBe(quantileSorted(sorted, 0.5));
    expect(() => kthPairValue(values, 0)).toThrow(RangeError);
  });

  it('agrees with sorting on samples above the sorting limit', () => {
    const x = sample(300, 4);
    const y = sample(260, 5);
    const sorted = allDifferences(x, y);
    const values = pairwiseDifferences(x, y);
    expect(pairQuantile(values, 0.5)).toBe(quantileSorted(sorted, 0.5));
    expect(kthPairValue(values, 37_000)).toBe(sorted[36_999]);
  });
});
