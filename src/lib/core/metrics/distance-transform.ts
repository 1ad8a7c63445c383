import type { Vec3 } from '../volume/volume';
import type { Workspace } from './workspace';

/** Distances (mm) from query points to their nearest feature point, with the query's linear index. */
export interface QueryDistances {
  /** Number of queries answered; `distancesMm[0..count)` and `indices[0..count)` are valid. */
  count: number;
  distancesMm: Float64Array;
  indices: Int32Array;
}

/** Points on a grid: a flag per grid point and the flagged linear indices in ascending order. */
export interface PointSet {
  flags: Uint8Array;
  indices: Int32Array;
  count: number;
}

export function emptyPointSet(): PointSet {
  return { flags: new Uint8Array(0), indices: new Int32Array(0), count: 0 };
}

/** The point set of a flag array (first `total` entries), reusing `target`'s buffers when large enough. */
export function pointSetFromFlags(
  flags: Uint8Array,
  total: number,
  target: PointSet = emptyPointSet(),
): PointSet {
  let count = 0;
  for (let n = 0; n < total; n++) count += flags[n] !== 0 ? 1 : 0;
  if (target.indices.length < count) target.indices = new Int32Array(count);
  let m = 0;
  for (let n = 0; n < total; n++) if (flags[n] !== 0) target.indices[m++] = n;
  target.flags = flags;
  target.count = count;
  return target;
}

/**
 * 'volume': distances in 3-D. 'slices': each k-slice on its own (in-plane distances, features of other
 * slices ignored), as for added path length.
 */
export type DistanceMode = 'volume' | 'slices';

/** Rows processed together in the first pass so that its transposed writes fill whole cache lines. */
const tileWidth = 8;

export function emptyQueryDistances(): QueryDistances {
  return { count: 0, distancesMm: new Float64Array(0), indices: new Int32Array(0) };
}

export interface DistanceOptions {
  /** 'volume' (default) or 'slices'. */
  mode?: DistanceMode;
  /**
   * Distances beyond this are not needed: such queries get +Infinity and no transform is run for them
   * (for thresholds such as added path length). Default: every distance exact.
   */
  maxDistanceMm?: number;
  /** Radius of the local search tried before the transform (mm). */
  searchRadiusMm?: number;
}

/** Local searches reach this far before a query is left to the transform. */
export const defaultSearchRadiusMm = 10;

/**
 * Exact Euclidean distance from every query point to the nearest feature point on a regular grid of
 * `dims` (i fastest, `index = i + nx * (j + ny * k)`) with anisotropic `spacingMm`.
 *
 * Most queries of two contours of one structure lie within a few millimetres of the other surface, so
 * each query first visits the grid offsets within `searchRadiusMm` in increasing order of distance and
 * stops at the first feature, which is then the nearest. Queries with no feature in reach (and all
 * remaining queries, once more than 2 % of them have missed) get their distance from the exact separable
 * transform instead. Either way every distance is evaluated as sqrt(((Δi·si)² + (Δj·sj)²) + (Δk·sk)²)
 * for a nearest feature, the expression and order of scipy.ndimage.distance_transform_edt, so results
 * agree with it to the last bit wherever the nearest feature is not tied within rounding.
 *
 * Empty input: no features gives +Infinity for every query (in 'slices' mode: for every query on a
 * slice without features); no queries gives count 0. Queries are reported in no particular order, each
 * with its linear index. Throws RangeError for a non-positive spacing or a negative radius.
 */
export function queryDistances(
  features: Uint8Array,
  queries: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  workspace: Workspace,
  result: QueryDistances,
  options: DistanceOptions = {},
): QueryDistances {
  const total = dims[0] * dims[1] * dims[2];
  return pointDistances(
    pointSetFromFlags(features, total),
    pointSetFromFlags(queries, total),
    dims,
    spacingMm,
    workspace,
    result,
    options,
  );
}

