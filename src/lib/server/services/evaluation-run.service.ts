import { sql } from 'kysely';
import { AppError } from '../../core/errors';
import { parseModelReference } from '../../core/models/model-card';
import type { Db } from '../db/connection';
import type { RunStatus } from '../db/schema';
import { taskIdentifier } from '../jobs/queues';
import { enqueueJob } from '../repositories/job.repository';
import { getModelVersion } from './model-registry.service';

export const EVALUATE_CASE_TASK = 'evaluate-case';
/** Attempts per case job before it counts as failed (graphile-worker retries with exponential back-off). */
export const EVALUATE_CASE_MAX_ATTEMPTS = 3;

export interface CreatedRun {
  runId: number;
  modelVersionId: number;
  cohortId: number;
  cases: number;
}

/**
 * Creates an evaluation run of a model version over a cohort and enqueues one job per case, in one
 * transaction (no run without its jobs, no job without its run). A case of a site with its own worker
 * queue is routed to that queue, so its images never leave the site.
 */
export async function createEvaluationRun(
  db: Db,
  options: { model: string; cohort: string; createdBy?: number | null },
): Promise<CreatedRun> {
  const { name, version } = parseModelReference(options.model);
  const modelVersion = await getModelVersion(db, name, version);
  return db.transaction().execute(async (trx) => {
    const cohort = await trx
      .selectFrom('cohort')
      .select('id')
      .where('name', '=', options.cohort)
      .executeTakeFirst();
    if (cohort === undefined) throw new AppError('NOT_FOUND', `no cohort named "${options.cohort}"`);
    const cases = await trx
      .selectFrom('cohort_case')
      .innerJoin('patient_case', 'patient_case.id', 'cohort_case.case_id')
      .innerJoin('site', 'site.id', 'patient_case.site_id')
      .select(['patient_case.id as caseId', 'site.worker_queue as queue'])
      .where('cohort_case.cohort_id', '=', cohort.id)
      .orderBy('patient_case.id')
      .execute();
    if (cases.length === 0) throw new AppError('INVALID_ARGUMENT', `cohort "${options.cohort}" has no cases`);
    const run = await trx
      .insertInto('evaluation_run')
      .values({
        cohort_id: cohort.id,
        model_version_id: modelVersion.id,
        parameters: { reference: 'all physician and consensus sets' },
        jobs_total: cases.length,
        created_by: options.createdBy ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const c of cases)
      await enqueueJob(
        trx,
        taskIdentifier(EVALUATE_CASE_TASK, c.queue),
        { runId: run.id, caseId: c.caseId },
        { jobKey: `evaluate:${run.id}:${c.caseId}`, maxAttempts: EVALUATE_CASE_MAX_ATTEMPTS },
      );
    return { runId: run.id, modelVersionId: modelVersion.id, cohortId: cohort.id, cases: cases.length };
  });
}

export interface RunProgress {
  runId: number;
  status: RunStatus;
  total: number;
  succeeded: number;
  failed: number;
  /** cases per minute since the run started, or null before the first case finished */
  casesPerMinute: number | null;
  /** seconds until the remaining cases are done at that rate, or null */
  etaSeconds: number | null;
  errors: Array<{ caseId: number; message: string }>;
}

/**
 * Records how one case job ended (upserted on run and case, so a retry overwrites its earlier attempt)
 * and brings the run's counters and status up to date from the outcomes.
 */
export async function recordCaseOutcome(
  db: Db,
  outcome: {
    runId: number;
    caseId: number;
    status: 'succeeded' | 'failed';
    attempts: number;
    workerId: string | null;
    startedAt: Date;
    errorCode?: string | null;
    errorMessage?: string | null;
  },
): Promise<void> {
  const finishedAt = new Date();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('job_outcome')
      .values({
        evaluation_run_id: outcome.runId,
        case_id: outcome.caseId,
        status: outcome.status,
        attempts: outcome.attempts,
        error_code: outcome.errorCode ?? null,
        error_message: outcome.errorMessage ?? null,
        worker_id: outcome.workerId,
        started_at: outcome.startedAt,
        finished_at: finishedAt,
        duration_ms: finishedAt.getTime() - outcome.startedAt.getTime(),
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
    await sql`
      update evaluation_run r set
        jobs_succeeded = o.succeeded,
        jobs_failed = o.failed,
        status = case
          when r.status = 'cancelled' then r.status
          when o.succeeded + o.failed >= r.jobs_total then (case when o.failed > 0 then 'failed' else 'succeeded' end)
          else 'running' end,
        finished_at = case when r.status <> 'cancelled' and o.succeeded + o.failed >= r.jobs_total then now() else r.finished_at end
      from (
        select count(*) filter (where status = 'succeeded')::int as succeeded,
               count(*) filter (where status = 'failed')::int as failed
        from job_outcome where evaluation_run_id = ${outcome.runId}
      ) o
      where r.id = ${outcome.runId}`.execute(trx);
  });
}

/** Marks a run as started (first job taken), once. */
export async function markRunStarted(db: Db, runId: number): Promise<RunStatus | undefined> {
  await db
    .updateTable('evaluation_run')
    .set({ status: 'running', started_at: new Date() })
    .where('id', '=', runId)
    .where('status', '=', 'queued')
    .execute();
  const row = await db
    .selectFrom('evaluation_run')
    .select('status')
    .where('id', '=', runId)
    .executeTakeFirst();
  return row?.status;
}

/** Cancels a run: its pending jobs are removed; jobs already running finish and are recorded. */
export async function cancelEvaluationRun(db: Db, runId: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const run = await trx
      .updateTable('evaluation_run')
      .set({ status: 'cancelled', finished_at: new Date() })
      .where('id', '=', runId)
      .where('status', 'in', ['queued', 'running'])
      .returning('id')
      .executeTakeFirst();
    if (run === undefined) {
      const exists = await trx
        .selectFrom('evaluation_run')
        .select('status')
        .where('id', '=', runId)
        .executeTakeFirst();
      if (exists === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
      throw new AppError('CONFLICT', `evaluation run ${runId} has already ended (${exists.status})`);
    }
    const removed = await sql<{ n: number }>`
      with gone as (
        delete from graphile_worker._private_jobs
        where key like ${`evaluate:${runId}:%`} and locked_at is null
        returning 1)
      select count(*)::int as n from gone`.execute(trx);
    return removed.rows[0]?.n ?? 0;
  });
}

