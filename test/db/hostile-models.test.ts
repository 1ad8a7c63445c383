import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../scripts/onnx/graph-builder';
import { thresholdModel, type FamilyModel } from '../../scripts/onnx/family-models';
import { isAppError } from '../../src/lib/core/errors';
import { findTg263Structure } from '../../src/lib/core/structures/tg263';
import type { Vec3 } from '../../src/lib/core/volume/volume';
import { ModelSessions } from '../../src/lib/server/inference/model-sessions';
import { addCaseToCohort, ensureCohort } from '../../src/lib/server/repositories/cohort.repository';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { ensureStructures } from '../../src/lib/server/repositories/structure.repository';
import { evaluateCase } from '../../src/lib/server/services/evaluation.service';
import { createEvaluationRun } from '../../src/lib/server/services/evaluation-run.service';
import { registerModel } from '../../src/lib/server/services/model-registry.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { startTestWorker, waitForRunEnd } from './run-helpers';
import { insertCaseWithCt, insertPhysicianSet } from './case-fixture';
import { createTestDatabase, type TestDatabase } from './test-database';

/*
 * Hostile ONNX models: files that are too large or not ONNX, graphs whose declared inputs and outputs do
 * not fit the card, and graphs that load and fit but produce NaN, infinities or the wrong shape when
 * they run. Registration refuses the first kinds and stores nothing; evaluation fails the case with a
 * recorded error naming the model and stores no contours and no metrics.
 */

const dims: Vec3 = [32, 24, 12];
const spacing: Vec3 = [1, 1, 2];

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let caseId: number;
const sessions = new ModelSessions({ intraOpThreads: 1 });

/** A threshold-like model whose foreground channel is `foreground(x)`, with the threshold model's card. */
function model(name: string, foreground: (g: GraphBuilder, x: string) => string): FamilyModel {
  const base = thresholdModel();
  const g = new GraphBuilder(name);
  const x = g.input('image', ['batch', 1, 'depth', 'height', 'width']);
  const background = g.op1('Mul', [x, g.constant([0], [1])]);
  g.identity(g.op1('Concat', [background, foreground(g, x)], { axis: 1 }), 'logits');
  g.output('logits', ['batch', 2, 'depth', 'height', 'width']);
  return { ...base, bytes: g.encode(name), card: { ...base.card, name, version: '1' } };
}

const zero = (g: GraphBuilder, x: string) => g.op1('Mul', [x, g.constant([0], [1])]);
const nanModel = model('hostile-nan', (g, x) =>
  g.op1('Sqrt', [g.op1('Sub', [zero(g, x), g.constant([1], [1])])]),
);
const infModel = model('hostile-inf', (g, x) =>
  g.op1('Div', [g.constant([1], [1]), g.op1('Abs', [zero(g, x)])]),
);
/** Declares dynamic spatial axes but halves them: the shape only shows when it runs. */
const shrinkModel = (() => {
  const base = thresholdModel();
  const g = new GraphBuilder('hostile-shrink');
  const x = g.input('image', ['batch', 1, 'depth', 'height', 'width']);
  const pooled = g.op1('MaxPool', [x], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] });
  g.identity(g.op1('Concat', [pooled, pooled], { axis: 1 }), 'logits');
  g.output('logits', ['batch', 2, 'depth', 'height', 'width']);
  return { ...base, bytes: g.encode('shrink'), card: { ...base.card, name: 'hostile-shrink', version: '1' } };
})();

