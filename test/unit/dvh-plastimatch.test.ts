/**
 * Our DVHs against an independent implementation: `plastimatch dvh` (1.9.4), on a synthetic case and on
 * the real geometry of the breast test case.
 *
 * How plastimatch computes: it brings the dose onto the structure image's grid (1.9.4 does it on loading,
 * so its log then reports equal spacings; the resampling is ITK's, linear, orientation honoured, 0 outside
 * the dose voxels' footprint [-0.5, n - 0.5) — the same sampling as ours) and counts structure voxels; the
 * structures are never resampled. A dose d counts in bin round(d / w) (src/plastimatch/util/dvh.cxx: bins
 * centred on multiples of w, the last bin taking everything above); with --cumulative and --normalization
 * vox, row b of the CSV is the number of voxels with d >= (b - 0.5)·w.
 *
 * So with our bins half as wide (w / 2) and power-of-two widths (exact in float), our cumulative count at
 * edge 2b - 1 is the same count as plastimatch's row b, and the comparison is count for count:
 * - same sampling: plastimatch gets our dose already resampled to the CT grid (resampleDoseToGrid): it must
 *   agree voxel for voxel (0 difference in every row);
 * - plastimatch resamples itself, from a 2.5 mm grid half a dose voxel off the CT's, and from a rotated one
 *   that leaves part of the structures outside: both sides interpolate trilinearly at the same CT voxel
 *   centres with the same border rule, so only float rounding in the index arithmetic could move a voxel
 *   across a bin edge. Observed: 0 voxels in every row; allowed: 2 voxels per row.
 * Dmean, D95% and V20Gy read off plastimatch's CSV differ from ours only by its coarser bins: Dmean from
 * bin centres is within w/2 of the exact mean, D95% within w, V20Gy within 0.5 % (interpolated between
 * edges that bracket 20 Gy).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeDvh, doseAtVolumePercent, volumeAtDoseGy, type Dvh } from '../../src/lib/core/dose/dvh';
import { resampleDoseToGrid, sampleDoseInMask } from '../../src/lib/core/dose/resample-dose';
import { cropMask, foregroundBox, type IndexBox } from '../../src/lib/core/volume/crop';
import { parseNifti, serializeNifti } from '../../src/lib/core/volume/nifti';
import {
  axisAlignedAffine,
  gridAffine,
  toMask,
  voxelToLps,
  type Mask,
  type Vec3,
  type Volume,
} from '../../src/lib/core/volume/volume';
import { readNiftiFile, writeNiftiFile } from '../../src/lib/server/io/nifti-file';

const hasPlastimatch = spawnSync('sh', ['-c', 'command -v plastimatch']).status === 0;
if (!hasPlastimatch) {
  process.stderr.write(
    'dvh-plastimatch: skipped: plastimatch is not installed (apt-get install plastimatch)\n',
  );
}

const breastMasks = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/masks',
);

/** plastimatch's bin width (Gy); ours is half of it. Powers of two keep every bin edge exact in float. */
const PLASTIMATCH_BIN_GY = 1 / 64;
const OUR_BIN_GY = PLASTIMATCH_BIN_GY / 2;

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dvh-'));
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A dose grid filled with f at each voxel centre (LPS mm). */
function analyticDose(
  dims: Vec3,
  spacingMm: Vec3,
  originOrAffine: Vec3 | Float64Array,
  f: (x: number, y: number, z: number) => number,
): Volume<Float32Array> {
  const affineIjkToLps =
    originOrAffine instanceof Float64Array ? originOrAffine : axisAlignedAffine(spacingMm, originOrAffine);
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const [x, y, z] = voxelToLps(affineIjkToLps, i, j, k);
        data[i + dims[0] * (j + dims[1] * k)] = f(x, y, z);
      }
  return { data, dims, spacingMm, affineIjkToLps };
}

