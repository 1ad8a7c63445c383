import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../core/errors';
import { serializeNifti } from '../../core/volume/nifti';
import { axisAlignedAffine, type Volume } from '../../core/volume/volume';
import { projectRoot } from '../paths';
import { readMaskPair, readNiftiFile, writeNiftiFile } from './nifti-file';

const metricsDir = path.resolve(projectRoot(), '../shared/testdata/metrics');

interface GoldenCase {
  name: string;
  reference: string;
  test: string;
  nifti_affine_ras: number[][];
  expected: { shape: number[]; spacing_mm: number[]; voxels_ref: number; voxels_test: number };
}

const goldenCases = (
  JSON.parse(readFileSync(path.join(metricsDir, 'expected.json'), 'utf8')) as { cases: GoldenCase[] }
).cases;

function countNonZero(data: ArrayLike<number>): number {
  let count = 0;
  for (let n = 0; n < data.length; n++) if (data[n] !== 0) count++;
  return count;
}

async function expectAppError(promise: Promise<unknown>, code: AppError['code'], message: string | RegExp) {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  expect((error as AppError).message).toMatch(message);
}

describe('readMaskPair on the shared golden cases', () => {
  it('has cases to read', () => {
    expect(goldenCases.length).toBeGreaterThan(0);
  });

  it.each(goldenCases)(
    '$name: dims, spacing, voxel counts and affine match expected.json',
    async (golden) => {
      const referencePath = path.join(metricsDir, golden.reference);
      const { reference, candidate } = await readMaskPair(referencePath, path.join(metricsDir, golden.test));

      for (const mask of [reference, candidate]) {
        expect(mask.dims).toEqual(golden.expected.shape);
        expect(mask.spacingMm).toEqual(golden.expected.spacing_mm);
      }
      expect(countNonZero(reference.data)).toBe(golden.expected.voxels_ref);
      expect(countNonZero(candidate.data)).toBe(golden.expected.voxels_test);

      // Back from LPS to RAS: negate rows 0 and 1. The JSON rounds to 6 decimals.
      const affineRas = Array.from(reference.affineIjkToLps, (value, n) => (n < 8 ? -value : value));
      const expectedRas = golden.nifti_affine_ras.flat();
      expect(affineRas).toHaveLength(16);
      for (let n = 0; n < 16; n++) expect(affineRas[n]).toBeCloseTo(expectedRas[n], 5);
    },
  );

  it('applies a label by equality', async () => {
    const golden = goldenCases[0];
    const { reference } = await readMaskPair(
      path.join(metricsDir, golden.reference),
      path.join(metricsDir, golden.test),
      2,
    );
    expect(countNonZero(reference.data)).toBe(0);
  });
});

