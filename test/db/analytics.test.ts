import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holm } from '../../src/lib/core/stats/correlation';
import { standardNormalCdf } from '../../src/lib/core/stats/distributions';
import { kruskalWallis, mannWhitneyU, wilcoxonSignedRank } from '../../src/lib/core/stats/rank-tests';
import { seedAnalytics, SEEDED_COHORT_NAME } from '../../src/lib/server/services/analytics-seed.service';
import {
  ALARM_JOB_KEY,
  acknowledge,
  alarms,
  defaultChartSettings,
  driftCharts,
  refreshAlarms,
} from '../../src/lib/server/services/drift.service';
import { analyticsVersion } from '../../src/lib/server/services/analytics-values';
import { recordCaseOutcome } from '../../src/lib/server/services/evaluation-run.service';
import { editingEffort } from '../../src/lib/server/services/editing-effort.service';
import { compareModels, saveCriteriaSet } from '../../src/lib/server/services/model-comparison.service';
import { observerAgreement } from '../../src/lib/server/services/observer-agreement.service';
import { siteFeatureShift, siteMetricShift } from '../../src/lib/server/services/site-shift.service';
import { createTestDatabase, type TestDatabase } from './test-database';

// The seeded dataset plants known effects (analytics-seed.service.ts): seed-net 1.1 beats 1.0 by about
// 0.015 Dice, SEED-C is shifted down for the models, 1.1's Heart drifts at SEED-B from month 18, observer
// SEED-A-RO3 is biased. The services must find them, and their statistics must equal the core functions
// applied to the raw rows read here by plain SQL.

let database: TestDatabase;
const v10 = { name: 'seed-net', version: '1.0' };
const v11 = { name: 'seed-net', version: '1.1' };

/** Dice of a model version against the consensus per case for one structure, by plain SQL. */
async function modelDice(version: string, structure: string) {
  const result = await sql<{ case_id: number; site: string; dice: number }>`
    select m.case_id, s.code as site, m.dice
    from metric m
    join contour_set ts on ts.id = m.test_set_id and ts.source = 'model'
    join model_version mv on mv.id = ts.model_version_id and mv.version = ${version}
    join contour_set rs on rs.id = m.reference_set_id and rs.source = 'consensus'
    join structure st on st.id = m.structure_id and st.tg263_name = ${structure}
    join patient_case c on c.id = m.case_id
    join site s on s.id = c.site_id
    order by m.case_id`.execute(database.db);
  return result.rows;
}

beforeAll(async () => {
  database = await createTestDatabase();
  await seedAnalytics(database.db, { cases: 240, seed: 11 });
}, 120_000);

afterAll(async () => {
  await database?.destroy();
});

