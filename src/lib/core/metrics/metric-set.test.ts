import { describe, expect, it } from 'vitest';
import { axisAlignedAffine, type Mask, type Vec3 } from '../volume/volume';
import { contourLengthTable } from './added-path-length';
import { jsonNumber, metricsToJson, toleranceKey } from './metric-json';
import { computeMetrics, metricDefinitionVersion, type MetricResult } from './metric-set';
import { surfelAreaTable } from './surfel-area';
import { Workspace } from './workspace';
import { mulberry32 } from '../../../../test/helpers/random';
import { gridDistance } from '../../../../test/helpers/grid-distance';

// ---------------------------------------------------------------------------------------------------
// Fixtures

type Inside = (i: number, j: number, k: number) => boolean;

/** A 0/1 mask on an axis-aligned grid (or the given affine), voxel (i, j, k) inside where `inside` says so. */
function makeMask(dims: Vec3, spacingMm: Vec3, inside: Inside, affine?: Float64Array): Mask {
  const [nx, ny, nz] = dims;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = inside(i, j, k) ? 1 : 0;
  return { data, dims, spacingMm, affineIjkToLps: affine ?? axisAlignedAffine(spacingMm) };
}

/** Inclusive index ranges per axis. */
type Range3 = [[number, number], [number, number], [number, number]];

const boxInside =
  ([[i0, i1], [j0, j1], [k0, k1]]: Range3): Inside =>
  (i, j, k) =>
    i >= i0 && i <= i1 && j >= j0 && j <= j1 && k >= k0 && k <= k1;

function boxMask(dims: Vec3, spacingMm: Vec3, range: Range3, affine?: Float64Array): Mask {
  return makeMask(dims, spacingMm, boxInside(range), affine);
}

const emptyMask = (dims: Vec3, spacingMm: Vec3): Mask => makeMask(dims, spacingMm, () => false);

/** The same ranges moved `n` voxels along `axis`. */
function shifted(range: Range3, axis: number, n: number): Range3 {
  return range.map(([a, b], m) => (m === axis ? [a + n, b + n] : [a, b])) as Range3;
}

/** A random mask: a union of a few random boxes and ellipsoids, some touching the array border. */
function randomBlob(random: () => number, dims: Vec3, spacingMm: Vec3): Mask {
  const shapes: Inside[] = [];
  const count = 1 + Math.floor(random() * 3);
  for (let s = 0; s < count; s++) {
    const centre = dims.map((n) => random() * n);
    const radius = dims.map((n) => 0.6 + random() * n * 0.45);
    if (random() < 0.5) {
      shapes.push((i, j, k) => [i, j, k].every((x, axis) => Math.abs(x - centre[axis]) <= radius[axis]));
    } else {
      shapes.push(
        (i, j, k) =>
          [i, j, k].reduce((sum, x, axis) => sum + ((x - centre[axis]) / radius[axis]) ** 2, 0) <= 1,
      );
    }
  }
  const mask = makeMask(dims, spacingMm, (i, j, k) => shapes.some((inside) => inside(i, j, k)));
  if (!mask.data.includes(1)) mask.data[Math.floor(random() * mask.data.length)] = 1;
  return mask;
}

function randomDims(random: () => number): Vec3 {
  return [3 + Math.floor(random() * 7), 3 + Math.floor(random() * 7), 1 + Math.floor(random() * 8)];
}

const aniso: Vec3 = [0.5, 0.8, 2.5];
/** The trial's entry of a list, cycling. */
const pick = <T>(list: T[], trial: number): T => list[trial % list.length];
/** (si + sj) / 2 of `aniso`: the length one APL boundary pixel adds. */
const anisoPixel = (aniso[0] + aniso[1]) / 2;
const voxelCc = (spacing: Vec3) => (spacing[0] * spacing[1] * spacing[2]) / 1000;

// ---------------------------------------------------------------------------------------------------
// Brute-force references written from DESIGN.md "Metric definitions", not from the kernels; only the
// per-code surfel area and contour length tables are shared (the golden cases check those)

function at(mask: Mask, i: number, j: number, k: number): number {
  const [nx, ny, nz] = mask.dims;
  if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return 0;
  return mask.data[i + nx * (j + ny * k)] !== 0 ? 1 : 0;
}

interface Point {
  i: number;
  j: number;
  k: number;
  weight: number;
}

function nearest(from: Point[], to: Point[], s: Vec3): number[] {
  return from.map((p) => {
    let min = Infinity;
    for (const q of to) {
      const d = gridDistance(q.i - p.i, q.j - p.j, q.k - p.k, s);
      if (d < min) min = d;
    }
    return min;
  });
}

/** DeepMind surfels: corners with a mixed 2x2x2 neighbourhood (outside is background), area from the code. */
function surfels(mask: Mask): Point[] {
  const [nx, ny, nz] = mask.dims;
  const area = surfelAreaTable(mask.spacingMm);
  const out: Point[] = [];
  for (let k = 0; k <= nz; k++) {
    for (let j = 0; j <= ny; j++) {
      for (let i = 0; i <= nx; i++) {
        const code =
          128 * at(mask, i - 1, j - 1, k - 1) +
          64 * at(mask, i - 1, j - 1, k) +
          32 * at(mask, i - 1, j, k - 1) +
          16 * at(mask, i - 1, j, k) +
          8 * at(mask, i, j - 1, k - 1) +
          4 * at(mask, i, j - 1, k) +
          2 * at(mask, i, j, k - 1) +
          at(mask, i, j, k);
        if (code !== 0 && code !== 255) out.push({ i, j, k, weight: area[code] });
      }
    }
  }
  return out;
}

/** Sort by value; the first value whose cumulative weight fraction reaches `fraction`; clamped to the last. */
function nearestRank(values: number[], weights: number[], fraction: number): number {
  const order = values.map((_, n) => n).sort((a, b) => values[a] - values[b]);
  const total = weights.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  for (const n of order) {
    cumulative += weights[n];
    if (cumulative / total >= fraction) return values[n];
  }
  return values[order[order.length - 1]];
}

/** numpy.percentile, linear method with numpy's _lerp. */
function numpyLinear(values: number[], fraction: number): number {
  const a = [...values].sort((x, y) => x - y);
  const position = (a.length - 1) * fraction;
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, a.length - 1);
  const t = position - lo;
  const diff = a[hi] - a[lo];
  return t >= 0.5 ? a[hi] - diff * (1 - t) : a[lo] + diff * t;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const weightedMean = (d: number[], w: number[]) => sum(d.map((x, n) => x * w[n])) / sum(w);

/** The voxel-centre surface: foreground voxels with a face neighbour in the background or outside. */
function surfaceVoxels(mask: Mask): Point[] {
  const [nx, ny, nz] = mask.dims;
  const out: Point[] = [];
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        if (!at(mask, i, j, k)) continue;
        const faces = [
          at(mask, i - 1, j, k),
          at(mask, i + 1, j, k),
          at(mask, i, j - 1, k),
          at(mask, i, j + 1, k),
          at(mask, i, j, k - 1),
          at(mask, i, j, k + 1),
        ];
        if (faces.includes(0)) out.push({ i, j, k, weight: 1 });
      }
  return out;
}

