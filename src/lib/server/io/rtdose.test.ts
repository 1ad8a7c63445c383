import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../core/errors';
import { encodeDicomFile, type DicomElement } from './dicom/writer';
import { readRtDose, readRtPlanPrescription, RT_DOSE_STORAGE, RT_PLAN_STORAGE, rtTags } from './rtdose';

const SOURCE = 'case-7/RD.1.dcm';

/**
 * A small RT Dose: 3 columns x 2 rows x 4 frames, stored values 0..23 (frame f holds 6f .. 6f + 5) with
 * the given pixel encoding; `changes` replaces (or, with null, removes) elements by tag.
 */
function rtDose(
  options: { bits?: 16 | 32; signed?: boolean; values?: number[] } = {},
  changes: Record<number, DicomElement['value'] | null> = {},
): Uint8Array {
  const bits = options.bits ?? 32;
  const values = options.values ?? Array.from({ length: 24 }, (_, n) => n);
  const pixels = new Uint8Array(values.length * (bits / 8));
  const view = new DataView(pixels.buffer);
  values.forEach((v, n) => {
    if (bits === 32) {
      if (options.signed) view.setInt32(n * 4, v, true);
      else view.setUint32(n * 4, v, true);
    } else if (options.signed) view.setInt16(n * 2, v, true);
    else view.setUint16(n * 2, v, true);
  });
  const elements: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: RT_DOSE_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.5.6' },
    { tag: 0x00080060, vr: 'CS', value: 'RTDOSE' },
    { tag: 0x00200052, vr: 'UI', value: '1.2.3.4.5.99' },
    { tag: 0x00200032, vr: 'DS', value: [-10, 20, -100] },
    { tag: 0x00200037, vr: 'DS', value: [1, 0, 0, 0, 1, 0] },
    { tag: 0x00280030, vr: 'DS', value: [2, 2.5] },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280008, vr: 'IS', value: [4] },
    { tag: 0x00280010, vr: 'US', value: [2] },
    { tag: 0x00280011, vr: 'US', value: [3] },
    { tag: 0x00280100, vr: 'US', value: [bits] },
    { tag: 0x00280101, vr: 'US', value: [bits] },
    { tag: 0x00280102, vr: 'US', value: [bits - 1] },
    { tag: 0x00280103, vr: 'US', value: [options.signed ? 1 : 0] },
    { tag: 0x7fe00010, vr: 'OW', value: pixels },
    { tag: rtTags.doseUnits, vr: 'CS', value: 'GY' },
    { tag: rtTags.doseType, vr: 'CS', value: options.signed ? 'ERROR' : 'PHYSICAL' },
    { tag: rtTags.doseSummationType, vr: 'CS', value: 'PLAN' },
    { tag: rtTags.gridFrameOffsetVector, vr: 'DS', value: [0, 3, 6, 9] },
    { tag: rtTags.doseGridScaling, vr: 'DS', value: [0.5] },
  ];
  const changed = elements
    .filter((e) => !(e.tag in changes) || changes[e.tag] !== null)
    .map((e) => (e.tag in changes ? { ...e, value: changes[e.tag]! } : e));
  for (const [tag, value] of Object.entries(changes)) {
    if (value !== null && !elements.some((e) => e.tag === Number(tag))) {
      changed.push({ tag: Number(tag), vr: 'SQ', value: value as DicomElement[][] });
    }
  }
  return encodeDicomFile(changed);
}

