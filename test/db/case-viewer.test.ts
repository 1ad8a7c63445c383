import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { binaryMaskSummary, boxToIjk } from '../../src/lib/core/volume/crop';
import { extractPlane } from '../../src/lib/core/volume/slice-plane';
import type { Mask, Volume } from '../../src/lib/core/volume/volume';
import { upsertBlob } from '../../src/lib/server/repositories/blob.repository';
import { upsertContour } from '../../src/lib/server/repositories/contour.repository';
import {
  findCaseImage,
  upsertModelContourSet,
} from '../../src/lib/server/repositories/evaluation.repository';
import { upsertMetric } from '../../src/lib/server/repositories/metric.repository';
import {
  caseOverlays,
  caseSlice,
  caseViewerData,
  largestDisagreement,
  listCases,
  saveReview,
  type CaseViewerData,
} from '../../src/lib/server/services/case-viewer.service';
import { createUser } from '../../src/lib/server/services/account.service';
import { loadCaseVolume } from '../../src/lib/server/services/evaluation.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

const series = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/series',
);

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let caseId: number;
let ct: Volume;
let heart: Mask;
let heartId: number;
let physicianSetId: number;
let modelSetId: number;
/** the model's heart: the physician's moved 4 voxels along i on the slices of its upper half */
let modelHeart: Uint8Array;

const deps = () => ({ db: database.db, blobs });

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-viewer-'));
  blobs = new FileBlobStore(blobDir);
  await importDicom(database.db, blobs, series, {
    siteCode: 'SITE-A',
    observerCode: 'RO1',
    laterality: 'left',
    cohortName: 'breast',
  });
  const row = await database.db.selectFrom('patient_case').select('id').executeTakeFirstOrThrow();
  caseId = row.id;
  let image = (await findCaseImage(database.db, caseId))!;
  // The shared series repeats its one real slice on every position: an offset of k HU per slice makes
  // each slice (and each row of a coronal or sagittal plane) tell which k it came from.
  const stored = await loadCaseVolume(blobs, image);
  const sliceSize = stored.dims[0] * stored.dims[1];
  const varied = Int16Array.from(stored.data, (hu, n) => Math.min(32767, hu + Math.floor(n / sliceSize)));
  const variedBlob = await blobs.put(new Uint8Array(varied.buffer));
  await upsertBlob(database.db, { ...variedBlob, mediaType: 'application/x-contourbench-volume-int16' });
  await database.db
    .updateTable('image_series')
    .set({ volume_blob_sha256: variedBlob.sha256 })
    .where('id', '=', image.seriesId)
    .execute();
  image = (await findCaseImage(database.db, caseId))!;
  ct = await loadCaseVolume(blobs, image);
  expect(ct.data[sliceSize * 5]).toBe(varied[sliceSize * 5]);
  const contour = await database.db
    .selectFrom('contour')
    .innerJoin('structure', 'structure.id', 'contour.structure_id')
    .select(['contour.mask_blob_sha256', 'contour.structure_id', 'contour.contour_set_id'])
    .where('structure.tg263_name', '=', 'Heart')
    .executeTakeFirstOrThrow();
  heartId = contour.structure_id;
  physicianSetId = contour.contour_set_id;
  heart = { ...ct, data: await blobs.get(contour.mask_blob_sha256) };

  // a model's contour set with a displaced heart, so that the two sets disagree on known slices
  const [nx, ny] = ct.dims;
  const { box } = binaryMaskSummary(heart.data, ct.dims);
  const kMiddle = Math.round((box!.kMin + box!.kMax) / 2);
  modelHeart = new Uint8Array(heart.data.length);
  for (let k = 0; k < ct.dims[2]; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const shift = k >= kMiddle ? 4 : 0;
        const from = i - shift;
        modelHeart[i + nx * (j + ny * k)] = from >= 0 ? heart.data[from + nx * (j + ny * k)] : 0;
      }
  const onnx = new TextEncoder().encode('not a network: the model version of a viewer test');
  const onnxBlob = await blobs.put(onnx);
  const maskBlob = await blobs.put(modelHeart);
  await upsertBlob(database.db, { ...onnxBlob, mediaType: 'application/octet-stream' });
  await upsertBlob(database.db, { ...maskBlob, mediaType: 'application/x-contourbench-mask' });
  const model = await database.db
    .insertInto('model')
    .values({ name: 'viewer-test-net' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const version = await database.db
    .insertInto('model_version')
    .values({ model_id: model.id, version: '1.0', onnx_sha256: onnxBlob.sha256, card: {} })
    .returning('id')
    .executeTakeFirstOrThrow();
  modelSetId = await upsertModelContourSet(database.db, {
    caseId,
    modelVersionId: version.id,
    evaluationRunId: null,
    imageSeriesId: image.seriesId,
    label: 'viewer-test-net@1.0',
  });
  const summary = binaryMaskSummary(modelHeart, ct.dims);
  await upsertContour(database.db, {
    contourSetId: modelSetId,
    structureId: heartId,
    maskBlobSha256: maskBlob.sha256,
    volumeCc: (summary.voxels * ct.spacingMm[0] * ct.spacingMm[1] * ct.spacingMm[2]) / 1000,
    voxelCount: summary.voxels,
    bboxIjk: boxToIjk(summary.box),
    sourceRoiName: 'Heart',
    sourceRoiNumber: 1,
    colourRgb: null,
  });
}, 180_000);

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

