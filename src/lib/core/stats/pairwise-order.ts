/**
 * Order statistics of the pairwise values the Hodges-Lehmann estimators use (all differences x_i - y_j,
 * or all Walsh averages (d_i + d_j) / 2, i <= j) without materialising them: m n values are 2 million for
 * two samples of 1,430 and sorting them costs a second. Each k-th value is found by bisection on the
 * value with a linear-time count of the pairs at or below it (two pointers over sorted samples), then
 * snapped to the largest pair value at or below the bound, so the result is one of the pair values,
 * exact up to pairs closer than 1e-12 relative to each other.
 */
export interface PairwiseValues {
  /** number of pair values */
  size: number;
  /** how many pair values are <= t */
  countAtMost(t: number): number;
  /** the largest pair value <= t (-∞ when none) */
  largestAtMost(t: number): number;
  min: number;
  max: number;
}

/** Differences x_i - y_j of two ascending samples. */
export function pairwiseDifferences(xSorted: Float64Array, ySorted: Float64Array): PairwiseValues {
  const m = xSorted.length;
  const n = ySorted.length;
  return {
    size: m * n,
    min: xSorted[0]! - ySorted[n - 1]!,
    max: xSorted[m - 1]! - ySorted[0]!,
    countAtMost(t) {
      // for growing x_i the first y_j with x_i - y_j <= t moves right only
      let count = 0;
      let j = 0;
      for (let i = 0; i < m; i += 1) {
        while (j < n && xSorted[i]! - ySorted[j]! > t) j += 1;
        count += n - j;
      }
      return count;
    },
    largestAtMost(t) {
      let best = -Infinity;
      let j = 0;
      for (let i = 0; i < m; i += 1) {
        while (j < n && xSorted[i]! - ySorted[j]! > t) j += 1;
        if (j < n) best = Math.max(best, xSorted[i]! - ySorted[j]!);
      }
      return best;
    },
  };
}

/** Walsh averages (d_i + d_j) / 2, i <= j, of an ascending sample. */
export function walshAverages(dSorted: Float64Array): PairwiseValues {
  const n = dSorted.length;
  return {
    size: (n * (n + 1)) / 2,
    min: dSorted[0]!,
    max: dSorted[n - 1]!,
    countAtMost(t) {
      // for growing d_i the end of the j >= i with (d_i + d_j) / 2 <= t moves left only
      let count = 0;
      let end = n;
      for (let i = 0; i < n; i += 1) {
        while (end > i && (dSorted[i]! + dSorted[end - 1]!) / 2 > t) end -= 1;
        if (end <= i) break;
        count += end - i;
      }
      return count;
    },
    largestAtMost(t) {
      let best = -Infinity;
      let end = n;
      for (let i = 0; i < n; i += 1) {
        while (end > i && (dSorted[i]! + dSorted[end - 1]!) / 2 > t) end -= 1;
        if (end <= i) break;
        best = Math.max(best, (dSorted[i]! + dSorted[end - 1]!) / 2);
      }
      return best;
    },
  };
}

/** The k-th smallest (1-based) pair value. */
export function kthPairValue(values: PairwiseValues, k: number): number {
  if (!(k >= 1 && k <= values.size)) throw new RangeError(`order statistic ${k} of ${values.size} values`);
  let lo = values.min;
  let hi = values.max;
  if (values.countAtMost(lo) >= k) return lo;
  // invariant: count(lo) < k <= count(hi)
  for (let iteration = 0; iteration < 200; iteration += 1) {
    if (hi - lo <= 1e-12 * Math.max(1, Math.abs(hi))) break;
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (values.countAtMost(mid) >= k) hi = mid;
    else lo = mid;
  }
  return values.largestAtMost(hi);
}

/** The type 7 quantile p of the pair values (what quantileSorted gives on them sorted). */
export function pairQuantile(values: PairwiseValues, p: number): number {
  const h = (values.size - 1) * p;
  const lo = Math.floor(h);
  const a = kthPairValue(values, lo + 1);
  if (h === lo) return a;
  const b = kthPairValue(values, Math.min(values.size, lo + 2));
  return a === b ? a : a + (h - lo) * (b - a);
}
