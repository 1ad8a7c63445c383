import { cropMask } from '../volume/crop';
import { voxelVolumeMm3, type Mask, type Vec3 } from '../volume/volume';
import { addedPathLength, type AddedPathLength } from './added-path-length';
import { scanPair, type MaskStats } from './mask-scan';
import { linearPercentile, weightedNearestRank } from './quantile';
import { cornerGrid, surfaceDistances, type DirectedDistances } from './surface-distance';
import { voxelCentreDistances, type VoxelCentreDistances } from './voxel-centre-distance';
import { voxelSurfaces } from './voxel-surface';
import { Workspace } from './workspace';

/** Version of the metric definitions; stored with every value so numbers stay comparable over time. */
export const metricDefinitionVersion = 'contourbench-metrics/1.0';

export interface MetricOptions {
  /** Surface Dice tolerances τ in mm (d ≤ τ is within). */
  surfaceDiceTolerancesMm?: readonly number[];
  /** Added path length tolerances τ in mm (d = τ is not added). */
  aplTolerancesMm?: readonly number[];
}

export const defaultSurfaceDiceTolerancesMm = [1, 2, 3] as const;
export const defaultAplTolerancesMm = [0, 1, 2, 3] as const;

/** Everything that defines how the numbers were computed, stored beside them. */
export interface MetricParameters {
  definitionVersion: string;
  spacingMm: Vec3;
  surfaceDiceTolerancesMm: number[];
  aplTolerancesMm: number[];
  surfaceModel: 'deepmind-corner-surfels';
  hd95: 'max of directed area-weighted nearest-rank 95th percentiles';
  apl: 'axial slices (k), pixel and marching-squares contour models';
  voxelCentre: 'face-connected surface voxels, voxel-centre distances, linear percentiles';
}

/** Value per tolerance, in the order of the tolerance list. */
export interface ByTolerance {
  tolerancesMm: number[];
  values: (number | null)[];
}

/** Voxel-centre comparison block: the conventions of MONAI / MetricsReloaded / MedPy, never the primary. */
export interface VoxelCentreMetrics {
  surfaceVoxelsReference: number;
  surfaceVoxelsTest: number;
  hdMaxMm: number | null;
  /** max of the directed linear 95th percentiles (MONAI compute_hausdorff_distance, percentile 95) */
  hd95Mm: number | null;
  hd95ReferenceToTestMm: number | null;
  hd95TestToReferenceMm: number | null;
  /** 95th percentile of both directions pooled (MedPy hd95) */
  hd95PooledMm: number | null;
  /** mean of the two directed 95th percentiles (the averaging of plastimatch and SlicerRT) */
  hd95DirectedMeanMm: number | null;
  msdReferenceToTestMm: number | null;
  msdTestToReferenceMm: number | null;
  msdMeanMm: number | null;
  assdPooledMm: number | null;
  surfaceDiceCount: ByTolerance;
}

/**
 * All metrics of a test (candidate) mask against a reference mask. null means undefined for the inputs
 * (see the empty-mask conventions in DESIGN.md); +Infinity is a distance to an empty mask.
 */
export interface MetricResult {
  parameters: MetricParameters;
  dims: Vec3;
  spacingMm: Vec3;
  voxelsReference: number;
  voxelsTest: number;
  voxelsIntersection: number;
  volumeReferenceCc: number;
  volumeTestCc: number;
  volumeDiffCc: number;
  volumeDiffPct: number | null;
  dice: number | null;
  jaccard: number | null;
  sensitivity: number | null;
  precision: number | null;
  /** Is the test non-empty where the reference is? null when the reference is empty. */
  detected: boolean | null;
  referenceEmpty: boolean;
  testEmpty: boolean;
  surfaceAreaReferenceMm2: number;
  surfaceAreaTestMm2: number;
  surfelsReference: number;
  surfelsTest: number;
  hd95Mm: number | null;
  hdMaxMm: number | null;
  hd95ReferenceToTestMm: number | null;
  hd95TestToReferenceMm: number | null;
  msdReferenceToTestMm: number | null;
  msdTestToReferenceMm: number | null;
  msdMeanMm: number | null;
  assdMm: number | null;
  surfaceDice: ByTolerance;
  apl: AddedPathLength;
  voxelCentre: VoxelCentreMetrics | null;
  /** Distance (mm) between the centroids, and the vector test − reference in LPS. */
  centroidShiftMm: number | null;
  centroidShiftLpsMm: Vec3 | null;
  /** Signed extent errors along the cranio-caudal axis (mm): positive where the test extends beyond the reference. */
  cranialExtentErrorMm: number | null;
  caudalExtentErrorMm: number | null;
}

const sharedWorkspace = new Workspace();

