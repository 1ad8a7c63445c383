import { AppError } from '../../core/errors';
import { analysisValue, type MetricDefinition } from '../../core/metrics/metric-catalogue';
import type { Db } from '../db/connection';
import {
  findAnalyticsOptions,
  findAnalyticsVersion,
  type MetricRowFilter,
  type MetricValueRow,
} from '../repositories/analytics.repository';

export type { MetricRowFilter, ModelFilter } from '../repositories/analytics.repository';

/** The i-th metric value of a row as analyses use it: missed structures get the metric's missed value. */
export function rowValue(d: MetricDefinition, row: MetricValueRow, i = 0): number | null {
  return analysisValue(d, row.values[i] ?? null, row.referenceEmpty, row.testEmpty);
}

/** How good a value is, larger is better: v, -v, or -|v| for metrics best at zero (volume difference). */
export function goodness(d: MetricDefinition, v: number): number {
  if (d.better === 'higher') return v;
  if (d.better === 'lower') return -v;
  return -Math.abs(v);
}

export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [item]);
    else list.push(item);
  }
  return groups;
}

/** Rounds for JSON without losing what matters (1e-6 of a Dice, a micrometre of a distance). */
export function round(value: number | null, digits = 6): number | null {
  if (value === null || !Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Which reference the models are measured against. */
export type ReferenceChoice =
  | { kind: 'consensus' }
  | { kind: 'physicians' }
  | { kind: 'observer'; code: string }
  /** the reference a frozen cohort version chose for each case and structure */
  | { kind: 'cohort_version'; cohort: string; version: number };

export function parseReference(text: string): ReferenceChoice {
  if (text === 'consensus') return { kind: 'consensus' };
  if (text === 'physicians') return { kind: 'physicians' };
  if (text.startsWith('observer:') && text.length > 9) return { kind: 'observer', code: text.slice(9) };
  const version = /^version:(.+)@([1-9][0-9]{0,8})$/.exec(text);
  if (version) return { kind: 'cohort_version', cohort: version[1]!, version: Number(version[2]) };
  throw new AppError(
    'INVALID_ARGUMENT',
    `reference "${text}": expected consensus, physicians, observer:CODE or version:COHORT@N`,
  );
}

export function describeReference(reference: ReferenceChoice): string {
  if (reference.kind === 'consensus') return "the case's STAPLE consensus";
  if (reference.kind === 'physicians')
    return "each physician of the case; a case's value is the mean over its physicians (+∞ if any is a miss)";
  if (reference.kind === 'cohort_version')
    return `the references of cohort "${reference.cohort}" version ${reference.version}`;
  return `observer ${reference.code}'s contours`;
}

/** The repository filter that selects the rows of a reference choice. */
export function referenceFilter(reference: ReferenceChoice): Partial<MetricRowFilter> {
  if (reference.kind === 'consensus') return { referenceSource: 'consensus' };
  if (reference.kind === 'physicians') return { referenceSource: 'physician' };
  if (reference.kind === 'cohort_version')
    return { cohortVersion: { cohort: reference.cohort, version: reference.version } };
  return { referenceSource: 'physician', referenceObservers: [reference.code] };
}

/**
 * One value per case, structure and subject (a model version, or "physicians" for every physician of
 * the case) under the reference choice: rows of several references or several physicians collapse to
 * their mean (a miss anywhere makes it +∞, so it ranks worst).
 */
export function caseValues(
  metric: MetricDefinition,
  rows: readonly MetricValueRow[],
  metricIndex: number,
): Map<string, { row: MetricValueRow; value: number | null }> {
  const out = new Map<string, { row: MetricValueRow; value: number | null }>();
  for (const [key, group] of groupBy(rows, (r) => `${r.caseId}|${r.structure}|${r.model ?? 'physicians'}`)) {
    const values = group.map((r) => rowValue(metric, r, metricIndex)).filter((v): v is number => v !== null);
    const value = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
    out.set(key, { row: group[0]!, value });
  }
  return out;
}

/** The version of the data analytics read; answers computed at one version stay valid until it changes. */
export function analyticsVersion(db: Db): Promise<number> {
  return findAnalyticsVersion(db);
}

/** What the dashboards' filters offer; only the given sites (null: every site). */
export async function analyticsOptions(db: Db, sites: readonly string[] | null) {
  const options = await findAnalyticsOptions(db);
  return sites === null ? options : { ...options, sites: options.sites.filter((s) => sites.includes(s)) };
}
