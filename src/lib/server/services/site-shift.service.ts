import { AppError } from '../../core/errors';
import { describeMetric, metricDefinition } from '../../core/metrics/metric-catalogue';
import { cliffsDelta, holm } from '../../core/stats/correlation';
import { chiSquareUpperTail } from '../../core/stats/distributions';
import { summarise } from '../../core/stats/descriptive';
import { rankableValues, summariseMetricSample } from '../../core/stats/metric-sample';

import { kruskalWallis, mannWhitneyU } from '../../core/stats/rank-tests';
import type { Db } from '../db/connection';
import {
  findCaseFeatures,
  findMetricValues,
  type CaseFeatureRow,
} from '../repositories/analytics.repository';
import {
  caseValues,
  describeReference,
  goodness,
  groupBy,
  referenceFilter,
  type MetricRowFilter,
  type ReferenceChoice,
} from './analytics-values';

// each site's median has its bootstrap interval; the pooled rest needs none
const noCi = { medianCi: false };

export const SITE_SHIFT_TEST =
  "each site against the pooled other sites: Mann-Whitney U, two-sided (exact below 50 per group without ties, else normal approximation with tie and continuity corrections), Holm-adjusted across the sites of a structure; Cliff's delta as P(site better) - P(site worse) in the metric's direction; Kruskal-Wallis across all sites with the tie correction. One value per case (the mean over its references); a missed structure ranks worst";

export const FEATURE_SHIFT_TEST =
  "numeric features: each site's cases against the reference cases by Mann-Whitney U with Cliff's delta (site - reference), Holm-adjusted across every feature and site; categorical features: Pearson chi-square test of homogeneity of the site's and the reference's categories, and the share of the site's cases whose category never occurs in the reference";

/** Who is measured: a model's contours (one value per model version and case) or the physicians'. */
export type ShiftSubject = 'model' | 'physician';

/**
 * Per structure and subject (model version, or the physicians), each site's metric distribution against
 * the rest with Mann-Whitney (Holm across sites) and Cliff's delta, and Kruskal-Wallis across sites.
 */
export async function siteMetricShift(
  db: Db,
  options: { metric: string; filter: MetricRowFilter; reference: ReferenceChoice; subject: ShiftSubject },
) {
  const metric = metricDefinition(options.metric);
  const rows = await findMetricValues(db, [metric], {
    ...options.filter,
    ...referenceFilter(options.reference),
    testSource: options.subject,
  });
  const values = [...caseValues(metric, rows, 0).values()].filter(
    (v): v is { row: (typeof v)['row']; value: number } => v.value !== null,
  );
  const groups = groupBy(values, (v) => `${v.row.structure}|${v.row.model ?? 'physicians'}`);
  const series = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, entries]) => {
      const [structure, subject] = key.split('|') as [string, string];
      const bySite = groupBy(entries, (e) => e.row.site);
      const sites = [...bySite.keys()].sort();
      const all = entries.map((e) => e.value);
      const perSite = sites.map((site) => {
        const own = bySite.get(site)!.map((e) => e.value);
        const rest = entries.filter((e) => e.row.site !== site).map((e) => e.value);
        const ownRanked = rankableValues(own, rest).map((v) => goodness(metric, v));
        const restRanked = rankableValues(rest, own).map((v) => goodness(metric, v));
        const test = rest.length > 0 ? mannWhitneyU(ownRanked, restRanked) : null;
        return {
          site,
          summary: summariseMetricSample(own),
          rest: summariseMetricSample(rest, noCi),
          test: test && { ...test, pHolm: null as number | null },
          cliffsDelta: rest.length > 0 ? cliffsDelta(ownRanked, restRanked) : null,
        };
      });
      const tested = perSite.filter((s) => s.test !== null);
      holm(tested.map((s) => s.test!.p)).forEach((p, i) => (tested[i]!.test!.pHolm = p));
      const nonEmpty = sites.map((site) =>
        rankableValues(
          bySite.get(site)!.map((e) => e.value),
          all,
        ),
      );
      return {
        structure,
        subject,
        cases: entries.length,
        sites: perSite,
        kruskalWallis: nonEmpty.length >= 2 ? kruskalWallis(nonEmpty) : null,
      };
    });
  return {
    metric: describeMetric(metric),
    reference: describeReference(options.reference),
    test: SITE_SHIFT_TEST,
    series,
  };
}

const numericFeatures = [
  ['sliceThicknessMm', 'slice thickness', 'mm'],
  ['pixelSpacingMm', 'pixel spacing', 'mm'],
  ['kvp', 'tube voltage', 'kV'],
  ['huMean', 'mean HU inside the body', 'HU'],
  ['huStd', 'HU standard deviation', 'HU'],
  ['huP05', '5th HU percentile', 'HU'],
  ['huP50', 'median HU', 'HU'],
  ['huP95', '95th HU percentile', 'HU'],
  ['noiseStdHu', 'noise (HU SD in homogeneous tissue)', 'HU'],
] as const satisfies ReadonlyArray<readonly [keyof CaseFeatureRow, string, string]>;

const categoricalFeatures = [
  ['manufacturer', 'manufacturer'],
  ['scannerModel', 'scanner model'],
  ['convolutionKernel', 'convolution kernel'],
] as const satisfies ReadonlyArray<readonly [keyof CaseFeatureRow, string]>;