function checkTolerances(name: string, tolerances: readonly number[]): number[] {
  for (const tolerance of tolerances) {
    if (!(Number.isFinite(tolerance) && tolerance >= 0)) {
      throw new RangeError(`${name} must be finite and >= 0 mm, got ${tolerance}`);
    }
  }
  return [...tolerances];
}

/** Area-weighted mean of directed distances; null without elements. */
function weightedMean(d: DirectedDistances): number | null {
  if (d.count === 0) return null;
  let weighted = 0;
  let total = 0;
  for (let n = 0; n < d.count; n++) {
    weighted += d.distancesMm[n] * d.areasMm2[n];
    total += d.areasMm2[n];
  }
  return weighted / total;
}

function maximum(values: Float64Array, count: number): number | null {
  if (count === 0) return null;
  let max = -Infinity;
  for (let n = 0; n < count; n++) if (values[n] > max) max = values[n];
  return max;
}

/** max(a, b) where null is "no elements in that direction". */
function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Average of the two directed values; with one direction undefined and the other infinite, +Infinity. */
function averageOf(a: number | null, b: number | null): number | null {
  if (a === null || b === null) return a === Infinity || b === Infinity ? Infinity : null;
  return (a + b) / 2;
}

function centroidLps(stats: MaskStats, affine: Float64Array): Vec3 {
  const i = stats.sumI / stats.count;
  const j = stats.sumJ / stats.count;
  const k = stats.sumK / stats.count;
  return [
    affine[0] * i + affine[1] * j + affine[2] * k + affine[3],
    affine[4] * i + affine[5] * j + affine[6] * k + affine[7],
    affine[8] * i + affine[9] * j + affine[10] * k + affine[11],
  ];
}

/**
 * Lowest and highest superior (LPS +z) coordinate (mm) of the mask's voxel centres. On axial grids the
 * superior coordinate depends on k alone; otherwise every voxel of the mask's box is visited.
 */
function superiorRange(mask: Mask, stats: MaskStats): [number, number] {
  const a = mask.affineIjkToLps;
  if (a[8] === 0 && a[9] === 0) {
    const low = a[10] * stats.kMin + a[11];
    const high = a[10] * stats.kMax + a[11];
    return low < high ? [low, high] : [high, low];
  }
  const [nx, ny] = mask.dims;
  const data = mask.data;
  let low = Infinity;
  let high = -Infinity;
  for (let k = stats.kMin; k <= stats.kMax; k++) {
    for (let j = stats.jMin; j <= stats.jMax; j++) {
      const row = nx * (j + ny * k);
      for (let i = stats.iMin; i <= stats.iMax; i++) {
        if (data[row + i] === 0) continue;
        const superior = a[8] * i + a[9] * j + a[10] * k + a[11];
        if (superior < low) low = superior;
        if (superior > high) high = superior;
      }
    }
  }
  return [low, high];
}

function voxelCentreMetrics(
  { referenceToTest, testToReference }: VoxelCentreDistances,
  tolerancesMm: number[],
): VoxelCentreMetrics {
  const nRef = referenceToTest.length;
  const nTest = testToReference.length;
  const withinCounts = tolerancesMm.map(() => 0);
  const taus = tolerancesMm.length;
  let sumRef = 0;
  let sumTest = 0;
  let hdMax = 0;
  for (let n = 0; n < nRef; n++) {
    const d = referenceToTest[n];
    sumRef += d;
    if (d > hdMax) hdMax = d;
    for (let t = 0; t < taus; t++) if (d <= tolerancesMm[t]) withinCounts[t]++;
  }
  for (let n = 0; n < nTest; n++) {
    const d = testToReference[n];
    sumTest += d;
    if (d > hdMax) hdMax = d;
    for (let t = 0; t < taus; t++) if (d <= tolerancesMm[t]) withinCounts[t]++;
  }
  const pooled = new Float64Array(nRef + nTest);
  pooled.set(referenceToTest);
  pooled.set(testToReference, nRef);
  const hd95Pooled = linearPercentile(pooled, pooled.length, 0.95);
  const hd95RefToTest = linearPercentile(referenceToTest, nRef, 0.95);
  const hd95TestToRef = linearPercentile(testToReference, nTest, 0.95);
  const msdRef = sumRef / nRef;
  const msdTest = sumTest / nTest;
  return {
    surfaceVoxelsReference: nRef,
    surfaceVoxelsTest: nTest,
    hdMaxMm: hdMax,
    hd95Mm: Math.max(hd95RefToTest, hd95TestToRef),
    hd95ReferenceToTestMm: hd95RefToTest,
    hd95TestToReferenceMm: hd95TestToRef,
    hd95PooledMm: hd95Pooled,
    hd95DirectedMeanMm: (hd95RefToTest + hd95TestToRef) / 2,
    msdReferenceToTestMm: msdRef,
    msdTestToReferenceMm: msdTest,
    msdMeanMm: (msdRef + msdTest) / 2,
    assdPooledMm: (sumRef + sumTest) / (nRef + nTest),
    surfaceDiceCount: { tolerancesMm, values: withinCounts.map((c) => c / (nRef + nTest)) },
  };
}

