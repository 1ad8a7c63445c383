import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { AppError, errorMessage, isAppError } from '../../core/errors';
import { computeCaseDoseMetrics } from '../services/dose-metric.service';
import { evaluateCase } from '../services/evaluation.service';
import { markRunStarted, recordCaseOutcome } from '../services/evaluation-run.service';
import type { JobContext } from './context';

const payloadSchema = z.object({ runId: z.number().int().positive(), caseId: z.number().int().positive() });

/**
 * One case of an evaluation run: infer, store the model contour set and the metric rows (one
 * transaction inside evaluateCase), the dose metrics of the new contours when the case has a dose, then
 * record the outcome. A failure is rethrown so graphile-worker
 * retries it (with exponential back-off); the last attempt's failure is recorded with its message, and
 * `retryFailedCases` can queue it again.
 */
export function evaluateCaseTask(context: JobContext): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success)
      throw new AppError(
        'INVALID_INPUT',
        `evaluate-case job ${helpers.job.id}: payload needs runId and caseId`,
      );
    const { runId, caseId } = parsed.data;
    const run = await markRunStarted(context.db, runId);
    if (run === undefined || run.status === 'cancelled') return;
    const startedAt = new Date();
    const record = (outcome: Parameters<typeof recordCaseOutcome>[1]) =>
      recordCaseOutcome(context.db, outcome, { logger: context.logger, signal: helpers.abortSignal });
    const base = {
      runId,
      caseId,
      attempts: helpers.job.attempts,
      workerId: helpers.job.locked_by,
      startedAt,
    };
    try {
      const result = await evaluateCase(
        {
          db: context.db,
          blobs: context.blobs,
          sessions: context.sessions,
          metricPool: context.metricPool,
        },
        {
          caseId,
          modelVersionId: run.modelVersionId,
          evaluationRunId: runId,
          cohortVersionId: run.cohortVersionId,
        },
      );
      // the dose each new contour receives and the dose consequence of each new metric row
      const dose = await computeCaseDoseMetrics({ db: context.db, blobs: context.blobs }, caseId);
      helpers.logger.info(
        `run ${runId} case ${caseId}: ${result.metricRows} metric rows, ${result.windows} windows, ${Math.round(result.timings.totalMs)} ms inference` +
          (dose ? `, dose metrics of ${dose.computed} contours in ${Math.round(dose.computeMs)} ms` : ''),
      );
      await record({ ...base, status: 'succeeded' });
    } catch (error) {
      // only the last attempt counts as the case's failure; graphile-worker retries the others
      if (helpers.job.attempts >= helpers.job.max_attempts)
        await record({
          ...base,
          status: 'failed',
          errorCode: isAppError(error) ? error.code : 'INTERNAL',
          errorMessage: errorMessage(error),
        });
      throw error;
    }
  };
}
