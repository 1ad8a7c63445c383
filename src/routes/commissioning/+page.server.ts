import { redirect } from '@sveltejs/kit';
import { z } from 'zod';
import type { BoxSummary } from '$lib/charts/BoxPlot.svelte';
import { describeMetric, metricDefinition } from '$lib/core/metrics/metric-catalogue';
import { metricSchema, parsePageQuery, toRowFilter } from '$lib/server/api/v1';
import { compareSchema } from '$lib/server/api/v1-endpoints';
import { sharedRuntime } from '$lib/server/runtime';
import { rememberAnswer } from '$lib/server/services/answer-cache';
import { requirePrincipal } from '$lib/server/services/account.service';
import {
  analyticsOptions,
  analyticsVersion,
  goodness,
  parseReference,
  round,
  type ModelFilter,
} from '$lib/server/services/analytics-values';
import { compareModels, criteriaSets } from '$lib/server/services/model-comparison.service';
import { AGREEMENT_METRICS, observerAgreement } from '$lib/server/services/observer-agreement.service';
import type { PageServerLoad } from './$types';

/** The criteria set a commissioning view starts from when the URL names none and it exists. */
const DEFAULT_CRITERIA = 'Demo commissioning';

const modelParam = z.string().min(1).max(200);

// The filter bar needs one select per model, so the page names them modelA and modelB; `model` (the
// API's repeatable parameter) is still read, and rewritten to them, so an API link opens here.
const pageSchema = compareSchema.extend({
  modelA: modelParam.optional().describe('model A, NAME@VERSION'),
  modelB: modelParam.optional().describe('model B, NAME@VERSION'),
  metric: z.array(metricSchema).default(['dice']),
});

type CaseRef = { case: string; site: string; date: string };

export const load: PageServerLoad = async ({ url, locals }) => {
  const principal = requirePrincipal(locals.principal);
  const db = (await sharedRuntime()).database.db;
  const [options, sets, version] = await Promise.all([
    analyticsOptions(db, principal.sites),
    criteriaSets(db),
    analyticsVersion(db),
  ]);
  const criteriaNames = sets.map((s) => s.name).sort();
  const empty = {
    options,
    error: null as string | null,
    criteriaNames,
    selection: null,
    metric: null,
    comparison: null,
    comparisonError: null,
    boxes: [],
    cases: [],
    acceptance: null,
    acceptanceError: null,
    envelope: null,
    worst: [],
  };
  const parsed = parsePageQuery(pageSchema, url, principal);
  if (parsed.error !== null) return { ...empty, error: parsed.error };
  const params = parsed.params;

  const canonical = canonicalSearch(url, params, options.models, criteriaNames);
  if (canonical !== null) redirect(307, `${url.pathname}${canonical}`);
  if (params.modelA === undefined || params.modelB === undefined)
    return { ...empty, error: 'Two model versions are needed to commission one against the other.' };

  let metricName: string;
  let reference: ReturnType<typeof parseReference>;
  let models: ReturnType<typeof toRowFilter>['models'];
  try {
    metricName = params.metric[0]!;
    reference = parseReference(params.reference);
    models = toRowFilter({ ...params, model: [params.modelA, params.modelB] }).models;
  } catch (error) {
    return { ...empty, error: message(error) };
  }
  const metric = metricDefinition(metricName);
  const filter = toRowFilter({ ...params, model: undefined });
  const criteria = params.criteria;
  const acceptanceError =
    criteria !== undefined && !criteriaNames.includes(criteria)
      ? `No acceptance criteria set is named "${criteria}".`
      : null;

  const comparison = {
    models: [models![0]!, models![1]!] as [ModelFilter, ModelFilter],
    metrics: [metricName],
    filter,
    reference,
    criteriaSet: acceptanceError === null ? criteria : undefined,
    includeCases: true,
  };
  const comparing = rememberAnswer(version, 'compare', comparison, () => compareModels(db, comparison));

  const labels = [params.modelA, params.modelB];
  const agreementFilter = {
    structures: filter.structures,
    sites: filter.sites,
    observers: filter.observers,
    cohort: filter.cohort,
    from: filter.from,
    to: filter.to,
  };
  // The envelope compares each model with the observers, so the model filter, which would drop the
  // observers' rows, is left out. It is the slower answer and streams in after the charts; it starts
  // once the comparison is done because both compute on this one thread, and running together would
  // hold the charts back by the envelope's time.
  const envelope = (AGREEMENT_METRICS as readonly string[]).includes(metricName)
    ? comparing
        .catch(() => null)
        .then(() =>
          rememberAnswer(version, 'agreement', agreementFilter, () => observerAgreement(db, agreementFilter)),
        )
        .then(
          (agreement) => ({ envelope: envelopeOf(agreement, metricName, labels), error: null }),
          (error: unknown) => ({ envelope: null, error: message(error) }),
        )
    : Promise.resolve({ envelope: envelopeOf(null, metricName, []), error: null });

  let compared: Awaited<ReturnType<typeof compareModels>> | null = null;
  let comparisonError: string | null = null;
  try {
    compared = await comparing;
  } catch (error) {
    comparisonError = message(error);
  }

  const selection = { modelA: params.modelA, modelB: params.modelB };
  const shaped = compared === null ? null : shapeComparison(compared, metricName);
  return {
    options,
    criteriaNames,
    error: null,
    selection,
    metric: describeMetric(metric),
    comparison: shaped?.comparison ?? null,
    comparisonError,
    boxes: shaped?.boxes ?? [],
    cases: shaped?.cases ?? [],
    worst: shaped?.worst ?? [],
    acceptance: shaped?.acceptance ?? null,
    acceptanceError,
    envelope,
  };
};

