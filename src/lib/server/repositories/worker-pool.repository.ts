import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database, Row } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface WorkerPoolInfo {
  poolId: string;
  queue: string | null;
  hostname: string;
  pid: number;
  concurrency: number;
  workerIds: string[];
  version: string;
  startedAt: Date;
  lastSeenAt: Date;
}

function toWorkerPool(row: Row<'worker_pool'>): WorkerPoolInfo {
  return {
    poolId: row.pool_id,
    queue: row.queue,
    hostname: row.hostname,
    pid: row.pid,
    concurrency: row.concurrency,
    workerIds: row.worker_ids,
    version: row.version,
    startedAt: row.started_at,
    lastSeenAt: row.last_seen_at,
  };
}

/** Records (or refreshes) a live pool; last_seen_at is the database clock, so hosts need no clock sync. */
export async function upsertWorkerPool(
  db: Db,
  pool: Omit<WorkerPoolInfo, 'startedAt' | 'lastSeenAt'>,
): Promise<void> {
  await db
    .insertInto('worker_pool')
    .values({
      pool_id: pool.poolId,
      queue: pool.queue,
      hostname: pool.hostname,
      pid: pool.pid,
      concurrency: pool.concurrency,
      worker_ids: pool.workerIds,
      version: pool.version,
    })
    .onConflict((oc) =>
      oc.column('pool_id').doUpdateSet({
        worker_ids: pool.workerIds,
        last_seen_at: sql`now()`,
      }),
    )
    .execute();
}

export async function deleteWorkerPools(db: Db, poolIds: readonly string[]): Promise<void> {
  if (poolIds.length === 0) return;
  await db.deleteFrom('worker_pool').where('pool_id', 'in', poolIds).execute();
}

/** Pools whose last heartbeat is at most `withinSeconds` old. */
export async function listLiveWorkerPools(db: Db, withinSeconds: number): Promise<WorkerPoolInfo[]> {
  const rows = await db
    .selectFrom('worker_pool')
    .selectAll()
    .where('last_seen_at', '>=', sql<Date>`now() - make_interval(secs => ${withinSeconds})`)
    .orderBy('started_at')
    .execute();
  return rows.map(toWorkerPool);
}

/** Pools silent for more than `silentSeconds`: their processes are taken as dead. */
export async function listSilentWorkerPools(db: Db, silentSeconds: number): Promise<WorkerPoolInfo[]> {
  const rows = await db
    .selectFrom('worker_pool')
    .selectAll()
    .where('last_seen_at', '<', sql<Date>`now() - make_interval(secs => ${silentSeconds})`)
    .execute();
  return rows.map(toWorkerPool);
}
