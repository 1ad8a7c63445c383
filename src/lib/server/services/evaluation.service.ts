import { AppError } from '../../core/errors';
import { segmentVolume, type SegmentationTimings } from '../../core/inference/pipeline';
import { modelReference, parseModelCard } from '../../core/models/model-card';
import { computeMetrics, type MetricResult } from '../../core/metrics/metric-set';
import { findTg263Structure } from '../../core/structures/tg263';
import { binaryMaskSummary, boxToIjk } from '../../core/volume/crop';
import { gridAffine, type Mask, type Vec3, type Volume } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import type { ModelSessions } from '../inference/model-sessions';
import { upsertBlob } from '../repositories/blob.repository';
import { upsertContour } from '../repositories/contour.repository';
import {
  findCaseImage,
  findReferenceContours,
  findVersionReferences,
  upsertModelContourSet,
  type CaseImage,
} from '../repositories/evaluation.repository';
import { findModelVersionCard } from '../repositories/evaluation-run.repository';
import { upsertMetric } from '../repositories/metric.repository';
import { ensureStructures } from '../repositories/structure.repository';
import type { BlobStore, StoredBlob } from '../storage/blob-store';
import type { MetricPool } from './metric-pool';

export interface EvaluationDeps {
  db: Db;
  blobs: BlobStore;
  sessions: ModelSessions;
  /** computes metrics on worker threads when given; on the calling thread otherwise */
  metricPool?: MetricPool;
}

export interface CaseEvaluation {
  caseId: number;
  modelContourSetId: number;
  structures: Array<{ tg263Name: string; voxels: number; volumeCc: number }>;
  metricRows: number;
  /** reference contour sets compared against */
  referenceSets: number[];
  windows: number;
  timings: SegmentationTimings & { loadMs: number; metricsMs: number; storeMs: number };
}

/** The CT volume of a case from its stored blob (Int16 or Float32 Hounsfield units, by size). */
export async function loadCaseVolume(blobs: BlobStore, image: CaseImage): Promise<Volume> {
  const bytes = await blobs.get(image.volumeBlobSha256);
  const voxels = image.dims[0] * image.dims[1] * image.dims[2];
  const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const data =
    copy.byteLength === voxels * 2
      ? new Int16Array(copy.buffer, copy.byteOffset, voxels)
      : copy.byteLength === voxels * 4
        ? new Float32Array(copy.buffer, copy.byteOffset, voxels)
        : null;
  if (data === null)
    throw new AppError(
      'INVALID_INPUT',
      `CT volume blob ${image.volumeBlobSha256.slice(0, 12)}… has ${copy.byteLength} bytes; ${image.dims.join('x')} voxels need ${voxels * 2} (int16) or ${voxels * 4} (float32)`,
    );
  return { data, ...caseGrid(image) };
}

/** The grid of a case's stored CT (dimensions, spacing, affine), without reading its voxels. */
export function caseGrid(image: CaseImage): Omit<Volume, 'data'> {
  const spacingMm = image.spacingMm as Vec3;
  return {
    dims: image.dims as Vec3,
    spacingMm,
    affineIjkToLps: gridAffine(image.directionLps, spacingMm, image.originLpsMm),
  };
}

/**
 * Evaluates one model version on one case: runs the model on the case's CT, stores its contour set, and
 * computes the full metric set of every structure the model produces against every physician and
 * STAPLE consensus contour set of that case that has the structure, or, in a run over a frozen cohort
 * version, against the reference the version chose for each structure (its mask as frozen). Everything heavy (inference, metrics, mask
 * blobs) happens before the transaction; the rows are written in one transaction, upserted on their
 * natural keys, so a retried job replaces its own rows and never duplicates them.
 */
