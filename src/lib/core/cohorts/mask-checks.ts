/**
 * Checks of a contour's voxels that a physicist needs before a case enters a benchmark version: a
 * structure in pieces where it is one organ, holes in a solid structure, slices skipped inside its extent,
 * voxels outside the body outline, and two cases that are nearly the same scan.
 *
 * Masks are binary (0 or 1) on the case's CT grid, x fastest: voxel (i, j, k) is `data[i + nx*(j + ny*k)]`
 * with k the slice axis. Every kernel works on the contour's bounding box only. Results hold slice indices
 * k (from 0); messages name axial slices as the case viewer numbers them (k + 1). Connectivity follows the
 * usual digital-topology pairing (Rosenfeld; Kong and Rosenfeld 1989): a structure's voxels are connected
 * by 26-adjacency (faces, edges and corners), its background by 6-adjacency, and within a slice 8 for the
 * structure and 4 for its background. 26 for the structure because contours are drawn slice by slice: an
 * oblique tube (the LAD, the oesophagus) drawn well touches the previous slice's outline only at an edge
 * or corner, and must not count as broken; the background's 6 then keeps a closed surface closed.
 */
import { cropMask, type IndexBox } from '../volume/crop';
import type { Mask, Vec3 } from '../volume/volume';

/**
 * Version of the definitions below (connectivity, hole and rim rules): results kept under another
 * version are computed again.
 */
export const MASK_CHECKS_VERSION = 1;

/** How voxels touch: in-slice only (4, 8) or in 3-D (6, 26). */
export type Connectivity = 4 | 8 | 6 | 26;

/**
 * Connected components of the voxels equal to `value`, found over runs along i (union-find of the runs
 * of neighbouring rows), so the cost grows with the number of runs, not of voxels. Components are
 * numbered in the order of their first voxel (x fastest).
 */
export interface ComponentLabels {
  count: number;
  /** voxels of each component */
  voxels: Float64Array;
  /** first and last slice (k) of each component */
  kMin: Int32Array;
  kMax: Int32Array;
  /**
   * 1 where the component reaches the edge of the array: for 3-D connectivity any face, for in-slice
   * connectivity the in-plane edge (i = 0, i = nx-1, j = 0, j = ny-1) of its slice.
   */
  touchesEdge: Uint8Array;
  /** the runs: row (j + ny*k), first and last i, and component */
  runRow: Int32Array;
  runStart: Int32Array;
  runEnd: Int32Array;
  runComponent: Int32Array;
}

/**
 * Connected components of the voxels of a binary mask (every value 0 or 1) equal to `value`; RangeError
 * on a size mismatch.
 */
