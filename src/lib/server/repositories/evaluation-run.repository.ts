import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, RunStatus } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export async function findCohortId(db: Db, name: string): Promise<number | undefined> {
  return (await db.selectFrom('cohort').select('id').where('name', '=', name).executeTakeFirst())?.id;
}

/** The cases of a cohort with the worker queue of their site (null: the central queue). */
export async function findCohortCasesWithQueue(
  db: Db,
  cohortId: number,
): Promise<Array<{ caseId: number; queue: string | null }>> {
  return db
    .selectFrom('cohort_case')
    .innerJoin('patient_case', 'patient_case.id', 'cohort_case.case_id')
    .innerJoin('site', 'site.id', 'patient_case.site_id')
    .select(['patient_case.id as caseId', 'site.worker_queue as queue'])
    .where('cohort_case.cohort_id', '=', cohortId)
    .orderBy('patient_case.id')
    .execute();
}

/** The cases of a frozen cohort version with the worker queue of each case's site. */
export async function findVersionCasesWithQueue(
  db: Db,
  cohortVersionId: number,
): Promise<Array<{ caseId: number; queue: string | null }>> {
  return db
    .selectFrom('cohort_version_case as vc')
    .innerJoin('patient_case', 'patient_case.id', 'vc.case_id')
    .innerJoin('site', 'site.id', 'patient_case.site_id')
    .select(['patient_case.id as caseId', 'site.worker_queue as queue'])
    .where('vc.cohort_version_id', '=', cohortVersionId)
    .orderBy('patient_case.id')
    .execute();
}

/** A version of a cohort by cohort id and version number. */
export async function findCohortVersion(
  db: Db,
  cohortId: number,
  version: number,
): Promise<{ id: number; contentSha256: string; policy: Record<string, unknown> } | undefined> {
  return db
    .selectFrom('cohort_version')
    .select(['id', 'content_sha256 as contentSha256', 'reference_policy as policy'])
    .where('cohort_id', '=', cohortId)
    .where('version', '=', version)
    .executeTakeFirst() as Promise<
    { id: number; contentSha256: string; policy: Record<string, unknown> } | undefined
  >;
}

