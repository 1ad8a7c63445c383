import type { DatabaseConnection } from '../../src/lib/server/db/connection';
import { createLogger } from '../../src/lib/server/logger';
import { getRunProgress, type RunProgress } from '../../src/lib/server/services/evaluation-run.service';
import { startWorker, type WorkerHandle } from '../../src/lib/server/services/worker.service';
import type { BlobStore } from '../../src/lib/server/storage/blob-store';

/** A silent in-process worker on the test database, taking central-queue jobs one at a time. */
export function startTestWorker(database: DatabaseConnection, blobs: BlobStore): Promise<WorkerHandle> {
  return startWorker({
    db: database.db,
    pool: database.pool,
    logger: createLogger('silent'),
    version: 'test',
    queue: null,
    concurrency: 1,
    blobs,
  });
}

/** Polls a run every 100 ms until it has ended (or `seconds` pass) and returns its last progress. */
export async function waitForRunEnd(
  database: DatabaseConnection,
  runId: number,
  seconds = 30,
): Promise<RunProgress> {
  let progress = await getRunProgress(database.db, runId);
  for (
    let i = 0;
    i < seconds * 10 && (progress.status === 'queued' || progress.status === 'running');
    i += 1
  ) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    progress = await getRunProgress(database.db, runId);
  }
  return progress;
}
