import { describe, expect, it } from 'vitest';
import {
  TG263_STRUCTURES,
  aliasKey,
  findTg263Structure,
  normaliseStructureName,
  structureReport,
  type NormaliseOptions,
} from './tg263';

const LEFT: NormaliseOptions = { laterality: 'left' };
const RIGHT: NormaliseOptions = { laterality: 'right' };

function mapped(name: string, options: NormaliseOptions = {}): string | null {
  return normaliseStructureName(name, options)?.tg263Name ?? null;
}

describe('TG263_STRUCTURES', () => {
  it.each(TG263_STRUCTURES.map((s) => s.tg263Name))('%s maps to itself by the exact rule', (name) => {
    expect(normaliseStructureName(name)).toEqual({ tg263Name: name, rule: 'exact' });
    // the treated side and any interpreted type must not move an exact TG-263 name elsewhere, except the
    // breast and chest-wall organs, which a target type turns into their CTV by design
    expect(mapped(name, { laterality: 'right', interpretedType: 'ORGAN' })).toBe(name);
  });

  it('has unique names of at most 16 characters in the TG-263 character set', () => {
    const names = TG263_STRUCTURES.map((s) => s.tg263Name);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z][A-Za-z0-9_]{0,15}$/);
  });

  it('holds the values the database check constraints allow, laterality matching the suffix', () => {
    const categories = new Set(['OAR', 'CTV', 'nodal', 'GTV', 'PTV', 'external', 'other']);
    for (const s of TG263_STRUCTURES) {
      expect(categories.has(s.category), s.tg263Name).toBe(true);
      expect(s.colourRgb, s.tg263Name).toMatch(/^#[0-9a-f]{6}$/);
      expect(s.description.length, s.tg263Name).toBeGreaterThan(0);
      const expected = s.tg263Name.endsWith('_L') ? 'left' : s.tg263Name.endsWith('_R') ? 'right' : 'none';
      expect(s.laterality, s.tg263Name).toBe(expected);
    }
  });

  it('contains the structures breast radiotherapy needs, with TG-263 spellings', () => {
    const names = new Set(TG263_STRUCTURES.map((s) => s.tg263Name));
    for (const name of [
      'External',
      'Lung_L',
      'Lung_R',
      'Lungs',
      'Heart',
      'A_LAD',
      'SpinalCord',
      'SpinalCanal',
      'Esophagus',
      'Glnd_Thyroid',
      'Breast_L',
      'Breast_R',
      'Sternum',
      'Humerus_L',
      'Humerus_R',
      'BrachialPlex_L',
      'BrachialPlex_R',
      'Liver',
      'Stomach',
      'Trachea',
      'Chestwall_L',
      'Chestwall_R',
      'CTV_Breast_L',
      'CTV_Breast_R',
      'CTV_Chestwall_L',
      'CTV_Chestwall_R',
      'CTV_TumorBed_L',
      'CTV_TumorBed_R',
      'CTVn_LN_Ax_L1_L',
      'CTVn_LN_Ax_L2_R',
      'CTVn_LN_Ax_L3_L',
      'CTVn_LN_Sclav_R',
      'CTVn_LN_IMN_L',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
    // common misspellings are not catalogue names
    expect(names.has('Brachial_Plex_L')).toBe(false);
    expect(names.has('Thyroid')).toBe(false);
  });

  it('gives the category each group needs', () => {
    expect(findTg263Structure('External')?.category).toBe('external');
    expect(findTg263Structure('Heart')?.category).toBe('OAR');
    expect(findTg263Structure('Breast_R')?.category).toBe('OAR');
    expect(findTg263Structure('CTV_Breast_L')?.category).toBe('CTV');
    expect(findTg263Structure('CTVn_LN_IMN_R')?.category).toBe('nodal');
    expect(findTg263Structure('heart')).toBeUndefined();
  });
});

describe('aliasKey', () => {
  it.each([
    ['Lt Lung', 'lung_l'],
    ['LUNG_L', 'lung_l'],
    ['Lung Left', 'lung_l'],
    ['left lung', 'lung_l'],
    ['L Lung', 'lung_l'],
    ['Lung (L)', 'lung_l'],
    ['LLung', 'lung_l'],
    ['LtLung', 'lung_l'],
    ['Lung.Rt', 'lung_r'],
    ['Spinal-Cord', 'spinalcord'],
    ['SpinalCord', 'spinalcord'],
    ['Level III', 'level3'],
    ['Ax_L2', 'axl2'],
    ['Contra Breast', 'breast_contra'],
    ['Ipsilateral lung', 'lung_ipsi'],
    ['Left Anterior Descending', 'lad'],
    ['Œsophagus', 'oesophagus'],
    ['CTVsb_L', 'ctvsb_l'],
    ['CTVpBreastL', 'ctvpbreast_l'],
    ['CTVBreast', 'ctvbreast'],
    ['PTVsb', 'ptvsb'],
    ['Lung L R', 'lunglr'],
    ['', ''],
  ])('%s -> %s', (name, key) => {
    expect(aliasKey(name)).toBe(key);
  });

  it('does not split TG-263 plurals into a side', () => {
    expect(aliasKey('LNs')).toBe('lns');
    expect(aliasKey('LN_IMNs')).toBe('lnimns');
  });
});

describe('normaliseStructureName: real-world variants', () => {
  const cases: Array<[string, NormaliseOptions, string, string]> = [
    // body
    ['BODY', {}, 'External', 'synonym'],
    ['Body', {}, 'External', 'synonym'],
    ['External', {}, 'External', 'exact'],
    ['EXTERNAL', {}, 'External', 'normalised'],
    ['Skin', {}, 'External', 'synonym'],
    ['Outline', {}, 'External', 'synonym'],
    ['Patient Outline', {}, 'External', 'synonym'],
    // lungs, any side spelling
    ['Lt Lung', {}, 'Lung_L', 'normalised'],
    ['LUNG_L', {}, 'Lung_L', 'normalised'],
    ['Lung Left', {}, 'Lung_L', 'normalised'],
    ['left lung', {}, 'Lung_L', 'normalised'],
    ['L Lung', {}, 'Lung_L', 'normalised'],
    ['Lung (L)', {}, 'Lung_L', 'normalised'],
    ['LLung', {}, 'Lung_L', 'normalised'],
    ['Lung-Lt', {}, 'Lung_L', 'normalised'],
    ['Rt Lung', {}, 'Lung_R', 'normalised'],
    ['RLung', {}, 'Lung_R', 'normalised'],
    ['lung.right', {}, 'Lung_R', 'normalised'],
    ['Lungs', {}, 'Lungs', 'exact'],
    ['Total Lung', {}, 'Lungs', 'synonym'],
    ['Lung_Total', {}, 'Lungs', 'synonym'],
    ['Both Lungs', {}, 'Lungs', 'synonym'],
    ['Lung', {}, 'Lungs', 'synonym'],
    ['Ipsi Lung', LEFT, 'Lung_L', 'ipsilateral'],
    ['Contralateral Lung', LEFT, 'Lung_R', 'contralateral'],
    // heart and LAD
    ['Heart', {}, 'Heart', 'exact'],
    ['HEART', {}, 'Heart', 'normalised'],
    ['Whole Heart', {}, 'Heart', 'synonym'],
    ['LAD', {}, 'A_LAD', 'synonym'],
    ['LADCA', {}, 'A_LAD', 'synonym'],
    ['A_LAD', {}, 'A_LAD', 'exact'],
    ['Left Anterior Descending', {}, 'A_LAD', 'synonym'],
    ['LAD artery', {}, 'A_LAD', 'synonym'],
    // cord, canal, oesophagus, thyroid and the rest
    ['Cord', {}, 'SpinalCord', 'synonym'],
    ['Spinal Cord', {}, 'SpinalCord', 'normalised'],
    ['SC', {}, 'SpinalCord', 'synonym'],
    ['spinal_cord', {}, 'SpinalCord', 'normalised'],
    ['Spinal Canal', {}, 'SpinalCanal', 'normalised'],
    ['Oesophagus', {}, 'Esophagus', 'synonym'],
    ['Esophagus', {}, 'Esophagus', 'exact'],
    ['Oesoph', {}, 'Esophagus', 'synonym'],
    ['ESOPH', {}, 'Esophagus', 'synonym'],
    ['Thyroid', {}, 'Glnd_Thyroid', 'synonym'],
    ['Thyroid Gland', {}, 'Glnd_Thyroid', 'synonym'],
    ['Trachea', {}, 'Trachea', 'exact'],
    ['Sternum', {}, 'Sternum', 'exact'],
    ['Liver', {}, 'Liver', 'exact'],
    ['stomach', {}, 'Stomach', 'normalised'],
    ['Lt Humerus', {}, 'Humerus_L', 'normalised'],
    ['Humerus R', {}, 'Humerus_R', 'normalised'],
    ['Brachial Plexus L', {}, 'BrachialPlex_L', 'synonym'],
    ['Brachial_Plex_L', {}, 'BrachialPlex_L', 'normalised'],
    ['Rt Brachial Plexus', {}, 'BrachialPlex_R', 'synonym'],
    ['Chestwall_R', {}, 'Chestwall_R', 'exact'],
    // contralateral breast
    ['Contra Breast', LEFT, 'Breast_R', 'contralateral'],
    ['contralateral breast', RIGHT, 'Breast_L', 'contralateral'],
    ['CL Breast', LEFT, 'Breast_R', 'contralateral'],
    ['Breast_Contra', RIGHT, 'Breast_L', 'contralateral'],
    ['Lt Breast', {}, 'Breast_L', 'normalised'],
    // breast and chest-wall targets
    ['CTV Breast', LEFT, 'CTV_Breast_L', 'laterality from case'],
    ['CTVp Breast', RIGHT, 'CTV_Breast_R', 'laterality from case'],
    ['CTV_Breast', LEFT, 'CTV_Breast_L', 'laterality from case'],
    ['Breast CTV', RIGHT, 'CTV_Breast_R', 'laterality from case'],
    ['CTV Breast L', {}, 'CTV_Breast_L', 'normalised'],
    ['ctv_breast_r', LEFT, 'CTV_Breast_R', 'normalised'],
    ['CTV Whole Breast', LEFT, 'CTV_Breast_L', 'laterality from case'],
    ['CTV Chest Wall', LEFT, 'CTV_Chestwall_L', 'laterality from case'],
    ['CW', RIGHT, 'CTV_Chestwall_R', 'laterality from case'],
    ['CTV_CW_L', RIGHT, 'CTV_Chestwall_L', 'synonym'],
    // tumour bed
    ['CTV Tumor Bed', LEFT, 'CTV_TumorBed_L', 'laterality from case'],
    ['CTV_TB', RIGHT, 'CTV_TumorBed_R', 'laterality from case'],
    ['CTVsb', LEFT, 'CTV_TumorBed_L', 'laterality from case'],
    ['CTVsb_R', LEFT, 'CTV_TumorBed_R', 'synonym'],
    ['CTVBreast', RIGHT, 'CTV_Breast_R', 'laterality from case'],
    ['Tumour bed', {}, 'TumorBed', 'synonym'],
    ['Lumpectomy cavity', LEFT, 'TumorBed', 'synonym'],
    // axillary levels
    ['Level I', LEFT, 'CTVn_LN_Ax_L1_L', 'laterality from case'],
    ['Ax L1', RIGHT, 'CTVn_LN_Ax_L1_R', 'laterality from case'],
    ['Axilla I', LEFT, 'CTVn_LN_Ax_L1_L', 'laterality from case'],
    ['Axillary level 2', LEFT, 'CTVn_LN_Ax_L2_L', 'laterality from case'],
    ['Level II', RIGHT, 'CTVn_LN_Ax_L2_R', 'laterality from case'],
    ['AxL3', LEFT, 'CTVn_LN_Ax_L3_L', 'laterality from case'],
    ['Level III Rt', LEFT, 'CTVn_LN_Ax_L3_R', 'synonym'],
    ['Infraclavicular', RIGHT, 'CTVn_LN_Ax_L3_R', 'laterality from case'],
    ['LN_Ax_L1_L', {}, 'CTVn_LN_Ax_L1_L', 'synonym'],
    ['CTVn_LN_Ax_L2', LEFT, 'CTVn_LN_Ax_L2_L', 'laterality from case'],
    ['CTV Ax 1 L', {}, 'CTVn_LN_Ax_L1_L', 'synonym'],
    // supraclavicular and internal mammary
    ['SCF', LEFT, 'CTVn_LN_Sclav_L', 'laterality from case'],
    ['Supraclav', RIGHT, 'CTVn_LN_Sclav_R', 'laterality from case'],
    ['SCV', LEFT, 'CTVn_LN_Sclav_L', 'laterality from case'],
    ['Lt SCF', RIGHT, 'CTVn_LN_Sclav_L', 'synonym'],
    ['LN_Sclav_R', {}, 'CTVn_LN_Sclav_R', 'synonym'],
    ['IMN', LEFT, 'CTVn_LN_IMN_L', 'laterality from case'],
    ['IMC', RIGHT, 'CTVn_LN_IMN_R', 'laterality from case'],
    ['Int Mammary', LEFT, 'CTVn_LN_IMN_L', 'laterality from case'],
    ['Internal Mammary Nodes R', LEFT, 'CTVn_LN_IMN_R', 'synonym'],
    ['CTVn IMN', RIGHT, 'CTVn_LN_IMN_R', 'laterality from case'],
    // generic nodal CTV needs target evidence
    ['CTVn', LEFT, 'CTVn_LN_L', 'laterality from case'],
    ['CTV Nodes', RIGHT, 'CTVn_LN_R', 'laterality from case'],
    [
      'Nodes',
      { laterality: 'left', interpretedType: 'CTV' },
      'CTVn_LN_L',
      'interpreted type + laterality from case',
    ],
  ];

  it('has at least 60 variants', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases)('%s %j -> %s (%s)', (name, options, tg263Name, rule) => {
    expect(normaliseStructureName(name, options)).toEqual({ tg263Name, rule });
  });
});

describe('normaliseStructureName: the breast-dicompyler structure set', () => {
  // ROI names and RT ROI Interpreted Types of ../shared/testdata/dicom/breast-dicompyler/series/rtss.dcm
  // (Eclipse export, left breast), read from its RT ROI Observations Sequence.
  const rois = [
    { name: 'BODY', interpretedType: 'EXTERNAL' },
    { name: 'Areola', interpretedType: 'AVOIDANCE' },
    { name: 'Borders', interpretedType: 'CTV' },
    { name: 'Breast', interpretedType: 'GTV' },
    { name: 'Heart', interpretedType: 'ORGAN' },
    { name: 'Lt Lung', interpretedType: 'AVOIDANCE' },
    { name: 'Nodes', interpretedType: 'AVOIDANCE' },
    { name: 'Scar', interpretedType: 'AVOIDANCE' },
    { name: 'Tumor Bed', interpretedType: 'CTV' },
    { name: 'Tumor Bed Block', interpretedType: 'GTV' },
  ];

  it('maps the clinical structures and leaves the planning helpers unmapped', () => {
    const report = structureReport(rois, LEFT);
    expect(report.mapped).toEqual([
      { name: 'BODY', tg263Name: 'External', rule: 'synonym' },
      { name: 'Breast', tg263Name: 'CTV_Breast_L', rule: 'interpreted type + laterality from case' },
      { name: 'Heart', tg263Name: 'Heart', rule: 'exact' },
      { name: 'Lt Lung', tg263Name: 'Lung_L', rule: 'normalised' },
      { name: 'Tumor Bed', tg263Name: 'CTV_TumorBed_L', rule: 'interpreted type + laterality from case' },
    ]);
    expect(report.unmapped).toEqual(['Areola', 'Borders', 'Nodes', 'Scar', 'Tumor Bed Block']);
    expect(report.duplicates).toEqual([]);
  });

  it('keeps DICOM trailing padding out of the way', () => {
    expect(normaliseStructureName('Heart ', LEFT)).toEqual({ tg263Name: 'Heart', rule: 'exact' });
    expect(mapped('Lt Lung ', LEFT)).toBe('Lung_L');
  });

  it('reads a plain Breast by its interpreted type', () => {
    expect(mapped('Breast', { laterality: 'left', interpretedType: 'CTV' })).toBe('CTV_Breast_L');
    expect(mapped('Breast', { laterality: 'left', interpretedType: 'GTV' })).toBe('CTV_Breast_L');
    expect(mapped('Breast', { laterality: 'left', interpretedType: 'ORGAN' })).toBe('Breast_L');
    expect(mapped('Breast', { laterality: 'right', interpretedType: 'AVOIDANCE' })).toBe('Breast_R');
    // no type: the side-less breast of a plan is the treated breast's target
    expect(normaliseStructureName('Breast', LEFT)).toEqual({
      tg263Name: 'CTV_Breast_L',
      rule: 'laterality from case',
    });
    // PTV is not catalogued: null, never the CTV
    expect(mapped('Breast', { laterality: 'left', interpretedType: 'PTV' })).toBeNull();
    expect(mapped('Breast', { interpretedType: 'CTV' })).toBeNull();
    expect(mapped('Breast')).toBeNull();
  });

  it('lets a target type turn an organ-named breast with a side into its CTV', () => {
    expect(normaliseStructureName('Breast L', { interpretedType: 'CTV' })).toEqual({
      tg263Name: 'CTV_Breast_L',
      rule: 'interpreted type',
    });
    expect(mapped('Breast_R', { laterality: 'left', interpretedType: 'ctv' })).toBe('CTV_Breast_R');
    expect(mapped('Breast_R', { laterality: 'left', interpretedType: 'ORGAN' })).toBe('Breast_R');
  });

  it('reads Nodes only as a nodal CTV, and only when the interpreted type says CTV', () => {
    expect(mapped('Nodes', LEFT)).toBeNull();
    expect(mapped('Nodes', { laterality: 'left', interpretedType: 'AVOIDANCE' })).toBeNull();
    expect(mapped('Nodes', { laterality: 'left', interpretedType: 'GTV' })).toBeNull();
    expect(mapped('Nodes', { laterality: 'left', interpretedType: 'ORGAN' })).toBeNull();
    expect(mapped('Nodes', { laterality: 'right', interpretedType: 'CTV' })).toBe('CTVn_LN_R');
    expect(mapped('Nodes', { interpretedType: 'CTV' })).toBeNull();
  });

  it('reads the tumour bed as the cavity unless a CTV prefix or type makes it the boost CTV', () => {
    expect(normaliseStructureName('Tumor Bed', LEFT)).toEqual({ tg263Name: 'TumorBed', rule: 'normalised' });
    expect(mapped('Tumor Bed', { laterality: 'left', interpretedType: 'GTV' })).toBe('TumorBed');
    expect(mapped('Tumor Bed', { laterality: 'right', interpretedType: 'CTV' })).toBe('CTV_TumorBed_R');
    expect(mapped('Tumor Bed L', { laterality: 'right' })).toBe('TumorBed');
    expect(mapped('CTV Tumor Bed')).toBeNull();
  });
});

describe('normaliseStructureName: unmapped helpers', () => {
  it.each([
    'Tumor Bed Block',
    'Borders',
    'Scar',
    'Areola',
    'Ring',
    'PTV_Ring',
    'opt PTV',
    'optCTV',
    'Avoid Heart',
    'Heart_avoid',
    'z_Heart',
    'zHeart',
    'ZLung_L',
    '_Lung_L',
    'Lung_L~',
    'Heart^Ex',
    'Bolus',
    'Wire',
    'Nipple',
    'Couch',
    'Dose 95%',
    'Heart_PRV',
    'PRV_Cord',
    'Cord PRV5',
    'SpinalCord_PRV05',
    '',
    '   ',
  ])('%j -> null', (name) => {
    expect(normaliseStructureName(name, LEFT)).toBeNull();
  });
});

describe('normaliseStructureName: site aliases', () => {
  const aliases = new Map([
    [aliasKey('Mama Izq'), 'Breast_L'],
    [aliasKey('zHerz'), 'Heart'],
    [aliasKey('Lt Lung'), 'Lung_R'],
    [aliasKey('GL Axila 1'), 'CTVn_LN_Ax_L1_L'],
  ]);

  it('maps names the built-in rules do not know', () => {
    expect(mapped('Mama Izq')).toBeNull();
    expect(normaliseStructureName('Mama Izq', { aliases })).toEqual({
      tg263Name: 'Breast_L',
      rule: 'site alias',
    });
    expect(mapped('GL_Axila_1', { aliases })).toBe('CTVn_LN_Ax_L1_L');
    expect(mapped('GL_Axila_1')).toBeNull();
  });

  it('takes precedence over built-in rules, helper prefixes included', () => {
    expect(normaliseStructureName('LUNG_L', { aliases })).toEqual({
      tg263Name: 'Lung_R',
      rule: 'site alias',
    });
    expect(mapped('zHerz', { aliases })).toBe('Heart');
    expect(mapped('zHerz')).toBeNull();
    expect(mapped('Lt Lung')).toBe('Lung_L');
  });

  it('looks up the normalised key, so separators and case do not matter', () => {
    expect(mapped('MAMA_IZQ', { aliases })).toBe('Breast_L');
    expect(mapped('mama-izq.', { aliases })).toBe('Breast_L');
  });
});

describe('normaliseStructureName: laterality', () => {
  it('resolves contralateral and ipsilateral from the treated side and is null without it', () => {
    expect(mapped('Contra Breast', LEFT)).toBe('Breast_R');
    expect(mapped('Contra Breast', RIGHT)).toBe('Breast_L');
    expect(mapped('Ipsilateral Breast', LEFT)).toBe('Breast_L');
    expect(mapped('Contra Breast')).toBeNull();
    expect(mapped('Contra Breast', { laterality: null })).toBeNull();
    expect(mapped('Contralateral Breast', { interpretedType: 'CTV' })).toBeNull();
  });

  it('never lets a target interpreted type make the contralateral breast a target', () => {
    expect(mapped('Contra Breast', { laterality: 'left', interpretedType: 'CTV' })).toBe('Breast_R');
  });

  it('lets the side written in the name win over the treated side', () => {
    expect(mapped('CTV Breast R', LEFT)).toBe('CTV_Breast_R');
    expect(mapped('SCF Lt', RIGHT)).toBe('CTVn_LN_Sclav_L');
    expect(mapped('Breast_L', RIGHT)).toBe('Breast_L');
  });

  it('is null for side-less targets when the treated side is unknown', () => {
    for (const name of ['CTV Breast', 'SCF', 'Level I', 'IMN', 'CW', 'CTVn']) expect(mapped(name)).toBeNull();
  });

  it('is null for two different sides and for a side on an unpaired organ', () => {
    expect(mapped('Lung L R')).toBeNull();
    expect(mapped('Contra Lt Breast', LEFT)).toBeNull();
    expect(mapped('Heart L')).toBeNull();
    expect(mapped('Contra Heart', LEFT)).toBeNull();
    expect(mapped('Lt Esophagus')).toBeNull();
  });

  it('does not guess the side of a paired organ from the treated side', () => {
    expect(mapped('Humerus', LEFT)).toBeNull();
    expect(mapped('Brachial Plexus', RIGHT)).toBeNull();
    expect(mapped('Lung', LEFT)).toBe('Lungs');
  });
});

describe('normaliseStructureName: no false positives', () => {
  it('keeps left and right apart', () => {
    expect(mapped('Lung_L')).toBe('Lung_L');
    expect(mapped('Lung_L')).not.toBe('Lung_R');
    expect(mapped('Lung_R')).toBe('Lung_R');
    expect(mapped('LUNG_R', LEFT)).toBe('Lung_R');
    expect(mapped('Breast_R', LEFT)).toBe('Breast_R');
    expect(mapped('CTVn_LN_Ax_L1_R', LEFT)).toBe('CTVn_LN_Ax_L1_R');
  });

  it('does not map derived, partial, dose-labelled or uncatalogued targets', () => {
    for (const name of [
      'Lungs-PTV',
      'Lung_L-CTV',
      'Heart+Pericardium',
      'PTV Breast L',
      'PTV_SCF',
      'GTV Breast',
      'CTVn Breast',
      'CTVp SCF',
      'CTV',
      'CTVp',
      'CTV_Breast_L_4005',
      'CTV1 Breast',
      'CTV Breast PTV',
      'Breasts',
      'LN_IMNs',
      'Level IV',
      'Heart_Ventricle_L',
      'Cartlg_Thyroid',
      'Humeral Head L',
      'Skin 5mm',
      'Left',
      'Lt',
    ]) {
      expect(mapped(name, LEFT), name).toBeNull();
    }
  });
});

describe('structureReport', () => {
  it('accepts plain names and reports ROIs that claim the same structure', () => {
    const report = structureReport(['Lung_L', 'Lt Lung', 'Heart', 'Ring'], RIGHT);
    expect(report.mapped.map((m) => m.tg263Name)).toEqual(['Lung_L', 'Lung_L', 'Heart']);
    expect(report.unmapped).toEqual(['Ring']);
    expect(report.duplicates).toEqual([{ tg263Name: 'Lung_L', names: ['Lung_L', 'Lt Lung'] }]);
  });

  it('lets a per-ROI interpreted type override the option', () => {
    const report = structureReport(['Breast', { name: 'Nodes', interpretedType: 'CTV' }], {
      laterality: 'left',
      interpretedType: 'ORGAN',
    });
    expect(report.mapped).toEqual([
      { name: 'Breast', tg263Name: 'Breast_L', rule: 'interpreted type + laterality from case' },
      { name: 'Nodes', tg263Name: 'CTVn_LN_L', rule: 'interpreted type + laterality from case' },
    ]);
  });

  it('gives empty lists for no names', () => {
    expect(structureReport([], LEFT)).toEqual({ mapped: [], unmapped: [], duplicates: [] });
  });
});