/** The human envelope of models A and B on the metric, or why there is none. */
function envelopeOf(
  agreement: Awaited<ReturnType<typeof observerAgreement>> | null,
  metricName: string,
  labels: readonly string[],
) {
  if (agreement === null)
    return {
      supported: false,
      metrics: AGREEMENT_METRICS.map((m) => metricDefinition(m).label),
      caveat: '',
      test: '',
      rows: [],
    };
  return {
    supported: true,
    metrics: [],
    caveat: agreement.caveat,
    test: agreement.tests.envelope,
    rows: agreement.structures.flatMap((s) =>
      s.envelope
        .filter((e) => labels.includes(e.model))
        .sort((a, b) => labels.indexOf(a.model) - labels.indexOf(b.model))
        .map((e) => {
          const v = e.metrics[metricName as (typeof AGREEMENT_METRICS)[number]];
          return {
            structure: s.structure,
            model: e.model,
            cases: v.cases,
            modelMedian: v.model.median,
            worstObserverMedian: v.worstObserver.median,
            medianObserverMedian: v.medianObserver.median,
            casesAtLeastAsGood: v.casesAtLeastAsGoodAsWorstObserver,
            shift: v.test?.shift ?? null,
            p: v.test?.p ?? null,
            method: v.test?.method ?? null,
            verdict: v.verdict,
          };
        }),
    ),
  };
}

/**
 * The URL with every default written in (both models, the criteria set), or null when it already holds
 * them: the filter bar shows what the URL says, so the URL has to say what the page shows.
 */
function canonicalSearch(
  url: URL,
  params: z.infer<typeof pageSchema>,
  models: readonly string[],
  criteriaNames: readonly string[],
): string | null {
  const target = new URL(url);
  let changed = false;
  const given = params.model ?? [];
  let a: string | undefined = params.modelA ?? given[0];
  let b: string | undefined = params.modelB ?? given[1];
  if (a === undefined || b === undefined) {
    const pair = defaultPair(models);
    if (pair !== null) {
      if (a === undefined && b === undefined) [a, b] = pair;
      else if (a === undefined) a = pair.find((m) => m !== b);
      else b = pair.find((m) => m !== a) ?? pair[1];
    }
  }
  if (given.length > 0) {
    target.searchParams.delete('model');
    changed = true;
  }
  for (const [name, value] of [
    ['modelA', a],
    ['modelB', b],
  ] as const)
    if (value !== undefined && url.searchParams.get(name) !== value) {
      target.searchParams.set(name, value);
      changed = true;
    }
  if (!url.searchParams.has('criteria') && criteriaNames.includes(DEFAULT_CRITERIA)) {
    target.searchParams.set('criteria', DEFAULT_CRITERIA);
    changed = true;
  }
  return changed ? target.search : null;
}

