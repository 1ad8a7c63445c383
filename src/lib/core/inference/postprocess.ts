import type { IndexBox } from '../volume/crop';
import type { Vec3 } from '../volume/volume';

/**
 * Segmentation post-processing applied to a model's binary output mask before it is stored or compared:
 * keep the largest connected component, fill holes slice by slice. Masks are flat arrays on the grid of
 * `Volume` (voxel (i, j, k) is `mask[i + nx * (j + ny * k)]`, k the axial slice axis) and are edited in
 * place. Work is confined to the bounding box of the non-zero voxels, padded by one voxel so that the
 * neighbour loops need no bounds checks; buffers are typed arrays sized once per call.
 */

/** Which post-processing steps to run; a missing flag means the step is skipped. */
export interface PostprocessingSteps {
  largestComponent?: boolean;
  fillHoles?: boolean;
}

/** Voxel counts of a post-processing run; every count is 0 for a step that did not run. */
export interface PostprocessingResult {
  /** Foreground voxels set to 0 because they lay outside the largest component. */
  removedVoxels: number;
  /** 26-connected components of the foreground before the largest was kept. */
  components: number;
  /** Background voxels set to 1 because they lay in an enclosed in-plane hole. */
  filledVoxels: number;
}

/**
 * Keeps only the largest 26-connected component of the voxels equal to 1, in place; every other voxel
 * equal to 1 becomes 0 (voxels of any other value are left alone). Ties go to the component whose first
 * voxel in memory order comes first. Breadth-first labelling over a padded copy of the bounding box, with
 * one Int32Array queue as long as the foreground (the kept component is flooded a second time to mark
 * it): O(box voxels + 26 x foreground voxels) time. An empty mask is a no-op (`components` 0). Throws
 * RangeError when `dims` does not describe `mask`.
 */
export function keepLargestComponent(
  mask: Uint8Array,
  dims: Vec3,
): { removedVoxels: number; components: number } {
  checkDims(mask, dims);
  const scan = scanNonZero(mask, dims);
  if (scan === null || scan.ones === 0) return { removedVoxels: 0, components: 0 };
  const { box, ones } = scan;
  const [nx, ny] = dims;
  const bx = box.iMax - box.iMin + 3;
  const by = box.jMax - box.jMin + 3;
  const bz = box.kMax - box.kMin + 3;
  const rowLength = box.iMax - box.iMin + 1;

  // work: 0 background or padding, 1 foreground not yet visited, 2 visited, 3 in the kept component
  const work = new Uint8Array(bx * by * bz);
  for (let k = box.kMin; k <= box.kMax; k++) {
    for (let j = box.jMin; j <= box.jMax; j++) {
      const source = box.iMin + nx * (j + ny * k);
      const target = 1 + bx * (j - box.jMin + 1 + by * (k - box.kMin + 1));
      if (scan.binary) {
        work.set(mask.subarray(source, source + rowLength), target);
      } else {
        for (let i = 0; i < rowLength; i++) if (mask[source + i] === 1) work[target + i] = 1;
      }
    }
  }

  const offsets = new Int32Array(26);
  let o = 0;
  for (let dk = -1; dk <= 1; dk++) {
    for (let dj = -1; dj <= 1; dj++) {
      for (let di = -1; di <= 1; di++) {
        if (di !== 0 || dj !== 0 || dk !== 0) offsets[o++] = di + bx * (dj + by * dk);
      }
    }
  }
  const queue = new Int32Array(ones);

  // seeds in memory order of the box, which is the memory order of the mask
  let components = 0;
  let bestSize = 0;
  let bestSeed = -1;
  for (let n = work.indexOf(1); n !== -1; n = work.indexOf(1, n + 1)) {
    const size = flood(work, n, 1, 2, offsets, queue);
    components++;
    if (size > bestSize) {
      bestSize = size;
      bestSeed = n;
    }
  }
  if (components === 1) return { removedVoxels: 0, components };

  flood(work, bestSeed, 2, 3, offsets, queue);
  for (let n = work.indexOf(2); n !== -1; n = work.indexOf(2, n + 1)) {
    const i = n % bx;
    const row = (n - i) / bx;
    const j = row % by;
    const k = (row - j) / by;
    mask[box.iMin + i - 1 + nx * (box.jMin + j - 1 + ny * (box.kMin + k - 1))] = 0;
  }
  return { removedVoxels: ones - bestSize, components };
}