/**
 * The full metric set of DESIGN.md "Metric definitions" for a test mask against a reference mask on
 * the same grid. Primary surface metrics follow DeepMind's surface-distance (Nikolov et al. 2018); the
 * voxel-centre block reproduces the conventions of other tools for comparison. The masks must be binary
 * (0/1) and share dims and spacing (the caller checks the grids). `workspace` holds reusable buffers.
 */
export function computeMetrics(
  reference: Mask,
  test: Mask,
  options: MetricOptions = {},
  workspace: Workspace = sharedWorkspace,
): MetricResult {
  if (reference.dims.some((n, axis) => n !== test.dims[axis])) {
    throw new RangeError(`masks differ in size: ${reference.dims.join('x')} vs ${test.dims.join('x')}`);
  }
  const surfaceDiceTolerancesMm = checkTolerances(
    'surface Dice tolerance',
    options.surfaceDiceTolerancesMm ?? defaultSurfaceDiceTolerancesMm,
  );
  const aplTolerancesMm = checkTolerances('APL tolerance', options.aplTolerancesMm ?? defaultAplTolerancesMm);
  const spacingMm = reference.spacingMm;
  const affine = reference.affineIjkToLps;

  const scan = scanPair(reference, test);
  const voxelCc = voxelVolumeMm3(spacingMm) / 1000;
  const nRef = scan.reference.count;
  const nTest = scan.test.count;
  const nBoth = scan.intersection;
  const volumeReferenceCc = nRef * voxelCc;
  const volumeTestCc = nTest * voxelCc;
  const referenceEmpty = nRef === 0;
  const testEmpty = nTest === 0;
  const bothEmpty = referenceEmpty && testEmpty;

  const grids =
    scan.union.count === 0
      ? null
      : {
          reference: cornerGrid(reference, scan.union, workspace, 'grid.reference'),
          test: cornerGrid(test, scan.union, workspace, 'grid.test'),
        };
  const voxels =
    scan.union.count === 0
      ? null
      : {
          reference: voxelSurfaces(reference, scan.union, workspace, 'voxels.reference'),
          test: voxelSurfaces(test, scan.union, workspace, 'voxels.test'),
        };
  const surfaces = surfaceDistances(grids?.reference ?? null, grids?.test ?? null, spacingMm, workspace);
  const refToTest = surfaces.referenceToTest;
  const testToRef = surfaces.testToReference;
  const directedHd95 = (d: DirectedDistances) =>
    d.count === 0 ? null : weightedNearestRank(d.distancesMm, d.areasMm2, d.count, 0.95);
  const msdRefToTest = weightedMean(refToTest);
  const msdTestToRef = weightedMean(testToRef);
  // weightedNearestRank reorders the arrays; the sums above are order-independent up to rounding
  const hd95RefToTest = directedHd95(refToTest);
  const hd95TestToRef = directedHd95(testToRef);

  let pooledWeighted = 0;
  let pooledArea = 0;
  const within = surfaceDiceTolerancesMm.map(() => 0);
  for (const d of [refToTest, testToRef]) {
    for (let n = 0; n < d.count; n++) {
      const distance = d.distancesMm[n];
      const area = d.areasMm2[n];
      pooledWeighted += distance * area;
      pooledArea += area;
      for (let t = 0; t < within.length; t++) if (distance <= surfaceDiceTolerancesMm[t]) within[t] += area;
    }
  }

  let centroidShiftLpsMm: Vec3 | null = null;
  let cranialExtentErrorMm: number | null = null;
  let caudalExtentErrorMm: number | null = null;
  if (!referenceEmpty && !testEmpty) {
    const cRef = centroidLps(scan.reference, affine);
    const cTest = centroidLps(scan.test, affine);
    centroidShiftLpsMm = [cTest[0] - cRef[0], cTest[1] - cRef[1], cTest[2] - cRef[2]];
    const [refCaudal, refCranial] = superiorRange(reference, scan.reference);
    const [testCaudal, testCranial] = superiorRange(test, scan.test);
    cranialExtentErrorMm = testCranial - refCranial;
    caudalExtentErrorMm = refCaudal - testCaudal;
  }

  return {
    parameters: {
      definitionVersion: metricDefinitionVersion,
      spacingMm,
      surfaceDiceTolerancesMm,
      aplTolerancesMm,
      surfaceModel: 'deepmind-corner-surfels',
      hd95: 'max of directed area-weighted nearest-rank 95th percentiles',
      apl: 'axial slices (k), pixel and marching-squares contour models',
      voxelCentre: 'face-connected surface voxels, voxel-centre distances, linear percentiles',
    },
    dims: reference.dims,
    spacingMm,
    voxelsReference: nRef,
    voxelsTest: nTest,
    voxelsIntersection: nBoth,
    volumeReferenceCc,
    volumeTestCc,
    volumeDiffCc: volumeTestCc - volumeReferenceCc,
    volumeDiffPct: referenceEmpty ? null : (100 * (volumeTestCc - volumeReferenceCc)) / volumeReferenceCc,
    dice: bothEmpty ? null : (2 * nBoth) / (nRef + nTest),
    jaccard: bothEmpty ? null : nBoth / (nRef + nTest - nBoth),
    sensitivity: referenceEmpty ? null : nBoth / nRef,
    precision: testEmpty ? null : nBoth / nTest,
    detected: referenceEmpty ? null : nBoth > 0,
    referenceEmpty,
    testEmpty,
    surfaceAreaReferenceMm2: surfaces.surfaceAreaReferenceMm2,
    surfaceAreaTestMm2: surfaces.surfaceAreaTestMm2,
    surfelsReference: refToTest.count,
    surfelsTest: testToRef.count,
    hd95Mm: maxOf(hd95RefToTest, hd95TestToRef),
    hdMaxMm: maxOf(
      maximum(refToTest.distancesMm, refToTest.count),
      maximum(testToRef.distancesMm, testToRef.count),
    ),
    hd95ReferenceToTestMm: hd95RefToTest,
    hd95TestToReferenceMm: hd95TestToRef,
    msdReferenceToTestMm: msdRefToTest,
    msdTestToReferenceMm: msdTestToRef,
    msdMeanMm: averageOf(msdRefToTest, msdTestToRef),
    assdMm: pooledArea === 0 ? null : pooledWeighted / pooledArea,
    surfaceDice: {
      tolerancesMm: surfaceDiceTolerancesMm,
      values: within.map((area) => (pooledArea === 0 ? null : area / pooledArea)),
    },
    apl: addedPathLength(
      reference,
      scan.union,
      voxels && { reference: voxels.reference.boundary, test: voxels.test.boundary },
      grids,
      aplTolerancesMm,
      workspace,
    ),
    voxelCentre:
      voxels === null || referenceEmpty || testEmpty
        ? null
        : voxelCentreMetrics(
            voxelCentreDistances(voxels.reference, voxels.test, scan.union, spacingMm, workspace),
            surfaceDiceTolerancesMm,
          ),
    centroidShiftMm: centroidShiftLpsMm === null ? null : Math.hypot(...centroidShiftLpsMm),
    centroidShiftLpsMm,
    cranialExtentErrorMm,
    caudalExtentErrorMm,
  };
}

