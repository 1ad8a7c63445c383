/**
 * Statistical process control of a metric series in time order (for instance the Dice of one model per
 * case, ordered by acquisition date): the individuals and moving-range chart, the EWMA and tabular CUSUM
 * charts, and the Western Electric run rules, as defined in Montgomery, Introduction to Statistical
 * Quality Control. Indices are 0-based positions in the series. "Beyond" a limit is strict: a point
 * exactly on a limit is within it.
 */

// Control chart factors for subgroups of two, as moving ranges of span 2 are (Montgomery, appendix table
// of factors): d2 is E(R) / sigma, D4 the upper range limit factor, and D3 = 0.
const D2 = 1.128;
const D4 = 3.267;

function checkValues(values: readonly number[], what: string): void {
  values.forEach((v, i) => {
    if (!Number.isFinite(v))
      throw new RangeError(`${what}: the value at index ${i} (${v}) is not a finite number`);
  });
}

function checkCentreSigma(centre: number, sigma: number, what: string): void {
  if (!Number.isFinite(centre)) throw new RangeError(`${what}: centre ${centre} is not a finite number`);
  if (!(Number.isFinite(sigma) && sigma >= 0))
    throw new RangeError(`${what}: sigma ${sigma} should be a finite number >= 0`);
}

export interface IndividualsChart {
  /** the baseline window the limits were estimated from, values[start..end) */
  baseline: { start: number; end: number };
  /** mean of the baseline values: the centre line of the X chart */
  centre: number;
  /** mean of the baseline's moving ranges: the centre line of the MR chart */
  mrBar: number;
  /** MR-bar / d2, in data units; 0 when the baseline is constant */
  sigma: number;
  /** X chart limits, centre -/+ 3 sigma */
  lower: number;
  upper: number;
  /** MR chart limits, 0 and D4 MR-bar */
  mrLower: number;
  mrUpper: number;
  /** |x_i - x_(i-1)| for every point of the series; null for the first, which has no predecessor */
  movingRanges: (number | null)[];
}

/**
 * Individuals (X) and moving-range chart: centre = mean of the baseline values[start..end) (end
 * exclusive, at least 2 points), MR-bar = mean of the baseline's moving ranges |x_i - x_(i-1)| (pairs
 * within the window only), sigma = MR-bar / d2 (d2 = 1.128), X limits centre -/+ 3 sigma, MR limits 0 and
 * D4 MR-bar (D4 = 3.267), all in data units. The moving ranges are returned for the whole series so
 * points after the baseline can be judged against limits they did not influence. A constant baseline
 * gives sigma = 0 and limits equal to the centre: that is returned as is, so that any later departure
 * from the baseline value lies beyond the limits rather than the chart being refused. RangeError for a
 * window that is not inside the series or holds fewer than 2 points. Reference: Montgomery, the control
 * chart for individual measurements.
 */
export function individualsChart(
  values: readonly number[],
  baseline: { start: number; end: number },
): IndividualsChart {
  checkValues(values, 'individuals chart');
  const { start, end } = baseline;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= values.length))
    throw new RangeError(
      `individuals chart: baseline [${start}, ${end}) should be integer indices within [0, ${values.length}]`,
    );
  if (end - start < 2)
    throw new RangeError(`individuals chart: baseline [${start}, ${end}) should hold at least 2 points`);
  let sum = 0;
  for (let i = start; i < end; i += 1) sum += values[i]!;
  const centre = sum / (end - start);
  let rangeSum = 0;
  for (let i = start + 1; i < end; i += 1) rangeSum += Math.abs(values[i]! - values[i - 1]!);
  const mrBar = rangeSum / (end - start - 1);
  const sigma = mrBar / D2;
  return {
    baseline: { start, end },
    centre,
    mrBar,
    sigma,
    lower: centre - 3 * sigma,
    upper: centre + 3 * sigma,
    mrLower: 0,
    mrUpper: D4 * mrBar,
    movingRanges: values.map((v, i) => (i === 0 ? null : Math.abs(v - values[i - 1]!))),
  };
}

export interface EwmaOptions {
  /** target or in-control mean mu0, the starting value z_0 */
  centre: number;
  /** in-control standard deviation of one observation, in data units (>= 0) */
  sigma: number;
  /** weight of the newest observation, in (0, 1]; default 0.2 */
  lambda?: number;
  /** width of the limits in standard deviations of z, > 0; default 3 */
  L?: number;
}

