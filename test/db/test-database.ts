import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { connect, type DatabaseConnection, withDatabase } from '../../src/lib/server/db/connection';

export interface TestDatabase extends DatabaseConnection {
  name: string;
  /** Closes the pool and drops the database. */
  destroy(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A database of this test file's own: a clone of the migrated template (`kind: 'migrated'`), or empty
 * (`kind: 'empty'`) for migration tests. Names carry the pid so the global teardown finds them.
 */
export async function createTestDatabase(kind: 'migrated' | 'empty' = 'migrated'): Promise<TestDatabase> {
  const prefix = kind === 'migrated' ? 'cb_test' : 'cb_migrations';
  const name = `${prefix}_${inject('runPid')}_${randomBytes(6).toString('hex')}`;
  const template = kind === 'migrated' ? inject('templateDatabase') : 'template0';
  for (let attempt = 1; ; attempt++) {
    try {
      await adminQuery(
        `create database ${pg.escapeIdentifier(name)} template ${pg.escapeIdentifier(template)}`,
      );
      break;
    } catch (error) {
      // 55006: another file is cloning the template at this instant
      if ((error as { code?: string }).code !== '55006' || attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
  const connection = connect(withDatabase(inject('adminUrl'), name), {
    max: 6,
    applicationName: 'contourbench-test',
  });
  return {
    ...connection,
    name,
    destroy: async () => {
      await connection.close();
      await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    },
  };
}
