import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdModel } from '../../scripts/onnx/family-models';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { findTg263Structure } from '../../src/lib/core/structures/tg263';
import { axisAlignedAffine, type Mask, type Vec3 } from '../../src/lib/core/volume/volume';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { ensureStructures } from '../../src/lib/server/repositories/structure.repository';
import { createCohort, freezeCohort, stratification } from '../../src/lib/server/services/cohort.service';
import { computeMajorityVote, computeStapleConsensus } from '../../src/lib/server/services/consensus.service';
import { createEvaluationRun } from '../../src/lib/server/services/evaluation-run.service';
import { registerModel } from '../../src/lib/server/services/model-registry.service';
import { buildReport } from '../../src/lib/server/services/report.service';
import { parseReference } from '../../src/lib/server/services/analytics-values';
import { sha256Hex, FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { startTestWorker, waitForRunEnd } from './run-helpers';
import { insertCaseWithCt, insertPhysicianSet } from './case-fixture';
import { createTestDatabase, type TestDatabase } from './test-database';

const dims: Vec3 = [40, 36, 14];
const spacing: Vec3 = [1, 1, 2.5];
const grid = { dims, spacingMm: spacing, affineIjkToLps: axisAlignedAffine(spacing) };

function ball(radius: number, centreI = 20): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k += 1)
    for (let j = 0; j < dims[1]; j += 1)
      for (let i = 0; i < dims[0]; i += 1, v += 1)
        mask[v] = (i - centreI) ** 2 + (j - 18) ** 2 + ((k - 7) * 2.5) ** 2 <= radius * radius ? 1 : 0;
  return mask;
}

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let caseId: number;
let seriesId: number;
let siteId: number;
let heartId: number;
const actor = { userId: null, label: 'test' };
// three physicians nested inside each other: the strict majority is the middle one
const raters = { RO1: ball(10), RO2: ball(8), RO3: ball(6) };
// the model thresholds the CT, which is bright inside a ball of radius 7
const modelMask = ball(7);

async function addPhysician(code: string, mask: Uint8Array): Promise<number> {
  const observerId = await ensureObserver(database.db, siteId, code);
  const { setId } = await insertPhysicianSet(database.db, blobs, {
    caseId,
    seriesId,
    observerId,
    label: code,
    sopInstanceUid: `2.25.7${code.charCodeAt(2)}`,
    voxelCc: 2.5 / 1000,
    masks: [{ structureId: heartId, structure: 'Heart', mask }],
  });
  return setId;
}

/** The metric rows of a run: reference set label, Dice and HD95, by reference set. */
function runRows(runId: number) {
  return database.db
    .selectFrom('metric')
    .innerJoin('contour_set', 'contour_set.id', 'metric.reference_set_id')
    .select([
      'contour_set.label',
      'contour_set.variant',
      'metric.dice',
      'metric.hd95_mm',
      'metric.surface_dice',
    ])
    .where('metric.evaluation_run_id', '=', runId)
    .orderBy('contour_set.id')
    .execute();
}

async function runToEnd(options: { cohort: string; version?: number }) {
  const run = await createEvaluationRun(database.db, { model: 'threshold@1', ...options });
  const worker = await startTestWorker(database, blobs);
  try {
    expect(await waitForRunEnd(database, run.runId, 60)).toMatchObject({ status: 'succeeded', failed: 0 });
  } finally {
    await worker.stop();
  }
  return run;
}

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-cohort-eval-'));
  blobs = new FileBlobStore(blobDir);
  const db = database.db;
  siteId = (await ensureSite(db, 'SITE-V')).id;
  const ct = Int16Array.from(modelMask, (inside, v) => (inside ? 45 : -700 + (v % 13)));
  ({ caseId, seriesId } = await insertCaseWithCt(db, blobs, {
    siteId,
    pseudonym: 'V01',
    uid: '2.25.3',
    ct,
    dims,
    spacingMm: spacing,
    acquisitionDate: '2026-02-03',
    laterality: 'left',
    surgeryType: 'breast_conserving',
    protocol: 'ESTRO',
  }));
  heartId = (await ensureStructures(db, [findTg263Structure('Heart')!])).get('Heart')!;
  for (const [code, mask] of Object.entries(raters)) await addPhysician(code, mask);
  await computeStapleConsensus({ db, blobs }, caseId);
  const model = thresholdModel();
  await registerModel(db, blobs, model.bytes, model.card, { onnx: 'threshold.onnx', card: 'threshold.json' });
  await createCohort(db, { name: 'versioned', selection: { sites: ['SITE-V'] } }, actor);
}, 60_000);

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('majority-vote references', () => {
  it('counts the cases a majority vote would give a reference before freezing', async () => {
    const summary = await stratification(database.db, 'versioned', ['*=majority']);
    expect(summary.structures).toEqual([
      { structure: 'Heart', rule: 'the majority vote', contoured: 1, withReference: 1 },
    ]);
  });

  it('freezes a majority-vote version: the vote is computed, stored and chosen as the reference', async () => {
    const frozen = await freezeCohort(
      { db: database.db, blobs },
      'versioned',
      { reference: ['*=majority'] },
      actor,
    );
    expect(frozen).toMatchObject({ version: 1, cases: 1, references: 1, created: true });
    const reference = await database.db
      .selectFrom('cohort_version_reference as vr')
      .innerJoin('contour_set as cs', 'cs.id', 'vr.contour_set_id')
      .select(['cs.source', 'cs.variant', 'cs.label', 'vr.mask_blob_sha256'])
      .where('vr.cohort_version_id', '=', frozen.versionId)
      .executeTakeFirstOrThrow();
    expect(reference).toMatchObject({ source: 'consensus', variant: 'majority', label: 'Majority vote' });
    // voxels two of the three raters have: the middle ball
    expect(reference.mask_blob_sha256).toBe(sha256Hex(raters.RO2));
    // no metric rows against the vote: the agreement pages stay on STAPLE
    const againstVote = await database.db
      .selectFrom('metric')
      .innerJoin('contour_set as cs', 'cs.id', 'metric.reference_set_id')
      .select('metric.id')
      .where('cs.variant', '=', 'majority')
      .execute();
    expect(againstVote).toEqual([]);
  });
});

