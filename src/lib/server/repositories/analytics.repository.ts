import { type Expression, type Kysely, sql, type SqlBool, type Transaction } from 'kysely';
import { toleranceKey } from '../../core/metrics/metric-json';
import type { MetricDefinition } from '../../core/metrics/metric-catalogue';
import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import type { ContourSetSource, Database } from '../db/schema';

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
}

export interface MetricValueRow {
  metricId: number;
  caseId: number;
  casePseudonym: string;
  site: string;
  acquisitionDate: string | null;
  computedAt: Date;
  structure: string;
  referenceSetId: number;
  referenceSource: ContourSetSource;
  referenceObserver: string | null;
  testSetId: number;
  testSource: ContourSetSource;
  testObserver: string | null;
  model: string | null;
  modelVersion: string | null;
  modelVersionId: number | null;
  evaluationRunId: number | null;
  referenceEmpty: boolean;
  testEmpty: boolean;
  /** one value per requested metric, in the order asked */
  values: Array<number | null>;
}

/** The SQL expression of a catalogue metric over the metric table aliased m. */
function metricExpression(d: MetricDefinition) {
  if (d.toleranceMm === undefined) return sql<number | null>`${sql.ref(`m.${d.column}`)}`;
  return sql<number | null>`(${sql.ref(`m.${d.column}`)} ->> ${toleranceKey(d.toleranceMm)})::float8`;
}

/** The case (a column reference) belongs to the cohort of that name. */
function inCohort(caseIdColumn: string, cohort: string) {
  return sql<SqlBool>`exists (select 1 from cohort_case cc join cohort co on co.id = cc.cohort_id
    where cc.case_id = ${sql.ref(caseIdColumn)} and co.name = ${cohort})`;
}

