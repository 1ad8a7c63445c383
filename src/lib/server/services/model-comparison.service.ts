import { z } from 'zod';
import { AppError, describeIssues } from '../../core/errors';
import {
  describeMetric,
  metricDefinition,
  metricNames,
  type MetricDefinition,
} from '../../core/metrics/metric-catalogue';
import { holm } from '../../core/stats/correlation';
import { rankableValues, summariseMetricSample } from '../../core/stats/metric-sample';

import { hodgesLehmann, wilcoxonSignedRank } from '../../core/stats/rank-tests';
import type { Db } from '../db/connection';
import {
  findCriteria,
  listCriteriaSets,
  replaceCriteria,
  type AcceptanceCriterion,
} from '../repositories/acceptance.repository';
import { findMetricValues, type MetricValueRow } from '../repositories/analytics.repository';
import { findStructureIdsByName } from '../repositories/editing.repository';
import {
  caseValues,
  groupBy,
  describeReference,
  referenceFilter,
  type MetricRowFilter,
  type ModelFilter,
  type ReferenceChoice,
} from './analytics-values';

// the shift estimate carries the interval here; medians need none of their own
const noCi = { medianCi: false };

export const COMPARISON_TEST =
  'paired by case and structure: Wilcoxon signed-rank of B - A, two-sided (exact below 50 pairs without ties or zeros, else normal approximation with tie and continuity corrections; zero differences dropped), Holm-adjusted across the structures of each metric; Hodges-Lehmann shift of B - A with its 95% CI (omitted when a value is +∞, a missed structure, which the signed-rank test ranks worst)';

/**
 * Paired comparison of two model versions on the same cases and reference (`models` = [A, B]): per
 * metric and structure the summaries of A, B and B - A, the signed-rank test with Holm adjustment, the
 * Hodges-Lehmann shift; and each version against a named set of acceptance criteria.
 */
export async function compareModels(
  db: Db,
  options: {
    models: [ModelFilter, ModelFilter];
    metrics: string[];
    filter: MetricRowFilter;
    reference: ReferenceChoice;
    criteriaSet?: string;
    /** also return every case's pair of values (for plots and the worst cases) */
    includeCases?: boolean;
  },
) {
  const [a, b] = options.models;
  if (a.version === undefined || b.version === undefined)
    throw new AppError('INVALID_ARGUMENT', 'compare two model versions: give both as NAME@VERSION');
  const labelA = `${a.name}@${a.version}`;
  const labelB = `${b.name}@${b.version}`;
  if (labelA === labelB) throw new AppError('INVALID_ARGUMENT', `both models are ${labelA}`);
  const criteria = options.criteriaSet === undefined ? [] : await findCriteria(db, options.criteriaSet);
  if (options.criteriaSet !== undefined && criteria.length === 0)
    throw new AppError('NOT_FOUND', `acceptance criteria set "${options.criteriaSet}" has no criteria`);
  const metricList = [...new Set([...options.metrics, ...criteria.map((c) => c.metric)])];
  const metrics = metricList.map(metricDefinition);
  const rows = await findMetricValues(db, metrics, {
    ...options.filter,
    ...referenceFilter(options.reference),
    models: [a, b],
    testSource: 'model',
  });
  if (!rows.some((r) => r.model === labelA) || !rows.some((r) => r.model === labelB))
    throw new AppError(
      'NOT_FOUND',
      `no metric rows of ${rows.some((r) => r.model === labelA) ? labelB : labelA} under these filters and reference`,
    );
  const structures = [...new Set(rows.map((r) => r.structure))].sort();
  // per metric, the case values grouped by structure and model once, for the tests and the criteria
  const grouped = new Map(
    metrics.map((metric, i) => [
      metric.name,
      groupBy(caseValues(metric, rows, i).values(), (v) => `${v.row.structure}|${v.row.model}`),
    ]),
  );
  const valuesOf = (metric: string, structure: string, model: string) =>
    grouped.get(metric)!.get(`${structure}|${model}`) ?? [];
  const comparisons = metrics
    .filter((m) => options.metrics.includes(m.name))
    .map((metric) => {
      const perStructure = structures.map((structure) =>
        pairedComparison(
          structure,
          valuesOf(metric.name, structure, labelA),
          valuesOf(metric.name, structure, labelB),
          options.includeCases === true,
        ),
      );
      const tested = perStructure.filter((s) => s.test !== null);
      const adjusted = holm(tested.map((s) => s.test!.p));
      tested.forEach((s, i) => (s.test!.pHolm = adjusted[i]!));
      return { metric: describeMetric(metric), structures: perStructure };
    });
  return {
    models: { a: labelA, b: labelB },
    reference: describeReference(options.reference),
    test: COMPARISON_TEST,
    comparisons,
    acceptance:
      options.criteriaSet === undefined
        ? null
        : {
            criteriaSet: options.criteriaSet,
            rule: 'a case passes when its value meets the threshold (a missed structure fails unless its missed value meets it); a structure passes when its pass rate reaches the required rate',
            models: [labelA, labelB].map((model) => ({
              model,
              ...acceptanceOutcome(criteria, structures, metrics, (metric, structure) =>
                valuesOf(metric, structure, model).map((v) => v.value),
              ),
            })),
          },
  };
}

