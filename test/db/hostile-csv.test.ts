import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { importEditingCsv } from '../../src/lib/server/services/editing.service';
import { createTestDatabase, type TestDatabase } from './test-database';

/*
 * Values that pass for text but that Postgres would refuse (or take wrongly) must be refused by the
 * editing-time import itself, naming the file, line and column, and nothing stored.
 */

const header = 'site,case,observer,structure,mode,started_at,ended_at,active_seconds,from_set,to_set,tool';
const row = (changes: Record<number, string>) =>
  'SITE-C,P0001,RO1,Heart,from_scratch,2026-03-02T09:00:00Z,2026-03-02T09:10:00Z,300,,,Eclipse'
    .split(',')
    .map((value, n) => changes[n] ?? value)
    .join(',');

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  const site = await ensureSite(database.db, 'SITE-C');
  await ensureObserver(database.db, site.id, 'RO1');
  await database.db.insertInto('patient_case').values({ site_id: site.id, pseudonym: 'P0001' }).execute();
  await database.db
    .insertInto('structure')
    .values({ tg263_name: 'Heart', category: 'OAR' })
    .onConflict((oc) => oc.column('tg263_name').doNothing())
    .execute();
}, 60_000);

afterAll(async () => {
  await database?.destroy();
});

const sessions = async () => (await database.db.selectFrom('editing_session').select('id').execute()).length;

describe('editing-time import of hostile values', () => {
  it('refuses NUL and other control characters, huge ids and out-of-range times by line and column', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        row({ 10: 'Ecl\u0000ipse' }),
        /^hostile\.csv line 2, column tool: holds the control character U\+0000$/,
      ],
      [row({ 1: 'P\u0000001' }), /^hostile\.csv line 2, column case: holds the control character U\+0000$/],
      [row({ 8: '9999999999999999' }), /^hostile\.csv line 2, column from_set: expected a contour set id/],
      [
        row({ 8: '999999999999999' }),
        /^hostile\.csv line 2, column from_set: no contour set 999999999999999$/,
      ],
      [row({ 7: '1e400' }), /^hostile\.csv line 2, column active_seconds: expected a finite number/],
      [row({ 5: '2026-02-30T09:00:00Z' }), /^hostile\.csv line 2, column started_at: expected an ISO 8601/],
    ];
    for (const [line, pattern] of cases) {
      const result = await importEditingCsv(database.db, `${header}\n${line}\n`, 'hostile.csv');
      expect(result.imported).toBe(0);
      const messages = result.errors.map((e) => e.message);
      expect(messages).toContainEqual(expect.stringMatching(pattern));
      for (const message of messages) expect(message).toMatch(/^hostile\.csv line 2, column [a-z_]+: /);
      expect(await sessions()).toBe(0);
    }
  });

  it('stores the extremes of the calendar it accepts', async () => {
    const result = await importEditingCsv(
      database.db,
      `${header}\n${row({ 5: '0001-01-01T00:00:00Z', 6: '9999-12-31T09:59:59+14:00', 7: '1e9' })}\n`,
      'far.csv',
    );
    expect(result).toEqual({ imported: 1, errors: [] });
    expect(await sessions()).toBe(1);
  });
});