describe('model comparison', () => {
  it('pairs the two versions by case and reproduces the signed-rank test, Holm and the planted gain', async () => {
    const result = await compareModels(database.db, {
      models: [v10, v11],
      metrics: ['dice', 'hd95_mm'],
      filter: { cohort: SEEDED_COHORT_NAME },
      reference: { kind: 'consensus' },
    });
    expect(result.models).toEqual({ a: 'seed-net@1.0', b: 'seed-net@1.1' });
    const dice = result.comparisons.find((c) => c.metric.name === 'dice')!;
    expect(dice.metric.definition).toContain('2|R∩T|');
    const heart = dice.structures.find((s) => s.structure === 'Heart')!;
    const a = await modelDice('1.0', 'Heart');
    const b = await modelDice('1.1', 'Heart');
    expect(heart.pairs).toBe(240);
    // the same test on the rows read independently (a miss is 0 Dice, stored as such)
    const expected = wilcoxonSignedRank(
      b.map((r) => r.dice),
      a.map((r) => r.dice),
    );
    expect(heart.test!.p).toBeCloseTo(expected.p, 12);
    expect(heart.test!.statistic).toBe(expected.statistic);
    const ps = dice.structures.map((s) => s.test!.p);
    expect(dice.structures.map((s) => s.test!.pHolm)).toEqual(holm(ps));
    expect(heart.shift!.estimate).toBeGreaterThan(0.008);
    expect(heart.shift!.estimate).toBeLessThan(0.022);
    expect(heart.shift!.lower).toBeLessThan(heart.shift!.estimate);
    expect(heart.test!.p).toBeLessThan(1e-6);
  });

  it('gives the exact shift and tie-corrected p of a constant paired difference', async () => {
    // make 1.1's SpinalCanal Dice (not Heart: its planted drift is tested below) exactly 1.0's + 0.02 on every case: every |d| ties
    await sql`
      update metric m set dice = a.dice + 0.02
      from metric a
      join contour_set ats on ats.id = a.test_set_id
      join model_version amv on amv.id = ats.model_version_id and amv.version = '1.0',
      contour_set ts, model_version mv, structure st
      where ts.id = m.test_set_id and mv.id = ts.model_version_id and mv.version = '1.1'
        and st.id = m.structure_id and st.tg263_name = 'SpinalCanal'
        and a.case_id = m.case_id and a.structure_id = m.structure_id and a.reference_set_id = m.reference_set_id
    `.execute(database.db);
    const result = await compareModels(database.db, {
      models: [v10, v11],
      metrics: ['dice'],
      filter: { structures: ['SpinalCanal'], sites: ['SEED-A'] },
      reference: { kind: 'consensus' },
    });
    const canal = result.comparisons[0]!.structures[0]!;
    const n = canal.pairs;
    expect(n).toBe(60);
    expect(canal.shift!.estimate).toBeCloseTo(0.02, 12);
    expect(canal.shift!.lower).toBeCloseTo(0.02, 12);
    expect(canal.shift!.upper).toBeCloseTo(0.02, 12);
    // V = n(n+1)/2 with all ranks tied: variance n(n+1)(2n+1)/24 - (n³-n)/48, continuity 0.5
    const v = (n * (n + 1)) / 2;
    const variance = (n * (n + 1) * (2 * n + 1)) / 24 - (n ** 3 - n) / 48;
    const z = (v - (n * (n + 1)) / 4 - 0.5) / Math.sqrt(variance);
    expect(canal.test!.statistic).toBe(v);
    expect(canal.test!.p).toBeCloseTo(2 * standardNormalCdf(-z), 12);
    expect(canal.test!.method).toContain('tie-corrected');
  });

  it('counts acceptance criteria per case, structure-specific before general ones', async () => {
    await saveCriteriaSet(database.db, {
      name: 'test criteria',
      criteria: [
        { structure: null, metric: 'dice', comparator: '>=', threshold: 0.9, minPassRate: 0.5 },
        { structure: 'Heart', metric: 'dice', comparator: '>=', threshold: 0.93, minPassRate: 0.9 },
      ],
    });
    const result = await compareModels(database.db, {
      models: [v10, v11],
      metrics: ['dice'],
      filter: {},
      reference: { kind: 'consensus' },
      criteriaSet: 'test criteria',
    });
    const v11Outcome = result.acceptance!.models.find((m) => m.model === 'seed-net@1.1')!;
    const heart = v11Outcome.results.filter((r) => r.structure === 'Heart');
    expect(heart).toHaveLength(1);
    const dice = (await modelDice('1.1', 'Heart')).map((r) => r.dice);
    expect(heart[0]!.passed).toBe(dice.filter((d) => d >= 0.93).length);
    expect(heart[0]!.failed).toBe(dice.filter((d) => d < 0.93).length);
    expect(heart[0]!.verdict).toBe(heart[0]!.passed / 240 >= 0.9 ? 'pass' : 'fail');
    expect(v11Outcome.passed + v11Outcome.failed).toBe(v11Outcome.results.length);
    await expect(
      saveCriteriaSet(database.db, {
        name: 'bad',
        criteria: [{ structure: 'Hart', metric: 'dice', comparator: '>=', threshold: 0.9 }],
      }),
    ).rejects.toThrow(/unknown structure\(s\) Hart/);
    await expect(
      compareModels(database.db, {
        models: [v10, { name: 'seed-net', version: '9.9' }],
        metrics: ['dice'],
        filter: {},
        reference: { kind: 'consensus' },
      }),
    ).rejects.toThrow(/no metric rows of seed-net@9.9/);
  });
});

