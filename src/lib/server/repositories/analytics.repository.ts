import { type Expression, type Kysely, sql, type SqlBool, type Transaction } from 'kysely';
import { toleranceKey } from '../../core/metrics/metric-json';
import type { MetricDefinition } from '../../core/metrics/metric-catalogue';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import type { ContourSetSource, Database } from '../db/schema';
import type { CaseValues } from './case.repository';

type Db = Kysely<Database> | Transaction<Database>;

/** A model as NAME (every version) or NAME@VERSION. */
export interface ModelFilter {
  name: string;
  version?: string;
}

/** Which metric rows an analysis reads; every field narrows, none widens. */
export interface MetricRowFilter {
  structures?: readonly string[];
  sites?: readonly string[];
  /** observer codes; a row matches when its test or its reference set is that observer's */
  observers?: readonly string[];
  models?: readonly ModelFilter[];
  /** observer codes of the reference set only */
  referenceObservers?: readonly string[];
  cohort?: string;
  /** the source of the test (candidate) set */
  testSource?: ContourSetSource;
  /** the source of the reference set */
  referenceSource?: ContourSetSource;
  /** the date a row is placed at: the case's acquisition date, or when the metric was computed */
  dateField?: 'acquisition' | 'evaluation';
  /** inclusive calendar days 'YYYY-MM-DD' */
  from?: string;
  to?: string;
  evaluationRunId?: number;
  /** only rows against the reference a frozen cohort version chose for the case and structure */
  cohortVersion?: { cohort: string; version: number };
}

/** One metric row as analyses read it: only what they group and order by, to keep 100,000 rows light. */
export interface MetricValueRow {
  caseId: number;
  casePseudonym: string;
  site: string;
  /** 'YYYY-MM-DD': the acquisition date, or the day the metric was computed (filter.dateField) */
  date: string;
  structure: string;
  testSource: ContourSetSource;
  testObserver: string | null;
  /** NAME@VERSION of the test set's model, null for other sources */
  model: string | null;
  referenceEmpty: boolean;
  testEmpty: boolean;
  /** one value per requested metric, in the order asked */
  values: Array<number | null>;
}

/** The SQL expression of a catalogue metric over the metric table aliased m. */
function metricExpression(d: MetricDefinition) {
  if (d.jsonKey !== undefined) {
    const value = sql<number | null>`(${sql.ref(`m.${d.column}`)} ->> ${d.jsonKey})::float8`;
    return d.absolute ? sql<number | null>`abs(${value})` : value;
  }
  if (d.toleranceMm === undefined) return sql<number | null>`${sql.ref(`m.${d.column}`)}`;
  return sql<number | null>`(${sql.ref(`m.${d.column}`)} ->> ${toleranceKey(d.toleranceMm)})::float8`;
}

/** The case (a column reference) belongs to the cohort of that name. */
function inCohort(caseIdColumn: string, cohort: string) {
  return sql<SqlBool>`exists (select 1 from cohort_case cc join cohort co on co.id = cc.cohort_id
    where cc.case_id = ${sql.ref(caseIdColumn)} and co.name = ${cohort})`;
}

/**
 * The model version in `versionColumn` is one of these models: a subquery on model_version, so the
 * planner starts from those versions' contour sets instead of filtering every model row late.
 */
function modelMatches(versionColumn: string, models: readonly ModelFilter[]) {
  const each = models.map((m) =>
    m.version === undefined
      ? sql`fmo.name = ${m.name}`
      : sql`(fmo.name = ${m.name} and fmv.version = ${m.version})`,
  );
  return sql<SqlBool>`${sql.ref(versionColumn)} in (select fmv.id from model_version fmv
    join model fmo on fmo.id = fmv.model_id where ${sql.join(each, sql` or `)})`;
}

/**
 * The filter clauses every analytics query shares, over its aliases: structure (st), site (s), case (c,
 * or `caseId`), the day a row is placed at (`day`) and, where given, the observer column.
 */
