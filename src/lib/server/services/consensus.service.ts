import { majorityVote } from '../../core/consensus/majority-vote';
import { staple, type StapleRater } from '../../core/consensus/staple';
import { AppError } from '../../core/errors';
import { computeMetrics, type MetricResult } from '../../core/metrics/metric-set';
import { findTg263Structure } from '../../core/structures/tg263';
import { binaryMaskSummary, boxToIjk } from '../../core/volume/crop';
import type { Mask } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import { upsertBlob } from '../repositories/blob.repository';
import {
  deleteConsensusContoursExcept,
  findCasesWithConsensus,
  findPhysicianContours,
  upsertConsensusRater,
  upsertConsensusSet,
  type RaterContour,
} from '../repositories/consensus.repository';
import { upsertContour } from '../repositories/contour.repository';
import { findCaseImage } from '../repositories/evaluation.repository';
import { findCohortCasesWithQueue, findCohortId } from '../repositories/evaluation-run.repository';
import { upsertMetric } from '../repositories/metric.repository';
import { taskIdentifier } from '../jobs/queues';
import { countJobsWithKeyPrefix, enqueueJob } from '../repositories/job.repository';
import type { BlobStore, StoredBlob } from '../storage/blob-store';
import { caseGrid } from './evaluation.service';
import type { MetricPool } from './metric-pool';

/** The consensus variant ContourBench computes: STAPLE over every physician of the case. */
export const STAPLE_VARIANT = 'staple';

export interface ConsensusSummary {
  caseId: number;
  consensusSetId: number;
  structures: Array<{
    tg263Name: string;
    raters: Array<{ setId: number; observerCode: string } & StapleRater>;
    iterations: number;
    converged: boolean;
    volumeCc: number;
  }>;
  /** rows of each rater against the consensus */
  metricRows: number;
  /** rows of each pair of raters (the set with the lower id as reference) */
  pairRows: number;
}

/** A case's CT grid and its physician contours by structure: the raters of a consensus. */
async function caseRaters(db: Db, caseId: number) {
  const image = await findCaseImage(db, caseId);
  if (image === undefined) throw new AppError('NOT_FOUND', `case ${caseId} has no stored CT volume`);
  // the grid only: the masks are compared, the CT's voxels are not needed
  const grid = caseGrid(image);
  const gridVoxels = grid.dims[0] * grid.dims[1] * grid.dims[2];
  const byStructure = new Map<string, RaterContour[]>();
  for (const contour of await findPhysicianContours(db, caseId, image.seriesId)) {
    const list = byStructure.get(contour.tg263Name) ?? [];
    list.push(contour);
    byStructure.set(contour.tg263Name, list);
  }
  const voxelCc = (grid.spacingMm[0] * grid.spacingMm[1] * grid.spacingMm[2]) / 1000;
  return { image, grid, gridVoxels, voxelCc, byStructure };
}

/** The raters' masks of one structure, each checked to lie on the case's grid. */
async function raterMasks(blobs: BlobStore, raters: readonly RaterContour[], gridVoxels: number) {
  const masks = await Promise.all(raters.map((r) => blobs.get(r.maskBlobSha256)));
  for (const [j, mask] of masks.entries())
    if (mask.length !== gridVoxels)
      throw new AppError(
        'INVALID_INPUT',
        `contour set ${raters[j]!.setId} ${raters[j]!.tg263Name}: mask has ${mask.length} voxels, the CT ${gridVoxels}`,
      );
  return masks;
}

/** One computed consensus mask as a contour of the consensus set (its blob row, volume and box). */
async function storeConsensusContour(
  trx: Db,
  setId: number,
  c: { structureId: number; tg263Name: string; blob: StoredBlob; voxels: number; bbox: number[] | null },
  voxelCc: number,
): Promise<void> {
  await upsertBlob(trx, { ...c.blob, mediaType: 'application/x-contourbench-mask' });
  await upsertContour(trx, {
    contourSetId: setId,
    structureId: c.structureId,
    maskBlobSha256: c.blob.sha256,
    volumeCc: c.voxels * voxelCc,
    voxelCount: c.voxels,
    bboxIjk: c.bbox,
    sourceRoiName: c.tg263Name,
    sourceRoiNumber: null,
    colourRgb: findTg263Structure(c.tg263Name)?.colourRgb ?? null,
  });
}

