import { AppError } from '../../core/errors';
import { parseModelReference } from '../../core/models/model-card';
import { retryWhileDisconnected, type Db } from '../db/connection';
import type { RunStatus } from '../db/schema';
import { taskIdentifier } from '../jobs/queues';
import type { Logger } from '../logger';
import {
  deleteFailedOutcomes,
  deleteUnlockedRunJobs,
  findCohortCasesWithQueue,
  findCohortId,
  findCohortVersion,
  findVersionCasesWithQueue,
  findRun,
  findRunFailures,
  insertEvaluationRun,
  markRunCancelled,
  markRunRunning,
  refreshRunCounters,
  reopenRun,
  upsertJobOutcome,
  type RunRow,
} from '../repositories/evaluation-run.repository';
import { enqueueJob } from '../repositories/job.repository';
import { ALARM_JOB_KEY } from './drift.service';
import { getModelVersion } from './model-registry.service';

export const EVALUATE_CASE_TASK = 'evaluate-case';
/** Attempts per case job before it counts as failed (graphile-worker retries with exponential back-off). */
export const EVALUATE_CASE_MAX_ATTEMPTS = 3;

export interface CreatedRun {
  runId: number;
  modelVersionId: number;
  cohortId: number;
  /** the frozen cohort version evaluated, or null for the cohort's current cases */
  cohortVersionId: number | null;
  cases: number;
}

/**
 * Creates an evaluation run of a model version over a cohort and enqueues one job per case, in one
 * transaction (no run without its jobs, no job without its run). A case of a site with its own worker
 * queue is routed to that queue, so its images never leave the site.
 * With `version`, the run evaluates that frozen cohort version: its cases, against the reference contour
 * the version chose for each case and structure; otherwise the cohort's current cases against every
 * physician and STAPLE set.
 */
