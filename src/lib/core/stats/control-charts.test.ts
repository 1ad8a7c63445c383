import { describe, expect, it } from 'vitest';
import {
  RULE_DESCRIPTIONS,
  cusumChart,
  ewmaChart,
  individualsChart,
  westernElectricRules,
} from './control-charts';

// Reference values: Montgomery, Introduction to Statistical Quality Control (the individuals chart of
// weekly mortgage-loan processing costs, and the 30 observations with mu0 = 10, sigma = 1 used for both the
// tabular CUSUM and the EWMA examples), every value recomputed by hand from the textbook formulas with
// python3; constructed series for the Western Electric rules, judged by hand against the rule definitions.

// Montgomery's CUSUM / EWMA data: the first 20 drawn from N(10, 1), the last 10 from N(11, 1)
const montgomery = [
  9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.2, 10.34, 9.03, 11.47, 10.51, 9.4, 10.08, 9.37, 10.62,
  10.31, 8.52, 10.84, 10.9, 9.33, 12.29, 11.5, 10.6, 11.08, 10.38, 11.62, 11.31, 10.52,
];

describe('individuals and moving-range chart', () => {
  it("reproduces Montgomery's mortgage-loan cost example: x-bar 300.5, MR-bar 7.79, limits 279.78 and 321.22", () => {
    const costs = [
      310, 288, 297, 298, 307, 303, 294, 297, 308, 306, 294, 299, 297, 299, 314, 295, 293, 306, 301, 304,
    ];
    const chart = individualsChart(costs, { start: 0, end: costs.length });
    // by hand: sum 6010 / 20; moving ranges sum to 148 over 19 pairs
    expect(chart.centre).toBeCloseTo(300.5, 12);
    expect(chart.mrBar).toBeCloseTo(148 / 19, 12);
    expect(chart.sigma).toBeCloseTo(148 / 19 / 1.128, 12);
    // published to two decimals
    expect(chart.upper).toBeCloseTo(321.22, 2);
    expect(chart.lower).toBeCloseTo(279.78, 2);
    expect(chart.mrUpper).toBeCloseTo(25.45, 2);
    expect(chart.mrLower).toBe(0);
    expect(chart.movingRanges.slice(0, 4)).toEqual([null, 22, 9, 1]);
  });

  it('estimates the limits from the baseline window only and gives moving ranges for every point', () => {
    const values = [10, 12, 11, 14, 13, 20, 19];
    const chart = individualsChart(values, { start: 0, end: 5 });
    // by hand: mean of 10, 12, 11, 14, 13 = 12; moving ranges 2, 1, 3, 1 -> MR-bar 1.75
    expect(chart.baseline).toEqual({ start: 0, end: 5 });
    expect(chart.centre).toBe(12);
    expect(chart.mrBar).toBe(1.75);
    expect(chart.sigma).toBeCloseTo(1.5514184397163122, 12); // 1.75 / 1.128
    expect(chart.upper).toBeCloseTo(16.654255319148938, 12);
    expect(chart.lower).toBeCloseTo(7.345744680851063, 12);
    expect(chart.mrUpper).toBeCloseTo(5.71725, 12); // 3.267 x 1.75
    expect(chart.movingRanges).toEqual([null, 2, 1, 3, 1, 7, 1]);
    // the point after the baseline lies beyond the upper limit, and so does its moving range
    expect(values[5]).toBeGreaterThan(chart.upper);
    expect(chart.movingRanges[5]).toBeGreaterThan(chart.mrUpper);
    // a later window uses its own pairs only: 13, 20, 19 -> mean 52 / 3, ranges 7, 1 -> MR-bar 4
    const later = individualsChart(values, { start: 4, end: 7 });
    expect(later.centre).toBeCloseTo(52 / 3, 12);
    expect(later.mrBar).toBe(4);
  });

  it('returns sigma 0 for a constant baseline, and the rules then flag any departure', () => {
    const values = [5, 5, 5, 5, 5.1, 5];
    const chart = individualsChart(values, { start: 0, end: 4 });
    expect(chart.sigma).toBe(0);
    expect(chart.lower).toBe(5);
    expect(chart.upper).toBe(5);
    expect(chart.mrUpper).toBe(0);
    const violations = westernElectricRules(values, { centre: chart.centre, sigma: chart.sigma });
    expect(violations).toEqual([{ rule: 1, index: 4, side: 'above', points: [4] }]);
  });

  it('refuses a baseline outside the series, of fewer than 2 points, and non-finite values', () => {
    const values = [1, 2, 3];
    expect(() => individualsChart(values, { start: 1, end: 2 })).toThrow(RangeError);
    expect(() => individualsChart(values, { start: 1, end: 2 })).toThrow('at least 2 points');
    expect(() => individualsChart(values, { start: 2, end: 1 })).toThrow(RangeError);
    expect(() => individualsChart(values, { start: -1, end: 2 })).toThrow('within [0, 3]');
    expect(() => individualsChart(values, { start: 0, end: 4 })).toThrow('within [0, 3]');
    expect(() => individualsChart(values, { start: 0.5, end: 3 })).toThrow('integer indices');
    expect(() => individualsChart([1, 2, Number.NaN], { start: 0, end: 2 })).toThrow('index 2');
  });
});

