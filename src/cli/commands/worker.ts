import type { Command } from 'commander';
import { z } from 'zod';
import { queueNamePattern } from '../../lib/server/jobs/queues';
import { loadConfig } from '../../lib/server/config';
import { createLogger } from '../../lib/server/logger';
import { startRuntime } from '../../lib/server/runtime';
import { runUntilSignal } from '../lifecycle';
import { parseOption, positiveInteger } from '../options';

const queueOption = z
  .string()
  .regex(
    queueNamePattern,
    'use 1 to 63 lower-case letters, digits, "-" or "_", starting with a letter or digit',
  );

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a job worker process against the same database (add as many as the machines allow)')
    .option(
      '-q, --queue <name>',
      'only take jobs routed to this queue (a federated site); default: the central queue',
    )
    .option('-c, --concurrency <n>', 'jobs to run at once (default: CONTOURBENCH_WORKER_CONCURRENCY or 1)')
    .action(async (options: { queue?: string; concurrency?: string }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel);
      const queue = options.queue === undefined ? null : parseOption(queueOption, '--queue', options.queue);
      const concurrency =
        options.concurrency === undefined
          ? config.workerConcurrency
          : parseOption(positiveInteger(64), '--concurrency', options.concurrency);
      const runtime = await startRuntime({
        config,
        logger,
        worker: true,
        queue,
        concurrency,
        applicationName: 'contourbench-worker',
      });
      process.stdout.write(
        `Worker ${runtime.worker?.poolId} is taking jobs from the ${queue ?? 'central'} queue ` +
          `(${concurrency} at a time). Press Ctrl+C to stop.\n`,
      );
      // A pool that ends by itself is replaced (a lost database is waited for); an error that escapes even
      // that ends the process, so a supervisor restarts it.
      runtime.worker?.done.catch((error: unknown) => {
        logger.fatal({ err: error }, 'job worker stopped unexpectedly');
        process.exit(1);
      });
      await runUntilSignal(logger, runtime.close);
    });
}
