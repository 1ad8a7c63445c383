import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rasteriseRoi } from '../../src/lib/core/contours/rasterise';
import { buildImageSeries, scanDicomFolder, type CtSeries } from '../../src/lib/server/io/ct-series';
import { getNumber, parseDicom } from '../../src/lib/server/io/dicom/parser';
import { readNiftiFile } from '../../src/lib/server/io/nifti-file';
import { assertSameFrameOfReference, readStructureSet } from '../../src/lib/server/io/rtstruct';
import type { StructureSet } from '../../src/lib/core/contours/structure-set';

const root = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler',
);
const seriesDir = path.join(root, 'series');
const grid = JSON.parse(readFileSync(path.join(root, 'masks/grid.json'), 'utf8')) as {
  shape: number[];
  spacing_mm: number[];
  affine_lps: number[][];
  slice_positions_mm: number[];
  rois: Array<{
    roi_number: number;
    name: string;
    voxels: number;
    file: string;
    n_voxel_centres_on_contour: number;
  }>;
};

let series: CtSeries;
let structureSet: StructureSet;

beforeAll(async () => {
  const scan = await scanDicomFolder(seriesDir);
  expect(scan.rejected).toEqual([]);
  expect(scan.imageSeries.size).toBe(1);
  expect(scan.rtStructs).toHaveLength(1);
  series = buildImageSeries([...scan.imageSeries.values()][0]);
  structureSet = readStructureSet(scan.rtStructs[0].file);
});

describe('CT series reader on the breast case', () => {
  it('builds the grid from each slice position and orientation', () => {
    expect(series.grid.dims).toEqual(grid.shape);
    series.grid.spacingMm.forEach((s, axis) => expect(s).toBeCloseTo(grid.spacing_mm[axis], 9));
    expect(series.grid.slicePositionsMm).toHaveLength(98);
    series.grid.slicePositionsMm.forEach((p, k) => expect(p).toBeCloseTo(grid.slice_positions_mm[k], 9));
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 4; col++) {
        expect(series.grid.affineIjkToLps[row * 4 + col]).toBeCloseTo(grid.affine_lps[row][col], 6);
      }
    }
    expect(series.warnings).toEqual([]);
    expect(series.sopInstanceUids).toHaveLength(98);
    expect(path.basename(series.files[0])).toBe('CT.097.dcm');
  });

  it('applies rescale slope and intercept', async () => {
    const ct = parseDicom(await readFile(path.join(seriesDir, 'CT.000.dcm')), 'CT.000.dcm');
    const pixels = ct.dataset.elements.get(0x7fe00010)!;
    const raw = new Int16Array(
      Uint8Array.from(ct.dataset.bytes.subarray(pixels.offset, pixels.offset + pixels.length)).buffer,
    );
    // CT.000 is the most superior slice: the last in slice order
    const k = series.files.findIndex((file) => path.basename(file) === 'CT.000.dcm');
    expect(k).toBe(97);
    const plane = 512 * 512;
    const slope = getNumber(ct.dataset, 0x00281053) ?? 1;
    const intercept = getNumber(ct.dataset, 0x00281052) ?? 0;
    expect([slope, intercept]).toEqual([1, 0]);
    for (const n of [0, 1000, 130_000, 262_143])
      expect(series.volume.data[k * plane + n]).toBe(raw[n] * slope + intercept);
    expect(raw[0]).toBe(-1000);
    expect(series.volume.data).toBeInstanceOf(Int16Array);
  });

  it('keeps scanner and acquisition fields', () => {
    expect(series.metadata.modality).toBe('CT');
    expect(series.metadata.patientPosition).toBe('HFS');
    expect(series.metadata.sliceThicknessMm).toBe(3);
  });
});

