import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import { cliffsDelta, holm, linearRegression, spearman } from './correlation';
import { bootstrapCi, median, quantileSorted, summarise } from './descriptive';
import { averageRanks, hodgesLehmann, kruskalWallis, mannWhitneyU, wilcoxonSignedRank } from './rank-tests';

// Reference values: R's own examples (?wilcox.test, ?kruskal.test, from Hollander and Wolfe), values
// derived by hand from the textbook formulas (normal approximations evaluated with Python's math.erf),
// and closed forms.

const depressionX = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
const depressionY = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];

describe('descriptive statistics', () => {
  it('summarises with type 7 quartiles and the n - 1 standard deviation', () => {
    expect(summarise([100, 1, 3, 2, 4])).toEqual({
      n: 5,
      mean: 22,
      sd: expect.closeTo(43.617656975128774, 12),
      median: 3,
      q1: 2,
      q3: 4,
      iqr: 2,
      min: 1,
      max: 100,
    });
    expect(quantileSorted([1, 2, 3, 4], 0.25)).toBe(1.75); // R: quantile(1:4, 0.25)
    expect(median([5, 1, 3, 2])).toBe(2.5);
    expect(summarise([]).median).toBeNull();
    expect(summarise([7]).sd).toBeNull();
    expect(() => summarise([1, Number.NaN])).toThrow('not a finite number');
  });

  it('gives a seeded percentile bootstrap interval near the normal-theory one', () => {
    const random = mulberry32(12);
    const values = Array.from({ length: 400 }, () => {
      const u = random();
      const v = random();
      return 10 + 2 * Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    });
    const mean = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;
    const ci = bootstrapCi(values, { seed: 3, resamples: 2000 }, mean)!;
    const s = summarise(values);
    const halfWidth = (1.959964 * s.sd!) / Math.sqrt(values.length);
    expect(ci.lower).toBeLessThan(s.mean!);
    expect(ci.upper).toBeGreaterThan(s.mean!);
    expect((ci.upper - ci.lower) / 2).toBeGreaterThan(0.85 * halfWidth);
    expect((ci.upper - ci.lower) / 2).toBeLessThan(1.15 * halfWidth);
    expect(bootstrapCi(values, { seed: 3, resamples: 2000 }, mean)).toEqual(ci);
    expect(bootstrapCi([1], { seed: 1 })).toBeNull();
  });
});

describe('rank tests', () => {
  it('ranks ties by their average', () => {
    expect(averageRanks([10, 20, 20, 5, 20])).toEqual({ ranks: Float64Array.of(2, 4, 4, 1, 4), ties: [3] });
  });

  it('Wilcoxon signed-rank, exact: R example V = 40, two-sided p = 2 x 0.01953', () => {
    const result = wilcoxonSignedRank(depressionX, depressionY);
    expect(result.method).toBe('Wilcoxon signed-rank, exact');
    expect(result.statistic).toBeCloseTo(40, 10);
    expect(result.p).toBeCloseTo(20 / 512, 12);
  });

  it('Wilcoxon signed-rank with ties and a zero: normal approximation, corrected variance', () => {
    const result = wilcoxonSignedRank([1, 1, 2, -3, 0]);
    expect(result.method).toContain('normal approximation');
    expect(result.method).toContain('tie-corrected');
    expect(result.method).toContain('1 zero difference(s) dropped');
    expect(result).toMatchObject({ statistic: 6, n: 4 });
    expect(result.z).toBeCloseTo(0.1841149235796647, 10);
    expect(result.p).toBeCloseTo(0.8539232992870668, 8);
    expect(() => wilcoxonSignedRank([0, 0])).toThrow('every difference is zero');
  });

  it('Mann-Whitney U, exact: R example W = 35, two-sided p = 2 x 0.1272', () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const result = mannWhitneyU(x, y);
    expect(result.method).toBe('Mann-Whitney U, exact');
    expect(result.statistic).toBe(35);
    expect(result.p).toBeCloseTo(0.2544, 4);
    // the distribution is symmetric: swapping the samples gives W' = 50 - 35 and the same p
    expect(mannWhitneyU(y, x)).toMatchObject({ statistic: 15, p: result.p });
  });

  it('Mann-Whitney U with ties: R gives W = 2.5, p = 0.1367', () => {
    const result = mannWhitneyU([1, 2, 2, 3], [2, 3, 4, 5]);
    expect(result.statistic).toBe(2.5);
    expect(result.z).toBeCloseTo(-1.4883513944689681, 10);
    expect(result.p).toBeCloseTo(0.1366582477381475, 8);
  });

  it('Kruskal-Wallis: R example chi-squared = 0.77143, df = 2, p = 0.68', () => {
    const result = kruskalWallis([
      [2.9, 3.0, 2.5, 2.6, 3.2],
      [3.8, 2.7, 4.0, 2.4],
      [2.8, 3.4, 3.7, 2.2, 2.0],
    ]);
    expect(result.statistic).toBeCloseTo(0.771428571, 6);
    expect(result.df).toBe(2);
    expect(result.p).toBeCloseTo(Math.exp(-0.771428571 / 2), 8); // chi-square 2 df: exp(-x/2)
    expect(result.p).toBeCloseTo(0.68, 2);
    // with ties the statistic is divided by 1 - sum(t^3 - t) / (n^3 - n)
    const tied = kruskalWallis([
      [1, 2, 2],
      [2, 3, 4],
    ]);
    // ranks 1, 3, 3 | 3, 5, 6: H = 12/42 (49/3 + 196/3) - 21 = 2.333..., correction 1 - 24/210
    expect(tied.statistic).toBeCloseTo(((12 / 42) * (49 / 3 + 196 / 3) - 21) / (1 - 24 / 210), 10);
  });

  it('Hodges-Lehmann paired: median of Walsh averages, exact interval from qsignrank', () => {
    const d = depressionX.map((v, i) => v - depressionY[i]!);
    const walsh: number[] = [];
    for (let i = 0; i < d.length; i += 1)
      for (let j = i; j < d.length; j += 1) walsh.push((d[i]! + d[j]!) / 2);
    walsh.sort((a, b) => a - b);
    // n = 9: P(V <= 5) = 10/512 < 0.025 <= P(V <= 6) = 14/512, so the 95 % interval is W(6) .. W(40)
    const result = hodgesLehmann(depressionX, depressionY, { paired: true });
    expect(result.estimate).toBeCloseTo(walsh[22]!, 12);
    expect(result.lower).toBeCloseTo(walsh[5]!, 12);
    expect(result.upper).toBeCloseTo(walsh[39]!, 12);
    expect(result.method).toContain('exact');
  });

  it('Hodges-Lehmann two samples: median of differences, exact interval from the rank-sum distribution', () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const differences = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
    const result = hodgesLehmann(x, y, { paired: false });
    expect(result.estimate).toBeCloseTo((differences[24]! + differences[25]!) / 2, 12);
    // m = 10, n = 5: W <= 9 in 83 of the C(15, 5) = 3003 arrangements (partitions of W into at most 5
    // parts of at most 10), the first count to reach 2.5 %, so qwilcox(0.025, 10, 5) = 9 and the
    // interval is D(9) .. D(42)
    expect(result.lower).toBeCloseTo(differences[8]!, 12);
    expect(result.upper).toBeCloseTo(differences[41]!, 12);
    // a shifted copy recovers the shift
    const shifted = hodgesLehmann(
      y.map((v) => v + 3),
      y,
      { paired: false },
    );
    expect(shifted.estimate).toBeCloseTo(3, 12);
  });
});