export function caseClauses(
  filter: Pick<MetricRowFilter, 'structures' | 'sites' | 'cohort' | 'from' | 'to' | 'observers'>,
  columns: { caseId: string; day: ReturnType<typeof sql>; observer?: string },
): Expression<SqlBool>[] {
  const clauses: Expression<SqlBool>[] = [];
  if (filter.structures?.length)
    clauses.push(sql<SqlBool>`st.tg263_name in (${sql.join(filter.structures)})`);
  if (filter.sites?.length) clauses.push(sql<SqlBool>`s.code in (${sql.join(filter.sites)})`);
  if (filter.observers?.length && columns.observer !== undefined)
    clauses.push(sql<SqlBool>`${sql.ref(columns.observer)} in (${sql.join(filter.observers)})`);
  if (filter.cohort !== undefined) clauses.push(inCohort(columns.caseId, filter.cohort));
  if (filter.from !== undefined) clauses.push(sql<SqlBool>`${columns.day} >= ${filter.from}::date`);
  if (filter.to !== undefined) clauses.push(sql<SqlBool>`${columns.day} <= ${filter.to}::date`);
  return clauses;
}

/** The day a row is placed at (filter.dateField). */
function dateExpression(filter: MetricRowFilter) {
  return filter.dateField === 'evaluation'
    ? sql<string>`(m.computed_at at time zone 'UTC')::date`
    : sql<string>`c.acquisition_date`;
}

function baseQuery(db: Db, filter: MetricRowFilter) {
  const dateColumn = dateExpression(filter);
  // Every metric row has its case, site and structure (not-null foreign keys), so left joins give the
  // same rows, and Postgres drops a left join whose columns a query never uses: an aggregate that needs
  // no site names does not pay for joining them.
  return db
    .selectFrom('metric as m')
    .leftJoin('patient_case as c', 'c.id', 'm.case_id')
    .leftJoin('site as s', 's.id', 'c.site_id')
    .leftJoin('structure as st', 'st.id', 'm.structure_id')
    .innerJoin('contour_set as ts', 'ts.id', 'm.test_set_id')
    .innerJoin('contour_set as rs', 'rs.id', 'm.reference_set_id')
    .leftJoin('observer as tob', 'tob.id', 'ts.observer_id')
    .leftJoin('observer as rob', 'rob.id', 'rs.observer_id')
    .leftJoin('model_version as mv', 'mv.id', 'ts.model_version_id')
    .leftJoin('model as mo', 'mo.id', 'mv.model_id')
    .where('m.definition_version', '=', metricDefinitionVersion)
    .where((eb) => {
      const clauses = caseClauses(
        { ...filter, observers: undefined },
        { caseId: 'm.case_id', day: dateColumn },
      );
      if (filter.observers?.length)
        clauses.push(
          eb.or([eb('tob.code', 'in', [...filter.observers]), eb('rob.code', 'in', [...filter.observers])]),
        );
      if (filter.referenceObservers?.length)
        clauses.push(eb('rob.code', 'in', [...filter.referenceObservers]));
      if (filter.models?.length) clauses.push(modelMatches('ts.model_version_id', filter.models));
      if (filter.testSource !== undefined) clauses.push(eb('ts.source', '=', filter.testSource));
      if (filter.referenceSource !== undefined) clauses.push(eb('rs.source', '=', filter.referenceSource));
      if (filter.evaluationRunId !== undefined)
        clauses.push(eb('m.evaluation_run_id', '=', filter.evaluationRunId));
      if (filter.cohortVersion !== undefined)
        clauses.push(sql<SqlBool>`exists (select 1 from cohort_version_reference vr
          join cohort_version v on v.id = vr.cohort_version_id join cohort co on co.id = v.cohort_id
          where co.name = ${filter.cohortVersion.cohort} and v.version = ${filter.cohortVersion.version}
            and vr.case_id = m.case_id and vr.structure_id = m.structure_id
            and vr.contour_set_id = m.reference_set_id)`);
      return eb.and(clauses);
    });
}