/** Progress of a run: counts, rate, ETA and the errors of failed cases. */
export async function getRunProgress(db: Db, runId: number): Promise<RunProgress> {
  const run = await db
    .selectFrom('evaluation_run')
    .select(['status', 'jobs_total', 'jobs_succeeded', 'jobs_failed', 'started_at', 'finished_at'])
    .where('id', '=', runId)
    .executeTakeFirst();
  if (run === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
  const failures = await db
    .selectFrom('job_outcome')
    .select(['case_id', 'error_message'])
    .where('evaluation_run_id', '=', runId)
    .where('status', '=', 'failed')
    .orderBy('case_id')
    .execute();
  const done = run.jobs_succeeded + run.jobs_failed;
  const startedAt = run.started_at === null ? null : new Date(run.started_at);
  const until = run.finished_at === null ? new Date() : new Date(run.finished_at);
  const minutes = startedAt === null ? 0 : (until.getTime() - startedAt.getTime()) / 60_000;
  const rate = done > 0 && minutes > 0 ? done / minutes : null;
  return {
    runId,
    status: run.status,
    total: run.jobs_total,
    succeeded: run.jobs_succeeded,
    failed: run.jobs_failed,
    casesPerMinute: rate,
    etaSeconds: rate === null ? null : ((run.jobs_total - done) / rate) * 60,
    errors: failures.map((f) => ({ caseId: f.case_id, message: f.error_message ?? '' })),
  };
}
