import pg from 'pg';
import { AppError, errorMessage } from '../../core/errors';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { connect, type DatabaseConnection, redactUrl, withDatabase } from './connection';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './embedded-postgres';
import { migrateToLatest } from './migrate';

export const embeddedDatabaseName = 'contourbench';

export interface OpenedDatabase {
  connection: DatabaseConnection;
  /** Set when the database is the embedded Postgres. */
  embedded: EmbeddedPostgresHandle | null;
  close(): Promise<void>;
}

/** Creates `name` on the server unless it exists (CREATE DATABASE cannot run in a transaction or take parameters). */
export async function ensureDatabaseExists(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`create database ${pg.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        // another process created it between the check and the create
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/** Drops `name` on the server if it exists, ending its other sessions first. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

/**
 * Connects to DATABASE_URL, or starts the embedded Postgres when it is unset, checks the connection and
 * (unless told not to) applies pending migrations.
 */
export async function openDatabase(
  config: Config,
  logger: Logger,
  options: { migrate: boolean; poolSize?: number; applicationName?: string },
): Promise<OpenedDatabase> {
  let embedded: EmbeddedPostgresHandle | null = null;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      logger,
    });
    await ensureDatabaseExists(embedded.adminUrl, embeddedDatabaseName);
    url = withDatabase(embedded.adminUrl, embeddedDatabaseName);
  }
  const connection = connect(url, { max: options.poolSize, applicationName: options.applicationName });
  const close = async () => {
    await connection.close();
    await embedded?.stop();
  };
  try {
    await connection.pool.query('select 1');
  } catch (error) {
    await close();
    throw new AppError(
      'DATABASE_UNAVAILABLE',
      `Cannot connect to ${redactUrl(url)}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  if (options.migrate) {
    try {
      const applied = await migrateToLatest(connection.db);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    } catch (error) {
      await close();
      throw error;
    }
  }
  return { connection, embedded, close };
}
