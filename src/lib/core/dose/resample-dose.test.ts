import { describe, expect, it } from 'vitest';
import { binaryMaskSummary } from '../volume/crop';
import {
  axisAlignedAffine,
  gridAffine,
  voxelToLps,
  type Mask,
  type Vec3,
  type Volume,
} from '../volume/volume';
import { resampleDoseToGrid, sampleDoseInMask } from './resample-dose';

/** A dose grid filled with f(LPS point of each voxel centre). */
function doseGrid(
  dims: Vec3,
  spacingMm: Vec3,
  affineIjkToLps: Float64Array,
  f: (x: number, y: number, z: number) => number,
): Volume<Float32Array> {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const [x, y, z] = voxelToLps(affineIjkToLps, i, j, k);
        data[i + dims[0] * (j + dims[1] * k)] = f(x, y, z);
      }
  return { data, dims, spacingMm, affineIjkToLps };
}

function fullMask(dims: Vec3, spacingMm: Vec3, originLps: Vec3): Mask {
  return {
    data: new Uint8Array(dims[0] * dims[1] * dims[2]).fill(1),
    dims,
    spacingMm,
    affineIjkToLps: axisAlignedAffine(spacingMm, originLps),
  };
}

/** Linear in x, y, z with binary-exact coefficients: trilinear interpolation reproduces it exactly. */
const linear = (x: number, y: number, z: number) => 40 + 0.5 * x - 0.25 * y + 0.125 * z;

describe('sampleDoseInMask', () => {
  it('returns the dose itself when the mask is on the dose grid', () => {
    const spacing: Vec3 = [2.5, 2.5, 2.5];
    const dose = doseGrid(
      [4, 3, 2],
      spacing,
      axisAlignedAffine(spacing, [-5, 0, 10]),
      (x, y, z) => x * y + z,
    );
    const mask = fullMask([4, 3, 2], spacing, [-5, 0, 10]);
    mask.data[0] = 0;
    mask.data[5] = 0;
    const sampled = sampleDoseInMask(dose, mask);
    expect([...sampled.doseGy]).toEqual([...dose.data].filter((_, n) => n !== 0 && n !== 5));
    expect(sampled.outsideVoxels).toBe(0);
    expect(sampled.voxelCc).toBe(0.015625);
  });

  it('reproduces a linear dose exactly on a finer, offset CT grid', () => {
    // dose: 2 mm voxels from (-10, -10, -10); CT: 1 x 1 x 2.5 mm from (-7, -6.5, -5), inside the dose grid
    const doseSpacing: Vec3 = [2, 2, 2];
    const dose = doseGrid([11, 11, 11], doseSpacing, axisAlignedAffine(doseSpacing, [-10, -10, -10]), linear);
    const ctSpacing: Vec3 = [1, 1, 2.5];
    const mask = fullMask([14, 13, 5], ctSpacing, [-7, -6.5, -5]);
    const sampled = sampleDoseInMask(dose, mask);
    const expected: number[] = [];
    for (let k = 0; k < 5; k++)
      for (let j = 0; j < 13; j++)
        for (let i = 0; i < 14; i++) expected.push(linear(-7 + i, -6.5 + j, -5 + 2.5 * k));
    expect([...sampled.doseGy]).toEqual(expected);
    expect(sampled.outsideVoxels).toBe(0);
  });

  it('follows a dose grid whose axes run the other way (i towards -x, k towards -z)', () => {
    const doseSpacing: Vec3 = [2, 2, 2];
    const affine = gridAffine([-1, 0, 0, 0, 1, 0, 0, 0, -1], doseSpacing, [10, -10, 10]);
    const dose = doseGrid([11, 11, 11], doseSpacing, affine, linear);
    const mask = fullMask([6, 5, 3], [1, 1, 2.5], [-3, -2, -2.5]);
    const expected: number[] = [];
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 5; j++)
        for (let i = 0; i < 6; i++) expected.push(linear(-3 + i, -2 + j, -2.5 + 2.5 * k));
    expect([...sampleDoseInMask(dose, mask).doseGy]).toEqual(expected);
  });

  it('follows a dose grid in another orientation through LPS', () => {
    // dose i along +y, j along -x, k along +z (rotated 90 degrees about the z axis)
    const doseSpacing: Vec3 = [2, 2, 2];
    const affine = gridAffine([0, 1, 0, -1, 0, 0, 0, 0, 1], doseSpacing, [10, -10, -10]);
    const dose = doseGrid([11, 11, 11], doseSpacing, affine, linear);
    const mask = fullMask([6, 5, 3], [1, 1, 2.5], [-3, -2, -2.5]);
    const sampled = sampleDoseInMask(dose, mask);
    const expected: number[] = [];
    for (let k = 0; k < 3; k++)
      for (let j = 0; j < 5; j++)
        for (let i = 0; i < 6; i++) expected.push(linear(-3 + i, -2 + j, -2.5 + 2.5 * k));
    expect([...sampled.doseGy]).toEqual(expected);
  });

  it('holds the edge value up to half a dose voxel beyond it, and gives 0 Gy and counts voxels further out', () => {
    // dose voxels at x = 0 and 2 mm (10 and 20 Gy) cover x in [-1, 3); CT voxel centres at x = -2 .. 5 mm
    const dose: Volume<Float32Array> = {
      data: Float32Array.of(10, 20),
      dims: [2, 1, 1],
      spacingMm: [2, 2, 2],
      affineIjkToLps: axisAlignedAffine([2, 2, 2]),
    };
    const mask = fullMask([8, 1, 1], [1, 1, 1], [-2, 0, 0]);
    const sampled = sampleDoseInMask(dose, mask);
    expect([...sampled.doseGy]).toEqual([0, 10, 10, 15, 20, 0, 0, 0]);
    expect(sampled.outsideVoxels).toBe(4);
  });

  it('visits only the summary box, reuses a buffer, and rejects a wrong summary', () => {
    const dose: Volume<Float32Array> = {
      data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8),
      dims: [2, 2, 2],
      spacingMm: [1, 1, 1],
      affineIjkToLps: axisAlignedAffine([1, 1, 1]),
    };
    const mask = fullMask([2, 2, 2], [1, 1, 1], [0, 0, 0]);
    mask.data.set([0, 1, 0, 0, 0, 0, 1, 0]);
    const summary = binaryMaskSummary(mask.data, mask.dims);
    const buffer = new Float32Array(10);
    const sampled = sampleDoseInMask(dose, mask, { summary, buffer });
    expect([...sampled.doseGy]).toEqual([2, 7]);
    expect(sampled.doseGy.buffer).toBe(buffer.buffer);
    expect(() => sampleDoseInMask(dose, mask, { summary: { voxels: 3, box: summary.box } })).toThrow(
      /summary says 3/,
    );
    const empty = sampleDoseInMask(dose, { ...mask, data: new Uint8Array(8) });
    expect(empty).toEqual({ doseGy: new Float32Array(0), outsideVoxels: 0, voxelCc: 0.001 });
  });

  it('rejects a singular affine and dose data that does not fit its dims', () => {
    const mask = fullMask([1, 1, 1], [1, 1, 1], [0, 0, 0]);
    const singular = Float64Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    const dose = { data: Float32Array.of(1), dims: [1, 1, 1] as Vec3, spacingMm: [1, 1, 1] as Vec3 };
    expect(() => sampleDoseInMask({ ...dose, affineIjkToLps: singular }, mask)).toThrow(
      /dose affine is singular/,
    );
    expect(() =>
      sampleDoseInMask({ ...dose, dims: [2, 1, 1], affineIjkToLps: axisAlignedAffine([1, 1, 1]) }, mask),
    ).toThrow(/does not match its 1 values/);
  });
});