describe('EWMA chart', () => {
  it("reproduces Montgomery's EWMA example (lambda 0.1, L 2.7): first signal at observation 29", () => {
    const points = ewmaChart(montgomery, { centre: 10, sigma: 1, lambda: 0.1, L: 2.7 });
    expect(points).toHaveLength(30);
    // z_1 = 0.1 x 9.45 + 0.9 x 10; half-width 2.7 sqrt(0.1 / 1.9 x (1 - 0.81)) = 2.7 x 0.1
    expect(points[0]!.z).toBeCloseTo(9.945, 12);
    expect(points[0]!.lower).toBeCloseTo(9.73, 12);
    expect(points[0]!.upper).toBeCloseTo(10.27, 12);
    // z_2 = 0.1 x 7.99 + 0.9 x 9.945
    expect(points[1]!.z).toBeCloseTo(9.7495, 12);
    // python3 with the same recursion and limits
    expect(points[1]!.upper).toBeCloseTo(10.363248, 6);
    expect(points[27]!.z).toBeCloseTo(10.573137, 6);
    expect(points[27]!.upper).toBeCloseTo(10.618574, 6);
    expect(points[28]!.z).toBeCloseTo(10.646823, 6);
    expect(points[28]!.upper).toBeCloseTo(10.618735, 6);
    expect(points[28]!.lower).toBeCloseTo(9.381265, 6);
    expect(points[29]!.z).toBeCloseTo(10.634141, 6);
    // observations 29 and 30 (indices 28 and 29) are the only ones beyond the limits
    expect(points.flatMap((p, i) => (p.signal ? [i] : []))).toEqual([28, 29]);
  });

  it('uses lambda 0.2 and L 3 by default, and lambda 1 gives the Shewhart limits', () => {
    const [first] = ewmaChart([12.9], { centre: 10, sigma: 1 });
    // z_1 = 0.2 x 12.9 + 0.8 x 10 = 10.58; half-width 3 sqrt(0.2 / 1.8 x (1 - 0.64)) = 3 x 0.2
    expect(first!.z).toBeCloseTo(10.58, 12);
    expect(first!.upper).toBeCloseTo(10.6, 12);
    expect(first!.signal).toBe(false);
    const shewhart = ewmaChart([12, 13.5, 6], { centre: 10, sigma: 1, lambda: 1 });
    expect(shewhart.map((p) => p.z)).toEqual([12, 13.5, 6]);
    expect(shewhart.map((p) => p.upper)).toEqual([13, 13, 13]);
    expect(shewhart.map((p) => p.signal)).toEqual([false, true, true]);
    expect(ewmaChart([], { centre: 0, sigma: 1 })).toEqual([]);
  });

  it('refuses lambda outside (0, 1], L <= 0, sigma < 0 and non-finite values', () => {
    expect(() => ewmaChart([1], { centre: 0, sigma: 1, lambda: 0 })).toThrow('lambda 0 should be in (0, 1]');
    expect(() => ewmaChart([1], { centre: 0, sigma: 1, lambda: 1.5 })).toThrow(RangeError);
    expect(() => ewmaChart([1], { centre: 0, sigma: 1, L: 0 })).toThrow('L 0');
    expect(() => ewmaChart([1], { centre: 0, sigma: -1 })).toThrow('sigma -1');
    expect(() => ewmaChart([1], { centre: Number.NaN, sigma: 1 })).toThrow('centre NaN');
    expect(() => ewmaChart([1, Number.POSITIVE_INFINITY], { centre: 0, sigma: 1 })).toThrow('index 1');
  });
});

