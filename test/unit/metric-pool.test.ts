import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { metricsToJson } from '../../src/lib/core/metrics/metric-json';
import { computeMetrics } from '../../src/lib/core/metrics/metric-set';
import { readMaskPair } from '../../src/lib/server/io/nifti-file';
import { MetricPool } from '../../src/lib/server/services/metric-pool';

const metricsDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/metrics',
);
const cases = (
  JSON.parse(readFileSync(path.join(metricsDir, 'expected.json'), 'utf8')) as {
    cases: Array<{ name: string; reference: string; test: string }>;
  }
).cases;

const pool = new MetricPool(2);
afterAll(() => pool.close());

// Centroid and extents go through an affine whose translation the crop moves: equal to rounding only.
const positional = [
  'centroid_shift_mm',
  'centroid_shift_lps_mm',
  'cranial_extent_error_mm',
  'caudal_extent_error_mm',
];

describe('MetricPool', () => {
  it('gives the results of computeMetrics on the full grid, for several structures at once', async () => {
    const names = [
      'c02_sphere_shift_x_5vox',
      'c06_cord_tube',
      'c08_pred_empty',
      'c09_both_empty',
      'c12_fp_island',
      'c13_body_touching_edges',
    ];
    const pairs = await Promise.all(
      names.map(async (name) => {
        const testCase = cases.find((c) => c.name === name)!;
        return readMaskPair(path.join(metricsDir, testCase.reference), path.join(metricsDir, testCase.test));
      }),
    );
    const pooled = await Promise.all(
      pairs.map(({ reference, candidate }) => pool.compute(reference, candidate)),
    );
    pairs.forEach(({ reference, candidate }, n) => {
      const direct = computeMetrics(reference, candidate);
      const a = JSON.parse(JSON.stringify(metricsToJson(pooled[n]))) as Record<string, unknown>;
      const b = JSON.parse(JSON.stringify(metricsToJson(direct))) as Record<string, unknown>;
      for (const key of positional) {
        const [x, y] = [a[key], b[key]];
        if (Array.isArray(y)) {
          expect((x as number[]).length, `${names[n]} ${key}`).toBe(y.length);
          y.forEach((value: number, axis) => expect((x as number[])[axis]).toBeCloseTo(value, 9));
        } else if (typeof y === 'number') {
          expect(x as number, `${names[n]} ${key}`).toBeCloseTo(y, 9);
        } else {
          expect(x, `${names[n]} ${key}`).toEqual(y);
        }
        delete a[key];
        delete b[key];
      }
      expect(a, names[n]).toEqual(b);
      expect(Array.from(pooled[n].apl.pixelMmBySlice[1])).toEqual(Array.from(direct.apl.pixelMmBySlice[1]));
    });
  });

  it('rejects a bad tolerance with the error computeMetrics throws', async () => {
    const testCase = cases.find((c) => c.name === 'c06_cord_tube')!;
    const { reference, candidate } = await readMaskPair(
      path.join(metricsDir, testCase.reference),
      path.join(metricsDir, testCase.test),
    );
    await expect(pool.compute(reference, candidate, { surfaceDiceTolerancesMm: [-1] })).rejects.toThrow(
      RangeError,
    );
    // the pool keeps working afterwards
    expect((await pool.compute(reference, candidate)).dice).toBeCloseTo(0.74089533548993, 12);
  });
});
