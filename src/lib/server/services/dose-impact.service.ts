import {
  DEFAULT_BREAST_DOSE_METRICS,
  parseDoseMetricList,
  resolveDoseMetrics,
} from '../../core/dose/dose-metrics';
import {
  describeMetric,
  metricCatalogue,
  metricDefinition,
  type MetricDefinition,
} from '../../core/metrics/metric-catalogue';
import { spearman } from '../../core/stats/correlation';
import { summarise } from '../../core/stats/descriptive';
import type { Db } from '../db/connection';
import {
  findMetricValues,
  type MetricRowFilter,
  type MetricValueRow,
} from '../repositories/analytics.repository';
import { findStructureDvhs } from '../repositories/dose-metric.repository';
import { groupBy, round, rowValue } from './analytics-values';
import { DOSE_METRIC_VERSION } from './dose-metric.service';

/** The |Δ| metrics of the catalogue's dose consequences, by the stored dose metric they subtract. */
const ABS_DELTA_METRICS: ReadonlyMap<string, MetricDefinition> = new Map(
  [...metricCatalogue.values()]
    .filter((d) => d.column === 'dose_delta' && d.absolute === true)
    .map((d) => [d.jsonKey!, d]),
);

const HD95 = metricDefinition('hd95_mm');
const ABS_DMEAN = metricDefinition('dose_dmean_absdelta_gy');

export type DoseImpactFilter = Pick<
  MetricRowFilter,
  'cohort' | 'structures' | 'sites' | 'observers' | 'models' | 'from' | 'to' | 'dateField'
>;

export interface DoseImpactQuestion {
  filter: DoseImpactFilter;
  /** a |Δ| within this counts as clinically equal: Gy for dose metrics */
  toleranceGy: number;
  /** the same for V metrics, in percentage points of the structure volume */
  tolerancePct: number;
  /** which dose metric each structure is judged by (dose-metrics list syntax); default the breast list */
  doseMetrics?: string;
}

/**
 * The dose metric a structure is judged by: the first entry of `list` (CONTOURBENCH_DOSE_METRICS, by
 * default DEFAULT_BREAST_DOSE_METRICS) whose
 * structure pattern names it on either side (a case's laterality decides whether Lung_L is the ipsilateral
 * lung, so across cases both readings count) and whose metric is stored as a dose consequence. D metrics
 * asked in % of the prescription are taken in Gy, the unit the consequences are stored in. Null when no
 * entry applies.
 */
export function judgedDoseMetric(
  structure: string,
  list: string = DEFAULT_BREAST_DOSE_METRICS,
): { metric: MetricDefinition; pattern: string } | null {
  for (const entry of parseDoseMetricList(list)) {
    const applies = (['left', 'right'] as const).some(
      (side) => resolveDoseMetrics([entry], [structure], side).metrics.length > 0,
    );
    if (!applies) continue;
    const key = entry.metric.text.replace(/\[[^\]]*\]$/, '');
    const metric = ABS_DELTA_METRICS.get(key);
    if (metric !== undefined) return { metric, pattern: `${entry.structure}:${entry.metric.text}` };
  }
  return null;
}

/** n, median, quartiles and maximum of |Δ|, and the share of values within the tolerance. */
function summariseDelta(values: readonly number[], tolerance: number) {
  const s = summarise(values);
  const within = values.filter((v) => v <= tolerance).length;
  return {
    n: s.n,
    median: round(s.median),
    q1: round(s.q1),
    q3: round(s.q3),
    max: round(s.max),
    withinTolerance: s.n === 0 ? null : round(within / s.n),
  };
}

type Row = MetricValueRow;

/** The finite values of metric i over rows, grouped by `key`, in key order. */
function groupedSummaries(
  rows: readonly Row[],
  metric: MetricDefinition,
  index: number,
  key: (row: Row) => string,
  tolerance: number,
) {
  const groups = groupBy(rows, key);
  return [...groups.keys()].sort().map((name) => {
    const values = groups
      .get(name)!
      .map((r) => rowValue(metric, r, index))
      .filter((v): v is number => v !== null && Number.isFinite(v));
    return { name, ...summariseDelta(values, tolerance) };
  });
}

/**
 * The dose consequence of contour differences against the STAPLE consensus: per structure, the |Δ| of the
 * dose metric the structure is judged by (judgedDoseMetric), summarised for each model version, each
 * physician and each site (model contours); and the relation between geometric and dosimetric
 * difference: HD95 against |Δ Dmean| of the model contours, with Spearman's rho per structure.
 */
