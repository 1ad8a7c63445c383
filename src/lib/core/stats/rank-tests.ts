import {
  kthPairValue,
  pairQuantile,
  pairwiseDifferences,
  walshAverages,
  type PairwiseValues,
} from './pairwise-order';
import { quantileSorted } from './descriptive';
import { chiSquareUpperTail, standardNormalCdf, standardNormalQuantile } from './distributions';

/**
 * Rank tests as R's wilcox.test and kruskal.test compute them (two-sided): exact distributions for small
 * samples without ties (and, for the signed-rank test, without zero differences), otherwise the normal
 * approximation with the tie-corrected variance and a continuity correction of 0.5. Every result names
 * the method used, so a report can say which test produced its p value.
 */

/** Average ranks (1-based) of the values, and the sizes of the groups of tied values. */
export function averageRanks(values: readonly number[]): { ranks: Float64Array; ties: number[] } {
  const order = Array.from(values.keys()).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]!] === values[order[i]!]) j += 1;
    const rank = (i + j + 2) / 2;
    for (let t = i; t <= j; t += 1) ranks[order[t]!] = rank;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

function checkFinite(values: readonly number[], what: string): void {
  for (const v of values)
    if (!Number.isFinite(v)) throw new RangeError(`${what}: ${v} is not a finite number`);
}

/** Counts of subsets of {1..n} by their sum (the null distribution of V, times 2^n). */
function signedRankCounts(n: number): Float64Array {
  const max = (n * (n + 1)) / 2;
  const counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let r = 1; r <= n; r += 1) for (let s = max; s >= r; s -= 1) counts[s] = counts[s]! + counts[s - r]!;
  return counts;
}

/** Counts of the Mann-Whitney U = W statistic for sample sizes m and n by value (times C(m+n, m)). */
function rankSumCounts(m: number, n: number): Float64Array {
  // f[i][j][u]: arrangements of i x's and j y's with u (x, y) pairs where x > y
  let previous: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1));
  for (let i = 1; i <= m; i += 1) {
    const current: Float64Array[] = [];
    for (let j = 0; j <= n; j += 1) {
      const counts = new Float64Array(i * j + 1);
      // the largest value is an x (it beats all j y's) or a y
      const withX = previous[j]!;
      for (let u = 0; u < withX.length; u += 1) counts[u + j] = counts[u + j]! + withX[u]!;
      if (j > 0) {
        const withY = current[j - 1]!;
        for (let u = 0; u < withY.length; u += 1) counts[u] = counts[u]! + withY[u]!;
      }
      current.push(counts);
    }
    previous = current;
  }
  return previous[n]!;
}

function exactTwoSided(counts: Float64Array, statistic: number): number {
  let total = 0;
  let below = 0;
  let above = 0;
  for (let s = 0; s < counts.length; s += 1) {
    total += counts[s]!;
    if (s <= statistic) below += counts[s]!;
    if (s >= statistic) above += counts[s]!;
  }
  return Math.min(1, (2 * Math.min(below, above)) / total);
}

/** Two-sided p of a normal approximation with continuity correction (R: correct = TRUE). */
function normalTwoSided(statistic: number, mean: number, variance: number): { z: number; p: number } {
  const difference = statistic - mean;
  const z = variance > 0 ? (difference - Math.sign(difference) * 0.5) / Math.sqrt(variance) : 0;
  return { z, p: Math.min(1, 2 * standardNormalCdf(-Math.abs(z))) };
}

export interface TestResult {
  /** the test and how its p value was obtained */
  method: string;
  statistic: number;
  p: number;
  /** pairs or observations used (zero differences of a signed-rank test are dropped) */
  n: number;
  z?: number;
}

/**
 * Wilcoxon signed-rank test of paired differences (x - y, or x alone as differences) against 0,
 * two-sided. Zero differences are dropped (R's default); exact when fewer than 50 pairs remain and
 * neither ties nor zeros occurred, otherwise the normal approximation with tie-corrected variance and
 * continuity correction. V is the sum of the ranks of the positive differences.
 */