describe('NIfTI files on disk', () => {
  let dir: string;
  const volume: Volume<Uint8Array> = {
    data: Uint8Array.from({ length: 24 }, (_, n) => (n % 5 === 0 ? 1 : 0)),
    dims: [2, 3, 4],
    spacingMm: [0.5, 0.5, 2],
    affineIjkToLps: axisAlignedAffine([0.5, 0.5, 2], [-10, 20, 30]),
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'contourbench-nifti-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(['plain.nii', 'packed.nii.gz'])(
    'writes and reads back %s, leaving no temporary file',
    async (name) => {
      const sub = await mkdtemp(path.join(dir, 'roundtrip-'));
      const file = path.join(sub, name);
      await writeNiftiFile(file, volume, { description: 'test' });
      const bytes = await readFile(file);
      expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(name.endsWith('.gz'));
      const back = await readNiftiFile(file);
      expect(Array.from(back.data)).toEqual(Array.from(volume.data));
      expect(back.dims).toEqual(volume.dims);
      expect(back.spacingMm).toEqual(volume.spacingMm);
      expect(Array.from(back.affineIjkToLps)).toEqual(Array.from(volume.affineIjkToLps));
      expect(await readdir(sub)).toEqual([name]);
    },
  );

  it('recognises gzip by its magic bytes, whatever the extension', async () => {
    const file = path.join(dir, 'misnamed.nii');
    await writeFile(file, gzipSync(serializeNifti(volume)));
    const back = await readNiftiFile(file);
    expect(Array.from(back.data)).toEqual(Array.from(volume.data));
  });

  it('replaces an existing file atomically', async () => {
    const file = path.join(dir, 'replace.nii.gz');
    await writeFile(file, 'old');
    await writeNiftiFile(file, volume);
    expect(gunzipSync(await readFile(file)).length).toBe(352 + 24);
  });

  it('cleans up its temporary file when the rename fails', async () => {
    const sub = await mkdtemp(path.join(dir, 'blocked-'));
    const target = path.join(sub, 'target.nii');
    await mkdir(target);
    await expectAppError(writeNiftiFile(target, volume), 'INVALID_INPUT', /target\.nii: cannot write/);
    expect(await readdir(sub)).toEqual(['target.nii']);
  });

  it('reports a missing folder when writing', async () => {
    const file = path.join(dir, 'no-such-folder', 'x.nii');
    await expectAppError(writeNiftiFile(file, volume), 'NOT_FOUND', /no-such-folder does not exist/);
  });

  it('reports a missing file as NOT_FOUND', async () => {
    const file = path.join(dir, 'absent.nii.gz');
    await expectAppError(readNiftiFile(file), 'NOT_FOUND', `${file}: no such file`);
  });

  it('reports a folder given as a file', async () => {
    await expectAppError(readNiftiFile(dir), 'INVALID_INPUT', `${dir}: is a folder`);
  });

  it('reports a corrupt gzip stream', async () => {
    const file = path.join(dir, 'corrupt.nii.gz');
    const packed = gzipSync(serializeNifti(volume));
    packed.fill(0xff, 10, 30);
    await writeFile(file, packed);
    await expectAppError(readNiftiFile(file), 'INVALID_INPUT', `${file}: not a valid gzip stream (`);
  });

  it('reports a truncated gzip stream', async () => {
    const file = path.join(dir, 'cut.nii.gz');
    const packed = gzipSync(serializeNifti(volume));
    await writeFile(file, packed.subarray(0, packed.length - 12));
    await expectAppError(
      readNiftiFile(file),
      'INVALID_INPUT',
      /cut\.nii\.gz: not a valid gzip stream \(.+\)/,
    );
  });

  it('passes NIfTI errors through with the path', async () => {
    const file = path.join(dir, 'short.nii');
    await writeFile(file, new Uint8Array(10));
    await expectAppError(
      readNiftiFile(file),
      'INVALID_INPUT',
      `${file}: truncated: header needs 348 bytes, file has 10`,
    );
  });

  it('refuses a candidate on another grid, naming both files and the difference', async () => {
    const referencePath = path.join(dir, 'grid-ref.nii');
    const shiftedPath = path.join(dir, 'grid-shifted.nii.gz');
    const resampledPath = path.join(dir, 'grid-resampled.nii');
    await writeNiftiFile(referencePath, volume);
    await writeNiftiFile(shiftedPath, {
      ...volume,
      affineIjkToLps: axisAlignedAffine([0.5, 0.5, 2], [-10, 20, 32]),
    });
    await writeNiftiFile(resampledPath, {
      data: new Uint8Array(48),
      dims: [4, 3, 4],
      spacingMm: [0.25, 0.5, 2],
      affineIjkToLps: axisAlignedAffine([0.25, 0.5, 2], [-10, 20, 30]),
    });
    await expectAppError(
      readMaskPair(referencePath, shiftedPath),
      'INVALID_INPUT',
      `${shiftedPath} is not on the grid of ${referencePath}: origins differ: (-10, 20, 30) vs (-10, 20, 32) mm`,
    );
    await expectAppError(
      readMaskPair(referencePath, resampledPath),
      'INVALID_INPUT',
      `${resampledPath} is not on the grid of ${referencePath}: dimensions differ: 2x3x4 vs 4x3x4`,
    );
  });

  it('rejects a non-finite label', async () => {
    const file = path.join(dir, 'label.nii');
    await writeNiftiFile(file, volume);
    await expectAppError(readMaskPair(file, file, NaN), 'INVALID_ARGUMENT', 'label must be a finite number');
  });
});