/**
 * The values of the metrics on every matching row, with what analyses group by (site, structure, test
 * observer or model, date), in no particular order.
 */
export async function findMetricValues(
  db: Db,
  metrics: readonly MetricDefinition[],
  filter: MetricRowFilter,
): Promise<MetricValueRow[]> {
  const rows = await baseQuery(db, filter)
    .select([
      'm.case_id as caseId',
      'c.pseudonym as casePseudonym',
      's.code as site',
      sql<string>`coalesce(${dateExpression(filter)}, (m.computed_at at time zone 'UTC')::date)::text`.as(
        'date',
      ),
      'st.tg263_name as structure',
      'ts.source as testSource',
      'tob.code as testObserver',
      sql<string | null>`mo.name || '@' || mv.version`.as('model'),
      'm.reference_empty as referenceEmpty',
      'm.test_empty as testEmpty',
      sql<Array<number | null>>`array[${sql.join(metrics.map(metricExpression))}]::float8[]`.as('values'),
    ])
    .execute();
  return rows as MetricValueRow[];
}

/** Every stored column of the matching metric rows (the /metrics export), with the same grouping fields. */
export async function findMetricRows(
  db: Db,
  filter: MetricRowFilter,
  page: { limit: number; offset: number },
) {
  return baseQuery(db, filter)
    .select([
      'm.id as metricId',
      'c.pseudonym as case',
      's.code as site',
      'c.acquisition_date as acquisitionDate',
      'st.tg263_name as structure',
      'rs.source as referenceSource',
      'rob.code as referenceObserver',
      'rs.variant as referenceVariant',
      'ts.source as testSource',
      'tob.code as testObserver',
      'mo.name as model',
      'mv.version as modelVersion',
      'm.evaluation_run_id as evaluationRunId',
      'm.definition_version as definitionVersion',
      'm.reference_empty as referenceEmpty',
      'm.test_empty as testEmpty',
      'm.detected',
      'm.reference_volume_cc as referenceVolumeCc',
      'm.test_volume_cc as testVolumeCc',
      'm.volume_diff_cc as volumeDiffCc',
      'm.volume_diff_pct as volumeDiffPct',
      'm.dice',
      'm.jaccard',
      'm.sensitivity',
      'm.precision',
      'm.hd95_mm as hd95Mm',
      'm.hd_max_mm as hdMaxMm',
      'm.hd95_voxel_centre_mm as hd95VoxelCentreMm',
      'm.msd_mean_mm as msdMeanMm',
      'm.assd_mm as assdMm',
      'm.surface_dice as surfaceDice',
      'm.apl_contour_mm as aplContourMm',
      'm.centroid_shift_mm as centroidShiftMm',
      'm.computed_at as computedAt',
    ])
    .orderBy('m.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
}

export async function countMetricRows(db: Db, filter: MetricRowFilter): Promise<number> {
  const row = await baseQuery(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface PairAggregateRow {
  structure: string;
  referenceObserver: string | null;
  testObserver: string | null;
  referenceSource: ContourSetSource;
  missed: number;
  /** per metric asked: defined values and their quartiles [q1, median, q3] (percentile_cont) */
  n: number[];
  quartiles: Array<[number, number, number] | null>;
}

/** The metric's value with a missed structure's value for a missed structure, null when undefined. */
function analysisExpression(metric: MetricDefinition) {
  const missed = metric.missedValue === null ? sql`null` : sql`${metric.missedValue}::float8`;
  return sql<
    number | null
  >`(case when m.reference_empty then null when m.test_empty then ${missed} else ${metricExpression(metric)} end)`;
}

/**
 * Quartiles (percentile_cont) of each metric per structure and pair of observers (reference observer,
 * test observer; null for a consensus reference) in one scan: the inter-observer matrices and each
 * observer against the consensus. Missed structures count in `missed` and enter the quartiles with the
 * metric's missed value.
 */
export async function aggregateObserverPairs(
  db: Db,
  metrics: readonly MetricDefinition[],
  filter: MetricRowFilter,
): Promise<PairAggregateRow[]> {
  const values = metrics.map(analysisExpression);
  const rows = await baseQuery(db, { ...filter, testSource: 'physician' })
    .select([
      'st.tg263_name as structure',
      'rob.code as referenceObserver',
      'tob.code as testObserver',
      'rs.source as referenceSource',
      sql<number>`count(*) filter (where m.test_empty and not m.reference_empty)::int`.as('missed'),
      sql<number[]>`array[${sql.join(values.map((v) => sql`count(${v})`))}]::int[]`.as('n'),
      ...values.map((v, i) =>
        sql<number[] | null>`percentile_cont(array[0.25, 0.5, 0.75]) within group (order by ${v})`.as(
          `q${i}`,
        ),
      ),
    ])
    .where('rs.source', 'in', ['physician', 'consensus'])
    .groupBy(['st.tg263_name', 'rob.code', 'tob.code', 'rs.source'])
    .orderBy('st.tg263_name')
    .orderBy('rob.code')
    .orderBy('tob.code')
    .execute();
  return rows.map((row) => {
    const r = row as unknown as Record<string, unknown>;
    return {
      structure: row.structure!,
      referenceObserver: row.referenceObserver,
      testObserver: row.testObserver,
      referenceSource: row.referenceSource,
      missed: row.missed,
      n: row.n,
      quartiles: metrics.map((_, i) => (r[`q${i}`] as [number, number, number] | null) ?? null),
    };
  });
}

export interface RaterPerformanceRow {
  structure: string;
  observer: string;
  cases: number;
  sensitivityMedian: number;
  specificityMedian: number;
  converged: number;
}

/** Median STAPLE sensitivity and specificity per structure and observer over the filtered cases. */
export async function aggregateRaterPerformance(
  db: Db,
  filter: Pick<MetricRowFilter, 'structures' | 'sites' | 'cohort' | 'observers' | 'from' | 'to'>,
): Promise<RaterPerformanceRow[]> {
  const rows = await db
    .selectFrom('consensus_rater as cr')
    .innerJoin('contour_set as cs', 'cs.id', 'cr.consensus_set_id')
    .innerJoin('contour_set as rs', 'rs.id', 'cr.rater_set_id')
    .innerJoin('observer as o', 'o.id', 'rs.observer_id')
    .innerJoin('structure as st', 'st.id', 'cr.structure_id')
    .innerJoin('patient_case as c', 'c.id', 'cs.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select([
      'st.tg263_name as structure',
      'o.code as observer',
      sql<number>`count(*)::int`.as('cases'),
      sql<number>`percentile_cont(0.5) within group (order by cr.sensitivity)`.as('sensitivityMedian'),
      sql<number>`percentile_cont(0.5) within group (order by cr.specificity)`.as('specificityMedian'),
      sql<number>`count(*) filter (where cr.converged)::int`.as('converged'),
    ])
    .where((eb) => {
      const clauses = caseClauses(filter, {
        caseId: 'c.id',
        day: sql`c.acquisition_date`,
        observer: 'o.code',
      });
      return eb.and(clauses);
    })
    .groupBy(['st.tg263_name', 'o.code'])
    .orderBy('st.tg263_name')
    .orderBy('o.code')
    .execute();
  return rows as RaterPerformanceRow[];
}

export type CaseFeatureRow = {
  caseId: number;
  site: string;
  acquisitionDate: string | null;
  noiseStdHu: number | null;
} & Pick<
  CaseValues,
  | 'manufacturer'
  | 'scannerModel'
  | 'convolutionKernel'
  | 'kvp'
  | 'sliceThicknessMm'
  | 'pixelSpacingMm'
  | 'huMean'
  | 'huStd'
  | 'huP05'
  | 'huP50'
  | 'huP95'
>;

/** The scanner fields and image statistics of the cases of a cohort and sites (no date filter: callers split by date). */
export async function findCaseFeatures(
  db: Db,
  filter: Pick<MetricRowFilter, 'cohort' | 'sites'>,
): Promise<CaseFeatureRow[]> {
  const rows = await db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select([
      'c.id as caseId',
      's.code as site',
      'c.acquisition_date as acquisitionDate',
      'c.manufacturer',
      'c.scanner_model as scannerModel',
      'c.convolution_kernel as convolutionKernel',
      'c.kvp',
      'c.slice_thickness_mm as sliceThicknessMm',
      'c.pixel_spacing_mm as pixelSpacingMm',
      'c.hu_mean as huMean',
      'c.hu_std as huStd',
      'c.hu_p05 as huP05',
      'c.hu_p50 as huP50',
      'c.hu_p95 as huP95',
      'c.noise_std_hu as noiseStdHu',
    ])
    .where((eb) => {
      // cases only: a structure or date in the caller's filter is not a case feature
      const clauses = caseClauses(
        { cohort: filter.cohort, sites: filter.sites },
        { caseId: 'c.id', day: sql`c.acquisition_date` },
      );
      return eb.and(clauses);
    })
    .orderBy('c.acquisition_date')
    .orderBy('c.id')
    .execute();
  return rows as CaseFeatureRow[];
}

export interface EditingEffortRow {
  sessionId: number;
  caseId: number;
  site: string;
  observer: string;
  structure: string;
  mode: 'from_scratch' | 'editing_ai' | 'editing_other';
  activeSeconds: number;
  startedAt: Date;
  acquisitionDate: string | null;
  model: string | null;
  modelVersion: string | null;
  /** APL (contour model, mm) and surface Dice of the edited set against the result, at the tolerances asked */
  aplMm: number | null;
  surfaceDice: number | null;
}

/**
 * Editing sessions with a structure, with, for corrections of another set (from_set), the APL and surface
 * Dice of that set against the corrected result (the metric row reference = to_set, test = from_set).
 */
export async function findEditingEffort(
  db: Db,
  filter: Pick<MetricRowFilter, 'structures' | 'sites' | 'observers' | 'cohort' | 'from' | 'to' | 'models'>,
  tolerances: { aplMm: number; surfaceDiceMm: number },
): Promise<EditingEffortRow[]> {
  const rows = await db
    .selectFrom('editing_session as es')
    .innerJoin('patient_case as c', 'c.id', 'es.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .innerJoin('observer as o', 'o.id', 'es.observer_id')
    .innerJoin('structure as st', 'st.id', 'es.structure_id')
    .leftJoin('contour_set as fs', 'fs.id', 'es.from_set_id')
    .leftJoin('model_version as mv', 'mv.id', 'fs.model_version_id')
    .leftJoin('model as mo', 'mo.id', 'mv.model_id')
    .leftJoin('metric as m', (join) =>
      join
        .onRef('m.reference_set_id', '=', 'es.to_set_id')
        .onRef('m.test_set_id', '=', 'es.from_set_id')
        .onRef('m.structure_id', '=', 'es.structure_id')
        .on('m.definition_version', '=', metricDefinitionVersion),
    )
    .select([
      'es.id as sessionId',
      'es.case_id as caseId',
      's.code as site',
      'o.code as observer',
      'st.tg263_name as structure',
      'es.mode',
      'es.active_seconds as activeSeconds',
      'es.started_at as startedAt',
      'c.acquisition_date as acquisitionDate',
      'mo.name as model',
      'mv.version as modelVersion',
      sql<number | null>`(m.apl_contour_mm ->> ${toleranceKey(tolerances.aplMm)})::float8`.as('aplMm'),
      sql<number | null>`(m.surface_dice ->> ${toleranceKey(tolerances.surfaceDiceMm)})::float8`.as(
        'surfaceDice',
      ),
    ])
    .where((eb) => {
      const clauses = caseClauses(filter, {
        caseId: 'c.id',
        day: sql`c.acquisition_date`,
        observer: 'o.code',
      });
      // the model filter narrows corrections of model contours; manual sessions stay for comparison
      if (filter.models?.length)
        clauses.push(
          eb.or([eb('es.mode', '<>', 'editing_ai'), modelMatches('fs.model_version_id', filter.models)]),
        );
      return eb.and(clauses);
    })
    .orderBy('es.id')
    .execute();
  return rows as EditingEffortRow[];
}

export interface EnvelopeRow {
  caseId: number;
  structure: string;
  model: string;
  /** per metric asked, the model's value */
  modelValues: Array<number | null>;
  /** per physician of the case, per metric asked, the physician's value */
  observerValues: Array<Array<number | null>>;
}

/**
 * Per case, structure and model, everything against the case's consensus: the model's value of each
 * metric beside every physician's (missed structures with the metric's missed value), for the human
 * envelope. Grouped in SQL by case and structure without sorting inside the groups.
 */
export async function findEnvelopeRows(
  db: Db,
  metrics: readonly MetricDefinition[],
  filter: MetricRowFilter,
): Promise<EnvelopeRow[]> {
  const rows = baseQuery(db, { ...filter, referenceSource: 'consensus' })
    .select([
      'm.case_id as case_id',
      'm.structure_id as structure_id',
      'ts.source as source',
      sql<string | null>`mo.name || '@' || mv.version`.as('model'),
      sql`array[${sql.join(metrics.map(analysisExpression))}]::float8[]`.as('v'),
    ])
    .where('ts.source', 'in', ['model', 'physician']);
  const result = await sql<{
    caseId: number;
    structure: string;
    models: string[] | null;
    modelValues: Array<Array<number | null>> | null;
    observerValues: Array<Array<number | null>> | null;
  }>`
    with r as (${rows})
    select r.case_id as "caseId", st.tg263_name as structure,
      array_agg(r.model) filter (where r.source = 'model') as models,
      array_agg(r.v) filter (where r.source = 'model') as "modelValues",
      array_agg(r.v) filter (where r.source = 'physician') as "observerValues"
    from r join structure st on st.id = r.structure_id
    group by r.case_id, st.tg263_name`.execute(db);
  return result.rows.flatMap((row) =>
    (row.models ?? []).map((model, m) => ({
      caseId: row.caseId,
      structure: row.structure,
      model,
      modelValues: row.modelValues![m]!,
      observerValues: row.observerValues ?? [],
    })),
  );
}

/** The version of everything the analytics read (raised by each committed transaction that changes it). */
export async function findAnalyticsVersion(db: Db): Promise<number> {
  const row = await db.selectFrom('analytics_version').select('version').executeTakeFirstOrThrow();
  return Number(row.version);
}

export interface AnalyticsOptions {
  models: string[];
  structures: string[];
  sites: string[];
  observers: string[];
  cohorts: string[];
}

/** What the filters can choose from: model versions, structures, sites, observers and cohorts with data. */
export async function findAnalyticsOptions(db: Db): Promise<AnalyticsOptions> {
  const result = await sql<AnalyticsOptions>`
    select
      coalesce((select array_agg(label order by label) from (
        select distinct mo.name || '@' || mv.version as label from model_version mv join model mo on mo.id = mv.model_id
        where exists (select 1 from contour_set cs where cs.model_version_id = mv.id)) x), '{}') as models,
      coalesce((select array_agg(tg263_name order by tg263_name) from structure st
        where exists (select 1 from metric m where m.structure_id = st.id)), '{}') as structures,
      coalesce((select array_agg(code order by code) from site s
        where exists (select 1 from patient_case c where c.site_id = s.id)), '{}') as sites,
      coalesce((select array_agg(distinct code order by code) from observer o
        where exists (select 1 from contour_set cs where cs.observer_id = o.id)), '{}') as observers,
      coalesce((select array_agg(name order by name) from cohort), '{}') as cohorts`.execute(db);
  return result.rows[0]!;
}