export async function doseImpact(db: Db, question: DoseImpactQuestion) {
  const metrics = [...ABS_DELTA_METRICS.values(), HD95];
  const hd95Index = metrics.length - 1;
  const indexOf = (d: MetricDefinition) => metrics.indexOf(d);
  // physicians' sets carry no model version, so a model filter would select none of them
  const physicianFilter: DoseImpactFilter = { ...question.filter, models: undefined };
  const [modelRows, physicianRows] = await Promise.all([
    findMetricValues(db, metrics, { ...question.filter, testSource: 'model', referenceSource: 'consensus' }),
    findMetricValues(db, metrics, {
      ...physicianFilter,
      testSource: 'physician',
      referenceSource: 'consensus',
    }),
  ]);
  const structures = [...new Set([...modelRows, ...physicianRows].map((r) => r.structure))].sort();
  const modelsByStructure = groupBy(modelRows, (r) => r.structure);
  const physiciansByStructure = groupBy(physicianRows, (r) => r.structure);

  return {
    definitionVersion: DOSE_METRIC_VERSION,
    toleranceGy: question.toleranceGy,
    tolerancePct: question.tolerancePct,
    method:
      "Dose from each case's planned dose resampled to the CT grid (trilinear, at voxel centres); each dose metric is computed on the test contour and on the reference contour, Δ = test − reference. Reference: the case's STAPLE consensus of its physicians.",
    caveat:
      'The physicians contributed to the consensus and the models did not, so differences to the consensus favour the physicians.',
    correlationTest:
      "Spearman's rho of HD95 and |Δ Dmean| over the model contours against the consensus, two-sided p from the t approximation; needs 3 pairs with both values",
    structures: structures.map((structure) => {
      const judged = judgedDoseMetric(structure, question.doseMetrics);
      const modelsHere = modelsByStructure.get(structure) ?? [];
      const physiciansHere = physiciansByStructure.get(structure) ?? [];
      const within = (d: MetricDefinition) =>
        d.unit === 'Gy' ? question.toleranceGy : question.tolerancePct;
      const pairs: Array<[number, number]> = [];
      for (const row of modelsHere) {
        const x = rowValue(HD95, row, hd95Index);
        const y = rowValue(ABS_DMEAN, row, indexOf(ABS_DMEAN));
        if (x !== null && y !== null && Number.isFinite(x) && Number.isFinite(y)) pairs.push([x, y]);
      }
      const correlation =
        pairs.length < 3
          ? null
          : spearman(
              pairs.map((p) => p[0]),
              pairs.map((p) => p[1]),
            );
      return {
        structure,
        metric: judged === null ? null : describeMetric(judged.metric),
        judgedBy: judged?.pattern ?? null,
        tolerance: judged === null ? null : within(judged.metric),
        models:
          judged === null
            ? []
            : groupedSummaries(
                modelsHere,
                judged.metric,
                indexOf(judged.metric),
                (r) => r.model!,
                within(judged.metric),
              ),
        physicians:
          judged === null
            ? []
            : groupedSummaries(
                physiciansHere,
                judged.metric,
                indexOf(judged.metric),
                (r) => r.testObserver ?? '?',
                within(judged.metric),
              ),
        sites:
          judged === null
            ? []
            : groupedSummaries(
                modelsHere,
                judged.metric,
                indexOf(judged.metric),
                (r) => r.site,
                within(judged.metric),
              ),
        geometry: {
          hd95Mm: pairs.map((p) => p[0]),
          absDeltaDmeanGy: pairs.map((p) => p[1]),
          spearman:
            correlation === null ? null : { rho: round(correlation.rho), p: correlation.p, n: correlation.n },
        },
      };
    }),
  };
}

/**
 * The cumulative DVHs of one structure's contours of a case on the case's planned dose, one per contour
 * set, with the stored metrics (Gy; V metrics in % of the volume). The caller has checked access to the
 * case.
 */
export async function structureDvhs(db: Db, caseId: number, structureId: number) {
  const dvhs = await findStructureDvhs(db, caseId, structureId, DOSE_METRIC_VERSION);
  return dvhs.map((d) => ({
    contourSetId: d.contourSetId,
    structure: d.structure,
    volumeCc: d.volumeCc,
    metrics: { Dmean: d.values.Dmean ?? null, Dmax: d.values.Dmax ?? null, D95: d.values['D95%'] ?? null },
    binWidthGy: d.dvhBinWidthGy,
    cumulativePct: d.dvhCumulativePct,
  }));
}