export async function insertEvaluationRun(
  db: Db,
  values: {
    cohortId: number;
    cohortVersionId?: number | null;
    modelVersionId: number;
    parameters: Record<string, unknown>;
    jobsTotal: number;
    createdBy: number | null;
  },
): Promise<number> {
  const row = await db
    .insertInto('evaluation_run')
    .values({
      cohort_id: values.cohortId,
      cohort_version_id: values.cohortVersionId ?? null,
      model_version_id: values.modelVersionId,
      parameters: values.parameters,
      jobs_total: values.jobsTotal,
      created_by: values.createdBy,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface JobOutcomeValues {
  runId: number;
  caseId: number;
  status: 'succeeded' | 'failed';
  attempts: number;
  workerId: string | null;
  startedAt: Date;
  finishedAt: Date;
  errorCode: string | null;
  errorMessage: string | null;
}

/** How one case job ended; a retry overwrites the earlier attempt (natural key: run and case). */
export async function upsertJobOutcome(db: Db, o: JobOutcomeValues): Promise<void> {
  await db
    .insertInto('job_outcome')
    .values({
      evaluation_run_id: o.runId,
      case_id: o.caseId,
      status: o.status,
      attempts: o.attempts,
      error_code: o.errorCode,
      error_message: o.errorMessage,
      worker_id: o.workerId,
      started_at: o.startedAt,
      finished_at: o.finishedAt,
      duration_ms: o.finishedAt.getTime() - o.startedAt.getTime(),
    })
    .onConflict((oc) =>
      oc.columns(['evaluation_run_id', 'case_id']).doUpdateSet((eb) => ({
        status: eb.ref('excluded.status'),
        attempts: eb.ref('excluded.attempts'),
        error_code: eb.ref('excluded.error_code'),
        error_message: eb.ref('excluded.error_message'),
        worker_id: eb.ref('excluded.worker_id'),
        started_at: eb.ref('excluded.started_at'),
        finished_at: eb.ref('excluded.finished_at'),
        duration_ms: eb.ref('excluded.duration_ms'),
      })),
    )
    .execute();
}

/** Counters and status of a run from its job outcomes (a cancelled run stays cancelled); returns the status. */
export async function refreshRunCounters(db: Db, runId: number): Promise<RunStatus | undefined> {
  const result = await sql<{ status: RunStatus }>`
    update evaluation_run r set
      jobs_succeeded = o.succeeded,
      jobs_failed = o.failed,
      status = case
        when r.status = 'cancelled' then r.status
        when o.succeeded + o.failed >= r.jobs_total then (case when o.failed > 0 then 'failed' else 'succeeded' end)
        else 'running' end,
      finished_at = case
        when r.status <> 'cancelled' and o.succeeded + o.failed >= r.jobs_total then now()
        else r.finished_at end
    from (
      select count(*) filter (where status = 'succeeded')::int as succeeded,
             count(*) filter (where status = 'failed')::int as failed
      from job_outcome where evaluation_run_id = ${runId}
    ) o
    where r.id = ${runId}
    returning r.status`.execute(db);
  return result.rows[0]?.status;
}

export interface RunRow {
  status: RunStatus;
  cohortId: number;
  /** the frozen cohort version the run evaluated, or null for the cohort's current cases */
  cohortVersionId: number | null;
  modelVersionId: number;
  jobsTotal: number;
  jobsSucceeded: number;
  jobsFailed: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export async function findRun(db: Db, runId: number): Promise<RunRow | undefined> {
  return db
    .selectFrom('evaluation_run')
    .select([
      'status',
      'cohort_id as cohortId',
      'cohort_version_id as cohortVersionId',
      'model_version_id as modelVersionId',
      'jobs_total as jobsTotal',
      'jobs_succeeded as jobsSucceeded',
      'jobs_failed as jobsFailed',
      'started_at as startedAt',
      'finished_at as finishedAt',
    ])
    .where('id', '=', runId)
    .executeTakeFirst() as Promise<RunRow | undefined>;
}

/** Sets a queued run running, once. */
export async function markRunRunning(db: Db, runId: number): Promise<void> {
  await db
    .updateTable('evaluation_run')
    .set({ status: 'running', started_at: new Date() })
    .where('id', '=', runId)
    .where('status', '=', 'queued')
    .execute();
}

/** Sets a queued or running run cancelled; false when it had already ended (or does not exist). */
export async function markRunCancelled(db: Db, runId: number): Promise<boolean> {
  const row = await db
    .updateTable('evaluation_run')
    .set({ status: 'cancelled', finished_at: new Date() })
    .where('id', '=', runId)
    .where('status', 'in', ['queued', 'running'])
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Removes the run's jobs that no worker has taken yet (their keys are evaluate:RUN:CASE). */
export async function deleteUnlockedRunJobs(db: Db, runId: number): Promise<number> {
  const removed = await sql<{ n: number }>`
    with gone as (
      delete from graphile_worker._private_jobs
      where key like ${`evaluate:${runId}:%`} and locked_at is null
      returning 1)
    select count(*)::int as n from gone`.execute(db);
  return removed.rows[0]?.n ?? 0;
}

export async function findRunFailures(
  db: Db,
  runId: number,
): Promise<Array<{ caseId: number; message: string }>> {
  const rows = await db
    .selectFrom('job_outcome')
    .select(['case_id', 'error_message'])
    .where('evaluation_run_id', '=', runId)
    .where('status', '=', 'failed')
    .orderBy('case_id')
    .execute();
  return rows.map((r) => ({ caseId: r.case_id, message: r.error_message ?? '' }));
}

export async function findModelVersionCard(
  db: Db,
  modelVersionId: number,
): Promise<{ card: Record<string, unknown>; onnxSha256: string } | undefined> {
  return db
    .selectFrom('model_version')
    .select(['card', 'onnx_sha256 as onnxSha256'])
    .where('id', '=', modelVersionId)
    .executeTakeFirst();
}

/** The most recent run of a model version over a cohort, or undefined. */
export async function findLatestRun(
  db: Db,
  modelVersionId: number,
  cohortId: number,
): Promise<{ id: number; status: RunStatus } | undefined> {
  return db
    .selectFrom('evaluation_run')
    .select(['id', 'status'])
    .where('model_version_id', '=', modelVersionId)
    .where('cohort_id', '=', cohortId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Deletes the failed case outcomes of a run (before they are retried); returns their cases. */
export async function deleteFailedOutcomes(db: Db, runId: number): Promise<number[]> {
  const rows = await db
    .deleteFrom('job_outcome')
    .where('evaluation_run_id', '=', runId)
    .where('status', '=', 'failed')
    .returning('case_id')
    .execute();
  return rows.map((r) => r.case_id);
}

/** Sets an ended run running again (its failed cases were re-queued). */
export async function reopenRun(db: Db, runId: number): Promise<void> {
  await db
    .updateTable('evaluation_run')
    .set({ status: 'running', finished_at: null })
    .where('id', '=', runId)
    .execute();
}