describe('RTSTRUCT reader on the breast case', () => {
  it('reads the structure set and every ROI', () => {
    expect(structureSet.label).toBe('CT_1');
    expect(structureSet.frameOfReferenceUid).toBe(series.grid.frameOfReferenceUid);
    expect(structureSet.referencedSopInstanceUids).toHaveLength(98);
    expect(structureSet.rois.map((r) => r.name)).toEqual(grid.rois.map((r) => r.name));
    const body = structureSet.rois[0];
    expect(body).toMatchObject({ number: 1, interpretedType: 'EXTERNAL', colourRgb: '#9a9b64' });
    expect(body.contours).toHaveLength(141);
    expect(structureSet.rois.find((r) => r.name === 'Heart')?.interpretedType).toBe('ORGAN');
    expect(structureSet.rois.find((r) => r.name === 'Areola')?.contours).toEqual([]);
  });

  it('rasterises every ROI voxel for voxel as the reference masks (ties excepted)', async () => {
    for (const roi of structureSet.rois) {
      const expected = grid.rois.find((r) => r.roi_number === roi.number)!;
      const reference = await readNiftiFile(path.join(root, 'masks', expected.file));
      const { mask, report } = rasteriseRoi(roi, series.grid);
      let differing = 0;
      let voxels = 0;
      for (let n = 0; n < mask.data.length; n++) {
        voxels += mask.data[n];
        if ((mask.data[n] !== 0) !== (reference.data[n] !== 0)) differing++;
      }
      expect(differing, roi.name).toBeLessThanOrEqual(expected.n_voxel_centres_on_contour);
      expect(Math.abs(voxels - expected.voxels), roi.name).toBeLessThanOrEqual(
        expected.n_voxel_centres_on_contour,
      );
      expect(report.skippedOffGrid, roi.name).toEqual([]);
    }
  });

  it('treats nested contours as holes', () => {
    const lung = structureSet.rois.find((r) => r.name === 'Lt Lung')!;
    // the slice with the most contours: an outer outline and the holes nested in it
    const byPlane = new Map<number, typeof lung.contours>();
    for (const contour of lung.contours) {
      const z = Math.round(contour.pointsLps[2] * 1000);
      byPlane.set(z, [...(byPlane.get(z) ?? []), contour]);
    }
    const nested = [...byPlane.values()].sort((a, b) => b.length - a.length)[0];
    expect(nested.length).toBeGreaterThanOrEqual(2);
    const count = (data: Uint8Array) => data.reduce((sum, v) => sum + v, 0);
    const evenOdd = count(rasteriseRoi({ ...lung, contours: nested }, series.grid).mask.data);
    const union = new Uint8Array(series.grid.dims[0] * series.grid.dims[1] * series.grid.dims[2]);
    for (const contour of nested) {
      const single = rasteriseRoi({ ...lung, contours: [contour] }, series.grid).mask.data;
      for (let n = 0; n < single.length; n++) union[n] |= single[n];
    }
    // a union fills the holes; the even-odd rule leaves them out
    expect(count(union)).toBeGreaterThan(evenOdd);
  });
});

