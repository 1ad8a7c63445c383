import { describe, expect, it } from 'vitest';
import {
  buildDatasetJson,
  buildExportReport,
  caseIdentifiers,
  caseOverlap,
  createLabelMap,
  datasetFolderName,
  defaultDatasetName,
  numberLabels,
  paintStructure,
  type LabelEntry,
} from './nnunet-dataset';

describe('dataset and case names', () => {
  it('formats Dataset<ID3>_<Name> and refuses bad ids and names', () => {
    expect(datasetFolderName(501, 'Breast_v1')).toBe('Dataset501_Breast_v1');
    expect(datasetFolderName(7, 'x')).toBe('Dataset007_x');
    expect(() => datasetFolderName(0, 'x')).toThrow(/dataset id 0: expected a whole number from 1 to 999/);
    expect(() => datasetFolderName(1000, 'x')).toThrow(/dataset id 1000/);
    expect(() => datasetFolderName(1.5, 'x')).toThrow(/dataset id 1.5/);
    expect(() => datasetFolderName(501, 'a b')).toThrow(/dataset name "a b"/);
    expect(() => datasetFolderName(501, '_x')).toThrow(/starting with a letter or digit/);
    expect(() => datasetFolderName(501, '../x')).toThrow(/dataset name/);
  });

  it('derives a safe default name from the cohort and version', () => {
    expect(defaultDatasetName('left ESTRO', 2)).toBe('left_ESTRO_v2');
    expect(defaultDatasetName('  Zürich / 2025 (pilot) ', 1)).toBe('Zurich_2025_pilot_v1');
    expect(defaultDatasetName('日本', 3)).toBe('Cohort_v3');
    const long = defaultDatasetName('a'.repeat(100), 123);
    expect(long).toBe(`${'a'.repeat(48)}_v123`);
    expect(datasetFolderName(501, long)).toMatch(/^Dataset501_a+_v123$/);
  });

  it('numbers cases in pseudonym order, then site, never by id', () => {
    const ids = caseIdentifiers('DS', [
      { caseId: 1, pseudonym: 'b', site: 'A' },
      { caseId: 2, pseudonym: 'B', site: 'A' },
      { caseId: 3, pseudonym: 'a', site: 'Z' },
      { caseId: 4, pseudonym: 'a', site: 'M' },
    ]);
    expect(ids.map((c) => [c.caseId, c.identifier])).toEqual([
      [2, 'DS_001'],
      [4, 'DS_002'],
      [3, 'DS_003'],
      [1, 'DS_004'],
    ]);
    const many = caseIdentifiers(
      'X',
      Array.from({ length: 1000 }, (_, n) => ({
        caseId: n,
        pseudonym: `p${String(n).padStart(4, '0')}`,
        site: 'S',
      })),
    );
    expect(many[0]!.identifier).toBe('X_0001');
    expect(many[999]!.identifier).toBe('X_1000');
  });
});

describe('label numbering', () => {
  it('numbers by decreasing median volume, ties by name, structures without volume last', () => {
    const labels = numberLabels([
      { structure: 'A_LAD', volumesCc: [1.5, 2.5, 2] },
      { structure: 'External', volumesCc: [20000, 18000] },
      { structure: 'Heart', volumesCc: [600, 650, 500, 700] },
      { structure: 'Lung_L', volumesCc: [1200] },
      { structure: 'Lung_R', volumesCc: [1100, 1300] },
      { structure: 'Esophagus', volumesCc: [] },
    ]);
    expect(labels).toEqual([
      { value: 1, structure: 'External', medianVolumeCc: 19000, references: 2 },
      { value: 2, structure: 'Lung_L', medianVolumeCc: 1200, references: 1 },
      { value: 3, structure: 'Lung_R', medianVolumeCc: 1200, references: 2 },
      { value: 4, structure: 'Heart', medianVolumeCc: 625, references: 4 },
      { value: 5, structure: 'A_LAD', medianVolumeCc: 2, references: 3 },
      { value: 6, structure: 'Esophagus', medianVolumeCc: null, references: 0 },
    ]);
    expect(() =>
      numberLabels([
        { structure: 'Heart', volumesCc: [1] },
        { structure: 'Heart', volumesCc: [2] },
      ]),
    ).toThrow(RangeError);
  });
});