describe('evaluation over a frozen cohort version', () => {
  it("compares with the version's reference only, names the version, and gives the same numbers again", async () => {
    const first = await runToEnd({ cohort: 'versioned', version: 1 });
    const run = await database.db
      .selectFrom('evaluation_run')
      .select(['cohort_version_id', 'parameters'])
      .where('id', '=', first.runId)
      .executeTakeFirstOrThrow();
    expect(run.cohort_version_id).toBe(first.cohortVersionId);
    expect(run.parameters).toMatchObject({ cohortVersion: 1, policy: { default: { kind: 'majority' } } });
    const rows = await runRows(first.runId);
    const expected = computeMetrics(
      { ...grid, data: raters.RO2 } as Mask,
      { ...grid, data: modelMask } as Mask,
    );
    expect(rows).toEqual([
      {
        label: 'Majority vote',
        variant: 'majority',
        dice: expected.dice,
        hd95_mm: expected.hd95Mm,
        surface_dice: expect.any(Object),
      },
    ]);
    expect(rows[0]!.dice).toBeLessThan(1);

    const second = await runToEnd({ cohort: 'versioned', version: 1 });
    expect(await runRows(second.runId)).toEqual(rows);

    // the commissioning report names the version and measures against its references
    const report = await buildReport(database.db, second.runId);
    expect(report.run.cohortVersion).toMatchObject({
      version: 1,
      contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(report.reference).toBe('the references of cohort "versioned" version 1');
    expect(report.perStructure.map((s) => [s.structure, s.metrics.dice!.median])).toEqual([
      ['Heart', expected.dice],
    ]);
    expect(parseReference('version:versioned@1')).toEqual({
      kind: 'cohort_version',
      cohort: 'versioned',
      version: 1,
    });
  });

  it('keeps evaluating against the masks as frozen when the reference set is recomputed later', async () => {
    const before = await runRows((await runToEnd({ cohort: 'versioned', version: 1 })).runId);
    // two more physicians draw a larger heart: the stored majority vote becomes their ball
    await addPhysician('RO4', ball(10));
    await addPhysician('RO5', ball(10));
    const vote = await computeMajorityVote({ db: database.db, blobs }, caseId);
    expect(vote.structures[0]!.raters).toBe(5);
    const stored = await database.db
      .selectFrom('contour')
      .select('mask_blob_sha256')
      .where('contour_set_id', '=', vote.setId)
      .executeTakeFirstOrThrow();
    expect(stored.mask_blob_sha256).toBe(sha256Hex(raters.RO1));
    const after = await runRows((await runToEnd({ cohort: 'versioned', version: 1 })).runId);
    expect(after).toEqual(before);
  });

  it('a run over the current cases compares with every physician and the STAPLE set, not the vote', async () => {
    const run = await runToEnd({ cohort: 'versioned' });
    const rows = await runRows(run.runId);
    expect(rows.map((r) => r.label)).toEqual(['RO1', 'RO2', 'RO3', 'STAPLE consensus', 'RO4', 'RO5']);
    expect(rows.every((r) => r.variant !== 'majority')).toBe(true);
  });

  it('an observer policy evaluates against that observer; an unknown version is refused', async () => {
    const frozen = await freezeCohort(
      { db: database.db, blobs },
      'versioned',
      { reference: ['*=staple', 'Heart=observer:RO3'] },
      actor,
    );
    expect(frozen.version).toBe(2);
    const run = await runToEnd({ cohort: 'versioned', version: 2 });
    expect((await runRows(run.runId)).map((r) => r.label)).toEqual(['RO3']);
    await expect(
      createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'versioned', version: 7 }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'cohort "versioned" has no version 7' });
  });
});