describe('bad DICOM input', () => {
  let dir: string;
  const ten = Array.from({ length: 10 }, (_, n) => `CT.${String(n).padStart(3, '0')}.dcm`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dicom-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function folder(
    name: string,
    edit?: (file: string, bytes: Buffer) => Buffer | null,
  ): Promise<string> {
    const target = path.join(dir, name);
    await rm(target, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(target, { recursive: true });
    for (const file of ten) {
      const bytes = await readFile(path.join(seriesDir, file));
      const edited = edit ? edit(file, bytes) : bytes;
      if (edited) await writeFile(path.join(target, file), edited);
    }
    return target;
  }

  function replace(bytes: Buffer, from: string, to: string): Buffer {
    expect(to.length).toBe(from.length);
    const at = bytes.indexOf(from, 0, 'latin1');
    expect(at).toBeGreaterThan(0);
    const copy = Buffer.from(bytes);
    copy.write(to, at, 'latin1');
    return copy;
  }

  async function build(target: string): Promise<CtSeries> {
    const scan = await scanDicomFolder(target);
    return buildImageSeries([...scan.imageSeries.values()][0]);
  }

  it('lists a truncated file and a non-DICOM file with their reasons', async () => {
    const target = await folder('rejected');
    await writeFile(
      path.join(target, 'CT.000.dcm'),
      (await readFile(path.join(seriesDir, 'CT.000.dcm'))).subarray(0, 900),
    );
    await writeFile(path.join(target, 'notes.txt'), 'not an image');
    const scan = await scanDicomFolder(target);
    expect(scan.rejected.map((r) => [path.basename(r.path), r.reason.replace(target, '')])).toEqual([
      ['CT.000.dcm', expect.stringContaining('truncated')],
      ['notes.txt', expect.stringContaining('not a DICOM file')],
    ]);
    expect(scan.imageSeries.get(series.seriesInstanceUid)).toHaveLength(9);
  });

  it('names an unsupported transfer syntax', () => {
    const bytes = replace(
      readFileSync(path.join(seriesDir, 'CT.001.dcm')),
      '1.2.840.10008.1.2\0',
      '1.2.840.10008.1.99',
    );
    expect(() => parseDicom(bytes, 'CT.001.dcm')).toThrowError(
      /CT\.001\.dcm: transfer syntax 1\.2\.840\.10008\.1\.99 is not supported/,
    );
  });

  it('refuses a slice without pixel data', async () => {
    const target = await folder('no-pixels', (file, bytes) => {
      if (file !== 'CT.003.dcm') return bytes;
      return bytes.subarray(0, bytes.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00])));
    });
    await expect(build(target)).rejects.toThrowError(/CT\.003\.dcm: no Pixel Data \(7FE0,0010\)/);
  });

  it('refuses a missing slice, and a gantry tilt', async () => {
    const missing = await folder('missing', (file, bytes) => (file === 'CT.005.dcm' ? null : bytes));
    await expect(build(missing)).rejects.toThrowError(
      /slice missing between .*CT\.006\.dcm .* and .*CT\.004\.dcm .*step 6\.00 mm, median 3\.00 mm/,
    );
    const tilted = await folder('tilted', (file, bytes) =>
      file === 'CT.005.dcm' ? replace(bytes, '-275.0\\', '-274.0\\') : bytes,
    );
    await expect(build(tilted)).rejects.toThrowError(/gantry tilt or sheared series.*CT\.00[45]\.dcm/);
  });

  it('refuses mixed orientations and warns about a non-uniform spacing', async () => {
    const mixed = await folder('mixed', (file, bytes) =>
      file === 'CT.004.dcm' ? replace(bytes, '\\0.0\\1\\0.0  ', '\\0.0\\0.0\\1  ') : bytes,
    );
    await expect(build(mixed)).rejects.toThrowError(/mixes orientations: .*CT\.004\.dcm/);
    const uneven = await folder('uneven', (file, bytes) =>
      file === 'CT.002.dcm' ? replace(bytes, '162.5593', '162.2593') : bytes,
    );
    const built = await build(uneven);
    expect(built.warnings).toEqual([expect.stringMatching(/slice spacing varies from 2\.700 to 3\.300 mm/)]);
    expect(built.grid.slicePositionsMm[7]).toBeCloseTo(162.2593, 6);
  });

  it('refuses a CT file as a structure set and a structure set on another frame of reference', () => {
    const ct = parseDicom(readFileSync(path.join(seriesDir, 'CT.001.dcm')), 'CT.001.dcm');
    expect(() => readStructureSet(ct)).toThrowError('CT.001.dcm: modality is CT, expected RTSTRUCT');
    const other = { ...series, grid: { ...series.grid, frameOfReferenceUid: '1.2.3' } };
    expect(() => assertSameFrameOfReference(structureSet, other, 'rtss.dcm')).toThrowError(
      /rtss\.dcm: the structure set is on frame of reference 2\.16\.840\.1\.113662\.2\.12\.0\.3057\.1241703565\.36, series .* is on 1\.2\.3/,
    );
  });

  it('applies a non-zero rescale intercept and slope', async () => {
    const target = await folder('rescaled', (file, bytes) => {
      const shifted = replace(bytes, '(\x00R\x10\x04\x00\x00\x000.0 ', '(\x00R\x10\x04\x00\x00\x00-10 ');
      return file === 'CT.000.dcm'
        ? replace(shifted, '(\x00S\x10\x02\x00\x00\x001 ', '(\x00S\x10\x02\x00\x00\x002 ')
        : shifted;
    });
    const built = await build(target);
    const plane = 512 * 512;
    const top = built.files.findIndex((file) => file.endsWith('CT.000.dcm'));
    expect(top).toBe(9);
    // raw -1000 at pixel 0 of every slice
    expect(built.volume.data[0]).toBe(-1010);
    expect(built.volume.data[top * plane]).toBe(-2010);
  });

  it('copies nothing it does not need', async () => {
    // a file given directly (not a folder) is scanned alone
    const single = path.join(dir, 'one.dcm');
    await copyFile(path.join(seriesDir, 'CT.001.dcm'), single);
    const scan = await scanDicomFolder(single);
    expect([...scan.imageSeries.values()][0]).toHaveLength(1);
  });
});