describe('tabular CUSUM', () => {
  it("reproduces Montgomery's tabular CUSUM example: C+ first exceeds H = 5 at observation 29, C+_29 = 5.28", () => {
    const { K, H, points } = cusumChart(montgomery, { centre: 10, sigma: 1 });
    expect(K).toBe(0.5);
    expect(H).toBe(5);
    // by hand: C+_i = max(0, x_i - 10.5 + C+_(i-1)), C-_i = max(0, 9.5 - x_i + C-_(i-1))
    expect(points[0]).toEqual({ upper: 0, lower: expect.closeTo(0.05, 10), signal: null });
    expect(points[1]!.lower).toBeCloseTo(1.56, 10); // 0.05 + 9.5 - 7.99
    expect(points[2]!.lower).toBeCloseTo(1.77, 10); // 1.56 + 9.5 - 9.29
    expect(points[3]!.upper).toBeCloseTo(1.16, 10); // 11.66 - 10.5
    expect(points[3]!.lower).toBe(0);
    expect(points[4]!.upper).toBeCloseTo(2.82, 10); // 1.16 + 12.16 - 10.5
    expect(points[6]!.upper).toBeCloseTo(0.04, 10); // 2.50 + 8.04 - 10.5
    expect(points[22]!.upper).toBeCloseTo(1.79, 10); // 12.29 - 10.5
    expect(points[27]!.upper).toBeCloseTo(4.47, 10); // 3.35 + 11.62 - 10.5
    expect(points[28]!.upper).toBeCloseTo(5.28, 10); // 4.47 + 11.31 - 10.5, the published value
    expect(points[29]!.upper).toBeCloseTo(5.3, 10); // not reset after the signal
    expect(points.flatMap((p, i) => (p.signal ? [[i, p.signal]] : []))).toEqual([
      [28, 'up'],
      [29, 'up'],
    ]);
    for (const p of points) {
      expect(p.upper).toBeGreaterThanOrEqual(0);
      expect(p.lower).toBeGreaterThanOrEqual(0);
    }
  });

  it('expresses K and H in data units, signals downward shifts, and reports both sides after a swing', () => {
    const { K, H, points } = cusumChart([8, 8, 8], { centre: 10, sigma: 2, k: 0.25, h: 1 });
    expect(K).toBe(0.5);
    expect(H).toBe(2);
    // by hand: C-_i = C-_(i-1) + 10 - 0.5 - 8 = 1.5, 3, 4.5
    expect(points.map((p) => p.lower)).toEqual([1.5, 3, 4.5]);
    expect(points.map((p) => p.signal)).toEqual([null, 'down', 'down']);
    // C+ = 100 - 0.5 = 99.5, then 99.5 - 50.5 = 49 while C- = 49.5: both beyond H = 5
    const swing = cusumChart([110, -40], { centre: 10, sigma: 1 });
    expect(swing.points[1]).toEqual({ upper: 49, lower: 49.5, signal: 'both' });
    expect(cusumChart([], { centre: 0, sigma: 1 }).points).toEqual([]);
  });

  it('refuses k < 0, h <= 0, sigma < 0 and non-finite values', () => {
    expect(() => cusumChart([1], { centre: 0, sigma: 1, k: -0.5 })).toThrow('k -0.5');
    expect(() => cusumChart([1], { centre: 0, sigma: 1, h: 0 })).toThrow('h 0');
    expect(() => cusumChart([1], { centre: 0, sigma: -2 })).toThrow(RangeError);
    expect(() => cusumChart([0, Number.NEGATIVE_INFINITY], { centre: 0, sigma: 1 })).toThrow('index 1');
  });
});

