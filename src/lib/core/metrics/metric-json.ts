import type { ByTolerance, MetricResult } from './metric-set';

/** JSON value of a number: +Infinity as the string "Infinity", NaN and undefined as null. */
export type JsonNumber = number | 'Infinity' | '-Infinity' | null;

export function jsonNumber(value: number | null | undefined): JsonNumber {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

/** A tolerance as a JSON key: "1", "2.5". */
export function toleranceKey(toleranceMm: number): string {
  return String(toleranceMm);
}

function byTolerance(values: ByTolerance): Record<string, JsonNumber> {
  return Object.fromEntries(
    values.tolerancesMm.map((tau, t) => [toleranceKey(tau), jsonNumber(values.values[t])]),
  );
}

function perTolerance(tolerancesMm: number[], values: number[]): Record<string, JsonNumber> {
  return Object.fromEntries(tolerancesMm.map((tau, t) => [toleranceKey(tau), jsonNumber(values[t])]));
}

/**
 * The metric result as JSON with the names, nesting and units of the reference implementation's output
 * (snake_case, "Infinity" for +∞, null for undefined), plus ContourBench's additional metrics.
 */
export function metricsToJson(result: MetricResult) {
  const apl = result.apl;
  const vc = result.voxelCentre;
  return {
    definition_version: result.parameters.definitionVersion,
    parameters: {
      surface_dice_tolerances_mm: result.parameters.surfaceDiceTolerancesMm,
      apl_tolerances_mm: result.parameters.aplTolerancesMm,
      spacing_mm: result.parameters.spacingMm,
      surface_model: result.parameters.surfaceModel,
      hd95: result.parameters.hd95,
      apl: result.parameters.apl,
      voxel_centre: result.parameters.voxelCentre,
    },
    shape: result.dims,
    spacing_mm: result.spacingMm,
    voxels_ref: result.voxelsReference,
    voxels_test: result.voxelsTest,
    voxels_intersection: result.voxelsIntersection,
    volume_ref_cc: result.volumeReferenceCc,
    volume_test_cc: result.volumeTestCc,
    volume_diff_cc: result.volumeDiffCc,
    volume_diff_pct: jsonNumber(result.volumeDiffPct),
    dice: jsonNumber(result.dice),
    jaccard: jsonNumber(result.jaccard),
    sensitivity: jsonNumber(result.sensitivity),
    precision: jsonNumber(result.precision),
    detected: result.detected,
    reference_empty: result.referenceEmpty,
    test_empty: result.testEmpty,
    surface_area_ref_mm2: result.surfaceAreaReferenceMm2,
    surface_area_test_mm2: result.surfaceAreaTestMm2,
    n_surfels_ref: result.surfelsReference,
    n_surfels_test: result.surfelsTest,
    hd95_mm: jsonNumber(result.hd95Mm),
    hd_max_mm: jsonNumber(result.hdMaxMm),
    hd95_ref_to_test_mm: jsonNumber(result.hd95ReferenceToTestMm),
    hd95_test_to_ref_mm: jsonNumber(result.hd95TestToReferenceMm),
    msd_ref_to_test_mm: jsonNumber(result.msdReferenceToTestMm),
    msd_test_to_ref_mm: jsonNumber(result.msdTestToReferenceMm),
    msd_mean_mm: jsonNumber(result.msdMeanMm),
    assd_mm: jsonNumber(result.assdMm),
    surface_dice: byTolerance(result.surfaceDice),
    apl: {
      apl_pixel_mm: perTolerance(apl.tolerancesMm, apl.pixelMm),
      apl_contour_mm: perTolerance(apl.tolerancesMm, apl.contourMm),
      ref_boundary_length_pixel_mm: apl.referenceBoundaryPixelLengthMm,
      ref_contour_length_mm: apl.referenceContourLengthMm,
      n_slices_ref: apl.referenceSlices,
      n_slices_with_added_pixel: perTolerance(apl.tolerancesMm, apl.slicesWithAddedPixel),
      slice_axis: 2,
      pixel_len_mm: apl.pixelLengthMm,
    },
    alt_voxel_centre:
      vc === null
        ? { note: 'undefined (empty mask)' }
        : {
            n_surface_voxels_ref: vc.surfaceVoxelsReference,
            n_surface_voxels_test: vc.surfaceVoxelsTest,
            hd_max_mm: jsonNumber(vc.hdMaxMm),
            hd95_mm: jsonNumber(vc.hd95Mm),
            hd95_ref_to_test_mm: jsonNumber(vc.hd95ReferenceToTestMm),
            hd95_test_to_ref_mm: jsonNumber(vc.hd95TestToReferenceMm),
            hd95_pooled_mm: jsonNumber(vc.hd95PooledMm),
            hd95_directed_mean_mm: jsonNumber(vc.hd95DirectedMeanMm),
            msd_ref_to_test_mm: jsonNumber(vc.msdReferenceToTestMm),
            msd_test_to_ref_mm: jsonNumber(vc.msdTestToReferenceMm),
            msd_mean_mm: jsonNumber(vc.msdMeanMm),
            assd_pooled_mm: jsonNumber(vc.assdPooledMm),
            surface_dice_count: byTolerance(vc.surfaceDiceCount),
          },
    centroid_shift_mm: jsonNumber(result.centroidShiftMm),
    centroid_shift_lps_mm: result.centroidShiftLpsMm,
    cranial_extent_error_mm: jsonNumber(result.cranialExtentErrorMm),
    caudal_extent_error_mm: jsonNumber(result.caudalExtentErrorMm),
  };
}

export type MetricJson = ReturnType<typeof metricsToJson>;