export function wilcoxonSignedRank(x: readonly number[], y?: readonly number[]): TestResult {
  checkFinite(x, 'signed-rank x');
  if (y !== undefined) {
    checkFinite(y, 'signed-rank y');
    if (y.length !== x.length)
      throw new RangeError(`paired samples differ in length: ${x.length} and ${y.length}`);
  }
  const differences = x.map((v, i) => v - (y?.[i] ?? 0));
  const nonZero = differences.filter((d) => d !== 0);
  const zeros = differences.length - nonZero.length;
  const n = nonZero.length;
  if (n === 0) throw new RangeError('every difference is zero: the signed-rank test is undefined');
  const { ranks, ties } = averageRanks(nonZero.map(Math.abs));
  let v = 0;
  nonZero.forEach((d, i) => {
    if (d > 0) v += ranks[i]!;
  });
  if (n < 50 && ties.length === 0 && zeros === 0)
    return {
      method: 'Wilcoxon signed-rank, exact',
      statistic: v,
      p: exactTwoSided(signedRankCounts(n), v),
      n,
    };
  const tieTerm = ties.reduce((a, t) => a + t * t * t - t, 0);
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
  const { z, p } = normalTwoSided(v, (n * (n + 1)) / 4, variance);
  return {
    method: `Wilcoxon signed-rank, normal approximation with continuity correction${ties.length > 0 ? ', tie-corrected' : ''}${zeros > 0 ? `, ${zeros} zero difference(s) dropped` : ''}`,
    statistic: v,
    p,
    n,
    z,
  };
}

/**
 * Mann-Whitney U (Wilcoxon rank-sum) test, two-sided. W is the number of (x, y) pairs with x > y plus
 * half the ties (R's W). Exact when both samples have fewer than 50 values and there are no ties,
 * otherwise the normal approximation with tie-corrected variance and continuity correction.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): TestResult {
  checkFinite(x, 'rank-sum x');
  checkFinite(y, 'rank-sum y');
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) throw new RangeError('the rank-sum test needs values in both samples');
  const { ranks, ties } = averageRanks([...x, ...y]);
  let rankSum = 0;
  for (let i = 0; i < m; i += 1) rankSum += ranks[i]!;
  const w = rankSum - (m * (m + 1)) / 2;
  if (m < 50 && n < 50 && ties.length === 0)
    return {
      method: 'Mann-Whitney U, exact',
      statistic: w,
      p: exactTwoSided(rankSumCounts(m, n), w),
      n: m + n,
    };
  const total = m + n;
  const tieTerm = ties.reduce((a, t) => a + t * t * t - t, 0);
  const variance = ((m * n) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  const { z, p } = normalTwoSided(w, (m * n) / 2, variance);
  return {
    method: `Mann-Whitney U, normal approximation with continuity correction${ties.length > 0 ? ', tie-corrected' : ''}`,
    statistic: w,
    p,
    n: total,
    z,
  };
}

/**
 * Kruskal-Wallis rank-sum test across groups: H with the tie correction, p from the chi-square
 * distribution with groups - 1 degrees of freedom (as R's kruskal.test). Empty groups are ignored.
 */
export function kruskalWallis(groups: ReadonlyArray<readonly number[]>): TestResult & { df: number } {
  const used = groups.filter((g) => g.length > 0);
  for (const g of used) checkFinite(g, 'Kruskal-Wallis');
  if (used.length < 2) throw new RangeError('the Kruskal-Wallis test needs at least two non-empty groups');
  const all = used.flat();
  const n = all.length;
  const { ranks, ties } = averageRanks(all);
  let h = 0;
  let offset = 0;
  for (const g of used) {
    let sum = 0;
    for (let i = 0; i < g.length; i += 1) sum += ranks[offset + i]!;
    h += (sum * sum) / g.length;
    offset += g.length;
  }
  h = (12 / (n * (n + 1))) * h - 3 * (n + 1);
  const correction = 1 - ties.reduce((a, t) => a + t * t * t - t, 0) / (n * n * n - n);
  const statistic = correction > 0 ? h / correction : 0;
  const df = used.length - 1;
  return {
    method: `Kruskal-Wallis rank sum, chi-square approximation${ties.length > 0 ? ', tie-corrected' : ''}`,
    statistic,
    df,
    p: chiSquareUpperTail(statistic, df),
    n,
  };
}

export interface ShiftEstimate {
  /** Hodges-Lehmann estimate: median of Walsh averages (paired) or of all pairwise differences x - y */
  estimate: number;
  lower: number;
  upper: number;
  level: number;
  method: string;
}

/** The order statistics [k, N + 1 - k] (1-based) of sorted values as an interval. */
function orderInterval(sorted: Float64Array, k: number): [number, number] {
  const i = Math.max(1, Math.min(sorted.length, k));
  return [sorted[i - 1]!, sorted[sorted.length - i]!];
}

