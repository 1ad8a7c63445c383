import { describe, expect, it } from 'vitest';
import { checkCases, type CheckedCase } from './case-checks';

let mask = 0;
const contour = (structure: string, volumeCc: number, maskSha256 = `m${++mask}`) => ({
  structure,
  volumeCc,
  maskSha256,
  setLabel: 'EXPERT',
});

function leftCase(id: number, heartCc: number, extra: CheckedCase['contours'] = []): CheckedCase {
  return {
    caseId: id,
    pseudonym: `C-${id}`,
    laterality: 'left',
    surgery: 'breast_conserving',
    patientKey: `p${id}`,
    contours: [contour('Heart', heartCc), contour('CTV_Breast_L', 500), ...extra],
  };
}

describe('case checks', () => {
  it('names the ROIs of each set that map to no TG-263 structure', () => {
    const cases = [600, 620, 580, 610, 590, 605].map((v, i) => leftCase(i + 1, v));
    cases[2] = {
      ...cases[2]!,
      unmapped: [
        { setLabel: 'EXPERT', names: ['Areola', 'Tumor Bed Block'] },
        { setLabel: 'RO2', names: [] },
      ],
    };
    expect(checkCases(cases)).toEqual([
      {
        check: 'unmapped_structure',
        caseId: 3,
        structure: null,
        message:
          'C-3 has ROIs that map to no TG-263 structure: "Areola", "Tumor Bed Block" (EXPERT): add a site alias ' +
          '(contourbench structures alias) and import again, or accept them as not used',
      },
    ]);
  });

  it('finds nothing in a clean cohort', () => {
    const cases = [600, 620, 580, 610, 590, 605].map((v, i) => leftCase(i + 1, v));
    expect(checkCases(cases)).toEqual([]);
  });

  it('flags a heart far from the cohort, but not ordinary spread', () => {
    const cases = [600, 620, 580, 610, 590, 605, 150].map((v, i) => leftCase(i + 1, v));
    const findings = checkCases(cases);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'volume_outlier', caseId: 7, structure: 'Heart' });
    expect(findings[0]!.message).toContain('150.0 cc against a cohort median of 600.0 cc');
  });

  it('flags a right-sided target in a left-sided case, and a missing structure most peers have', () => {
    const cases = [1, 2, 3].map((i) => leftCase(i, 600));
    cases.push({ ...leftCase(4, 600), contours: [contour('Heart', 600), contour('CTV_Breast_R', 480)] });
    const findings = checkCases(cases);
    expect(findings.map((f) => [f.check, f.caseId, f.structure])).toEqual([
      ['laterality', 4, 'CTV_Breast_R'],
      ['missing_structure', 4, 'CTV_Breast_L'],
    ]);
  });

  it('asks only for targets on the case side when the structures are given', () => {
    const right: CheckedCase = {
      caseId: 9,
      pseudonym: 'R-9',
      laterality: 'right',
      surgery: null,
      patientKey: null,
      contours: [contour('Heart', 600)],
    };
    const findings = checkCases([right], ['Heart', 'CTV_Breast_L', 'CTV_Breast_R']);
    expect(findings.map((f) => f.structure)).toEqual(['CTV_Breast_R']);
  });

  it('flags the same patient twice and a mask copied into another case', () => {
    const a = leftCase(1, 600);
    const b = { ...leftCase(2, 610), patientKey: 'p1' };
    const c = leftCase(3, 600, [contour('Lung_L', 1500, a.contours[0]!.maskSha256)]);
    const findings = checkCases([a, b, c], ['Heart']);
    expect(findings.map((f) => [f.check, f.caseId])).toEqual([
      ['duplicate_case', 2],
      ['duplicate_mask', 3],
    ]);
    expect(findings[1]!.message).toContain('voxel for voxel the Heart of C-1');
  });
});