describe('site shift', () => {
  it('finds the shifted site with the same Mann-Whitney and Kruskal-Wallis as the raw rows give', async () => {
    const result = await siteMetricShift(database.db, {
      metric: 'dice',
      filter: { models: [v10] },
      reference: { kind: 'consensus' },
      subject: 'model',
    });
    expect(result.test).toContain('Holm');
    const lungs = result.series.find((s) => s.structure === 'Lung_L' && s.subject === 'seed-net@1.0')!;
    const rows = await modelDice('1.0', 'Lung_L');
    const seedC = lungs.sites.find((s) => s.site === 'SEED-C')!;
    const own = rows.filter((r) => r.site === 'SEED-C').map((r) => r.dice);
    const rest = rows.filter((r) => r.site !== 'SEED-C').map((r) => r.dice);
    expect(seedC.test!.p).toBeCloseTo(mannWhitneyU(own, rest).p, 12);
    expect(seedC.cliffsDelta!.delta).toBeLessThan(-0.3);
    expect(seedC.cliffsDelta!.magnitude).not.toBe('negligible');
    expect(seedC.summary.median).toBeLessThan(lungs.sites.find((s) => s.site === 'SEED-A')!.summary.median!);
    const groups = ['SEED-A', 'SEED-B', 'SEED-C', 'SEED-D'].map((site) =>
      rows.filter((r) => r.site === site).map((r) => r.dice),
    );
    expect(lungs.kruskalWallis!.p).toBeCloseTo(kruskalWallis(groups).p, 12);
    expect(lungs.kruskalWallis!.p).toBeLessThan(1e-6);
  });

  it('shows the scanner change of the shifted site in the image features', async () => {
    const result = await siteFeatureShift(database.db, { filter: {} });
    const seedC = result.sites.find((s) => s.site === 'SEED-C')!;
    const thickness = seedC.numeric.find((f) => f.feature === 'sliceThicknessMm')!;
    expect(thickness.site.median).toBe(5);
    expect(thickness.test!.pHolm).toBeLessThan(1e-6);
    const kernel = seedC.categorical.find((f) => f.feature === 'convolutionKernel')!;
    expect(kernel.novelShare).toBe(1);
    const againstA = await siteFeatureShift(database.db, { filter: {}, referenceSite: 'SEED-A' });
    expect(againstA.sites.map((s) => s.site)).not.toContain('SEED-A');
    expect(againstA.reference).toBe('site SEED-A');
  });
});

describe('drift and alarms', () => {
  it('charts the drifting series, signals after the baseline, and stores alarms once', async () => {
    const result = await driftCharts(database.db, {
      metric: 'dice',
      filter: { models: [v11], structures: ['Lung_R'], sites: ['SEED-B'], dateField: 'acquisition' },
      reference: { kind: 'consensus' },
      subject: 'model',
      bySite: true,
      settings: defaultChartSettings,
    });
    expect(result.series).toHaveLength(1);
    const series = result.series[0]!;
    expect(series.points.length).toBe(60);
    const dates = series.points.map((p) => p.date);
    expect([...dates].sort()).toEqual(dates);
    // limits from the first 20 points: centre is their mean
    const baseline = series.points.slice(0, 20).map((p) => p.value);
    expect(series.limits!.centre).toBeCloseTo(baseline.reduce((a, b) => a + b, 0) / 20, 12);
    expect(series.limits!.upper - series.limits!.centre).toBeCloseTo(3 * series.limits!.sigma, 12);

    const first = await refreshAlarms(database.db);
    expect(first.series).toBeGreaterThan(0);
    expect(first.raised).toBeGreaterThan(0);
    const again = await refreshAlarms(database.db);
    expect(again.raised).toBe(0);
    const open = await alarms(database.db, { open: true });
    expect(open.length).toBe(first.raised);
    expect(open.every((a) => a.rule !== 'MR')).toBe(true);
    // the planted Heart drift of 1.1 at SEED-B raises a sustained-shift alarm after month 18
    const drift = open.filter(
      (a) =>
        a.model === 'seed-net@1.1' &&
        a.site === 'SEED-B' &&
        a.structure === 'Heart' &&
        a.metric === 'dice' &&
        ['CUSUM', 'EWMA', 'WE4', 'WE3', 'WE2', 'WE1'].includes(a.rule) &&
        a.pointAt.toISOString() >= '2025-06-01',
    );
    expect(drift.length).toBeGreaterThan(0);

    const target = open[0]!;
    const actor = { userId: null, label: 'test' };
    await acknowledge(database.db, target.id, { note: 'reviewed: scanner service' }, actor);
    await expect(acknowledge(database.db, target.id, { note: 'again' }, actor)).rejects.toThrow(
      /acknowledged already/,
    );
    await expect(acknowledge(database.db, 999_999, { note: 'x' }, actor)).rejects.toThrow(/no alarm 999999/);
    await expect(
      acknowledge(database.db, target.id, { note: 'x', user: 'nobody@example.org' }, actor),
    ).rejects.toThrow(/no user/);
    const recorded = await database.db
      .selectFrom('audit_event')
      .select(['object_id', 'details'])
      .where('action', '=', 'alarm.acknowledge')
      .execute();
    expect(recorded).toEqual([{ object_id: String(target.id), details: { actor: 'test', userId: null } }]);
    const stillOpen = await alarms(database.db, { open: true });
    expect(stillOpen.map((a) => a.id)).not.toContain(target.id);
    // a refresh keeps the acknowledgement
    await refreshAlarms(database.db);
    const all = await alarms(database.db, { open: false, limit: 5000 });
    expect(all.find((a) => a.id === target.id)!.acknowledgementNote).toBe('reviewed: scanner service');
  });
});