export function labelComponents(
  data: Uint8Array,
  dims: Vec3,
  value: 0 | 1,
  connectivity: Connectivity,
): ComponentLabels {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz)
    throw new RangeError(`mask of ${data.length} voxels on a ${dims.join('x')} grid`);
  const rows = ny * nz;
  // the runs, found by native searches (memchr) for the next value and the next other value, cut at
  // row ends; a pass per run rather than per voxel
  const other = value === 1 ? 0 : 1;
  let capacity = 1024;
  let runRow = new Int32Array(capacity);
  let runStart = new Int32Array(capacity);
  let runEnd = new Int32Array(capacity);
  const rowFirst = new Int32Array(rows + 1);
  let runs = 0;
  let nextRow = 0;
  const total = data.length;
  let position = 0;
  while (position < total) {
    const start = data.indexOf(value, position);
    if (start < 0) break;
    let end = data.indexOf(other, start);
    if (end < 0) end = total;
    for (let s = start; s < end;) {
      const r = Math.floor(s / nx);
      const e = Math.min(end, (r + 1) * nx);
      while (nextRow <= r) rowFirst[nextRow++] = runs;
      if (runs === capacity) {
        capacity *= 2;
        const grow = (a: Int32Array) => {
          const b = new Int32Array(capacity);
          b.set(a);
          return b;
        };
        runRow = grow(runRow);
        runStart = grow(runStart);
        runEnd = grow(runEnd);
      }
      runRow[runs] = r;
      runStart[runs] = s - r * nx;
      runEnd[runs] = e - 1 - r * nx;
      runs++;
      s = e;
    }
    position = end;
  }
  while (nextRow <= rows) rowFirst[nextRow++] = runs;
  runRow = runRow.subarray(0, runs);
  runStart = runStart.subarray(0, runs);
  runEnd = runEnd.subarray(0, runs);

  const parent = new Int32Array(runs);
  for (let r = 0; r < runs; r++) parent[r] = r;
  const find = (x: number) => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const diagonal = connectivity === 8 || connectivity === 26 ? 1 : 0;
  // runs of row `a` against those of an earlier row `b`: union where they touch
  const link = (a: number, b: number) => {
    let p = rowFirst[a]!;
    const pEnd = rowFirst[a + 1]!;
    let q = rowFirst[b]!;
    const qEnd = rowFirst[b + 1]!;
    while (p < pEnd && q < qEnd) {
      if (runStart[p]! <= runEnd[q]! + diagonal && runStart[q]! <= runEnd[p]! + diagonal) {
        const x = find(p);
        const y = find(q);
        if (x !== y) parent[x > y ? x : y] = x > y ? y : x;
      }
      if (runEnd[p]! < runEnd[q]!) p++;
      else q++;
    }
  };
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++) {
      const r = j + ny * k;
      if (rowFirst[r] === rowFirst[r + 1]) continue;
      if (j > 0) link(r, r - 1);
      if (k === 0 || connectivity === 4 || connectivity === 8) continue;
      link(r, r - ny);
      if (connectivity === 26) {
        if (j > 0) link(r, r - ny - 1);
        if (j < ny - 1) link(r, r - ny + 1);
      }
    }

  const label = new Int32Array(runs).fill(-1);
  const runComponent = new Int32Array(runs);
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const root = find(r);
    if (label[root] === -1) label[root] = count++;
    runComponent[r] = label[root]!;
  }
  const voxels = new Float64Array(count);
  const kMin = new Int32Array(count).fill(nz);
  const kMax = new Int32Array(count).fill(-1);
  const touchesEdge = new Uint8Array(count);
  const threeD = connectivity === 6 || connectivity === 26;
  for (let r = 0; r < runs; r++) {
    const c = runComponent[r]!;
    const row = runRow[r]!;
    const j = row % ny;
    const k = (row - j) / ny;
    voxels[c] += runEnd[r]! - runStart[r]! + 1;
    if (k < kMin[c]!) kMin[c] = k;
    if (k > kMax[c]!) kMax[c] = k;
    if (
      runStart[r] === 0 ||
      runEnd[r] === nx - 1 ||
      j === 0 ||
      j === ny - 1 ||
      (threeD && (k === 0 || k === nz - 1))
    )
      touchesEdge[c] = 1;
  }
  return { count, voxels, kMin, kMax, touchesEdge, runRow, runStart, runEnd, runComponent };
}

/** One connected piece of a structure: its voxels and its first and last slice. */
export interface MaskPart {
  voxels: number;
  kMin: number;
  kMax: number;
}

/**
 * What the checks need to know about one mask, in voxels and slice indices (k of the CT grid, from 0):
 * independent of the structure's name, so it can be kept by the mask's content hash.
 */
export interface MaskShape {
  voxels: number;
  /** 26-connected components, largest first: their count, the largest few and the slices of all but the largest */
  parts: {
    count: number;
    /** voxels of the largest MAX_LISTED_PARTS + 1 components, largest first */
    largest: MaskPart[];
    /** slices holding voxels of any component but the largest */
    slicesBesidesLargest: number[];
    /** slices holding voxels of any component but the two largest */
    slicesBesidesTwoLargest: number[];
  };
  /**
   * In-slice holes: background voxels of a slice, 4-connected, that do not reach the edge of the bounding
   * box in that slice; `enclosedVoxels` of them, on `enclosedSlices`, are also closed in 3-D (6-connected
   * background components reaching no face of the bounding box).
   */
  holes: { voxels: number; slices: number[]; enclosedVoxels: number; enclosedSlices: number[] };
  /** slices between the first and the last slice of the structure with no voxel of it */
  skippedSlices: number[];
}

