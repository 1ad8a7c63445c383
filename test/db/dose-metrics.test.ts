import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thresholdModel } from '../../scripts/onnx/family-models';
import { computeDvh, doseAtVolumePercent, volumeAtDoseGy } from '../../src/lib/core/dose/dvh';
import { metricDefinition } from '../../src/lib/core/metrics/metric-catalogue';
import { findTg263Structure } from '../../src/lib/core/structures/tg263';
import type { Vec3 } from '../../src/lib/core/volume/volume';
import { upsertBlob } from '../../src/lib/server/repositories/blob.repository';
import { findMetricValues } from '../../src/lib/server/repositories/analytics.repository';
import { upsertDoseGrid } from '../../src/lib/server/repositories/dose.repository';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { ensureStructures } from '../../src/lib/server/repositories/structure.repository';
import { addCaseToCohort, ensureCohort } from '../../src/lib/server/repositories/cohort.repository';
import { structureDvhs } from '../../src/lib/server/services/dose-impact.service';
import {
  computeCaseDoseMetrics,
  DOSE_METRIC_VERSION,
} from '../../src/lib/server/services/dose-metric.service';
import { createEvaluationRun } from '../../src/lib/server/services/evaluation-run.service';
import { registerModel } from '../../src/lib/server/services/model-registry.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { insertCaseWithCt, insertPhysicianSet } from './case-fixture';
import { startTestWorker, waitForRunEnd } from './run-helpers';
import { createTestDatabase, type TestDatabase } from './test-database';

// CT 40 x 36 x 14 at 1 x 1 x 2.5 mm; the dose a ramp along x on a 2 mm grid with the same origin:
// D(x) = 0.5 Gy per mm, so a structure's mean dose is 0.5 x its mean x (exactly, trilinear on a linear field)
const dims: Vec3 = [40, 36, 14];
const spacing: Vec3 = [1, 1, 2.5];
const doseDims: Vec3 = [21, 19, 18];
const doseSpacing: Vec3 = [2, 2, 2];
const gyPerMm = 0.5;

function ball(radius: number, centreI: number): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k += 1)
    for (let j = 0; j < dims[1]; j += 1)
      for (let i = 0; i < dims[0]; i += 1, v += 1)
        mask[v] = (i - centreI) ** 2 + (j - 18) ** 2 + ((k - 7) * 2.5) ** 2 <= radius * radius ? 1 : 0;
  return mask;
}

