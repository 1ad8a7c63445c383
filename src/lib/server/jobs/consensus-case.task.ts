import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import { computeStapleConsensus } from '../services/consensus.service';
import { computeCaseDoseMetrics } from '../services/dose-metric.service';
import type { JobContext } from './context';

const payloadSchema = z.object({ caseId: z.number().int().positive() });

/**
 * The STAPLE consensus of one case (stored in one transaction, replacing the previous one), then the
 * dose metrics of its contours and the dose consequence of its metric rows when the case has a dose.
 */
export function consensusCaseTask(context: JobContext): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success)
      throw new AppError('INVALID_INPUT', `consensus-case job ${helpers.job.id}: payload needs a caseId`);
    const summary = await computeStapleConsensus(
      { db: context.db, blobs: context.blobs, metricPool: context.metricPool },
      parsed.data.caseId,
    );
    const dose = await computeCaseDoseMetrics({ db: context.db, blobs: context.blobs }, parsed.data.caseId);
    helpers.logger.info(
      `case ${summary.caseId}: STAPLE consensus of ${summary.structures.length} structures, ${summary.metricRows} metric rows` +
        (dose ? `; dose metrics of ${dose.computed} contours` : ''),
    );
  };
}
