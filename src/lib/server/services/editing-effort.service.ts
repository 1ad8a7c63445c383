import { metricDefinitionVersion } from '../../core/metrics/metric-set';
import { linearRegression, spearman } from '../../core/stats/correlation';
import { summarise } from '../../core/stats/descriptive';
import { hodgesLehmann, mannWhitneyU } from '../../core/stats/rank-tests';
import type { Db } from '../db/connection';
import { findEditingEffort, type EditingEffortRow } from '../repositories/analytics.repository';
import { groupBy, type MetricRowFilter } from './analytics-values';

export const EDITING_TESTS = {
  regression:
    'ordinary least squares of active editing seconds on APL (mm) over the corrections of model contours, with 95% t intervals of intercept and slope',
  correlation: "Spearman's rho of editing seconds with APL and with surface Dice, t approximation for p",
  timeSaved:
    'manual contouring (from_scratch sessions) against corrections of model contours (editing_ai) of the same structure: medians and their difference, Hodges-Lehmann shift manual - corrected with its 95% CI, Mann-Whitney U two-sided',
};

export interface EditingOptions {
  filter: Pick<MetricRowFilter, 'structures' | 'sites' | 'observers' | 'cohort' | 'from' | 'to' | 'models'>;
  aplToleranceMm: number;
  surfaceDiceToleranceMm: number;
}

/** Manual against corrected times of one group of sessions. */
function timeSaved(sessions: readonly EditingEffortRow[]) {
  const manual = sessions.filter((s) => s.mode === 'from_scratch').map((s) => s.activeSeconds);
  const corrected = sessions.filter((s) => s.mode === 'editing_ai').map((s) => s.activeSeconds);
  const m = summarise(manual);
  const c = summarise(corrected);
  const both = manual.length > 0 && corrected.length > 0;
  const savedSeconds = both ? m.median! - c.median! : null;
  return {
    manualSessions: manual.length,
    correctedSessions: corrected.length,
    manualMedianSeconds: m.median,
    correctedMedianSeconds: c.median,
    savedMedianSeconds: savedSeconds,
    savedPercent: both && m.median! > 0 ? (100 * savedSeconds!) / m.median! : null,
    shift: both ? hodgesLehmann(manual, corrected, { paired: false }) : null,
    test: both && new Set([...manual, ...corrected]).size > 1 ? mannWhitneyU(manual, corrected) : null,
  };
}

/**
 * Editing effort per structure: how editing time follows APL (regression with CI, Spearman) and surface
 * Dice (Spearman) over corrections of model contours, and the time saved against contouring by hand per
 * structure, and per structure and site, and per structure and observer.
 */
export async function editingEffort(db: Db, options: EditingOptions) {
  const sessions = await findEditingEffort(db, options.filter, {
    aplMm: options.aplToleranceMm,
    surfaceDiceMm: options.surfaceDiceToleranceMm,
  });
  const byStructure = groupBy(sessions, (s) => s.structure);
  return {
    aplToleranceMm: options.aplToleranceMm,
    surfaceDiceToleranceMm: options.surfaceDiceToleranceMm,
    definitionVersion: metricDefinitionVersion,
    metrics: {
      apl: `added path length at ${options.aplToleranceMm} mm of the model contour against the corrected contour (marching-squares contours per axial slice, Vaassen 2020)`,
      surfaceDice: `surface Dice at ${options.surfaceDiceToleranceMm} mm of the model contour against the corrected contour`,
      time: 'active seconds of the editing session as logged',
    },
    tests: EDITING_TESTS,
    structures: [...byStructure.keys()].sort().map((structure) => {
      const list = byStructure.get(structure)!;
      const corrections = list.filter((s) => s.mode === 'editing_ai' && s.aplMm !== null);
      const seconds = corrections.map((s) => s.activeSeconds);
      const apl = corrections.map((s) => s.aplMm!);
      const withSdsc = corrections.filter((s) => s.surfaceDice !== null);
      let regression: ReturnType<typeof linearRegression> | null = null;
      let regressionNote: string | null = null;
      if (corrections.length < 3)
        regressionNote = `${corrections.length} corrections with an APL; a fit needs 3`;
      else if (new Set(apl).size < 2) regressionNote = 'every correction has the same APL';
      else regression = linearRegression(apl, seconds);
      return {
        structure,
        corrections: corrections.length,
        regression,
        regressionNote,
        points: corrections.map((s) => ({
          aplMm: s.aplMm,
          surfaceDice: s.surfaceDice,
          seconds: s.activeSeconds,
          site: s.site,
          observer: s.observer,
        })),
        spearmanApl: corrections.length >= 3 ? spearman(apl, seconds) : null,
        spearmanSurfaceDice:
          withSdsc.length >= 3
            ? spearman(
                withSdsc.map((s) => s.surfaceDice!),
                withSdsc.map((s) => s.activeSeconds),
              )
            : null,
        timeSaved: timeSaved(list),
        bySite: [...groupBy(list, (s) => s.site).entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([site, group]) => ({ site, ...timeSaved(group) })),
        byObserver: [...groupBy(list, (s) => s.observer).entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([observer, group]) => ({ observer, ...timeSaved(group) })),
      };
    }),
  };
}