export async function evaluateCase(
  deps: EvaluationDeps,
  job: {
    caseId: number;
    modelVersionId: number;
    evaluationRunId: number | null;
    /** the frozen cohort version the run evaluates, or null for every physician and STAPLE set */
    cohortVersionId: number | null;
  },
): Promise<CaseEvaluation> {
  const { db, blobs } = deps;
  let t = performance.now();
  const version = await findModelVersionCard(db, job.modelVersionId);
  if (version === undefined)
    throw new AppError('NOT_FOUND', `model version ${job.modelVersionId} does not exist`);
  const card = parseModelCard(version.card, `model version ${job.modelVersionId} (stored card)`);
  const name = modelReference(card);
  const image = await findCaseImage(db, job.caseId);
  if (image === undefined) throw new AppError('NOT_FOUND', `case ${job.caseId} has no stored CT volume`);
  const ct = await loadCaseVolume(blobs, image);
  const run = await deps.sessions.runner(version.onnxSha256, card, () => blobs.get(version.onnxSha256));
  const loadMs = performance.now() - t;

  const segmentation = await segmentVolume(ct, card, run);

  t = performance.now();
  const produced = card.output.labels.map((l) => l.structure);
  // a run over a frozen cohort version compares with the references the version chose, as frozen
  const references =
    job.cohortVersionId === null
      ? await findReferenceContours(db, job.caseId, image.seriesId, produced)
      : await findVersionReferences(db, job.cohortVersionId, job.caseId, produced);
  const grid = { dims: ct.dims, spacingMm: ct.spacingMm, affineIjkToLps: ct.affineIjkToLps };
  const testMask = (structure: string): Mask => ({ ...grid, data: segmentation.masks.get(structure)! });
  const computed: Array<{ setId: number; structureId: number; result: MetricResult }> = [];
  await Promise.all(
    references.map(async (ref) => {
      const reference: Mask = { ...grid, data: await blobs.get(ref.maskBlobSha256) };
      if (reference.data.length !== ct.data.length)
        throw new AppError(
          'INVALID_INPUT',
          `contour set ${ref.setId} ${ref.tg263Name}: mask has ${reference.data.length} voxels, the CT ${ct.data.length}`,
        );
      const test = testMask(ref.tg263Name);
      const result = deps.metricPool
        ? await deps.metricPool.compute(reference, test)
        : computeMetrics(reference, test);
      computed.push({ setId: ref.setId, structureId: ref.structureId, result });
    }),
  );
  const metricsMs = performance.now() - t;

  t = performance.now();
  const voxelCc = (ct.spacingMm[0] * ct.spacingMm[1] * ct.spacingMm[2]) / 1000;
  const stored: Array<{ structure: string; blob: StoredBlob; voxels: number; bbox: number[] | null }> = [];
  for (const structure of produced) {
    const mask = segmentation.masks.get(structure)!;
    const blob = await blobs.put(mask);
    const { voxels, box } = binaryMaskSummary(mask, ct.dims);
    stored.push({ structure, blob, voxels, bbox: boxToIjk(box) });
  }
  const result = await db.transaction().execute(async (trx) => {
    const structureIds = await ensureStructures(
      trx,
      produced.map((s) => findTg263Structure(s)!),
    );
    const setId = await upsertModelContourSet(trx, {
      caseId: job.caseId,
      modelVersionId: job.modelVersionId,
      evaluationRunId: job.evaluationRunId,
      imageSeriesId: image.seriesId,
      label: name,
    });
    for (const s of stored) {
      await upsertBlob(trx, { ...s.blob, mediaType: 'application/x-contourbench-mask' });
      await upsertContour(trx, {
        contourSetId: setId,
        structureId: structureIds.get(s.structure)!,
        maskBlobSha256: s.blob.sha256,
        volumeCc: s.voxels * voxelCc,
        voxelCount: s.voxels,
        bboxIjk: s.bbox,
        sourceRoiName: s.structure,
        sourceRoiNumber: card.output.labels.find((l) => l.structure === s.structure)!.channel,
        colourRgb: findTg263Structure(s.structure)!.colourRgb,
      });
    }
    computed.sort((a, b) => a.setId - b.setId || a.structureId - b.structureId);
    for (const row of computed)
      await upsertMetric(
        trx,
        {
          caseId: job.caseId,
          referenceSetId: row.setId,
          testSetId: setId,
          structureId: row.structureId,
          evaluationRunId: job.evaluationRunId,
        },
        row.result,
      );
    return setId;
  });
  const storeMs = performance.now() - t;
  return {
    caseId: job.caseId,
    modelContourSetId: result,
    structures: stored.map((s) => ({
      tg263Name: s.structure,
      voxels: s.voxels,
      volumeCc: s.voxels * voxelCc,
    })),
    metricRows: computed.length,
    referenceSets: [...new Set(references.map((r) => r.setId))],
    windows: segmentation.windows,
    timings: { ...segmentation.timings, loadMs, metricsMs, storeMs },
  };
}
