import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAnalytics } from '../../src/lib/server/services/analytics-seed.service';
import {
  limitsOfAgreement,
  observerVolumeAgreement,
} from '../../src/lib/server/services/observer-bias.service';
import { createTestDatabase, type TestDatabase } from './test-database';

// The seed plants an observer who draws larger volumes (SEED-A-RO3, analytics-seed.service.ts). The
// Bland-Altman numbers must equal the mean and sample SD of the same differences computed by Postgres
// from the raw metric rows, and the planted observer must come out as the most positively biased.

let database: TestDatabase;

interface SqlAgreement {
  n: number;
  bias: number;
  sd: number;
  biasPct: number;
  sdPct: number;
}

/** Observer − consensus volumes of the physician rows against the consensus, summarised by Postgres. */
async function sqlAgreement(
  structure: string,
  where: { observer?: string; site?: string; from?: string } = {},
): Promise<SqlAgreement> {
  const result = await sql<SqlAgreement>`
    select count(*)::int as n,
      avg(d) as bias, stddev_samp(d) as sd,
      avg(p) as "biasPct", stddev_samp(p) as "sdPct"
    from (
      select m.test_volume_cc - m.reference_volume_cc as d,
        100 * (m.test_volume_cc - m.reference_volume_cc) / m.reference_volume_cc as p
      from metric m
      join contour_set ts on ts.id = m.test_set_id and ts.source = 'physician'
      join observer o on o.id = ts.observer_id
      join contour_set rs on rs.id = m.reference_set_id and rs.source = 'consensus'
      join structure st on st.id = m.structure_id and st.tg263_name = ${structure}
      join patient_case c on c.id = m.case_id
      join site s on s.id = c.site_id
      where not m.test_empty and not m.reference_empty
        and (${where.observer ?? null}::text is null or o.code = ${where.observer ?? null})
        and (${where.site ?? null}::text is null or s.code = ${where.site ?? null})
        and (${where.from ?? null}::date is null or c.acquisition_date >= ${where.from ?? null}::date)
    ) x`.execute(database.db);
  return result.rows[0]!;
}

function expectSameAgreement(
  ours: {
    cases: number;
    cc: ReturnType<typeof limitsOfAgreement>;
    pct: ReturnType<typeof limitsOfAgreement>;
  },
  expected: SqlAgreement,
) {
  expect(ours.cases).toBe(expected.n);
  expect(ours.cc!.bias).toBeCloseTo(expected.bias, 9);
  expect(ours.cc!.sd!).toBeCloseTo(expected.sd, 9);
  expect(ours.cc!.lower!).toBeCloseTo(expected.bias - 1.96 * expected.sd, 9);
  expect(ours.cc!.upper!).toBeCloseTo(expected.bias + 1.96 * expected.sd, 9);
  expect(ours.pct!.bias).toBeCloseTo(expected.biasPct, 9);
  expect(ours.pct!.lower!).toBeCloseTo(expected.biasPct - 1.96 * expected.sdPct, 9);
  expect(ours.pct!.upper!).toBeCloseTo(expected.biasPct + 1.96 * expected.sdPct, 9);
}

beforeAll(async () => {
  database = await createTestDatabase();
  await seedAnalytics(database.db, { cases: 60, seed: 11 });
}, 120_000);

afterAll(async () => {
  await database?.destroy();
});

describe('observer volume agreement', () => {
  it('reproduces bias and limits of agreement of every observer from the raw volumes', async () => {
    const result = await observerVolumeAgreement(database.db, { sites: ['SEED-A'] });
    expect(result.structures.map((s) => s.structure)).toEqual([
      'CTV_Breast_L',
      'Heart',
      'Lung_L',
      'Lung_R',
      'SpinalCanal',
    ]);
    for (const structure of result.structures) {
      expect(structure.observers.map((o) => o.observer)).toEqual(['SEED-A-RO1', 'SEED-A-RO2', 'SEED-A-RO3']);
      for (const observer of structure.observers) {
        expect(observer.sites).toEqual(['SEED-A']);
        expectSameAgreement(
          observer,
          await sqlAgreement(structure.structure, { observer: observer.observer }),
        );
      }
      expectSameAgreement(structure.overall, await sqlAgreement(structure.structure, { site: 'SEED-A' }));
    }
  });

  it('finds the planted observer as the largest positive % bias at SEED-A for Heart', async () => {
    const result = await observerVolumeAgreement(database.db, { sites: ['SEED-A'], structures: ['Heart'] });
    expect(result.structures).toHaveLength(1);
    const observers = result.structures[0]!.observers;
    const ranked = [...observers].sort((a, b) => b.pct!.bias - a.pct!.bias);
    expect(ranked[0]!.observer).toBe('SEED-A-RO3');
    expect(ranked[0]!.pct!.bias).toBeGreaterThan(1);
    // its bias is real, not noise: the 95% CI of the mean difference excludes zero
    expect(ranked[0]!.cc!.biasCi![0]).toBeGreaterThan(0);
    for (const other of ranked.slice(1))
      expect(Math.abs(other.pct!.bias)).toBeLessThan(ranked[0]!.pct!.bias / 2);
  });

  it('plots the pairs it summarises, only for the structures asked, and honours the date filter', async () => {
    const result = await observerVolumeAgreement(
      database.db,
      { sites: ['SEED-A'], from: '2025-01-01' },
      { pointStructures: ['Heart'] },
    );
    for (const structure of result.structures) {
      if (structure.structure !== 'Heart') {
        expect(structure.points).toBeNull();
        continue;
      }
      expectSameAgreement(
        structure.overall,
        await sqlAgreement('Heart', { site: 'SEED-A', from: '2025-01-01' }),
      );
      for (const series of structure.points!) {
        const observer = structure.observers.find((o) => o.observer === series.observer)!;
        expect(series.cases).toHaveLength(observer.cases);
        // points carry volumes to a cubic millimetre, so their mean difference matches to that
        const differences = series.observerVolumeCc.map((v, i) => v - series.consensusVolumeCc[i]!);
        expect(limitsOfAgreement(differences)!.bias).toBeCloseTo(observer.cc!.bias, 3);
      }
    }
    const all = await sqlAgreement('Heart', { site: 'SEED-A' });
    const heart = result.structures.find((s) => s.structure === 'Heart')!;
    expect(heart.overall.cases).toBeGreaterThan(0);
    expect(heart.overall.cases).toBeLessThan(all.n);
  });

  it('summarises no differences as null and one without a spread', () => {
    expect(limitsOfAgreement([])).toBeNull();
    expect(limitsOfAgreement([2.5])).toEqual({
      n: 1,
      bias: 2.5,
      sd: null,
      lower: null,
      upper: null,
      biasCi: null,
    });
    const two = limitsOfAgreement([1, 3])!;
    expect(two.sd).toBeCloseTo(Math.SQRT2, 12);
    expect(two.upper).toBeCloseTo(2 + 1.96 * Math.SQRT2, 12);
    // t(0.975, 1) = 12.7062047361747; SD / √n = √2 / √2 = 1
    expect(two.biasCi![1]).toBeCloseTo(2 + 12.7062047361747, 9);
  });
});
