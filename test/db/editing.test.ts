import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { importEditingCsv } from '../../src/lib/server/services/editing.service';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;
let caseId: number;
let otherCaseId: number;
let aiSetId: number;
let correctedSetId: number;
let otherCaseSetId: number;

const header = 'site,case,observer,structure,mode,started_at,ended_at,active_seconds,from_set,to_set,tool';

function csv(lines: string[]): string {
  return `${[header, ...lines].join('\r\n')}\r\n`;
}

async function sessions() {
  return database.db.selectFrom('editing_session').selectAll().orderBy('id').execute();
}

beforeAll(async () => {
  database = await createTestDatabase();
  const db = database.db;
  const site = await ensureSite(db, 'SITE-E');
  await ensureSite(db, 'SITE-F');
  const observerId = await ensureObserver(db, site.id, 'RO1');
  await ensureObserver(db, site.id, 'RO2');
  const insertCase = async (pseudonym: string) =>
    (
      await db
        .insertInto('patient_case')
        .values({ site_id: site.id, pseudonym })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  caseId = await insertCase('P0001');
  otherCaseId = await insertCase('P0002');
  await db
    .insertInto('structure')
    .values([
      { tg263_name: 'Heart', category: 'OAR' },
      { tg263_name: 'CTV_Breast_L', category: 'CTV' },
    ])
    .onConflict((oc) => oc.column('tg263_name').doNothing())
    .execute();
  const insertSet = async (values: {
    case_id: number;
    source: 'consensus' | 'corrected';
    observer_id?: number;
    parent_set_id?: number;
  }) => (await db.insertInto('contour_set').values(values).returning('id').executeTakeFirstOrThrow()).id;
  aiSetId = await insertSet({ case_id: caseId, source: 'consensus' });
  correctedSetId = await insertSet({
    case_id: caseId,
    source: 'corrected',
    observer_id: observerId,
    parent_set_id: aiSetId,
  });
  otherCaseSetId = await insertSet({ case_id: otherCaseId, source: 'consensus' });
}, 60_000);

afterAll(async () => {
  await database?.destroy();
});

describe('editing-time import', () => {
  it('imports every row in one go, and a re-import changes nothing', async () => {
    const text = csv([
      `SITE-E,P0001,RO1,Heart,editing_ai,2026-03-02T09:15:00+01:00,2026-03-02T09:19:30+01:00,240,${aiSetId},${correctedSetId},"Eclipse, 16.1"`,
      'SITE-E,P0001,RO1,CTV_Breast_L,from_scratch,2026-03-02T09:20:00+01:00,2026-03-02T09:40:00+01:00,1100.5,,,',
      'SITE-E,P0002,RO2,,editing_other,2026-03-03T10:00:00Z,2026-03-03T10:10:00Z,0,,,',
    ]);
    const first = await importEditingCsv(database.db, text, 'times.csv');
    expect(first).toEqual({ imported: 3, errors: [] });
    const stored = await sessions();
    expect(stored).toHaveLength(3);
    expect(stored[0]).toMatchObject({
      case_id: caseId,
      from_set_id: aiSetId,
      to_set_id: correctedSetId,
      started_at: new Date('2026-03-02T08:15:00Z'),
      ended_at: new Date('2026-03-02T08:19:30Z'),
      active_seconds: 240,
      mode: 'editing_ai',
      tool: 'Eclipse, 16.1',
    });
    expect(stored[1]).toMatchObject({
      active_seconds: 1100.5,
      mode: 'from_scratch',
      from_set_id: null,
      tool: null,
    });
    expect(stored[2]).toMatchObject({ case_id: otherCaseId, structure_id: null, active_seconds: 0 });

    const again = await importEditingCsv(database.db, text, 'times.csv');
    expect(again).toEqual({ imported: 3, errors: [] });
    expect(await sessions()).toEqual(stored);
  });

  it('updates a session in place when the same key comes with new values', async () => {
    const before = await sessions();
    const result = await importEditingCsv(
      database.db,
      csv([
        'SITE-E,P0001,RO1,CTV_Breast_L,from_scratch,2026-03-02T08:20:00Z,2026-03-02T08:45:00Z,1300,,,Monaco',
      ]),
      'fix.csv',
    );
    expect(result).toEqual({ imported: 1, errors: [] });
    const after = await sessions();
    expect(after).toHaveLength(before.length);
    expect(after[1]).toMatchObject({ id: before[1].id, active_seconds: 1300, tool: 'Monaco' });
  });

  it('stores nothing when one row is bad, and reports every problem with its line', async () => {
    const before = await sessions();
    const text = csv([
      'SITE-E,P0001,RO2,Heart,from_scratch,2026-04-01T09:00:00Z,2026-04-01T09:10:00Z,300,,,',
      'SITE-E,P0001,RO2,Heart,editing_ai,2026-04-01T10:00:00Z,2026-04-01T10:05:00Z,400,,,',
      'SITE-X,P0001,RO2,Heart,from_scratch,2026-04-02T09:00:00Z,2026-04-02T09:10:00Z,300,,,',
      'SITE-E,P0404,RO9,Hart,from_scratch,2026-04-03T09:00:00Z,2026-04-03T09:10:00Z,300,,,',
      `SITE-E,P0001,RO2,Heart,editing_ai,2026-04-04T09:00:00Z,2026-04-04T09:10:00Z,300,${otherCaseSetId},999999,`,
      'SITE-E,P0001,RO2,Heart,from_scratch,2026-04-01T09:00:00Z,2026-04-01T09:20:00Z,300,,,',
      'SITE-F,P0001,RO1,Heart,from_scratch,2026-04-05T09:00:00Z,2026-04-05T09:10:00Z,300,,,',
    ]);
    const result = await importEditingCsv(database.db, text, 'bad.csv');
    expect(result.imported).toBe(0);
    expect(result.errors).toEqual([
      {
        line: 3,
        message: expect.stringMatching(/^bad\.csv line 3, column active_seconds: expected at most 300/),
      },
      { line: 4, message: 'bad.csv line 4, column site: unknown site "SITE-X"' },
      { line: 5, message: 'bad.csv line 5, column case: no case "P0404" at site SITE-E' },
      { line: 5, message: 'bad.csv line 5, column observer: no observer "RO9" at site SITE-E' },
      { line: 5, message: 'bad.csv line 5, column structure: unknown TG-263 structure "Hart"' },
      {
        line: 6,
        message: `bad.csv line 6, column from_set: contour set ${otherCaseSetId} belongs to another case, not P0001`,
      },
      { line: 6, message: 'bad.csv line 6, column to_set: no contour set 999999' },
      {
        line: 7,
        message:
          'bad.csv line 7, column started_at: the same observer, case, structure and started_at as line 2',
      },
      { line: 8, message: 'bad.csv line 8, column case: no case "P0001" at site SITE-F' },
      { line: 8, message: 'bad.csv line 8, column observer: no observer "RO1" at site SITE-F' },
    ]);
    expect(await sessions()).toEqual(before);
  });

  it('reports an empty file and stores nothing', async () => {
    const before = await sessions();
    const result = await importEditingCsv(database.db, '', 'empty.csv');
    expect(result.imported).toBe(0);
    expect(result.errors).toEqual([{ line: 1, message: expect.stringMatching(/^empty\.csv is empty/) }]);
    expect(await sessions()).toEqual(before);
  });
});