describe('multiplicity, effect sizes, correlation and regression', () => {
  it('Holm adjusts in step-down order and keeps the input order', () => {
    expect(holm([0.01, 0.04, 0.03, 0.005])).toEqual(
      [0.03, 0.06, 0.06, 0.02].map((v) => expect.closeTo(v, 12)),
    );
    expect(holm([0.5, 0.9])).toEqual([1, 1].map((v) => expect.closeTo(v, 12)));
    expect(holm([])).toEqual([]);
  });

  it("Cliff's delta counts dominance over all pairs", () => {
    expect(cliffsDelta([1, 2, 3], [2, 2, 4])).toEqual({ delta: -3 / 9, magnitude: 'medium' });
    expect(cliffsDelta([5, 6], [1, 2])).toEqual({ delta: 1, magnitude: 'large' });
    expect(cliffsDelta([1, 2], [1, 2]).magnitude).toBe('negligible');
    // against the definition over every pair, with many ties
    const random = mulberry32(9);
    const x = Array.from({ length: 61 }, () => Math.round(random() * 12));
    const y = Array.from({ length: 47 }, () => Math.round(random() * 12));
    let balance = 0;
    for (const a of x) for (const b of y) balance += Math.sign(a - b);
    expect(cliffsDelta(x, y).delta).toBeCloseTo(balance / (61 * 47), 14);
  });

  it("Spearman's rho on ranks, ties averaged, p from the t approximation", () => {
    const result = spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]);
    expect(result.rho).toBeCloseTo(0.8, 12);
    // t = 0.8 sqrt(3 / 0.36), 3 df (closed form of the t distribution with 3 df)
    expect(result.p).toBeCloseTo(0.10408803866182792, 8);
    expect(spearman([1, 1, 2, 3], [1, 2, 3, 3]).rho).toBeCloseTo(0.8888888888888888, 12);
    expect(spearman([1, 1, 1], [1, 2, 3])).toMatchObject({ rho: null, p: null });
  });

  it('ordinary least squares with t intervals', () => {
    const fit = linearRegression([1, 2, 3, 4, 5], [2.2, 2.8, 3.6, 4.5, 5.1]);
    expect(fit.slope).toBeCloseTo(0.75, 12);
    expect(fit.intercept).toBeCloseTo(1.39, 12);
    expect(fit.sigma).toBeCloseTo(Math.sqrt(0.009), 12);
    expect(fit.slopeSe).toBeCloseTo(0.03, 12);
    // t(0.975, 3) = 3.182446305
    expect(fit.slopeCi[0]).toBeCloseTo(0.75 - 3.182446305 * 0.03, 8);
    expect(fit.slopeCi[1]).toBeCloseTo(0.75 + 3.182446305 * 0.03, 8);
    expect(fit.interceptSe).toBeCloseTo(Math.sqrt(0.009 * (1 / 5 + 9 / 10)), 12);
    expect(fit.rSquared).toBeCloseTo(1 - 0.027 / 5.652, 12);
    expect(fit.slopeP).toBeLessThan(0.001);
    expect(() => linearRegression([1, 1, 1], [1, 2, 3])).toThrow('every x is the same');
  });
});