/** Components listed one by one in a shape (the rest are counted). */
export const MAX_LISTED_PARTS = 8;

function sortedUnique(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * The shape of a mask within `box` (an inclusive voxel box holding all of its voxels, e.g. the stored
 * bounding box). An empty mask has no parts, holes or skipped slices.
 */
export function maskShape(mask: Mask, box: IndexBox): MaskShape {
  const crop = cropMask(mask, box);
  const dims = crop.dims;
  const k0 = Math.max(0, box.kMin);
  const parts = labelComponents(crop.data, dims, 1, 26);
  const order = Array.from({ length: parts.count }, (_, c) => c).sort(
    (a, b) => parts.voxels[b]! - parts.voxels[a]! || a - b,
  );
  const rank = new Int32Array(parts.count);
  order.forEach((c, position) => (rank[c] = position));
  const besidesLargest = new Set<number>();
  const besidesTwo = new Set<number>();
  const perSlice = new Float64Array(dims[2]);
  const ny = dims[1];
  for (let r = 0; r < parts.runRow.length; r++) {
    const k = Math.floor(parts.runRow[r]! / ny);
    perSlice[k] += parts.runEnd[r]! - parts.runStart[r]! + 1;
    const position = rank[parts.runComponent[r]!]!;
    if (position >= 1) besidesLargest.add(k + k0);
    if (position >= 2) besidesTwo.add(k + k0);
  }
  let voxels = 0;
  let first = -1;
  let last = -1;
  for (let k = 0; k < dims[2]; k++) {
    voxels += perSlice[k]!;
    if (perSlice[k]! > 0) {
      if (first < 0) first = k;
      last = k;
    }
  }
  const skippedSlices: number[] = [];
  for (let k = first + 1; k < last; k++) if (perSlice[k] === 0) skippedSlices.push(k + k0);

  const holes: MaskShape['holes'] = { voxels: 0, slices: [], enclosedVoxels: 0, enclosedSlices: [] };
  if (voxels > 0) {
    const flat = labelComponents(crop.data, dims, 0, 4);
    const holeSlices = new Set<number>();
    for (let r = 0; r < flat.runRow.length; r++)
      if (flat.touchesEdge[flat.runComponent[r]!] === 0) {
        holes.voxels += flat.runEnd[r]! - flat.runStart[r]! + 1;
        holeSlices.add(Math.floor(flat.runRow[r]! / ny) + k0);
      }
    holes.slices = sortedUnique(holeSlices);
    if (holes.voxels > 0) {
      const solid = labelComponents(crop.data, dims, 0, 6);
      const enclosedSlices = new Set<number>();
      for (let r = 0; r < solid.runRow.length; r++)
        if (solid.touchesEdge[solid.runComponent[r]!] === 0) {
          holes.enclosedVoxels += solid.runEnd[r]! - solid.runStart[r]! + 1;
          enclosedSlices.add(Math.floor(solid.runRow[r]! / ny) + k0);
        }
      holes.enclosedSlices = sortedUnique(enclosedSlices);
    }
  }
  return {
    voxels,
    parts: {
      count: parts.count,
      largest: order.slice(0, MAX_LISTED_PARTS + 1).map((c) => ({
        voxels: parts.voxels[c]!,
        kMin: parts.kMin[c]! + k0,
        kMax: parts.kMax[c]! + k0,
      })),
      slicesBesidesLargest: sortedUnique(besidesLargest),
      slicesBesidesTwoLargest: sortedUnique(besidesTwo),
    },
    holes,
    skippedSlices,
  };
}

/** Voxels of a structure outside the body, and the slices that hold them. */
export interface OutsideBody {
  voxels: number;
  slices: number[];
}

/**
 * Voxels of `structure` (within `box`) more than one voxel outside the body outline in their slice: not in
 * `body`, not in a hole of the body in that slice (a cavity the outline left out, such as the lungs when
 * the body contour excludes air), and with none of their 8 in-slice neighbours in the body. The one-voxel
 * rim absorbs outlines rasterised a voxel apart; the body is taken as drawn across slices (a structure
 * on a slice the body outline does not reach is outside). Both masks lie on the same grid.
 */
export function outsideBody(structure: Mask, box: IndexBox, body: Uint8Array): OutsideBody {
  const [nx, ny, nz] = structure.dims;
  if (body.length !== structure.data.length)
    throw new RangeError(`body mask of ${body.length} voxels, structure of ${structure.data.length}`);
  const data = structure.data;
  const plane = nx * ny;
  const i0 = Math.max(0, box.iMin);
  const i1 = Math.min(nx - 1, box.iMax);
  const j0 = Math.max(0, box.jMin);
  const j1 = Math.min(ny - 1, box.jMax);
  const k0 = Math.max(0, box.kMin);
  const k1 = Math.min(nz - 1, box.kMax);
  let reached: Uint8Array | null = null;
  let queue: Int32Array | null = null;
  const result: OutsideBody = { voxels: 0, slices: [] };
  for (let k = k0; k <= k1; k++) {
    const base = k * plane;
    let filled = false;
    let onSlice = 0;
    for (let j = j0; j <= j1; j++)
      for (let i = i0; i <= i1; i++) {
        const n = base + i + nx * j;
        if (data[n] === 0 || body[n] !== 0) continue;
        let rim = false;
        for (let dj = -1; dj <= 1 && !rim; dj++) {
          const jj = j + dj;
          if (jj < 0 || jj >= ny) continue;
          for (let di = -1; di <= 1; di++) {
            const ii = i + di;
            if (ii >= 0 && ii < nx && body[base + ii + nx * jj] !== 0) {
              rim = true;
              break;
            }
          }
        }
        if (rim) continue;
        if (!filled) {
          // the slice's background reachable from its edge through non-body voxels (4-connected)
          reached ??= new Uint8Array(plane);
          queue ??= new Int32Array(plane);
          reached.fill(0);
          let head = 0;
          let tail = 0;
          const seed = (p: number) => {
            if (reached![p] === 0 && body[base + p] === 0) {
              reached![p] = 1;
              queue![tail++] = p;
            }
          };
          for (let ii = 0; ii < nx; ii++) {
            seed(ii);
            seed(ii + nx * (ny - 1));
          }
          for (let jj = 0; jj < ny; jj++) {
            seed(nx * jj);
            seed(nx - 1 + nx * jj);
          }
          while (head < tail) {
            const p = queue[head++]!;
            const pi = p % nx;
            if (pi > 0) seed(p - 1);
            if (pi < nx - 1) seed(p + 1);
            if (p >= nx) seed(p - nx);
            if (p < plane - nx) seed(p + nx);
          }
          filled = true;
        }
        if (reached![i + nx * j] === 1) onSlice++;
      }
    if (onSlice > 0) {
      result.voxels += onSlice;
      result.slices.push(k);
    }
  }
  return result;
}

/**
 * Dice 2|A∩B|/(|A|+|B|) of two masks on the same grid, each given with a box holding all its voxels
 * (voxels outside the boxes are not read); null when both are empty.
 */
export function maskDice(
  a: Uint8Array,
  boxA: IndexBox,
  b: Uint8Array,
  boxB: IndexBox,
  dims: Vec3,
): number | null {
  const [nx, ny] = dims;
  const count = (data: Uint8Array, box: IndexBox) => {
    let total = 0;
    for (let k = box.kMin; k <= box.kMax; k++)
      for (let j = box.jMin; j <= box.jMax; j++) {
        const row = nx * (j + ny * k);
        for (let i = box.iMin; i <= box.iMax; i++) total += data[row + i]!;
      }
    return total;
  };
  const total = count(a, boxA) + count(b, boxB);
  if (total === 0) return null;
  let both = 0;
  const kMin = Math.max(boxA.kMin, boxB.kMin);
  const kMax = Math.min(boxA.kMax, boxB.kMax);
  const jMin = Math.max(boxA.jMin, boxB.jMin);
  const jMax = Math.min(boxA.jMax, boxB.jMax);
  const iMin = Math.max(boxA.iMin, boxB.iMin);
  const iMax = Math.min(boxA.iMax, boxB.iMax);
  for (let k = kMin; k <= kMax; k++)
    for (let j = jMin; j <= jMax; j++) {
      const row = nx * (j + ny * k);
      for (let i = iMin; i <= iMax; i++) both += a[row + i]! & b[row + i]!;
    }
  return (2 * both) / total;
}

/** The highest Dice two masks of these voxel counts can reach: 2 min / (sum); null when both are empty. */
export function diceUpperBound(voxelsA: number, voxelsB: number): number | null {
  return voxelsA + voxelsB === 0 ? null : (2 * Math.min(voxelsA, voxelsB)) / (voxelsA + voxelsB);
}

/** Dice above which two cases' contours of a structure count as the same drawing on the same scan. */
export const NEAR_DUPLICATE_DICE = 0.98;
/** Fewest structures two cases must share for the near-duplicate test to say anything. */
export const NEAR_DUPLICATE_MIN_STRUCTURES = 3;

/**
 * Two cases on grids of the same dimensions and spacing are near duplicates when they share at least
 * NEAR_DUPLICATE_MIN_STRUCTURES structures and, for every shared structure, some contour of one case and
 * some contour of the other overlap with Dice >= NEAR_DUPLICATE_DICE (voxel by voxel, in index space).
 * Different patients never reach it on every structure; the same scan imported twice, or re-exported,
 * re-rasterised or lightly edited, does. `bestDice` holds each shared structure's highest Dice.
 */
export function isNearDuplicate(bestDice: ReadonlyArray<{ structure: string; dice: number }>): boolean {
  return (
    bestDice.length >= NEAR_DUPLICATE_MIN_STRUCTURES && bestDice.every((d) => d.dice >= NEAR_DUPLICATE_DICE)
  );
}

/**
 * TG-263 structures drawn as one 3-D connected piece; `Lungs` (both lungs as one structure) is two. Not the
 * LAD: a vessel a few millimetres wide, drawn slice by slice on 3 to 5 mm slices, falls apart into pieces
 * even when every slice is drawn (the generated truth does too), so its skipped slices are checked instead.
 */
const ONE_PIECE = new Set([
  'External',
  'Body',
  'Lung_L',
  'Lung_R',
  'Heart',
  'SpinalCord',
  'SpinalCanal',
  'Esophagus',
  'Trachea',
  'Breast_L',
  'Breast_R',
  'Chestwall_L',
  'Chestwall_R',
  'Humerus_L',
  'Humerus_R',
  'BrachialPlex_L',
  'BrachialPlex_R',
  'Liver',
  'Stomach',
]);

/** Structures with no lawful hole: solid organs and every target; the body outline may leave out air. */
const SOLID = new Set([
  ...ONE_PIECE,
  'A_LAD',
  'Lungs',
  'Glnd_Thyroid',
  'Sternum',
  'TumorBed',
  'CTVn_LN_L',
  'CTVn_LN_R',
]);

/**
 * Targets of one region (breast, chest wall, tumour bed, one nodal level) and their PTVs. Nodal CTVs of
 * all levels as one structure (CTVn_LN_L) are not: the internal mammary chain may stand apart.
 */
const ONE_PIECE_TARGET = /^(CTV|PTV|ITV)(p|sb)?_|^(CTV|PTV)n_LN_(Ax_L[123]|Sclav|IMN)_[LR]$/;
const ANY_TARGET = /^(CTV|PTV|ITV)/;

/**
 * The number of connected pieces a structure is drawn in, or null when the count is free (unknown names,
 * the thyroid's lobes, the sternum's parts, GTVs, nodal CTVs of several levels as one structure).
 */
export function expectedPieces(structure: string): number | null {
  if (structure === 'Lungs') return 2;
  return ONE_PIECE.has(structure) || ONE_PIECE_TARGET.test(structure) ? 1 : null;
}

/** Structures whose axial slices may ring an organ that bulges into them: only closed cavities are holes. */
const RINGING = new Set(['Lungs', 'Lung_L', 'Lung_R', 'Liver']);

/**
 * Which holes a structure must not have: 'in-slice' (any hole in a slice: solid organs and every target),
 * 'closed' (only cavities closed in 3-D: the lungs, whose caudal slices ring the dome of the diaphragm and
 * the heart, and the liver around the vena cava), or null (not checked: the body outline may leave out air;
 * names the catalogue does not know).
 */
export function holePolicy(structure: string): 'in-slice' | 'closed' | null {
  if (RINGING.has(structure)) return 'closed';
  if (structure === 'External' || structure === 'Body') return null;
  return SOLID.has(structure) || ANY_TARGET.test(structure) ? 'in-slice' : null;
}

/** True when a contour has holes its structure must not have (holePolicy). */
export function hasForbiddenHoles(structure: string, shape: MaskShape): boolean {
  const policy = holePolicy(structure);
  return policy === 'in-slice'
    ? shape.holes.voxels > 0
    : policy === 'closed' && shape.holes.enclosedVoxels > 0;
}

/**
 * True for structures drawn on every slice between their first and last: every known organ and CTV (not
 * GTVs, which may be multifocal, nor names the catalogue does not know, such as markers or bolus).
 */
export function expectsContiguousSlices(structure: string): boolean {
  return SOLID.has(structure) || ANY_TARGET.test(structure);
}

/**
 * True for structures that lie inside the body: known organs and CTVs, not the body outline itself and not
 * PTVs (a CTV-to-PTV margin crosses the skin by design).
 */
export function expectsInsideBody(structure: string): boolean {
  if (structure === 'External' || structure === 'Body' || structure.startsWith('PTV')) return false;
  return SOLID.has(structure) || ANY_TARGET.test(structure);
}

/** Slice indices as ranges: [3, 4, 5, 9] -> "3-5, 9"; after `maxRanges` ranges, "and N more slices". */
export function formatSlices(slices: readonly number[], maxRanges = 6): string {
  const sorted = [...slices].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const k of sorted) {
    const last = ranges.at(-1);
    if (last && k === last[1] + 1) last[1] = k;
    else if (!last || k > last[1]) ranges.push([k, k]);
  }
  const shown = ranges.slice(0, maxRanges).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  const rest = ranges.slice(maxRanges).reduce((n, [a, b]) => n + b - a + 1, 0);
  return rest > 0 ? `${shown.join(', ')} and ${rest} more slice${rest === 1 ? '' : 's'}` : shown.join(', ');
}

