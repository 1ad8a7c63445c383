import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withDatabase } from '../../src/lib/server/db/connection';
import { ensureDatabaseExists } from '../../src/lib/server/db/database';
import {
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from '../../src/lib/server/db/embedded-postgres';
import { createLogger } from '../../src/lib/server/logger';
import { freePort } from './free-port';

export interface PrivatePostgres {
  /** URL of the `contourbench` database on this server. */
  url: string;
  port: number;
  /** Stops the server (a fast shutdown: sessions are ended, as on a restart of the machine's service). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
  /** Stops the server and removes its data folder. */
  destroy(): Promise<void>;
}

/**
 * A Postgres server of the calling test alone (the embedded-postgres binaries, a temporary data folder,
 * a free port), so the test can stop and start it without touching the server other tests share.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-private-pg-'));
  const port = await freePort();
  const logger = createLogger('warn', 'private-postgres');
  let handle: EmbeddedPostgresHandle | null = await startEmbeddedPostgres({ dataDir, port, logger });
  const url = withDatabase(handle.adminUrl, 'contourbench');
  await ensureDatabaseExists(handle.adminUrl, 'contourbench');
  const stop = async () => {
    const running = handle;
    handle = null;
    await running?.stop();
  };
  return {
    url,
    port,
    stop,
    start: async () => {
      if (handle === null) handle = await startEmbeddedPostgres({ dataDir, port, logger });
    },
    destroy: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
