import { type Actor, audit } from './account.service';
import { AppError } from '../../core/errors';
import { describeMetric, metricDefinition } from '../../core/metrics/metric-catalogue';
import {
  cusumChart,
  ewmaChart,
  individualsChart,
  RULE_DESCRIPTIONS,
  westernElectricRules,
} from '../../core/stats/control-charts';
import type { Db } from '../db/connection';
import {
  acknowledgeAlarm,
  alarmExists,
  findAlarmSubjectIds,
  insertAlarms,
  listAlarms,
  type NewAlarm,
} from '../repositories/alarm.repository';
import { findMetricValues } from '../repositories/analytics.repository';
import { findUserId } from '../repositories/user.repository';
import {
  caseValues,
  describeReference,
  groupBy,
  referenceFilter,
  type MetricRowFilter,
  type ReferenceChoice,
} from './analytics-values';

export interface ChartSettings {
  /** the first `baselinePoints` points set the limits, unless a baseline date window is given */
  baselinePoints: number;
  baselineFrom?: string;
  baselineTo?: string;
  /** EWMA weight and limit width in sigmas */
  lambda: number;
  L: number;
  /** CUSUM reference value and decision interval in sigmas */
  k: number;
  h: number;
  /** WE4 run length (8, Western Electric; 9, Nelson) */
  runLength: number;
}

export const defaultChartSettings: ChartSettings = {
  baselinePoints: 20,
  lambda: 0.2,
  L: 3,
  k: 0.5,
  h: 5,
  runLength: 8,
};

/** Fewer baseline points than this give no limits: a sigma from 4 moving ranges means little. */
export const MIN_BASELINE_POINTS = 5;

export const DRIFT_METHOD =
  'one point per case in date order (the mean over its references); individuals chart with centre = baseline mean and sigma = mean moving range / 1.128, limits ±3 sigma; moving-range chart with upper limit 3.267 × mean moving range; EWMA and tabular CUSUM with the baseline centre and sigma; Western Electric rules 1 to 4 (WE4 with the configured run length; Nelson uses 9). A missed structure is no point on the chart and raises its own MISSED signal. Alarms are raised for signals after the baseline only, once per episode (the first point of consecutive signals of one rule), for every rule but MR';

export const RULE_TEXT: Record<string, string> = {
  WE1: RULE_DESCRIPTIONS[1],
  WE2: RULE_DESCRIPTIONS[2],
  WE3: RULE_DESCRIPTIONS[3],
  WE4: RULE_DESCRIPTIONS[4],
  MR: 'MR: moving range above its upper limit (a sudden jump)',
  EWMA: 'EWMA: the exponentially weighted mean beyond its limits (a small sustained shift)',
  CUSUM: 'CUSUM: the cumulative sum beyond the decision interval (a small sustained shift)',
  MISSED: 'MISSED: the structure was not produced on a case where the reference has it',
};

export interface DriftOptions {
  metric: string;
  filter: MetricRowFilter;
  reference: ReferenceChoice;
  subject: 'model' | 'physician';
  /** one series per site (true) or the sites pooled */
  bySite: boolean;
  settings: ChartSettings;
}

interface Signal {
  rule: string;
  index: number;
  side: 'above' | 'below' | null;
  /** inside the baseline window (not alarmed) */
  baseline: boolean;
  /** the first point of an episode of consecutive signals of this rule */
  episodeStart: boolean;
}