/** The two newest versions of one model name (versions in numeric order), else the last two labels. */
function defaultPair(models: readonly string[]): [string, string] | null {
  const byName = new Map<string, string[]>();
  for (const label of models) {
    const at = label.lastIndexOf('@');
    if (at <= 0) continue;
    const name = label.slice(0, at);
    byName.set(name, [...(byName.get(name) ?? []), label]);
  }
  const numeric = (x: string, y: string) => x.localeCompare(y, 'en', { numeric: true });
  for (const name of [...byName.keys()].sort()) {
    const versions = byName.get(name)!.sort(numeric);
    if (versions.length >= 2) return [versions[versions.length - 2]!, versions[versions.length - 1]!];
  }
  const all = [...models].sort(numeric);
  return all.length >= 2 ? [all[all.length - 2]!, all[all.length - 1]!] : null;
}

function shapeComparison(compared: Awaited<ReturnType<typeof compareModels>>, metricName: string) {
  const definition = metricDefinition(metricName);
  const structures = compared.comparisons.find((c) => c.metric.name === metricName)?.structures ?? [];
  // cases are listed once and the charts refer to them by index, to keep the page's data small
  const cases: CaseRef[] = [];
  const caseIndex = new Map<string, number>();
  const indexOf = (c: CaseRef) => {
    let i = caseIndex.get(c.case);
    if (i === undefined) {
      i = cases.push({ case: c.case, site: c.site, date: c.date }) - 1;
      caseIndex.set(c.case, i);
    }
    return i;
  };
  const boxes = structures.map((s) => {
    const pairs = s.cases ?? [];
    return {
      structure: s.structure,
      a: boxSummary(
        s.a,
        pairs.map((p) => p.a),
      ),
      b: boxSummary(
        s.b,
        pairs.map((p) => p.b),
      ),
      caseIndex: pairs.map(indexOf),
      valuesA: pairs.map((p) => round(p.a)!),
      valuesB: pairs.map((p) => round(p.b)!),
    };
  });
  const worst = structures
    .flatMap((s) => (s.cases ?? []).map((p) => ({ structure: s.structure, ...p })))
    .sort(
      (x, y) =>
        goodness(definition, x.b) - goodness(definition, y.b) ||
        x.case.localeCompare(y.case) ||
        x.structure.localeCompare(y.structure),
    )
    .slice(0, 10)
    .map((p) => ({
      caseId: p.caseId,
      case: p.case,
      structure: p.structure,
      site: p.site,
      date: p.date,
      a: p.a,
      b: p.b,
    }));
  return {
    comparison: {
      modelA: compared.models.a,
      modelB: compared.models.b,
      reference: compared.reference,
      test: compared.test,
      rows: structures.map((s) => ({
        structure: s.structure,
        pairs: s.pairs,
        medianA: s.a.median,
        medianB: s.b.median,
        missedA: s.a.missed,
        missedB: s.b.missed,
        shift:
          s.shift === null
            ? null
            : {
                estimate: s.shift.estimate,
                lower: s.shift.lower,
                upper: s.shift.upper,
                level: s.shift.level,
                method: s.shift.method,
              },
        p: s.test?.p ?? null,
        pHolm: s.test?.pHolm ?? null,
        method: s.test?.method ?? null,
        note: s.note,
      })),
    },
    boxes,
    cases,
    worst,
    acceptance: compared.acceptance,
  };
}

/**
 * Quartiles as the comparison computed them, and Tukey's whiskers: the most extreme values within
 * 1.5 IQR of the quartiles. +∞ values (missed structures) never end a whisker.
 */
function boxSummary(
  sample: { n: number; missed: number; q1: number | null; median: number | null; q3: number | null },
  values: readonly number[],
): BoxSummary | null {
  if (sample.q1 === null || sample.median === null || sample.q3 === null) return null;
  const iqr = sample.q3 - sample.q1;
  const lowFence = sample.q1 - 1.5 * iqr;
  const highFence = sample.q3 + 1.5 * iqr;
  let whiskerLow: number | null = null;
  let whiskerHigh: number | null = null;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v >= lowFence && (whiskerLow === null || v < whiskerLow)) whiskerLow = v;
    if (v <= highFence && (whiskerHigh === null || v > whiskerHigh)) whiskerHigh = v;
  }
  return {
    n: sample.n,
    missed: sample.missed,
    q1: sample.q1,
    median: sample.median,
    q3: sample.q3,
    whiskerLow,
    whiskerHigh,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
