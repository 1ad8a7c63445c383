import { quantileSorted, summarise } from './descriptive';

/**
 * Descriptive statistics of metric values where a missed structure's distance is +∞ (DESIGN.md: never
 * dropped). Quantiles are type 7 and become +∞ where they reach a missed value; mean and SD are of the
 * finite values and null as soon as one value is infinite (a mean with a miss in it is undefined).
 */
export interface MetricSample {
  n: number;
  /** values that are +∞ (missed structures of a distance metric) */
  missed: number;
  median: number | null;
  q1: number | null;
  q3: number | null;
  iqr: number | null;
  mean: number | null;
  sd: number | null;
  min: number | null;
  max: number | null;
  /** seeded percentile bootstrap 95% CI of the median (2000 resamples), null below 2 values */
  medianCi: { lower: number; upper: number; level: number; resamples: number } | null;
}

/** Sorted copy of values that may hold +∞; NaN and -∞ are refused. */
export function sortedWithMissed(values: readonly number[]): Float64Array {
  const sorted = Float64Array.from(values);
  for (const v of sorted)
    if (Number.isNaN(v) || v === -Infinity) throw new RangeError(`metric sample: ${v} is not a value`);
  return sorted.sort();
}

/**
 * Percentile bootstrap interval of the type 7 median of sorted values, as bootstrapCi computes it, in
 * O(n) per resample: a resample is a vector of counts over the sorted values, and its median the value
 * where the cumulative count passes the middle ranks (no sort per resample).
 */
export function bootstrapMedianCi(
  sorted: Float64Array,
  options: { seed: number; resamples?: number; level?: number },
): { lower: number; upper: number; level: number; resamples: number } | null {
  const n = sorted.length;
  if (n < 2) return null;
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level ${level} is outside (0, 1)`);
  // mulberry32 (core/phantom/random.ts) inlined: the same draws as bootstrapCi with this seed, at a
  // third of the cost of a call per draw
  let state = (Number.isFinite(options.seed) ? Math.trunc(options.seed) : 0) >>> 0;
  const counts = new Uint32Array(n);
  const medians = new Float64Array(resamples);
  const h = (n - 1) * 0.5;
  const lo = Math.floor(h);
  for (let r = 0; r < resamples; r += 1) {
    counts.fill(0);
    for (let i = 0; i < n; i += 1) {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      counts[Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)]! += 1;
    }
    // the values at ranks lo and lo + 1 (0-based) of the resample
    let cumulative = 0;
    let a = NaN;
    let b = NaN;
    for (let i = 0; i < n; i += 1) {
      cumulative += counts[i]!;
      if (Number.isNaN(a) && cumulative > lo) a = sorted[i]!;
      if (cumulative > lo + 1 || (h === lo && !Number.isNaN(a))) {
        b = sorted[i]!;
        break;
      }
    }
    medians[r] = h === lo || a === b ? a : a + (h - lo) * (b - a);
  }
  medians.sort();
  return {
    lower: quantileSorted(medians, (1 - level) / 2),
    upper: quantileSorted(medians, (1 + level) / 2),
    level,
    resamples,
  };
}

/**
 * Summary of a metric sample (see MetricSample); `seed` makes the bootstrap interval of the median
 * repeatable, `medianCi: false` leaves it out where a caller reports other intervals.
 */
export function summariseMetricSample(
  values: readonly number[],
  options: { seed?: number; medianCi?: boolean } = {},
): MetricSample {
  const sorted = sortedWithMissed(values);
  const n = sorted.length;
  let missed = 0;
  for (const v of sorted) if (v === Infinity) missed += 1;
  if (n === 0)
    return {
      n,
      missed,
      median: null,
      q1: null,
      q3: null,
      iqr: null,
      mean: null,
      sd: null,
      min: null,
      max: null,
      medianCi: null,
    };
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  const finite = missed === 0 ? summarise(values) : null;
  const ci = options.medianCi === false ? null : bootstrapMedianCi(sorted, { seed: options.seed ?? 1 });
  return {
    n,
    missed,
    median: quantileSorted(sorted, 0.5),
    q1,
    q3,
    iqr: q3 - q1,
    mean: finite?.mean ?? null,
    sd: finite?.sd ?? null,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    medianCi: ci,
  };
}

/**
 * Values for rank tests: +∞ (a miss) becomes a value beyond every finite one, so it takes the worst
 * rank and ties with other misses; ranks, and so the test, are unchanged by the choice of stand-in.
 */
export function rankableValues(values: readonly number[], others: readonly number[] = []): number[] {
  let largest = 0;
  for (const v of [...values, ...others]) if (Number.isFinite(v)) largest = Math.max(largest, Math.abs(v));
  const standIn = largest * 2 + 1;
  return values.map((v) => (v === Infinity ? standIn : v));
}