/** The chart of one series of values in date order. */
function chartSeries(
  points: Array<{ date: string; value: number }>,
  missed: Array<{ date: string; index: number }>,
  settings: ChartSettings,
) {
  const values = points.map((p) => p.value);
  let start = 0;
  let end = Math.min(settings.baselinePoints, values.length);
  if (settings.baselineFrom !== undefined || settings.baselineTo !== undefined) {
    const inWindow = points
      .map((p, i) => ({
        i,
        ok: p.date >= (settings.baselineFrom ?? '') && p.date <= (settings.baselineTo ?? '9999'),
      }))
      .filter((p) => p.ok);
    start = inWindow[0]?.i ?? 0;
    end = inWindow.length === 0 ? 0 : inWindow[inWindow.length - 1]!.i + 1;
  }
  if (end - start < MIN_BASELINE_POINTS)
    return {
      limits: null,
      note: `the baseline has ${end - start} points; control limits need at least ${MIN_BASELINE_POINTS}`,
      ewma: null,
      cusum: null,
      movingRanges: null,
      signals: missed.map((m): Signal => ({
        rule: 'MISSED',
        index: m.index,
        side: null,
        baseline: false,
        episodeStart: true,
      })),
    };
  const x = individualsChart(values, { start, end });
  const ewma = ewmaChart(values, {
    centre: x.centre,
    sigma: x.sigma,
    lambda: settings.lambda,
    L: settings.L,
  });
  const cusum = cusumChart(values, { centre: x.centre, sigma: x.sigma, k: settings.k, h: settings.h });
  const raw: Array<Omit<Signal, 'baseline' | 'episodeStart'>> = [
    ...westernElectricRules(values, { centre: x.centre, sigma: x.sigma, runLength: settings.runLength }).map(
      (v) => ({ rule: `WE${v.rule}`, index: v.index, side: v.side }),
    ),
    ...x.movingRanges.flatMap((mr, index) =>
      mr !== null && mr > x.mrUpper ? [{ rule: 'MR', index, side: 'above' as const }] : [],
    ),
    ...ewma.flatMap((p, index) =>
      p.signal
        ? [{ rule: 'EWMA', index, side: p.z > x.centre ? ('above' as const) : ('below' as const) }]
        : [],
    ),
    ...cusum.points.flatMap((p, index) =>
      p.signal === null
        ? []
        : [{ rule: 'CUSUM', index, side: p.signal === 'down' ? ('below' as const) : ('above' as const) }],
    ),
  ];
  const byRule = groupBy(raw, (s) => `${s.rule}|${s.side}`);
  const signals: Signal[] = [];
  for (const list of byRule.values()) {
    const indices = new Set(list.map((s) => s.index));
    for (const s of list)
      signals.push({
        ...s,
        baseline: s.index >= start && s.index < end,
        episodeStart: !indices.has(s.index - 1),
      });
  }
  for (const m of missed)
    signals.push({ rule: 'MISSED', index: m.index, side: null, baseline: false, episodeStart: true });
  signals.sort((a, b) => a.index - b.index || a.rule.localeCompare(b.rule));
  return {
    limits: {
      baseline: { start, end, from: points[start]!.date, to: points[end - 1]!.date },
      centre: x.centre,
      sigma: x.sigma,
      lower: x.lower,
      upper: x.upper,
      mrBar: x.mrBar,
      mrUpper: x.mrUpper,
      cusumK: cusum.K,
      cusumH: cusum.H,
    },
    note: x.sigma === 0 ? 'the baseline is constant (sigma 0): any change signals' : null,
    ewma: ewma.map((p) => ({ z: p.z, lower: p.lower, upper: p.upper })),
    cusum: cusum.points.map((p) => ({ upper: p.upper, lower: p.lower })),
    movingRanges: x.movingRanges,
    signals,
  };
}

/**
 * Control charts per subject (model version or the physicians), structure and site (or pooled sites):
 * the series of one metric per case in date order with its limits and signals (DRIFT_METHOD).
 */
export async function driftCharts(db: Db, options: DriftOptions) {
  const metric = metricDefinition(options.metric);
  const rows = await findMetricValues(db, [metric], {
    ...options.filter,
    ...referenceFilter(options.reference),
    testSource: options.subject,
  });
  const dateOf = (row: (typeof rows)[number]) => row.date;
  const entries = [...caseValues(metric, rows, 0).values()];
  const groups = groupBy(entries, (e) =>
    [e.row.model ?? 'physicians', e.row.structure, options.bySite ? e.row.site : '*'].join('|'),
  );
  const series = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, list]) => {
      const [subject, structure, site] = key.split('|') as [string, string, string];
      list.sort((a, b) => dateOf(a.row).localeCompare(dateOf(b.row)) || a.row.caseId - b.row.caseId);
      const points: Array<{ date: string; case: string; caseId: number; value: number }> = [];
      const missed: Array<{ date: string; index: number; case: string }> = [];
      for (const e of list) {
        if (e.value === null) continue;
        if (!Number.isFinite(e.value) || e.row.testEmpty)
          missed.push({ date: dateOf(e.row), index: points.length, case: e.row.casePseudonym });
        else
          points.push({
            date: dateOf(e.row),
            case: e.row.casePseudonym,
            caseId: e.row.caseId,
            value: e.value,
          });
      }
      const chart = chartSeries(points, missed, options.settings);
      return {
        seriesKey: [
          metric.name,
          options.subject,
          subject,
          structure,
          site,
          referenceKey(options.reference),
          options.filter.dateField ?? 'acquisition',
        ].join('|'),
        subject,
        structure,
        site: site === '*' ? null : site,
        points: points.map((p, i) => ({
          ...p,
          movingRange: chart.movingRanges?.[i] ?? null,
          ewma: chart.ewma?.[i] ?? null,
          cusum: chart.cusum?.[i] ?? null,
        })),
        missed,
        limits: chart.limits,
        note: chart.note,
        signals: chart.signals.map((s) => ({
          ...s,
          description: RULE_TEXT[s.rule],
          date: s.rule === 'MISSED' ? missed.find((m) => m.index === s.index)?.date : points[s.index]?.date,
          case: s.rule === 'MISSED' ? missed.find((m) => m.index === s.index)?.case : points[s.index]?.case,
          value: s.rule === 'MISSED' ? null : points[s.index]?.value,
        })),
      };
    });
  return {
    metric: describeMetric(metric),
    reference: describeReference(options.reference),
    method: DRIFT_METHOD,
    settings: options.settings,
    series,
  };
}