/** The error readRtDose throws, as { code, message }. */
function failure(bytes: Uint8Array): { code: string; message: string } {
  try {
    readRtDose(bytes, SOURCE);
  } catch (error) {
    if (isAppError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('readRtDose did not throw');
}

describe('readRtDose', () => {
  it('reads frames, geometry and Gy from stored value x Dose Grid Scaling', () => {
    const rd = readRtDose(rtDose(), SOURCE);
    expect(rd.dose.dims).toEqual([3, 2, 4]);
    // Pixel Spacing is row spacing \ column spacing: i (along a row) steps 2.5 mm, j 2 mm
    expect(rd.dose.spacingMm).toEqual([2.5, 2, 3]);
    expect(Array.from(rd.dose.affineIjkToLps)).toEqual([
      2.5, 0, 0, -10, 0, 2, 0, 20, 0, 0, 3, -100, 0, 0, 0, 1,
    ]);
    expect(Array.from(rd.dose.data)).toEqual(Array.from({ length: 24 }, (_, n) => n * 0.5));
    expect(rd).toMatchObject({
      frameOfReferenceUid: '1.2.3.4.5.99',
      sopInstanceUid: '1.2.3.4.5.6',
      doseType: 'PHYSICAL',
      summationType: 'PLAN',
      referencedPlanSopInstanceUid: null,
      maxGy: 11.5,
      warnings: [],
    });
  });

  it('reads 16-bit unsigned and two-complement pixels', () => {
    const unsigned = readRtDose(
      rtDose({ bits: 16, values: Array.from({ length: 24 }, (_, n) => 60000 + n) }),
      SOURCE,
    );
    expect(unsigned.dose.data[23]).toBe(30011.5);
    const signed = readRtDose(
      rtDose({ bits: 16, signed: true, values: Array.from({ length: 24 }, (_, n) => n - 12) }),
      SOURCE,
    );
    expect(signed.doseType).toBe('ERROR');
    expect(signed.dose.data[0]).toBe(-6);
    expect(signed.maxGy).toBe(5.5);
    const signed32 = readRtDose(
      rtDose({ bits: 32, signed: true, values: Array.from({ length: 24 }, (_, n) => -n) }),
      SOURCE,
    );
    expect(signed32.dose.data[5]).toBe(-2.5);
  });

  it('takes absolute z offsets (first value = Image Position z) the same as relative ones', () => {
    const absolute = readRtDose(
      rtDose({}, { [rtTags.gridFrameOffsetVector]: [-100, -97, -94, -91] }),
      SOURCE,
    );
    const relative = readRtDose(rtDose(), SOURCE);
    expect(Array.from(absolute.dose.affineIjkToLps)).toEqual(Array.from(relative.dose.affineIjkToLps));
    expect(Array.from(absolute.dose.data)).toEqual(Array.from(relative.dose.data));
  });

  it('orders frames along the normal: decreasing and unsorted offsets give the same volume', () => {
    const decreasing = readRtDose(rtDose({}, { [rtTags.gridFrameOffsetVector]: [0, -3, -6, -9] }), SOURCE);
    // the file's last frame (offset -9, values 18..23) is at the bottom
    expect(decreasing.dose.affineIjkToLps[11]).toBe(-109);
    expect(decreasing.dose.spacingMm[2]).toBe(3);
    expect(Array.from(decreasing.dose.data.subarray(0, 6))).toEqual([9, 9.5, 10, 10.5, 11, 11.5]);
    expect(Array.from(decreasing.dose.data.subarray(18))).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    const unsorted = readRtDose(rtDose({}, { [rtTags.gridFrameOffsetVector]: [0, 6, 3, 9] }), SOURCE);
    expect(Array.from(unsorted.dose.data.subarray(6, 12))).toEqual([6, 6.5, 7, 7.5, 8, 8.5]);
  });

  it('places frames of a non-axial grid along its own normal', () => {
    // sagittal: rows run posterior (+y), columns inferior (-z); the normal row x column is -x
    const sagittal = readRtDose(rtDose({}, { 0x00200037: [0, 1, 0, 0, 0, -1] }), SOURCE);
    const a = sagittal.dose.affineIjkToLps;
    expect([a[0], a[4], a[8]]).toEqual([0, 2.5, 0]);
    expect([a[1], a[5], a[9]]).toEqual([0, 0, -2]);
    expect([a[2], a[6], a[10]]).toEqual([-3, 0, 0]);
  });

  it('names the file and the tag in every refusal', () => {
    const cases: Array<[string, Uint8Array, RegExp]> = [
      [
        'relative dose',
        rtDose({}, { [rtTags.doseUnits]: 'RELATIVE' }),
        /Dose Units \(3004,0002\) is RELATIVE/,
      ],
      ['unknown units', rtDose({}, { [rtTags.doseUnits]: 'CGY' }), /\(3004,0002\) is "CGY", expected GY/],
      ['no scaling', rtDose({}, { [rtTags.doseGridScaling]: null }), /Dose Grid Scaling \(3004,000E\)/],
      ['zero scaling', rtDose({}, { [rtTags.doseGridScaling]: [0] }), /\(3004,000E\) is 0/],
      [
        'non-uniform frames',
        rtDose({}, { [rtTags.gridFrameOffsetVector]: [0, 3, 6, 10] }),
        /\(3004,000C\) is not uniform/,
      ],
      [
        'offsets neither relative nor absolute',
        rtDose({}, { [rtTags.gridFrameOffsetVector]: [5, 8, 11, 14] }),
        /\(3004,000C\) starts at 5/,
      ],
      [
        'offsets for other frames',
        rtDose({}, { [rtTags.gridFrameOffsetVector]: [0, 3] }),
        /\(3004,000C\) has 2 values for 4 frames/,
      ],
      [
        'two frames in one place',
        rtDose({}, { [rtTags.gridFrameOffsetVector]: [0, 3, 3, 6] }),
        /\(3004,000C\) places two frames/,
      ],
      ['8-bit pixels', rtDose({}, { 0x00280100: [8] }), /Bits Allocated \(0028,0100\) is 8/],
      ['not a dose', rtDose({}, { 0x00080060: 'CT' }), /Modality \(0008,0060\) is CT, expected RTDOSE/],
      ['no frame of reference', rtDose({}, { 0x00200052: null }), /Frame of Reference UID \(0020,0052\)/],
      ['unknown dose type', rtDose({}, { [rtTags.doseType]: 'BIOLOGICAL' }), /Dose Type \(3004,0004\)/],
      [
        'too few pixels',
        rtDose({ values: Array.from({ length: 20 }, (_, n) => n) }),
        /Pixel Data \(7FE0,0010\) has 80 bytes/,
      ],
    ];
    for (const [what, bytes, pattern] of cases) {
      const { code, message } = failure(bytes);
      expect(code, what).toBe('INVALID_INPUT');
      expect(message, what).toMatch(pattern);
      expect(message.startsWith(`${SOURCE}: `), what).toBe(true);
    }
  });

  it('refuses a truncated file naming it', () => {
    const bytes = rtDose();
    for (const length of [bytes.length - 7, 300, 100]) {
      const { code, message } = failure(bytes.subarray(0, length));
      expect(code).toBe('INVALID_INPUT');
      expect(message).toContain(SOURCE);
    }
  });

  it('reads the referenced plan', () => {
    const rd = readRtDose(
      rtDose(
        {},
        {
          [rtTags.referencedRtPlanSequence]: [
            [
              { tag: 0x00081150, vr: 'UI', value: RT_PLAN_STORAGE },
              { tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5.7' },
            ],
          ],
        },
      ),
      SOURCE,
    );
    expect(rd.referencedPlanSopInstanceUid).toBe('1.2.3.4.5.7');
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v dcmconv']).status !== 0)(
    'reads an implicit VR little endian file the same (skipped without dcmtk)',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-rtdose-'));
      try {
        const explicit = path.join(dir, 'explicit.dcm');
        const implicit = path.join(dir, 'implicit.dcm');
        await writeFile(
          explicit,
          rtDose(
            {},
            { [rtTags.referencedRtPlanSequence]: [[{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5.7' }]] },
          ),
        );
        const run = spawnSync('dcmconv', ['+ti', explicit, implicit], { encoding: 'utf8' });
        expect(run.status, run.stderr).toBe(0);
        const a = readRtDose(await readFile(explicit), explicit);
        const b = readRtDose(await readFile(implicit), implicit);
        expect(Array.from(b.dose.data)).toEqual(Array.from(a.dose.data));
        expect(Array.from(b.dose.affineIjkToLps)).toEqual(Array.from(a.dose.affineIjkToLps));
        expect(b.referencedPlanSopInstanceUid).toBe('1.2.3.4.5.7');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('readRtPlanPrescription', () => {
  const plan = (doseReferences: DicomElement[][], fractionGroups: DicomElement[][]) =>
    encodeDicomFile([
      { tag: 0x00080016, vr: 'UI', value: RT_PLAN_STORAGE },
      { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.5.7' },
      { tag: 0x00080060, vr: 'CS', value: 'RTPLAN' },
      { tag: rtTags.doseReferenceSequence, vr: 'SQ', value: doseReferences },
      { tag: rtTags.fractionGroupSequence, vr: 'SQ', value: fractionGroups },
    ]);

  it('reads the target prescription dose and the planned fractions', () => {
    const bytes = plan(
      [
        [
          { tag: rtTags.doseReferenceType, vr: 'CS', value: 'ORGAN_AT_RISK' },
          { tag: rtTags.targetPrescriptionDose, vr: 'DS', value: [20] },
        ],
        [
          { tag: rtTags.doseReferenceType, vr: 'CS', value: 'TARGET' },
          { tag: rtTags.targetPrescriptionDose, vr: 'DS', value: [40.05] },
        ],
      ],
      [[{ tag: rtTags.numberOfFractionsPlanned, vr: 'IS', value: [15] }]],
    );
    expect(readRtPlanPrescription(bytes, 'RP.dcm')).toEqual({
      sopInstanceUid: '1.2.3.4.5.7',
      prescriptionGy: 40.05,
      fractions: 15,
    });
  });

  it('gives null for what the plan does not say, and refuses other objects naming the file', () => {
    expect(readRtPlanPrescription(plan([], []), 'RP.dcm')).toMatchObject({
      prescriptionGy: null,
      fractions: null,
    });
    expect(() => readRtPlanPrescription(rtDose(), 'RD.dcm')).toThrow(
      /^RD\.dcm: Modality \(0008,0060\) is RTDOSE/,
    );
  });
});