/** queryDistances for point sets whose index lists the caller already has (no scan of the grid). */
export function pointDistances(
  features: PointSet,
  queries: PointSet,
  dims: Vec3,
  spacingMm: Vec3,
  workspace: Workspace,
  result: QueryDistances,
  options: DistanceOptions = {},
): QueryDistances {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const total = plane * nz;
  const [sx, sy, sz] = spacingMm;
  if (!(sx > 0 && sy > 0 && sz > 0))
    throw new RangeError(`spacing must be positive, got ${spacingMm.join(', ')}`);
  const mode = options.mode ?? 'volume';
  const slices = mode === 'slices' || nz === 1;
  const maxDistanceMm = options.maxDistanceMm ?? Infinity;
  const searchRadiusMm = Math.min(options.searchRadiusMm ?? defaultSearchRadiusMm, maxDistanceMm);
  if (!(maxDistanceMm >= 0) || !(searchRadiusMm >= 0)) {
    throw new RangeError(`distance limits must be >= 0 mm, got ${maxDistanceMm} and ${searchRadiusMm}`);
  }

  const queryCount = queries.count;
  const queryIndices = queries.indices;
  const featureFlags = features.flags;
  if (result.distancesMm.length < queryCount)
    result.distancesMm = new Float64Array(Math.ceil(queryCount * 1.25));
  if (result.indices.length < queryCount) result.indices = new Int32Array(Math.ceil(queryCount * 1.25));
  result.count = queryCount;
  if (queryCount === 0) return result;
  const { distancesMm, indices } = result;
  if (features.count === 0) {
    for (let m = 0; m < queryCount; m++) {
      distancesMm[m] = Infinity;
      indices[m] = queryIndices[m];
    }
    return result;
  }

  const offsets = sortedOffsets(workspace, dims, spacingMm, searchRadiusMm, slices);
  const { count: offsetCount, delta, di, dj, dk, squaredMm2 } = offsets;
  const [ri, rj, rk] = offsets.reach;
  const { beyondI, beyondJ, beyondK } = offsets;
  const missLimit = Math.max(256, Math.floor(queryCount / 50));
  const resolveAllBeyond = maxDistanceMm <= searchRadiusMm;
  let pending: Uint8Array | null = null;
  let pendingCount = 0;
  let m = 0;
  // The previous query's distance bounds this one's from below (triangle inequality), so offsets nearer
  // than that bound cannot hold a feature and are skipped; queries come in index order, mostly adjacent.
  let previousI = 0;
  let previousJ = 0;
  let previousK = 0;
  let previousDistance = 0;
  for (let q = 0; q < queryCount; q++) {
    const n = queryIndices[q];
    if (pending !== null && pendingCount > missLimit) {
      // too many far queries: the transform answers the rest
      pending[n] = 1;
      pendingCount++;
      continue;
    }
    const i = n % nx;
    const j = Math.floor(n / nx) % ny;
    const k = Math.floor(n / plane);
    let start = 0;
    // in slices mode each slice has its own features: the bound holds only within a slice
    if (previousDistance > 0 && (!slices || k === previousK)) {
      const x = (i - previousI) * sx;
      const y = (j - previousJ) * sy;
      const z = (k - previousK) * sz;
      const bound = previousDistance - Math.sqrt(x * x + y * y + z * z);
      if (bound > 0) start = firstAtLeast(squaredMm2, offsetCount, bound * bound * (1 - 1e-9));
    }
    previousI = i;
    previousJ = j;
    previousK = k;
    // offsets before `safe` stay inside the grid whatever their direction: no bounds checks there
    const borderI = i < nx - 1 - i ? i : nx - 1 - i;
    const borderJ = j < ny - 1 - j ? j : ny - 1 - j;
    const borderK = k < nz - 1 - k ? k : nz - 1 - k;
    let safe = borderI >= ri ? offsetCount : beyondI[borderI];
    if (borderJ < rj && beyondJ[borderJ] < safe) safe = beyondJ[borderJ];
    if (borderK < rk && beyondK[borderK] < safe) safe = beyondK[borderK];
    let found = -1;
    for (let o = start; o < safe; o++) {
      if (featureFlags[n + delta[o]] !== 0) {
        found = o;
        break;
      }
    }
    if (found < 0) {
      for (let o = start > safe ? start : safe; o < offsetCount; o++) {
        const ii = i + di[o];
        const jj = j + dj[o];
        const kk = k + dk[o];
        if (ii < 0 || ii >= nx || jj < 0 || jj >= ny || kk < 0 || kk >= nz) continue;
        if (featureFlags[n + delta[o]] !== 0) {
          found = o;
          break;
        }
      }
    }
    if (found >= 0) {
      const distance = Math.sqrt(squaredMm2[found]);
      previousDistance = distance;
      distancesMm[m] = distance;
      indices[m++] = n;
      continue;
    }
    // nothing within the search radius: the distance exceeds it
    previousDistance = searchRadiusMm;
    if (resolveAllBeyond) {
      distancesMm[m] = Infinity;
      indices[m++] = n;
    } else {
      if (pending === null) {
        pending = workspace.u8('edt.pending', total);
        pending.fill(0, 0, total);
      }
      pending[n] = 1;
      pendingCount++;
    }
  }
  if (pending === null) return result;

  const far = transformDistances(
    featureFlags,
    pending,
    dims,
    spacingMm,
    workspace,
    emptyFarResult(workspace),
    mode,
  );
  for (let f = 0; f < far.count; f++) {
    const distance = far.distancesMm[f];
    distancesMm[m] = distance > maxDistanceMm ? Infinity : distance;
    indices[m++] = far.indices[f];
  }
  return result;
}

