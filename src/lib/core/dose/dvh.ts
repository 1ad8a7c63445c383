/**
 * Dose-volume histograms of one structure from the dose at each of its voxels (sampleDoseInMask), every
 * voxel weighing `voxelCc`.
 *
 * Bins: bin b holds the doses in [b·w, (b+1)·w), w = `binWidthGy` (0.01 Gy by default), from 0 Gy up to
 * the bin that holds Dmax. The cumulative DVH at edge b is the volume receiving at least b·w — exact at
 * the edges, it is not an interpolation.
 *
 * The curve the helpers read (Dx, Vx): the cumulative DVH taken as piecewise linear between its points,
 * i.e. the doses spread uniformly inside each bin, with the first occupied bin starting at Dmin and the
 * last ending at Dmax: the points are (Dmin, 100 %), the bin edges strictly between Dmin and Dmax, and
 * (Dmax, 0 %). So D100% = Dmin, D0% = Dmax, V(d) = 100 % for d <= Dmin and 0 for d > Dmax, and Dx and Vx
 * are inverse to each other. Against the exact voxel quantile, Dx differs by less than one bin width.
 *
 * Empty structure (no voxel): volume 0, no bins, Dmin/Dmax/Dmean and every helper null (never NaN).
 */

/** A DVH and the dose statistics of one structure. Arrays are indexed by bin; Gy, cc and % of volume. */
export interface Dvh {
  binWidthGy: number;
  /** number of bins: the last one holds Dmax; 0 for an empty structure */
  binCount: number;
  /** bin edges b·w in Gy, b = 0 .. binCount (length binCount + 1; empty for an empty structure) */
  doseEdgesGy: Float64Array;
  /** volume (cc) with dose in [b·w, (b+1)·w), length binCount */
  differentialCc: Float64Array;
  differentialPercent: Float64Array;
  /** volume (cc) with dose >= b·w, b = 0 .. binCount (the last is 0), length binCount + 1 */
  cumulativeCc: Float64Array;
  cumulativePercent: Float64Array;
  /** number of voxels with dose >= b·w (integers), length binCount + 1 */
  cumulativeVoxels: Float64Array;
  voxelCount: number;
  voxelCc: number;
  volumeCc: number;
  dminGy: number | null;
  dmaxGy: number | null;
  /** exact mean over the voxels (not from the bins) */
  dmeanGy: number | null;
  /** voxels whose centre was outside the dose grid, counted at 0 Gy in everything above */
  outsideDoseGridVoxels: number;
  outsideDoseGridPercent: number;
}

/** Options of {@link computeDvh}. */
export interface DvhOptions {
  /** histogram bin width in Gy, > 0; default 0.01 */
  binWidthGy?: number;
  /** how many of the voxels were outside the dose grid (DoseInMask.outsideVoxels); default 0 */
  outsideDoseGridVoxels?: number;
}

/** A volume both ways: cc and % of the structure's volume. */
export interface VolumeValue {
  cc: number;
  percent: number;
}

/** More bins than this means the bin width is far too small for the dose range. */
const MAX_BINS = 10_000_000;

/**
 * The DVH of a structure from `doseOnMask` (Gy, one value per voxel), each voxel `voxelCc` cc: differential
 * and cumulative histograms in cc and %, Dmin, Dmax, Dmean (exact, over voxels) and the volume. See the
 * module comment for bins and the empty-structure policy.
 *
 * Throws RangeError when `voxelCc` or `binWidthGy` is not a positive finite number, a dose is negative or
 * not finite (naming the voxel), the bins would exceed ten million, or `outsideDoseGridVoxels` is not an
 * integer in 0 .. voxel count.
 */
