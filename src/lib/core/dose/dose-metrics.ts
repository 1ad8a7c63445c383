/**
 * Named dose metrics (the numbers breast plans are judged by), their text form, per-structure metric lists
 * and their evaluation on a DVH (dvh.ts).
 *
 * Metric text (case as written; numbers are plain decimals such as 95, 0.03 or 2.5):
 * - `Dmean`, `Dmax`, `Dmin`: dose statistics, Gy;
 * - `D<x>%`: the minimum dose to the hottest x % of the structure, Gy; `D<x>cc`: same for x cc;
 * - `V<x>Gy`: the volume receiving at least x Gy, in % of the structure; `V<x>%`: at least x % of the
 *   prescription;
 * - a unit in brackets chooses the result's unit: `[Gy]` or `[%]` (of the prescription) for the D metrics,
 *   `[%]` (of the structure volume) or `[cc]` for the V metrics: `V20Gy[cc]`, `D95%[%]`.
 *
 * A list is `structure:metric` entries separated by commas, semicolons or new lines, e.g.
 * "Heart:Dmean, A_LAD:Dmax, Lung_ipsi:V20Gy, Breast_contra:Dmean, CTV_*:D95%". In a structure name the
 * suffix `_ipsi` / `_contra` stands for the treated / other side (`_L` or `_R`, from the case's
 * laterality), and `*` matches any run of characters (names compared without regard to case).
 */
import {
  doseAtVolumeCc,
  doseAtVolumePercent,
  volumeAtDoseGy,
  volumeAtDosePercent,
  type Dvh,
  type VolumeValue,
} from './dvh';

/** Unit of a metric's result: Gy, cc, or % (of the prescription for D metrics, of the volume for V). */
export type DoseMetricUnit = 'Gy' | '%' | 'cc';

/** What a metric asks for, without its text form. */
export type DoseMetricSpec =
  | { kind: 'Dmean' | 'Dmax' | 'Dmin'; resultUnit: 'Gy' | '%' }
  | { kind: 'DoseAtVolume'; volume: number; volumeUnit: '%' | 'cc'; resultUnit: 'Gy' | '%' }
  | { kind: 'VolumeAtDose'; dose: number; doseUnit: 'Gy' | '%'; resultUnit: '%' | 'cc' };

/** A parsed dose metric. `text` is its canonical spelling (what formatDoseMetric gives back). */
export type DoseMetric = DoseMetricSpec & { text: string };

/** One metric of one structure in a list, before resolution: `structure` may hold _ipsi, _contra or *. */
export interface DoseMetricEntry {
  structure: string;
  metric: DoseMetric;
}

/** An entry resolved against a case: `structure` is the case's own structure name. */
export interface ResolvedDoseMetric {
  structure: string;
  metric: DoseMetric;
  /** the list's structure pattern this came from */
  pattern: string;
}

/** The value of a metric on a DVH. `value` is null when the metric is undefined here; `note` says why. */
export interface DoseMetricValue {
  metric: DoseMetric;
  value: number | null;
  /** Gy, cc, or %: of the prescription for D metrics, of the structure's volume for V metrics */
  unit: DoseMetricUnit;
  note: string | null;
}

/**
 * The default metrics of post-operative breast radiotherapy: heart mean dose, LAD maximum and mean, the
 * ipsilateral lung's V20Gy and mean, the contralateral breast's mean, breast / chest-wall / tumour-bed CTV
 * D95% and D2% and nodal CTV D95% (in % of the prescription when one is known, Gy otherwise), and the
 * maximum dose to the oesophagus and the spinal canal.
 */
export const DEFAULT_BREAST_DOSE_METRICS =
  'Heart:Dmean, A_LAD:Dmax, A_LAD:Dmean, Lung_ipsi:V20Gy, Lung_ipsi:Dmean, Breast_contra:Dmean, ' +
  'CTV_*:D95%[%], CTV_*:D2%[%], CTVn_*:D95%[%], Esophagus:Dmax, SpinalCanal:Dmax';

const METRIC_FORMS = 'Dmean, Dmax, Dmin, D<x>%, D<x>cc, V<x>Gy or V<x>% (of the prescription)';
const METRIC_PATTERN =
  /^(?:(Dmean|Dmax|Dmin)|D(\d+(?:\.\d+)?|\.\d+)(%|cc)|V(\d+(?:\.\d+)?|\.\d+)(Gy|%))(?:\[(Gy|%|cc)\])?$/;

/**
 * Parses one metric (see the module comment), ignoring surrounding white space. Throws RangeError naming
 * the text and what was expected: an unknown form, a volume percentage above 100, or a result unit that
 * does not fit (`[cc]` on a D metric, `[Gy]` on a V metric).
 */
