import { metricDefinitionVersion } from './metric-set';

/**
 * The stored metrics analytics can select, each with its unit, direction and the definition it was
 * computed by (DESIGN.md "Metric definitions"; the definition version is stored with every row). Names
 * are the API's: a tolerance-dependent metric carries its tolerance (surface_dice_2mm).
 */
export interface MetricDefinition {
  name: string;
  label: string;
  /** '' for ratios in [0, 1] */
  unit: string;
  better: 'higher' | 'lower' | 'closer-to-zero';
  /** how the value was computed */
  definition: string;
  /** the stored column, and for per-tolerance columns the tolerance in mm */
  column: MetricColumn;
  toleranceMm?: number;
  /** for a JSON column keyed by name (dose_delta): the key, and whether the value is taken as |x| */
  jsonKey?: string;
  absolute?: boolean;
  /** distances are +∞ when the test structure is missing; ratios are 0 */
  missedValue: number | null;
}

export type MetricColumn =
  | 'dice'
  | 'jaccard'
  | 'sensitivity'
  | 'precision'
  | 'hd95_mm'
  | 'hd_max_mm'
  | 'hd95_voxel_centre_mm'
  | 'msd_mean_mm'
  | 'assd_mm'
  | 'volume_diff_pct'
  | 'volume_diff_cc'
  | 'centroid_shift_mm'
  | 'surface_dice'
  | 'apl_contour_mm'
  | 'apl_pixel_mm'
  | 'dose_delta';

const hd95 =
  'maximum of the two directed 95th percentiles of surface distance, surface elements at voxel corners weighted by area, nearest rank (DeepMind surface-distance convention)';

const definitions: MetricDefinition[] = [
  {
    name: 'dice',
    label: 'Dice similarity coefficient',
    unit: '',
    better: 'higher',
    definition: 'DSC = 2|R∩T| / (|R| + |T|) over voxels; 0 when the test structure is missing',
    column: 'dice',
    missedValue: 0,
  },
  {
    name: 'jaccard',
    label: 'Jaccard index',
    unit: '',
    better: 'higher',
    definition: 'J = |R∩T| / |R∪T| over voxels',
    column: 'jaccard',
    missedValue: 0,
  },
  {
    name: 'sensitivity',
    label: 'Sensitivity',
    unit: '',
    better: 'higher',
    definition: '|R∩T| / |R|: the fraction of the reference covered by the test',
    column: 'sensitivity',
    missedValue: 0,
  },
  {
    name: 'precision',
    label: 'Precision',
    unit: '',
    better: 'higher',
    definition: '|R∩T| / |T|: the fraction of the test inside the reference; undefined when T is empty',
    column: 'precision',
    missedValue: null,
  },
  {
    name: 'hd95_mm',
    label: 'HD95',
    unit: 'mm',
    better: 'lower',
    definition: hd95,
    column: 'hd95_mm',
    missedValue: Infinity,
  },
  {
    name: 'hd_max_mm',
    label: 'Hausdorff distance',
    unit: 'mm',
    better: 'lower',
    definition: 'maximum surface distance in either direction (the 100th percentile of the HD95 definition)',
    column: 'hd_max_mm',
    missedValue: Infinity,
  },
  {
    name: 'hd95_voxel_centre_mm',
    label: 'HD95 (voxel-centre)',
    unit: 'mm',
    better: 'lower',
    definition:
      'maximum of the two directed 95th percentiles between face-connected surface voxel centres, linear percentile (MONAI, MetricsReloaded convention)',
    column: 'hd95_voxel_centre_mm',
    missedValue: Infinity,
  },
  {
    name: 'msd_mean_mm',
    label: 'Mean surface distance',
    unit: 'mm',
    better: 'lower',
    definition: 'average of the two directed area-weighted mean surface distances',
    column: 'msd_mean_mm',
    missedValue: Infinity,
  },
  {
    name: 'assd_mm',
    label: 'ASSD',
    unit: 'mm',
    better: 'lower',
    definition: 'average symmetric surface distance: both directions pooled, weighted by surface area',
    column: 'assd_mm',
    missedValue: Infinity,
  },
  {
    name: 'volume_diff_pct',
    label: 'Volume difference',
    unit: '%',
    better: 'closer-to-zero',
    definition: '100 (|T| - |R|) / |R| in volume',
    column: 'volume_diff_pct',
    missedValue: -100,
  },
  {
    name: 'volume_diff_cc',
    label: 'Volume difference',
    unit: 'cc',
    better: 'closer-to-zero',
    definition: '|T| - |R| in cc',
    column: 'volume_diff_cc',
    missedValue: null,
  },
  {
    name: 'centroid_shift_mm',
    label: 'Centroid shift',
    unit: 'mm',
    better: 'lower',
    definition: 'Euclidean distance between the centroids of R and T in patient coordinates',
    column: 'centroid_shift_mm',
    missedValue: Infinity,
  },
  ...[1, 2, 3].map((tau): MetricDefinition => ({
    name: `surface_dice_${tau}mm`,
    label: `Surface Dice at ${tau} mm`,
    unit: '',
    better: 'higher',
    definition: `(area of R within ${tau} mm of T + area of T within ${tau} mm of R) / (area R + area T), surface elements at voxel corners, d ≤ ${tau} mm counts as within`,
    column: 'surface_dice',
    toleranceMm: tau,
    missedValue: 0,
  })),
  ...[0, 1, 2, 3].map((tau): MetricDefinition => ({
    name: `apl_${tau}mm`,
    label: `Added path length at ${tau} mm`,
    unit: 'mm',
    better: 'lower',
    definition: `reference boundary length (marching-squares contour per axial slice) farther than ${tau} mm in-plane from the test boundary, summed over slices (Vaassen 2020); d = ${tau} mm is not added`,
    column: 'apl_contour_mm',
    toleranceMm: tau,
    // the whole reference boundary is added and stored as such
    missedValue: null,
  })),
  ...doseDeltaDefinitions(),
];