describe('Western Electric rules', () => {
  const options = { centre: 0, sigma: 1 };

  it('rule 1: a point beyond 3 sigma, but not one exactly on the limit', () => {
    expect(westernElectricRules([0.5, 3.2, -0.1, -3.5], options)).toEqual([
      { rule: 1, index: 1, side: 'above', points: [1] },
      { rule: 1, index: 3, side: 'below', points: [3] },
    ]);
    expect(westernElectricRules([3, 0.5, -3], options)).toEqual([]);
  });

  it('rule 2: 2 of 3 consecutive points beyond 2 sigma on the same side', () => {
    expect(westernElectricRules([0.5, 2.5, 1.0, 2.2, -0.3], options)).toEqual([
      { rule: 2, index: 3, side: 'above', points: [1, 3] },
    ]);
    expect(westernElectricRules([0.5, -2.5, -1.0, -2.2, 0.3], options)).toEqual([
      { rule: 2, index: 3, side: 'below', points: [1, 3] },
    ]);
    // 1 of 3 beyond 2 sigma (indices 0 and 3 are 3 apart), and 2 beyond but on opposite sides
    expect(westernElectricRules([2.5, 0.9, 0.5, 2.4, 0.5, -2.5], options)).toEqual([]);
    expect(westernElectricRules([2.5, -2.5, 0.1], options)).toEqual([]);
    // the completing point is itself beyond 2 sigma: index 2 adds nothing to the pattern found at index 1
    expect(westernElectricRules([2.5, 2.5, 0.1], options)).toEqual([
      { rule: 2, index: 1, side: 'above', points: [0, 1] },
    ]);
  });

  it('rule 3: 4 of 5 consecutive points beyond 1 sigma on the same side', () => {
    expect(westernElectricRules([1.5, 1.2, 0.4, 1.8, 1.1, -0.2], options)).toEqual([
      { rule: 3, index: 4, side: 'above', points: [0, 1, 3, 4] },
    ]);
    expect(westernElectricRules([-1.5, -1.2, -0.4, -1.8, -1.1, 0.2], options)).toEqual([
      { rule: 3, index: 4, side: 'below', points: [0, 1, 3, 4] },
    ]);
    // 3 of 5 only
    expect(westernElectricRules([1.5, 1.2, 0.4, 0.8, 1.1, -0.2], options)).toEqual([]);
    // the first 4 points already make 4 of the first 5, whatever the fifth is
    expect(westernElectricRules([1.5, 1.5, 1.5, 1.5], options)).toEqual([
      { rule: 3, index: 3, side: 'above', points: [0, 1, 2, 3] },
    ]);
    // a fifth point within 1 sigma does not report the same pattern again
    expect(westernElectricRules([1.5, 1.5, 1.5, 1.5, 0.2], options).map((v) => v.index)).toEqual([3]);
  });

  it('rule 4: runLength points on one side, reported at every index of an ongoing run', () => {
    const eight = [0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2];
    expect(westernElectricRules(eight, options)).toEqual([
      { rule: 4, index: 7, side: 'above', points: [0, 1, 2, 3, 4, 5, 6, 7] },
    ]);
    // 7 on one side; a point exactly on the centre breaks the run
    expect(westernElectricRules(eight.slice(0, 7), options)).toEqual([]);
    expect(westernElectricRules([...eight.slice(0, 7), 0, 0.1], options)).toEqual([]);
    // points on the centre are on neither side, even many of them and with sigma 0
    expect(
      westernElectricRules(
        Array.from({ length: 12 }, () => 0),
        { centre: 0, sigma: 0 },
      ),
    ).toEqual([]);
    const ten = Array.from({ length: 10 }, () => -0.4);
    expect(westernElectricRules(ten, options).map((v) => [v.rule, v.index, v.side])).toEqual([
      [4, 7, 'below'],
      [4, 8, 'below'],
      [4, 9, 'below'],
    ]);
    // Nelson's run of 9
    const nine = westernElectricRules(ten, { ...options, runLength: 9 });
    expect(nine.map((v) => v.index)).toEqual([8, 9]);
    expect(nine[1]!.points).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('orders violations by index then rule, with scaled sigma and an offset centre', () => {
    // centre 100, sigma 2: 105 is beyond 2 sigma (104), 107.5 beyond 3 sigma (106)
    expect(westernElectricRules([105, 107.5], { centre: 100, sigma: 2 })).toEqual([
      { rule: 1, index: 1, side: 'above', points: [1] },
      { rule: 2, index: 1, side: 'above', points: [0, 1] },
    ]);
    expect(westernElectricRules([], options)).toEqual([]);
  });

  it('describes every rule and refuses invalid options', () => {
    expect(Object.keys(RULE_DESCRIPTIONS)).toEqual(['1', '2', '3', '4']);
    expect(RULE_DESCRIPTIONS[1]).toBe('WE1: one point beyond 3σ');
    expect(() => westernElectricRules([1], { ...options, runLength: 1 })).toThrow('runLength 1');
    expect(() => westernElectricRules([1], { ...options, runLength: 8.5 })).toThrow(RangeError);
    expect(() => westernElectricRules([1], { centre: 0, sigma: Number.NaN })).toThrow('sigma NaN');
    expect(() => westernElectricRules([0, 1, Number.NaN], options)).toThrow('index 2');
  });
});
