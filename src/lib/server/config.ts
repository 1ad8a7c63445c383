import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../core/errors';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int(`${name} must be an integer`)
    .min(1, `${name} must be between 1 and 65535`)
    .max(65535, `${name} must be between 1 and 65535`);

const envSchema = z
  .object({
    DATABASE_URL: z
      .string()
      .trim()
      .min(1)
      .refine((value) => /^postgres(ql)?:\/\//.test(value), {
        message: 'DATABASE_URL must be a postgres:// or postgresql:// connection URL',
      })
      .optional(),
    CONTOURBENCH_DATA_DIR: z.string().trim().min(1).default('.contourbench'),
    CONTOURBENCH_PG_PORT: port('CONTOURBENCH_PG_PORT').default(54329),
    HOST: z.string().trim().min(1).default('127.0.0.1'),
    PORT: port('PORT').default(3000),
    LOG_LEVEL: z
      .enum(logLevels, { error: `LOG_LEVEL must be one of ${logLevels.join(', ')}` })
      .default('info'),
    CONTOURBENCH_IN_PROCESS_WORKER: z
      .stringbool({ error: 'CONTOURBENCH_IN_PROCESS_WORKER must be true or false' })
      .default(true),
    CONTOURBENCH_API_TOKEN: z
      .string()
      .trim()
      .min(32, 'CONTOURBENCH_API_TOKEN must be at least 32 characters')
      .optional(),
    CONTOURBENCH_MAX_UPLOAD_MB: z.coerce
      .number({ error: 'CONTOURBENCH_MAX_UPLOAD_MB must be a number' })
      .int('CONTOURBENCH_MAX_UPLOAD_MB must be an integer')
      .min(1, 'CONTOURBENCH_MAX_UPLOAD_MB must be at least 1')
      .default(2048),
    CONTOURBENCH_WORKER_CONCURRENCY: z.coerce
      .number({ error: 'CONTOURBENCH_WORKER_CONCURRENCY must be a number' })
      .int('CONTOURBENCH_WORKER_CONCURRENCY must be an integer')
      .min(1, 'CONTOURBENCH_WORKER_CONCURRENCY must be at least 1')
      .max(64, 'CONTOURBENCH_WORKER_CONCURRENCY must be at most 64')
      .default(1),
    CONTOURBENCH_WORKER_HEARTBEAT_SECONDS: z.coerce
      .number({ error: 'CONTOURBENCH_WORKER_HEARTBEAT_SECONDS must be a number' })
      .min(0.2, 'CONTOURBENCH_WORKER_HEARTBEAT_SECONDS must be at least 0.2')
      .max(3600, 'CONTOURBENCH_WORKER_HEARTBEAT_SECONDS must be at most 3600')
      .default(10),
    CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS: z.coerce
      .number({ error: 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS must be a number' })
      .min(1, 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS must be at least 1')
      .max(86_400, 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS must be at most 86400')
      .default(90),
  })
  .refine((v) => v.CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS >= 2 * v.CONTOURBENCH_WORKER_HEARTBEAT_SECONDS, {
    path: ['CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS'],
    message: 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS must be at least twice the heartbeat interval',
  });

export interface Config {
  /** Connection URL of an external Postgres; when absent an embedded Postgres is started. */
  databaseUrl: string | undefined;
  /** Absolute path of the folder holding the embedded database, blobs and caches. */
  dataDir: string;
  embeddedPostgresPort: number;
  host: string;
  port: number;
  logLevel: (typeof logLevels)[number];
  inProcessWorker: boolean;
  workerConcurrency: number;
  /** How often each worker pool records that it is alive (s). */
  workerHeartbeatSeconds: number;
  /** A pool silent this long is taken as dead and its jobs are released for other workers (s). */
  workerDeadAfterSeconds: number;
  /** Bearer token the JSON API accepts until per-user tokens exist; the API refuses every call without one. */
  apiToken: string | undefined;
  maxUploadBytes: number;
}

/** Reads and validates the configuration from environment variables; throws CONFIG_INVALID naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const variable = issue.path.join('.');
      return `  ${variable}=${JSON.stringify(env[variable] ?? '')}: ${issue.message}`;
    });
    throw new AppError('CONFIG_INVALID', `Invalid configuration in the environment:\n${problems.join('\n')}`);
  }
  const value = parsed.data;
  return {
    databaseUrl: value.DATABASE_URL,
    dataDir: path.resolve(value.CONTOURBENCH_DATA_DIR),
    embeddedPostgresPort: value.CONTOURBENCH_PG_PORT,
    host: value.HOST,
    port: value.PORT,
    logLevel: value.LOG_LEVEL,
    inProcessWorker: value.CONTOURBENCH_IN_PROCESS_WORKER,
    workerConcurrency: value.CONTOURBENCH_WORKER_CONCURRENCY,
    workerHeartbeatSeconds: value.CONTOURBENCH_WORKER_HEARTBEAT_SECONDS,
    workerDeadAfterSeconds: value.CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS,
    apiToken: value.CONTOURBENCH_API_TOKEN,
    maxUploadBytes: value.CONTOURBENCH_MAX_UPLOAD_MB * 1024 * 1024,
  };
}

/** The documented environment variables, for `--help` and the README. */
export const configVariables: ReadonlyArray<{ name: string; meaning: string; fallback: string }> = [
  {
    name: 'DATABASE_URL',
    meaning: 'Postgres connection URL',
    fallback: 'embedded Postgres under the data dir',
  },
  {
    name: 'CONTOURBENCH_DATA_DIR',
    meaning: 'data folder (embedded database, blobs)',
    fallback: './.contourbench',
  },
  { name: 'CONTOURBENCH_PG_PORT', meaning: 'port of the embedded Postgres', fallback: '54329' },
  { name: 'HOST', meaning: 'address the web server listens on', fallback: '127.0.0.1' },
  { name: 'PORT', meaning: 'port the web server listens on', fallback: '3000' },
  { name: 'LOG_LEVEL', meaning: logLevels.join(' | '), fallback: 'info' },
  {
    name: 'CONTOURBENCH_IN_PROCESS_WORKER',
    meaning: 'run a job worker inside the web server',
    fallback: 'true',
  },
  {
    name: 'CONTOURBENCH_WORKER_CONCURRENCY',
    meaning: 'jobs each worker process runs at once',
    fallback: '1',
  },
  {
    name: 'CONTOURBENCH_WORKER_HEARTBEAT_SECONDS',
    meaning: 'how often a worker records that it is alive',
    fallback: '10',
  },
  {
    name: 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS',
    meaning: 'a worker silent this long is dead; its jobs go to other workers',
    fallback: '90',
  },
];
