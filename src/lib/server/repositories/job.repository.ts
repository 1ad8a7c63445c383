import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface EnqueueOptions {
  /** Jobs with the same queue name run one after another. */
  serialQueue?: string;
  /** Replaces a pending job with the same key instead of adding a second one. */
  jobKey?: string;
  maxAttempts?: number;
  priority?: number;
  runAt?: Date;
}

/**
 * Adds a graphile-worker job through its SQL API, so it commits or rolls back with the caller's
 * transaction: a job never exists without the rows it refers to.
 */
export async function enqueueJob(
  db: Db,
  identifier: string,
  payload: Record<string, unknown>,
  options: EnqueueOptions = {},
): Promise<number> {
  const result = await sql<{ id: string }>`
    select id from graphile_worker.add_job(
      ${identifier},
      ${JSON.stringify(payload)}::json,
      queue_name => ${options.serialQueue ?? null},
      run_at => ${options.runAt ?? null}::timestamptz,
      max_attempts => ${options.maxAttempts ?? 25},
      job_key => ${options.jobKey ?? null},
      priority => ${options.priority ?? 0}
    )`.execute(db);
  return Number(result.rows[0].id);
}

export interface QueueCounts {
  pending: number;
  running: number;
  failed: number;
}

/** Jobs waiting, locked by a worker, and failed for good (attempts exhausted), across all queues. */
export async function countJobs(db: Db): Promise<QueueCounts> {
  const result = await sql<{ pending: number; running: number; failed: number }>`
    select
      count(*) filter (where locked_at is null and attempts < max_attempts)::int as pending,
      count(*) filter (where locked_at is not null)::int as running,
      count(*) filter (where attempts >= max_attempts)::int as failed
    from graphile_worker.jobs`.execute(db);
  return result.rows[0];
}

/** Jobs whose key starts with `prefix`: still to run or running, and failed for good. */
export async function countJobsWithKeyPrefix(
  db: Db,
  prefix: string,
): Promise<{ open: number; failed: number; errors: string[] }> {
  const result = await sql<{ open: number; failed: number; errors: string[] | null }>`
    select
      count(*) filter (where attempts < max_attempts or locked_at is not null)::int as open,
      count(*) filter (where attempts >= max_attempts and locked_at is null)::int as failed,
      array_agg(key || ': ' || last_error) filter (where attempts >= max_attempts and locked_at is null) as errors
    from graphile_worker.jobs
    where key like ${`${prefix.replaceAll('%', '\\%').replaceAll('_', '\\_')}%`}`.execute(db);
  const row = result.rows[0]!;
  return { open: row.open, failed: row.failed, errors: row.errors ?? [] };
}