/** Pieces under this many voxels are called specks in messages (they count like any other piece). */
export const SPECK_VOXELS = 10;

/** A volume in cc: two significant digits under 0.1 cc (0.0023 cc), two decimals under 10 cc, then one. */
export function formatCc(cc: number): string {
  return `${cc < 0.1 ? +cc.toPrecision(2) : cc < 10 ? cc.toFixed(2) : cc.toFixed(1)} cc`;
}

/** A share in %: two significant digits under 1 % (0.013 %), one decimal above (12.5 %). */
export function formatPercent(percent: number): string {
  return `${percent < 1 ? +percent.toPrecision(2) : percent.toFixed(1)} %`;
}

/** One contour's shape with whose it is (an observer's code, or 'consensus') and its grid's voxel volume. */
export interface LabelledShape {
  setLabel: string;
  shape: MaskShape;
  voxelCc: number;
}

const who = (setLabel: string) => (setLabel.startsWith('consensus') ? setLabel : `observer ${setLabel}`);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
/**
 * "axial slice 8" or "axial slices 3-5, 9": slice indices k (from 0) as the case viewer numbers them
 * (from 1), so a physician finds the slice the message names.
 */
const onSlices = (slices: readonly number[]) =>
  `axial ${slices.length === 1 ? 'slice' : 'slices'} ${formatSlices(slices.map((k) => k + 1))}`;

