import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisAlignedAffine, gridAffine, type Vec3, type Volume } from '../../core/volume/volume';
import { dciodvfy } from '../../../../test/helpers/dciodvfy';
import { getBytes, getNumbers, getString, parseDicom, tags } from './dicom/parser';
import { readRtDose, RT_DOSE_STORAGE, rtTags } from './rtdose';
import { doseGridScaling, writeRtDose, writeRtDoseFile, type RtDoseInput } from './rtdose-writer';

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

const hasDciodvfy = commandExists('dciodvfy');
const hasPlastimatch = commandExists('plastimatch');
const hasDcmdump = commandExists('dcmdump');

/** A smooth dose with a hot spot: values from 0 to about 42 Gy, none negative. */
function sampleDose(dims: Vec3, spacingMm: Vec3, affine: Float64Array): Volume<Float32Array> {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const r2 = (i - nx / 2) ** 2 + (j - ny / 3) ** 2 + (k - nz / 2) ** 2;
        data[i + nx * (j + ny * k)] = 42 * Math.exp(-r2 / 60) + (i === 0 ? 0 : 0.001 * i);
      }
    }
  }
  return { data, dims, spacingMm, affineIjkToLps: affine };
}

const base = (dose: Volume<Float32Array>): RtDoseInput => ({
  dose,
  frameOfReferenceUid: '1.2.826.0.1.3680043.2.1125.1.1',
  patient: { patientName: 'DOSE^TEST', patientId: 'RD-1', patientBirthDate: '', patientSex: 'F' },
  study: {
    studyInstanceUid: '1.2.826.0.1.3680043.2.1125.1.2',
    studyDate: '20250602',
    studyTime: '093000',
    studyId: 'RD-1',
    accessionNumber: 'ARD-1',
    referringPhysicianName: '',
  },
  sopInstanceUid: '1.2.826.0.1.3680043.2.1125.1.3',
  seriesInstanceUid: '1.2.826.0.1.3680043.2.1125.1.4',
  createdAt: new Date(2025, 5, 2, 10, 0, 0),
});

const dims: Vec3 = [24, 18, 11];
const spacing: Vec3 = [2.5, 2.5, 3];
const dose = sampleDose(dims, spacing, axisAlignedAffine(spacing, [-30.25, -210, -140]));

/** The largest difference between two dose arrays. */
function maxDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let n = 0; n < a.length; n++) worst = Math.max(worst, Math.abs(a[n] - b[n]));
  return worst;
}