/**
 * Dose consequences of a contour difference: a dose metric of the test contour minus the same metric of
 * the reference contour, both from the case's planned dose resampled to the CT grid (core/dose). Signed
 * (test - reference) and absolute; Gy for doses, percentage points of the structure volume for V metrics.
 * Each structure has the metrics its plan is judged by (core/dose/dose-metrics.ts); a structure without
 * one has no value. No value either when the case has no dose or either contour is empty.
 */
function doseDeltaDefinitions(): MetricDefinition[] {
  const metrics: Array<{ key: string; slug: string; label: string; unit: string }> = [
    { key: 'Dmean', slug: 'dmean', label: 'mean dose', unit: 'Gy' },
    { key: 'Dmax', slug: 'dmax', label: 'maximum dose', unit: 'Gy' },
    { key: 'D95%', slug: 'd95', label: 'D95%', unit: 'Gy' },
    { key: 'D2%', slug: 'd2', label: 'D2%', unit: 'Gy' },
    { key: 'V20Gy', slug: 'v20gy', label: 'V20Gy', unit: '%' },
    { key: 'V5Gy', slug: 'v5gy', label: 'V5Gy', unit: '%' },
  ];
  return metrics.flatMap(({ key, slug, label, unit }) => {
    const suffix = unit === 'Gy' ? 'gy' : 'pct';
    const what = `${label} of the test contour minus that of the reference contour, on the case's planned dose`;
    return [
      {
        name: `dose_${slug}_delta_${suffix}`,
        label: `Δ ${label}`,
        unit,
        better: 'closer-to-zero',
        definition: what,
        column: 'dose_delta',
        jsonKey: key,
        missedValue: null,
      },
      {
        name: `dose_${slug}_absdelta_${suffix}`,
        label: `|Δ ${label}|`,
        unit,
        better: 'lower',
        definition: `|${what}|`,
        column: 'dose_delta',
        jsonKey: key,
        absolute: true,
        missedValue: null,
      },
    ];
  });
}

export const metricCatalogue: ReadonlyMap<string, MetricDefinition> = new Map(
  definitions.map((d) => [d.name, d]),
);

export const metricNames = definitions.map((d) => d.name);

/** The definition of a metric name, or a RangeError listing the names there are. */
export function metricDefinition(name: string): MetricDefinition {
  const found = metricCatalogue.get(name);
  if (found === undefined)
    throw new RangeError(`unknown metric "${name}": expected one of ${metricNames.join(', ')}`);
  return found;
}

/** What an API response says about the metric it reports. */
export function describeMetric(d: MetricDefinition) {
  return {
    name: d.name,
    label: d.label,
    unit: d.unit,
    better: d.better,
    definition: d.definition,
    definitionVersion: metricDefinitionVersion,
    missedStructure:
      d.missedValue === null
        ? 'undefined when the test structure is missing; counted as missed'
        : d.missedValue === Infinity
          ? '+∞ when the test structure is missing: ranked worst by rank tests, reported as missed'
          : `${d.missedValue} when the test structure is missing`,
  };
}

/**
 * A value as analytics uses it: the stored value, or for a missed structure (reference drawn, test
 * empty) the metric's missed value; null when undefined (both empty).
 */
export function analysisValue(
  d: MetricDefinition,
  stored: number | null,
  referenceEmpty: boolean,
  testEmpty: boolean,
): number | null {
  if (referenceEmpty) return null;
  if (testEmpty) return d.missedValue;
  return stored;
}

/** +1 when larger values are better, -1 when smaller are, 0 when closeness to zero is (use |x|). */
export function betterSign(d: MetricDefinition): 1 | -1 {
  return d.better === 'higher' ? 1 : -1;
}