/** The first index whose value is >= bound in an ascending array (count if none). */
function firstAtLeast(sorted: Float64Array, count: number, bound: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < bound) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const farResults = new WeakMap<Workspace, QueryDistances>();
function emptyFarResult(workspace: Workspace): QueryDistances {
  let far = farResults.get(workspace);
  if (!far) {
    far = emptyQueryDistances();
    farResults.set(workspace, far);
  }
  return far;
}

interface Offsets {
  key: string;
  count: number;
  /** linear index offset on the grid */
  delta: Int32Array;
  di: Int32Array;
  dj: Int32Array;
  dk: Int32Array;
  /** ((di·si)² + (dj·sj)²) + (dk·sk)², ascending */
  squaredMm2: Float64Array;
  /** largest |di|, |dj|, |dk| in the table */
  reach: [number, number, number];
  /** beyondI[b]: index of the first offset with |di| > b (count if none), for b < reach; same for j, k */
  beyondI: Int32Array;
  beyondJ: Int32Array;
  beyondK: Int32Array;
}

function firstBeyond(deltas: Int32Array, count: number, reach: number): Int32Array {
  const first = new Int32Array(reach + 1).fill(count);
  for (let o = count - 1; o >= 0; o--) {
    const extent = Math.abs(deltas[o]);
    for (let b = 0; b < extent && b <= reach; b++) first[b] = o;
  }
  return first;
}

const offsetCache = new WeakMap<Workspace, Offsets>();

/** Grid offsets within `radiusMm`, nearest first (ties in any order), for the grid's strides. */
function sortedOffsets(
  workspace: Workspace,
  dims: Vec3,
  spacingMm: Vec3,
  radiusMm: number,
  slices: boolean,
): Offsets {
  const [nx, ny] = dims;
  const [sx, sy, sz] = spacingMm;
  const key = `${nx},${ny},${dims[2]},${sx},${sy},${sz},${radiusMm},${slices}`;
  const cached = offsetCache.get(workspace);
  if (cached && cached.key === key) return cached;
  const ri = Math.min(Math.floor(radiusMm / sx), dims[0]);
  const rj = Math.min(Math.floor(radiusMm / sy), dims[1]);
  const rk = slices ? 0 : Math.min(Math.floor(radiusMm / sz), dims[2]);
  const limit = radiusMm * radiusMm;
  const candidates: Array<[number, number, number, number]> = [];
  for (let c = -rk; c <= rk; c++) {
    for (let b = -rj; b <= rj; b++) {
      for (let a = -ri; a <= ri; a++) {
        const x = a * sx;
        const y = b * sy;
        const z = c * sz;
        const squared = x * x + y * y + z * z;
        if (squared <= limit) candidates.push([squared, a, b, c]);
      }
    }
  }
  candidates.sort((p, q) => p[0] - q[0]);
  const count = candidates.length;
  const offsets: Offsets = {
    key,
    count,
    delta: new Int32Array(count),
    di: new Int32Array(count),
    dj: new Int32Array(count),
    dk: new Int32Array(count),
    squaredMm2: new Float64Array(count),
    reach: [ri, rj, rk],
    beyondI: new Int32Array(0),
    beyondJ: new Int32Array(0),
    beyondK: new Int32Array(0),
  };
  candidates.forEach(([squared, a, b, c], o) => {
    offsets.squaredMm2[o] = squared;
    offsets.di[o] = a;
    offsets.dj[o] = b;
    offsets.dk[o] = c;
    offsets.delta[o] = a + nx * (b + ny * c);
  });
  offsets.beyondI = firstBeyond(offsets.di, count, ri);
  offsets.beyondJ = firstBeyond(offsets.dj, count, rj);
  offsets.beyondK = firstBeyond(offsets.dk, count, rk);
  offsetCache.set(workspace, offsets);
  return offsets;
}