export interface EwmaPoint {
  z: number;
  lower: number;
  upper: number;
  /** z lies beyond (strictly outside) its limits */
  signal: boolean;
}

/**
 * EWMA chart: z_i = lambda x_i + (1 - lambda) z_(i-1) with z_0 = centre, and the exact time-varying
 * limits centre -/+ L sigma sqrt(lambda / (2 - lambda) [1 - (1 - lambda)^(2i)]) for the i-th point
 * (1-based), which widen towards the asymptotic ones; z and limits in data units. lambda = 1 is the
 * Shewhart individuals chart. sigma = 0 makes any departure of z from the centre a signal. An empty series
 * gives no points; RangeError for lambda outside (0, 1], L <= 0 or sigma < 0. Reference: Montgomery,
 * the exponentially weighted moving average control chart.
 */
export function ewmaChart(values: readonly number[], options: EwmaOptions): EwmaPoint[] {
  checkValues(values, 'EWMA chart');
  const { centre, sigma, lambda = 0.2, L = 3 } = options;
  checkCentreSigma(centre, sigma, 'EWMA chart');
  if (!(lambda > 0 && lambda <= 1)) throw new RangeError(`EWMA chart: lambda ${lambda} should be in (0, 1]`);
  if (!(Number.isFinite(L) && L > 0))
    throw new RangeError(`EWMA chart: L ${L} should be a finite number > 0`);
  const points: EwmaPoint[] = [];
  let z = centre;
  // (1 - lambda)^(2i), updated multiplicatively rather than with a power per point
  let decay = 1;
  for (const x of values) {
    z = lambda * x + (1 - lambda) * z;
    decay *= (1 - lambda) ** 2;
    const halfWidth = L * sigma * Math.sqrt((lambda / (2 - lambda)) * (1 - decay));
    const lower = centre - halfWidth;
    const upper = centre + halfWidth;
    points.push({ z, lower, upper, signal: z > upper || z < lower });
  }
  return points;
}

export interface CusumOptions {
  /** target or in-control mean mu0 */
  centre: number;
  /** in-control standard deviation of one observation, in data units (>= 0) */
  sigma: number;
  /** reference value in sigmas, >= 0; default 0.5 (tuned to a shift of 1 sigma) */
  k?: number;
  /** decision interval in sigmas, > 0; default 5 */
  h?: number;
}

export interface CusumPoint {
  /** C+_i, the one-sided sum for an upward shift (>= 0, data units) */
  upper: number;
  /** C-_i, the one-sided sum for a downward shift (>= 0, data units) */
  lower: number;
  /** which sum exceeds H, if any; 'both' after a large swing can leave both above H at once */
  signal: 'up' | 'down' | 'both' | null;
}

export interface CusumChart {
  /** reference value k sigma, in data units */
  K: number;
  /** decision interval h sigma, in data units */
  H: number;
  points: CusumPoint[];
}

/**
 * Tabular CUSUM: C+_i = max(0, x_i - mu0 - K + C+_(i-1)), C-_i = max(0, mu0 - K - x_i + C-_(i-1)), with
 * C+_0 = C-_0 = 0, K = k sigma and H = h sigma in data units; a signal when a sum exceeds H (strictly).
 * The sums are not reset after a signal, so a persisting shift keeps signalling and the sums still show
 * how far the shift has gone; restarting after corrective action is the caller's choice (pass the later
 * values only). sigma = 0 makes any departure from the centre a signal. An empty series gives no points;
 * RangeError for k < 0, h <= 0 or sigma < 0. Reference: Montgomery, the tabular cumulative sum control
 * chart.
 */
export function cusumChart(values: readonly number[], options: CusumOptions): CusumChart {
  checkValues(values, 'CUSUM chart');
  const { centre, sigma, k = 0.5, h = 5 } = options;
  checkCentreSigma(centre, sigma, 'CUSUM chart');
  if (!(Number.isFinite(k) && k >= 0))
    throw new RangeError(`CUSUM chart: k ${k} should be a finite number >= 0`);
  if (!(Number.isFinite(h) && h > 0))
    throw new RangeError(`CUSUM chart: h ${h} should be a finite number > 0`);
  const K = k * sigma;
  const H = h * sigma;
  const points: CusumPoint[] = [];
  let upper = 0;
  let lower = 0;
  for (const x of values) {
    upper = Math.max(0, x - centre - K + upper);
    lower = Math.max(0, centre - K - x + lower);
    const up = upper > H;
    const down = lower > H;
    points.push({ upper, lower, signal: up && down ? 'both' : up ? 'up' : down ? 'down' : null });
  }
  return { K, H, points };
}