/** Pearson chi-square test of homogeneity of two category count tables. */
function homogeneity(site: Map<string, number>, reference: Map<string, number>) {
  const categories = [...new Set([...site.keys(), ...reference.keys()])];
  if (categories.length < 2) return null;
  const totals = [0, 0];
  for (const c of categories) {
    totals[0] += site.get(c) ?? 0;
    totals[1] += reference.get(c) ?? 0;
  }
  const n = totals[0]! + totals[1]!;
  let statistic = 0;
  let smallExpected = 0;
  for (const c of categories) {
    const column = (site.get(c) ?? 0) + (reference.get(c) ?? 0);
    for (const [row, observed] of [
      [0, site.get(c) ?? 0],
      [1, reference.get(c) ?? 0],
    ] as const) {
      const expected = (totals[row]! * column) / n;
      if (expected < 5) smallExpected += 1;
      statistic += (observed - expected) ** 2 / expected;
    }
  }
  const df = categories.length - 1;
  return {
    method: `Pearson chi-square test of homogeneity${smallExpected > 0 ? `; ${smallExpected} of ${categories.length * 2} expected counts below 5, the approximation is rough` : ''}`,
    statistic,
    df,
    p: chiSquareUpperTail(statistic, df),
  };
}

const counts = (values: Array<string | null>) => {
  const map = new Map<string, number>();
  for (const v of values) map.set(v ?? '(not recorded)', (map.get(v ?? '(not recorded)') ?? 0) + 1);
  return map;
};

/**
 * Image-feature shift per site (scanner fields, slice thickness, HU statistics) against a reference: one
 * site (`referenceSite`), a window of acquisition dates (`window`: each site's cases outside it against
 * every case inside it), or by default the pooled other sites.
 */
export async function siteFeatureShift(
  db: Db,
  options: {
    filter: Pick<MetricRowFilter, 'cohort' | 'sites' | 'from' | 'to'>;
    referenceSite?: string;
    window?: { from: string; to: string };
  },
) {
  const all = (await findCaseFeatures(db, options.filter)).filter(
    (c) =>
      (options.filter.from === undefined || (c.acquisitionDate ?? '') >= options.filter.from) &&
      (options.filter.to === undefined || (c.acquisitionDate ?? '') <= options.filter.to),
  );
  const inWindow = (c: CaseFeatureRow) =>
    options.window !== undefined &&
    c.acquisitionDate !== null &&
    c.acquisitionDate >= options.window.from &&
    c.acquisitionDate <= options.window.to;
  if (options.referenceSite !== undefined && !all.some((c) => c.site === options.referenceSite))
    throw new AppError(
      'NOT_FOUND',
      `reference site ${options.referenceSite} has no cases under these filters`,
    );
  const sites = [...new Set(all.map((c) => c.site))].sort().filter((s) => s !== options.referenceSite);
  const referenceOf = (site: string) =>
    options.referenceSite !== undefined
      ? all.filter((c) => c.site === options.referenceSite)
      : options.window !== undefined
        ? all.filter(inWindow)
        : all.filter((c) => c.site !== site);
  const subjectOf = (site: string) =>
    all.filter((c) => c.site === site && (options.window === undefined || !inWindow(c)));

  const perSite = sites.map((site) => {
    const own = subjectOf(site);
    const reference = referenceOf(site);
    const numeric = numericFeatures.map(([key, label, unit]) => {
      const x = own.map((c) => c[key]).filter((v): v is number => v !== null);
      const y = reference.map((c) => c[key]).filter((v): v is number => v !== null);
      const test = x.length > 0 && y.length > 0 && new Set([...x, ...y]).size > 1 ? mannWhitneyU(x, y) : null;
      return {
        feature: key,
        label,
        unit,
        site: summarise(x),
        reference: summarise(y),
        test: test && { ...test, pHolm: null as number | null },
        cliffsDelta: x.length > 0 && y.length > 0 ? cliffsDelta(x, y) : null,
      };
    });
    const categorical = categoricalFeatures.map(([key, label]) => {
      const siteCounts = counts(own.map((c) => c[key]));
      const referenceCounts = counts(reference.map((c) => c[key]));
      const novel = own.filter((c) => !referenceCounts.has(c[key] ?? '(not recorded)')).length;
      return {
        feature: key,
        label,
        site: Object.fromEntries(siteCounts),
        reference: Object.fromEntries(referenceCounts),
        novelShare: own.length === 0 ? null : novel / own.length,
        test: own.length > 0 && reference.length > 0 ? homogeneity(siteCounts, referenceCounts) : null,
      };
    });
    return { site, cases: own.length, referenceCases: reference.length, numeric, categorical };
  });
  const tested = perSite.flatMap((s) => s.numeric.filter((f) => f.test !== null));
  holm(tested.map((f) => f.test!.p)).forEach((p, i) => (tested[i]!.test!.pHolm = p));
  return {
    reference:
      options.referenceSite !== undefined
        ? `site ${options.referenceSite}`
        : options.window !== undefined
          ? `cases acquired ${options.window.from} to ${options.window.to}; each site's cases outside that window`
          : 'the pooled other sites',
    test: FEATURE_SHIFT_TEST,
    sites: perSite,
  };
}
