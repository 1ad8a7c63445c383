import { AppError } from '../../core/errors';

/**
 * graphile-worker queues serialise jobs; they do not route them. ContourBench routes a job to a named
 * queue (a federated site's worker) through its task identifier: `task` runs on the central workers,
 * `task@queue` only on workers started with `--queue queue`, since a worker fetches only the task
 * identifiers it registered.
 */
export const queueNamePattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertQueueName(queue: string): string {
  if (!queueNamePattern.test(queue)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `Queue name "${queue}" is invalid: use 1 to 63 lower-case letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  return queue;
}

export function taskIdentifier(task: string, queue?: string | null): string {
  return queue ? `${task}@${assertQueueName(queue)}` : task;
}
