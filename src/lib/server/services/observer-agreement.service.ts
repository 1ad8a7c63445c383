import { describeMetric, metricDefinition, type MetricDefinition } from '../../core/metrics/metric-catalogue';
import { quantileSorted } from '../../core/stats/descriptive';
import { rankableValues, sortedWithMissed, summariseMetricSample } from '../../core/stats/metric-sample';

import { hodgesLehmann, wilcoxonSignedRank } from '../../core/stats/rank-tests';
import type { Db } from '../db/connection';
import {
  aggregateObserverPairs,
  aggregateRaterPerformance,
  findEnvelopeRows,
  type EnvelopeRow,
  type MetricRowFilter,
  type PairAggregateRow,
} from '../repositories/analytics.repository';
import { goodness, groupBy, round } from './analytics-values';

// the shift estimate carries the interval here; medians need none of their own
const noCi = { medianCi: false };

/** The metrics of the agreement matrices: overlap, boundary distance and boundary agreement. */
export const AGREEMENT_METRICS = ['dice', 'hd95_mm', 'surface_dice_2mm'] as const;

export type AgreementFilter = Pick<
  MetricRowFilter,
  'cohort' | 'structures' | 'sites' | 'observers' | 'models' | 'from' | 'to'
>;

/** One metric's quartiles of a pair aggregate. */
function quartiles(row: PairAggregateRow, i: number) {
  const q = row.quartiles[i];
  return {
    n: row.n[i]!,
    missed: row.missed,
    q1: q ? round(q[0]) : null,
    median: q ? round(q[1]) : null,
    q3: q ? round(q[2]) : null,
  };
}

export const ENVELOPE_TEST =
  'per case, the model against the worst observer (both measured against the STAPLE consensus): Wilcoxon signed-rank of the paired differences, two-sided, alpha 0.05, Hodges-Lehmann shift with 95% CI; "outside" when the model is significantly worse than the worst observer, "within" otherwise; fewer than 6 cases cannot reach p < 0.05 and are reported as "too few cases"';

/**
 * Inter-observer agreement of a cohort: per structure, the matrix of every pair of observers (median and
 * quartiles of Dice, HD95 and surface Dice at 2 mm over the cases both drew), each observer against the
 * STAPLE consensus (the same metrics plus STAPLE's sensitivity and specificity), and the human envelope
 * of each model (see ENVELOPE_TEST).
 */
export async function observerAgreement(db: Db, filter: AgreementFilter) {
  const metrics = AGREEMENT_METRICS.map(metricDefinition);
  // a model filter chooses whose envelope is shown; the physicians' rows never belong to a model
  const { models, ...observersFilter } = filter;
  const [aggregates, raters, allEnvelopeRows] = await Promise.all([
    aggregateObserverPairs(db, metrics, observersFilter),
    aggregateRaterPerformance(db, observersFilter),
    findEnvelopeRows(db, metrics, observersFilter),
  ]);
  const envelopeRows = models?.length
    ? allEnvelopeRows.filter((r) =>
        models.some(
          (m) =>
            r.model === `${m.name}@${m.version}` ||
            (m.version === undefined && r.model.startsWith(`${m.name}@`)),
        ),
      )
    : allEnvelopeRows;
  const structures = [...new Set(aggregates.map((r) => r.structure))].sort();
  const rowsByStructure = groupBy(envelopeRows, (r) => r.structure);
  const metricQuartiles = (row: PairAggregateRow) =>
    Object.fromEntries(metrics.map((m, i) => [m.name, quartiles(row, i)])) as Record<
      (typeof AGREEMENT_METRICS)[number],
      ReturnType<typeof quartiles>
    >;

  return {
    metrics: metrics.map(describeMetric),
    tests: {
      pairwise: 'median and quartiles (percentile_cont) over the cases both observers drew',
      consensus:
        'STAPLE (Warfield 2004) of every physician of the case; sensitivity and specificity are medians of the per-case STAPLE estimates',
      envelope: ENVELOPE_TEST,
    },
    caveat:
      'The observers contributed to the consensus and the model did not, so distances to the consensus favour the observers.',
    structures: structures.map((structure) => {
      const pairRows = aggregates.filter(
        (r) => r.structure === structure && r.referenceSource === 'physician',
      );
      const observers = [
        ...new Set(
          pairRows
            .flatMap((r) => [r.referenceObserver!, r.testObserver!])
            .concat(
              aggregates
                .filter((r) => r.structure === structure && r.referenceSource === 'consensus')
                .map((r) => r.testObserver!),
            ),
        ),
      ].sort();
      return {
        structure,
        observers,
        pairwise: pairRows.map((r) => ({
          observerA: r.referenceObserver,
          observerB: r.testObserver,
          ...metricQuartiles(r),
        })),
        againstConsensus: aggregates
          .filter((r) => r.structure === structure && r.referenceSource === 'consensus')
          .map((r) => {
            const staple = raters.find((p) => p.structure === structure && p.observer === r.testObserver);
            return {
              observer: r.testObserver,
              ...metricQuartiles(r),
              staple:
                staple === undefined
                  ? null
                  : {
                      cases: staple.cases,
                      sensitivityMedian: round(staple.sensitivityMedian),
                      specificityMedian: round(staple.specificityMedian),
                      converged: staple.converged,
                    },
            };
          }),
        envelope: humanEnvelope(metrics, rowsByStructure.get(structure) ?? []),
      };
    }),
  };
}