async function counts() {
  const result = await sql<Record<string, number>>`
    select (select count(*)::int from model) as models, (select count(*)::int from model_version) as versions,
           (select count(*)::int from blob) as blobs, (select count(*)::int from contour_set) as sets,
           (select count(*)::int from contour) as contours, (select count(*)::int from metric) as metrics`.execute(
    database.db,
  );
  const files = (await readdir(blobDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return { ...result.rows[0], blobFiles: files.length };
}

async function refusedRegistration(
  bytes: Uint8Array,
  card: unknown,
  source: string,
  pattern: RegExp,
  limits?: { maxBytes?: number },
) {
  const before = await counts();
  const error = await registerModel(
    database.db,
    blobs,
    bytes,
    card,
    { onnx: source, card: 'card.json' },
    limits,
  ).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isAppError(error) && error.code === 'INVALID_INPUT', `${source}: ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message.startsWith(source)).toBe(true);
  expect(await counts()).toEqual(before);
}

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-hostile-models-'));
  blobs = new FileBlobStore(blobDir);
  const db = database.db;
  const site = await ensureSite(db, 'SITE-HOSTILE');
  const voxels = dims[0] * dims[1] * dims[2];
  const heart = Uint8Array.from({ length: voxels }, (_, v) => (v % dims[0] > 10 && v % dims[0] < 20 ? 1 : 0));
  const ct = Int16Array.from(heart, (inside, v) => (inside ? 40 : -700 + (v % 7)));
  let seriesId: number;
  ({ caseId, seriesId } = await insertCaseWithCt(db, blobs, {
    siteId: site.id,
    pseudonym: 'HOSTILE01',
    uid: '2.25.7',
    ct,
    dims,
    spacingMm: spacing,
    laterality: 'left',
  }));
  const structureIds = await ensureStructures(db, [findTg263Structure('Heart')!]);
  await insertPhysicianSet(db, blobs, {
    caseId,
    seriesId,
    observerId: await ensureObserver(db, site.id, 'RO1'),
    label: 'RO1',
    sopInstanceUid: '2.25.79',
    voxelCc: (spacing[0] * spacing[1] * spacing[2]) / 1000,
    masks: [{ structureId: structureIds.get('Heart')!, structure: 'Heart', mask: heart }],
  });
  await addCaseToCohort(db, await ensureCohort(db, 'hostile-cohort'), caseId, 'test');
}, 60_000);

afterAll(async () => {
  await sessions.close();
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('registering a hostile model file', () => {
  const { onnx } = onnxProto;
  const good = thresholdModel();

  it('refuses a file over the configured size limit before reading it as a model', async () => {
    await refusedRegistration(
      good.bytes,
      good.card,
      'big.onnx',
      new RegExp(`the model file has ${good.bytes.length} bytes, more than the limit of 100`),
      { maxBytes: 100 },
    );
  });

  it('refuses bytes that are not an ONNX protobuf, or an ONNX model without a graph', async () => {
    const random = Uint8Array.from({ length: 4096 }, (_, n) => (n * 2654435761) >>> 24);
    await refusedRegistration(new Uint8Array(0), good.card, 'empty.onnx', /the model file is empty/);
    await refusedRegistration(random, good.card, 'random.onnx', /not an ONNX model/);
    await refusedRegistration(
      good.bytes.subarray(0, good.bytes.length - 37),
      good.card,
      'cut.onnx',
      /not an ONNX model|onnxruntime cannot load/,
    );
    await refusedRegistration(
      new TextEncoder().encode('{"not": "a model"}'),
      good.card,
      'json.onnx',
      /not an ONNX model/,
    );
    const graphless = onnx.ModelProto.encode(
      onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ version: 17 }] }),
    ).finish();
    await refusedRegistration(graphless, good.card, 'graphless.onnx', /not an ONNX model \(no graph\)/);
    const empty = onnx.ModelProto.encode(onnx.ModelProto.create({ producerName: 'x' })).finish();
    await refusedRegistration(empty, good.card, 'bare.onnx', /not an ONNX model \(no IR version\)/);
  });

  it('refuses graphs whose inputs or outputs do not fit the card: rank, channels, fixed sizes', async () => {
    // a 2D output (depth averaged away) for a 3D card
    const flat = new GraphBuilder('rank');
    const image = flat.input('image', ['batch', 1, 'depth', 'height', 'width']);
    const mean = flat.op1('ReduceMean', [image], { axes: [2], keepdims: 0 });
    flat.identity(flat.op1('Concat', [mean, mean], { axis: 1 }), 'logits');
    flat.output('logits', ['batch', 2, 'height', 'width']);
    await refusedRegistration(
      flat.encode(),
      { ...good.card, name: 'hostile-rank' },
      'rank.onnx',
      /output "logits" has shape \[batch, 2, height, width\] \(rank 4\); expected rank 5/,
    );
    const g = new GraphBuilder('channels');
    const x = g.input('image', ['batch', 3, 'depth', 'height', 'width']);
    g.identity(g.op1('Mul', [x, g.constant([1], [1])]), 'logits');
    g.output('logits', ['batch', 3, 'depth', 'height', 'width']);
    await refusedRegistration(
      g.encode(),
      { ...good.card, name: 'hostile-channels' },
      'channels.onnx',
      /input "image" has 3 channel\(s\) \(axis 1\); the card says input.channels = 1/,
    );
    const fixed = new GraphBuilder('fixed');
    const y = fixed.input('image', [1, 1, 4, 4, 4]);
    fixed.identity(fixed.op1('Concat', [y, y], { axis: 1 }), 'logits');
    fixed.output('logits', [1, 2, 4, 4, 4]);
    await refusedRegistration(
      fixed.encode(),
      { ...good.card, name: 'hostile-fixed' },
      'fixed.onnx',
      /input "image" axis D is fixed at 4; the card's patchSize gives 8/,
    );
  });
});

describe('evaluating a model that misbehaves when it runs', () => {
  const versions = new Map<string, number>();

  beforeAll(async () => {
    for (const m of [nanModel, infModel, shrinkModel]) {
      const registered = await registerModel(database.db, blobs, m.bytes, m.card, {
        onnx: `${m.card.name}.onnx`,
        card: `${m.card.name}.json`,
      });
      versions.set(m.card.name, registered.modelVersionId);
    }
  });

  it('fails the case naming the model and the problem, storing no contours and no metrics', async () => {
    const expected: Array<[string, RegExp]> = [
      ['hostile-nan', /^hostile-nan@1: the model produced NaN \(channel 1, window 1 of \d+/],
      ['hostile-inf', /^hostile-inf@1: the model produced Infinity \(channel 1, window 1 of \d+/],
      [
        'hostile-shrink',
        /^hostile-shrink@1: output of shape \[1, 2, 4, 8, 8\] for input \[1, 1, 8, 16, 16\]/,
      ],
    ];
    for (const [name, pattern] of expected) {
      const before = await counts();
      await expect(
        evaluateCase(
          { db: database.db, blobs, sessions },
          { caseId, modelVersionId: versions.get(name)!, evaluationRunId: null, cohortVersionId: null },
        ),
      ).rejects.toThrowError(pattern);
      expect(await counts()).toEqual(before);
    }
  });

  it('records the failure in the evaluation run, with no metric rows', async () => {
    const run = await createEvaluationRun(database.db, {
      model: 'hostile-nan@1',
      cohort: 'hostile-cohort',
      maxAttempts: 1,
    });
    const worker = await startTestWorker(database, blobs);
    try {
      const progress = await waitForRunEnd(database, run.runId);
      expect(progress).toMatchObject({ status: 'failed', total: 1, succeeded: 0, failed: 1 });
      expect(progress.errors).toEqual([
        { caseId, message: expect.stringMatching(/^hostile-nan@1: the model produced NaN/) },
      ]);
    } finally {
      await worker.stop();
    }
    const metrics = await database.db
      .selectFrom('metric')
      .select('id')
      .where('evaluation_run_id', '=', run.runId)
      .execute();
    expect(metrics).toEqual([]);
  });
});
