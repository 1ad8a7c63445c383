import { sql, type Kysely, type Transaction } from 'kysely';
import type {
  CaseLaterality,
  ContourSetSource,
  Database,
  StructureCategory,
  SurgeryType,
} from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface CaseListFilter {
  sites?: string[];
  cohort?: string;
}

export interface CaseListRow {
  id: number;
  site: string;
  pseudonym: string;
  acquisitionDate: string | null;
  laterality: CaseLaterality | null;
  surgeryType: SurgeryType | null;
  contourSets: number;
  physicianSets: number;
  modelSets: number;
  hasImage: boolean;
}

/** Cases with their site and how many contour sets of each kind they hold, newest acquisition first. */
export async function findCaseList(db: Db, filter: CaseListFilter, limit: number): Promise<CaseListRow[]> {
  let query = db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select((eb) => [
      'c.id',
      's.code as site',
      'c.pseudonym',
      'c.acquisition_date as acquisitionDate',
      'c.laterality',
      'c.surgery_type as surgeryType',
      eb
        .selectFrom('contour_set as cs')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('cs.case_id', '=', 'c.id')
        .as('contourSets'),
      eb
        .selectFrom('contour_set as cs')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('cs.case_id', '=', 'c.id')
        .where('cs.source', '=', 'physician')
        .as('physicianSets'),
      eb
        .selectFrom('contour_set as cs')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('cs.case_id', '=', 'c.id')
        .where('cs.source', '=', 'model')
        .as('modelSets'),
      eb
        .exists(
          eb
            .selectFrom('image_series as i')
            .select('i.id')
            .whereRef('i.case_id', '=', 'c.id')
            .where('i.volume_blob_sha256', 'is not', null),
        )
        .as('hasImage'),
    ]);
  if (filter.sites !== undefined && filter.sites.length > 0)
    query = query.where('s.code', 'in', filter.sites);
  if (filter.cohort !== undefined) {
    const cohort = filter.cohort;
    query = query.where((eb) =>
      eb.exists(
        eb
          .selectFrom('cohort_case as cc')
          .innerJoin('cohort as co', 'co.id', 'cc.cohort_id')
          .select('cc.case_id')
          .whereRef('cc.case_id', '=', 'c.id')
          .where('co.name', '=', cohort),
      ),
    );
  }
  const rows = await query
    .orderBy(sql`c.acquisition_date desc nulls last`)
    .orderBy('s.code')
    .orderBy('c.pseudonym')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    ...r,
    contourSets: r.contourSets ?? 0,
    physicianSets: r.physicianSets ?? 0,
    modelSets: r.modelSets ?? 0,
    hasImage: Boolean(r.hasImage),
  }));
}

/** Site codes that hold cases, and every cohort name: what the case list's filters offer. */
export async function findCaseListOptions(db: Db): Promise<{ sites: string[]; cohorts: string[] }> {
  const [sites, cohorts] = await Promise.all([
    db
      .selectFrom('site as s')
      .select('s.code')
      .where((eb) =>
        eb.exists(eb.selectFrom('patient_case as c').select('c.id').whereRef('c.site_id', '=', 's.id')),
      )
      .orderBy('s.code')
      .execute(),
    db.selectFrom('cohort').select('name').orderBy('name').execute(),
  ]);
  return { sites: sites.map((s) => s.code), cohorts: cohorts.map((c) => c.name) };
}

export interface ViewerCase {
  id: number;
  site: string;
  pseudonym: string;
  acquisitionDate: string | null;
  laterality: CaseLaterality | null;
  surgeryType: SurgeryType | null;
  protocol: string | null;
  scanner: string | null;
  convolutionKernel: string | null;
  cohorts: string[];
}

export async function findViewerCase(db: Db, caseId: number): Promise<ViewerCase | undefined> {
  const row = await db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select((eb) => [
      'c.id',
      's.code as site',
      'c.pseudonym',
      'c.acquisition_date as acquisitionDate',
      'c.laterality',
      'c.surgery_type as surgeryType',
      'c.protocol',
      sql<string | null>`nullif(concat_ws(' ', c.manufacturer, c.scanner_model), '')`.as('scanner'),
      'c.convolution_kernel as convolutionKernel',
      eb
        .selectFrom('cohort_case as cc')
        .innerJoin('cohort as co', 'co.id', 'cc.cohort_id')
        .select(sql<string[]>`coalesce(array_agg(co.name order by co.name), '{}')`.as('names'))
        .whereRef('cc.case_id', '=', 'c.id')
        .as('cohorts'),
    ])
    .where('c.id', '=', caseId)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...row, cohorts: row.cohorts ?? [] };
}

/** Position of each slice along the normal (mm) of an image series. */
export async function findSlicePositions(db: Db, seriesId: number): Promise<number[]> {
  const row = await db
    .selectFrom('image_series')
    .select('slice_positions_mm')
    .where('id', '=', seriesId)
    .executeTakeFirst();
  return row?.slice_positions_mm ?? [];
}

export interface ViewerContourSet {
  id: number;
  source: ContourSetSource;
  variant: string;
  label: string;
  observerCode: string | null;
  modelName: string | null;
  modelVersion: string | null;
  parentSetId: number | null;
}

/**
 * The contour sets of a case drawn on an image series (or on no recorded series), physicians first,
 * then consensus, models and corrections, each in creation order.
 */