describe('painting the label map', () => {
  const mask = (...voxels: number[]) => Uint8Array.from(voxels);

  it('lets the later (smaller) structure win and counts what each lost', () => {
    const map = createLabelMap(3, 8);
    expect(map).toBeInstanceOf(Uint8Array);
    const lost: number[] = [];
    expect(paintStructure(map, 1, mask(1, 1, 1, 1, 1, 1, 0, 0), lost)).toBe(6); // External
    expect(paintStructure(map, 2, mask(0, 1, 1, 1, 0, 0, 0, 1), lost)).toBe(4); // Heart, one voxel outside
    expect(paintStructure(map, 3, mask(0, 0, 2, 1, 1, 0, 0, 0), lost)).toBe(3); // A_LAD, mask value 2 counts
    expect(Array.from(map)).toEqual([1, 2, 3, 3, 3, 1, 0, 2]);
    expect(lost).toEqual([undefined, 4, 2]); // External keeps voxels 0 and 5 of 6; Heart keeps 1 and 7 of 4
  });

  it('uses uint16 above 255 labels and refuses out-of-order painting or another grid', () => {
    expect(createLabelMap(255, 1)).toBeInstanceOf(Uint8Array);
    expect(createLabelMap(256, 1)).toBeInstanceOf(Uint16Array);
    const wide = createLabelMap(300, 2);
    expect(paintStructure(wide, 300, mask(1, 0), [])).toBe(1);
    expect(wide[0]).toBe(300);
    const map = createLabelMap(2, 2);
    paintStructure(map, 2, mask(1, 0), []);
    expect(() => paintStructure(map, 1, mask(1, 1), [])).toThrow(/label 1 painted after label 2/);
    expect(() => paintStructure(map, 1, mask(1), [])).toThrow(/mask has 1 voxels, the label map 2/);
    expect(() => paintStructure(map, 256, mask(1, 1), [])).toThrow(/label 256 does not fit/);
  });
});

describe('dataset.json and the export report', () => {
  const labels: LabelEntry[] = [
    { value: 1, structure: 'Heart', medianVolumeCc: 600, references: 2 },
    { value: 2, structure: 'A_LAD', medianVolumeCc: 2, references: 1 },
  ];

  it('builds the nnU-Net fields and the provenance', () => {
    const json = buildDatasetJson({
      folder: 'Dataset501_c_v1',
      cohort: {
        name: 'c',
        version: 1,
        contentSha256: 'f'.repeat(64),
        referencePolicy: { default: { kind: 'staple' }, structures: {} },
        frozenAt: '2026-01-01T00:00:00.000Z',
        note: 'n',
      },
      labels,
      excluded: ['External'],
      cases: [
        {
          caseId: 9,
          pseudonym: 'P1',
          site: 'A',
          identifier: 'c_v1_001',
          ctSha256: 'c'.repeat(64),
          references: [
            { structure: 'Heart', contourSetId: 4, maskSha256: 'a'.repeat(64) },
            { structure: 'A_LAD', contourSetId: 5, maskSha256: 'b'.repeat(64) },
          ],
          missing: [],
        },
        {
          caseId: 10,
          pseudonym: 'P2',
          site: 'A',
          identifier: 'c_v1_002',
          ctSha256: 'd'.repeat(64),
          references: [{ structure: 'Heart', contourSetId: 6, maskSha256: 'e'.repeat(64) }],
          missing: ['A_LAD'],
        },
      ],
      exportedAt: '2026-02-02T00:00:00.000Z',
    });
    expect(json).toMatchObject({
      channel_names: { '0': 'CT' },
      labels: { background: 0, Heart: 1, A_LAD: 2 },
      numTraining: 2,
      file_ending: '.nii.gz',
      name: 'Dataset501_c_v1',
    });
    expect(Object.keys(json.labels)).toEqual(['background', 'Heart', 'A_LAD']);
    const p = json.contourbench;
    expect(p).toMatchObject({
      cohort: 'c',
      version: 1,
      content_sha256: 'f'.repeat(64),
      exported_at: '2026-02-02T00:00:00.000Z',
      excluded_structures: ['External'],
      label_maps: "uint8 on the grid and affine of the case's CT",
    });
    expect(p.overlap_rule).toContain('the voxel takes the highest label');
    expect(p.paint_order).toEqual([
      { label: 1, structure: 'Heart', median_volume_cc: 600, references: 2 },
      { label: 2, structure: 'A_LAD', median_volume_cc: 2, references: 1 },
    ]);
    expect(p.cases[1]).toEqual({
      identifier: 'c_v1_002',
      pseudonym: 'P2',
      site: 'A',
      image: 'imagesTr/c_v1_002_0000.nii.gz',
      label: 'labelsTr/c_v1_002.nii.gz',
      ct_sha256: 'd'.repeat(64),
      references: { Heart: { contour_set_id: 6, mask_sha256: 'e'.repeat(64) } },
      missing: ['A_LAD'],
    });
  });

  it('reports per case and in total the reference and lost voxels, and the missing references', () => {
    const first = caseOverlap(
      'c_001',
      labels,
      new Map([
        ['Heart', 10],
        ['A_LAD', 3],
      ]),
      [0, 2],
      [],
    );
    const second = caseOverlap('c_002', labels, new Map([['Heart', 7]]), [], ['A_LAD']);
    expect(first).toEqual({
      identifier: 'c_001',
      referenceVoxels: { Heart: 10, A_LAD: 3 },
      lostVoxels: { Heart: 2, A_LAD: 0 },
      missing: [],
    });
    const report = buildExportReport('Dataset501_c', labels, [first, second]);
    expect(report.totals).toEqual({
      reference_voxels: { Heart: 17, A_LAD: 3 },
      lost_voxels: { Heart: 2, A_LAD: 0 },
    });
    expect(report.missing).toEqual([{ case: 'c_002', structure: 'A_LAD' }]);
    expect(report.missing_rule).toContain('as background');
    expect(report.cases[1]).toEqual({
      identifier: 'c_002',
      reference_voxels: { Heart: 7 },
      lost_voxels: { Heart: 0 },
      missing: ['A_LAD'],
    });
  });
});
