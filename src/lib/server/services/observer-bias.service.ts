import { linearRegression } from '../../core/stats/correlation';
import { summarise } from '../../core/stats/descriptive';
import { studentTQuantile } from '../../core/stats/distributions';
import type { Db } from '../db/connection';
import {
  findObserverVolumes,
  type ObserverVolumeFilter,
  type ObserverVolumeRow,
} from '../repositories/observer-bias.repository';
import { groupBy, round } from './analytics-values';

export type { ObserverVolumeFilter } from '../repositories/observer-bias.repository';

/** 97.5th percentile of the standard normal as Bland and Altman round it for 95% limits. */
const LIMITS_Z = 1.96;

export const BLAND_ALTMAN_METHOD =
  'Bland-Altman (Bland and Altman 1986) per structure: for every case an observer drew, x = (observer + consensus) / 2 and y = observer − consensus, volumes in cc; bias = mean of y, 95% limits of agreement = bias ± 1.96 SD (n − 1) of y, 95% CI of the bias = bias ± t(0.975, n − 1) SD / √n; in % the same on 100 (observer − consensus) / consensus per case; a case where the observer or the consensus has no structure is left out and counted as excluded';

export const PROPORTIONAL_BIAS_METHOD =
  'proportional bias: least-squares slope of y on x over every observer of the structure, 95% CI (Student t, n − 2 df); a slope whose CI excludes 0 means the difference grows with the volume and one bias does not describe it (Bland and Altman 1999)';

export const VOLUME_CAVEAT =
  "The consensus is STAPLE of these same observers, so each observer's differences are smaller than against an independent reference, and an observer who pulls the consensus towards themselves looks less biased than they are. The limits assume the differences are roughly normal and do not depend on the volume.";

/** Mean difference and 95% limits of agreement of paired differences. */
export interface LimitsOfAgreement {
  n: number;
  bias: number;
  /** sample SD (n − 1) of the differences, null below 2 */
  sd: number | null;
  lower: number | null;
  upper: number | null;
  /** 95% CI of the bias (Student t), null below 2 */
  biasCi: [number, number] | null;
}

/**
 * The Bland-Altman summary of paired differences: bias = mean, limits = bias ± 1.96 SD (n − 1), CI of the
 * bias = bias ± t(0.975, n − 1) SD / √n. Null for no differences; SD, limits and CI are null for one.
 */
export function limitsOfAgreement(differences: readonly number[]): LimitsOfAgreement | null {
  const summary = summarise(differences);
  if (summary.mean === null) return null;
  const bias = summary.mean;
  const sd = summary.sd;
  if (sd === null) return { n: summary.n, bias, sd: null, lower: null, upper: null, biasCi: null };
  const halfCi = (studentTQuantile(0.975, summary.n - 1) * sd) / Math.sqrt(summary.n);
  return {
    n: summary.n,
    bias,
    sd,
    lower: bias - LIMITS_Z * sd,
    upper: bias + LIMITS_Z * sd,
    biasCi: [bias - halfCi, bias + halfCi],
  };
}

/** The rows that enter the statistics: both the observer and the consensus drew the structure. */
function usable(row: ObserverVolumeRow): boolean {
  return !row.observerEmpty && !row.consensusEmpty && row.consensusVolumeCc > 0;
}

function agreement(rows: readonly ObserverVolumeRow[]) {
  const kept = rows.filter(usable);
  return {
    cases: kept.length,
    excluded: rows.length - kept.length,
    cc: limitsOfAgreement(kept.map((r) => r.observerVolumeCc - r.consensusVolumeCc)),
    pct: limitsOfAgreement(
      kept.map((r) => (100 * (r.observerVolumeCc - r.consensusVolumeCc)) / r.consensusVolumeCc),
    ),
    meanConsensusVolumeCc: summarise(kept.map((r) => r.consensusVolumeCc)).mean,
  };
}

function proportionalBias(rows: readonly ObserverVolumeRow[]) {
  const kept = rows.filter(usable);
  const x = kept.map((r) => (r.observerVolumeCc + r.consensusVolumeCc) / 2);
  const y = kept.map((r) => r.observerVolumeCc - r.consensusVolumeCc);
  // a regression needs three points that are not all at one volume
  if (kept.length < 3 || x.every((v) => v === x[0])) return null;
  const fit = linearRegression(x, y);
  return { n: fit.n, slope: fit.slope, slopeCi: fit.slopeCi, slopeP: fit.slopeP, intercept: fit.intercept };
}

/**
 * Volume agreement of each observer with the STAPLE consensus, per structure: Bland-Altman bias and 95%
 * limits of agreement in cc and in % of the consensus volume, per observer and over every observer, with a
 * check for proportional bias (see BLAND_ALTMAN_METHOD). `pointStructures` limits which structures carry
 * their (observer, case) volume pairs for plotting (every structure when omitted); the statistics cover
 * every structure of the filter.
 */
export async function observerVolumeAgreement(
  db: Db,
  filter: ObserverVolumeFilter,
  options: { pointStructures?: readonly string[] } = {},
) {
  const rows = await findObserverVolumes(db, filter);
  const byStructure = groupBy(rows, (r) => r.structure);
  const withPoints = (structure: string) =>
    options.pointStructures === undefined || options.pointStructures.includes(structure);

  return {
    tests: { blandAltman: BLAND_ALTMAN_METHOD, proportionalBias: PROPORTIONAL_BIAS_METHOD },
    caveat: VOLUME_CAVEAT,
    structures: [...byStructure.keys()].sort().map((structure) => {
      const structureRows = byStructure.get(structure)!;
      const byObserver = groupBy(structureRows, (r) => r.observer);
      const observers = [...byObserver.keys()].sort();
      return {
        structure,
        overall: agreement(structureRows),
        proportionalBias: proportionalBias(structureRows),
        observers: observers.map((observer) => {
          const observerRows = byObserver.get(observer)!;
          return {
            observer,
            sites: [...new Set(observerRows.map((r) => r.site))].sort(),
            ...agreement(observerRows),
          };
        }),
        // columnar and rounded to a cubic millimetre: a few thousand points stay a light page
        points: withPoints(structure)
          ? observers.map((observer) => {
              const kept = byObserver.get(observer)!.filter(usable);
              return {
                observer,
                cases: kept.map((r) => r.casePseudonym),
                observerVolumeCc: kept.map((r) => round(r.observerVolumeCc, 3)!),
                consensusVolumeCc: kept.map((r) => round(r.consensusVolumeCc, 3)!),
              };
            })
          : null,
      };
    }),
  };
}
