import { bootstrapCi, quantileSorted, summarise } from './descriptive';

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

const medianOf = (sample: number[]): number => quantileSorted(sortedWithMissed(sample), 0.5);

/** Summary of a metric sample (see MetricSample); `seed` makes the bootstrap interval repeatable. */
export function summariseMetricSample(values: readonly number[], seed = 1): MetricSample {
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
  const ci = bootstrapCi(values, { seed }, medianOf);
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
    medianCi: ci && { lower: ci.lower, upper: ci.upper, level: ci.level, resamples: ci.resamples },
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
