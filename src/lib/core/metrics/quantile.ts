/**
 * Area-weighted nearest-rank percentile, DeepMind's `compute_robust_hausdorff` for one direction: with
 * the distances sorted ascending, the first distance whose cumulative weight fraction reaches `fraction`
 * (0..1). Found by three-way quickselect in O(n) without sorting; `values` and `weights` (the first
 * `count` entries) are reordered in place. Empty input gives NaN; callers map it to their empty-mask
 * policy. Throws RangeError for a fraction outside [0, 1].
 */
export function weightedNearestRank(
  values: Float64Array,
  weights: Float64Array,
  count: number,
  fraction: number,
): number {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must lie in [0, 1], got ${fraction}`);
  if (count === 0) return NaN;
  let total = 0;
  for (let n = 0; n < count; n++) total += weights[n];
  let lo = 0;
  let hi = count;
  let below = 0;
  let largest = -Infinity;
  while (lo < hi) {
    const pivot = medianOfThree(values[lo], values[(lo + hi) >> 1], values[hi - 1]);
    // three-way partition: [lo, lt) < pivot, [lt, gt) == pivot, [gt, hi) > pivot
    let lt = lo;
    let gt = hi;
    let n = lo;
    let lessWeight = 0;
    let equalWeight = 0;
    while (n < gt) {
      const value = values[n];
      if (value < pivot) {
        lessWeight += weights[n];
        swap(values, weights, n++, lt++);
      } else if (value > pivot) {
        swap(values, weights, n, --gt);
      } else {
        equalWeight += weights[n];
        n++;
      }
    }
    if ((below + lessWeight) / total >= fraction && lt > lo) {
      hi = lt;
    } else if ((below + lessWeight + equalWeight) / total >= fraction) {
      return pivot;
    } else {
      below += lessWeight + equalWeight;
      largest = pivot;
      lo = gt;
    }
  }
  // rounding left the cumulative fraction just short of `fraction`: the reference then takes the last element
  return largest;
}

/**
 * numpy's default percentile ('linear', method 7 of Hyndman and Fan): the order statistics at
 * floor and ceil of (n - 1)·fraction, interpolated. `values` (first `count`) are reordered in place.
 * Empty input gives NaN.
 */
export function linearPercentile(values: Float64Array, count: number, fraction: number): number {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`fraction must lie in [0, 1], got ${fraction}`);
  if (count === 0) return NaN;
  const position = (count - 1) * fraction;
  const below = Math.floor(position);
  const t = position - below;
  const lower = select(values, count, below);
  if (t === 0 || below + 1 >= count) return lower;
  // after selecting `below`, everything above it is >= lower: the next order statistic is their minimum
  let upper = Infinity;
  for (let n = below + 1; n < count; n++) if (values[n] < upper) upper = values[n];
  // numpy's _lerp: a + (b - a)·t, evaluated from the upper end when t >= 0.5
  const difference = upper - lower;
  return t >= 0.5 ? upper - difference * (1 - t) : lower + difference * t;
}

/** The k-th smallest (0-based) of the first `count` values; reorders them so it sits at index k. */
function select(values: Float64Array, count: number, k: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const pivot = medianOfThree(values[lo], values[(lo + hi) >> 1], values[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return values[k];
  }
  return values[k];
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

function swap(values: Float64Array, weights: Float64Array, a: number, b: number): void {
  const v = values[a];
  values[a] = values[b];
  values[b] = v;
  const w = weights[a];
  weights[a] = weights[b];
  weights[b] = w;
}