describe('observer agreement and editing effort', () => {
  it('builds the observer matrices and finds the biased observer', async () => {
    const result = await observerAgreement(database.db, { sites: ['SEED-A'], structures: ['Heart'] });
    const heart = result.structures[0]!;
    expect(heart.observers).toEqual(['SEED-A-RO1', 'SEED-A-RO2', 'SEED-A-RO3']);
    expect(heart.pairwise).toHaveLength(3);
    const against = new Map(heart.againstConsensus.map((o) => [o.observer, o.dice]));
    expect(against.get('SEED-A-RO3')!.median!).toBeLessThan(against.get('SEED-A-RO1')!.median!);
    expect(against.get('SEED-A-RO3')!.median!).toBeLessThan(against.get('SEED-A-RO2')!.median!);
    const rows = await sql<{ dice: number }>`
      select m.dice from metric m
      join contour_set ts on ts.id = m.test_set_id join observer o on o.id = ts.observer_id and o.code = 'SEED-A-RO3'
      join contour_set rs on rs.id = m.reference_set_id and rs.source = 'consensus'
      join structure st on st.id = m.structure_id and st.tg263_name = 'Heart'`.execute(database.db);
    const sorted = rows.rows.map((r) => r.dice).sort((x, y) => x - y);
    const n = sorted.length;
    const medianDice = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
    expect(against.get('SEED-A-RO3')!.median).toBeCloseTo(medianDice, 6);
    expect(heart.envelope.map((e) => e.model)).toEqual(['seed-net@1.0', 'seed-net@1.1']);
    const envelope = heart.envelope[1]!.metrics.dice!;
    expect(envelope.cases).toBe(60);
    expect(['within', 'outside']).toContain(envelope.verdict);
    expect(envelope.test!.method).toContain('Wilcoxon signed-rank');
  });

  it('fits editing time against APL with the planted slope inside its interval', async () => {
    const result = await editingEffort(database.db, {
      filter: {},
      aplToleranceMm: 2,
      surfaceDiceToleranceMm: 2,
    });
    const heart = result.structures.find((s) => s.structure === 'Heart')!;
    expect(heart.corrections).toBeGreaterThan(100);
    // AI corrections take 15 s + 0.05 s/mm APL x 0.8-1.2 in the seed
    expect(heart.regression!.slopeCi[0]).toBeLessThan(0.05);
    expect(heart.regression!.slopeCi[1]).toBeGreaterThan(0.05);
    expect(heart.spearmanApl!.rho!).toBeGreaterThan(0.5);
    expect(heart.timeSaved.savedMedianSeconds!).toBeGreaterThan(0);
    expect(heart.timeSaved.shift!.estimate).toBeGreaterThan(0);
    expect(heart.bySite.map((s) => s.site)).toEqual(['SEED-A', 'SEED-B', 'SEED-C', 'SEED-D']);
  });
});

describe('alarm refresh after a run', () => {
  it('queues one refresh-alarms job when a run completes, however many outcomes land', async () => {
    const run = await sql<{ id: number; case_id: number }>`
      select r.id, o.case_id from evaluation_run r join job_outcome o on o.evaluation_run_id = r.id
      order by r.id, o.case_id limit 2`.execute(database.db);
    for (const row of run.rows)
      await recordCaseOutcome(database.db, {
        runId: row.id,
        caseId: row.case_id,
        status: 'succeeded',
        attempts: 1,
        workerId: null,
        startedAt: new Date(),
      });
    const jobs = await sql<{ task_identifier: string; key: string | null }>`
      select task_identifier, key from graphile_worker.jobs where task_identifier = 'refresh-alarms'`.execute(
      database.db,
    );
    expect(jobs.rows).toEqual([{ task_identifier: 'refresh-alarms', key: ALARM_JOB_KEY }]);
  });
});

describe('analytics version', () => {
  it('rises once per committed transaction that changes analysed data, never for a rolled-back one', async () => {
    const before = await analyticsVersion(database.db);
    await saveCriteriaSet(database.db, {
      name: 'version check',
      criteria: [
        { structure: null, metric: 'dice', comparator: '>=', threshold: 0.5 },
        { structure: 'Heart', metric: 'hd95_mm', comparator: '<=', threshold: 20 },
      ],
    });
    expect(await analyticsVersion(database.db)).toBe(before + 1);
    await expect(
      database.db.transaction().execute(async (trx) => {
        await sql`update metric set dice = dice where id = (select min(id) from metric)`.execute(trx);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await analyticsVersion(database.db)).toBe(before + 1);
    await sql`update metric set dice = dice where id in (select id from metric limit 50)`.execute(
      database.db,
    );
    expect(await analyticsVersion(database.db)).toBe(before + 2);
  });
});