/** The dose of each mask voxel, straight from the ramp (what trilinear interpolation of it gives). */
function rampDose(mask: Uint8Array): Float32Array {
  const out: number[] = [];
  for (let v = 0; v < mask.length; v++) if (mask[v]) out.push((v % dims[0]) * gyPerMm);
  return Float32Array.from(out);
}

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let caseId: number;
const reference = ball(8, 18);
// the model thresholds the CT, bright inside a ball shifted 3 voxels (3 mm) to +x: 1.5 Gy more on average
const modelMask = ball(8, 21);

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dose-metrics-'));
  blobs = new FileBlobStore(blobDir);
  const db = database.db;
  const site = await ensureSite(db, 'SITE-D');
  const ct = Int16Array.from(modelMask, (inside, v) => (inside ? 45 : -700 + (v % 13)));
  let seriesId: number;
  ({ caseId, seriesId } = await insertCaseWithCt(db, blobs, {
    siteId: site.id,
    pseudonym: 'D01',
    uid: '2.25.5',
    ct,
    dims,
    spacingMm: spacing,
    laterality: 'left',
  }));
  const heartId = (await ensureStructures(db, [findTg263Structure('Heart')!])).get('Heart')!;
  await insertPhysicianSet(db, blobs, {
    caseId,
    seriesId,
    observerId: await ensureObserver(db, site.id, 'RO1'),
    label: 'RO1',
    sopInstanceUid: '2.25.59',
    voxelCc: 2.5 / 1000,
    masks: [{ structureId: heartId, structure: 'Heart', mask: reference }],
  });
  const doseData = new Float32Array(doseDims[0] * doseDims[1] * doseDims[2]);
  for (let v = 0; v < doseData.length; v++) doseData[v] = (v % doseDims[0]) * doseSpacing[0] * gyPerMm;
  const stored = await blobs.put(new Uint8Array(doseData.buffer));
  await upsertBlob(db, { ...stored, mediaType: 'application/octet-stream' });
  await upsertDoseGrid(db, {
    caseId,
    imageSeriesId: seriesId,
    sopInstanceUid: '2.25.58',
    dims: [...doseDims],
    spacingMm: [...doseSpacing],
    originLpsMm: [0, 0, 0],
    directionLps: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    doseBlobSha256: stored.sha256,
    doseType: 'PHYSICAL',
    summationType: 'PLAN',
    maxGy: 20,
    prescriptionGy: 40,
    fractions: 15,
  });
  const model = thresholdModel();
  await registerModel(db, blobs, model.bytes, model.card, { onnx: 'threshold.onnx', card: 'threshold.json' });
  await addCaseToCohort(db, await ensureCohort(db, 'dosed'), caseId, 'test');
}, 60_000);

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('dose metrics of contours and the dose consequence of contour differences', () => {
  it('stores each contour’s dose metrics and DVH, and the test-minus-reference delta beside the metric row', async () => {
    const run = await createEvaluationRun(database.db, { model: 'threshold@1', cohort: 'dosed' });
    const worker = await startTestWorker(database, blobs);
    try {
      expect(await waitForRunEnd(database, run.runId, 60)).toMatchObject({ status: 'succeeded' });
    } finally {
      await worker.stop();
    }
    // the evaluation job computed the dose metrics of both contours
    const stored = await database.db
      .selectFrom('dose_metric')
      .innerJoin('contour_set', 'contour_set.id', 'dose_metric.contour_set_id')
      .select(['contour_set.source', 'metric_values', 'volume_cc', 'outside_dose_cc', 'dvh_cumulative_pct'])
      .where('definition_version', '=', DOSE_METRIC_VERSION)
      .orderBy('contour_set.id')
      .execute();
    expect(stored.map((s) => s.source)).toEqual(['physician', 'model']);
    const expected = [reference, modelMask].map((m) => computeDvh(rampDose(m), 2.5 / 1000));
    for (const [n, dvh] of expected.entries()) {
      const values = stored[n]!.metric_values;
      expect(values.Dmean).toBeCloseTo(dvh.dmeanGy!, 4);
      expect(values.Dmax).toBeCloseTo(dvh.dmaxGy!, 4);
      expect(values['D95%']).toBeCloseTo(doseAtVolumePercent(dvh, 95)!, 4);
      expect(values.V10Gy).toBeCloseTo(volumeAtDoseGy(dvh, 10)!.percent, 3);
      // V95% of the 40 Gy prescription: nothing here reaches 38 Gy
      expect(values['V95%']).toBe(0);
      expect(stored[n]!.volume_cc).toBeCloseTo(dvh.volumeCc, 9);
      expect(stored[n]!.outside_dose_cc).toBe(0);
      expect(stored[n]!.dvh_cumulative_pct[0]).toBe(100);
    }
    // the model's heart is 3 mm to +x: 1.5 Gy more mean dose on the ramp
    const row = await database.db
      .selectFrom('metric')
      .select(['dose_delta', 'dice'])
      .where('evaluation_run_id', '=', run.runId)
      .executeTakeFirstOrThrow();
    expect(row.dose_delta!.Dmean).toBeCloseTo(expected[1]!.dmeanGy! - expected[0]!.dmeanGy!, 4);
    expect(row.dose_delta!.Dmean).toBeCloseTo(1.5, 1);
    // analytics read it like any metric, signed and absolute
    const values = await findMetricValues(
      database.db,
      [
        metricDefinition('dose_dmean_delta_gy'),
        metricDefinition('dose_dmean_absdelta_gy'),
        metricDefinition('dice'),
      ],
      { evaluationRunId: run.runId },
    );
    expect(values).toHaveLength(1);
    expect(values[0]!.values[0]).toBeCloseTo(row.dose_delta!.Dmean!, 9);
    expect(values[0]!.values[1]).toBeCloseTo(Math.abs(row.dose_delta!.Dmean!), 9);
  }, 60_000);

  it("gives the viewer each contour set's cumulative DVH of a structure", async () => {
    const heartId = (
      await database.db
        .selectFrom('structure')
        .select('id')
        .where('tg263_name', '=', 'Heart')
        .executeTakeFirstOrThrow()
    ).id;
    const dvhs = await structureDvhs(database.db, caseId, heartId);
    expect(dvhs).toHaveLength(2);
    for (const d of dvhs) {
      expect(d.binWidthGy).toBe(0.1);
      expect(d.cumulativePct[0]).toBe(100);
      expect(d.cumulativePct.at(-1)).toBe(0);
      // non-increasing, and the mean dose from the curve agrees with the stored one within a bin
      for (let b = 1; b < d.cumulativePct.length; b++)
        expect(d.cumulativePct[b]!).toBeLessThanOrEqual(d.cumulativePct[b - 1]!);
      const fromCurve = d.cumulativePct.slice(1).reduce((sum, v) => sum + v / 100, 0) * d.binWidthGy;
      expect(Math.abs(fromCurve - d.metrics.Dmean!)).toBeLessThan(d.binWidthGy);
    }
  });

  it('computes only contours without current metrics, and no case without a dose', async () => {
    const again = await computeCaseDoseMetrics({ db: database.db, blobs }, caseId);
    expect(again).toMatchObject({ computed: 0, current: 2, metricRows: 1 });
    expect(await computeCaseDoseMetrics({ db: database.db, blobs }, 999_999)).toBeNull();
  });
});
