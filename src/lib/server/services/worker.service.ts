import { EventEmitter } from 'node:events';
import { ModelSessions } from '../inference/model-sessions';
import { MetricPool } from './metric-pool';
import { defaultDeadAfterSeconds, defaultHeartbeatSeconds } from '../jobs/heartbeat';
import type { BlobStore } from '../storage/blob-store';
import os from 'node:os';
import {
  Logger as GraphileLogger,
  makeWorkerUtils,
  run,
  runMigrations,
  type LogLevel,
  type Runner,
  type WorkerEvents,
  type WorkerUtils,
} from 'graphile-worker';
import { AppError, errorMessage } from '../../core/errors';
import type { Db, PgPool } from '../db/connection';
import { createTaskList } from '../jobs';
import { assertQueueName } from '../jobs/queues';
import type { Logger } from '../logger';
import {
  deleteWorkerPools,
  listSilentWorkerPools,
  upsertWorkerPool,
} from '../repositories/worker-pool.repository';

export interface WorkerOptions {
  db: Db;
  pool: PgPool;
  logger: Logger;
  version: string;
  /** null: the central queue; a name: only jobs routed to that queue (a federated site's worker). */
  queue: string | null;
  concurrency: number;
  /** where CT volumes, masks and ONNX files are stored */
  blobs: BlobStore;
  /** How often the pool reports itself alive. */
  heartbeatSeconds?: number;
  /** A pool silent this long is taken as dead and its locked jobs are released for retry. */
  deadAfterSeconds?: number;
}

export interface WorkerHandle {
  poolId: string;
  /** Ids a job of this pool can be locked by (graphile-worker 0.17 locks with the pool id). */
  lockOwnerIds(): string[];
  /** Finishes running jobs, then stops; removes the pool's heartbeat row. */
  stop(): Promise<void>;
  /** Settles when the pool stops by itself (a fatal error) or after stop(). */
  done: Promise<void>;
}

/** graphile-worker's log lines, through pino. */
function graphileLogger(logger: Logger): GraphileLogger {
  return new GraphileLogger((scope) => (level: LogLevel, message: string, meta?: unknown) => {
    const fields = { ...scope, ...(meta && typeof meta === 'object' ? meta : {}) };
    const method =
      level === 'warning' ? 'warn' : level === 'error' ? 'error' : level === 'info' ? 'info' : 'debug';
    logger[method](fields, message);
  });
}

/** Creates graphile-worker's own schema (idempotent, under its own lock). */
export async function prepareJobQueue(pool: PgPool, logger: Logger): Promise<void> {
  await runMigrations({ pgPool: pool, logger: graphileLogger(logger) });
}

/**
 * Unlocks the jobs of pools whose heartbeat stopped (a process killed or a machine lost), so they are
 * retried now rather than after graphile-worker's four-hour lock timeout. Returns the pools reaped.
 */
export async function reapDeadWorkerPools(
  db: Db,
  utils: WorkerUtils,
  deadAfterSeconds: number,
): Promise<string[]> {
  const silent = await listSilentWorkerPools(db, deadAfterSeconds);
  if (silent.length === 0) return [];
  // Jobs are locked by the pool id in graphile-worker 0.17 and by worker ids in older versions: release both.
  await utils.forceUnlockWorkers(silent.flatMap((pool) => [pool.poolId, ...pool.workerIds]));
  await deleteWorkerPools(
    db,
    silent.map((pool) => pool.poolId),
  );
  return silent.map((pool) => pool.poolId);
}

/** Starts a graphile-worker pool with a heartbeat row and dead-pool recovery. */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const { db, pool, logger, version, queue, concurrency } = options;
  if (queue !== null) assertQueueName(queue);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `Worker concurrency must be a positive integer, got ${concurrency}`,
    );
  }
  const heartbeatMs = (options.heartbeatSeconds ?? defaultHeartbeatSeconds) * 1000;
  const deadAfterSeconds = options.deadAfterSeconds ?? defaultDeadAfterSeconds;
  const log = logger.child({ component: 'worker', queue: queue ?? 'central' });

  const events: WorkerEvents = new EventEmitter();
  let poolId = '';
  const workerIds: string[] = [];
  events.on('pool:create', ({ workerPool }) => {
    poolId = workerPool.id;
  });
  events.on('worker:create', ({ worker }) => {
    workerIds.push(worker.workerId);
  });
  events.on('job:error', ({ job, error }) => {
    log.warn({ jobId: job.id, task: job.task_identifier, attempt: job.attempts }, errorMessage(error));
  });

  const sessions = new ModelSessions();
  const metricPool = new MetricPool();
  const utils = await makeWorkerUtils({ pgPool: pool, logger: graphileLogger(log) });
  let runner: Runner;
  try {
    runner = await run({
      pgPool: pool,
      concurrency,
      noHandleSignals: true,
      pollInterval: 2000,
      parsedCronItems: [],
      logger: graphileLogger(log),
      events,
      taskList: createTaskList({ db, logger: log, blobs: options.blobs, sessions, metricPool }, queue),
    });
  } catch (error) {
    await utils.release();
    await metricPool.close();
    throw new AppError('WORKER_FAILED', `Could not start the job worker: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  const beat = async () => {
    await upsertWorkerPool(db, {
      poolId,
      queue,
      hostname: os.hostname(),
      pid: process.pid,
      concurrency,
      workerIds: [...workerIds],
      version,
    });
    const reaped = await reapDeadWorkerPools(db, utils, deadAfterSeconds);
    if (reaped.length > 0)
      log.warn({ pools: reaped }, 'released the jobs of worker pools whose heartbeat stopped');
  };
  await beat();
  const timer = setInterval(() => {
    beat().catch((error) => log.error({ err: error }, 'worker heartbeat failed'));
  }, heartbeatMs);
  timer.unref();
  log.info({ poolId, concurrency }, 'job worker started');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clearInterval(timer);
      await runner.stop();
      await deleteWorkerPools(db, [poolId]).catch((error) =>
        log.warn({ err: error }, 'could not remove the worker heartbeat row'),
      );
      await utils.release();
      await sessions.close();
      await metricPool.close();
      log.info({ poolId }, 'job worker stopped');
    })();
    return stopping;
  };

  return {
    poolId,
    lockOwnerIds: () => [poolId, ...workerIds],
    stop,
    done: runner.promise.finally(() => clearInterval(timer)),
  };
}