/**
 * The STAPLE consensus of a case: for every structure drawn by at least two physicians (every observer's
 * set on the case's CT counts as a rater), the consensus mask and each rater's sensitivity and
 * specificity (core/consensus/staple.ts), the full metric set of each rater against the consensus and
 * of every pair of raters (inter-observer agreement).
 * Stored in one transaction as the case's consensus contour set (variant "staple"), upserted, so running
 * it again replaces the previous consensus instead of adding one.
 */
export async function computeStapleConsensus(
  deps: { db: Db; blobs: BlobStore; metricPool?: MetricPool },
  caseId: number,
): Promise<ConsensusSummary> {
  const { db, blobs } = deps;
  const { image, grid, gridVoxels, voxelCc, byStructure } = await caseRaters(db, caseId);
  const computed: Array<{
    structureId: number;
    tg263Name: string;
    raters: RaterContour[];
    result: ReturnType<typeof staple>;
    blob: StoredBlob;
    voxels: number;
    bbox: number[] | null;
    metrics: MetricResult[];
    pairs: Array<{ a: number; b: number; result: MetricResult }>;
  }> = [];
  for (const [tg263Name, raters] of byStructure) {
    if (raters.length < 2) continue;
    const masks = await raterMasks(blobs, raters, gridVoxels);
    const result = staple(masks, grid.dims);
    const consensusMask: Mask = { ...grid, data: result.consensus };
    const compare = (reference: Mask, test: Mask) =>
      deps.metricPool ? deps.metricPool.compute(reference, test) : computeMetrics(reference, test);
    const metrics = await Promise.all(masks.map((data) => compare(consensusMask, { ...grid, data })));
    // every pair of raters once: the earlier set (by id) as reference
    const pairs: Array<{ a: number; b: number }> = [];
    for (let a = 0; a < raters.length; a += 1)
      for (let b = a + 1; b < raters.length; b += 1) pairs.push({ a, b });
    const pairMetrics = await Promise.all(
      pairs.map(({ a, b }) => compare({ ...grid, data: masks[a]! }, { ...grid, data: masks[b]! })),
    );
    const { voxels, box } = binaryMaskSummary(result.consensus, grid.dims);
    computed.push({
      structureId: raters[0]!.structureId,
      tg263Name,
      raters,
      result,
      blob: await blobs.put(result.consensus),
      voxels,
      bbox: boxToIjk(box),
      metrics,
      pairs: pairs.map((pair, i) => ({ ...pair, result: pairMetrics[i]! })),
    });
  }
  const consensusSetId = await db.transaction().execute(async (trx) => {
    const setId = await upsertConsensusSet(trx, {
      caseId,
      imageSeriesId: image.seriesId,
      variant: STAPLE_VARIANT,
      label: 'STAPLE consensus',
    });
    await deleteConsensusContoursExcept(
      trx,
      setId,
      computed.map((c) => c.structureId),
    );
    for (const c of computed) {
      await storeConsensusContour(trx, setId, c, voxelCc);
      for (const [j, rater] of c.raters.entries()) {
        await upsertConsensusRater(trx, {
          consensusSetId: setId,
          structureId: c.structureId,
          raterSetId: rater.setId,
          sensitivity: c.result.raters[j]!.sensitivity,
          specificity: c.result.raters[j]!.specificity,
          prior: c.result.prior,
          iterations: c.result.iterations,
          converged: c.result.converged,
        });
        await upsertMetric(
          trx,
          {
            caseId,
            referenceSetId: setId,
            testSetId: rater.setId,
            structureId: c.structureId,
            evaluationRunId: null,
          },
          c.metrics[j]!,
        );
      }
      for (const pair of c.pairs)
        await upsertMetric(
          trx,
          {
            caseId,
            referenceSetId: c.raters[pair.a]!.setId,
            testSetId: c.raters[pair.b]!.setId,
            structureId: c.structureId,
            evaluationRunId: null,
          },
          pair.result,
        );
    }
    return setId;
  });
  return {
    caseId,
    consensusSetId,
    structures: computed.map((c) => ({
      tg263Name: c.tg263Name,
      raters: c.raters.map((r, j) => ({
        setId: r.setId,
        observerCode: r.observerCode,
        ...c.result.raters[j]!,
      })),
      iterations: c.result.iterations,
      converged: c.result.converged,
      volumeCc: c.voxels * voxelCc,
    })),
    metricRows: computed.reduce((n, c) => n + c.raters.length, 0),
    pairRows: computed.reduce((n, c) => n + c.pairs.length, 0),
  };
}

/** The consensus variant of the physicians' majority vote (core/consensus/majority-vote.ts). */
export const MAJORITY_VARIANT = 'majority';