function baseQuery(db: Db, filter: MetricRowFilter) {
  const dateColumn =
    filter.dateField === 'evaluation'
      ? sql`(m.computed_at at time zone 'UTC')::date`
      : sql`c.acquisition_date`;
  return db
    .selectFrom('metric as m')
    .innerJoin('patient_case as c', 'c.id', 'm.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .innerJoin('structure as st', 'st.id', 'm.structure_id')
    .innerJoin('contour_set as ts', 'ts.id', 'm.test_set_id')
    .innerJoin('contour_set as rs', 'rs.id', 'm.reference_set_id')
    .leftJoin('observer as tob', 'tob.id', 'ts.observer_id')
    .leftJoin('observer as rob', 'rob.id', 'rs.observer_id')
    .leftJoin('model_version as mv', 'mv.id', 'ts.model_version_id')
    .leftJoin('model as mo', 'mo.id', 'mv.model_id')
    .where('m.definition_version', '=', metricDefinitionVersion)
    .where((eb) => {
      const clauses: Expression<SqlBool>[] = [];
      if (filter.structures?.length) clauses.push(eb('st.tg263_name', 'in', [...filter.structures]));
      if (filter.sites?.length) clauses.push(eb('s.code', 'in', [...filter.sites]));
      if (filter.observers?.length)
        clauses.push(
          eb.or([eb('tob.code', 'in', [...filter.observers]), eb('rob.code', 'in', [...filter.observers])]),
        );
      if (filter.referenceObservers?.length)
        clauses.push(eb('rob.code', 'in', [...filter.referenceObservers]));
      if (filter.models?.length)
        clauses.push(
          eb.or(
            filter.models.map((model) =>
              model.version === undefined
                ? eb('mo.name', '=', model.name)
                : eb.and([eb('mo.name', '=', model.name), eb('mv.version', '=', model.version)]),
            ),
          ),
        );
      if (filter.cohort !== undefined) clauses.push(inCohort('m.case_id', filter.cohort));
      if (filter.testSource !== undefined) clauses.push(eb('ts.source', '=', filter.testSource));
      if (filter.referenceSource !== undefined) clauses.push(eb('rs.source', '=', filter.referenceSource));
      if (filter.from !== undefined) clauses.push(sql<SqlBool>`${dateColumn} >= ${filter.from}::date`);
      if (filter.to !== undefined) clauses.push(sql<SqlBool>`${dateColumn} <= ${filter.to}::date`);
      if (filter.evaluationRunId !== undefined)
        clauses.push(eb('m.evaluation_run_id', '=', filter.evaluationRunId));
      return eb.and(clauses);
    });
}

/**
 * The value of one metric on every matching row, with what analyses group by (site, structure, observers,
 * model version, dates), ordered by acquisition date, case and row. `limit`/`offset` page through it.
 */
export async function findMetricValues(
  db: Db,
  metrics: readonly MetricDefinition[],
  filter: MetricRowFilter,
  page: { limit?: number; offset?: number } = {},
): Promise<MetricValueRow[]> {
  let query = baseQuery(db, filter)
    .select([
      'm.id as metricId',
      'm.case_id as caseId',
      'c.pseudonym as casePseudonym',
      's.code as site',
      'c.acquisition_date as acquisitionDate',
      'm.computed_at as computedAt',
      'st.tg263_name as structure',
      'm.reference_set_id as referenceSetId',
      'rs.source as referenceSource',
      'rob.code as referenceObserver',
      'm.test_set_id as testSetId',
      'ts.source as testSource',
      'tob.code as testObserver',
      'mo.name as model',
      'mv.version as modelVersion',
      'mv.id as modelVersionId',
      'm.evaluation_run_id as evaluationRunId',
      'm.reference_empty as referenceEmpty',
      'm.test_empty as testEmpty',
      ...metrics.map((metric, i) => metricExpression(metric).as(`v${i}`)),
    ])
    .orderBy('c.acquisition_date')
    .orderBy('m.case_id')
    .orderBy('m.id');
  if (page.limit !== undefined) query = query.limit(page.limit);
  if (page.offset !== undefined) query = query.offset(page.offset);
  const rows = (await query.execute()) as Array<Omit<MetricValueRow, 'values'> & Record<string, unknown>>;
  return rows.map((row) => {
    const values = metrics.map((_, i) => row[`v${i}`] as number | null);
    for (let i = 0; i < metrics.length; i += 1) delete row[`v${i}`];
    return { ...row, values } as MetricValueRow;
  });
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
  n: number;
  missed: number;
  median: number | null;
  q1: number | null;
  q3: number | null;
}

/**
 * Median and quartiles (percentile_cont) of a metric per structure and pair of observers (reference
 * observer, test observer; null for a consensus reference): the inter-observer matrix in one query.
 * Missed structures count in `missed` and enter the quantiles with the metric's missed value.
 */
export async function aggregateObserverPairs(
  db: Db,
  metric: MetricDefinition,
  filter: MetricRowFilter,
): Promise<PairAggregateRow[]> {
  const missed = metric.missedValue === null ? sql`null` : sql`${metric.missedValue}::float8`;
  const value = sql<
    number | null
  >`case when m.reference_empty then null when m.test_empty then ${missed} else ${metricExpression(metric)} end`;
  const rows = await baseQuery(db, { ...filter, testSource: 'physician' })
    .select([
      'st.tg263_name as structure',
      'rob.code as referenceObserver',
      'tob.code as testObserver',
      'rs.source as referenceSource',
      sql<number>`count(${value})::int`.as('n'),
      sql<number>`count(*) filter (where m.test_empty and not m.reference_empty)::int`.as('missed'),
      sql<number | null>`percentile_cont(0.5) within group (order by ${value})`.as('median'),
      sql<number | null>`percentile_cont(0.25) within group (order by ${value})`.as('q1'),
      sql<number | null>`percentile_cont(0.75) within group (order by ${value})`.as('q3'),
    ])
    .where('rs.source', 'in', ['physician', 'consensus'])
    .groupBy(['st.tg263_name', 'rob.code', 'tob.code', 'rs.source'])
    .orderBy('st.tg263_name')
    .orderBy('rob.code')
    .orderBy('tob.code')
    .execute();
  return rows as PairAggregateRow[];
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
      const clauses: Expression<SqlBool>[] = [];
      if (filter.structures?.length) clauses.push(eb('st.tg263_name', 'in', [...filter.structures]));
      if (filter.sites?.length) clauses.push(eb('s.code', 'in', [...filter.sites]));
      if (filter.observers?.length) clauses.push(eb('o.code', 'in', [...filter.observers]));
      if (filter.cohort !== undefined) clauses.push(inCohort('c.id', filter.cohort));
      if (filter.from !== undefined) clauses.push(sql<SqlBool>`c.acquisition_date >= ${filter.from}::date`);
      if (filter.to !== undefined) clauses.push(sql<SqlBool>`c.acquisition_date <= ${filter.to}::date`);
      return eb.and(clauses);
    })
    .groupBy(['st.tg263_name', 'o.code'])
    .orderBy('st.tg263_name')
    .orderBy('o.code')
    .execute();
  return rows as RaterPerformanceRow[];
}

export interface CaseFeatureRow {
  caseId: number;
  site: string;
  acquisitionDate: string | null;
  manufacturer: string | null;
  scannerModel: string | null;
  convolutionKernel: string | null;
  kvp: number | null;
  sliceThicknessMm: number | null;
  pixelSpacingMm: number | null;
  huMean: number | null;
  huStd: number | null;
  huP05: number | null;
  huP50: number | null;
  huP95: number | null;
  noiseStdHu: number | null;
}

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
      const clauses: Expression<SqlBool>[] = [];
      if (filter.sites?.length) clauses.push(eb('s.code', 'in', [...filter.sites]));
      if (filter.cohort !== undefined) clauses.push(inCohort('c.id', filter.cohort));
      return eb.and(clauses);
    })
    .orderBy('c.acquisition_date')
    .orderBy('c.id')
    .execute();
  return rows as CaseFeatureRow[];
}
