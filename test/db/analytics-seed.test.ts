import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/lib/core/errors';
import {
  SEEDED_COHORT_NAME,
  seedAnalytics,
  type SeedAnalyticsResult,
} from '../../src/lib/server/services/analytics-seed.service';
import { createTestDatabase, type TestDatabase } from './test-database';

const CASES = 30;
const SEED = 20260101;

let database: TestDatabase;
let twin: TestDatabase;
let result: SeedAnalyticsResult;
const progress: Array<[number, number]> = [];

async function tableCounts(db: TestDatabase['db']) {
  const count = async (
    table: 'patient_case' | 'contour_set' | 'metric' | 'editing_session' | 'cohort_case',
  ) =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    cases: await count('patient_case'),
    contourSets: await count('contour_set'),
    metrics: await count('metric'),
    sessions: await count('editing_session'),
    cohortCases: await count('cohort_case'),
  };
}

/**
 * Every metric row keyed by what it compares (case, structure, reference and test set by source,
 * observer and model version), not by ids, with its values; sorted by that key.
 */
async function metricsByNaturalKey(db: TestDatabase['db']) {
  const rows = await db
    .selectFrom('metric as m')
    .innerJoin('patient_case as c', 'c.id', 'm.case_id')
    .innerJoin('structure as st', 'st.id', 'm.structure_id')
    .innerJoin('contour_set as rs', 'rs.id', 'm.reference_set_id')
    .innerJoin('contour_set as ts', 'ts.id', 'm.test_set_id')
    .select([
      'c.pseudonym',
      'st.tg263_name',
      'rs.source as refSource',
      'rs.label as refLabel',
      'ts.source as testSource',
      'ts.label as testLabel',
      'm.dice',
      'm.hd95_mm',
      'm.surface_dice',
      'm.apl_contour_mm',
      'm.test_volume_cc',
    ])
    .execute();
  return rows
    .map((r) => ({
      key: [r.pseudonym, r.tg263_name, r.refSource, r.refLabel, r.testSource, r.testLabel].join('|'),
      values: JSON.stringify([r.dice, r.hd95_mm, r.surface_dice, r.apl_contour_mm, r.test_volume_cc]),
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

beforeAll(async () => {
  [database, twin] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  result = await seedAnalytics(database.db, {
    cases: CASES,
    seed: SEED,
    onProgress: (done, total) => progress.push([done, total]),
  });
}, 120_000);

afterAll(async () => {
  await Promise.all([database?.destroy(), twin?.destroy()]);
});

describe('analytics seed', () => {
  it('writes 70 metric rows and 6 contour sets per case', async () => {
    expect(result).toMatchObject({
      cases: CASES,
      metricRows: 70 * CASES,
      contourSets: 6 * CASES,
      cohort: SEEDED_COHORT_NAME,
      models: ['seed-net@1.0', 'seed-net@1.1'],
      sites: ['SEED-A', 'SEED-B', 'SEED-C', 'SEED-D'],
    });
    const counts = await tableCounts(database.db);
    expect(counts).toEqual({
      cases: CASES,
      contourSets: 6 * CASES,
      metrics: 70 * CASES,
      sessions: result.editingSessions,
      cohortCases: CASES,
    });
    // one manual session per case and structure, and an AI one from month 6 (3/4 of the 24 months)
    expect(result.editingSessions).toBeGreaterThan(5 * CASES);
    expect(result.editingSessions).toBeLessThan(10 * CASES);
    expect(progress.at(-1)).toEqual([CASES, CASES]);

    const runs = await database.db
      .selectFrom('evaluation_run')
      .select(['status', 'jobs_total', 'jobs_succeeded', 'started_at', 'finished_at'])
      .execute();
    expect(runs).toHaveLength(2);
    for (const run of runs) {
      expect(run).toMatchObject({ status: 'succeeded', jobs_total: CASES, jobs_succeeded: CASES });
      expect(run.finished_at!.getTime()).toBeGreaterThan(run.started_at!.getTime());
    }
  });

  it('stores values in their valid ranges and consistent with each other', async () => {
    const rows = await database.db.selectFrom('metric').selectAll().execute();
    expect(rows).toHaveLength(70 * CASES);
    for (const row of rows) {
      expect(row.reference_empty).toBe(false);
      expect(row.dice).not.toBeNull();
      const dice = row.dice!;
      expect(dice).toBeGreaterThanOrEqual(0);
      expect(dice).toBeLessThanOrEqual(1);
      expect(Math.abs(row.jaccard! - dice / (2 - dice))).toBeLessThan(1e-9);
      expect(row.hd_max_mm!).toBeGreaterThanOrEqual(row.hd95_mm!);
      const sd = row.surface_dice as Record<string, number>;
      expect(Object.keys(sd).sort()).toEqual(['1', '2', '3']);
      expect(sd['1']).toBeGreaterThanOrEqual(0);
      expect(sd['2']).toBeGreaterThanOrEqual(sd['1']);
      expect(sd['3']).toBeGreaterThanOrEqual(sd['2']);
      expect(sd['3']).toBeLessThanOrEqual(1);
      const apl = row.apl_contour_mm as Record<string, number>;
      expect(apl['0']).toBeGreaterThanOrEqual(apl['1']);
      expect(apl['1']).toBeGreaterThanOrEqual(apl['2']);
      expect(apl['2']).toBeGreaterThanOrEqual(apl['3']);
      expect(apl['3']).toBeGreaterThanOrEqual(0);
      expect(row.definition_version).toBe('contourbench-metrics/1.0');
      if (row.test_empty) {
        expect(row).toMatchObject({ dice: 0, precision: null, detected: false, hd95_mm: Infinity });
        expect(row.evaluation_run_id).not.toBeNull();
      } else {
        expect(row.detected).toBe(true);
        expect(Number.isFinite(row.hd95_mm)).toBe(true);
        expect(row.intersection_volume_cc).toBeLessThanOrEqual(
          Math.min(row.reference_volume_cc, row.test_volume_cc) + 1e-9,
        );
        expect(row.sensitivity!).toBeLessThanOrEqual(1 + 1e-12);
        expect(row.precision!).toBeLessThanOrEqual(1 + 1e-12);
        expect(row.msd_mean_mm!).toBeGreaterThan(0);
        expect(row.hd95_mm!).toBeGreaterThan(row.msd_mean_mm!);
      }
    }
  });

  it('plants a paired +0.015 Dice gain of version 1.1 over 1.0', async () => {
    const rows = await database.db
      .selectFrom('metric as m')
      .innerJoin('contour_set as ts', 'ts.id', 'm.test_set_id')
      .innerJoin('model_version as mv', 'mv.id', 'ts.model_version_id')
      .select(['m.case_id', 'm.structure_id', 'm.reference_set_id', 'mv.version', 'm.dice', 'm.test_empty'])
      .execute();
    const byKey = new Map<string, Record<string, number>>();
    for (const r of rows) {
      if (r.test_empty) continue;
      const key = `${r.case_id}:${r.structure_id}:${r.reference_set_id}`;
      byKey.set(key, { ...byKey.get(key), [r.version]: r.dice! });
    }
    const differences = [...byKey.values()]
      .filter((pair) => pair['1.0'] !== undefined && pair['1.1'] !== undefined)
      .map((pair) => pair['1.1']! - pair['1.0']!);
    expect(differences.length).toBeGreaterThan(500);
    const mean = differences.reduce((sum, d) => sum + d, 0) / differences.length;
    expect(mean).toBeGreaterThan(0.008);
    expect(mean).toBeLessThan(0.022);
  });

  it('refuses a second seeding with CONFLICT and changes nothing', async () => {
    const before = await tableCounts(database.db);
    const error = await seedAnalytics(database.db, { cases: 5, seed: SEED }).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('CONFLICT');
    expect(await tableCounts(database.db)).toEqual(before);
  });

  it('gives identical metric values for the same seed in another database', async () => {
    const again = await seedAnalytics(twin.db, { cases: CASES, seed: SEED });
    expect(again).toEqual(result);
    const [first, second] = await Promise.all([
      metricsByNaturalKey(database.db),
      metricsByNaturalKey(twin.db),
    ]);
    expect(second).toHaveLength(70 * CASES);
    expect(second).toEqual(first);
  });
});