/**
 * Fills enclosed holes slice by slice, in place: on each axial slice k, every 0 voxel that cannot reach
 * the slice border through 4-connected (in-plane) 0 voxels becomes 1, as clinical contouring tools close
 * contours per slice. Any non-zero voxel is a barrier. A hole open to the border only on another slice is
 * still filled where it is enclosed. O(slices in box x padded in-plane box) time; an empty mask is a
 * no-op. Throws RangeError when `dims` does not describe `mask`.
 */
export function fillHolesAxial(mask: Uint8Array, dims: Vec3): { filledVoxels: number } {
  checkDims(mask, dims);
  const scan = scanNonZero(mask, dims);
  if (scan === null) return { filledVoxels: 0 };
  const { box } = scan;
  const [nx, ny] = dims;
  const bx = box.iMax - box.iMin + 3;
  const by = box.jMax - box.jMin + 3;
  const rowLength = box.iMax - box.iMin + 1;

  // work: 0 background not (yet) reached from the border, 1 foreground, 2 reached or padding. The one-voxel
  // padding ring counts as reached, so the fill starts from the 0 voxels next to it and never leaves the box.
  const work = new Uint8Array(bx * by);
  const queue = new Int32Array(bx * by);
  const offsets = Int32Array.of(-1, 1, -bx, bx);
  let filledVoxels = 0;

  for (let k = box.kMin; k <= box.kMax; k++) {
    work.fill(2);
    let any = false;
    for (let j = box.jMin; j <= box.jMax; j++) {
      const source = box.iMin + nx * (j + ny * k);
      const target = 1 + bx * (j - box.jMin + 1);
      for (let i = 0; i < rowLength; i++) {
        if (mask[source + i] !== 0) {
          work[target + i] = 1;
          any = true;
        } else {
          work[target + i] = 0;
        }
      }
    }
    if (!any) continue;

    let tail = 0;
    for (let i = 1; i < bx - 1; i++) {
      tail = seed(work, i + bx, queue, tail);
      tail = seed(work, i + bx * (by - 2), queue, tail);
    }
    for (let j = 2; j < by - 2; j++) {
      tail = seed(work, 1 + bx * j, queue, tail);
      tail = seed(work, bx - 2 + bx * j, queue, tail);
    }
    spread(work, 0, 2, offsets, queue, 0, tail);

    for (let j = box.jMin; j <= box.jMax; j++) {
      const source = box.iMin + nx * (j + ny * k);
      const target = 1 + bx * (j - box.jMin + 1);
      for (let i = 0; i < rowLength; i++) {
        if (work[target + i] === 0) {
          mask[source + i] = 1;
          filledVoxels++;
        }
      }
    }
  }
  return { filledVoxels };
}

/**
 * Runs the requested steps in place, largest component first and then hole filling (so holes are filled
 * in the component that is kept), and returns their counts; a step not requested contributes zeros.
 * Throws RangeError when `dims` does not describe `mask`.
 */
export function applyPostprocessing(
  mask: Uint8Array,
  dims: Vec3,
  steps: PostprocessingSteps,
): PostprocessingResult {
  checkDims(mask, dims);
  const result: PostprocessingResult = { removedVoxels: 0, components: 0, filledVoxels: 0 };
  if (steps.largestComponent === true) {
    const kept = keepLargestComponent(mask, dims);
    result.removedVoxels = kept.removedVoxels;
    result.components = kept.components;
  }
  if (steps.fillHoles === true) result.filledVoxels = fillHolesAxial(mask, dims).filledVoxels;
  return result;
}