/** Axial slices where a mask has voxels, and where it has none. */
function occupiedSlices(mask: Uint8Array): { full: number[]; empty: number[] } {
  const [nx, ny, nz] = ct.dims;
  const full: number[] = [];
  const empty: number[] = [];
  for (let k = 0; k < nz; k++)
    (mask.subarray(k * nx * ny, (k + 1) * nx * ny).includes(1) ? full : empty).push(k);
  return { full, empty };
}

describe('case list', () => {
  it('lists the imported case with its contour sets, filtered by site and cohort', async () => {
    const all = await listCases(database.db, {});
    expect(all.options).toEqual({ sites: ['SITE-A'], cohorts: ['breast'] });
    expect(all.cases).toHaveLength(1);
    expect(all.cases[0]).toMatchObject({
      id: caseId,
      site: 'SITE-A',
      contourSets: 2,
      physicianSets: 1,
      modelSets: 1,
      hasImage: true,
    });
    expect((await listCases(database.db, { sites: ['SITE-A'], cohort: 'breast' })).cases).toHaveLength(1);
    expect((await listCases(database.db, { sites: ['ELSEWHERE'] })).cases).toHaveLength(0);
    expect((await listCases(database.db, { cohort: 'no such cohort' })).cases).toHaveLength(0);
  });
});

