import type { Insertable, Kysely, Transaction } from 'kysely';
import { toleranceKey } from '../../core/metrics/metric-json';
import type { ByTolerance, MetricResult } from '../../core/metrics/metric-set';
import { voxelVolumeMm3 } from '../../core/volume/volume';
import type { Database, MetricTable } from '../db/schema';

type Db = Kysely<Database> | Transaction<Database>;

export interface MetricKey {
  caseId: number;
  referenceSetId: number;
  testSetId: number;
  structureId: number;
  evaluationRunId: number | null;
}

/** Per-tolerance values as {"1": 0.93, ...}; these are finite or undefined (null), never infinite. */
function byTolerance(
  tolerancesMm: readonly number[],
  values: readonly (number | null)[],
): Record<string, number | null> {
  return Object.fromEntries(
    tolerancesMm.map((tau, t) => {
      const value = values[t];
      return [
        toleranceKey(tau),
        value === null || value === undefined || !Number.isFinite(value) ? null : value,
      ];
    }),
  );
}

function fromByTolerance(values: ByTolerance) {
  return byTolerance(values.tolerancesMm, values.values);
}

/** The metric row of one result: every field of the engine, its definition version and parameters. */
export function metricRow(key: MetricKey, result: MetricResult): Insertable<MetricTable> {
  const vc = result.voxelCentre;
  const p = result.parameters;
  return {
    case_id: key.caseId,
    reference_set_id: key.referenceSetId,
    test_set_id: key.testSetId,
    structure_id: key.structureId,
    evaluation_run_id: key.evaluationRunId,
    definition_version: p.definitionVersion,
    parameters: {
      spacing_mm: p.spacingMm,
      surface_dice_tolerances_mm: p.surfaceDiceTolerancesMm,
      apl_tolerances_mm: p.aplTolerancesMm,
      surface_model: p.surfaceModel,
      hd95: p.hd95,
      apl: p.apl,
      voxel_centre: p.voxelCentre,
    },
    reference_empty: result.referenceEmpty,
    test_empty: result.testEmpty,
    detected: result.detected,
    reference_volume_cc: result.volumeReferenceCc,
    test_volume_cc: result.volumeTestCc,
    intersection_volume_cc: (result.voxelsIntersection * voxelVolumeMm3(result.spacingMm)) / 1000,
    volume_diff_cc: result.volumeDiffCc,
    volume_diff_pct: result.volumeDiffPct,
    dice: result.dice,
    jaccard: result.jaccard,
    sensitivity: result.sensitivity,
    precision: result.precision,
    hd95_mm: result.hd95Mm,
    hd_max_mm: result.hdMaxMm,
    hd95_ref_to_test_mm: result.hd95ReferenceToTestMm,
    hd95_test_to_ref_mm: result.hd95TestToReferenceMm,
    hd95_pooled_mm: vc?.hd95PooledMm ?? null,
    hd95_directed_mean_mm: vc?.hd95DirectedMeanMm ?? null,
    hd95_voxel_centre_mm: vc?.hd95Mm ?? null,
    msd_ref_to_test_mm: result.msdReferenceToTestMm,
    msd_test_to_ref_mm: result.msdTestToReferenceMm,
    msd_mean_mm: result.msdMeanMm,
    assd_mm: result.assdMm,
    surface_area_ref_mm2: result.surfaceAreaReferenceMm2,
    surface_area_test_mm2: result.surfaceAreaTestMm2,
    surface_dice: fromByTolerance(result.surfaceDice),
    apl_pixel_mm: byTolerance(result.apl.tolerancesMm, result.apl.pixelMm),
    apl_contour_mm: byTolerance(result.apl.tolerancesMm, result.apl.contourMm),
    // per tolerance, the pixel-model APL of each axial slice k (what editing-time models use)
    apl_slices: Object.fromEntries(
      result.apl.tolerancesMm.map((tau, t) => [
        toleranceKey(tau),
        Array.from(result.apl.pixelMmBySlice[t] ?? []),
      ]),
    ),
    centroid_shift_mm: result.centroidShiftMm,
    centroid_shift_lps_mm: result.centroidShiftLpsMm === null ? null : [...result.centroidShiftLpsMm],
    cranial_extent_error_mm: result.cranialExtentErrorMm,
    caudal_extent_error_mm: result.caudalExtentErrorMm,
  };
}

/** Stores one metric row, replacing the row of the same natural key (reference set, test set, structure, definition). */
export async function upsertMetric(db: Db, key: MetricKey, result: MetricResult): Promise<void> {
  const row = metricRow(key, result);
  const { reference_set_id: _r, test_set_id: _t, structure_id: _s, definition_version: _d, ...update } = row;
  await db
    .insertInto('metric')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['reference_set_id', 'test_set_id', 'structure_id', 'definition_version'])
        .doUpdateSet({ ...update, computed_at: new Date() }),
    )
    .execute();
}

/**
 * The added path length (marching-squares contour model, mm, at tolerance `toleranceMm`) of every metric row
 * whose test set is `testSetId`, by reference set and structure.
 */
export async function findAddedPathLengths(
  db: Db,
  testSetId: number,
  toleranceMm: number,
): Promise<Array<{ referenceSetId: number; structure: string; aplMm: number | null }>> {
  const rows = await db
    .selectFrom('metric')
    .innerJoin('structure', 'structure.id', 'metric.structure_id')
    .select(['metric.reference_set_id', 'structure.tg263_name', 'metric.apl_contour_mm'])
    .where('metric.test_set_id', '=', testSetId)
    .execute();
  return rows.map((row) => {
    const value = (row.apl_contour_mm as Record<string, number | null>)[toleranceKey(toleranceMm)];
    return {
      referenceSetId: row.reference_set_id,
      structure: row.tg263_name,
      aplMm: typeof value === 'number' ? value : null,
    };
  });
}
