import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import { computeDvh, doseAtVolumeCc, doseAtVolumePercent, volumeAtDoseGy, volumeAtDosePercent } from './dvh';

/** Four voxels of 0.5 cc at 0.5, 1.5, 1.5 and 2.5 Gy in 1 Gy bins: curve (0.5, 4) (1, 3) (2, 1) (2.5, 0). */
const fourVoxels = () => computeDvh(Float32Array.of(0.5, 1.5, 1.5, 2.5), 0.5, { binWidthGy: 1 });

describe('computeDvh', () => {
  it('bins, cumulates and summarises a hand-built structure exactly', () => {
    const dvh = fourVoxels();
    expect(dvh.binCount).toBe(3);
    expect([...dvh.doseEdgesGy]).toEqual([0, 1, 2, 3]);
    expect([...dvh.differentialCc]).toEqual([0.5, 1, 0.5]);
    expect([...dvh.differentialPercent]).toEqual([25, 50, 25]);
    expect([...dvh.cumulativeVoxels]).toEqual([4, 3, 1, 0]);
    expect([...dvh.cumulativeCc]).toEqual([2, 1.5, 0.5, 0]);
    expect([...dvh.cumulativePercent]).toEqual([100, 75, 25, 0]);
    expect(dvh.voxelCount).toBe(4);
    expect(dvh.volumeCc).toBe(2);
    expect(dvh.dminGy).toBe(0.5);
    expect(dvh.dmaxGy).toBe(2.5);
    expect(dvh.dmeanGy).toBe(1.5);
    expect(dvh.outsideDoseGridVoxels).toBe(0);
  });

  it('puts a dose on an edge into the bin above it and the maximum into the last bin', () => {
    const dvh = computeDvh(Float32Array.of(0, 1, 2), 1, { binWidthGy: 1 });
    expect([...dvh.differentialCc]).toEqual([1, 1, 1]);
    expect([...dvh.cumulativeVoxels]).toEqual([3, 2, 1, 0]);
  });

  it('uses 0.01 Gy bins by default, consistent with its edges', () => {
    // float32 0.07 is 0.0700000003: bin 7 = [0.07, 0.08)
    const dvh = computeDvh(Float32Array.of(0.07), 1);
    expect(dvh.binWidthGy).toBe(0.01);
    expect(dvh.binCount).toBe(8);
    expect(dvh.cumulativeVoxels[7]).toBe(1);
    expect(dvh.doseEdgesGy[7]).toBeLessThanOrEqual(Math.fround(0.07));
    // 0.29 in float32 is 0.28999999: bin 28
    expect(computeDvh(Float32Array.of(0.29), 1).binCount).toBe(29);
  });

  it('says how much of the structure was outside the dose grid', () => {
    const dvh = computeDvh(Float32Array.of(0, 0, 1, 1), 0.5, { outsideDoseGridVoxels: 2 });
    expect(dvh.outsideDoseGridVoxels).toBe(2);
    expect(dvh.outsideDoseGridPercent).toBe(50);
  });

  it('returns nulls, not NaN, for an empty structure', () => {
    const dvh = computeDvh(new Float32Array(0), 0.5);
    expect(dvh).toMatchObject({ binCount: 0, voxelCount: 0, volumeCc: 0, dminGy: null, dmaxGy: null });
    expect(dvh.dmeanGy).toBeNull();
    expect(dvh.cumulativeCc.length).toBe(0);
    expect(doseAtVolumePercent(dvh, 95)).toBeNull();
    expect(doseAtVolumeCc(dvh, 0)).toBeNull();
    expect(volumeAtDoseGy(dvh, 20)).toBeNull();
    expect(volumeAtDosePercent(dvh, 95, 40)).toBeNull();
  });

  it('rejects invalid parameters and doses with RangeError', () => {
    expect(() => computeDvh(Float32Array.of(1), 0)).toThrow(/voxelCc must be a positive number/);
    expect(() => computeDvh(Float32Array.of(1), 1, { binWidthGy: 0 })).toThrow(/binWidthGy/);
    expect(() => computeDvh(Float32Array.of(1, -0.5), 1)).toThrow(/voxel 1 has -0.5/);
    expect(() => computeDvh(Float32Array.of(NaN), 1)).toThrow(RangeError);
    expect(() => computeDvh(Float32Array.of(1e6), 1, { binWidthGy: 1e-3 })).toThrow(/needs 1000000001 bins/);
    expect(() => computeDvh(Float32Array.of(1), 1, { outsideDoseGridVoxels: 2 })).toThrow(/0\.\.1/);
  });
});