export function parseDoseMetric(text: string): DoseMetric {
  const trimmed = text.trim();
  const match = METRIC_PATTERN.exec(trimmed);
  if (!match) {
    throw new RangeError(
      `invalid dose metric "${trimmed}": expected ${METRIC_FORMS}, optionally followed by [Gy], [%] or [cc]`,
    );
  }
  const [, statistic, volumeText, volumeUnit, doseText, doseUnit, resultText] = match;
  const result = resultText as DoseMetricUnit | undefined;
  if (volumeText === undefined && doseText === undefined) {
    if (result === 'cc') throw unitError(trimmed, 'a dose', 'Gy or %');
    return make({ kind: statistic as 'Dmean' | 'Dmax' | 'Dmin', resultUnit: result ?? 'Gy' });
  }
  if (volumeText !== undefined) {
    const volume = Number(volumeText);
    if (volumeUnit === '%' && volume > 100) {
      throw new RangeError(`invalid dose metric "${trimmed}": the volume must be between 0 and 100 %`);
    }
    if (result === 'cc') throw unitError(trimmed, 'a dose', 'Gy or %');
    return make({
      kind: 'DoseAtVolume',
      volume,
      volumeUnit: volumeUnit as '%' | 'cc',
      resultUnit: result ?? 'Gy',
    });
  }
  if (result === 'Gy') throw unitError(trimmed, 'a volume', '% or cc');
  return make({
    kind: 'VolumeAtDose',
    dose: Number(doseText),
    doseUnit: doseUnit as 'Gy' | '%',
    resultUnit: result ?? '%',
  });
}

/** The canonical text of a metric: `D95%`, `D0.03cc`, `V20Gy[cc]`, `Dmean[%]`; parseDoseMetric reads it back. */
export function formatDoseMetric(metric: DoseMetricSpec): string {
  const m = metric;
  switch (m.kind) {
    case 'DoseAtVolume':
      return `D${m.volume}${m.volumeUnit}${m.resultUnit === 'Gy' ? '' : `[${m.resultUnit}]`}`;
    case 'VolumeAtDose':
      return `V${m.dose}${m.doseUnit}${m.resultUnit === '%' ? '' : `[${m.resultUnit}]`}`;
    default:
      return `${m.kind}${m.resultUnit === 'Gy' ? '' : `[${m.resultUnit}]`}`;
  }
}

/**
 * Parses a metric list such as "Heart:Dmean, Lung_ipsi:V20Gy, CTV_*:D95%" (entries separated by commas,
 * semicolons or new lines; blank entries ignored). Throws RangeError naming the entry when it has no
 * structure, no ':' or an invalid metric.
 */
export function parseDoseMetricList(text: string): DoseMetricEntry[] {
  const entries: DoseMetricEntry[] = [];
  for (const raw of text.split(/[,;\n]/)) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    if (colon < 0) {
      throw new RangeError(
        `invalid dose metric entry "${entry}": expected structure:metric, e.g. Heart:Dmean`,
      );
    }
    const structure = entry.slice(0, colon).trim();
    if (structure === '' || /\s/.test(structure)) {
      throw new RangeError(
        `invalid dose metric entry "${entry}": the structure name must be one word, e.g. Heart:Dmean`,
      );
    }
    let metric: DoseMetric;
    try {
      metric = parseDoseMetric(entry.slice(colon + 1));
    } catch (error) {
      throw new RangeError(`in entry "${entry}": ${(error as Error).message}`, { cause: error });
    }
    entries.push({ structure, metric });
  }
  return entries;
}

/**
 * The entries that apply to a case: `_ipsi` / `_contra` turned into `_L` / `_R` by `laterality`, `*`
 * matched against `structures` (the case's names, in their order), duplicates dropped. `unresolved` lists
 * the patterns that matched no structure, and those with _ipsi or _contra when the laterality is not known
 * (null: bilateral or unrecorded).
 */