export function computeDvh(doseOnMask: Float32Array, voxelCc: number, options: DvhOptions = {}): Dvh {
  const binWidthGy = options.binWidthGy ?? 0.01;
  if (!(voxelCc > 0) || !Number.isFinite(voxelCc)) {
    throw new RangeError(`voxelCc must be a positive number, got ${voxelCc}`);
  }
  if (!(binWidthGy > 0) || !Number.isFinite(binWidthGy)) {
    throw new RangeError(`binWidthGy must be a positive number, got ${binWidthGy}`);
  }
  const n = doseOnMask.length;
  const outside = options.outsideDoseGridVoxels ?? 0;
  if (!Number.isInteger(outside) || outside < 0 || outside > n) {
    throw new RangeError(`outsideDoseGridVoxels must be an integer in 0..${n}, got ${outside}`);
  }
  const empty = new Float64Array(0);
  if (n === 0) {
    return {
      binWidthGy,
      binCount: 0,
      doseEdgesGy: empty,
      differentialCc: empty,
      differentialPercent: empty,
      cumulativeCc: empty,
      cumulativePercent: empty,
      cumulativeVoxels: empty,
      voxelCount: 0,
      voxelCc,
      volumeCc: 0,
      dminGy: null,
      dmaxGy: null,
      dmeanGy: null,
      outsideDoseGridVoxels: 0,
      outsideDoseGridPercent: 0,
    };
  }

  const [min, max, sum] = scanDoses(doseOnMask);
  const inverseWidth = 1 / binWidthGy;
  const binCount = binOf(max, binWidthGy, inverseWidth) + 1;
  if (binCount > MAX_BINS) {
    throw new RangeError(
      `a dose of up to ${max} Gy in bins of ${binWidthGy} Gy needs ${binCount} bins (at most ${MAX_BINS})`,
    );
  }
  const counts = histogram(doseOnMask, binWidthGy, binCount);

  const volumeCc = n * voxelCc;
  const doseEdgesGy = new Float64Array(binCount + 1);
  const differentialCc = new Float64Array(binCount);
  const differentialPercent = new Float64Array(binCount);
  const cumulativeCc = new Float64Array(binCount + 1);
  const cumulativePercent = new Float64Array(binCount + 1);
  const cumulativeVoxels = new Float64Array(binCount + 1);
  let above = 0;
  for (let b = binCount - 1; b >= 0; b--) {
    above += counts[b]!;
    differentialCc[b] = counts[b]! * voxelCc;
    differentialPercent[b] = (100 * counts[b]!) / n;
    cumulativeVoxels[b] = above;
    cumulativeCc[b] = above * voxelCc;
    cumulativePercent[b] = (100 * above) / n;
  }
  for (let b = 0; b <= binCount; b++) doseEdgesGy[b] = b * binWidthGy;
  return {
    binWidthGy,
    binCount,
    doseEdgesGy,
    differentialCc,
    differentialPercent,
    cumulativeCc,
    cumulativePercent,
    cumulativeVoxels,
    voxelCount: n,
    voxelCc,
    volumeCc,
    dminGy: min,
    dmaxGy: max,
    dmeanGy: sum / n,
    outsideDoseGridVoxels: outside,
    outsideDoseGridPercent: (100 * outside) / n,
  };
}

/**
 * Dx%: the minimum dose (Gy) received by the hottest `volumePercent` % of the structure, i.e. the largest
 * dose d with V(d) >= x on the piecewise-linear cumulative DVH (module comment): D0% = Dmax, D100% = Dmin,
 * and where the curve is flat at x (empty bins) the upper end of the plateau. Null for an empty structure.
 *
 * Other conventions: dicompyler-core (DVH.dose_constraint) returns the bin edge whose cumulative volume is
 * nearest to x, without interpolation, so its Dx moves in steps of its bin width (1 cGy by default) and
 * can sit up to a bin below ours; its DVH is computed on the dose grid's planes (the contours rasterised at
 * dose pixel centres), not on the CT grid. plastimatch's `dvh` gives no Dx, only the histogram: it brings
 * the dose onto the structure grid (linear, as we do) and counts a dose d in bin round(d / w), so its CSV
 * row at dose b·w holds the volume receiving at least (b - 0.5)·w. Read naively (that volume taken at b·w),
 * its curve is shifted by half a bin, and Dx read off it is w/2 too high (0.25 Gy at its default 0.5 Gy
 * bins); read at (b - 0.5)·w it is our curve sampled at its coarser edges (test/unit/dvh-plastimatch).
 *
 * Throws RangeError when `volumePercent` is not in [0, 100].
 */
