import { mulberry32 } from '../phantom/random';

/** Descriptive statistics of a sample (finite values only; NaN and infinities are refused). */
export interface Summary {
  n: number;
  mean: number | null;
  /** sample standard deviation (n - 1), null below 2 values */
  sd: number | null;
  median: number | null;
  q1: number | null;
  q3: number | null;
  iqr: number | null;
  min: number | null;
  max: number | null;
}

function finiteSorted(values: readonly number[], what: string): Float64Array {
  const sorted = Float64Array.from(values);
  for (const v of sorted)
    if (!Number.isFinite(v)) throw new RangeError(`${what}: ${v} is not a finite number`);
  return sorted.sort();
}

/**
 * The p-quantile (0..1) of sorted values by linear interpolation between order statistics (Hyndman and
 * Fan type 7, the default of R and numpy). +∞ (a missed structure's distance) is allowed: a quantile
 * that interpolates towards it is +∞.
 */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile probability ${p} is outside [0, 1]`);
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  // exact order statistics and equal neighbours need no interpolation (and stay right for +∞)
  if (h === lo || a === b) return a;
  return a + (h - lo) * (b - a);
}

/** The median of the values (type 7 quantile 0.5). */
export function median(values: readonly number[]): number {
  return quantileSorted(finiteSorted(values, 'median'), 0.5);
}

/** n, mean, SD (n - 1), median, quartiles (type 7), IQR, min and max. */
export function summarise(values: readonly number[]): Summary {
  const sorted = finiteSorted(values, 'summary');
  const n = sorted.length;
  if (n === 0)
    return { n, mean: null, sd: null, median: null, q1: null, q3: null, iqr: null, min: null, max: null };
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let squares = 0;
  for (const v of sorted) squares += (v - mean) ** 2;
  const q1 = quantileSorted(sorted, 0.25);
  const q3 = quantileSorted(sorted, 0.75);
  return {
    n,
    mean,
    sd: n > 1 ? Math.sqrt(squares / (n - 1)) : null,
    median: quantileSorted(sorted, 0.5),
    q1,
    q3,
    iqr: q3 - q1,
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}

export interface BootstrapOptions {
  /** everything random derives from it (mulberry32): the same inputs give the same interval */
  seed: number;
  /** resamples (default 2000) */
  resamples?: number;
  /** confidence level (default 0.95) */
  level?: number;
}

/**
 * Percentile bootstrap confidence interval of `statistic` (the median by default): `resamples` samples of
 * the same size drawn with replacement, the statistic of each, and the (1 - level) / 2 and (1 + level) / 2
 * type 7 quantiles of those. Null for fewer than 2 values. Infinite values reach the statistic, which
 * decides whether it accepts them (the default median refuses them).
 */
export function bootstrapCi(
  values: readonly number[],
  options: BootstrapOptions,
  statistic: (sample: number[]) => number = median,
): { estimate: number; lower: number; upper: number; level: number; resamples: number } | null {
  for (const v of values) if (Number.isNaN(v)) throw new RangeError('bootstrap: NaN is not a value');
  const n = values.length;
  if (n < 2) return null;
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level ${level} is outside (0, 1)`);
  const random = mulberry32(options.seed);
  const stats = new Float64Array(resamples);
  const sample = new Array<number>(n);
  for (let r = 0; r < resamples; r += 1) {
    for (let i = 0; i < n; i += 1) sample[i] = values[Math.floor(random() * n)]!;
    stats[r] = statistic(sample);
  }
  stats.sort();
  return {
    estimate: statistic([...values]),
    lower: quantileSorted(stats, (1 - level) / 2),
    upper: quantileSorted(stats, (1 + level) / 2),
    level,
    resamples,
  };
}