export function resolveDoseMetrics(
  entries: readonly DoseMetricEntry[],
  structures: readonly string[],
  laterality: 'left' | 'right' | null,
): { metrics: ResolvedDoseMetric[]; unresolved: string[] } {
  const metrics: ResolvedDoseMetric[] = [];
  const unresolved: string[] = [];
  const seen = new Set<string>();
  for (const { structure: pattern, metric } of entries) {
    const sided = resolveSide(pattern, laterality);
    const matcher = sided === null ? null : globMatcher(sided);
    const matches = matcher === null ? [] : structures.filter((name) => matcher.test(name));
    if (matches.length === 0) {
      if (!unresolved.includes(pattern)) unresolved.push(pattern);
      continue;
    }
    for (const structure of matches) {
      const key = `${structure}\u0000${metric.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      metrics.push({ structure, metric, pattern });
    }
  }
  return { metrics, unresolved };
}

/**
 * Evaluates `metrics` on one structure's DVH. Units: D metrics in Gy, or in % of `prescriptionGy` when
 * asked for `[%]` (falling back to Gy, with a note, when no prescription is known); V metrics in % of the
 * structure's volume or in cc. A value is null (never NaN) with a note when the structure is empty, a Dx cc
 * asks for more than the structure's volume, or a V<x>% has no prescription. When part of the structure
 * lay outside the dose grid, every note says so (that part counted as 0 Gy).
 *
 * Throws RangeError when `prescriptionGy` is neither null nor a positive number.
 */
export function evaluateDoseMetrics(
  dvh: Dvh,
  metrics: readonly DoseMetric[],
  prescriptionGy: number | null,
): DoseMetricValue[] {
  if (prescriptionGy !== null && (!(prescriptionGy > 0) || !Number.isFinite(prescriptionGy))) {
    throw new RangeError(`prescription must be a positive number of Gy or null, got ${prescriptionGy}`);
  }
  const outsideNote =
    dvh.outsideDoseGridVoxels > 0
      ? `${round(dvh.outsideDoseGridPercent)} % of the structure is outside the dose grid (counted as 0 Gy)`
      : null;
  return metrics.map((metric) => {
    const { value, unit, note } = evaluateOne(dvh, metric, prescriptionGy);
    const notes = [note, outsideNote].filter((n): n is string => n !== null);
    return { metric, value, unit, note: notes.length === 0 ? null : notes.join('; ') };
  });
}

function evaluateOne(
  dvh: Dvh,
  metric: DoseMetric,
  prescriptionGy: number | null,
): { value: number | null; unit: DoseMetricUnit; note: string | null } {
  if (dvh.voxelCount === 0) {
    const unit =
      metric.kind === 'VolumeAtDose' ? metric.resultUnit : doseUnit(metric.resultUnit, prescriptionGy);
    return { value: null, unit, note: 'empty structure' };
  }
  if (metric.kind === 'VolumeAtDose') {
    let volume: VolumeValue | null;
    if (metric.doseUnit === 'Gy') volume = volumeAtDoseGy(dvh, metric.dose);
    else if (prescriptionGy === null) {
      return { value: null, unit: metric.resultUnit, note: `${metric.text} needs a prescription dose` };
    } else volume = volumeAtDosePercent(dvh, metric.dose, prescriptionGy);
    return {
      value: volume === null ? null : volume[metric.resultUnit === 'cc' ? 'cc' : 'percent'],
      unit: metric.resultUnit,
      note: null,
    };
  }
  let doseGy: number | null;
  let note: string | null = null;
  if (metric.kind !== 'DoseAtVolume') {
    doseGy = metric.kind === 'Dmean' ? dvh.dmeanGy : metric.kind === 'Dmax' ? dvh.dmaxGy : dvh.dminGy;
  } else if (metric.volumeUnit === '%') doseGy = doseAtVolumePercent(dvh, metric.volume);
  else {
    doseGy = doseAtVolumeCc(dvh, metric.volume);
    if (doseGy === null) note = `structure is ${round(dvh.volumeCc)} cc, smaller than ${metric.volume} cc`;
  }
  const unit = doseUnit(metric.resultUnit, prescriptionGy);
  if (metric.resultUnit === '%' && prescriptionGy === null && note === null) {
    note = 'no prescription dose: in Gy';
  }
  const value = doseGy === null ? null : unit === '%' ? (100 * doseGy) / prescriptionGy! : doseGy;
  return { value, unit, note };
}

function doseUnit(requested: 'Gy' | '%', prescriptionGy: number | null): 'Gy' | '%' {
  return requested === '%' && prescriptionGy !== null ? '%' : 'Gy';
}

function make(metric: DoseMetricSpec): DoseMetric {
  return { ...metric, text: formatDoseMetric(metric) };
}

function unitError(text: string, what: string, allowed: string): RangeError {
  return new RangeError(`invalid dose metric "${text}": it gives ${what}, so its unit must be ${allowed}`);
}

/** The structure pattern with _ipsi / _contra replaced by the side, or null when the side is unknown. */
function resolveSide(pattern: string, laterality: 'left' | 'right' | null): string | null {
  const match = /_(ipsi|contra)$/i.exec(pattern);
  if (!match) return pattern;
  if (laterality === null) return null;
  const ipsi = match[1]!.toLowerCase() === 'ipsi';
  const side = (laterality === 'left') === ipsi ? 'L' : 'R';
  return `${pattern.slice(0, match.index)}_${side}`;
}

function globMatcher(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