/** Per slice k: the in-plane boundary pixels (4-neighbour outside the mask or the image). */
function boundaryPixels(mask: Mask, k: number): Point[] {
  const [nx, ny] = mask.dims;
  const out: Point[] = [];
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) {
      if (!at(mask, i, j, k)) continue;
      if (
        i === 0 ||
        j === 0 ||
        i === nx - 1 ||
        j === ny - 1 ||
        !at(mask, i - 1, j, k) ||
        !at(mask, i + 1, j, k) ||
        !at(mask, i, j - 1, k) ||
        !at(mask, i, j + 1, k)
      )
        out.push({ i, j, k: 0, weight: 1 });
    }
  return out;
}

/** Per slice k: marching-squares contour corners (mixed 2x2 code) with their segment length. */
function contourCorners(mask: Mask, k: number): Point[] {
  const [nx, ny] = mask.dims;
  const [si, sj] = mask.spacingMm;
  const length = contourLengthTable(si, sj);
  const out: Point[] = [];
  for (let j = 0; j <= ny; j++)
    for (let i = 0; i <= nx; i++) {
      const code =
        8 * at(mask, i - 1, j - 1, k) +
        4 * at(mask, i - 1, j, k) +
        2 * at(mask, i, j - 1, k) +
        at(mask, i, j, k);
      if (code !== 0 && code !== 15) out.push({ i, j, k: 0, weight: length[code] });
    }
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('identical masks', () => {
  it.each([
    [
      'a box, anisotropic',
      boxMask([10, 9, 8], aniso, [
        [2, 6],
        [1, 5],
        [3, 5],
      ]),
    ],
    [
      'a single voxel',
      boxMask([5, 5, 5], aniso, [
        [2, 2],
        [2, 2],
        [2, 2],
      ]),
    ],
    ['a random blob', randomBlob(mulberry32(11), [9, 8, 7], [0.9, 1.1, 3])],
  ])('%s: overlap 1, every distance 0, surface Dice 1, APL 0', (_name, reference) => {
    const test: Mask = { ...reference, data: reference.data.slice() };
    const r = computeMetrics(reference, test, {
      surfaceDiceTolerancesMm: [0, 1, 2, 3],
      aplTolerancesMm: [0, 1],
    });
    expect([r.dice, r.jaccard, r.sensitivity, r.precision]).toEqual([1, 1, 1, 1]);
    expect(r.detected).toBe(true);
    expect(r.voxelsIntersection).toBe(r.voxelsReference);
    expect([r.volumeDiffCc, r.volumeDiffPct]).toEqual([0, 0]);
    expect([r.hd95Mm, r.hdMaxMm, r.hd95ReferenceToTestMm, r.hd95TestToReferenceMm]).toEqual([0, 0, 0, 0]);
    expect([r.msdReferenceToTestMm, r.msdTestToReferenceMm, r.msdMeanMm, r.assdMm]).toEqual([0, 0, 0, 0]);
    expect(r.surfaceDice.values).toEqual([1, 1, 1, 1]);
    expect(r.surfaceAreaReferenceMm2).toBe(r.surfaceAreaTestMm2);
    expect(r.surfaceAreaReferenceMm2).toBeGreaterThan(0);
    expect(r.surfelsReference).toBe(r.surfelsTest);
    expect(r.apl.pixelMm).toEqual([0, 0]);
    expect(r.apl.contourMm).toEqual([0, 0]);
    expect(r.apl.slicesWithAddedPixel).toEqual([0, 0]);
    expect(r.apl.referenceSlices).toBeGreaterThan(0);
    expect(r.centroidShiftMm).toBe(0);
    expect(r.centroidShiftLpsMm).toEqual([0, 0, 0]);
    expect([r.cranialExtentErrorMm, r.caudalExtentErrorMm]).toEqual([0, 0]);
    const vc = r.voxelCentre;
    expect(vc).not.toBeNull();
    expect([vc?.hdMaxMm, vc?.hd95Mm, vc?.hd95PooledMm, vc?.msdMeanMm, vc?.assdPooledMm]).toEqual([
      0, 0, 0, 0, 0,
    ]);
    expect(vc?.surfaceDiceCount.values).toEqual([1, 1, 1, 1]);
  });

  it('a single voxel has eight surfels of equal area and one surface voxel', () => {
    const single = boxMask([5, 5, 5], aniso, [
      [2, 2],
      [2, 2],
      [2, 2],
    ]);
    const r = computeMetrics(single, single);
    expect(r.surfelsReference).toBe(8);
    expect(r.voxelCentre?.surfaceVoxelsReference).toBe(1);
    expect(r.volumeReferenceCc).toBeCloseTo(voxelCc(aniso), 15);
    expect(r.surfaceAreaReferenceMm2).toBeCloseTo(8 * surfelAreaTable(aniso)[1], 12);
  });
});

describe('a box shifted by n voxels along one axis (anisotropic 0.5 x 0.8 x 2.5 mm)', () => {
  // 4 voxels thick along the shift, 6 across: the faces at distance n·s hold well over 5 % of the area,
  // so the nearest-rank 95th percentile is the maximum
  const dims: Vec3 = [14, 14, 14];
  const cases: [number, number][] = [];
  for (const axis of [0, 1, 2]) for (const n of [1, 2, 3]) cases.push([axis, n]);

  it.each(cases)('axis %i, n = %i', (axis, n) => {
    const reference: Range3 = [
      [3, 8],
      [3, 8],
      [3, 8],
    ];
    reference[axis] = [3, 6];
    const ref = boxMask(dims, aniso, reference);
    const test = boxMask(dims, aniso, shifted(reference, axis, n));
    const r = computeMetrics(ref, test);
    const expected = n * aniso[axis];

    expect(r.hdMaxMm).toBe(expected);
    expect(r.hd95Mm).toBe(expected);
    expect(r.hd95ReferenceToTestMm).toBe(expected);
    expect(r.hd95TestToReferenceMm).toBe(expected);
    expect(r.voxelCentre?.hdMaxMm).toBe(expected);
    // mirror images of each other: the same directed distances up to summation order
    expect(r.msdReferenceToTestMm).toBeCloseTo(r.msdTestToReferenceMm ?? NaN, 12);
    expect(r.msdReferenceToTestMm).toBeGreaterThan(0);
    expect(r.msdReferenceToTestMm).toBeLessThan(expected);

    const voxels = 4 * 6 * 6;
    const overlap = (4 - n) * 6 * 6;
    expect([r.voxelsReference, r.voxelsTest, r.voxelsIntersection]).toEqual([voxels, voxels, overlap]);
    expect(r.dice).toBe((4 - n) / 4);
    expect(r.jaccard).toBe((4 - n) / (4 + n));
    expect(r.sensitivity).toBe((4 - n) / 4);
    expect(r.precision).toBe((4 - n) / 4);
    expect(r.volumeReferenceCc).toBeCloseTo(voxels * voxelCc(aniso), 14);
    expect(r.volumeTestCc).toBe(r.volumeReferenceCc);
    expect(r.volumeDiffCc).toBe(0);
    expect(r.surfaceAreaReferenceMm2).toBeCloseTo(r.surfaceAreaTestMm2, 10);

    // surface Dice reaches 1 at τ = n·s (d ≤ τ) and not before
    const full = computeMetrics(ref, test, { surfaceDiceTolerancesMm: [expected * 0.999, expected] });
    expect(full.surfaceDice.values[0]).toBeLessThan(1);
    expect(full.surfaceDice.values[1]).toBe(1);

    const shift = [0, 0, 0];
    shift[axis] = expected;
    expect(r.centroidShiftMm).toBeCloseTo(expected, 12);
    r.centroidShiftLpsMm?.forEach((value, m) => expect(value).toBeCloseTo(shift[m], 12));
  });

  it('a diagonal shift (1, 1, 1) has HD = the voxel diagonal', () => {
    const range: Range3 = [
      [3, 8],
      [3, 8],
      [3, 8],
    ];
    const ref = boxMask([13, 13, 13], aniso, range);
    const test = boxMask([13, 13, 13], aniso, shifted(shifted(shifted(range, 0, 1), 1, 1), 2, 1));
    const r = computeMetrics(ref, test);
    expect(r.hdMaxMm).toBe(gridDistance(1, 1, 1, aniso));
    expect(r.dice).toBe(125 / 216);
  });
});

describe('single voxels', () => {
  it('one voxel against the voxel 3 away along i: HD = 3·si, half the area at 2·si', () => {
    const ref = boxMask([9, 3, 3], aniso, [
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const test = boxMask([9, 3, 3], aniso, [
      [4, 4],
      [1, 1],
      [1, 1],
    ]);
    const r = computeMetrics(ref, test, { surfaceDiceTolerancesMm: [0.99, 1, 1.5] });
    expect(r.hdMaxMm).toBe(1.5);
    expect(r.hd95Mm).toBe(1.5);
    expect(r.hd95ReferenceToTestMm).toBe(1.5);
    expect(r.hd95TestToReferenceMm).toBe(1.5);
    // four corners at 2 voxels, four at 3, all of equal area
    expect(r.msdReferenceToTestMm).toBeCloseTo(1.25, 12);
    expect(r.assdMm).toBeCloseTo(1.25, 12);
    expect(r.surfaceDice.values[0]).toBe(0);
    expect(r.surfaceDice.values[1]).toBeCloseTo(0.5, 12);
    expect(r.surfaceDice.values[2]).toBe(1);
    expect([r.dice, r.sensitivity, r.precision, r.detected]).toEqual([0, 0, 0, false]);
    expect(r.voxelCentre?.hdMaxMm).toBe(1.5);
    expect(r.voxelCentre?.hd95Mm).toBe(1.5);
    expect(r.voxelCentre?.surfaceVoxelsReference).toBe(1);
  });

  it('one voxel against the voxel 3 slices away: HD = 3·sk', () => {
    const ref = boxMask([3, 3, 9], aniso, [
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
    const test = boxMask([3, 3, 9], aniso, [
      [1, 1],
      [1, 1],
      [4, 4],
    ]);
    const r = computeMetrics(ref, test);
    expect(r.hdMaxMm).toBe(7.5);
    expect(r.hd95Mm).toBe(7.5);
    expect(r.voxelCentre?.hdMaxMm).toBe(7.5);
    expect(r.centroidShiftLpsMm).toEqual([0, 0, 7.5]);
    expect(r.cranialExtentErrorMm).toBe(7.5);
    expect(r.caudalExtentErrorMm).toBe(-7.5);
    // the test is empty on the reference's slice: its whole boundary (one pixel) is added
    expect(r.apl.pixelMm).toEqual([anisoPixel, anisoPixel, anisoPixel, anisoPixel]);
    expect(r.apl.slicesWithAddedPixel).toEqual([1, 1, 1, 1]);
  });
});

describe('masks touching the array border (outside is background)', () => {
  it('a full-volume mask has a surface: every corner on the hull of the corner grid', () => {
    const dims: Vec3 = [3, 4, 5];
    const full = makeMask(dims, aniso, () => true);
    const r = computeMetrics(full, full);
    expect(r.surfelsReference).toBe(4 * 5 * 6 - 2 * 3 * 4);
    expect(r.surfaceAreaReferenceMm2).toBeGreaterThan(0);
    expect(r.voxelCentre?.surfaceVoxelsReference).toBe(3 * 4 * 5 - 1 * 2 * 3);
    expect(r.apl.referenceSlices).toBe(5);
    // a 3 x 4 slice has 2 pixels not touching the image edge
    expect(r.apl.referenceBoundaryPixelLengthMm).toBeCloseTo(5 * 10 * anisoPixel, 12);
  });

  it('gives the same surface as the same shape padded with background', () => {
    const dims: Vec3 = [3, 4, 5];
    const full = makeMask(dims, aniso, () => true);
    const padded = boxMask([5, 6, 7], aniso, [
      [1, 3],
      [1, 4],
      [1, 5],
    ]);
    const a = computeMetrics(full, full);
    const b = computeMetrics(padded, padded);
    expect(a.surfelsReference).toBe(b.surfelsReference);
    expect(a.surfaceAreaReferenceMm2).toBeCloseTo(b.surfaceAreaReferenceMm2, 10);
    expect(a.voxelCentre?.surfaceVoxelsReference).toBe(b.voxelCentre?.surfaceVoxelsReference);
    expect(a.apl.referenceBoundaryPixelLengthMm).toBeCloseTo(b.apl.referenceBoundaryPixelLengthMm, 12);
    expect(a.apl.referenceContourLengthMm).toBeCloseTo(b.apl.referenceContourLengthMm, 12);
  });

  it('a full-volume mask against one missing its last i layer: HD = si', () => {
    const dims: Vec3 = [4, 4, 4];
    const full = makeMask(dims, aniso, () => true);
    const lessOne = makeMask(dims, aniso, (i) => i < 3);
    const r = computeMetrics(full, lessOne);
    expect(r.hdMaxMm).toBe(0.5);
    expect(r.hd95Mm).toBe(0.5);
    expect(r.dice).toBe((2 * 48) / (64 + 48));
    const padded = computeMetrics(
      boxMask([6, 6, 6], aniso, [
        [1, 4],
        [1, 4],
        [1, 4],
      ]),
      boxMask([6, 6, 6], aniso, [
        [1, 3],
        [1, 4],
        [1, 4],
      ]),
    );
    expect(r.hd95ReferenceToTestMm).toBe(padded.hd95ReferenceToTestMm);
    expect(r.msdReferenceToTestMm).toBeCloseTo(padded.msdReferenceToTestMm ?? NaN, 12);
    expect(r.assdMm).toBeCloseTo(padded.assdMm ?? NaN, 12);
    expect(r.apl.pixelMm).toEqual(padded.apl.pixelMm);
  });

  it('a 1-voxel-thick array (nz = 1) works', () => {
    const ref = boxMask(
      [8, 8, 1],
      [1, 1, 3],
      [
        [1, 5],
        [1, 5],
        [0, 0],
      ],
    );
    const test = boxMask(
      [8, 8, 1],
      [1, 1, 3],
      [
        [2, 6],
        [1, 5],
        [0, 0],
      ],
    );
    const r = computeMetrics(ref, test);
    expect(r.hdMaxMm).toBe(1);
    expect(r.dice).toBe(0.8);
    expect(r.apl.referenceSlices).toBe(1);
    expect(r.apl.pixelMm).toEqual([8, 0, 0, 0]);
  });
});

describe('a sphere against a larger concentric sphere', () => {
  const spacing: Vec3 = [0.8, 0.8, 1.5];
  const dims: Vec3 = [31, 31, 17];
  const sphere = (radiusMm: number) =>
    makeMask(dims, spacing, (i, j, k) => gridDistance(i - 15, j - 15, k - 8, spacing) <= radiusMm);
  const small = sphere(5);
  const large = sphere(8.5);
  const taus = Array.from({ length: 25 }, (_, n) => n * 0.25);
  const r = computeMetrics(small, large, { surfaceDiceTolerancesMm: taus });

  it('has HD95 within one voxel diagonal of the radius difference', () => {
    const diagonal = gridDistance(1, 1, 1, spacing);
    expect(Math.abs((r.hd95Mm ?? NaN) - 3.5)).toBeLessThanOrEqual(diagonal);
    expect(Math.abs((r.voxelCentre?.hd95Mm ?? NaN) - 3.5)).toBeLessThanOrEqual(diagonal);
    expect(r.hdMaxMm).toBeGreaterThanOrEqual(r.hd95Mm ?? Infinity);
  });

  it('has the small one inside the large one', () => {
    expect(r.sensitivity).toBe(1);
    expect(r.precision).toBe(r.voxelsReference / r.voxelsTest);
    expect(r.voxelsIntersection).toBe(r.voxelsReference);
    expect(r.centroidShiftMm).toBeCloseTo(0, 12);
  });

  it('has surface Dice non-decreasing in the tolerance, 1 from τ = HD max', () => {
    const values = r.surfaceDice.values.map((v) => v ?? NaN);
    for (let t = 1; t < values.length; t++) expect(values[t]).toBeGreaterThanOrEqual(values[t - 1]);
    expect(values[0]).toBe(0);
    taus.forEach((tau, t) => {
      if (tau >= (r.hdMaxMm ?? Infinity)) expect(values[t]).toBe(1);
      else expect(values[t]).toBeLessThan(1);
    });
    const counts = r.voxelCentre?.surfaceDiceCount.values.map((v) => v ?? NaN) ?? [];
    for (let t = 1; t < counts.length; t++) expect(counts[t]).toBeGreaterThanOrEqual(counts[t - 1]);
  });

  it('has APL non-increasing in the tolerance', () => {
    const q = computeMetrics(large, small, { aplTolerancesMm: [0, 0.5, 1, 2, 3, 4, 5] });
    for (let t = 1; t < 7; t++) {
      expect(q.apl.pixelMm[t]).toBeLessThanOrEqual(q.apl.pixelMm[t - 1]);
      expect(q.apl.contourMm[t]).toBeLessThanOrEqual(q.apl.contourMm[t - 1]);
    }
    expect(q.apl.pixelMm[0]).toBeGreaterThan(0);
  });
});

describe('empty masks (DESIGN.md "Empty masks")', () => {
  const dims: Vec3 = [8, 7, 6];
  const present = boxMask(dims, aniso, [
    [2, 4],
    [1, 5],
    [1, 3],
  ]);
  const empty = emptyMask(dims, aniso);
  const voxels = 3 * 5 * 3;

  it('test empty, reference not: Dice 0, sensitivity 0, precision null, HD +Infinity, not detected', () => {
    const r = computeMetrics(present, empty);
    expect(r.referenceEmpty).toBe(false);
    expect(r.testEmpty).toBe(true);
    expect([r.voxelsReference, r.voxelsTest, r.voxelsIntersection]).toEqual([voxels, 0, 0]);
    expect(r.volumeReferenceCc).toBeCloseTo(voxels * voxelCc(aniso), 14);
    expect(r.volumeTestCc).toBe(0);
    expect(r.volumeDiffCc).toBe(-r.volumeReferenceCc);
    expect(r.volumeDiffPct).toBe(-100);
    expect(r.dice).toBe(0);
    expect(r.jaccard).toBe(0);
    expect(r.sensitivity).toBe(0);
    expect(r.precision).toBeNull();
    expect(r.detected).toBe(false);
    expect(r.hd95Mm).toBe(Infinity);
    expect(r.hdMaxMm).toBe(Infinity);
    expect(r.hd95ReferenceToTestMm).toBe(Infinity);
    expect(r.hd95TestToReferenceMm).toBeNull();
    expect(r.msdReferenceToTestMm).toBe(Infinity);
    expect(r.msdTestToReferenceMm).toBeNull();
    expect(r.msdMeanMm).toBe(Infinity);
    expect(r.assdMm).toBe(Infinity);
    expect(r.surfaceDice.values).toEqual([0, 0, 0]);
    expect(r.surfaceAreaTestMm2).toBe(0);
    expect(r.surfelsTest).toBe(0);
    expect(r.surfelsReference).toBeGreaterThan(0);
    // APL: the whole reference boundary, at every tolerance
    const whole = r.apl.referenceBoundaryPixelLengthMm;
    expect(whole).toBeCloseTo(3 * (3 * 5 - 1 * 3) * anisoPixel, 12);
    expect(r.apl.pixelMm).toEqual([whole, whole, whole, whole]);
    for (const length of r.apl.contourMm) expect(length).toBeCloseTo(r.apl.referenceContourLengthMm, 10);
    expect(r.apl.slicesWithAddedPixel).toEqual([3, 3, 3, 3]);
    expect(r.voxelCentre).toBeNull();
    expect(r.centroidShiftMm).toBeNull();
    expect(r.centroidShiftLpsMm).toBeNull();
    expect(r.cranialExtentErrorMm).toBeNull();
    expect(r.caudalExtentErrorMm).toBeNull();
  });

  it('reference empty, test not: Dice 0, sensitivity null, precision 0, HD +Infinity, detected null', () => {
    const r = computeMetrics(empty, present);
    expect(r.referenceEmpty).toBe(true);
    expect(r.testEmpty).toBe(false);
    expect([r.voxelsReference, r.voxelsTest, r.voxelsIntersection]).toEqual([0, voxels, 0]);
    expect(r.volumeReferenceCc).toBe(0);
    expect(r.volumeDiffCc).toBe(r.volumeTestCc);
    expect(r.volumeDiffPct).toBeNull();
    expect(r.dice).toBe(0);
    expect(r.jaccard).toBe(0);
    expect(r.sensitivity).toBeNull();
    expect(r.precision).toBe(0);
    expect(r.detected).toBeNull();
    expect(r.hd95Mm).toBe(Infinity);
    expect(r.hdMaxMm).toBe(Infinity);
    expect(r.hd95ReferenceToTestMm).toBeNull();
    expect(r.hd95TestToReferenceMm).toBe(Infinity);
    expect(r.msdReferenceToTestMm).toBeNull();
    expect(r.msdTestToReferenceMm).toBe(Infinity);
    expect(r.msdMeanMm).toBe(Infinity);
    expect(r.assdMm).toBe(Infinity);
    expect(r.surfaceDice.values).toEqual([0, 0, 0]);
    expect(r.surfaceAreaReferenceMm2).toBe(0);
    expect(r.surfelsReference).toBe(0);
    // nothing to draw: no reference boundary
    expect(r.apl.pixelMm).toEqual([0, 0, 0, 0]);
    expect(r.apl.contourMm).toEqual([0, 0, 0, 0]);
    expect(r.apl.referenceSlices).toBe(0);
    expect(r.voxelCentre).toBeNull();
    expect(r.centroidShiftMm).toBeNull();
    expect(r.cranialExtentErrorMm).toBeNull();
  });

  it('both empty: ratios and distances null, volumes 0, APL 0, no voxel-centre block', () => {
    const r = computeMetrics(empty, emptyMask(dims, aniso));
    expect(r.referenceEmpty && r.testEmpty).toBe(true);
    expect([r.voxelsReference, r.voxelsTest, r.voxelsIntersection]).toEqual([0, 0, 0]);
    expect([r.volumeReferenceCc, r.volumeTestCc, r.volumeDiffCc]).toEqual([0, 0, 0]);
    expect(r.volumeDiffPct).toBeNull();
    for (const value of [r.dice, r.jaccard, r.sensitivity, r.precision, r.detected]) expect(value).toBeNull();
    for (const value of [
      r.hd95Mm,
      r.hdMaxMm,
      r.hd95ReferenceToTestMm,
      r.hd95TestToReferenceMm,
      r.msdReferenceToTestMm,
      r.msdTestToReferenceMm,
      r.msdMeanMm,
      r.assdMm,
      r.centroidShiftMm,
      r.centroidShiftLpsMm,
      r.cranialExtentErrorMm,
      r.caudalExtentErrorMm,
    ])
      expect(value).toBeNull();
    expect(r.surfaceDice.values).toEqual([null, null, null]);
    expect([r.surfaceAreaReferenceMm2, r.surfaceAreaTestMm2, r.surfelsReference, r.surfelsTest]).toEqual([
      0, 0, 0, 0,
    ]);
    expect(r.apl.pixelMm).toEqual([0, 0, 0, 0]);
    expect(r.apl.contourMm).toEqual([0, 0, 0, 0]);
    expect(r.apl.slicesWithAddedPixel).toEqual([0, 0, 0, 0]);
    expect(r.apl.referenceSlices).toBe(0);
    expect(r.apl.referenceBoundaryPixelLengthMm).toBe(0);
    expect(r.voxelCentre).toBeNull();
  });

  it('a test disjoint from the reference is not a detection', () => {
    const far = boxMask(dims, aniso, [
      [6, 7],
      [6, 6],
      [5, 5],
    ]);
    const r = computeMetrics(present, far);
    expect(r.detected).toBe(false);
    expect([r.dice, r.sensitivity, r.precision]).toEqual([0, 0, 0]);
    expect(Number.isFinite(r.hdMaxMm)).toBe(true);
  });
});

describe('ties at the tolerance', () => {
  const spacing: Vec3 = [1, 1, 1];
  const ref = boxMask([12, 10, 6], spacing, [
    [2, 6],
    [2, 6],
    [1, 4],
  ]);
  const test = boxMask([12, 10, 6], spacing, [
    [3, 7],
    [2, 6],
    [1, 4],
  ]);

  it('surface Dice: d exactly equal to τ counts as within', () => {
    const r = computeMetrics(ref, test, { surfaceDiceTolerancesMm: [0, 0.999, 1] });
    expect(r.hdMaxMm).toBe(1);
    expect(r.surfaceDice.values[0]).toBeGreaterThan(0);
    expect(r.surfaceDice.values[1]).toBeLessThan(1);
    expect(r.surfaceDice.values[2]).toBe(1);
    expect(r.voxelCentre?.surfaceDiceCount.values[2]).toBe(1);
  });

  it('APL: d exactly equal to τ is not added', () => {
    // per slice, the left column (5 pixels) and the inside of the right column (3) are 1 mm from the
    // test boundary; the rest lies on it
    const r = computeMetrics(ref, test, { aplTolerancesMm: [0, 0.5, 0.999, 1, 2] });
    expect(r.apl.pixelLengthMm).toBe(1);
    expect(r.apl.pixelMm).toEqual([32, 32, 32, 0, 0]);
    expect(r.apl.slicesWithAddedPixel).toEqual([4, 4, 4, 0, 0]);
    expect(r.apl.contourMm[3]).toBe(0);
    expect(r.apl.contourMm[0]).toBeGreaterThan(0);
  });
});

describe('added path length', () => {
  const dims: Vec3 = [10, 9, 10];
  const spacing: Vec3 = [0.8, 0.6, 2];
  const range: Range3 = [
    [2, 6],
    [1, 6],
    [2, 7],
  ];
  const ref = boxMask(dims, spacing, range);
  const missing = new Set([3, 5]);
  const test = makeMask(dims, spacing, (i, j, k) => boxInside(range)(i, j, k) && !missing.has(k));

  it('adds the full reference boundary of the slices the test misses, and nothing else', () => {
    const r = computeMetrics(ref, test, { aplTolerancesMm: [0, 1, 5, 100] });
    const pixelLength = (0.8 + 0.6) / 2;
    // a 5 x 6 rectangle has 5·6 − 3·4 = 18 boundary pixels
    const perSlice = 18 * pixelLength;
    for (let t = 0; t < 4; t++) {
      for (let k = 0; k < 10; k++) expect(r.apl.pixelMmBySlice[t][k]).toBe(missing.has(k) ? perSlice : 0);
      expect(r.apl.pixelMm[t]).toBe(2 * perSlice);
      expect(r.apl.slicesWithAddedPixel[t]).toBe(2);
    }
    // contour of a 5 x 6 rectangle: straight runs plus four half-diagonals at the corners
    const contour = 2 * 4 * 0.8 + 2 * 5 * 0.6 + 4 * 0.5 * Math.hypot(0.8, 0.6);
    for (let t = 0; t < 4; t++) expect(r.apl.contourMm[t]).toBeCloseTo(2 * contour, 10);
    expect(r.apl.referenceContourLengthMm).toBeCloseTo(6 * contour, 10);
    expect(r.apl.referenceSlices).toBe(6);
    expect(r.apl.referenceBoundaryPixelLengthMm).toBeCloseTo(6 * perSlice, 12);
    expect(r.apl.pixelLengthMm).toBe(pixelLength);
  });

  it('matches a brute-force pixel and contour model on random blobs; slices sum to the total', () => {
    const random = mulberry32(21);
    const taus = [0, 0.5, 0.8, 1, 1.6, 3];
    for (let trial = 0; trial < 25; trial++) {
      const d = randomDims(random);
      const s = pick<Vec3>(
        [
          [0.8, 0.8, 2],
          [1, 1, 3],
          [0.5, 1, 1],
          [0.8, 0.5, 2.5],
        ],
        trial,
      );
      const a = randomBlob(random, d, s);
      const b = trial % 7 === 6 ? emptyMask(d, s) : randomBlob(random, d, s);
      const r = computeMetrics(a, b, { aplTolerancesMm: taus });
      const planar: Vec3 = [s[0], s[1], 1];
      const pixelLength = (s[0] + s[1]) / 2;
      const pixelBySlice = taus.map(() => new Array<number>(d[2]).fill(0));
      const contour = taus.map(() => 0);
      let contourTotal = 0;
      let slices = 0;
      for (let k = 0; k < d[2]; k++) {
        const refPixels = boundaryPixels(a, k);
        if (refPixels.length === 0) continue;
        slices++;
        const dp = nearest(refPixels, boundaryPixels(b, k), planar);
        taus.forEach((tau, t) => (pixelBySlice[t][k] = dp.filter((x) => x > tau).length * pixelLength));
        const refCorners = contourCorners(a, k);
        const dc = nearest(refCorners, contourCorners(b, k), planar);
        contourTotal += sum(refCorners.map((p) => p.weight));
        taus.forEach(
          (tau, t) => (contour[t] += sum(refCorners.filter((_, n) => dc[n] > tau).map((p) => p.weight))),
        );
      }
      expect(r.apl.referenceSlices).toBe(slices);
      taus.forEach((_, t) => {
        expect(Array.from(r.apl.pixelMmBySlice[t])).toEqual(pixelBySlice[t]);
        expect(r.apl.pixelMm[t]).toBeCloseTo(sum(Array.from(r.apl.pixelMmBySlice[t])), 10);
        expect(r.apl.slicesWithAddedPixel[t]).toBe(pixelBySlice[t].filter((x) => x > 0).length);
        expect(r.apl.contourMm[t]).toBeCloseTo(contour[t], 10);
      });
      expect(r.apl.referenceContourLengthMm).toBeCloseTo(contourTotal, 10);
    }
  });
});

describe('centroid shift and cranio-caudal extent errors', () => {
  const dims: Vec3 = [8, 8, 12];
  const range: Range3 = [
    [2, 5],
    [1, 6],
    [3, 6],
  ];

  it.each([1, 2, 4])('a shift of %i slices along +k (superior in LPS)', (n) => {
    const affine = axisAlignedAffine(aniso, [-120.5, 33, 17.25]);
    const r = computeMetrics(
      boxMask(dims, aniso, range, affine),
      boxMask(dims, aniso, shifted(range, 2, n), affine),
    );
    expect(r.centroidShiftMm).toBeCloseTo(n * 2.5, 12);
    expect(r.centroidShiftLpsMm?.[0]).toBeCloseTo(0, 12);
    expect(r.centroidShiftLpsMm?.[1]).toBeCloseTo(0, 12);
    expect(r.centroidShiftLpsMm?.[2]).toBeCloseTo(n * 2.5, 12);
    expect(r.cranialExtentErrorMm).toBeCloseTo(n * 2.5, 12);
    expect(r.caudalExtentErrorMm).toBeCloseTo(-n * 2.5, 12);
  });

  it('a test one slice longer at both ends: both extent errors +sk, no centroid shift', () => {
    const r = computeMetrics(
      boxMask(dims, aniso, range),
      boxMask(dims, aniso, [
        [2, 5],
        [1, 6],
        [2, 7],
      ]),
    );
    expect(r.cranialExtentErrorMm).toBeCloseTo(2.5, 12);
    expect(r.caudalExtentErrorMm).toBeCloseTo(2.5, 12);
    expect(r.centroidShiftMm).toBeCloseTo(0, 12);
  });

  it('slices stored head first (k towards inferior): a +k shift is caudal', () => {
    const affine = axisAlignedAffine(aniso);
    affine[10] = -2.5;
    const r = computeMetrics(
      boxMask(dims, aniso, range, affine),
      boxMask(dims, aniso, shifted(range, 2, 1), affine),
    );
    expect(r.centroidShiftLpsMm?.[2]).toBeCloseTo(-2.5, 12);
    expect(r.cranialExtentErrorMm).toBeCloseTo(-2.5, 12);
    expect(r.caudalExtentErrorMm).toBeCloseTo(2.5, 12);
  });

  it('slices stored head first: a test one slice longer at the last k is longer caudally', () => {
    const affine = axisAlignedAffine(aniso);
    affine[10] = -2.5;
    const longer: Range3 = [
      [2, 5],
      [1, 6],
      [3, 7],
    ];
    const r = computeMetrics(boxMask(dims, aniso, range, affine), boxMask(dims, aniso, longer, affine));
    expect(r.cranialExtentErrorMm).toBeCloseTo(0, 12);
    expect(r.caudalExtentErrorMm).toBeCloseTo(2.5, 12);
  });

  it('an in-plane shift moves the centroid in LPS x and y, not the extents', () => {
    const r = computeMetrics(
      boxMask(dims, aniso, range),
      boxMask(dims, aniso, shifted(shifted(range, 0, 2), 1, -1)),
    );
    expect(r.centroidShiftLpsMm?.[0]).toBeCloseTo(1, 12);
    expect(r.centroidShiftLpsMm?.[1]).toBeCloseTo(-0.8, 12);
    expect(r.centroidShiftMm).toBeCloseTo(Math.hypot(1, 0.8), 12);
    expect(r.cranialExtentErrorMm).toBe(0);
    expect(r.caudalExtentErrorMm).toBe(0);
  });

  // On a coronal grid (j runs from superior to inferior, k anterior to posterior) a test extending 2 rows
  // further superior gives cranial +2·sj = +1.6 mm and caudal 0 mm.
  it('uses the superior axis of the patient, not k, on a coronal grid', () => {
    const spacing: Vec3 = [0.5, 0.8, 2.5];
    // columns: i -> +x (left), j -> −z (inferior), k -> +y (posterior)
    const coronal = Float64Array.from([0.5, 0, 0, 0, 0, 0, 2.5, 0, 0, -0.8, 0, 0, 0, 0, 0, 1]);
    const ref = boxMask(
      [8, 10, 6],
      spacing,
      [
        [2, 5],
        [3, 6],
        [1, 4],
      ],
      coronal,
    );
    const test = boxMask(
      [8, 10, 6],
      spacing,
      [
        [2, 5],
        [1, 6],
        [1, 4],
      ],
      coronal,
    );
    const r = computeMetrics(ref, test);
    expect(r.cranialExtentErrorMm).toBeCloseTo(1.6, 12);
    expect(r.caudalExtentErrorMm).toBeCloseTo(0, 12);
  });
});

describe('validation', () => {
  const dims: Vec3 = [4, 4, 4];
  const a = boxMask(
    dims,
    [1, 1, 1],
    [
      [1, 2],
      [1, 2],
      [1, 2],
    ],
  );

  it.each([-1, -1e-9, Number.NaN, Infinity])(
    'rejects a surface Dice tolerance of %s with a RangeError',
    (tau) => {
      expect(() => computeMetrics(a, a, { surfaceDiceTolerancesMm: [1, tau] })).toThrow(RangeError);
    },
  );

  it.each([-1, -1e-9, Number.NaN, Infinity])('rejects an APL tolerance of %s with a RangeError', (tau) => {
    expect(() => computeMetrics(a, a, { aplTolerancesMm: [tau] })).toThrow(RangeError);
  });

  it('accepts τ = 0 and an empty tolerance list', () => {
    const r = computeMetrics(a, a, { surfaceDiceTolerancesMm: [], aplTolerancesMm: [0] });
    expect(r.surfaceDice.values).toEqual([]);
    expect(r.apl.pixelMm).toEqual([0]);
  });

  it('rejects masks of different dimensions with a RangeError', () => {
    expect(() =>
      computeMetrics(
        a,
        boxMask(
          [4, 4, 5],
          [1, 1, 1],
          [
            [1, 2],
            [1, 2],
            [1, 2],
          ],
        ),
      ),
    ).toThrow(RangeError);
  });

  it('records its parameters, with copies of the tolerance lists', () => {
    const taus = [0.5, 1];
    const r = computeMetrics(a, a, { surfaceDiceTolerancesMm: taus });
    taus.push(9);
    expect(r.parameters.surfaceDiceTolerancesMm).toEqual([0.5, 1]);
    expect(r.surfaceDice.tolerancesMm).toEqual([0.5, 1]);
    expect(r.parameters.aplTolerancesMm).toEqual([0, 1, 2, 3]);
    expect(r.parameters.definitionVersion).toBe(metricDefinitionVersion);
    expect(r.parameters.spacingMm).toEqual([1, 1, 1]);
    expect(computeMetrics(a, a).surfaceDice.tolerancesMm).toEqual([1, 2, 3]);
  });
});

describe('JSON', () => {
  const dims: Vec3 = [6, 6, 4];
  const present = boxMask(dims, aniso, [
    [1, 3],
    [1, 3],
    [1, 2],
  ]);
  const empty = emptyMask(dims, aniso);
  const roundTrip = (r: MetricResult) => JSON.parse(JSON.stringify(metricsToJson(r)));

  it('writes +Infinity as "Infinity" and undefined as null (test empty)', () => {
    const json = roundTrip(computeMetrics(present, empty));
    expect(json.hd95_mm).toBe('Infinity');
    expect(json.hd_max_mm).toBe('Infinity');
    expect(json.hd95_ref_to_test_mm).toBe('Infinity');
    expect(json.msd_ref_to_test_mm).toBe('Infinity');
    expect(json.msd_mean_mm).toBe('Infinity');
    expect(json.assd_mm).toBe('Infinity');
    expect(json.hd95_test_to_ref_mm).toBeNull();
    expect(json.msd_test_to_ref_mm).toBeNull();
    expect(json.precision).toBeNull();
    expect(json.dice).toBe(0);
    expect(json.detected).toBe(false);
    expect(json.volume_diff_pct).toBe(-100);
    expect(json.centroid_shift_mm).toBeNull();
    expect(json.centroid_shift_lps_mm).toBeNull();
    expect(json.cranial_extent_error_mm).toBeNull();
    expect(json.alt_voxel_centre).toEqual({ note: 'undefined (empty mask)' });
  });

  it('writes null for every undefined value when both are empty', () => {
    const json = roundTrip(computeMetrics(empty, empty));
    for (const key of [
      'dice',
      'jaccard',
      'sensitivity',
      'precision',
      'detected',
      'hd95_mm',
      'hd_max_mm',
      'assd_mm',
    ])
      expect(json[key]).toBeNull();
    expect(json.surface_dice).toEqual({ '1': null, '2': null, '3': null });
    expect(json.apl.apl_pixel_mm).toEqual({ '0': 0, '1': 0, '2': 0, '3': 0 });
    expect(json.volume_ref_cc).toBe(0);
  });

  it('keys tolerances "1", "2", "3", "0.5"', () => {
    const r = computeMetrics(
      present,
      boxMask(dims, aniso, [
        [2, 4],
        [1, 3],
        [1, 2],
      ]),
      {
        surfaceDiceTolerancesMm: [1, 2, 3, 0.5],
        aplTolerancesMm: [0.5, 1],
      },
    );
    const json = roundTrip(r);
    expect(Object.keys(json.surface_dice).sort()).toEqual(['0.5', '1', '2', '3']);
    expect(json.surface_dice['0.5']).toBe(r.surfaceDice.values[3]);
    expect(json.surface_dice['1']).toBe(r.surfaceDice.values[0]);
    expect(Object.keys(json.apl.apl_pixel_mm).sort()).toEqual(['0.5', '1']);
    expect(json.apl.apl_pixel_mm['0.5']).toBe(r.apl.pixelMm[0]);
    expect(Object.keys(json.alt_voxel_centre.surface_dice_count).sort()).toEqual(['0.5', '1', '2', '3']);
    expect(json.parameters.surface_dice_tolerances_mm).toEqual([1, 2, 3, 0.5]);
    expect(json.hd95_mm).toBe(r.hd95Mm);
  });

  it('jsonNumber and toleranceKey', () => {
    expect(jsonNumber(Infinity)).toBe('Infinity');
    expect(jsonNumber(-Infinity)).toBe('-Infinity');
    expect(jsonNumber(Number.NaN)).toBeNull();
    expect(jsonNumber(undefined)).toBeNull();
    expect(jsonNumber(null)).toBeNull();
    expect(jsonNumber(0)).toBe(0);
    expect(jsonNumber(-2.5)).toBe(-2.5);
    expect([1, 2, 3, 0.5, 2.5].map(toleranceKey)).toEqual(['1', '2', '3', '0.5', '2.5']);
  });
});

describe('symmetry: swapping reference and test', () => {
  it('swaps the directed values and keeps HD95, Dice, surface Dice and ASSD', () => {
    const random = mulberry32(31);
    for (let trial = 0; trial < 30; trial++) {
      const d = randomDims(random);
      const s: Vec3 = [0.5 + random(), 0.5 + random(), 1 + 2 * random()];
      const a = randomBlob(random, d, s);
      const b = randomBlob(random, d, s);
      const ab = computeMetrics(a, b, { surfaceDiceTolerancesMm: [0.5, 1, 2, 3] });
      const ba = computeMetrics(b, a, { surfaceDiceTolerancesMm: [0.5, 1, 2, 3] });
      expect(ba.hd95ReferenceToTestMm).toBe(ab.hd95TestToReferenceMm);
      expect(ba.hd95TestToReferenceMm).toBe(ab.hd95ReferenceToTestMm);
      expect(ba.msdReferenceToTestMm).toBe(ab.msdTestToReferenceMm);
      expect(ba.msdTestToReferenceMm).toBe(ab.msdReferenceToTestMm);
      expect(ba.surfaceAreaReferenceMm2).toBe(ab.surfaceAreaTestMm2);
      expect(ba.surfelsReference).toBe(ab.surfelsTest);
      expect(ba.hd95Mm).toBe(ab.hd95Mm);
      expect(ba.hdMaxMm).toBe(ab.hdMaxMm);
      expect(ba.dice).toBe(ab.dice);
      expect(ba.jaccard).toBe(ab.jaccard);
      expect(ba.sensitivity).toBe(ab.precision);
      expect(ba.precision).toBe(ab.sensitivity);
      expect(ba.volumeDiffCc).toBe(-ab.volumeDiffCc);
      expect(ba.msdMeanMm).toBeCloseTo(ab.msdMeanMm ?? NaN, 12);
      expect(ba.assdMm).toBeCloseTo(ab.assdMm ?? NaN, 12);
      ab.surfaceDice.values.forEach((v, t) => expect(ba.surfaceDice.values[t]).toBeCloseTo(v ?? NaN, 12));
      ab.centroidShiftLpsMm?.forEach((v, m) => expect(ba.centroidShiftLpsMm?.[m]).toBeCloseTo(-v, 12));
      expect(ba.cranialExtentErrorMm).toBeCloseTo(-(ab.cranialExtentErrorMm ?? NaN), 12);
      expect(ba.caudalExtentErrorMm).toBeCloseTo(-(ab.caudalExtentErrorMm ?? NaN), 12);
      const vab = ab.voxelCentre;
      const vba = ba.voxelCentre;
      expect(vba?.hd95ReferenceToTestMm).toBe(vab?.hd95TestToReferenceMm);
      expect(vba?.hd95Mm).toBe(vab?.hd95Mm);
      expect(vba?.hd95PooledMm).toBe(vab?.hd95PooledMm);
      expect(vba?.hdMaxMm).toBe(vab?.hdMaxMm);
      expect(vba?.assdPooledMm).toBeCloseTo(vab?.assdPooledMm ?? NaN, 12);
    }
  });
});

describe('random blobs against brute-force definitions', () => {
  it('DeepMind surface metrics and the voxel-centre block', () => {
    const random = mulberry32(41);
    const taus = [0, 0.5, 1, 2, 3];
    for (let trial = 0; trial < 30; trial++) {
      const d = randomDims(random);
      const s = pick<Vec3>(
        [
          [0.5, 0.8, 2.5],
          [1, 1, 1],
          [0.9765625, 0.9765625, 3],
          [1.2, 0.7, 0.4],
        ],
        trial,
      );
      const a = randomBlob(random, d, s);
      const b = randomBlob(random, d, s);
      const r = computeMetrics(a, b, { surfaceDiceTolerancesMm: taus });

      const sa = surfels(a);
      const sb = surfels(b);
      const dab = nearest(sa, sb, s);
      const dba = nearest(sb, sa, s);
      const wa = sa.map((p) => p.weight);
      const wb = sb.map((p) => p.weight);
      expect(r.surfelsReference).toBe(sa.length);
      expect(r.surfelsTest).toBe(sb.length);
      expect(r.surfaceAreaReferenceMm2).toBeCloseTo(sum(wa), 9);
      expect(r.surfaceAreaTestMm2).toBeCloseTo(sum(wb), 9);
      expect(r.hdMaxMm).toBe(Math.max(...dab, ...dba));
      // nearest rank: the kernel's sums run in another order, so allow the rank a rounding either way
      for (const [got, dist, w] of [
        [r.hd95ReferenceToTestMm, dab, wa],
        [r.hd95TestToReferenceMm, dba, wb],
      ] as const) {
        expect(got).toBeGreaterThanOrEqual(nearestRank(dist, w, 0.95 - 1e-9));
        expect(got).toBeLessThanOrEqual(nearestRank(dist, w, 0.95 + 1e-9));
      }
      expect(r.msdReferenceToTestMm).toBeCloseTo(weightedMean(dab, wa), 10);
      expect(r.msdTestToReferenceMm).toBeCloseTo(weightedMean(dba, wb), 10);
      expect(r.assdMm).toBeCloseTo(weightedMean([...dab, ...dba], [...wa, ...wb]), 10);
      taus.forEach((tau, t) => {
        const within = sum(wa.filter((_, n) => dab[n] <= tau)) + sum(wb.filter((_, n) => dba[n] <= tau));
        expect(r.surfaceDice.values[t]).toBeCloseTo(within / (sum(wa) + sum(wb)), 10);
      });

      const va = surfaceVoxels(a);
      const vb = surfaceVoxels(b);
      const cab = nearest(va, vb, s);
      const cba = nearest(vb, va, s);
      const vc = r.voxelCentre;
      expect(vc?.surfaceVoxelsReference).toBe(va.length);
      expect(vc?.surfaceVoxelsTest).toBe(vb.length);
      expect(vc?.hdMaxMm).toBe(Math.max(...cab, ...cba));
      expect(vc?.hd95ReferenceToTestMm).toBe(numpyLinear(cab, 0.95));
      expect(vc?.hd95TestToReferenceMm).toBe(numpyLinear(cba, 0.95));
      expect(vc?.hd95Mm).toBe(Math.max(numpyLinear(cab, 0.95), numpyLinear(cba, 0.95)));
      expect(vc?.hd95PooledMm).toBe(numpyLinear([...cab, ...cba], 0.95));
      expect(vc?.hd95DirectedMeanMm).toBeCloseTo((numpyLinear(cab, 0.95) + numpyLinear(cba, 0.95)) / 2, 12);
      expect(vc?.msdReferenceToTestMm).toBeCloseTo(sum(cab) / cab.length, 10);
      expect(vc?.msdTestToReferenceMm).toBeCloseTo(sum(cba) / cba.length, 10);
      expect(vc?.assdPooledMm).toBeCloseTo((sum(cab) + sum(cba)) / (cab.length + cba.length), 10);
      taus.forEach((tau, t) => {
        const within = cab.filter((x) => x <= tau).length + cba.filter((x) => x <= tau).length;
        expect(vc?.surfaceDiceCount.values[t]).toBe(within / (cab.length + cba.length));
      });

      // overlap by counting
      let nA = 0;
      let nB = 0;
      let nAB = 0;
      for (let n = 0; n < a.data.length; n++) {
        nA += a.data[n];
        nB += b.data[n];
        nAB += a.data[n] & b.data[n];
      }
      expect([r.voxelsReference, r.voxelsTest, r.voxelsIntersection]).toEqual([nA, nB, nAB]);
      expect(r.dice).toBe((2 * nAB) / (nA + nB));
    }
  });
});

describe('buffers', () => {
  it('gives the same result with a workspace that served a larger computation before', () => {
    const random = mulberry32(51);
    const shared = new Workspace();
    const bigA = randomBlob(random, [20, 18, 12], aniso);
    const bigB = randomBlob(random, [20, 18, 12], aniso);
    computeMetrics(bigA, bigB, {}, shared);
    for (let trial = 0; trial < 10; trial++) {
      const d = randomDims(random);
      const a = randomBlob(random, d, aniso);
      const b = randomBlob(random, d, aniso);
      expect(computeMetrics(a, b, {}, shared)).toEqual(computeMetrics(a, b, {}, new Workspace()));
    }
  });

  it('reads masks that are unaligned views into a larger buffer', () => {
    const random = mulberry32(52);
    for (const offset of [1, 3, 4, 8]) {
      const d: Vec3 = [13, 9, 5];
      const a = randomBlob(random, d, aniso);
      const b = randomBlob(random, d, aniso);
      const view = (m: Mask): Mask => {
        const buffer = new Uint8Array(m.data.length + offset + 16).fill(1);
        const data = buffer.subarray(offset, offset + m.data.length);
        data.set(m.data);
        return { ...m, data };
      };
      expect(computeMetrics(view(a), view(b))).toEqual(computeMetrics(a, b));
    }
  });

  it('leaves the input masks unchanged', () => {
    const random = mulberry32(53);
    const a = randomBlob(random, [9, 9, 6], aniso);
    const b = randomBlob(random, [9, 9, 6], aniso);
    const copyA = a.data.slice();
    const copyB = b.data.slice();
    computeMetrics(a, b);
    expect(a.data).toEqual(copyA);
    expect(b.data).toEqual(copyB);
  });
});