export async function createEvaluationRun(
  db: Db,
  options: {
    model: string;
    cohort: string;
    /** a frozen version of the cohort (its number) */
    version?: number;
    createdBy?: number | null;
    /** attempts per case job (default EVALUATE_CASE_MAX_ATTEMPTS) */
    maxAttempts?: number;
  },
): Promise<CreatedRun> {
  const { name, version } = parseModelReference(options.model);
  const modelVersion = await getModelVersion(db, name, version);
  return db.transaction().execute(async (trx) => {
    const cohortId = await findCohortId(trx, options.cohort);
    if (cohortId === undefined) throw new AppError('NOT_FOUND', `no cohort named "${options.cohort}"`);
    const frozen =
      options.version === undefined ? undefined : await findCohortVersion(trx, cohortId, options.version);
    if (options.version !== undefined && frozen === undefined)
      throw new AppError('NOT_FOUND', `cohort "${options.cohort}" has no version ${options.version}`);
    const cases = frozen
      ? await findVersionCasesWithQueue(trx, frozen.id)
      : await findCohortCasesWithQueue(trx, cohortId);
    if (cases.length === 0) throw new AppError('INVALID_ARGUMENT', `cohort "${options.cohort}" has no cases`);
    const runId = await insertEvaluationRun(trx, {
      cohortId,
      cohortVersionId: frozen?.id ?? null,
      modelVersionId: modelVersion.id,
      parameters: frozen
        ? {
            reference: "the cohort version's references",
            cohortVersion: options.version,
            contentSha256: frozen.contentSha256,
            policy: frozen.policy,
          }
        : { reference: 'all physician and STAPLE consensus sets' },
      jobsTotal: cases.length,
      createdBy: options.createdBy ?? null,
    });
    for (const c of cases)
      await enqueueJob(
        trx,
        taskIdentifier(EVALUATE_CASE_TASK, c.queue),
        { runId, caseId: c.caseId },
        {
          jobKey: `evaluate:${runId}:${c.caseId}`,
          maxAttempts: options.maxAttempts ?? EVALUATE_CASE_MAX_ATTEMPTS,
        },
      );
    return {
      runId,
      modelVersionId: modelVersion.id,
      cohortId,
      cohortVersionId: frozen?.id ?? null,
      cases: cases.length,
    };
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
 * and brings the run's counters and status up to date from the outcomes. The outcome is what the run's
 * progress counts, so a lost database connection does not lose it: the write is repeated once the server
 * is back (for up to two minutes; the upsert makes a repeat harmless). Without that, a last attempt that
 * failed during a database restart would leave its run running for ever.
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
  options: { logger?: Logger; signal?: AbortSignal } = {},
): Promise<void> {
  const write = () =>
    db.transaction().execute(async (trx) => {
      await upsertJobOutcome(trx, {
        ...outcome,
        finishedAt: new Date(),
        errorCode: outcome.errorCode ?? null,
        errorMessage: outcome.errorMessage ?? null,
      });
      const status = await refreshRunCounters(trx, outcome.runId);
      // the run is complete: its metrics may move the control charts
      if (status === 'succeeded' || status === 'failed')
        await enqueueJob(
          trx,
          taskIdentifier('refresh-alarms'),
          {},
          { jobKey: ALARM_JOB_KEY, maxAttempts: 3 },
        );
    });
  await retryWhileDisconnected(write, {
    ...options,
    what: `run ${outcome.runId} case ${outcome.caseId}: recording the outcome`,
  });
}

/** Marks a run as started (first job taken), once; returns the run as it now is. */
export async function markRunStarted(db: Db, runId: number): Promise<RunRow | undefined> {
  await markRunRunning(db, runId);
  return findRun(db, runId);
}

export interface RetriedRun {
  runId: number;
  /** the cases queued again, with the error each had failed with */
  cases: Array<{ caseId: number; message: string }>;
}

/**
 * Queues the failed cases of a run again (each job gets a fresh set of attempts) and sets the run
 * running, in one transaction. Their failure records are replaced by the new outcomes; the errors are
 * returned so the caller can show what is being retried. A run without failures is left as it is; a
 * cancelled run cannot be retried (CONFLICT).
 */
export async function retryFailedCases(
  db: Db,
  runId: number,
  options: { maxAttempts?: number } = {},
): Promise<RetriedRun> {
  return db.transaction().execute(async (trx) => {
    const run = await findRun(trx, runId);
    if (run === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
    if (run.status === 'cancelled')
      throw new AppError('CONFLICT', `evaluation run ${runId} was cancelled; start a new run instead`);
    const failures = await findRunFailures(trx, runId);
    if (failures.length === 0) return { runId, cases: [] };
    await deleteFailedOutcomes(trx, runId);
    const queues = new Map(
      (run.cohortVersionId === null
        ? await findCohortCasesWithQueue(trx, run.cohortId)
        : await findVersionCasesWithQueue(trx, run.cohortVersionId)
      ).map((c) => [c.caseId, c.queue]),
    );
    for (const failure of failures)
      await enqueueJob(
        trx,
        taskIdentifier(EVALUATE_CASE_TASK, queues.get(failure.caseId) ?? null),
        { runId, caseId: failure.caseId },
        {
          jobKey: `evaluate:${runId}:${failure.caseId}`,
          maxAttempts: options.maxAttempts ?? EVALUATE_CASE_MAX_ATTEMPTS,
        },
      );
    await reopenRun(trx, runId);
    await refreshRunCounters(trx, runId);
    return { runId, cases: failures };
  });
}

/** Cancels a run: its pending jobs are removed; jobs already running finish and are recorded. */
export async function cancelEvaluationRun(db: Db, runId: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    if (!(await markRunCancelled(trx, runId))) {
      const run = await findRun(trx, runId);
      if (run === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
      throw new AppError('CONFLICT', `evaluation run ${runId} has already ended (${run.status})`);
    }
    return deleteUnlockedRunJobs(trx, runId);
  });
}

/** Progress of a run: counts, rate, ETA and the errors of failed cases. */
export async function getRunProgress(db: Db, runId: number): Promise<RunProgress> {
  const run = await findRun(db, runId);
  if (run === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
  const errors = await findRunFailures(db, runId);
  const done = run.jobsSucceeded + run.jobsFailed;
  const until = run.finishedAt === null ? new Date() : new Date(run.finishedAt);
  const minutes = run.startedAt === null ? 0 : (until.getTime() - new Date(run.startedAt).getTime()) / 60_000;
  const rate = done > 0 && minutes > 0 ? done / minutes : null;
  return {
    runId,
    status: run.status,
    total: run.jobsTotal,
    succeeded: run.jobsSucceeded,
    failed: run.jobsFailed,
    casesPerMinute: rate,
    etaSeconds: rate === null ? null : ((run.jobsTotal - done) / rate) * 60,
    errors,
  };
}
