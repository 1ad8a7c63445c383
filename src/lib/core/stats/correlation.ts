import { averageRanks } from './rank-tests';
import { studentTCdf, studentTQuantile } from './distributions';

function checkPairs(x: readonly number[], y: readonly number[], what: string): void {
  if (x.length !== y.length)
    throw new RangeError(`${what}: samples differ in length (${x.length} and ${y.length})`);
  for (const v of [...x, ...y])
    if (!Number.isFinite(v)) throw new RangeError(`${what}: ${v} is not a finite number`);
}

/**
 * Holm's step-down adjustment of p values (as R's p.adjust(method = "holm")): the i-th smallest p times
 * (m - i + 1), made non-decreasing, capped at 1; returned in the input order.
 */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = Array.from(pValues.keys()).sort((a, b) => pValues[a]! - pValues[b]!);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach((index, i) => {
    running = Math.max(running, Math.min(1, (m - i) * pValues[index]!));
    adjusted[index] = running;
  });
  return adjusted;
}

/**
 * Cliff's delta: P(X > Y) - P(X < Y) over all pairs, from -1 to 1, with the conventional magnitude
 * (Romano et al. 2006: |d| < 0.147 negligible, < 0.33 small, < 0.474 medium, else large).
 */
export function cliffsDelta(
  x: readonly number[],
  y: readonly number[],
): { delta: number; magnitude: 'negligible' | 'small' | 'medium' | 'large' } {
  if (x.length === 0 || y.length === 0) throw new RangeError("Cliff's delta needs values in both samples");
  // counted by binary search in sorted y: O((m + n) log n) instead of every pair
  const sorted = Float64Array.from(y).sort();
  const n = sorted.length;
  let balance = 0;
  for (const a of x) {
    // y values below a, and y values above a
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < a) lo = mid + 1;
      else hi = mid;
    }
    const below = lo;
    hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! <= a) lo = mid + 1;
      else hi = mid;
    }
    balance += below - (n - lo);
  }
  const delta = balance / (x.length * n);
  const size = Math.abs(delta);
  const magnitude = size < 0.147 ? 'negligible' : size < 0.33 ? 'small' : size < 0.474 ? 'medium' : 'large';
  return { delta, magnitude };
}

/** Means and centred sums of squares and products of paired values. */
function moments(x: ArrayLike<number>, y: ArrayLike<number>) {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i += 1) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i += 1) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return { n, mx, my, sxx, sxy, syy };
}

function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const { sxx, sxy, syy } = moments(x, y);
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

/**
 * Spearman's rank correlation (Pearson's r of average ranks, so ties are handled) with a two-sided p
 * from the t approximation t = rho sqrt((n - 2) / (1 - rho^2)), n - 2 degrees of freedom. Null rho when
 * a sample is constant; needs at least 3 pairs.
 */
export function spearman(
  x: readonly number[],
  y: readonly number[],
): { rho: number | null; p: number | null; n: number; method: string } {
  checkPairs(x, y, 'Spearman');
  const n = x.length;
  if (n < 3) throw new RangeError(`Spearman's rho needs at least 3 pairs, got ${n}`);
  const rho = pearson(averageRanks(x).ranks, averageRanks(y).ranks);
  if (Number.isNaN(rho)) return { rho: null, p: null, n, method: "Spearman's rho (a sample is constant)" };
  const df = n - 2;
  const p = Math.abs(rho) >= 1 ? 0 : 2 * studentTCdf(-Math.abs(rho * Math.sqrt(df / (1 - rho * rho))), df);
  return { rho, p, n, method: "Spearman's rho, t approximation" };
}

export interface LinearFit {
  n: number;
  intercept: number;
  slope: number;
  /** standard errors and two-sided confidence intervals at `level` (Student t, n - 2 df) */
  interceptSe: number;
  slopeSe: number;
  interceptCi: [number, number];
  slopeCi: [number, number];
  /** two-sided p of slope = 0 */
  slopeP: number;
  rSquared: number;
  /** residual standard error */
  sigma: number;
  level: number;
}

/** Ordinary least squares y = intercept + slope x with standard errors and t-based intervals. */
export function linearRegression(x: readonly number[], y: readonly number[], level = 0.95): LinearFit {
  checkPairs(x, y, 'linear regression');
  const n = x.length;
  if (n < 3) throw new RangeError(`a regression with intervals needs at least 3 points, got ${n}`);
  const { mx, my, sxx, sxy, syy } = moments(x, y);
  if (sxx === 0) throw new RangeError('linear regression: every x is the same');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let rss = 0;
  for (let i = 0; i < n; i += 1) rss += (y[i]! - intercept - slope * x[i]!) ** 2;
  const df = n - 2;
  const sigma = Math.sqrt(rss / df);
  const slopeSe = sigma / Math.sqrt(sxx);
  const interceptSe = sigma * Math.sqrt(1 / n + (mx * mx) / sxx);
  const t = studentTQuantile(1 - (1 - level) / 2, df);
  const slopeP = slopeSe > 0 ? 2 * studentTCdf(-Math.abs(slope / slopeSe), df) : 0;
  return {
    n,
    intercept,
    slope,
    interceptSe,
    slopeSe,
    interceptCi: [intercept - t * interceptSe, intercept + t * interceptSe],
    slopeCi: [slope - t * slopeSe, slope + t * slopeSe],
    slopeP,
    rSquared: syy > 0 ? 1 - rss / syy : 1,
    sigma,
    level,
  };
}
