import { DEFAULT_BREAST_DOSE_METRICS, parseDoseMetricList } from '../core/dose/dose-metrics';
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

const oidcRequired = [
  'CONTOURBENCH_OIDC_ISSUER',
  'CONTOURBENCH_OIDC_CLIENT_ID',
  'CONTOURBENCH_OIDC_CLIENT_SECRET',
] as const;
const oidcVariables = [...oidcRequired, 'CONTOURBENCH_OIDC_SCOPES', 'CONTOURBENCH_OIDC_LABEL'] as const;

function isLoopbackUrl(value: string): boolean {
  const hostname = new URL(value).hostname;
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

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
      .undefined({
        error:
          'CONTOURBENCH_API_TOKEN is no longer read: API tokens belong to users (contourbench token create --user EMAIL)',
      })
      .optional(),
    CONTOURBENCH_MAX_UPLOAD_MB: z.coerce
      .number({ error: 'CONTOURBENCH_MAX_UPLOAD_MB must be a number' })
      .int('CONTOURBENCH_MAX_UPLOAD_MB must be an integer')
      .min(1, 'CONTOURBENCH_MAX_UPLOAD_MB must be at least 1')
      .default(2048),
    CONTOURBENCH_MAX_MODEL_MB: z.coerce
      .number({ error: 'CONTOURBENCH_MAX_MODEL_MB must be a number' })
      .int('CONTOURBENCH_MAX_MODEL_MB must be an integer')
      .min(1, 'CONTOURBENCH_MAX_MODEL_MB must be at least 1')
      .max(2047, 'CONTOURBENCH_MAX_MODEL_MB must be at most 2047 (an ONNX protobuf is under 2 GB)')
      .default(1024),
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
    CONTOURBENCH_OIDC_ISSUER: z
      .url({
        protocol: /^https?$/,
        error: 'CONTOURBENCH_OIDC_ISSUER must be the https:// URL of the OpenID provider (its issuer)',
      })
      .refine((value) => !value.startsWith('http://') || !URL.canParse(value) || isLoopbackUrl(value), {
        message:
          'CONTOURBENCH_OIDC_ISSUER must use https:// (plain http only on this machine: 127.0.0.1, localhost)',
      })
      .optional(),
    CONTOURBENCH_OIDC_CLIENT_ID: z.string().trim().min(1).optional(),
    CONTOURBENCH_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    CONTOURBENCH_OIDC_SCOPES: z
      .string()
      .trim()
      .refine((value) => value.split(/\s+/).includes('openid'), {
        message:
          'CONTOURBENCH_OIDC_SCOPES must include openid (space-separated, e.g. "openid email profile")',
      })
      .optional(),
    CONTOURBENCH_OIDC_LABEL: z.string().trim().min(1).max(80).optional(),
    CONTOURBENCH_DOSE_METRICS: z
      .string()
      .trim()
      .default(DEFAULT_BREAST_DOSE_METRICS)
      .superRefine((value, context) => {
        try {
          if (parseDoseMetricList(value).length === 0) throw new RangeError('no entry');
        } catch (error) {
          context.addIssue({
            code: 'custom',
            message: `CONTOURBENCH_DOSE_METRICS must be a list like "Heart:Dmean, A_LAD:Dmax, Lung_ipsi:V20Gy": ${error instanceof Error ? error.message : String(error)}`,
          });
        }
      }),
  })
  .refine((v) => v.CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS >= 2 * v.CONTOURBENCH_WORKER_HEARTBEAT_SECONDS, {
    path: ['CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS'],
    message: 'CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS must be at least twice the heartbeat interval',
  })
  .superRefine((v, context) => {
    const given = oidcVariables.filter((name) => v[name] !== undefined);
    if (given.length === 0) return;
    for (const name of oidcRequired)
      if (v[name] === undefined)
        context.addIssue({
          code: 'custom',
          path: [name],
          message: `${name} is missing: ${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set, and single sign-on needs ${oidcRequired.join(', ')}`,
        });
  });

/** OpenID Connect single sign-on. */
export interface OidcConfig {
  /** Issuer identifier: discovery reads ISSUER/.well-known/openid-configuration. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes asked for; always include openid. */
  scopes: string;
  /** Shown on the sign-in page as "Sign in with LABEL". */
  label: string;
}

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
  maxUploadBytes: number;
  /** Largest ONNX model file registered (bytes). */
  maxModelBytes: number;
  /** Single sign-on; undefined when not configured. */
  oidc: OidcConfig | undefined;
  /** The dose metric each structure is judged by (core/dose/dose-metrics.ts list syntax). */
  doseMetrics: string;
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
    maxUploadBytes: value.CONTOURBENCH_MAX_UPLOAD_MB * 1024 * 1024,
    maxModelBytes: value.CONTOURBENCH_MAX_MODEL_MB * 1024 * 1024,
    doseMetrics: value.CONTOURBENCH_DOSE_METRICS,
    oidc:
      value.CONTOURBENCH_OIDC_ISSUER &&
      value.CONTOURBENCH_OIDC_CLIENT_ID &&
      value.CONTOURBENCH_OIDC_CLIENT_SECRET
        ? {
            issuer: value.CONTOURBENCH_OIDC_ISSUER,
            clientId: value.CONTOURBENCH_OIDC_CLIENT_ID,
            clientSecret: value.CONTOURBENCH_OIDC_CLIENT_SECRET,
            scopes: (value.CONTOURBENCH_OIDC_SCOPES ?? 'openid email profile').split(/\s+/).join(' '),
            label: value.CONTOURBENCH_OIDC_LABEL ?? new URL(value.CONTOURBENCH_OIDC_ISSUER).host,
          }
        : undefined,
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
  {
    name: 'CONTOURBENCH_OIDC_ISSUER',
    meaning: 'OpenID Connect issuer URL for single sign-on',
    fallback: 'none: single sign-on off',
  },
  { name: 'CONTOURBENCH_OIDC_CLIENT_ID', meaning: 'client id registered at the issuer', fallback: 'none' },
  {
    name: 'CONTOURBENCH_OIDC_CLIENT_SECRET',
    meaning: 'client secret registered at the issuer',
    fallback: 'none',
  },
  { name: 'CONTOURBENCH_OIDC_SCOPES', meaning: 'scopes asked for', fallback: 'openid email profile' },
  {
    name: 'CONTOURBENCH_DOSE_METRICS',
    meaning: 'the dose metric each structure is judged by, e.g. "Heart:Dmean, Lung_ipsi:V20Gy"',
    fallback: 'heart Dmean, LAD Dmax, ipsilateral lung V20Gy, contralateral breast Dmean, CTV D95%, ...',
  },
  {
    name: 'CONTOURBENCH_OIDC_LABEL',
    meaning: 'sign-in button text: "Sign in with LABEL"',
    fallback: "the issuer's host",
  },
];
