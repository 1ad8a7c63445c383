import { mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdModel } from '../../scripts/onnx/family-models';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { axisAlignedAffine, type Mask, type Vec3 } from '../../src/lib/core/volume/volume';
import { ModelSessions } from '../../src/lib/server/inference/model-sessions';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { ensureStructures } from '../../src/lib/server/repositories/structure.repository';
import { findTg263Structure } from '../../src/lib/core/structures/tg263';
import { evaluateCase } from '../../src/lib/server/services/evaluation.service';
import {
  cancelEvaluationRun,
  createEvaluationRun,
  getRunProgress,
  retryFailedCases,
} from '../../src/lib/server/services/evaluation-run.service';
import { findCaseImage } from '../../src/lib/server/repositories/evaluation.repository';
import { addCaseToCohort, ensureCohort } from '../../src/lib/server/repositories/cohort.repository';
import { registerModel } from '../../src/lib/server/services/model-registry.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { startTestWorker, waitForRunEnd } from './run-helpers';
import { insertCaseWithCt, insertPhysicianSet } from './case-fixture';
import { createTestDatabase, type TestDatabase } from './test-database';

const dims: Vec3 = [48, 40, 16];
const spacing: Vec3 = [1, 1, 2.5];

function ball(radius: number): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k += 1)
    for (let j = 0; j < dims[1]; j += 1)
      for (let i = 0; i < dims[0]; i += 1, v += 1)
        mask[v] = (i - 24) ** 2 + (j - 20) ** 2 + ((k - 8) * 2.5) ** 2 <= radius * radius ? 1 : 0;
  return mask;
}

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let caseId: number;
let modelVersionId: number;
const sessions = new ModelSessions({ intraOpThreads: 1 });
const heart = ball(9);
const references = { RO1: ball(10), RO2: heart };

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-eval-'));
  blobs = new FileBlobStore(blobDir);
  const db = database.db;
  const site = await ensureSite(db, 'SITE-EVAL');
  const ct = Int16Array.from(heart, (inside, v) => (inside ? 45 : -700 + (v % 13)));
  let seriesId: number;
  ({ caseId, seriesId } = await insertCaseWithCt(db, blobs, {
    siteId: site.id,
    pseudonym: 'EVAL01',
    uid: '2.25.1',
    ct,
    dims,
    spacingMm: spacing,
    acquisitionDate: '2026-01-02',
    laterality: 'left',
  }));
  const structureIds = await ensureStructures(db, [findTg263Structure('Heart')!]);
  for (const [code, mask] of Object.entries(references))
    await insertPhysicianSet(db, blobs, {
      caseId,
      seriesId,
      observerId: await ensureObserver(db, site.id, code),
      label: code,
      sopInstanceUid: `2.25.9${code.at(-1)}`,
      voxelCc: 2.5 / 1000,
      masks: [{ structureId: structureIds.get('Heart')!, structure: 'Heart', mask }],
    });
  const model = thresholdModel();
  modelVersionId = (
    await registerModel(db, blobs, model.bytes, model.card, {
      onnx: 'threshold.onnx',
      card: 'threshold.json',
    })
  ).modelVersionId;
}, 60_000);

