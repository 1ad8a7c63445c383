import { describe, expect, it } from 'vitest';
import { judgedDoseMetric } from '../../src/lib/server/services/dose-impact.service';

describe('the dose metric a structure is judged by', () => {
  it('follows the default breast list, on either side', () => {
    const judged = (s: string, list?: string) => judgedDoseMetric(s, list)?.metric.name ?? null;
    expect(judged('Heart')).toBe('dose_dmean_absdelta_gy');
    expect(judged('A_LAD')).toBe('dose_dmax_absdelta_gy');
    expect(judged('Lung_L')).toBe('dose_v20gy_absdelta_pct');
    expect(judged('Lung_R')).toBe('dose_v20gy_absdelta_pct');
    expect(judged('Breast_R')).toBe('dose_dmean_absdelta_gy');
    expect(judged('CTV_Breast_L')).toBe('dose_d95_absdelta_gy');
    expect(judged('Liver')).toBeNull();
  });

  it('follows a configured list, skipping metrics that are not stored as consequences', () => {
    const list = 'Heart:V30Gy, Heart:D2%, Lung_ipsi:V5Gy';
    expect(judgedDoseMetric('Heart', list)?.metric.name).toBe('dose_d2_absdelta_gy');
    expect(judgedDoseMetric('Lung_L', list)?.metric.name).toBe('dose_v5gy_absdelta_pct');
    expect(judgedDoseMetric('A_LAD', list)).toBeNull();
  });
});