export function doseAtVolumePercent(dvh: Dvh, volumePercent: number): number | null {
  if (!(volumePercent >= 0 && volumePercent <= 100)) {
    throw new RangeError(`volume must be between 0 and 100 %, got ${volumePercent}`);
  }
  if (dvh.voxelCount === 0) return null;
  return doseAtVoxels(dvh, (volumePercent / 100) * dvh.voxelCount);
}

/**
 * Dx cc: the minimum dose (Gy) received by the hottest `volumeCc` cc of the structure, as
 * doseAtVolumePercent. Null for an empty structure and when the structure is smaller than `volumeCc`
 * (D2cc of a 1 cc structure is undefined, not its Dmin). Throws RangeError for a negative or non-finite
 * volume.
 */
export function doseAtVolumeCc(dvh: Dvh, volumeCc: number): number | null {
  if (!(volumeCc >= 0) || !Number.isFinite(volumeCc)) {
    throw new RangeError(`volume must be a finite number of cc >= 0, got ${volumeCc}`);
  }
  if (dvh.voxelCount === 0 || volumeCc > dvh.volumeCc) return null;
  return doseAtVoxels(dvh, Math.min(dvh.voxelCount, volumeCc / dvh.voxelCc));
}

/**
 * VxGy: the volume receiving at least `doseGy` Gy, in cc and in % of the structure, read off the
 * piecewise-linear cumulative DVH (module comment): the whole structure for d <= Dmin, nothing for
 * d > Dmax. Null for an empty structure. Throws RangeError for a negative or non-finite dose.
 */
export function volumeAtDoseGy(dvh: Dvh, doseGy: number): VolumeValue | null {
  if (!(doseGy >= 0) || !Number.isFinite(doseGy)) {
    throw new RangeError(`dose must be a finite number of Gy >= 0, got ${doseGy}`);
  }
  if (dvh.voxelCount === 0 || dvh.dminGy === null || dvh.dmaxGy === null) return null;
  const voxels = voxelsAtDose(dvh, dvh.dminGy, dvh.dmaxGy, doseGy);
  return { cc: voxels * dvh.voxelCc, percent: (100 * voxels) / dvh.voxelCount };
}

/**
 * Vx%: the volume receiving at least `dosePercent` % of `prescriptionGy`, as volumeAtDoseGy. Null for an
 * empty structure. Throws RangeError for a negative percentage or a prescription that is not a positive
 * number.
 */
export function volumeAtDosePercent(
  dvh: Dvh,
  dosePercent: number,
  prescriptionGy: number,
): VolumeValue | null {
  if (!(prescriptionGy > 0) || !Number.isFinite(prescriptionGy)) {
    throw new RangeError(`prescription must be a positive number of Gy, got ${prescriptionGy}`);
  }
  if (!(dosePercent >= 0) || !Number.isFinite(dosePercent)) {
    throw new RangeError(`dose must be a finite percentage >= 0, got ${dosePercent}`);
  }
  return volumeAtDoseGy(dvh, (dosePercent / 100) * prescriptionGy);
}

/** Minimum, maximum and sum of the doses; throws RangeError at the first negative or non-finite one. */
function scanDoses(doses: Float32Array): [number, number, number] {
  let min = Infinity;
  let max = -Infinity;
  // two running sums (even and odd voxels) halve the chain of dependent additions
  let sumEven = 0;
  let sumOdd = 0;
  const n = doses.length;
  const pairs = n & ~1;
  for (let v = 0; v < pairs; v += 2) {
    const a = doses[v]!;
    const b = doses[v + 1]!;
    // !(d >= 0) also catches NaN
    if (!(a >= 0 && b >= 0) || a === Infinity || b === Infinity) invalidDose(doses, v);
    if (a < min) min = a;
    if (b < min) min = b;
    if (a > max) max = a;
    if (b > max) max = b;
    sumEven += a;
    sumOdd += b;
  }
  if (pairs < n) {
    const a = doses[pairs]!;
    if (!(a >= 0) || a === Infinity) invalidDose(doses, pairs);
    if (a < min) min = a;
    if (a > max) max = a;
    sumEven += a;
  }
  return [min, max, sumEven + sumOdd];
}