/** The envelope of every model found among a structure's rows against the consensus, per metric. */
function humanEnvelope(metrics: readonly MetricDefinition[], rows: readonly EnvelopeRow[]) {
  const byModel = groupBy(rows, (r) => r.model);
  return [...byModel.keys()].sort().map((model) => ({
    model,
    metrics: Object.fromEntries(
      metrics.map((metric, i) => {
        const modelValues: number[] = [];
        const worstValues: number[] = [];
        const observerMedians: number[] = [];
        for (const row of byModel.get(model)!) {
          const value = row.modelValues[i];
          const observers = row.observerValues.map((o) => o[i]).filter((v): v is number => v != null);
          if (value === null || value === undefined || observers.length < 2) continue;
          modelValues.push(value);
          // the worst observer of the case: the lowest goodness
          worstValues.push(observers.reduce((a, b) => (goodness(metric, b) < goodness(metric, a) ? b : a)));
          observerMedians.push(quantileSorted(sortedWithMissed(observers), 0.5));
        }
        return [metric.name, envelopeVerdict(metric, modelValues, worstValues, observerMedians)];
      }),
    ),
  }));
}

function envelopeVerdict(
  metric: MetricDefinition,
  modelValues: number[],
  worstValues: number[],
  observerMedians: number[],
) {
  const n = modelValues.length;
  const a = rankableValues(modelValues, worstValues);
  const b = rankableValues(worstValues, modelValues);
  // positive when the model is better than the worst observer on that case, whatever the metric's direction
  const gains = a.map((v, i) => goodness(metric, v) - goodness(metric, b[i]!));
  const base = {
    cases: n,
    model: summariseMetricSample(modelValues, noCi),
    worstObserver: summariseMetricSample(worstValues, noCi),
    medianObserver: summariseMetricSample(observerMedians, noCi),
    casesAtLeastAsGoodAsWorstObserver: gains.filter((g) => g >= 0).length,
  };
  if (n < 6) return { ...base, test: null, verdict: 'too few cases' as const };
  if (gains.every((g) => g === 0)) return { ...base, test: null, verdict: 'within' as const };
  const test = wilcoxonSignedRank(gains);
  const finite = [...modelValues, ...worstValues].every(Number.isFinite);
  // model - worst observer in the metric's unit
  const shift = finite ? hodgesLehmann(modelValues, worstValues, { paired: true }) : null;
  const modelWorse = test.statistic < (test.n * (test.n + 1)) / 4;
  return {
    ...base,
    test: { ...test, shift },
    verdict: test.p < 0.05 && modelWorse ? ('outside' as const) : ('within' as const),
  };
}