/** True when the contour has more pieces than the structure is drawn in. */
export function isFragmented(structure: string, shape: MaskShape): boolean {
  const expected = expectedPieces(structure);
  return expected !== null && shape.parts.count > expected;
}

/**
 * The finding text for contours of one structure in more pieces than expected: per contour the count of
 * pieces, the volume of those besides the largest (two largest for Lungs) and their slices, each piece
 * listed with its volume (pieces under SPECK_VOXELS voxels named specks; every piece counts).
 */
export function fragmentedMessage(
  pseudonym: string,
  structure: string,
  shapes: readonly LabelledShape[],
): string {
  const expected = expectedPieces(structure) ?? 1;
  const parts = shapes.map(({ setLabel, shape, voxelCc }) => {
    const kept = shape.parts.largest.slice(0, expected).reduce((n, p) => n + p.voxels, 0);
    const extra = shape.parts.count - expected;
    const slices = expected === 1 ? shape.parts.slicesBesidesLargest : shape.parts.slicesBesidesTwoLargest;
    const extras = shape.parts.largest.slice(expected);
    const listed = extras.map((p) => {
      const where = p.kMin === p.kMax ? `slice ${p.kMin + 1}` : `slices ${p.kMin + 1}-${p.kMax + 1}`;
      return p.voxels < SPECK_VOXELS
        ? `a speck of ${plural(p.voxels, 'voxel')} on ${where}`
        : `${formatCc(p.voxels * voxelCc)} on ${where}`;
    });
    const unlisted = extra - listed.length;
    if (unlisted > 0) listed.push(`${unlisted} more`);
    // one extra piece: its volume and slices are the total's; only a speck is worth saying
    const detail =
      extra === 1
        ? extras[0]!.voxels < SPECK_VOXELS
          ? ` (a speck of ${plural(extras[0]!.voxels, 'voxel')})`
          : ''
        : ` (${listed.join(', ')})`;
    return (
      `${who(setLabel)} has ${shape.parts.count} pieces; the ${extra === 1 ? 'one' : extra} besides the ` +
      `${expected === 1 ? 'largest' : 'two largest'} hold${extra === 1 ? 's' : ''} ` +
      `${formatCc((shape.voxels - kept) * voxelCc)} on ${onSlices(slices)}${detail}`
    );
  });
  return (
    `${pseudonym} ${structure} should be ${expected === 1 ? 'one piece' : 'two pieces, one per lung'} ` +
    `(26-connected, every piece counts however small): ${parts.join('; ')}. ` +
    `Remove stray islands, or join pieces a missed slice has split`
  );
}