/**
 * Hodges-Lehmann location shift with its confidence interval. Paired (y given as the same length, or
 * x alone as differences): the median of the Walsh averages (d_i + d_j) / 2, i <= j, and the interval of
 * order statistics from the signed-rank distribution (exact quantile for fewer than 50 pairs, else the
 * normal approximation). Two samples (`paired: false`): the median of all differences x_i - y_j and the
 * interval from the rank-sum distribution. Zero differences are kept (the estimate is of the shift).
 */
export function hodgesLehmann(
  x: readonly number[],
  y: readonly number[] | undefined,
  options: { paired: boolean; level?: number },
): ShiftEstimate {
  const level = options.level ?? 0.95;
  const alpha = 1 - level;
  checkFinite(x, 'Hodges-Lehmann x');
  if (y !== undefined) checkFinite(y, 'Hodges-Lehmann y');
  if (options.paired) {
    const d = x.map((v, i) => v - (y?.[i] ?? 0));
    if (y !== undefined && y.length !== x.length) throw new RangeError('paired samples differ in length');
    const n = d.length;
    if (n === 0) throw new RangeError('Hodges-Lehmann of no pairs');
    let k: number;
    let method: string;
    if (n < 50) {
      const counts = signedRankCounts(n);
      // the smallest q with P(V <= q) >= alpha / 2 (R's qsignrank), at least 1
      let q = 0;
      let cumulative = 0;
      while (q < counts.length && (cumulative += counts[q]! / 2 ** n) < alpha / 2) q += 1;
      k = Math.max(1, q);
      method = 'Hodges-Lehmann (Walsh averages), exact signed-rank interval';
    } else {
      const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
      k = Math.max(1, Math.round((n * (n + 1)) / 4 - standardNormalQuantile(1 - alpha / 2) * sd));
      method = 'Hodges-Lehmann (Walsh averages), normal-approximation signed-rank interval';
    }
    return { ...pairEstimate(walshValues(d), k), level, method };
  }
  if (y === undefined || x.length === 0 || y.length === 0)
    throw new RangeError('the two-sample Hodges-Lehmann shift needs values in both samples');
  const m = x.length;
  const n = y.length;
  let k: number;
  let method: string;
  if (m < 50 && n < 50) {
    const counts = rankSumCounts(m, n);
    let total = 0;
    for (const c of counts) total += c;
    let q = 0;
    let cumulative = 0;
    while (q < counts.length && (cumulative += counts[q]! / total) < alpha / 2) q += 1;
    k = Math.max(1, q);
    method = 'Hodges-Lehmann (pairwise differences), exact rank-sum interval';
  } else {
    const sd = Math.sqrt((m * n * (m + n + 1)) / 12);
    k = Math.max(1, Math.round((m * n) / 2 - standardNormalQuantile(1 - alpha / 2) * sd));
    method = 'Hodges-Lehmann (pairwise differences), normal-approximation rank-sum interval';
  }
  return { ...pairEstimate(differenceValues(x, y), k), level, method };
}

/** Pair counts up to which the pair values are sorted outright; beyond, order statistics are searched. */
const SORT_PAIRS_UP_TO = 50_000;

function walshValues(d: readonly number[]): Float64Array | PairwiseValues {
  const n = d.length;
  const sorted = Float64Array.from(d).sort();
  if ((n * (n + 1)) / 2 > SORT_PAIRS_UP_TO) return walshAverages(sorted);
  const walsh = new Float64Array((n * (n + 1)) / 2);
  let w = 0;
  for (let i = 0; i < n; i += 1) for (let j = i; j < n; j += 1) walsh[w++] = (sorted[i]! + sorted[j]!) / 2;
  return walsh.sort();
}

function differenceValues(x: readonly number[], y: readonly number[]): Float64Array | PairwiseValues {
  if (x.length * y.length > SORT_PAIRS_UP_TO)
    return pairwiseDifferences(Float64Array.from(x).sort(), Float64Array.from(y).sort());
  const differences = new Float64Array(x.length * y.length);
  let w = 0;
  for (const a of x) for (const b of y) differences[w++] = a - b;
  return differences.sort();
}

/** The median of the pair values and the interval of order statistics [k, N + 1 - k]. */
function pairEstimate(values: Float64Array | PairwiseValues, k: number) {
  if (values instanceof Float64Array) {
    const [lower, upper] = orderInterval(values, k);
    return { estimate: quantileSorted(values, 0.5), lower, upper };
  }
  const i = Math.max(1, Math.min(values.size, k));
  return {
    estimate: pairQuantile(values, 0.5),
    lower: kthPairValue(values, i),
    upper: kthPairValue(values, values.size + 1 - i),
  };
}