type CaseValue = { row: MetricValueRow; value: number | null };

function pairedComparison(
  structure: string,
  valuesA: readonly CaseValue[],
  valuesB: readonly CaseValue[],
  includeCases: boolean,
) {
  const byCase = new Map<
    number,
    { a?: number; b?: number; caseId: number; case: string; site: string; date: string }
  >();
  for (const { row, value } of valuesA)
    if (value !== null)
      byCase.set(row.caseId, {
        a: value,
        caseId: row.caseId,
        case: row.casePseudonym,
        site: row.site,
        date: row.date,
      });
  for (const { row, value } of valuesB) {
    const entry = byCase.get(row.caseId);
    if (value !== null && entry !== undefined) entry.b = value;
  }
  const pairs = [...byCase.values()].filter(
    (p): p is { a: number; b: number; caseId: number; case: string; site: string; date: string } =>
      p.a !== undefined && p.b !== undefined,
  );
  const xa = pairs.map((p) => p.a);
  const xb = pairs.map((p) => p.b);
  const finite = [...xa, ...xb].every(Number.isFinite);
  const ra = rankableValues(xa, xb);
  const rb = rankableValues(xb, xa);
  const differences = rb.map((v, i) => v - ra[i]!);
  let test: (ReturnType<typeof wilcoxonSignedRank> & { pHolm: number | null }) | null = null;
  let note: string | null = null;
  if (pairs.length === 0) note = 'no case has both models';
  else if (differences.every((d) => d === 0)) note = 'every paired difference is zero';
  else test = { ...wilcoxonSignedRank(differences), pHolm: null };
  return {
    structure,
    pairs: pairs.length,
    a: summariseMetricSample(xa, noCi),
    b: summariseMetricSample(xb, noCi),
    difference: finite
      ? summariseMetricSample(
          xb.map((v, i) => v - xa[i]!),
          noCi,
        )
      : null,
    test,
    shift: finite && pairs.length > 0 ? hodgesLehmann(xb, xa, { paired: true }) : null,
    note,
    cases: includeCases ? pairs : undefined,
  };
}

/** The criterion that applies to a structure and metric: its own, else the every-structure one. */
function applicableCriteria(criteria: readonly AcceptanceCriterion[], structure: string) {
  const own = criteria.filter((c) => c.structure === structure);
  const general = criteria.filter((c) => c.structure === null && !own.some((o) => o.metric === c.metric));
  return [...own, ...general];
}

function acceptanceOutcome(
  criteria: readonly AcceptanceCriterion[],
  structures: readonly string[],
  metrics: readonly MetricDefinition[],
  valuesOf: (metric: string, structure: string) => Array<number | null>,
) {
  const results = structures.flatMap((structure) =>
    applicableCriteria(criteria, structure).map((criterion) => {
      const metric = metrics.find((m) => m.name === criterion.metric)!;
      const values = valuesOf(metric.name, structure);
      const passed = values.filter(
        (v) =>
          v !== null && (criterion.comparator === '>=' ? v >= criterion.threshold : v <= criterion.threshold),
      ).length;
      const cases = values.length;
      const passRate = cases === 0 ? null : passed / cases;
      return {
        structure,
        metric: metric.name,
        criterion: `${metric.name} ${criterion.comparator} ${criterion.threshold}${metric.unit ? ` ${metric.unit}` : ''} in at least ${Math.round(criterion.minPassRate * 1000) / 10}% of cases`,
        cases,
        passed,
        failed: cases - passed,
        passRate,
        verdict:
          passRate === null
            ? ('no cases' as const)
            : passRate >= criterion.minPassRate
              ? ('pass' as const)
              : ('fail' as const),
      };
    }),
  );
  return {
    passed: results.filter((r) => r.verdict === 'pass').length,
    failed: results.filter((r) => r.verdict === 'fail').length,
    results,
  };
}