/**
 * The separable exact distance transform (Felzenszwalb and Huttenlocher 2012) behind queryDistances: a
 * two-sided scan along i, then lower envelopes of parabolas along j and along k. Each pass writes its
 * output transposed so that the next pass reads its lines contiguously; the pass along j computes only
 * the columns that hold a query and the last pass evaluates its envelopes only at the queries.
 */
function transformDistances(
  features: Uint8Array,
  queries: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  workspace: Workspace,
  result: QueryDistances,
  mode: DistanceMode,
): QueryDistances {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const total = plane * nz;
  const [sx, sy, sz] = spacingMm;
  if (!(sx > 0 && sy > 0 && sz > 0))
    throw new RangeError(`spacing must be positive, got ${spacingMm.join(', ')}`);

  // Queries grouped by the line of the last pass: column (i, j) over k, or line (i, k) over j in slices mode.
  const slices = mode === 'slices' || nz === 1;
  const lines = slices ? nx * nz : plane;
  const lineStart = workspace.i32('edt.lineStart', lines + 1);
  lineStart.fill(0, 0, lines + 1);
  let queryCount = 0;
  for (let n = 0; n < total; n++) {
    if (queries[n] === 0) continue;
    queryCount++;
    const i = n % nx;
    lineStart[(slices ? i + nx * Math.floor(n / plane) : n % plane) + 1]++;
  }
  if (result.distancesMm.length < queryCount)
    result.distancesMm = new Float64Array(Math.ceil(queryCount * 1.25));
  if (result.indices.length < queryCount) result.indices = new Int32Array(Math.ceil(queryCount * 1.25));
  result.count = queryCount;
  if (queryCount === 0) return result;
  for (let line = 0; line < lines; line++) lineStart[line + 1] += lineStart[line];
  // the query indices of each line, in increasing position along the line
  const lineQueries = workspace.i32('edt.lineQueries', queryCount);
  const fill = workspace.i32('edt.fill', lines);
  fill.set(lineStart.subarray(0, lines));
  for (let n = 0; n < total; n++) {
    if (queries[n] === 0) continue;
    const line = slices ? (n % nx) + nx * Math.floor(n / plane) : n % plane;
    lineQueries[fill[line]++] = n;
  }

  const maxLine = Math.max(nx, ny, nz);
  const boundaries = workspace.f64('edt.boundaries', maxLine + 1);
  const heights = workspace.f64('edt.heights', maxLine);
  const apexes = workspace.i32('edt.apexes', maxLine);
  const envelopeBuffers = { apexes, heights, boundaries };
  const rows = workspace.f64('edt.rows', tileWidth * maxLine);
  // pass 1 output: squared distance along i to the nearest feature of the row, layout [k][i][j]
  const alongJ = workspace.f64('edt.alongJ', total);
  const anyFeature = passAlongI(features, alongJ, nx, ny, nz, sx, rows);
  const { distancesMm, indices } = result;

  if (!anyFeature) {
    for (let m = 0; m < queryCount; m++) {
      distancesMm[m] = Infinity;
      indices[m] = lineQueries[m];
    }
    return result;
  }

  if (slices) {
    // line (i, k) along j is the last pass
    for (let k = 0; k < nz; k++) {
      for (let i = 0; i < nx; i++) {
        const lineIndex = i + nx * k;
        const first = lineStart[lineIndex];
        const last = lineStart[lineIndex + 1];
        if (first === last) continue;
        answerLine(alongJ, (k * nx + i) * ny, ny, sy, nx, lineQueries, first, last, envelopeBuffers, result);
      }
    }
    return result;
  }

  // pass 2 along j, only for columns (i, j) with queries, output layout [i][j][k] for pass 3
  const alongK = workspace.f64('edt.alongK', total);
  for (let i = 0; i < nx; i++) {
    for (let k0 = 0; k0 < nz; k0 += tileWidth) {
      const width = Math.min(tileWidth, nz - k0);
      for (let t = 0; t < width; t++) {
        const offset = ((k0 + t) * nx + i) * ny;
        const hull = envelope(alongJ, offset, ny, sy, apexes, heights, boundaries);
        const row = t * ny;
        if (hull === 0) {
          rows.fill(Infinity, row, row + ny);
          continue;
        }
        let h = 0;
        for (let j = 0; j < ny; j++) {
          while (boundaries[h + 1] < j) h++;
          if (lineStart[i + nx * j] === lineStart[i + nx * j + 1]) continue;
          const apex = apexes[h];
          const step = (j - apex) * sy;
          rows[row + j] = alongJ[offset + apex] + step * step;
        }
      }
      for (let j = 0; j < ny; j++) {
        const column = i + nx * j;
        if (lineStart[column] === lineStart[column + 1]) continue;
        const out = (i * ny + j) * nz + k0;
        for (let t = 0; t < width; t++) alongK[out + t] = rows[t * ny + j];
      }
    }
  }

  // pass 3 along k, evaluated at the queries only
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const column = i + nx * j;
      const first = lineStart[column];
      const last = lineStart[column + 1];
      if (first === last) continue;
      answerLine(alongK, (i * ny + j) * nz, nz, sz, plane, lineQueries, first, last, envelopeBuffers, result);
    }
  }
  return result;
}