function referenceKey(reference: ReferenceChoice): string {
  return reference.kind === 'observer' ? `observer:${reference.code}` : reference.kind;
}

/** The job key of the alarm refresh: one pending refresh at a time, however many runs end. */
export const ALARM_JOB_KEY = 'alarms:refresh';

/** The metrics alarms watch. */
export const ALARM_METRICS = ['dice', 'hd95_mm'] as const;

/**
 * Recomputes the control charts of every model version (or one), structure and site against the
 * consensus, and stores an alarm for each signal episode after the baseline (insertAlarms keeps alarms
 * already raised, acknowledged or not). Returns the series charted and the alarms that are new.
 */
export async function refreshAlarms(
  db: Db,
  options: { model?: { name: string; version: string }; settings?: ChartSettings } = {},
): Promise<{ series: number; raised: number }> {
  const ids = await findAlarmSubjectIds(db);
  let seriesCount = 0;
  const alarms: NewAlarm[] = [];
  for (const metricName of ALARM_METRICS) {
    const charts = await driftCharts(db, {
      metric: metricName,
      filter: { models: options.model === undefined ? undefined : [options.model], dateField: 'acquisition' },
      reference: { kind: 'consensus' },
      subject: 'model',
      bySite: true,
      settings: options.settings ?? defaultChartSettings,
    });
    for (const s of charts.series) {
      seriesCount += 1;
      for (const signal of s.signals) {
        if (signal.baseline || !signal.episodeStart || signal.date === undefined) continue;
        // a jump between two consecutive cases stays on the chart; one bad case already raises WE1
        if (signal.rule === 'MR') continue;
        alarms.push({
          seriesKey: s.seriesKey,
          rule: signal.rule,
          metricName,
          modelVersionId: ids.models.get(s.subject) ?? null,
          siteId: s.site === null ? null : (ids.sites.get(s.site) ?? null),
          structureId: ids.structures.get(s.structure) ?? null,
          pointAt: new Date(`${signal.date}T00:00:00Z`),
          value: signal.value ?? null,
          details: {
            case: signal.case,
            side: signal.side,
            description: signal.description,
            centre: s.limits?.centre ?? null,
            sigma: s.limits?.sigma ?? null,
          },
        });
      }
    }
  }
  return { series: seriesCount, raised: await insertAlarms(db, alarms) };
}

export async function alarms(
  db: Db,
  options: { open?: boolean; limit?: number; sites?: readonly string[]; structures?: readonly string[] },
) {
  const rows = await listAlarms(db, { ...options, limit: options.limit ?? 500 });
  return rows.map((r) => ({ ...r, description: RULE_TEXT[r.rule] ?? r.rule }));
}

/** Acknowledges an alarm with a note, by a known user (email) when given. */
export async function acknowledge(
  db: Db,
  id: number,
  input: { note: string; user?: string },
  actor: Actor,
): Promise<void> {
  const userId = input.user === undefined ? actor.userId : await findUserId(db, input.user);
  if (userId === undefined) throw new AppError('NOT_FOUND', `no user with the email ${input.user}`);
  if (await acknowledgeAlarm(db, id, userId, input.note)) {
    await audit(db, actor, {
      action: 'alarm.acknowledge',
      objectType: 'alarm',
      objectId: id,
      details: { userId },
    });
    return;
  }
  if (!(await alarmExists(db, id))) throw new AppError('NOT_FOUND', `no alarm ${id}`);
  throw new AppError('CONFLICT', `alarm ${id} was acknowledged already`);
}
