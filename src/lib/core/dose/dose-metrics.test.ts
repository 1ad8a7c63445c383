import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BREAST_DOSE_METRICS,
  evaluateDoseMetrics,
  formatDoseMetric,
  parseDoseMetric,
  parseDoseMetricList,
  resolveDoseMetrics,
} from './dose-metrics';
import { computeDvh } from './dvh';

describe('parseDoseMetric', () => {
  it('reads every form and gives back its canonical text', () => {
    expect(parseDoseMetric('Dmean')).toEqual({ kind: 'Dmean', resultUnit: 'Gy', text: 'Dmean' });
    expect(parseDoseMetric(' Dmax ')).toEqual({ kind: 'Dmax', resultUnit: 'Gy', text: 'Dmax' });
    expect(parseDoseMetric('Dmin[%]')).toEqual({ kind: 'Dmin', resultUnit: '%', text: 'Dmin[%]' });
    expect(parseDoseMetric('D95%')).toEqual({
      kind: 'DoseAtVolume',
      volume: 95,
      volumeUnit: '%',
      resultUnit: 'Gy',
      text: 'D95%',
    });
    expect(parseDoseMetric('D0.03cc')).toEqual({
      kind: 'DoseAtVolume',
      volume: 0.03,
      volumeUnit: 'cc',
      resultUnit: 'Gy',
      text: 'D0.03cc',
    });
    expect(parseDoseMetric('D2%[%]')).toMatchObject({ volume: 2, resultUnit: '%', text: 'D2%[%]' });
    expect(parseDoseMetric('V20Gy')).toEqual({
      kind: 'VolumeAtDose',
      dose: 20,
      doseUnit: 'Gy',
      resultUnit: '%',
      text: 'V20Gy',
    });
    expect(parseDoseMetric('V20Gy[cc]')).toMatchObject({ dose: 20, resultUnit: 'cc', text: 'V20Gy[cc]' });
    expect(parseDoseMetric('V107%')).toMatchObject({ dose: 107, doseUnit: '%', text: 'V107%' });
    // [%] is the default of a V metric and is dropped from the canonical text
    expect(parseDoseMetric('V5Gy[%]').text).toBe('V5Gy');
    for (const text of ['Dmean', 'D2%', 'D50%', 'D98%', 'D2cc', 'V5Gy', 'V95%', 'D95%[%]', 'V2.5Gy[cc]'])
      expect(formatDoseMetric(parseDoseMetric(text))).toBe(text);
  });

  it('rejects what it cannot read with a RangeError that says what it expected', () => {
    expect(() => parseDoseMetric('D95')).toThrow(
      'invalid dose metric "D95": expected Dmean, Dmax, Dmin, D<x>%, D<x>cc, V<x>Gy or V<x>% (of the prescription), optionally followed by [Gy], [%] or [cc]',
    );
    for (const text of ['', 'V20', 'dmean', 'D-5%', 'V20 Gy', 'D95%%', 'Dmean[mGy]', 'D1e2cc'])
      expect(() => parseDoseMetric(text), text).toThrow(RangeError);
    expect(() => parseDoseMetric('D120%')).toThrow('the volume must be between 0 and 100 %');
    expect(() => parseDoseMetric('Dmean[cc]')).toThrow('it gives a dose, so its unit must be Gy or %');
    expect(() => parseDoseMetric('D2cc[cc]')).toThrow(/Gy or %/);
    expect(() => parseDoseMetric('V20Gy[Gy]')).toThrow('it gives a volume, so its unit must be % or cc');
  });
});

