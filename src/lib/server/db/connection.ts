import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { errorMessage } from '../../core/errors';
import type { Logger } from '../logger';
import type { Database } from './schema';

// int8 (counts, identity ids) and numeric arrive as strings by default; ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));
// `date` columns are calendar dates, not instants: keep them as 'YYYY-MM-DD' strings.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

/** The query builder services pass to repositories (services never import Kysely itself). */
export type Db = Kysely<Database>;
/** The pg pool shared with graphile-worker. */
export type PgPool = pg.Pool;

export interface DatabaseConnection {
  db: Kysely<Database>;
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

/** Opens a pooled connection; the pool is shared by Kysely and graphile-worker. */
export function connect(
  url: string,
  options: { max?: number; applicationName?: string } = {},
): DatabaseConnection {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'contourbench',
  });
  // A client losing its connection (server restart, network) must not crash the process: the query in
  // flight rejects and the pool replaces the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    url,
    // Kysely's destroy() ends the pool it was given.
    close: () => db.destroy(),
  };
}

/** The same server URL with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** The URL without its password, for logs and health output. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Socket errors of a server that is down, restarting or unreachable. */
const connectionErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** SQLSTATEs of a lost or refused session: administrator or crash shutdown, starting up, too many clients. */
const connectionSqlStates = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * True when `error` says the database server could not be reached or the session was lost (server stopped,
 * restarting or unreachable), as opposed to an error of the statement itself. Work that failed this way can
 * be retried once the server is back.
 */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (connectionErrnos.has(code) || connectionSqlStates.has(code) || code.startsWith('08')) return true;
  }
  const message = errorMessage(error);
  // pg reports a socket closed under a query or a client broken by such an error without a code
  return (
    message.startsWith('Connection terminated') ||
    message.includes('not queryable') ||
    message === 'timeout exceeded when trying to connect'
  );
}

export interface ReconnectOptions {
  logger: Logger;
  /** Ends the waiting: a connect waiting to retry rejects, and later ones get one try each. */
  signal: AbortSignal;
  /** First wait after a failed attempt (ms); doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * The pool as seen by a long-running consumer (the job worker): `connect()` waits while the server is
 * unreachable, retrying with exponential back-off, instead of failing, so a database restart pauses the
 * consumer rather than ending it. The first failure and the recovery are logged once each. Everything else
 * is the pool itself; queries run through it still fail at once (the web server reports the outage).
 */
export function reconnectingPool(pool: pg.Pool, options: ReconnectOptions): pg.Pool {
  const { logger, signal } = options;
  const minDelayMs = options.minDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  let unavailableSince: number | null = null;
  let failures = 0;
  const connect = async (): Promise<pg.PoolClient> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await pool.connect();
        if (unavailableSince !== null) {
          logger.warn(
            { downSeconds: Math.round((Date.now() - unavailableSince) / 100) / 10, failedConnects: failures },
            'database reachable again; resuming',
          );
          unavailableSince = null;
          failures = 0;
        }
        return client;
      } catch (error) {
        // once stopping, a connect still gets its one try (a job finishing records its result) but no wait
        if (!isConnectionError(error) || signal.aborted) throw error;
        failures += 1;
        const delayMs = Math.min(maxDelayMs, minDelayMs * 2 ** (attempt - 1));
        if (unavailableSince === null) {
          unavailableSince = Date.now();
          logger.error(
            { code: (error as { code?: string }).code },
            `database unreachable (${errorMessage(error)}); waiting to reconnect, ` +
              `backing off up to ${maxDelayMs / 1000} s`,
          );
        } else {
          logger.debug({ attempt, delayMs }, `database still unreachable: ${errorMessage(error)}`);
        }
        await sleep(delayMs * (0.75 + Math.random() / 2), undefined, { signal });
      }
    }
  };
  // pg's connect() also takes a callback (graphile-worker's LISTEN client uses that form)
  function connectEither(): Promise<pg.PoolClient>;
  function connectEither(
    callback: (
      error: Error | undefined,
      client?: pg.PoolClient,
      release?: (error?: Error | boolean) => void,
    ) => void,
  ): void;
  function connectEither(
    callback?: (
      error: Error | undefined,
      client?: pg.PoolClient,
      release?: (error?: Error | boolean) => void,
    ) => void,
  ): Promise<pg.PoolClient> | void {
    if (callback === undefined) return connect();
    connect().then(
      (client) => callback(undefined, client, (error) => client.release(error)),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  }
  return new Proxy(pool, {
    get(target, property) {
      if (property === 'connect') return connectEither;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Runs `work`, and again after a wait while it fails because the database is unreachable (doubling waits
 * from 250 ms to 5 s, for at most `maxWaitMs`): for short, idempotent writes whose loss would leave the
 * record incomplete, such as a job's outcome. Other errors, and the last connection error, are thrown.
 */
export async function retryWhileDisconnected<T>(
  work: () => Promise<T>,
  options: { what: string; logger?: Logger; maxWaitMs?: number; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + (options.maxWaitMs ?? 120_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isConnectionError(error) || Date.now() >= deadline || options.signal?.aborted) throw error;
      const delayMs = Math.min(5000, 250 * 2 ** (attempt - 1));
      if (attempt === 1)
        options.logger?.warn(`${options.what}: database unreachable (${errorMessage(error)}); retrying`);
      await sleep(Math.min(delayMs, Math.max(0, deadline - Date.now())), undefined, {
        signal: options.signal,
      });
    }
  }
}