afterAll(async () => {
  await sessions.close();
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

async function counts() {
  const db = database.db;
  const n = async (table: 'metric' | 'contour_set' | 'contour') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { metrics: await n('metric'), sets: await n('contour_set'), contours: await n('contour') };
}

describe('evaluateCase', () => {
  it('runs the model on the stored CT, stores its contour set and one metric row per reference set', async () => {
    const result = await evaluateCase(
      { db: database.db, blobs, sessions },
      { caseId, modelVersionId, evaluationRunId: null, cohortVersionId: null },
    );
    expect(result.metricRows).toBe(2);
    expect(result.referenceSets).toHaveLength(2);
    const voxels = heart.reduce((a, b) => a + b, 0);
    expect(result.structures).toEqual([{ tg263Name: 'Heart', voxels, volumeCc: (voxels * 2.5) / 1000 }]);
    const stored = await database.db
      .selectFrom('contour')
      .select(['mask_blob_sha256', 'voxel_count', 'bbox_ijk'])
      .where('contour_set_id', '=', result.modelContourSetId)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(await blobs.get(stored.mask_blob_sha256)).equals(Buffer.from(heart))).toBe(true);
    expect(stored.voxel_count).toBe(voxels);

    const rows = await database.db
      .selectFrom('metric')
      .innerJoin('contour_set', 'contour_set.id', 'metric.reference_set_id')
      .innerJoin('observer', 'observer.id', 'contour_set.observer_id')
      .select([
        'observer.code',
        'metric.dice',
        'metric.hd95_mm',
        'metric.surface_dice',
        'metric.definition_version',
        'metric.apl_slices',
      ])
      .where('metric.test_set_id', '=', result.modelContourSetId)
      .orderBy('observer.code')
      .execute();
    const grid = { dims, spacingMm: spacing, affineIjkToLps: axisAlignedAffine(spacing) };
    const expected = computeMetrics(
      { ...grid, data: references.RO1 } as Mask,
      { ...grid, data: heart } as Mask,
    );
    expect(rows[0]).toMatchObject({
      code: 'RO1',
      dice: expected.dice,
      hd95_mm: expected.hd95Mm,
      definition_version: 'contourbench-metrics/1.0',
    });
    expect(rows[0]!.dice).toBeLessThan(1);
    expect(rows[1]).toMatchObject({
      code: 'RO2',
      dice: 1,
      hd95_mm: 0,
      surface_dice: { '1': 1, '2': 1, '3': 1 },
    });
    expect(Object.keys(rows[0]!.apl_slices ?? {})).toEqual(['0', '1', '2', '3']);
    expect(rows[0]!.apl_slices?.['0']).toHaveLength(dims[2]);
  });

  it('a repeated job replaces its rows and never duplicates them', async () => {
    const before = await counts();
    await evaluateCase(
      { db: database.db, blobs, sessions },
      { caseId, modelVersionId, evaluationRunId: null, cohortVersionId: null },
    );
    expect(await counts()).toEqual(before);
    expect(before).toEqual({ metrics: 2, sets: 3, contours: 3 });
    expect(sessions.size).toBe(1);
  });

  it('names the case when it has no CT', async () => {
    await expect(
      evaluateCase(
        { db: database.db, blobs, sessions },
        { caseId: 999_999, modelVersionId, evaluationRunId: null, cohortVersionId: null },
      ),
    ).rejects.toThrow('case 999999 has no stored CT volume');
  });
});

describe('evaluation runs', () => {
  it('runs one job per cohort case on a worker and records metrics with the run as provenance', async () => {
    const cohortId = await ensureCohort(database.db, 'eval-cohort');
    await addCaseToCohort(database.db, cohortId, caseId, 'test');
    const run = await createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'eval-cohort' });
    expect(run.cases).toBe(1);
    expect((await getRunProgress(database.db, run.runId)).status).toBe('queued');
    const worker = await startTestWorker(database, blobs);
    try {
      const progress = await waitForRunEnd(database, run.runId);
      expect(progress).toMatchObject({ status: 'succeeded', total: 1, succeeded: 1, failed: 0, errors: [] });
      expect(progress.casesPerMinute).toBeGreaterThan(0);
      expect(progress.etaSeconds).toBe(0);
    } finally {
      await worker.stop();
    }
    const rows = await database.db
      .selectFrom('metric')
      .select(['evaluation_run_id'])
      .where('evaluation_run_id', '=', run.runId)
      .execute();
    expect(rows).toHaveLength(2);
    expect(await counts()).toEqual({ metrics: 2, sets: 3, contours: 3 });
  });

  it('refuses unknown models and cohorts, and cancels a queued run, removing its jobs', async () => {
    await expect(
      createEvaluationRun(database.db, { model: 'threshold@9', cohort: 'eval-cohort' }),
    ).rejects.toThrow('threshold@9 is not registered; versions of threshold: 1');
    await expect(createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'nope' })).rejects.toThrow(
      'no cohort named "nope"',
    );
    const run = await createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'eval-cohort' });
    expect(await cancelEvaluationRun(database.db, run.runId)).toBe(1);
    expect((await getRunProgress(database.db, run.runId)).status).toBe('cancelled');
    await expect(cancelEvaluationRun(database.db, run.runId)).rejects.toThrow(
      'has already ended (cancelled)',
    );
  });

  it('keeps the error of a case that failed every attempt, and retries it to success', async () => {
    const image = (await findCaseImage(database.db, caseId))!;
    const sha = image.volumeBlobSha256;
    const stored = path.join(blobDir, sha.slice(0, 2), sha.slice(2, 4), `${sha}.gz`);
    await rename(stored, `${stored}.away`);
    const run = await createEvaluationRun(database.db, {
      model: 'threshold@1',
      cohort: 'eval-cohort',
      maxAttempts: 1,
    });
    const worker = await startTestWorker(database, blobs);
    const settle = () => waitForRunEnd(database, run.runId);
    try {
      const failed = await settle();
      expect(failed).toMatchObject({ status: 'failed', total: 1, succeeded: 0, failed: 1 });
      expect(failed.errors).toEqual([{ caseId, message: expect.stringContaining(sha.slice(0, 12)) }]);

      await rename(`${stored}.away`, stored);
      const retried = await retryFailedCases(database.db, run.runId);
      expect(retried).toEqual({ runId: run.runId, cases: failed.errors });
      expect((await getRunProgress(database.db, run.runId)).status).toBe('running');
      expect(await settle()).toMatchObject({ status: 'succeeded', succeeded: 1, failed: 0, errors: [] });
    } finally {
      await worker.stop();
    }
    const rows = await database.db
      .selectFrom('metric')
      .select('id')
      .where('evaluation_run_id', '=', run.runId)
      .execute();
    expect(rows).toHaveLength(2);
    expect(await retryFailedCases(database.db, run.runId)).toEqual({ runId: run.runId, cases: [] });
    await expect(retryFailedCases(database.db, 999_999)).rejects.toThrow('no evaluation run 999999');
  });

  it('does not retry a cancelled run', async () => {
    const run = await createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'eval-cohort' });
    await cancelEvaluationRun(database.db, run.runId);
    await expect(retryFailedCases(database.db, run.runId)).rejects.toThrow('was cancelled');
  });
});