/** A mask of the voxels whose centre satisfies `inside` (LPS mm). */
function analyticMask(
  dims: Vec3,
  spacingMm: Vec3,
  originLps: Vec3,
  inside: (x: number, y: number, z: number) => boolean,
): Mask {
  const affineIjkToLps = axisAlignedAffine(spacingMm, originLps);
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const [x, y, z] = voxelToLps(affineIjkToLps, i, j, k);
        if (inside(x, y, z)) data[i + dims[0] * (j + dims[1] * k)] = 1;
      }
  return { data, dims, spacingMm, affineIjkToLps };
}

/** Writes a volume and reads it back, so that our side computes with the geometry the file holds. */
async function roundTrip<T extends Volume>(file: string, volume: T): Promise<T> {
  await writeNiftiFile(file, volume);
  return parseNifti(serializeNifti(volume), file) as T;
}

/** plastimatch's structure-set image: bit s of each voxel set when it is in structure s. */
function structureSetImage(masks: Mask[]): Volume<Uint32Array> {
  const data = new Uint32Array(masks[0]!.data.length);
  masks.forEach((mask, s) => {
    for (let n = 0; n < data.length; n++) if (mask.data[n] === 1) data[n]! |= 1 << s;
  });
  const { dims, spacingMm, affineIjkToLps } = masks[0]!;
  return { data, dims, spacingMm, affineIjkToLps };
}

/** Runs `plastimatch dvh` (cumulative, voxel counts) and returns its log and the count columns of the first `structures`. */
async function plastimatchDvh(
  dosePath: string,
  ssPath: string,
  structures: number,
  maxDoseGy: number,
): Promise<{ log: string; counts: number[][] }> {
  const csv = path.join(workDir, `${path.basename(dosePath, '.nii')}.csv`);
  // enough bins that the last (which takes everything above) stays empty
  const bins = Math.ceil(maxDoseGy / PLASTIMATCH_BIN_GY) + 3;
  const run = spawnSync(
    'plastimatch',
    [
      'dvh',
      '--input-dose',
      dosePath,
      '--input-ss-img',
      ssPath,
      '--output-csv',
      csv,
      '--dose-units',
      'gy',
      '--cumulative',
      '--normalization',
      'vox',
      '--bin-width',
      String(PLASTIMATCH_BIN_GY),
      '--num-bins',
      String(bins),
    ],
    { encoding: 'utf8' },
  );
  const log = `${run.stdout}\n${run.stderr}`;
  if (run.status !== 0) throw new Error(`plastimatch dvh failed (${run.status}):\n${log}`);
  const rows = (await readFile(csv, 'utf8')).trim().split('\n').slice(1);
  const counts = Array.from({ length: structures }, (_, s) =>
    rows.map((row) => Number(row.split(',')[s + 1])),
  );
  return { log, counts };
}

/** Our cumulative count at plastimatch's row b: voxels with d >= (b - 0.5)·w, our edge 2b - 1. */
function ourCountAtRow(dvh: Dvh, b: number): number {
  if (b === 0) return dvh.voxelCount;
  return dvh.cumulativeVoxels[2 * b - 1] ?? 0;
}

/** Dmean, D95% and V20Gy read off plastimatch's cumulative counts (edges at (b - 0.5)·w, linear between). */
function statisticsFromCsv(counts: number[]): { dmeanGy: number; d95Gy: number; v20Percent: number } {
  const w = PLASTIMATCH_BIN_GY;
  const n = counts[0]!;
  let sum = 0;
  for (let b = 0; b < counts.length; b++) sum += b * w * (counts[b]! - (counts[b + 1] ?? 0));
  const edge = (b: number) => Math.max(0, (b - 0.5) * w);
  const target = 0.95 * n;
  let b = counts.length - 1;
  while (b > 0 && counts[b]! < target) b--;
  const d95Gy = edge(b) + (w * (counts[b]! - target)) / (counts[b]! - counts[b + 1]!);
  const at = 20 / w + 0.5;
  const lo = Math.floor(at);
  const v20 = counts[lo]! + (at - lo) * (counts[lo + 1]! - counts[lo]!);
  return { dmeanGy: sum / n, d95Gy, v20Percent: (100 * v20) / n };
}

