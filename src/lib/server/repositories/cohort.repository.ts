import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

/** The cohort with this name, created when missing; returns its id. */
export async function ensureCohort(db: Db, name: string): Promise<number> {
  const row = await db
    .insertInto('cohort')
    .values({ name })
    .onConflict((oc) => oc.column('name').doUpdateSet({ name }))
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function addCaseToCohort(
  db: Db,
  cohortId: number,
  caseId: number,
  reason: string,
): Promise<void> {
  await db
    .insertInto('cohort_case')
    .values({ cohort_id: cohortId, case_id: caseId, reason })
    .onConflict((oc) => oc.columns(['cohort_id', 'case_id']).doNothing())
    .execute();
}

export async function findCohortId(db: Db, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('cohort').select('id').where('name', '=', name).executeTakeFirst();
  return row?.id;
}

export async function insertCohort(
  db: Db,
  name: string,
  description: string,
  userId: number | null,
): Promise<number> {
  const row = await db
    .insertInto('cohort')
    .values({ name, description, created_by: userId })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function removeCaseFromCohort(db: Db, cohortId: number, caseId: number): Promise<boolean> {
  const result = await db
    .deleteFrom('cohort_case')
    .where('cohort_id', '=', cohortId)
    .where('case_id', '=', caseId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface CaseSelection {
  sites?: string[];
  laterality?: string;
  surgery?: string;
  protocol?: string;
  from?: string;
  to?: string;
  manufacturer?: string;
  /** the scanner model contains this (case-insensitive) */
  scannerModel?: string;
  /** the reconstruction kernel contains this (case-insensitive) */
  kernel?: string;
  /** every one of these structures has a physician or consensus contour */
  structures?: string[];
}

/** The ids of the cases matching a selection, in acquisition order. */
export async function findCasesBySelection(db: Db, selection: CaseSelection): Promise<number[]> {
  let query = db
    .selectFrom('patient_case as c')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select('c.id')
    .orderBy('c.acquisition_date')
    .orderBy('c.id');
  if (selection.sites?.length) query = query.where('s.code', 'in', selection.sites);
  if (selection.laterality) query = query.where('c.laterality', '=', selection.laterality as never);
  if (selection.surgery) query = query.where('c.surgery_type', '=', selection.surgery as never);
  if (selection.protocol) query = query.where(sql<boolean>`lower(c.protocol) = lower(${selection.protocol})`);
  if (selection.from) query = query.where('c.acquisition_date', '>=', selection.from);
  if (selection.to) query = query.where('c.acquisition_date', '<=', selection.to);
  // "contains", with the text taken literally (no LIKE wildcards)
  const contains = (column: string, text: string) =>
    sql<boolean>`strpos(lower(${sql.ref(column)}), lower(${text})) > 0`;
  if (selection.manufacturer) query = query.where(contains('c.manufacturer', selection.manufacturer));
  if (selection.scannerModel) query = query.where(contains('c.scanner_model', selection.scannerModel));
  if (selection.kernel) query = query.where(contains('c.convolution_kernel', selection.kernel));
  for (const structure of selection.structures ?? [])
    query = query.where(
      sql<boolean>`exists (select 1 from contour_set cs join contour ct on ct.contour_set_id = cs.id
        join structure st on st.id = ct.structure_id
        where cs.case_id = c.id and cs.source in ('physician', 'consensus') and st.tg263_name = ${structure})`,
    );
  return (await query.execute()).map((r) => r.id);
}

export async function findCaseIdsByPseudonym(
  db: Db,
  pseudonyms: readonly string[],
): Promise<Map<string, number>> {
  if (pseudonyms.length === 0) return new Map();
  const rows = await db
    .selectFrom('patient_case')
    .select(['id', 'pseudonym'])
    .where('pseudonym', 'in', [...pseudonyms])
    .execute();
  return new Map(rows.map((r) => [r.pseudonym, r.id]));
}

export interface CohortCaseRow {
  caseId: number;
  pseudonym: string;
  site: string;
  laterality: string | null;
  surgery: string | null;
  protocol: string | null;
}

/** What a cohort case is read as (case c, site s). */
const cohortCaseColumns = [
  'c.id as caseId',
  'c.pseudonym',
  's.code as site',
  'c.laterality',
  'c.surgery_type as surgery',
  'c.protocol',
] as const;

export async function findCohortCases(db: Db, cohortId: number): Promise<CohortCaseRow[]> {
  return db
    .selectFrom('cohort_case as cc')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select(cohortCaseColumns)
    .where('cc.cohort_id', '=', cohortId)
    .orderBy('c.pseudonym')
    .execute();
}

export interface ReferenceCandidate {
  caseId: number;
  structureId: number;
  structure: string;
  contourSetId: number;
  source: string;
  variant: string;
  observer: string | null;
  maskSha256: string;
}

/** Every physician and consensus contour of the cohort's cases: what a reference can be chosen from. */
export async function findReferenceCandidates(db: Db, cohortId: number): Promise<ReferenceCandidate[]> {
  return db
    .selectFrom('cohort_case as cc')
    .innerJoin('contour_set as cs', 'cs.case_id', 'cc.case_id')
    .innerJoin('contour as ct', 'ct.contour_set_id', 'cs.id')
    .innerJoin('structure as st', 'st.id', 'ct.structure_id')
    .leftJoin('observer as o', 'o.id', 'cs.observer_id')
    .select([
      'cs.case_id as caseId',
      'st.id as structureId',
      'st.tg263_name as structure',
      'cs.id as contourSetId',
      'cs.source',
      'cs.variant',
      'o.code as observer',
      'ct.mask_blob_sha256 as maskSha256',
    ])
    .where('cc.cohort_id', '=', cohortId)
    .where('cs.source', 'in', ['physician', 'consensus'])
    .orderBy('cs.id')
    .execute();
}

export async function nextCohortVersion(db: Db, cohortId: number): Promise<number> {
  const row = await db
    .selectFrom('cohort_version')
    .select(sql<number>`coalesce(max(version), 0)::int + 1`.as('next'))
    .where('cohort_id', '=', cohortId)
    .executeTakeFirstOrThrow();
  return row.next;
}

export async function insertCohortVersion(
  db: Db,
  version: {
    cohortId: number;
    version: number;
    contentSha256: string;
    policy: Record<string, unknown>;
    note: string;
    userId: number | null;
    caseIds: number[];
    references: Array<{ caseId: number; structureId: number; contourSetId: number; maskSha256: string }>;
  },
): Promise<number> {
  const row = await db
    .insertInto('cohort_version')
    .values({
      cohort_id: version.cohortId,
      version: version.version,
      content_sha256: version.contentSha256,
      reference_policy: version.policy,
      case_count: version.caseIds.length,
      note: version.note,
      frozen_by: version.userId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (version.caseIds.length)
    await db
      .insertInto('cohort_version_case')
      .values(version.caseIds.map((case_id) => ({ cohort_version_id: row.id, case_id })))
      .execute();
  for (let i = 0; i < version.references.length; i += 5000)
    await db
      .insertInto('cohort_version_reference')
      .values(
        version.references.slice(i, i + 5000).map((r) => ({
          cohort_version_id: row.id,
          case_id: r.caseId,
          structure_id: r.structureId,
          contour_set_id: r.contourSetId,
          mask_blob_sha256: r.maskSha256,
        })),
      )
      .execute();
  return row.id;
}

export interface CohortVersionRow {
  id: number;
  version: number;
  contentSha256: string;
  policy: Record<string, unknown>;
  caseCount: number;
  note: string;
  frozenAt: Date;
  frozenBy: string | null;
}

export async function findCohortVersions(db: Db, cohortId: number): Promise<CohortVersionRow[]> {
  return db
    .selectFrom('cohort_version as v')
    .leftJoin('app_user as u', 'u.id', 'v.frozen_by')
    .select([
      'v.id',
      'v.version',
      'v.content_sha256 as contentSha256',
      'v.reference_policy as policy',
      'v.case_count as caseCount',
      'v.note',
      'v.frozen_at as frozenAt',
      'u.email as frozenBy',
    ])
    .where('v.cohort_id', '=', cohortId)
    .orderBy('v.version')
    .execute();
}

/** What the case checks read: each physician or consensus contour with its volume, and the case's keys. */
export async function findCheckedContours(db: Db, cohortId: number) {
  return db
    .selectFrom('cohort_case as cc')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .leftJoin('contour_set as cs', (join) =>
      join.onRef('cs.case_id', '=', 'c.id').on('cs.source', 'in', ['physician', 'consensus']),
    )
    .leftJoin('contour as ct', 'ct.contour_set_id', 'cs.id')
    .leftJoin('structure as st', 'st.id', 'ct.structure_id')
    .leftJoin('observer as o', 'o.id', 'cs.observer_id')
    .select([
      'c.id as caseId',
      'c.pseudonym',
      'c.laterality',
      'c.surgery_type as surgery',
      'c.patient_key_sha256 as patientKey',
      'st.tg263_name as structure',
      'ct.volume_cc as volumeCc',
      'ct.mask_blob_sha256 as maskSha256',
      sql<string>`coalesce(o.code, cs.source::text, '')`.as('setLabel'),
      'cs.unmapped_roi_names as unmappedRoiNames',
    ])
    .where('cc.cohort_id', '=', cohortId)
    .orderBy('c.id')
    .execute();
}

export async function upsertFindingDecision(
  db: Db,
  d: {
    cohortId: number;
    caseId: number;
    check: string;
    structure: string;
    decision: 'accepted' | 'excluded';
    note: string;
    userId: number | null;
  },
): Promise<void> {
  const values = { decision: d.decision, note: d.note, decided_by: d.userId, decided_at: new Date() };
  await db
    .insertInto('cohort_finding_decision')
    .values({
      cohort_id: d.cohortId,
      case_id: d.caseId,
      check_name: d.check,
      structure: d.structure,
      ...values,
    })
    .onConflict((oc) => oc.columns(['cohort_id', 'case_id', 'check_name', 'structure']).doUpdateSet(values))
    .execute();
}

export async function findFindingDecisions(db: Db, cohortId: number) {
  return db
    .selectFrom('cohort_finding_decision')
    .select(['case_id as caseId', 'check_name as check', 'structure', 'decision', 'note'])
    .where('cohort_id', '=', cohortId)
    .execute();
}

export interface CohortListRow {
  name: string;
  description: string;
  createdAt: Date;
  cases: number;
  versions: number;
  latestVersion: number | null;
  runs: number;
}

/** Every cohort with its case, version and run counts, by name. */
export async function findCohorts(db: Db): Promise<CohortListRow[]> {
  return db
    .selectFrom('cohort as co')
    .select((eb) => [
      'co.name',
      'co.description',
      'co.created_at as createdAt',
      eb
        .selectFrom('cohort_case')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('cohort_case.cohort_id', '=', 'co.id')
        .as('cases'),
      eb
        .selectFrom('cohort_version')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('cohort_version.cohort_id', '=', 'co.id')
        .as('versions'),
      eb
        .selectFrom('cohort_version')
        .select(sql<number>`max(version)`.as('n'))
        .whereRef('cohort_version.cohort_id', '=', 'co.id')
        .as('latestVersion'),
      eb
        .selectFrom('evaluation_run')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('evaluation_run.cohort_id', '=', 'co.id')
        .as('runs'),
    ])
    .orderBy('co.name')
    .execute() as Promise<CohortListRow[]>;
}

export interface CohortMemberRow extends CohortCaseRow {
  acquisitionDate: string | null;
  reason: string;
  addedAt: Date;
}

/** The cases of a cohort with why and when each was added, by pseudonym. */
export async function findCohortMembers(db: Db, cohortId: number): Promise<CohortMemberRow[]> {
  return db
    .selectFrom('cohort_case as cc')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select([
      ...cohortCaseColumns,
      sql<string | null>`to_char(c.acquisition_date, 'YYYY-MM-DD')`.as('acquisitionDate'),
      'cc.reason',
      'cc.added_at as addedAt',
    ])
    .where('cc.cohort_id', '=', cohortId)
    .orderBy('c.pseudonym')
    .execute();
}

export interface CohortRunRow {
  runId: number;
  model: string;
  cohortVersion: number | null;
  status: string;
  createdAt: Date;
  jobsTotal: number;
  jobsSucceeded: number;
  jobsFailed: number;
}

/** The evaluation runs over a cohort, newest first, with the version each evaluated. */
export async function findCohortRuns(db: Db, cohortId: number): Promise<CohortRunRow[]> {
  return db
    .selectFrom('evaluation_run as r')
    .innerJoin('model_version as mv', 'mv.id', 'r.model_version_id')
    .innerJoin('model as m', 'm.id', 'mv.model_id')
    .leftJoin('cohort_version as v', 'v.id', 'r.cohort_version_id')
    .select([
      'r.id as runId',
      sql<string>`m.name || '@' || mv.version`.as('model'),
      'v.version as cohortVersion',
      'r.status',
      'r.created_at as createdAt',
      'r.jobs_total as jobsTotal',
      'r.jobs_succeeded as jobsSucceeded',
      'r.jobs_failed as jobsFailed',
    ])
    .where('r.cohort_id', '=', cohortId)
    .orderBy('r.id', 'desc')
    .execute();
}