export async function findViewerContourSets(
  db: Db,
  caseId: number,
  seriesId: number,
): Promise<ViewerContourSet[]> {
  return db
    .selectFrom('contour_set as cs')
    .leftJoin('observer as o', 'o.id', 'cs.observer_id')
    .leftJoin('model_version as mv', 'mv.id', 'cs.model_version_id')
    .leftJoin('model as m', 'm.id', 'mv.model_id')
    .select([
      'cs.id',
      'cs.source',
      'cs.variant',
      'cs.label',
      'o.code as observerCode',
      'm.name as modelName',
      'mv.version as modelVersion',
      'cs.parent_set_id as parentSetId',
    ])
    .where('cs.case_id', '=', caseId)
    .where((eb) => eb.or([eb('cs.image_series_id', '=', seriesId), eb('cs.image_series_id', 'is', null)]))
    .orderBy(
      sql`case cs.source when 'physician' then 0 when 'consensus' then 1 when 'model' then 2 else 3 end`,
    )
    .orderBy('o.code')
    .orderBy('cs.id')
    .execute();
}

export interface ViewerContour {
  setId: number;
  structureId: number;
  structure: string;
  category: StructureCategory;
  maskBlobSha256: string;
  volumeCc: number;
  voxelCount: number;
  /** [i0, j0, k0, i1, j1, k1], inclusive; null for an empty mask */
  bboxIjk: number[] | null;
}

/** Every contour of these contour sets, by set and structure name. */
export async function findViewerContours(db: Db, setIds: readonly number[]): Promise<ViewerContour[]> {
  if (setIds.length === 0) return [];
  return db
    .selectFrom('contour as ct')
    .innerJoin('structure as st', 'st.id', 'ct.structure_id')
    .select([
      'ct.contour_set_id as setId',
      'ct.structure_id as structureId',
      'st.tg263_name as structure',
      'st.category',
      'ct.mask_blob_sha256 as maskBlobSha256',
      'ct.volume_cc as volumeCc',
      'ct.voxel_count as voxelCount',
      'ct.bbox_ijk as bboxIjk',
    ])
    .where('ct.contour_set_id', 'in', [...setIds])
    .orderBy('ct.contour_set_id')
    .orderBy('st.tg263_name')
    .execute();
}

export interface ViewerMetric {
  referenceSetId: number;
  testSetId: number;
  structureId: number;
  dice: number | null;
  hd95Mm: number | null;
  surfaceDice2Mm: number | null;
  referenceEmpty: boolean;
  testEmpty: boolean;
  hasAplSlices: boolean;
}

/**
 * The stored metrics between contour sets of a case: per reference set, test set and structure the most
 * recently computed row (a case may hold rows of several metric definition versions).
 */
export async function findViewerMetrics(db: Db, caseId: number): Promise<ViewerMetric[]> {
  const rows = await db
    .selectFrom('metric')
    .distinctOn(['reference_set_id', 'test_set_id', 'structure_id'])
    .select([
      'reference_set_id as referenceSetId',
      'test_set_id as testSetId',
      'structure_id as structureId',
      'dice',
      'hd95_mm as hd95Mm',
      sql<number | null>`(surface_dice->>'2')::double precision`.as('surfaceDice2Mm'),
      'reference_empty as referenceEmpty',
      'test_empty as testEmpty',
      sql<boolean>`apl_slices is not null and jsonb_typeof(apl_slices->'2') = 'array'`.as('hasAplSlices'),
    ])
    .where('case_id', '=', caseId)
    .orderBy('reference_set_id')
    .orderBy('test_set_id')
    .orderBy('structure_id')
    .orderBy('computed_at', 'desc')
    .execute();
  return rows;
}

/**
 * The per-axial-slice added path length (mm) at tolerance `toleranceKey` between two contour sets for one
 * structure, from the stored rows of either direction, the row with the first set as reference first.
 */
export async function findAplSlices(
  db: Db,
  values: { structureId: number; setA: number; setB: number; toleranceKey: string },
): Promise<Array<{ referenceSetId: number; testSetId: number; aplMmBySlice: number[] }>> {
  const rows = await db
    .selectFrom('metric')
    .select([
      'reference_set_id as referenceSetId',
      'test_set_id as testSetId',
      sql<number[] | null>`apl_slices->${values.toleranceKey}`.as('aplMmBySlice'),
    ])
    .where('structure_id', '=', values.structureId)
    .where((eb) =>
      eb.or([
        eb.and([eb('reference_set_id', '=', values.setA), eb('test_set_id', '=', values.setB)]),
        eb.and([eb('reference_set_id', '=', values.setB), eb('test_set_id', '=', values.setA)]),
      ]),
    )
    .orderBy(sql`reference_set_id = ${values.setA}`, 'desc')
    .orderBy('computed_at', 'desc')
    .execute();
  return rows
    .filter((r): r is typeof r & { aplMmBySlice: number[] } => Array.isArray(r.aplMmBySlice))
    .map((r) => ({ referenceSetId: r.referenceSetId, testSetId: r.testSetId, aplMmBySlice: r.aplMmBySlice }));
}

/** The site of a case, for access checks. */
export async function findCaseSite(
  db: Db,
  caseId: number,
): Promise<{ siteId: number; siteCode: string } | undefined> {
  return db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['s.id as siteId', 's.code as siteCode'])
    .where('c.id', '=', caseId)
    .executeTakeFirst();
}

/** The case and site of a contour set, for access checks. */
export async function findContourSetSite(
  db: Db,
  setId: number,
): Promise<{ caseId: number; siteId: number; siteCode: string } | undefined> {
  return db
    .selectFrom('contour_set as cs')
    .innerJoin('patient_case as c', 'c.id', 'cs.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(['c.id as caseId', 's.id as siteId', 's.code as siteCode'])
    .where('cs.id', '=', setId)
    .executeTakeFirst();
}
