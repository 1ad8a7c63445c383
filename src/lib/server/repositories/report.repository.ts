import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface ReportRun {
  id: number;
  status: string;
  cohort: string;
  /** the frozen cohort version the run evaluated (number, content sha256, reference policy), or nulls */
  cohortVersion: number | null;
  cohortVersionSha256: string | null;
  cohortVersionPolicy: Record<string, unknown> | null;
  model: string;
  modelName: string;
  modelVersion: string;
  sha256: string;
  card: Record<string, unknown>;
  registeredAt: Date;
  parameters: Record<string, unknown>;
  jobsTotal: number;
  jobsSucceeded: number;
  jobsFailed: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** An evaluation run with its model version (card, sha256) and cohort. */
export async function findReportRun(db: Db, runId: number): Promise<ReportRun | undefined> {
  const result = await sql<ReportRun>`
    select r.id, r.status, co.name as cohort, cv.version as "cohortVersion",
      cv.content_sha256 as "cohortVersionSha256", cv.reference_policy as "cohortVersionPolicy",
      mo.name || '@' || mv.version as model, mo.name as "modelName",
      mv.version as "modelVersion", mv.onnx_sha256 as sha256, mv.card, mv.registered_at as "registeredAt",
      r.parameters, r.jobs_total as "jobsTotal", r.jobs_succeeded as "jobsSucceeded", r.jobs_failed as "jobsFailed",
      r.created_at as "createdAt", r.started_at as "startedAt", r.finished_at as "finishedAt"
    from evaluation_run r
    join model_version mv on mv.id = r.model_version_id
    join model mo on mo.id = mv.model_id
    join cohort co on co.id = r.cohort_id
    left join cohort_version cv on cv.id = r.cohort_version_id
    where r.id = ${runId}`.execute(db);
  return result.rows[0];
}

/** Other versions of the same model with a succeeded run over the same cohort, newest run first. */
export async function findComparableVersions(db: Db, runId: number): Promise<string[]> {
  const result = await sql<{ model: string }>`
    select mo.name || '@' || mv.version as model
    from evaluation_run r
    join evaluation_run o on o.cohort_id = r.cohort_id and o.id <> r.id and o.status = 'succeeded'
    join model_version mv on mv.id = o.model_version_id
    join model mo on mo.id = mv.model_id
    join model_version rv on rv.id = r.model_version_id
    where r.id = ${runId} and mv.model_id = rv.model_id and mv.id <> rv.id
    group by mo.name, mv.version
    order by max(o.created_at) desc`.execute(db);
  return result.rows.map((r) => r.model);
}

export interface SignOff {
  id: number;
  at: Date;
  details: Record<string, unknown>;
}

/** Appends a sign-off of a run's report to the audit trail. */
export async function insertSignOff(
  db: Db,
  runId: number,
  actor: { userId: number | null; ip?: string | null },
  details: Record<string, unknown>,
): Promise<number> {
  const row = await db
    .insertInto('audit_event')
    .values({
      user_id: actor.userId,
      ip_address: actor.ip ?? null,
      action: 'report.sign_off',
      object_type: 'evaluation_run',
      object_id: String(runId),
      details,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function findSignOffs(db: Db, runId: number): Promise<SignOff[]> {
  return db
    .selectFrom('audit_event')
    .select(['id', 'occurred_at as at', 'details'])
    .where('action', '=', 'report.sign_off')
    .where('object_type', '=', 'evaluation_run')
    .where('object_id', '=', String(runId))
    .orderBy('occurred_at')
    .execute();
}

export interface CaseSets {
  caseId: number;
  structureId: number;
  testSetId: number;
  referenceSetId: number;
}

/**
 * For cases of a run, the model's contour set and the reference set (the case's consensus, else its
 * first physician set) of each structure: what a picture of a worst case shows.
 */
export async function findRunCaseSets(
  db: Db,
  runId: number,
  pairs: ReadonlyArray<{ caseId: number; structure: string }>,
): Promise<CaseSets[]> {
  if (pairs.length === 0) return [];
  const result = await sql<CaseSets>`
    select distinct on (m.case_id, m.structure_id)
      m.case_id as "caseId", m.structure_id as "structureId", m.test_set_id as "testSetId",
      m.reference_set_id as "referenceSetId"
    from metric m
    join structure st on st.id = m.structure_id
    join contour_set rs on rs.id = m.reference_set_id
    where m.evaluation_run_id = ${runId}
      and (m.case_id, st.tg263_name) in (${sql.join(pairs.map((p) => sql`(${p.caseId}::bigint, ${p.structure}::text)`))})
    order by m.case_id, m.structure_id, (rs.source = 'consensus') desc, m.reference_set_id`.execute(db);
  return result.rows;
}

/** The codes of the sites of a run's cases. */
export async function findRunSites(db: Db, runId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('evaluation_run as r')
    .innerJoin('cohort_case as cc', 'cc.cohort_id', 'r.cohort_id')
    .innerJoin('patient_case as c', 'c.id', 'cc.case_id')
    .innerJoin('site as s', 's.id', 'c.site_id')
    .select('s.code')
    .distinct()
    .where('r.id', '=', runId)
    .execute();
  return rows.map((r) => r.code);
}
