/**
 * The distribution functions the tests need, from the maintained stdlib packages (not hand-written):
 * standard normal, chi-square and Student t.
 */
import chisquareCdf from '@stdlib/stats-base-dists-chisquare-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** P(Z <= z) for a standard normal Z. */
export const standardNormalCdf = (z: number): number => normalCdf(z, 0, 1);
/** The p-quantile of the standard normal. */
export const standardNormalQuantile = (p: number): number => normalQuantile(p, 0, 1);
/** P(X >= x) for a chi-square X with `df` degrees of freedom. */
export const chiSquareUpperTail = (x: number, df: number): number => 1 - chisquareCdf(x, df);
/** P(T <= t) for Student's t with `df` degrees of freedom. */
export const studentTCdf = (t: number, df: number): number => tCdf(t, df);
/** The p-quantile of Student's t with `df` degrees of freedom. */
export const studentTQuantile = (p: number, df: number): number => tQuantile(p, df);