/**
 * The finding text for holes in a structure that should have none: in-slice holes with the part closed in
 * 3-D, or for structures checked for closed cavities only (holePolicy 'closed'), those cavities.
 */
export function holesMessage(pseudonym: string, structure: string, shapes: readonly LabelledShape[]): string {
  const closedOnly = holePolicy(structure) === 'closed';
  const parts = shapes.map(({ setLabel, shape, voxelCc }) =>
    closedOnly
      ? `${who(setLabel)} encloses ${formatCc(shape.holes.enclosedVoxels * voxelCc)} of cavities on ` +
        `${onSlices(shape.holes.enclosedSlices)}`
      : `${who(setLabel)} leaves ${formatCc(shape.holes.voxels * voxelCc)} of holes on ` +
        `${onSlices(shape.holes.slices)} (${formatCc(shape.holes.enclosedVoxels * voxelCc)} of it closed in 3-D)`,
  );
  const what = closedOnly
    ? 'should have no cavity closed in 3-D (a ring around the diaphragm or heart in a slice is anatomy)'
    : 'should have no holes';
  return (
    `${pseudonym} ${structure} ${what}: ${parts.join('; ')}. ` +
    `Fill them, or look for an inner contour drawn by mistake (an inner contour on a slice is a hole)`
  );
}

