import os from 'node:os';
import path from 'node:path';
import type { Actor } from '../lib/server/services/account.service';
import { readFile } from 'node:fs/promises';
import { AppError, errorMessage } from '../lib/core/errors';
import { loadConfig, type Config } from '../lib/server/config';
import type { Db } from '../lib/server/db/connection';
import { openDatabase } from '../lib/server/db/database';
import { createLogger, type Logger } from '../lib/server/logger';
import { FileBlobStore, type BlobStore } from '../lib/server/storage/blob-store';

/**
 * Runs `shutdown` on the first SIGINT or SIGTERM and exits when it settles; a second signal exits at
 * once. Returns a promise that never settles, so a command can await it to keep running.
 */
export function runUntilSignal(logger: Logger, shutdown: () => Promise<void>): Promise<never> {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // The embedded Postgres package installs exit hooks that stop the server on these signals, in parallel
  // with (and so before) the web server and worker finishing their work; this process orders it instead.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<never>(() => {});
}

/** Reads a file named on the command line; INVALID_ARGUMENT names it when it cannot be read. */
export async function readInputFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new AppError('INVALID_ARGUMENT', `cannot read ${file}: ${errorMessage(error)}`, { cause: error });
  }
}

/** Opens the configured database (migrating it), runs one command's work and closes it again. */
export async function withCliDatabase<T>(
  name: string,
  work: (db: Db, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const opened = await openDatabase(config, createLogger(config.logLevel, 'contourbench', 'stderr'), {
    migrate: true,
    applicationName: `contourbench-${name}`,
  });
  try {
    return await work(opened.connection.db, config);
  } finally {
    await opened.close();
  }
}

/** The configured database and blob store, for one command's work (see withCliDatabase). */
export async function withCliStores<T>(
  name: string,
  work: (deps: { db: Db; blobs: BlobStore }, config: Config) => Promise<T>,
): Promise<T> {
  return withCliDatabase(name, (db, config) =>
    work({ db, blobs: new FileBlobStore(path.join(config.dataDir, 'blobs')) }, config),
  );
}

/**
 * The CLI acts with the authority of whoever runs it on the server (it reaches the database directly);
 * the audit trail names the operating-system account.
 */
export function cliActor(): Actor {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // no passwd entry for this uid
  }
  return { userId: null, label: `cli:${name}` };
}