describe('doseAtVolumePercent', () => {
  it('interpolates on the cumulative curve between Dmin, the bin edges and Dmax', () => {
    const dvh = fourVoxels();
    expect(doseAtVolumePercent(dvh, 0)).toBe(2.5);
    expect(doseAtVolumePercent(dvh, 12.5)).toBe(2.25);
    expect(doseAtVolumePercent(dvh, 25)).toBe(2);
    expect(doseAtVolumePercent(dvh, 50)).toBe(1.5);
    expect(doseAtVolumePercent(dvh, 87.5)).toBe(0.75);
    expect(doseAtVolumePercent(dvh, 100)).toBe(0.5);
  });

  it('gives the upper end of a plateau (no dose between two bins)', () => {
    // 0.5 and 3.5 Gy: the hotter half receives at least 3 Gy (the edge below 3.5 with no voxel under it)
    const dvh = computeDvh(Float32Array.of(0.5, 3.5), 1, { binWidthGy: 1 });
    expect(doseAtVolumePercent(dvh, 50)).toBe(3);
    expect(doseAtVolumePercent(dvh, 75)).toBe(0.75);
  });

  it('gives the dose of a uniform structure at every volume', () => {
    const dvh = computeDvh(Float32Array.of(2, 2, 2), 1, { binWidthGy: 0.5 });
    expect([0, 2, 50, 98, 100].map((x) => doseAtVolumePercent(dvh, x))).toEqual([2, 2, 2, 2, 2]);
  });

  it('stays within one bin width of the exact voxel quantile', () => {
    const random = mulberry32(17);
    const doses = Float32Array.from({ length: 5000 }, () => 50 * random() ** 2);
    const sorted = [...doses].sort((a, b) => b - a);
    const dvh = computeDvh(doses, 0.001);
    for (const x of [1, 2, 5, 50, 95, 98, 99]) {
      // the hottest x %: the dose of its coldest voxel
      const exact = sorted[Math.ceil((x / 100) * doses.length) - 1]!;
      expect(Math.abs(doseAtVolumePercent(dvh, x)! - exact), `D${x}%`).toBeLessThan(0.01);
    }
  });

  it('rejects volumes outside 0..100 %', () => {
    expect(() => doseAtVolumePercent(fourVoxels(), 101)).toThrow(/between 0 and 100 %/);
    expect(() => doseAtVolumePercent(fourVoxels(), NaN)).toThrow(RangeError);
  });
});

describe('doseAtVolumeCc', () => {
  it('reads the same curve in cc and is null when the structure is smaller', () => {
    const dvh = fourVoxels();
    expect(doseAtVolumeCc(dvh, 0)).toBe(2.5);
    expect(doseAtVolumeCc(dvh, 1)).toBe(1.5);
    expect(doseAtVolumeCc(dvh, 2)).toBe(0.5);
    expect(doseAtVolumeCc(dvh, 2.5)).toBeNull();
    expect(() => doseAtVolumeCc(dvh, -1)).toThrow(/cc >= 0/);
  });
});

describe('volumeAtDoseGy and volumeAtDosePercent', () => {
  it('are the inverse of Dx on the same curve', () => {
    const dvh = fourVoxels();
    expect(volumeAtDoseGy(dvh, 0)).toEqual({ cc: 2, percent: 100 });
    expect(volumeAtDoseGy(dvh, 0.5)).toEqual({ cc: 2, percent: 100 });
    expect(volumeAtDoseGy(dvh, 0.75)).toEqual({ cc: 1.75, percent: 87.5 });
    expect(volumeAtDoseGy(dvh, 1.5)).toEqual({ cc: 1, percent: 50 });
    expect(volumeAtDoseGy(dvh, 2)).toEqual({ cc: 0.5, percent: 25 });
    expect(volumeAtDoseGy(dvh, 2.25)).toEqual({ cc: 0.25, percent: 12.5 });
    expect(volumeAtDoseGy(dvh, 2.5)).toEqual({ cc: 0, percent: 0 });
    expect(volumeAtDoseGy(dvh, 30)).toEqual({ cc: 0, percent: 0 });
    // 75 % of a 2 Gy prescription is 1.5 Gy
    expect(volumeAtDosePercent(dvh, 75, 2)).toEqual({ cc: 1, percent: 50 });
  });

  it('counts a uniform structure as wholly at its dose', () => {
    const dvh = computeDvh(Float32Array.of(2, 2), 1, { binWidthGy: 0.5 });
    expect(volumeAtDoseGy(dvh, 2)).toEqual({ cc: 2, percent: 100 });
    expect(volumeAtDoseGy(dvh, 2.01)).toEqual({ cc: 0, percent: 0 });
  });

  it('rejects negative doses and prescriptions that are not positive', () => {
    expect(() => volumeAtDoseGy(fourVoxels(), -1)).toThrow(/Gy >= 0/);
    expect(() => volumeAtDosePercent(fourVoxels(), 95, 0)).toThrow(/prescription/);
    expect(() => volumeAtDosePercent(fourVoxels(), -5, 40)).toThrow(/percentage >= 0/);
  });
});