/** The finding text for slices without contour between a structure's first and last slice. */
export function skippedSlicesMessage(
  pseudonym: string,
  structure: string,
  shapes: readonly LabelledShape[],
): string {
  const parts = shapes.map(({ setLabel, shape }) => {
    const n = shape.skippedSlices.length;
    return `${who(setLabel)} has no contour on ${plural(n, 'axial slice')} (${formatSlices(
      shape.skippedSlices.map((k) => k + 1),
      12,
    )}) inside its extent`;
  });
  return (
    `${pseudonym} ${structure} has slices left out: ${parts.join('; ')}. ` +
    `Draw the missed slice, or check the structure set for a contour on a wrong slice`
  );
}

/** An outside-body result with whose contour and which body outline it was measured against. */
export interface LabelledOutside {
  setLabel: string;
  /** whose External it was measured against: the same label, or another set's */
  externalLabel: string;
  voxels: number;
  outside: OutsideBody;
  voxelCc: number;
}

/** The finding text for a structure reaching more than one voxel outside the body outline. */
export function outsideBodyMessage(
  pseudonym: string,
  structure: string,
  results: readonly LabelledOutside[],
): string {
  const parts = results.map(({ setLabel, externalLabel, voxels, outside, voxelCc }) => {
    const body =
      externalLabel === setLabel ? 'the External of its own set' : `the External of ${who(externalLabel)}`;
    return (
      `${who(setLabel)} has ${formatCc(outside.voxels * voxelCc)} (${formatPercent((100 * outside.voxels) / voxels)}) ` +
      `outside ${body}, on ${onSlices(outside.slices)}`
    );
  });
  return (
    `${pseudonym} ${structure} reaches outside the body (more than 1 voxel beyond the External's outline in ` +
    `its slice; holes of the outline count as inside): ${parts.join('; ')}. ` +
    `Crop it to the body, or check the External and the structure's slices`
  );
}

