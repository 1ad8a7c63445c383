import { randomBytes } from 'node:crypto';
import { AppError, errorMessage } from '../../core/errors';
import { migrationStatus } from '../db/migrate';
import type { Db } from '../db/connection';
import { taskIdentifier } from '../jobs/queues';
import {
  completeHealthPing,
  findHealthPing,
  insertHealthPing,
  pingDatabase,
} from '../repositories/health.repository';
import { countJobs, enqueueJob, type QueueCounts } from '../repositories/job.repository';
import { listLiveWorkerPools } from '../repositories/worker-pool.repository';
import { defaultHeartbeatSeconds } from '../jobs/heartbeat';

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface HealthReport {
  status: HealthStatus;
  version: string;
  time: string;
  database: {
    ok: boolean;
    mode: 'embedded' | 'external';
    serverVersion: string | null;
    latencyMs: number | null;
    pendingMigrations: string[];
    error?: string;
  };
  worker: {
    ok: boolean;
    /** Worker pools (any process, any host) whose heartbeat is fresh. */
    livePools: Array<{
      poolId: string;
      queue: string | null;
      hostname: string;
      pid: number;
      concurrency: number;
    }>;
    inProcess: boolean;
    jobs: QueueCounts | null;
  };
}

/** A pool is live when it reported within three heartbeats. */
const liveWithinSeconds = 3 * defaultHeartbeatSeconds;

export async function getHealth(
  db: Db,
  context: { version: string; embedded: boolean; inProcessWorker: boolean },
): Promise<HealthReport> {
  const report: HealthReport = {
    status: 'down',
    version: context.version,
    time: new Date().toISOString(),
    database: {
      ok: false,
      mode: context.embedded ? 'embedded' : 'external',
      serverVersion: null,
      latencyMs: null,
      pendingMigrations: [],
    },
    worker: { ok: false, livePools: [], inProcess: context.inProcessWorker, jobs: null },
  };
  try {
    const started = performance.now();
    report.database.serverVersion = await pingDatabase(db);
    report.database.latencyMs = Math.round((performance.now() - started) * 100) / 100;
    report.database.pendingMigrations = (await migrationStatus(db))
      .filter((m) => m.executedAt === null)
      .map((m) => m.name);
    report.database.ok = report.database.pendingMigrations.length === 0;
    if (!report.database.ok) report.database.error = 'migrations pending: run `contourbench migrate up`';
  } catch (error) {
    report.database.error = errorMessage(error);
    return report;
  }
  try {
    const pools = await listLiveWorkerPools(db, liveWithinSeconds);
    report.worker.livePools = pools.map(({ poolId, queue, hostname, pid, concurrency }) => ({
      poolId,
      queue,
      hostname,
      pid,
      concurrency,
    }));
    report.worker.ok = pools.some((pool) => pool.queue === null);
    report.worker.jobs = await countJobs(db);
  } catch (error) {
    report.worker.ok = false;
    report.database.error = errorMessage(error);
  }
  report.status = report.database.ok && report.worker.ok ? 'ok' : 'degraded';
  return report;
}

/** Queues a health job; the answer proves a worker round trip. Returns the ping's nonce. */
export async function requestHealthPing(db: Db, queue: string | null = null): Promise<string> {
  const nonce = randomBytes(12).toString('hex');
  await db.transaction().execute(async (trx) => {
    await insertHealthPing(trx, nonce);
    await enqueueJob(trx, taskIdentifier('health', queue), { nonce }, { maxAttempts: 3 });
  });
  return nonce;
}

export async function answerHealthPing(
  db: Db,
  ping: { nonce: string; workerId: string | null; hostname: string },
): Promise<void> {
  if (!(await completeHealthPing(db, ping))) {
    throw new AppError('NOT_FOUND', `health ping ${ping.nonce} does not exist`);
  }
}

/** Waits until a ping is answered, polling every 100 ms; throws WORKER_FAILED after `timeoutMs`. */
export async function awaitHealthPing(db: Db, nonce: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ping = await findHealthPing(db, nonce);
    if (ping?.completedAt) return ping;
    if (Date.now() > deadline) {
      throw new AppError('WORKER_FAILED', `No worker answered health ping ${nonce} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