function invalidDose(doses: Float32Array, from: number): never {
  const v = doses[from]! >= 0 && doses[from]! !== Infinity ? from + 1 : from;
  throw new RangeError(`dose must be a finite value >= 0 Gy, voxel ${v} has ${doses[v]}`);
}

/**
 * Voxel count per bin. Neighbouring voxels usually fall in the same bin, so even and odd voxels count into
 * two arrays: consecutive increments of one counter would wait on each other.
 */
function histogram(doses: Float32Array, w: number, binCount: number): Float64Array {
  const even = new Uint32Array(binCount);
  const odd = new Uint32Array(binCount);
  const inverseWidth = 1 / w;
  const n = doses.length;
  const pairs = n & ~1;
  for (let v = 0; v < pairs; v += 2) {
    even[binOf(doses[v]!, w, inverseWidth)]++;
    odd[binOf(doses[v + 1]!, w, inverseWidth)]++;
  }
  if (pairs < n) even[binOf(doses[pairs]!, w, inverseWidth)]++;
  const counts = new Float64Array(binCount);
  for (let b = 0; b < binCount; b++) counts[b] = even[b]! + odd[b]!;
  return counts;
}

/**
 * The bin b of dose d: b·w <= d < (b+1)·w with the products computed as doseEdgesGy has them (d·(1/w) alone
 * can land one bin off near an edge).
 */
function binOf(d: number, w: number, inverseWidth: number): number {
  let b = Math.floor(d * inverseWidth);
  if (b * w > d) b--;
  else if ((b + 1) * w <= d) b++;
  return b;
}

/**
 * The largest dose whose interpolated cumulative count is >= `voxels` (0 <= voxels <= voxelCount). The
 * curve's points: (Dmin, n), (b·w, N_b) for Dmin < b·w < Dmax, (Dmax, 0).
 */
function doseAtVoxels(dvh: Dvh, voxels: number): number {
  const dmin = dvh.dminGy!;
  const dmax = dvh.dmaxGy!;
  const w = dvh.binWidthGy;
  if (voxels <= 0) return dmax;
  // walk down from the top: the last point (highest dose) whose count is >= voxels
  let upperDose = dmax;
  let upperCount = 0;
  for (let b = dvh.binCount - 1; b >= 0; b--) {
    const edgeGy = b * w;
    if (edgeGy >= dmax) continue;
    if (edgeGy <= dmin) break;
    const count = dvh.cumulativeVoxels[b]!;
    if (count >= voxels) return interpolate(edgeGy, count, upperDose, upperCount, voxels);
    upperDose = edgeGy;
    upperCount = count;
  }
  return interpolate(dmin, dvh.voxelCount, upperDose, upperCount, voxels);
}

/** Dose where the segment from (lowDose, lowCount) to (highDose, highCount), lowCount >= v > highCount, hits v. */
function interpolate(
  lowDose: number,
  lowCount: number,
  highDose: number,
  highCount: number,
  v: number,
): number {
  if (lowCount === v || lowCount === highCount) return lowDose;
  return lowDose + ((highDose - lowDose) * (lowCount - v)) / (lowCount - highCount);
}

/** Interpolated count of voxels with dose >= d on the curve of doseAtVoxels. */
function voxelsAtDose(dvh: Dvh, dmin: number, dmax: number, d: number): number {
  if (d <= dmin) return dvh.voxelCount;
  if (d > dmax) return 0;
  const w = dvh.binWidthGy;
  const b = binOf(d, w, 1 / w);
  // the points around d: the edge at or below d (or Dmin) and the next one above (or Dmax)
  const lowEdge = b * w;
  const lowDose = lowEdge > dmin ? lowEdge : dmin;
  const lowCount = lowEdge > dmin ? dvh.cumulativeVoxels[b]! : dvh.voxelCount;
  const highEdge = (b + 1) * w;
  const highDose = highEdge < dmax ? highEdge : dmax;
  const highCount = highEdge < dmax ? dvh.cumulativeVoxels[b + 1]! : 0;
  if (highDose <= lowDose) return lowCount;
  return lowCount + ((highCount - lowCount) * (d - lowDose)) / (highDose - lowDose);
}