let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-rtdose-'));
  file = path.join(dir, 'RD.dcm');
  await writeRtDoseFile(file, {
    ...base(dose),
    referencedPlanSopInstanceUid: '1.2.826.0.1.3680043.2.1125.1.9',
  });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('writeRtDose', () => {
  it('writes an RT Dose IOD: 32-bit unsigned frames, GY, PHYSICAL, PLAN, relative offsets and the plan', async () => {
    const ds = parseDicom(await readFile(file), file).dataset;
    expect(getString(ds, tags.sopClassUid)).toBe(RT_DOSE_STORAGE);
    expect(getString(ds, tags.modality)).toBe('RTDOSE');
    expect(getString(ds, rtTags.doseUnits)).toBe('GY');
    expect(getString(ds, rtTags.doseType)).toBe('PHYSICAL');
    expect(getString(ds, rtTags.doseSummationType)).toBe('PLAN');
    expect(getNumbers(ds, tags.numberOfFrames)).toEqual([11]);
    expect(getNumbers(ds, rtTags.gridFrameOffsetVector)).toEqual(Array.from({ length: 11 }, (_, k) => 3 * k));
    expect(getNumbers(ds, tags.imagePositionPatient)).toEqual([-30.25, -210, -140]);
    expect(getNumbers(ds, tags.pixelSpacing)).toEqual([2.5, 2.5]);
    expect(getBytes(ds, tags.pixelData)!.length).toBe(24 * 18 * 11 * 4);
    expect(ds.elements.get(tags.pixelData)!.vr).toBe('OW');
    expect(getString(ds, tags.frameOfReferenceUid)).toBe('1.2.826.0.1.3680043.2.1125.1.1');
  });

  it('reads back with readRtDose to the same grid and values within the scaling quantum', async () => {
    const back = readRtDose(await readFile(file), file);
    const scaling = doseGridScaling(42);
    expect(back.dose.dims).toEqual(dims);
    expect(back.dose.spacingMm).toEqual(spacing);
    expect(Array.from(back.dose.affineIjkToLps)).toEqual(Array.from(dose.affineIjkToLps));
    expect(maxDifference(back.dose.data, dose.data)).toBeLessThanOrEqual(scaling / 2 + 42 * 2 ** -23);
    expect(back).toMatchObject({
      frameOfReferenceUid: '1.2.826.0.1.3680043.2.1125.1.1',
      sopInstanceUid: '1.2.826.0.1.3680043.2.1125.1.3',
      doseType: 'PHYSICAL',
      summationType: 'PLAN',
      referencedPlanSopInstanceUid: '1.2.826.0.1.3680043.2.1125.1.9',
      warnings: [],
    });
    expect(back.maxGy).toBe(dose.data.reduce((a, b) => Math.max(a, b), 0));
  });

  it('stores the maximum near the top of the 32-bit range with a scaling that prints exactly', () => {
    const scaling = doseGridScaling(42.123);
    expect(42.123 / scaling).toBeGreaterThan(3.99e9);
    expect(42.123 / scaling).toBeLessThan(2 ** 32 - 1);
    expect(String(scaling).length).toBeLessThanOrEqual(16);
    expect(doseGridScaling(0)).toBe(1);
  });

  it('writes frames running against the normal with negative offsets, and they read back in place', () => {
    const affine = gridAffine([1, 0, 0, 0, 1, 0, 0, 0, -1], spacing, [10, 20, 30]);
    const reversed = sampleDose(dims, spacing, affine);
    const bytes = writeRtDose(base(reversed));
    const ds = parseDicom(bytes, 'reversed').dataset;
    expect(getNumbers(ds, rtTags.gridFrameOffsetVector)![1]).toBe(-3);
    const back = readRtDose(bytes, 'reversed');
    // the reader orders frames along +normal: the last frame written is the first read
    const [nx, ny, nz] = dims;
    expect(back.dose.affineIjkToLps[11]).toBeCloseTo(30 - 3 * (nz - 1), 9);
    for (const [i, j, k] of [
      [3, 4, 0],
      [10, 9, 5],
      [0, 17, 10],
    ]) {
      expect(back.dose.data[i + nx * (j + ny * (nz - 1 - k))]).toBeCloseTo(
        reversed.data[i + nx * (j + ny * k)],
        6,
      );
    }
  });

  it('refuses negative or non-finite doses and frames that are not parallel planes', () => {
    const bad = Float32Array.from(dose.data);
    bad[5] = -1;
    expect(() => writeRtDose(base({ ...dose, data: bad }))).toThrow(/voxel 5 is -1 Gy/);
    bad[5] = Number.NaN;
    expect(() => writeRtDose(base({ ...dose, data: bad }))).toThrow(/voxel 5 is NaN/);
    const sheared = gridAffine([1, 0, 0, 0, 1, 0, 0.6, 0, 0.8], spacing, [0, 0, 0]);
    expect(() => writeRtDose(base({ ...dose, affineIjkToLps: sheared }))).toThrow(/parallel planes/);
    expect(() => writeRtDose({ ...base(dose), frameOfReferenceUid: '' })).toThrow(/Frame of Reference/);
  });

  it.skipIf(!hasDciodvfy)(
    'passes dciodvfy without errors, its Pixel Data re-encoded at 16 bits (skipped without dicom3tools)',
    async () => {
      // the file as written: this dciodvfy aborts on 32-bit Pixel Data before it reports anything
      const direct = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
      const directOutput = `${direct.stdout}\n${direct.stderr}`;
      if (!directOutput.includes('bitsallocated <= bytesinword')) {
        expect(directOutput.split('\n').filter((line) => line.startsWith('Error'))).toEqual([]);
      }
      const lines = await dciodvfy(file);
      expect(lines).toContain('RTDose');
      expect(
        lines.filter((line) => line.startsWith('Error')),
        lines.join('\n'),
      ).toEqual([]);
    },
  );

  it.skipIf(!hasDcmdump)('parses in dcmtk as 32-bit multi-frame (skipped without dcmtk)', () => {
    const run = spawnSync('dcmdump', ['+L', file], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\(0028,0100\) US 32/);
    expect(run.stdout).toMatch(/\(0028,0008\) IS \[11\]/);
  });

  it.skipIf(!hasPlastimatch)(
    'converts in plastimatch to the same grid and doses (skipped without plastimatch)',
    async () => {
      const out = path.join(dir, 'dose.mha');
      const run = spawnSync('plastimatch', ['convert', '--input', file, '--output-dose-img', out], {
        encoding: 'utf8',
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      const mha = await readFile(out);
      const headerEnd = mha.indexOf('ElementDataFile = LOCAL\n') + 'ElementDataFile = LOCAL\n'.length;
      const header = mha.subarray(0, headerEnd).toString('latin1');
      expect(header).toMatch(/DimSize = 24 18 11/);
      expect(header).toMatch(/ElementSpacing = 2.5 2.5 3/);
      expect(header).toMatch(/Offset = -30.25 -210 -140/);
      expect(header).toMatch(/ElementType = MET_FLOAT/);
      const values = new Float32Array(Uint8Array.from(mha.subarray(headerEnd)).buffer);
      expect(values).toHaveLength(dose.data.length);
      expect(maxDifference(values, dose.data)).toBeLessThan(1e-4);
    },
  );
});
