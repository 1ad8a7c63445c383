import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { makeWorkerUtils } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/server/logger';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { enqueueJob } from '../../src/lib/server/repositories/job.repository';
import { upsertWorkerPool } from '../../src/lib/server/repositories/worker-pool.repository';
import { awaitHealthPing, getHealth, requestHealthPing } from '../../src/lib/server/services/health.service';
import {
  reapDeadWorkerPools,
  startWorker,
  type WorkerHandle,
} from '../../src/lib/server/services/worker.service';
import { createTestDatabase, type TestDatabase } from './test-database';

const logger = createLogger('silent');
let database: TestDatabase;
const workers: WorkerHandle[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await database?.destroy();
});

async function worker(queue: string | null): Promise<WorkerHandle> {
  const handle = await startWorker({
    db: database.db,
    pool: database.pool,
    logger,
    version: 'test',
    queue,
    concurrency: 1,
    blobs: new FileBlobStore(path.join(os.tmpdir(), 'contourbench-worker-test-blobs')),
  });
  workers.push(handle);
  return handle;
}

describe('job worker', () => {
  it('reports degraded health while no worker runs', async () => {
    const report = await getHealth(database.db, { version: 'test', embedded: false, inProcessWorker: false });
    expect(report.database.ok).toBe(true);
    expect(report.database.pendingMigrations).toEqual([]);
    expect(report.worker.ok).toBe(false);
    expect(report.status).toBe('degraded');
  });

  it('runs a health job end to end and reports itself alive', async () => {
    const central = await worker(null);
    const nonce = await requestHealthPing(database.db);
    const ping = await awaitHealthPing(database.db, nonce, 20_000);
    expect(ping.completedAt).toBeInstanceOf(Date);
    expect(central.lockOwnerIds()).toContain(ping.workerId);

    const report = await getHealth(database.db, { version: 'test', embedded: false, inProcessWorker: true });
    expect(report.status).toBe('ok');
    expect(report.worker.livePools.map((p) => p.poolId)).toContain(central.poolId);
    expect(report.worker.jobs).toEqual({ pending: 0, running: 0, failed: 0 });
  });

  it('routes a job to the worker bound to its queue only', async () => {
    const nonce = await requestHealthPing(database.db, 'site-a');
    await expect(awaitHealthPing(database.db, nonce, 1_500)).rejects.toThrow(/No worker answered/);

    const siteWorker = await worker('site-a');
    const ping = await awaitHealthPing(database.db, nonce, 20_000);
    expect(siteWorker.lockOwnerIds()).toContain(ping.workerId);
  });

  it('enqueues nothing when the transaction that adds the job rolls back', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await enqueueJob(trx, 'health', { nonce: 'rolled-back-0001' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const jobs = await sql<{ n: number }>`
      select count(*)::int as n from graphile_worker._private_jobs where payload->>'nonce' = 'rolled-back-0001'`.execute(
      database.db,
    );
    expect(jobs.rows[0].n).toBe(0);
  });

  it('releases the jobs of a pool whose heartbeat stopped', async () => {
    // Jobs locked by a pool that died without unlocking them, one by the pool id and one by a worker id.
    const jobIds = [
      await enqueueJob(database.db, 'health@nobody', { nonce: 'orphaned-job-0001' }),
      await enqueueJob(database.db, 'health@nobody', { nonce: 'orphaned-job-0002' }),
    ];
    await sql`update graphile_worker._private_jobs set locked_by = 'pool-dead', locked_at = now() where id = ${jobIds[0]}`.execute(
      database.db,
    );
    await sql`update graphile_worker._private_jobs set locked_by = 'worker-dead', locked_at = now() where id = ${jobIds[1]}`.execute(
      database.db,
    );
    await upsertWorkerPool(database.db, {
      poolId: 'pool-dead',
      queue: null,
      hostname: 'gone',
      pid: 1,
      concurrency: 1,
      workerIds: ['worker-dead'],
      version: 'test',
    });
    await sql`update worker_pool set last_seen_at = now() - interval '5 minutes' where pool_id = 'pool-dead'`.execute(
      database.db,
    );

    const utils = await makeWorkerUtils({ pgPool: database.pool });
    try {
      expect(await reapDeadWorkerPools(database.db, utils, 90)).toEqual(['pool-dead']);
      expect(await reapDeadWorkerPools(database.db, utils, 90)).toEqual([]);
    } finally {
      await utils.release();
    }
    const jobs = await sql<{ locked_by: string | null }>`
      select locked_by from graphile_worker.jobs where id = any(${jobIds})`.execute(database.db);
    expect(jobs.rows).toEqual([{ locked_by: null }, { locked_by: null }]);
    const pools = await database.db.selectFrom('worker_pool').select('pool_id').execute();
    expect(pools.map((p) => p.pool_id)).not.toContain('pool-dead');
  });

  it('removes its heartbeat row when stopped', async () => {
    const handle = await worker('site-b');
    await handle.stop();
    const pools = await database.db.selectFrom('worker_pool').select('pool_id').execute();
    expect(pools.map((p) => p.pool_id)).not.toContain(handle.poolId);
  });
});
