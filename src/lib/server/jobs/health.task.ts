import os from 'node:os';
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { AppError } from '../../core/errors';
import type { JobContext } from './context';
import { answerHealthPing } from '../services/health.service';

const payloadSchema = z.object({ nonce: z.string().min(8).max(128) });

/** Answers a health ping: proves a worker took a job from the queue and wrote to the database. */
export function healthTask(context: JobContext): Task {
  return async (payload, helpers) => {
    const parsed = payloadSchema.safeParse(payload);
    if (!parsed.success) {
      throw new AppError('INVALID_INPUT', `health job ${helpers.job.id}: payload needs a nonce string`);
    }
    await answerHealthPing(context.db, {
      nonce: parsed.data.nonce,
      workerId: helpers.job.locked_by,
      hostname: os.hostname(),
    });
  };
}