describe('resampleDoseToGrid', () => {
  it('resamples a box of the grid, keeping every voxel at its patient position', () => {
    const doseSpacing: Vec3 = [2, 2, 2];
    const dose = doseGrid([11, 11, 11], doseSpacing, axisAlignedAffine(doseSpacing, [-10, -10, -10]), linear);
    const ctSpacing: Vec3 = [1, 1, 2.5];
    const grid = {
      dims: [30, 30, 10] as Vec3,
      spacingMm: ctSpacing,
      affineIjkToLps: axisAlignedAffine(ctSpacing, [-15, -15, -12.5]),
    };
    const box = { iMin: 10, iMax: 12, jMin: 8, jMax: 9, kMin: 4, kMax: 4 };
    const { dose: resampled, outsideVoxels } = resampleDoseToGrid(dose, grid, box);
    expect(resampled.dims).toEqual([3, 2, 1]);
    expect([...resampled.affineIjkToLps.slice(0, 12)]).toEqual([1, 0, 0, -5, 0, 1, 0, -7, 0, 0, 2.5, -2.5]);
    expect([...resampled.data]).toEqual([
      linear(-5, -7, -2.5),
      linear(-4, -7, -2.5),
      linear(-3, -7, -2.5),
      linear(-5, -6, -2.5),
      linear(-4, -6, -2.5),
      linear(-3, -6, -2.5),
    ]);
    expect(outsideVoxels).toBe(0);
    // the whole grid reaches beyond the dose grid ([-11, 11) mm on each axis)
    const whole = resampleDoseToGrid(dose, grid);
    expect(whole.dose.dims).toEqual([30, 30, 10]);
    expect(whole.outsideVoxels).toBe(30 * 30 * 10 - 22 * 22 * 9);
    expect(() => resampleDoseToGrid(dose, grid, { ...box, iMin: 40, iMax: 50 })).toThrow(
      /does not intersect/,
    );
  });
});
