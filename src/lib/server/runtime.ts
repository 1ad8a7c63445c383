import path from 'node:path';
import { loadConfig, type Config } from './config';
import { FileBlobStore, type BlobStore } from './storage/blob-store';
import type { DatabaseConnection } from './db/connection';
import { openDatabase } from './db/database';
import { createLogger, type Logger } from './logger';
import { appVersion } from './paths';
import { getHealth, type HealthReport } from './services/health.service';
import { prepareJobQueue, startWorker, type WorkerHandle } from './services/worker.service';

/**
 * Everything a ContourBench process holds open: configuration, logger, database (with the embedded
 * Postgres when used) and optionally an in-process job worker. The web server's bundle and the CLI are
 * separate module graphs in one process, so the runtime they share lives on globalThis.
 */
export interface Runtime {
  config: Config;
  logger: Logger;
  version: string;
  database: DatabaseConnection;
  embedded: boolean;
  worker: WorkerHandle | null;
  blobs: BlobStore;
  /** The health report of this process's database and of the job workers it can see. */
  health(): Promise<HealthReport>;
  close(): Promise<void>;
}

const runtimeKey = Symbol.for('contourbench.runtime');
type RuntimeGlobal = typeof globalThis & { [runtimeKey]?: Promise<Runtime> };

export interface RuntimeOptions {
  config?: Config;
  logger?: Logger;
  /** Start a job worker in this process (the web server does, unless configured off). */
  worker: boolean;
  queue?: string | null;
  concurrency?: number;
  applicationName?: string;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger(config.logLevel);
  const version = appVersion();
  const opened = await openDatabase(config, logger, {
    migrate: true,
    applicationName: options.applicationName,
  });
  const database = opened.connection;
  const blobs = new FileBlobStore(path.join(config.dataDir, 'blobs'));
  let worker: WorkerHandle | null = null;
  try {
    await prepareJobQueue(database.pool, logger);
    if (options.worker) {
      worker = await startWorker({
        db: database.db,
        pool: database.pool,
        logger,
        version,
        queue: options.queue ?? null,
        concurrency: options.concurrency ?? config.workerConcurrency,
        heartbeatSeconds: config.workerHeartbeatSeconds,
        deadAfterSeconds: config.workerDeadAfterSeconds,
        blobs,
      });
    }
  } catch (error) {
    await opened.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    config,
    logger,
    version,
    database,
    embedded: opened.embedded !== null,
    worker,
    blobs,
    health: () =>
      getHealth(database.db, {
        version,
        embedded: opened.embedded !== null,
        inProcessWorker: worker !== null,
      }),
    close: () => {
      closing ??= (async () => {
        await worker?.stop();
        await opened.close();
      })();
      return closing;
    },
  };
}

/** Publishes a runtime for the web server's bundle to use. */
export function shareRuntime(runtime: Promise<Runtime>): void {
  (globalThis as RuntimeGlobal)[runtimeKey] = runtime;
}

/** The process's shared runtime, started on first use (as under `vite dev`, where no CLI started one). */
export function sharedRuntime(): Promise<Runtime> {
  const global = globalThis as RuntimeGlobal;
  global[runtimeKey] ??= (async () => {
    const config = loadConfig();
    return startRuntime({ config, worker: config.inProcessWorker, applicationName: 'contourbench-web' });
  })();
  return global[runtimeKey];
}