export type WesternElectricRule = 1 | 2 | 3 | 4;

export interface RuleViolation {
  rule: WesternElectricRule;
  /** the point completing the pattern */
  index: number;
  side: 'above' | 'below';
  /** indices of the points making up the pattern, ascending, ending with index */
  points: number[];
}

export interface WesternElectricOptions {
  /** centre line, in data units */
  centre: number;
  /** standard deviation of one point, in data units (>= 0) */
  sigma: number;
  /** points in a run for rule 4, an integer >= 2; default 8 (Nelson's rule 2 uses 9) */
  runLength?: number;
}

/** One-line description of each Western Electric rule, as shown to users. */
export const RULE_DESCRIPTIONS: Readonly<Record<WesternElectricRule, string>> = {
  1: 'WE1: one point beyond 3σ',
  2: 'WE2: 2 of 3 consecutive points beyond 2σ on the same side',
  3: 'WE3: 4 of 5 consecutive points beyond 1σ on the same side',
  4: 'WE4: a run of consecutive points on the same side of the centre line (8 by default)',
};

/**
 * Western Electric run rules on a series against a centre line and sigma (data units): rule 1, a point
 * beyond centre -/+ 3 sigma; rule 2, 2 of 3 consecutive points beyond 2 sigma on the same side; rule 3, 4
 * of 5 consecutive points beyond 1 sigma on the same side; rule 4, runLength consecutive points strictly
 * on the same side of the centre (a point exactly on the centre breaks a run). For rules 2 and 3 the
 * point at `index` is itself one of those beyond the zone (it completes the pattern) and the window is
 * cut at the start of the series, because 2 early points beyond 2 sigma already make 2 of the first 3
 * whatever the third is. A pattern is reported at every index where it holds, so an ongoing run of 10
 * points reports rule 4 at its 8th, 9th and 10th points with runLength 8. sigma = 0 (a constant baseline)
 * is accepted: every point off the centre is then beyond every zone. Violations are ordered by index,
 * then rule; an empty series has none. RangeError for sigma < 0 or a runLength that is not an integer
 * >= 2. Reference: Montgomery, the sensitizing rules of the Western Electric Handbook; Nelson, Journal of
 * Quality Technology 16 (1984) 237-239, for the run of 9.
 */
export function westernElectricRules(
  values: readonly number[],
  options: WesternElectricOptions,
): RuleViolation[] {
  checkValues(values, 'Western Electric rules');
  const { centre, sigma, runLength = 8 } = options;
  checkCentreSigma(centre, sigma, 'Western Electric rules');
  if (!(Number.isInteger(runLength) && runLength >= 2))
    throw new RangeError(`Western Electric rules: runLength ${runLength} should be an integer >= 2`);
  const violations: RuleViolation[] = [];
  // sign is the side being tested (+1 above, -1 below); with sigma >= 0 a point on the centre (sign 0) is
  // beyond no zone, and a pattern takes the side of its completing point
  const beyond = (i: number, sigmas: number, sign: number): boolean =>
    sign * (values[i]! - centre) > sigmas * sigma;
  let run = 0;
  let runSign = 0;
  values.forEach((x, i) => {
    const sign = Math.sign(x - centre);
    const side = sign > 0 ? 'above' : 'below';
    if (beyond(i, 3, sign)) violations.push({ rule: 1, index: i, side, points: [i] });
    for (const [rule, sigmas, needed, span] of [
      [2, 2, 2, 3],
      [3, 1, 4, 5],
    ] as const) {
      if (!beyond(i, sigmas, sign)) continue;
      const points: number[] = [];
      for (let j = Math.max(0, i - span + 1); j <= i; j += 1) if (beyond(j, sigmas, sign)) points.push(j);
      if (points.length >= needed) violations.push({ rule, index: i, side, points });
    }
    run = sign === 0 ? 0 : sign === runSign ? run + 1 : 1;
    runSign = sign;
    if (run >= runLength)
      violations.push({
        rule: 4,
        index: i,
        side,
        points: Array.from({ length: runLength }, (_, t) => i - runLength + 1 + t),
      });
  });
  return violations;
}
