import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { connect, withDatabase } from '../../src/lib/server/db/connection';
import { ensureDatabaseExists } from '../../src/lib/server/db/database';
import { startEmbeddedPostgres } from '../../src/lib/server/db/embedded-postgres';
import { migrateToLatest } from '../../src/lib/server/db/migrate';
import { createLogger } from '../../src/lib/server/logger';
import { prepareJobQueue } from '../../src/lib/server/services/worker.service';
import { freePort } from '../helpers/free-port';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a maintenance database on the test server (one that is never dropped). */
    adminUrl: string;
    /** Migrated database every test file clones its own database from. */
    templateDatabase: string;
    /** The pid of the run's main process; test database names carry it so teardown finds them. */
    runPid: number;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Drops test databases left by runs that died before their teardown (names carry the run's pid). */
async function dropOrphans(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname ~ '^cb_(test|template|migrations)_[0-9]+_'`,
    );
    for (const { datname } of rows) {
      const pid = Number(datname.split('_')[2]);
      if (pid !== process.pid && !processAlive(pid)) {
        await client.query(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`);
      }
    }
  } finally {
    await client.end();
  }
}

/**
 * Provides a Postgres server for the db tests: DATABASE_URL when set, else an embedded Postgres kept
 * under .contourbench/test-postgres. Builds one migrated template database per run.
 */
export default async function setup(project: TestProject) {
  const logger = createLogger('warn', 'test');
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!adminUrl) {
    const embedded = await startEmbeddedPostgres({
      dataDir: path.resolve('.contourbench/test'),
      port: await freePort(),
      logger,
    });
    adminUrl = embedded.adminUrl;
    stopEmbedded = embedded.stop;
  }
  await dropOrphans(adminUrl);

  const template = `cb_template_${process.pid}_${Date.now().toString(36)}`;
  await ensureDatabaseExists(adminUrl, template);
  const connection = connect(withDatabase(adminUrl, template), { max: 2 });
  try {
    await migrateToLatest(connection.db);
    await prepareJobQueue(connection.pool, logger);
  } finally {
    await connection.close();
  }

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', template);
  project.provide('runPid', process.pid);

  return async () => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>(
        'select datname from pg_database where datname like $1',
        [`cb\\_%\\_${process.pid}\\_%`],
      );
      for (const { datname } of rows) {
        await client.query(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`);
      }
    } finally {
      await client.end();
    }
    await stopEmbedded?.();
  };
}