/** An earlier case a case nearly duplicates, with the evidence. */
export interface NearDuplicateEvidence {
  pseudonym: string;
  /** each shared structure's highest Dice between a contour of either case */
  bestDice: ReadonlyArray<{ structure: string; dice: number }>;
}

/** The finding text for a case that nearly duplicates earlier cases of the cohort. */
export function nearDuplicateMessage(
  pseudonym: string,
  grid: { dims: Vec3; spacingMm: Vec3 },
  earlier: readonly NearDuplicateEvidence[],
): string {
  const parts = earlier.map(({ pseudonym: other, bestDice }) => {
    const lowest = bestDice.reduce((a, b) => (b.dice < a.dice ? b : a));
    return (
      `${other} (all ${bestDice.length} shared structures overlap, lowest Dice ` +
      `${lowest.dice.toFixed(3)} for ${lowest.structure})`
    );
  });
  return (
    `${pseudonym} looks like the same scan as ${parts.join(' and ')}: same ${grid.dims.join('x')} grid at ` +
    `${grid.spacingMm.map((s) => +s.toFixed(3)).join(' x ')} mm, and for every shared structure some ` +
    `physician or consensus contour of each case overlaps voxel for voxel with Dice >= ${NEAR_DUPLICATE_DICE} ` +
    `(at least ${NEAR_DUPLICATE_MIN_STRUCTURES} shared structures needed). Keep one, or say why both belong`
  );
}