/** Largest |difference| between our cumulative counts and plastimatch's, over all rows. */
function maxRowDifference(dvh: Dvh, counts: number[]): number {
  let worst = 0;
  counts.forEach((count, b) => (worst = Math.max(worst, Math.abs(count - ourCountAtRow(dvh, b)))));
  return worst;
}

interface Compared {
  name: string;
  voxels: number;
  maxRowDiffVoxels: number;
  ours: { dmeanGy: number; d95Gy: number; v20Percent: number };
  plastimatch: { dmeanGy: number; d95Gy: number; v20Percent: number };
}

function compare(name: string, dvh: Dvh, counts: number[]): Compared {
  return {
    name,
    voxels: dvh.voxelCount,
    maxRowDiffVoxels: maxRowDifference(dvh, counts),
    ours: {
      dmeanGy: dvh.dmeanGy!,
      d95Gy: doseAtVolumePercent(dvh, 95)!,
      v20Percent: volumeAtDoseGy(dvh, 20)!.percent,
    },
    plastimatch: statisticsFromCsv(counts),
  };
}

function report(title: string, rows: Compared[]): void {
  const f = (v: number) => v.toFixed(4);
  const lines = rows.map(
    (r) =>
      `  ${r.name}: ${r.voxels} voxels, max row diff ${r.maxRowDiffVoxels} voxels; ` +
      `Dmean ${f(r.ours.dmeanGy)} vs ${f(r.plastimatch.dmeanGy)} Gy, D95% ${f(r.ours.d95Gy)} vs ` +
      `${f(r.plastimatch.d95Gy)} Gy, V20Gy ${f(r.ours.v20Percent)} vs ${f(r.plastimatch.v20Percent)} %`,
  );
  process.stdout.write(`${title}\n${lines.join('\n')}\n`);
}

/** A dose with gradients in every direction, 0.5 .. about 52 Gy within 150 mm of the origin. */
const syntheticDose = (x: number, y: number, z: number) =>
  48 * Math.exp(-((x - 10) ** 2 + (y + 5) ** 2) / (2 * 25 ** 2)) * (1 + 0.003 * z) +
  2 +
  1.5 * Math.tanh((x + 10) / 30);