describe('CT slices', () => {
  it('returns axial plane k as the volume holds it', async () => {
    const [nx, ny, nz] = ct.dims;
    for (const k of [0, Math.floor(nz / 2), nz - 1]) {
      const slice = await caseSlice(deps(), caseId, 'axial', k);
      expect(slice.width).toBe(nx);
      expect(slice.height).toBe(ny);
      expect(slice.count).toBe(nz);
      expect(slice.pixelSpacingMm).toEqual([ct.spacingMm[0], ct.spacingMm[1]]);
      expect(Array.from(slice.data)).toEqual(Array.from(ct.data.subarray(k * nx * ny, (k + 1) * nx * ny)));
    }
    const other = await caseSlice(deps(), caseId, 'axial', 1);
    expect(other.data[0]).not.toBe((await caseSlice(deps(), caseId, 'axial', 0)).data[0]);
  });

  it('returns coronal and sagittal planes with the slice spacing vertically, head up', async () => {
    const [nx, ny, nz] = ct.dims;
    const coronal = await caseSlice(deps(), caseId, 'coronal', Math.floor(ny / 2));
    expect([coronal.width, coronal.height, coronal.count]).toEqual([nx, nz, ny]);
    expect(coronal.pixelSpacingMm).toEqual([ct.spacingMm[0], ct.spacingMm[2]]);
    expect(coronal.orientation).toMatchObject({ top: 'S', bottom: 'I' });
    const expected = extractPlane(ct.data, ct.dims, 'coronal', Math.floor(ny / 2), { flipRows: true });
    expect(Array.from(coronal.data)).toEqual(Array.from(expected));
    // the top row is the last slice: voxel (i, j, nz − 1) written out by hand
    const j = Math.floor(ny / 2);
    for (const i of [0, 200, nx - 1]) {
      expect(coronal.data[i]).toBe(ct.data[i + nx * (j + ny * (nz - 1))]);
      expect(coronal.data[i + nx * (nz - 1)]).toBe(ct.data[i + nx * j]);
    }
    const sagittal = await caseSlice(deps(), caseId, 'sagittal', 10);
    expect([sagittal.width, sagittal.height]).toEqual([ny, nz]);
    expect(sagittal.pixelSpacingMm).toEqual([ct.spacingMm[1], ct.spacingMm[2]]);
    for (const [y, x] of [
      [0, 0],
      [nz - 1, ny - 1],
      [40, 300],
    ])
      expect(sagittal.data[x + ny * y]).toBe(ct.data[10 + nx * (x + ny * (nz - 1 - y))]);
  });

  it('refuses a slice outside the series and a case without a CT', async () => {
    await expect(caseSlice(deps(), caseId, 'axial', ct.dims[2])).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(caseSlice(deps(), caseId + 1000, 'axial', 0)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('contour overlays', () => {
  it('outlines the heart on slices where its mask has voxels and nowhere else', async () => {
    const { full, empty } = occupiedSlices(heart.data);
    expect(full.length).toBeGreaterThan(0);
    expect(empty.length).toBeGreaterThan(0);
    const [nx, ny] = ct.dims;
    const k = full[Math.floor(full.length / 2)];
    const onSlice = await caseOverlays(deps(), caseId, 'axial', k);
    const outline = onSlice.overlays.find((o) => o.setId === physicianSetId && o.structureId === heartId);
    expect(outline).toBeDefined();
    expect(outline!.rings.length).toBeGreaterThan(0);
    // marching squares puts vertices half a pixel outside the outermost voxel centres
    const slice = heart.data.subarray(k * nx * ny, (k + 1) * nx * ny);
    const box = binaryMaskSummary(slice, [nx, ny, 1]).box!;
    const xs = outline!.rings.flatMap((r) => r.filter((_, m) => m % 2 === 0));
    const ys = outline!.rings.flatMap((r) => r.filter((_, m) => m % 2 === 1));
    expect(Math.min(...xs)).toBe(box.iMin - 0.5);
    expect(Math.max(...xs)).toBe(box.iMax + 0.5);
    expect(Math.min(...ys)).toBe(box.jMin - 0.5);
    expect(Math.max(...ys)).toBe(box.jMax + 0.5);

    const off = await caseOverlays(deps(), caseId, 'axial', empty[0]);
    expect(off.overlays.some((o) => o.structureId === heartId)).toBe(false);
  });

  it('outlines the heart on a coronal plane through it, in flipped rows', async () => {
    const { box } = binaryMaskSummary(heart.data, ct.dims);
    const j = Math.round((box!.jMin + box!.jMax) / 2);
    const coronal = await caseOverlays(deps(), caseId, 'coronal', j);
    const outline = coronal.overlays.find((o) => o.setId === physicianSetId && o.structureId === heartId)!;
    const ys = outline.rings.flatMap((r) => r.filter((_, m) => m % 2 === 1));
    const nz = ct.dims[2];
    // rows run from the last slice down: slice k is row nz − 1 − k
    expect(Math.max(...ys)).toBeLessThanOrEqual(nz - 1 - box!.kMin + 0.5);
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(nz - 1 - box!.kMax - 0.5);
    const before = await caseOverlays(deps(), caseId, 'coronal', Math.max(0, box!.jMin - 1));
    expect(before.overlays.some((o) => o.setId === physicianSetId && o.structureId === heartId)).toBe(
      box!.jMin === 0,
    );
  });
});

describe('largest disagreement', () => {
  it('finds the slice with most voxels in only one set when no APL is stored', async () => {
    const [nx, ny, nz] = ct.dims;
    const counts = Array.from({ length: nz }, (_, k) => {
      let n = 0;
      for (let m = k * nx * ny; m < (k + 1) * nx * ny; m++) n += heart.data[m] ^ modelHeart[m];
      return n;
    });
    const best = counts.indexOf(Math.max(...counts));
    const result = await largestDisagreement(deps(), caseId, {
      structureId: heartId,
      setA: physicianSetId,
      setB: modelSetId,
    });
    expect(result).toMatchObject({ method: 'symmetric-difference', k: best, value: counts[best] });
  });

  it('takes the slice of largest added path length from a stored metric row', async () => {
    const result = computeMetrics(heart, { ...heart, data: modelHeart });
    await upsertMetric(
      database.db,
      {
        caseId,
        referenceSetId: physicianSetId,
        testSetId: modelSetId,
        structureId: heartId,
        evaluationRunId: null,
      },
      result,
    );
    const t = result.apl.tolerancesMm.indexOf(2);
    const apl = Array.from(result.apl.pixelMmBySlice[t]);
    const best = apl.indexOf(Math.max(...apl));
    const jump = await largestDisagreement(deps(), caseId, {
      structureId: heartId,
      setA: modelSetId,
      setB: physicianSetId,
    });
    expect(jump).toMatchObject({ method: 'apl', k: best });
    expect(jump.value).toBeCloseTo(apl[best], 9);
    // only the slices of the displaced upper half disagree
    const { full } = occupiedSlices(heart.data);
    expect(best).toBeGreaterThanOrEqual(Math.round((full[0] + full[full.length - 1]) / 2));

    const data = await caseViewerData(database.db, caseId);
    const row = data.metrics.find((m) => m.testSetId === modelSetId && m.structureId === heartId);
    expect(row?.dice).toBeCloseTo(result.dice!, 9);
    expect(row?.hasAplSlices).toBe(true);
  });
});

describe('case viewer data', () => {
  it('labels the sets, offers the model set for grading and starts on an organ slice', async () => {
    const data: CaseViewerData = await caseViewerData(database.db, caseId);
    expect(data.sets.map((s) => [s.label, s.source, s.gradable])).toEqual([
      ['RO1', 'physician', false],
      ['viewer-test-net@1.0', 'model', true],
    ]);
    expect(data.structures.map((s) => s.name)).toContain('Heart');
    expect(data.image?.planes.axial).toMatchObject({ width: ct.dims[0], count: ct.dims[2] });
    expect(data.defaultReferenceSetId).toBe(physicianSetId);
    expect(data.initialAxialIndex).toBeGreaterThanOrEqual(0);
    expect(data.initialAxialIndex).toBeLessThan(ct.dims[2]);
    await expect(caseViewerData(database.db, caseId + 1000)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('reviews', () => {
  it('stores a grade, updates it for the same reviewer and keeps other reviewers apart', async () => {
    const actor = { userId: null, label: 'test' };
    const reviewer = await createUser(
      database.db,
      { email: 'Reviewer@Example.org', role: 'physician', sites: ['SITE-A'] },
      actor,
    );
    const second = await createUser(database.db, { email: 'second@example.org', role: 'physicist' }, actor);
    const first = await saveReview(database.db, caseId, {
      contourSetId: modelSetId,
      structureId: heartId,
      reviewerId: reviewer.id,
      grade: 3,
      comment: 'apex too far left',
    });
    const again = await saveReview(database.db, caseId, {
      contourSetId: modelSetId,
      structureId: heartId,
      reviewerId: reviewer.id,
      grade: 2,
      comment: 'on second look, minor',
    });
    expect(again.reviewId).toBe(first.reviewId);
    expect(again.reviewerId).toBe(first.reviewerId);
    await saveReview(database.db, caseId, {
      contourSetId: modelSetId,
      structureId: heartId,
      reviewerId: second.id,
      grade: 1,
      comment: '',
    });
    const rows = await database.db
      .selectFrom('review')
      .innerJoin('app_user', 'app_user.id', 'review.reviewer_id')
      .select(['app_user.email', 'app_user.role', 'app_user.password_hash', 'review.grade', 'review.comment'])
      .orderBy('app_user.email')
      .execute();
    expect(rows).toEqual([
      {
        email: 'reviewer@example.org',
        role: 'physician',
        password_hash: null,
        grade: 2,
        comment: 'on second look, minor',
      },
      { email: 'second@example.org', role: 'physicist', password_hash: null, grade: 1, comment: '' },
    ]);
    const data = await caseViewerData(database.db, caseId);
    expect(data.reviews.map((r) => [r.setLabel, r.structure, r.reviewerEmail, r.grade])).toEqual(
      expect.arrayContaining([
        ['viewer-test-net@1.0', 'Heart', 'reviewer@example.org', 2],
        ['viewer-test-net@1.0', 'Heart', 'second@example.org', 1],
      ]),
    );
    expect(data.reviews).toHaveLength(2);
  });

  it('refuses to grade a physician set, or a structure the set does not have', async () => {
    await expect(
      saveReview(database.db, caseId, {
        contourSetId: physicianSetId,
        structureId: heartId,
        reviewerId: 1,
        grade: 1,
        comment: '',
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const lung = await database.db
      .selectFrom('structure')
      .select('id')
      .where('tg263_name', '=', 'Lung_L')
      .executeTakeFirstOrThrow();
    await expect(
      saveReview(database.db, caseId, {
        contourSetId: modelSetId,
        structureId: lung.id,
        reviewerId: 1,
        grade: 1,
        comment: '',
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await database.db.selectFrom('review').select('id').execute()).toHaveLength(2);
  });
});
