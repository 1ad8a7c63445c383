import { parseDoseMetric, evaluateDoseMetrics } from '../../core/dose/dose-metrics';
import { computeDvh } from '../../core/dose/dvh';
import { sampleDoseInMask } from '../../core/dose/resample-dose';
import { binaryMaskSummary } from '../../core/volume/crop';
import { AppError } from '../../core/errors';
import type { Db } from '../db/connection';
import {
  findDosedContours,
  refreshDoseDeltas,
  upsertDoseMetric,
  type DoseMetricValues,
} from '../repositories/dose-metric.repository';
import { findCaseImage } from '../repositories/evaluation.repository';
import { findCohortCasesWithQueue, findCohortId } from '../repositories/evaluation-run.repository';
import type { BlobStore } from '../storage/blob-store';
import { loadCaseDose } from './dose.service';
import { caseGrid } from './evaluation.service';

/** The version of how dose metrics are computed; stored with each, so a change computes them again. */
export const DOSE_METRIC_VERSION = 'contourbench-dose/1.0';

/**
 * The dose metrics stored for every contour, whatever its structure, in fixed units (Gy; V metrics in %
 * of the structure's volume; V95% and V107% of the prescription, null without one), so that any two
 * contours of a structure can be subtracted. Which of them a structure is judged by is a question of
 * presentation (core/dose/dose-metrics.ts, DEFAULT_BREAST_DOSE_METRICS).
 */
export const STORED_DOSE_METRICS = [
  'Dmean',
  'Dmax',
  'Dmin',
  'D0.03cc',
  'D2%',
  'D50%',
  'D95%',
  'D98%',
  'V5Gy',
  'V10Gy',
  'V20Gy',
  'V30Gy',
  'V95%',
  'V107%',
].map(parseDoseMetric);

/** The stored cumulative DVH's bin width: 0.1 Gy (the metrics use 0.01 Gy bins and exact means). */
export const STORED_DVH_BIN_GY = 0.1;
const DVH_BIN_GY = 0.01;

export interface CaseDoseSummary {
  caseId: number;
  doseGridId: number;
  /** contours whose dose metrics were computed now (new or changed masks) */
  computed: number;
  /** contours whose stored metrics were still current */
  current: number;
  /** metric rows of the case whose dose consequence was brought up to date */
  metricRows: number;
  computeMs: number;
}

/**
 * The dose each contour of a case receives on the case's planned dose (the dose resampled to the CT grid
 * by trilinear interpolation at voxel centres, each mask voxel weighing its CT voxel volume; core/dose),
 * stored per contour with its cumulative DVH, and then, beside every metric row of the case, the dose
 * consequence of the contour difference: each dose metric of the test contour minus the reference's.
 * Only contours without current metrics (a new or changed mask) are computed. Null when the case has no
 * dose.
 */
export async function computeCaseDoseMetrics(
  deps: { db: Db; blobs: BlobStore },
  caseId: number,
): Promise<CaseDoseSummary | null> {
  const { db, blobs } = deps;
  const started = performance.now();
  const dose = await loadCaseDose(deps, caseId);
  if (dose === undefined) return null;
  const image = await findCaseImage(db, caseId);
  if (image === undefined) return null;
  const grid = caseGrid(image);
  const contours = await findDosedContours(db, caseId, dose.doseGridId, DOSE_METRIC_VERSION);
  const stale = contours.filter((c) => c.storedMaskSha256 !== c.maskSha256);
  const buffer = new Float32Array(Math.max(1, ...stale.map((c) => c.voxelCount)));
  const rows: DoseMetricValues[] = [];
  for (const contour of stale) {
    const mask = { ...grid, data: await blobs.get(contour.maskSha256) };
    const sampled = sampleDoseInMask(dose.dose, mask, {
      summary: binaryMaskSummary(mask.data, grid.dims),
      buffer,
    });
    const dvh = computeDvh(sampled.doseGy, sampled.voxelCc, {
      binWidthGy: DVH_BIN_GY,
      outsideDoseGridVoxels: sampled.outsideVoxels,
    });
    const values = evaluateDoseMetrics(dvh, STORED_DOSE_METRICS, dose.prescriptionGy);
    const every = Math.round(STORED_DVH_BIN_GY / DVH_BIN_GY);
    const cumulative: number[] = [];
    for (let b = 0; b < dvh.cumulativePercent.length; b += every)
      cumulative.push(Math.round(dvh.cumulativePercent[b]! * 1e4) / 1e4);
    if (cumulative.length > 0 && cumulative.at(-1) !== 0) cumulative.push(0);
    rows.push({
      doseGridId: dose.doseGridId,
      contourSetId: contour.contourSetId,
      structureId: contour.structureId,
      maskSha256: contour.maskSha256,
      definitionVersion: DOSE_METRIC_VERSION,
      volumeCc: dvh.volumeCc,
      outsideDoseCc: dvh.outsideDoseGridVoxels * dvh.voxelCc,
      values: Object.fromEntries(values.map((v) => [v.metric.text, v.value])),
      dvhBinWidthGy: STORED_DVH_BIN_GY,
      dvhCumulativePct: cumulative,
    });
  }
  const metricRows = await db.transaction().execute(async (trx) => {
    for (const row of rows) await upsertDoseMetric(trx, row);
    return refreshDoseDeltas(trx, caseId, dose.doseGridId, DOSE_METRIC_VERSION);
  });
  return {
    caseId,
    doseGridId: dose.doseGridId,
    computed: rows.length,
    current: contours.length - rows.length,
    metricRows,
    computeMs: performance.now() - started,
  };
}

/** The dose metrics of every case of a cohort, one case after another; cases without a dose are skipped. */
export async function computeCohortDoseMetrics(
  deps: { db: Db; blobs: BlobStore },
  cohort: string,
  onCase?: (done: number, total: number, summary: CaseDoseSummary | null) => void,
): Promise<CaseDoseSummary[]> {
  const cohortId = await findCohortId(deps.db, cohort);
  if (cohortId === undefined) throw new AppError('NOT_FOUND', `no cohort named "${cohort}"`);
  const cases = await findCohortCasesWithQueue(deps.db, cohortId);
  const summaries: CaseDoseSummary[] = [];
  for (const [i, c] of cases.entries()) {
    const summary = await computeCaseDoseMetrics(deps, c.caseId);
    if (summary) summaries.push(summary);
    onCase?.(i + 1, cases.length, summary);
  }
  return summaries;
}