/**
 * The last pass on one line: its lower envelope evaluated at the line's queries (lineQueries[first..last),
 * each at position floor(index / stride) mod n along the line), written to the same slots of `result`.
 */
function answerLine(
  values: Float64Array,
  offset: number,
  n: number,
  s: number,
  stride: number,
  lineQueries: Int32Array,
  first: number,
  last: number,
  { apexes, heights, boundaries }: { apexes: Int32Array; heights: Float64Array; boundaries: Float64Array },
  result: QueryDistances,
): void {
  const { distancesMm, indices } = result;
  const hull = envelope(values, offset, n, s, apexes, heights, boundaries);
  let h = 0;
  for (let m = first; m < last; m++) {
    const index = lineQueries[m];
    const position = Math.floor(index / stride) % n;
    indices[m] = index;
    if (hull === 0) {
      distancesMm[m] = Infinity;
      continue;
    }
    while (boundaries[h + 1] < position) h++;
    const apex = apexes[h];
    const step = (position - apex) * s;
    distancesMm[m] = Math.sqrt(values[offset + apex] + step * step);
  }
}

/**
 * Pass 1: squared distance (mm²) along i to the nearest feature in the same row (+Infinity for rows
 * without one), written in layout [k][i][j], eight rows at a time. Returns whether any feature exists.
 */
function passAlongI(
  features: Uint8Array,
  out: Float64Array,
  nx: number,
  ny: number,
  nz: number,
  sx: number,
  rows: Float64Array,
): boolean {
  let any = false;
  for (let k = 0; k < nz; k++) {
    for (let j0 = 0; j0 < ny; j0 += tileWidth) {
      const width = Math.min(tileWidth, ny - j0);
      for (let t = 0; t < width; t++) {
        const base = nx * (j0 + t + ny * k);
        const row = t * nx;
        let last = -1;
        for (let i = 0; i < nx; i++) {
          if (features[base + i] !== 0) last = i;
          rows[row + i] = last < 0 ? Infinity : i - last;
        }
        if (last < 0) continue;
        any = true;
        let next = -1;
        for (let i = nx - 1; i >= 0; i--) {
          if (features[base + i] !== 0) next = i;
          let steps = rows[row + i];
          if (next >= 0 && next - i < steps) steps = next - i;
          const offset = steps * sx;
          rows[row + i] = offset * offset;
        }
      }
      for (let i = 0; i < nx; i++) {
        const at = (k * nx + i) * ny + j0;
        for (let t = 0; t < width; t++) out[at + t] = rows[t * nx + i];
      }
    }
  }
  return any;
}

/**
 * Lower envelope of the parabolas y = f[p] + ((x - p)·s)² over the finite f[offset + p], p < n:
 * apexes[0..h) and the boundaries between them (boundaries[0] = -∞, boundaries[h] = +∞). Returns h,
 * 0 when every f is infinite.
 */
function envelope(
  f: Float64Array,
  offset: number,
  n: number,
  s: number,
  apexes: Int32Array,
  heights: Float64Array,
  boundaries: Float64Array,
): number {
  const w = s * s;
  const twoW = 2 * w;
  let q = 0;
  while (q < n && f[offset + q] === Infinity) q++;
  if (q === n) return 0;
  let h = 0;
  apexes[0] = q;
  heights[0] = f[offset + q] + w * q * q;
  boundaries[0] = -Infinity;
  for (q++; q < n; q++) {
    const fq = f[offset + q];
    if (fq === Infinity) continue;
    const hq = fq + w * q * q;
    let x = (hq - heights[h]) / (twoW * (q - apexes[h]));
    // boundaries[0] is -∞, so this stops at the first parabola at the latest
    while (x <= boundaries[h]) {
      h--;
      x = (hq - heights[h]) / (twoW * (q - apexes[h]));
    }
    h++;
    apexes[h] = q;
    heights[h] = hq;
    boundaries[h] = x;
  }
  boundaries[h + 1] = Infinity;
  return h + 1;
}
