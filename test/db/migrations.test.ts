import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateToLatest, migrationStatus } from '../../src/lib/server/db/migrate';
import { createTestDatabase, type TestDatabase } from './test-database';

async function userTables(database: TestDatabase): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%'
    order by table_name`.execute(database.db);
  return result.rows.map((row) => row.table_name);
}

describe('migrations', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('empty');
  });

  afterAll(async () => {
    await database?.destroy();
  });

  it('run up, down and up again, leaving the same schema', async () => {
    const applied = await migrateToLatest(database.db);
    expect(applied.length).toBeGreaterThan(0);
    const tablesAfterFirstUp = await userTables(database);
    expect(tablesAfterFirstUp).toContain('metric');
    expect(tablesAfterFirstUp).toContain('patient_case');

    const reverted = await migrateDown(database.db, 'all');
    expect(reverted).toEqual([...applied].reverse());
    expect(await userTables(database)).toEqual([]);
    const functions = await sql<{ n: number }>`
      select count(*)::int as n from pg_proc p join pg_namespace ns on ns.oid = p.pronamespace
      where ns.nspname = 'public'`.execute(database.db);
    expect(functions.rows[0].n).toBe(0);

    expect(await migrateToLatest(database.db)).toEqual(applied);
    expect(await userTables(database)).toEqual(tablesAfterFirstUp);
    expect((await migrationStatus(database.db)).every((m) => m.executedAt instanceof Date)).toBe(true);
  });

  it('reverts one step at a time', async () => {
    const status = await migrationStatus(database.db);
    const last = status[status.length - 1].name;
    expect(await migrateDown(database.db, 1)).toEqual([last]);
    expect((await migrationStatus(database.db)).find((m) => m.name === last)?.executedAt).toBeNull();
    expect(await migrateToLatest(database.db)).toEqual([last]);
    expect(await migrateToLatest(database.db)).toEqual([]);
  });
});