/** A pair cut down to what the metrics see, to ship to another thread. */
export interface CroppedPair {
  reference: Mask;
  test: Mask;
  /** Voxel index in the original grid of the crop's voxel (0, 0, 0). */
  originIjk: Vec3;
  originalDims: Vec3;
}

/**
 * The pair cropped to its union bounding box plus one voxel of background on every side that the array
 * has. The metrics of the crop equal those of the original (outside the array is background, and no mask
 * voxel lands on a crop edge that is not an array edge); `restoreCroppedResult` puts back the grid size and
 * the per-slice arrays. Centroid and extents agree to rounding (the affine's translation moves).
 */
export function cropPairForMetrics(reference: Mask, test: Mask): CroppedPair {
  const box = scanPair(reference, test).union;
  const empty = box.count === 0;
  const crop = empty
    ? { iMin: 0, iMax: 0, jMin: 0, jMax: 0, kMin: 0, kMax: 0 }
    : {
        iMin: box.iMin - 1,
        iMax: box.iMax + 1,
        jMin: box.jMin - 1,
        jMax: box.jMax + 1,
        kMin: box.kMin - 1,
        kMax: box.kMax + 1,
      };
  return {
    reference: cropMask(reference, crop),
    test: cropMask(test, crop),
    originIjk: [Math.max(0, crop.iMin), Math.max(0, crop.jMin), Math.max(0, crop.kMin)],
    originalDims: reference.dims,
  };
}

/** The metrics of a cropped pair as those of the original pair. */
export function restoreCroppedResult(result: MetricResult, pair: CroppedPair): MetricResult {
  const k0 = pair.originIjk[2];
  const nz = pair.originalDims[2];
  const pixelMmBySlice = result.apl.pixelMmBySlice.map((bySlice) => {
    const full = new Float64Array(nz);
    full.set(bySlice, k0);
    return full;
  });
  return { ...result, dims: pair.originalDims, apl: { ...result.apl, pixelMmBySlice } };
}
