import { EventEmitter } from 'node:events';
import { ModelSessions } from '../inference/model-sessions';
import { MetricPool } from './metric-pool';
import { defaultDeadAfterSeconds, defaultHeartbeatSeconds } from '../jobs/heartbeat';
import type { BlobStore } from '../storage/blob-store';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { isConnectionError, reconnectingPool, type Db, type PgPool } from '../db/connection';
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
  /** The id of the pool now running (a new one after the pool was replaced). */
  readonly poolId: string;
  /** Ids a job of this pool can be locked by (graphile-worker 0.17 locks with the pool id). */
  lockOwnerIds(): string[];
  /** Finishes running jobs, then stops; removes the pool's heartbeat row. */
  stop(): Promise<void>;
  /** Settles after stop(); rejects when the pool's last run ended with an error. */
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

/** Graphile-worker's back-off between restarts of a pool that ended by itself (ms). */
const restartDelayMs = { min: 500, max: 30_000 };

/**
 * Starts a graphile-worker pool with a heartbeat row and dead-pool recovery. The pool rides out a lost
 * database: graphile-worker's connections wait and reconnect with back-off while the server is
 * unreachable, and a pool that ends by itself (a connection lost while it recorded a job's result) is
 * replaced by a new one after its jobs are released for retry. `done` settles only after `stop()`.
 */
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
  let workerIds: string[] = [];
  events.on('pool:create', ({ workerPool }) => {
    poolId = workerPool.id;
    workerIds = [];
  });
  events.on('worker:create', ({ worker }) => {
    workerIds.push(worker.workerId);
  });
  // why a pool ended by itself: graphile-worker's runner settles without the error
  let fatalError: unknown = null;
  events.on('pool:fatalError', ({ error, action }) => {
    fatalError = new Error(`${action}: ${errorMessage(error)}`, { cause: error });
  });
  events.on('worker:fatalError', ({ error }) => {
    fatalError = error;
  });
  events.on('job:error', ({ job, error }) => {
    log.warn({ jobId: job.id, task: job.task_identifier, attempt: job.attempts }, errorMessage(error));
  });

  const stopping = new AbortController();
  const sessions = new ModelSessions();
  const metricPool = new MetricPool();
  const utils = await makeWorkerUtils({ pgPool: pool, logger: graphileLogger(log) });
  const taskList = createTaskList({ db, logger: log, blobs: options.blobs, sessions, metricPool }, queue);
  const workerPgPool = reconnectingPool(pool, { logger: log, signal: stopping.signal });
  const startRunner = () =>
    run({
      pgPool: workerPgPool,
      concurrency,
      noHandleSignals: true,
      pollInterval: 2000,
      parsedCronItems: [],
      logger: graphileLogger(log),
      events,
      taskList,
      // A failure to record a job's result ends the pool (and we replace it) instead of surfacing as an
      // unhandled rejection that would end the process.
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
  let runner: Runner;
  try {
    runner = await startRunner();
  } catch (error) {
    stopping.abort();
    await utils.release();
    await metricPool.close();
    throw new AppError('WORKER_FAILED', `Could not start the job worker: ${errorMessage(error)}`, {
      cause: error,
    });
  }

  // After the database was unreachable, other pools' heartbeats are stale too: reap only once this pool
  // has been beating again for the dead-after time, so a pool that is alive has had its chance to beat.
  let reapFrom = Date.now();
  let beatFailures = 0;
  // false between a pool's end and its replacement: its heartbeat row is gone and must stay gone
  let poolRunning = true;
  const beat = async () => {
    if (!poolRunning) return;
    try {
      await upsertWorkerPool(db, {
        poolId,
        queue,
        hostname: os.hostname(),
        pid: process.pid,
        concurrency,
        workerIds: [...workerIds],
        version,
      });
    } catch (error) {
      reapFrom = Date.now() + deadAfterSeconds * 1000;
      beatFailures += 1;
      throw error;
    }
    if (beatFailures > 0) {
      log.warn({ poolId, failedBeats: beatFailures }, 'worker heartbeat recorded again');
      beatFailures = 0;
    }
    if (Date.now() < reapFrom) return;
    const reaped = await reapDeadWorkerPools(db, utils, deadAfterSeconds);
    if (reaped.length > 0)
      log.warn({ pools: reaped }, 'released the jobs of worker pools whose heartbeat stopped');
  };
  try {
    await beat();
  } catch (error) {
    // a server going down as the worker starts: the next beats register it once the server is back
    if (!isConnectionError(error)) throw error;
    log.error({ err: error }, `worker heartbeat failed: ${errorMessage(error)}`);
  }
  const timer = setInterval(() => {
    beat().catch((error) => {
      if (beatFailures <= 1) log.error({ err: error }, `worker heartbeat failed: ${errorMessage(error)}`);
    });
  }, heartbeatMs);
  timer.unref();
  log.info({ poolId, concurrency }, 'job worker started');

  /** Releases the jobs of a pool of ours that ended and starts its replacement; null when stopping. */
  const replace = async (ended: { poolId: string; workerIds: string[] }): Promise<Runner | null> => {
    for (let attempt = 1; !stopping.signal.aborted; attempt++) {
      const delayMs = Math.min(restartDelayMs.max, restartDelayMs.min * 2 ** (attempt - 1));
      try {
        await sleep(delayMs, undefined, { signal: stopping.signal });
        // The ended pool ran its jobs to their end before it stopped; what it still holds locked is
        // released now rather than after graphile-worker's four-hour lock timeout.
        await utils.forceUnlockWorkers([ended.poolId, ...ended.workerIds]);
        await deleteWorkerPools(db, [ended.poolId]);
        const next = await startRunner();
        if (stopping.signal.aborted) {
          await next.stop().catch(() => {});
          return null;
        }
        log.warn({ poolId, replaced: ended.poolId }, 'job worker pool replaced; taking jobs again');
        return next;
      } catch (error) {
        if (stopping.signal.aborted) break;
        log.error(
          { attempt, retryInMs: Math.min(restartDelayMs.max, delayMs * 2) },
          `could not restart the job worker pool: ${errorMessage(error)}`,
        );
      }
    }
    return null;
  };

  const supervise = async (): Promise<void> => {
    for (;;) {
      const ending = await runner.promise.then(
        () => null,
        (error: unknown) => error,
      );
      if (stopping.signal.aborted) {
        if (ending !== null) throw ending;
        return;
      }
      poolRunning = false;
      const ended = { poolId, workerIds: [...workerIds] };
      const reason = ending ?? fatalError;
      fatalError = null;
      log.error(
        { poolId: ended.poolId, err: reason },
        `job worker pool stopped by itself${reason === null ? '' : ` (${errorMessage(reason)})`}; replacing it`,
      );
      const next = await replace(ended);
      if (next === null) return;
      runner = next;
      poolRunning = true;
    }
  };
  const done = supervise().finally(() => clearInterval(timer));
  // a caller that never awaits `done` must not see its rejection as unhandled
  done.catch(() => {});

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping.abort();
      clearInterval(timer);
      await runner.stop().catch((error: unknown) => {
        // the pool had already ended (and no replacement was running)
        log.debug({ err: error }, 'job worker pool was not running');
      });
      await done.catch((error: unknown) =>
        log.warn({ err: error }, `job worker pool ended with an error: ${errorMessage(error)}`),
      );
      await deleteWorkerPools(db, [poolId]).catch((error) =>
        log.warn({ err: error }, 'could not remove the worker heartbeat row'),
      );
      await utils.release();
      await sessions.close();
      await metricPool.close();
      log.info({ poolId }, 'job worker stopped');
    })();
    return stopped;
  };

  return {
    get poolId() {
      return poolId;
    },
    lockOwnerIds: () => [poolId, ...workerIds],
    stop,
    done,
  };
}