const criterionSchema = z.strictObject({
  structure: z.string().min(1).max(64).nullable().default(null),
  metric: z.enum(metricNames as [string, ...string[]]),
  comparator: z.enum(['>=', '<=']),
  threshold: z.number().finite(),
  minPassRate: z.number().gt(0).lte(1).default(1),
  note: z.string().max(2000).default(''),
});

export const criteriaSetSchema = z.strictObject({
  name: z.string().min(1).max(128),
  criteria: z.array(criterionSchema).max(500),
});

/**
 * Replaces a named acceptance criteria set (validated: known metrics and structures, one criterion per
 * structure and metric). Returns the stored criteria.
 */
export async function saveCriteriaSet(
  db: Db,
  input: unknown,
  source = 'criteria',
): Promise<{ name: string; criteria: AcceptanceCriterion[] }> {
  const parsed = criteriaSetSchema.safeParse(input);
  if (!parsed.success)
    throw new AppError('INVALID_INPUT', `${source}: ${describeIssues(parsed.error.issues, 'body')}`);
  const { name, criteria } = parsed.data;
  const structureNames = [
    ...new Set(criteria.map((c) => c.structure).filter((s): s is string => s !== null)),
  ];
  const ids = await findStructureIdsByName(db, structureNames);
  const unknown = structureNames.filter((s) => !ids.has(s));
  if (unknown.length > 0)
    throw new AppError(
      'INVALID_INPUT',
      `${source}: unknown structure(s) ${unknown.join(', ')} (TG-263 names)`,
    );
  const seen = new Set<string>();
  for (const c of criteria) {
    const key = `${c.structure ?? '*'}|${c.metric}`;
    if (seen.has(key))
      throw new AppError(
        'INVALID_INPUT',
        `${source}: two criteria for ${c.structure ?? 'every structure'} on ${c.metric}`,
      );
    seen.add(key);
  }
  await replaceCriteria(
    db,
    name,
    criteria.map((c) => ({ ...c, structureId: c.structure === null ? null : ids.get(c.structure)! })),
  );
  return { name, criteria: await findCriteria(db, name) };
}

export async function criteriaSets(db: Db) {
  const sets = await listCriteriaSets(db);
  return Promise.all(sets.map(async (s) => ({ name: s.name, criteria: await findCriteria(db, s.name) })));
}

/**
 * One model version against a named acceptance criteria set (the commissioning report of a single
 * model): per structure and criterion, cases, passed, failed, pass rate and verdict.
 */
export async function evaluateCriteria(
  db: Db,
  options: { model: ModelFilter; filter: MetricRowFilter; reference: ReferenceChoice; criteriaSet: string },
) {
  const criteria = await findCriteria(db, options.criteriaSet);
  if (criteria.length === 0)
    throw new AppError('NOT_FOUND', `acceptance criteria set "${options.criteriaSet}" has no criteria`);
  const metrics = [...new Set(criteria.map((c) => c.metric))].map(metricDefinition);
  const rows = await findMetricValues(db, metrics, {
    ...options.filter,
    ...referenceFilter(options.reference),
    models: [options.model],
    testSource: 'model',
  });
  const grouped = new Map(
    metrics.map((metric, i) => [
      metric.name,
      groupBy(caseValues(metric, rows, i).values(), (v) => v.row.structure),
    ]),
  );
  const structures = [...new Set(rows.map((r) => r.structure))].sort();
  return {
    criteriaSet: options.criteriaSet,
    ...acceptanceOutcome(criteria, structures, metrics, (metric, structure) =>
      (grouped.get(metric)!.get(structure) ?? []).map((v) => v.value),
    ),
  };
}