function checkDims(mask: Uint8Array, dims: Vec3): void {
  if (dims.length !== 3 || !dims.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`dims must be three non-negative integers, got [${dims.join(', ')}]`);
  }
  const count = dims[0] * dims[1] * dims[2];
  if (count !== mask.length) {
    throw new RangeError(`dims ${dims.join('x')} describe ${count} voxels but the mask has ${mask.length}`);
  }
}

/**
 * Bounding box of the non-zero voxels, how many equal 1 and whether all equal 1; null when there are no
 * non-zero voxels. When the array is 4-byte aligned, runs of sixteen zero voxels are skipped with four
 * 32-bit reads.
 */
function scanNonZero(mask: Uint8Array, dims: Vec3): { box: IndexBox; ones: number; binary: boolean } | null {
  const [nx, ny] = dims;
  const box: IndexBox = { iMin: Infinity, iMax: -1, jMin: Infinity, jMax: -1, kMin: Infinity, kMax: -1 };
  let nonZero = 0;
  let ones = 0;
  let n = 0;
  if (mask.byteOffset % 4 === 0) {
    const words = new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2);
    const blocks = words.length & ~3;
    for (let w = 0; w < words.length; w += 4) {
      if (w < blocks && (words[w] | words[w + 1] | words[w + 2] | words[w + 3]) === 0) continue;
      const end = Math.min(w + 4, words.length) << 2;
      for (let b = w << 2; b < end; b++) {
        const value = mask[b];
        if (value === 0) continue;
        nonZero++;
        if (value === 1) ones++;
        extend(box, b, nx, ny);
      }
    }
    n = words.length << 2;
  }
  for (; n < mask.length; n++) {
    const value = mask[n];
    if (value === 0) continue;
    nonZero++;
    if (value === 1) ones++;
    extend(box, n, nx, ny);
  }
  return nonZero === 0 ? null : { box, ones, binary: ones === nonZero };
}

function extend(box: IndexBox, n: number, nx: number, ny: number): void {
  const i = n % nx;
  const row = (n - i) / nx;
  const j = row % ny;
  const k = (row - j) / ny;
  if (i < box.iMin) box.iMin = i;
  if (i > box.iMax) box.iMax = i;
  if (j < box.jMin) box.jMin = j;
  if (j > box.jMax) box.jMax = j;
  if (k < box.kMin) box.kMin = k;
  if (k > box.kMax) box.kMax = k;
}

/** Marks `start` as `to` and floods from it through voxels equal to `from`; returns the voxels marked. */
function flood(
  work: Uint8Array,
  start: number,
  from: number,
  to: number,
  offsets: Int32Array,
  queue: Int32Array,
): number {
  work[start] = to;
  queue[0] = start;
  return spread(work, from, to, offsets, queue, 0, 1);
}

/** Enqueues `n` (marking it reached) when it is unreached background; returns the new queue tail. */
function seed(work: Uint8Array, n: number, queue: Int32Array, tail: number): number {
  if (work[n] !== 0) return tail;
  work[n] = 2;
  queue[tail] = n;
  return tail + 1;
}

/**
 * Breadth-first spread from the queued voxels `queue[head..tail)` (already marked `to`) through
 * neighbours equal to `from`, marking them `to`; returns the final tail. The caller guarantees that every
 * neighbour index is inside `work` (padding) and that `queue` can hold every voxel marked.
 */
function spread(
  work: Uint8Array,
  from: number,
  to: number,
  offsets: Int32Array,
  queue: Int32Array,
  head: number,
  tail: number,
): number {
  const degree = offsets.length;
  while (head < tail) {
    const p = queue[head++];
    for (let t = 0; t < degree; t++) {
      const q = p + offsets[t];
      if (work[q] === from) {
        work[q] = to;
        queue[tail++] = q;
      }
    }
  }
  return tail;
}