describe.skipIf(!hasPlastimatch)(
  'DVH against plastimatch dvh (skipped when plastimatch is not installed)',
  () => {
    // CT: 1 x 1 x 2.5 mm, 96 x 96 x 40; dose: 2.5 mm, its centres half a dose voxel (1.25 mm) off the CT's
    const ctSpacing: Vec3 = [1, 1, 2.5];
    const ctDims: Vec3 = [96, 96, 40];
    const ctOrigin: Vec3 = [-47.5, -47.5, -48.75];
    const names = ['sphere', 'tube', 'shell'];

    it('matches voxel for voxel when both use the same dose on the CT grid, and within float rounding when plastimatch resamples', async () => {
      const masks = [
        analyticMask(ctDims, ctSpacing, ctOrigin, (x, y, z) => (x - 5) ** 2 + y ** 2 + z ** 2 <= 20 ** 2),
        // a thin oblique tube (2 mm radius), LAD-like
        analyticMask(ctDims, ctSpacing, ctOrigin, (x, y, z) => (x + 20 - 0.2 * z) ** 2 + (y - 15) ** 2 <= 4),
        analyticMask(ctDims, ctSpacing, ctOrigin, (x, y, z) => {
          const r2 = x ** 2 + y ** 2 + z ** 2;
          return r2 >= 35 ** 2 && r2 <= 38 ** 2;
        }),
      ];
      const ssPath = path.join(workDir, 'synthetic-ss.nii');
      await writeNiftiFile(ssPath, structureSetImage(masks));
      const dosePath = path.join(workDir, 'synthetic-dose.nii');
      const dose = await roundTrip(
        dosePath,
        analyticDose([40, 40, 41], [2.5, 2.5, 2.5], [-48.75, -48.75, -50], syntheticDose),
      );
      const ct = await roundTrip(path.join(workDir, 'synthetic-ct-grid.nii'), masks[0]!);

      const ours = masks.map((mask) => {
        const sampled = sampleDoseInMask(dose, { ...mask, affineIjkToLps: ct.affineIjkToLps });
        expect(sampled.outsideVoxels).toBe(0);
        return computeDvh(sampled.doseGy, sampled.voxelCc, { binWidthGy: OUR_BIN_GY });
      });
      const maxDoseGy = Math.max(...ours.map((d) => d.dmaxGy!));

      // same sampling: plastimatch gets the dose we sampled, on the CT grid
      const onCtPath = path.join(workDir, 'synthetic-dose-on-ct.nii');
      await writeNiftiFile(onCtPath, resampleDoseToGrid(dose, ct).dose);
      const same = await plastimatchDvh(onCtPath, ssPath, 3, maxDoseGy);
      expect(same.log).toContain('Resample not necessary');
      const sameRows = ours.map((dvh, s) => compare(names[s]!, dvh, same.counts[s]!));
      report('plastimatch dvh, same dose on the CT grid:', sameRows);
      for (const row of sameRows) expect(row.maxRowDiffVoxels, row.name).toBe(0);

      // plastimatch resamples the 2.5 mm dose itself
      const own = await plastimatchDvh(dosePath, ssPath, 3, maxDoseGy);
      const ownRows = ours.map((dvh, s) => compare(names[s]!, dvh, own.counts[s]!));
      report('plastimatch dvh, resampling the 2.5 mm dose itself:', ownRows);
      for (const row of ownRows) expect(row.maxRowDiffVoxels, row.name).toBeLessThanOrEqual(2);

      // a dose grid rotated 90 degrees about z (i along +y, j along -x) that stops at z = 26.25 mm: the top
      // of the shell lies outside it (0 Gy on both sides; CT slice z = 26.25 mm sits exactly on the border)
      const rotatedPath = path.join(workDir, 'synthetic-dose-rotated.nii');
      const rotatedAffine = gridAffine([0, 1, 0, -1, 0, 0, 0, 0, 1], [2.5, 2.5, 2.5], [48.75, -48.75, -50]);
      const rotated = await roundTrip(
        rotatedPath,
        analyticDose([40, 40, 31], [2.5, 2.5, 2.5], rotatedAffine, syntheticDose),
      );
      const oursRotated = masks.map((mask) => {
        const sampled = sampleDoseInMask(rotated, { ...mask, affineIjkToLps: ct.affineIjkToLps });
        return computeDvh(sampled.doseGy, sampled.voxelCc, {
          binWidthGy: OUR_BIN_GY,
          outsideDoseGridVoxels: sampled.outsideVoxels,
        });
      });
      expect(oursRotated.map((d) => d.outsideDoseGridVoxels > 0)).toEqual([false, true, true]);
      const rotatedRun = await plastimatchDvh(rotatedPath, ssPath, 3, maxDoseGy);
      const rotatedRows = oursRotated.map((dvh, s) => compare(names[s]!, dvh, rotatedRun.counts[s]!));
      report('plastimatch dvh, rotated dose grid partly outside:', rotatedRows);
      for (const row of rotatedRows) expect(row.maxRowDiffVoxels, row.name).toBeLessThanOrEqual(2);

      for (const row of [...sameRows, ...ownRows, ...rotatedRows]) {
        // Dmean from bin centres is within half a bin of the exact mean; D95% and V20Gy from the
        // same curve read at plastimatch's coarser edges
        expect(Math.abs(row.ours.dmeanGy - row.plastimatch.dmeanGy), row.name).toBeLessThan(
          PLASTIMATCH_BIN_GY / 2,
        );
        expect(Math.abs(row.ours.d95Gy - row.plastimatch.d95Gy), row.name).toBeLessThan(PLASTIMATCH_BIN_GY);
        expect(Math.abs(row.ours.v20Percent - row.plastimatch.v20Percent), row.name).toBeLessThan(0.5);
      }
    }, 60_000);

    it('agrees on the real geometry of the breast case (Heart, Breast, Lt Lung with holes)', async () => {
      const files = ['05_Heart.nii.gz', '04_Breast.nii.gz', '06_Lt_Lung.nii.gz'];
      const full = await Promise.all(
        files.map(async (f) => toMask(await readNiftiFile(path.join(breastMasks, f)))),
      );
      const boxes = full.map((m) => foregroundBox(m.data, m.dims)!);
      const box: IndexBox = {
        iMin: Math.min(...boxes.map((b) => b.iMin)) - 2,
        iMax: Math.max(...boxes.map((b) => b.iMax)) + 2,
        jMin: Math.min(...boxes.map((b) => b.jMin)) - 2,
        jMax: Math.max(...boxes.map((b) => b.jMax)) + 2,
        kMin: Math.min(...boxes.map((b) => b.kMin)),
        kMax: Math.max(...boxes.map((b) => b.kMax)),
      };
      const masks = full.map((m) => cropMask(m, box));
      const ssPath = path.join(workDir, 'breast-ss.nii');
      await writeNiftiFile(ssPath, structureSetImage(masks));
      const ct = await roundTrip(path.join(workDir, 'breast-ct-grid.nii'), masks[0]!);
      // a 2.5 mm dose grid over the box, from a corner half a dose voxel outside it
      const [x0, y0, z0] = voxelToLps(ct.affineIjkToLps, 0, 0, 0);
      const [x1, y1, z1] = voxelToLps(ct.affineIjkToLps, ct.dims[0] - 1, ct.dims[1] - 1, ct.dims[2] - 1);
      const doseDims: Vec3 = [
        Math.ceil((x1 - x0) / 2.5) + 2,
        Math.ceil((y1 - y0) / 2.5) + 2,
        Math.ceil((z1 - z0) / 2.5) + 2,
      ];
      const [cx, cy, cz] = [(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2];
      const dosePath = path.join(workDir, 'breast-dose.nii');
      const dose = await roundTrip(
        dosePath,
        analyticDose(doseDims, [2.5, 2.5, 2.5], [x0 - 1.25, y0 - 1.25, z0 - 1.25], (x, y, z) =>
          syntheticDose(x - cx, y - cy, z - cz),
        ),
      );
      const ours = masks.map((mask) => {
        const sampled = sampleDoseInMask(dose, { ...mask, affineIjkToLps: ct.affineIjkToLps });
        expect(sampled.outsideVoxels).toBe(0);
        return computeDvh(sampled.doseGy, sampled.voxelCc, { binWidthGy: OUR_BIN_GY });
      });
      expect(ours.map((d) => d.voxelCount)).toEqual(full.map((m) => m.data.reduce((a, v) => a + v, 0)));
      const maxDoseGy = Math.max(...ours.map((d) => d.dmaxGy!));
      const onCtPath = path.join(workDir, 'breast-dose-on-ct.nii');
      await writeNiftiFile(onCtPath, resampleDoseToGrid(dose, ct).dose);
      const same = await plastimatchDvh(onCtPath, ssPath, 3, maxDoseGy);
      const own = await plastimatchDvh(dosePath, ssPath, 3, maxDoseGy);
      const sameRows = ours.map((dvh, s) => compare(files[s]!, dvh, same.counts[s]!));
      const ownRows = ours.map((dvh, s) => compare(files[s]!, dvh, own.counts[s]!));
      report('breast case geometry, same dose on the CT grid:', sameRows);
      report('breast case geometry, plastimatch resampling:', ownRows);
      for (const row of sameRows) expect(row.maxRowDiffVoxels, row.name).toBe(0);
      for (const row of ownRows) expect(row.maxRowDiffVoxels, row.name).toBeLessThanOrEqual(2);
    }, 60_000);
  },
);