describe('parseDoseMetricList and resolveDoseMetrics', () => {
  const leftCase = [
    'External',
    'Lung_L',
    'Lung_R',
    'Heart',
    'A_LAD',
    'SpinalCanal',
    'Esophagus',
    'Breast_R',
    'CTV_Breast_L',
    'CTV_TumorBed_L',
    'CTVn_LN_Ax_L1_L',
    'CTVn_LN_Sclav_L',
  ];

  it('parses the default breast list', () => {
    const entries = parseDoseMetricList(DEFAULT_BREAST_DOSE_METRICS);
    expect(entries.map((e) => `${e.structure}:${e.metric.text}`)).toEqual([
      'Heart:Dmean',
      'A_LAD:Dmax',
      'A_LAD:Dmean',
      'Lung_ipsi:V20Gy',
      'Lung_ipsi:Dmean',
      'Breast_contra:Dmean',
      'CTV_*:D95%[%]',
      'CTV_*:D2%[%]',
      'CTVn_*:D95%[%]',
      'Esophagus:Dmax',
      'SpinalCanal:Dmax',
    ]);
  });

  it('resolves sides from the laterality and wildcards against the case, without duplicates', () => {
    const entries = parseDoseMetricList(
      `${DEFAULT_BREAST_DOSE_METRICS}; heart:Dmean\nBrachialPlex_ipsi:Dmax`,
    );
    const left = resolveDoseMetrics(entries, leftCase, 'left');
    expect(left.metrics.map((m) => `${m.structure}:${m.metric.text}`)).toEqual([
      'Heart:Dmean',
      'A_LAD:Dmax',
      'A_LAD:Dmean',
      'Lung_L:V20Gy',
      'Lung_L:Dmean',
      'Breast_R:Dmean',
      'CTV_Breast_L:D95%[%]',
      'CTV_TumorBed_L:D95%[%]',
      'CTV_Breast_L:D2%[%]',
      'CTV_TumorBed_L:D2%[%]',
      'CTVn_LN_Ax_L1_L:D95%[%]',
      'CTVn_LN_Sclav_L:D95%[%]',
      'Esophagus:Dmax',
      'SpinalCanal:Dmax',
    ]);
    expect(left.metrics[3]!.pattern).toBe('Lung_ipsi');
    expect(left.unresolved).toEqual(['BrachialPlex_ipsi']);

    const right = resolveDoseMetrics(
      parseDoseMetricList('Lung_ipsi:V20Gy, Breast_contra:Dmean'),
      leftCase,
      'right',
    );
    expect(right.metrics.map((m) => m.structure)).toEqual(['Lung_R']);
    expect(right.unresolved).toEqual(['Breast_contra']);

    const unknownSide = resolveDoseMetrics(
      parseDoseMetricList('Lung_ipsi:V20Gy, Heart:Dmean'),
      leftCase,
      null,
    );
    expect(unknownSide.metrics.map((m) => m.structure)).toEqual(['Heart']);
    expect(unknownSide.unresolved).toEqual(['Lung_ipsi']);
  });

  it('rejects malformed entries, naming them', () => {
    expect(() => parseDoseMetricList('Heart Dmean')).toThrow(
      'invalid dose metric entry "Heart Dmean": expected structure:metric, e.g. Heart:Dmean',
    );
    expect(() => parseDoseMetricList(':Dmean')).toThrow(/structure name must be one word/);
    expect(() => parseDoseMetricList('Heart:Dmean, Lung_L:V20')).toThrow(
      /^in entry "Lung_L:V20": invalid dose metric "V20"/,
    );
    expect(parseDoseMetricList(' , \n')).toEqual([]);
  });
});

describe('evaluateDoseMetrics', () => {
  // four voxels of 0.5 cc at 0.5, 1.5, 1.5 and 2.5 Gy in 1 Gy bins (see dvh.test.ts)
  const dvh = computeDvh(Float32Array.of(0.5, 1.5, 1.5, 2.5), 0.5, { binWidthGy: 1 });
  const metrics = ['Dmean', 'Dmax', 'D50%', 'D50%[%]', 'D1cc', 'D3cc', 'V1.5Gy', 'V1.5Gy[cc]', 'V75%'].map(
    parseDoseMetric,
  );

  it('gives each value in its unit, with a prescription', () => {
    const values = evaluateDoseMetrics(dvh, metrics, 2);
    expect(values.map(({ metric, value, unit, note }) => [metric.text, value, unit, note])).toEqual([
      ['Dmean', 1.5, 'Gy', null],
      ['Dmax', 2.5, 'Gy', null],
      ['D50%', 1.5, 'Gy', null],
      ['D50%[%]', 75, '%', null],
      ['D1cc', 1.5, 'Gy', null],
      ['D3cc', null, 'Gy', 'structure is 2 cc, smaller than 3 cc'],
      ['V1.5Gy', 50, '%', null],
      ['V1.5Gy[cc]', 1, 'cc', null],
      ['V75%', 50, '%', null],
    ]);
  });

  it('falls back to Gy for D metrics and gives null for V<x>% without a prescription', () => {
    const values = evaluateDoseMetrics(dvh, metrics, null);
    expect(values[3]).toMatchObject({ value: 1.5, unit: 'Gy', note: 'no prescription dose: in Gy' });
    expect(values[8]).toMatchObject({ value: null, unit: '%', note: 'V75% needs a prescription dose' });
  });

  it('gives null values for an empty structure and notes a structure partly outside the dose grid', () => {
    const empty = evaluateDoseMetrics(computeDvh(new Float32Array(0), 0.5), metrics, 2);
    expect(empty.every((v) => v.value === null && v.note === 'empty structure')).toBe(true);
    expect(empty[3]!.unit).toBe('%');
    const partly = computeDvh(Float32Array.of(0, 2, 2, 2), 0.5, { outsideDoseGridVoxels: 1 });
    const [mean] = evaluateDoseMetrics(partly, [parseDoseMetric('Dmean')], null);
    expect(mean).toMatchObject({
      value: 1.5,
      note: '25 % of the structure is outside the dose grid (counted as 0 Gy)',
    });
  });

  it('rejects a prescription that is not a positive number', () => {
    expect(() => evaluateDoseMetrics(dvh, metrics, 0)).toThrow(/prescription must be a positive number/);
  });
});