/**
 * The majority vote of a case's physicians for every structure drawn by at least two of them (a voxel
 * more than half of them have; a tie is background), stored as the case's consensus set of variant
 * "majority", upserted like the STAPLE set. Only reference masks are stored: no metric rows, so the
 * agreement pages keep comparing observers against STAPLE. Returns the set id and, per structure, the
 * raters and volume.
 */
export async function computeMajorityVote(
  deps: { db: Db; blobs: BlobStore },
  caseId: number,
  /** only these structures (the others the set holds are kept as they are); default every structure */
  only?: (structure: string) => boolean,
): Promise<{ setId: number; structures: Array<{ tg263Name: string; raters: number; volumeCc: number }> }> {
  const { db, blobs } = deps;
  const { image, grid, gridVoxels, voxelCc, byStructure } = await caseRaters(db, caseId);
  const computed: Array<{
    structureId: number;
    tg263Name: string;
    raters: number;
    blob: StoredBlob;
    voxels: number;
    bbox: number[] | null;
  }> = [];
  for (const [tg263Name, raters] of byStructure) {
    if (raters.length < 2 || (only !== undefined && !only(tg263Name))) continue;
    const vote = majorityVote(await raterMasks(blobs, raters, gridVoxels));
    const { voxels, box } = binaryMaskSummary(vote, grid.dims);
    computed.push({
      structureId: raters[0]!.structureId,
      tg263Name,
      raters: raters.length,
      blob: await blobs.put(vote),
      voxels,
      bbox: boxToIjk(box),
    });
  }
  const setId = await db.transaction().execute(async (trx) => {
    const id = await upsertConsensusSet(trx, {
      caseId,
      imageSeriesId: image.seriesId,
      variant: MAJORITY_VARIANT,
      label: 'Majority vote',
    });
    if (only === undefined)
      await deleteConsensusContoursExcept(
        trx,
        id,
        computed.map((c) => c.structureId),
      );
    for (const c of computed) await storeConsensusContour(trx, id, c, voxelCc);
    return id;
  });
  return {
    setId,
    structures: computed.map((c) => ({
      tg263Name: c.tg263Name,
      raters: c.raters,
      volumeCc: c.voxels * voxelCc,
    })),
  };
}

/** The STAPLE consensus of every case of a cohort, one case after another; `onCase` hears of each. */
export async function computeCohortConsensus(
  deps: { db: Db; blobs: BlobStore; metricPool?: MetricPool },
  cohort: string,
  onCase?: (done: number, total: number, summary: ConsensusSummary) => void,
): Promise<ConsensusSummary[]> {
  const cohortId = await findCohortId(deps.db, cohort);
  if (cohortId === undefined) throw new AppError('NOT_FOUND', `no cohort named "${cohort}"`);
  const cases = await findCohortCasesWithQueue(deps.db, cohortId);
  const summaries: ConsensusSummary[] = [];
  for (const c of cases) {
    summaries.push(await computeStapleConsensus(deps, c.caseId));
    onCase?.(summaries.length, cases.length, summaries[summaries.length - 1]!);
  }
  return summaries;
}

/** The job key prefix of consensus jobs. */
export const CONSENSUS_JOB_PREFIX = 'consensus:';

/**
 * Queues one consensus job per case of a cohort (routed to the case's site queue like evaluations),
 * replacing a pending job of the same case; returns how many were queued. `onlyMissing` skips cases
 * that already have a consensus.
 */
export async function enqueueCohortConsensus(
  db: Db,
  cohort: string,
  options: { onlyMissing?: boolean } = {},
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const cohortId = await findCohortId(trx, cohort);
    if (cohortId === undefined) throw new AppError('NOT_FOUND', `no cohort named "${cohort}"`);
    const done = options.onlyMissing ? await findCasesWithConsensus(trx, STAPLE_VARIANT) : new Set<number>();
    const cases = (await findCohortCasesWithQueue(trx, cohortId)).filter((c) => !done.has(c.caseId));
    for (const c of cases)
      await enqueueJob(
        trx,
        taskIdentifier('consensus-case', c.queue),
        { caseId: c.caseId },
        { jobKey: `${CONSENSUS_JOB_PREFIX}${c.caseId}`, maxAttempts: 3 },
      );
    return cases.length;
  });
}

/** Consensus jobs still to run or running, and those that failed for good (with their errors). */
export function consensusJobState(db: Db): Promise<{ open: number; failed: number; errors: string[] }> {
  return countJobsWithKeyPrefix(db, CONSENSUS_JOB_PREFIX);
}
