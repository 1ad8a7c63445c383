import type { Vec3 } from '../volume/volume';
import type { Workspace } from './workspace';

/** Distances (mm) from query points to their nearest feature point, with the query's linear index. */
export interface QueryDistances {
  /** Number of queries answered; `distances[0..count)` and `indices[0..count)` are valid. */
  count: number;
  distancesMm: Float64Array;
  indices: Int32Array;
}

/**
 * Exact Euclidean distance from every query point to the nearest feature point on a regular grid of
 * `dims` (i fastest, `index = i + nx * (j + ny * k)`) with anisotropic `spacingMm`.
 *
 * Separable algorithm (Felzenszwalb and Huttenlocher 2012): a two-sided scan along i, then lower
 * envelopes of parabolas along j and along k. The last pass runs only on (i, j) columns that hold a
 * query and evaluates the envelope only at the queries. Each distance is evaluated as
 * sqrt(((Δi·si)² + (Δj·sj)²) + (Δk·sk)²) for the chosen nearest feature, the expression and order of
 * scipy.ndimage.distance_transform_edt, so results agree with it to the last bit wherever the nearest
 * feature distance is not tied within rounding.
 *
 * Empty input: no features gives +Infinity for every query; no queries gives count 0.
 * Queries are reported in column order (i, j) then k, not in index order.
 */
export function queryDistances(
  features: Uint8Array,
  queries: Uint8Array,
  dims: Vec3,
  spacingMm: Vec3,
  workspace: Workspace,
  result: QueryDistances,
): QueryDistances {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const total = plane * nz;
  const [sx, sy, sz] = spacingMm;
  if (!(sx > 0 && sy > 0 && sz > 0))
    throw new RangeError(`spacing must be positive, got ${spacingMm.join(', ')}`);

  let queryCount = 0;
  for (let n = 0; n < total; n++) queryCount += queries[n];
  if (result.distancesMm.length < queryCount)
    result.distancesMm = new Float64Array(Math.ceil(queryCount * 1.25));
  if (result.indices.length < queryCount) result.indices = new Int32Array(Math.ceil(queryCount * 1.25));
  result.count = queryCount;
  if (queryCount === 0) return result;

  const squared = workspace.f64('edt.squared', total);
  const maxLine = Math.max(nx, ny, nz);
  const line = workspace.f64('edt.line', maxLine);
  const boundaries = workspace.f64('edt.z', maxLine + 1);
  const apexes = workspace.i32('edt.v', maxLine);

  if (!alongI(features, squared, nx, ny * nz, sx)) {
    // no feature anywhere: every query is infinitely far
    const { distancesMm, indices } = result;
    let m = 0;
    for (let n = 0; n < total; n++) {
      if (queries[n] !== 0) {
        distancesMm[m] = Infinity;
        indices[m++] = n;
      }
    }
    return result;
  }

  // Pass along j, in place, slice by slice (a slice stays in cache while its columns are processed).
  for (let k = 0; k < nz; k++) {
    const sliceBase = k * plane;
    for (let i = 0; i < nx; i++) {
      const base = sliceBase + i;
      let finite = false;
      for (let j = 0; j < ny; j++) {
        const value = squared[base + j * nx];
        line[j] = value;
        if (value !== Infinity) finite = true;
      }
      if (!finite) continue;
      lowerEnvelope(line, ny, sy, apexes, boundaries);
      let h = 0;
      for (let j = 0; j < ny; j++) {
        while (boundaries[h + 1] < j) h++;
        const apex = apexes[h];
        const offset = (j - apex) * sy;
        squared[base + j * nx] = line[apex] + offset * offset;
      }
    }
  }

  // Pass along k, only on columns with queries, evaluated only at the queries.
  const { distancesMm, indices } = result;
  let m = 0;
  for (let column = 0; column < plane; column++) {
    let hasQuery = false;
    for (let k = 0, n = column; k < nz; k++, n += plane) {
      if (queries[n] !== 0) {
        hasQuery = true;
        break;
      }
    }
    if (!hasQuery) continue;
    let finite = false;
    for (let k = 0, n = column; k < nz; k++, n += plane) {
      const value = squared[n];
      line[k] = value;
      if (value !== Infinity) finite = true;
    }
    if (!finite) {
      for (let k = 0, n = column; k < nz; k++, n += plane) {
        if (queries[n] !== 0) {
          distancesMm[m] = Infinity;
          indices[m++] = n;
        }
      }
      continue;
    }
    lowerEnvelope(line, nz, sz, apexes, boundaries);
    let h = 0;
    for (let k = 0, n = column; k < nz; k++, n += plane) {
      if (queries[n] === 0) continue;
      while (boundaries[h + 1] < k) h++;
      const apex = apexes[h];
      const offset = (k - apex) * sz;
      distancesMm[m] = Math.sqrt(line[apex] + offset * offset);
      indices[m++] = n;
    }
  }
  return result;
}

/**
 * First pass: squared distance (mm²) along i to the nearest feature in the same row, +Infinity for rows
 * without one. Returns whether any feature exists.
 */
function alongI(features: Uint8Array, squared: Float64Array, nx: number, rows: number, sx: number): boolean {
  let any = false;
  for (let row = 0; row < rows; row++) {
    const base = row * nx;
    let last = -1;
    for (let i = 0; i < nx; i++) {
      if (features[base + i] !== 0) last = i;
      squared[base + i] = last < 0 ? Infinity : i - last;
    }
    if (last < 0) continue;
    any = true;
    let next = -1;
    for (let i = nx - 1; i >= 0; i--) {
      if (features[base + i] !== 0) next = i;
      let steps = squared[base + i];
      if (next >= 0 && next - i < steps) steps = next - i;
      const offset = steps * sx;
      squared[base + i] = offset * offset;
    }
  }
  return any;
}

/**
 * Lower envelope of the parabolas y = f[p] + ((x - p)·s)² over the finite f[p] of a line of length n:
 * apexes[0..h] and the boundaries between them (boundaries[0] = -Infinity, boundaries[h+1] = +Infinity).
 * Returns h + 1, the number of parabolas on the envelope. Requires at least one finite f.
 */
function lowerEnvelope(
  f: Float64Array,
  n: number,
  s: number,
  apexes: Int32Array,
  boundaries: Float64Array,
): number {
  const w = s * s;
  let h = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    const hq = fq + w * q * q;
    if (h < 0) {
      h = 0;
      apexes[0] = q;
      boundaries[0] = -Infinity;
      boundaries[1] = Infinity;
      continue;
    }
    let p = apexes[h];
    let x = (hq - (f[p] + w * p * p)) / (2 * w * (q - p));
    // boundaries[0] is -Infinity, so this stops at the first parabola at the latest
    while (x <= boundaries[h]) {
      h--;
      p = apexes[h];
      x = (hq - (f[p] + w * p * p)) / (2 * w * (q - p));
    }
    h++;
    apexes[h] = q;
    boundaries[h] = x;
    boundaries[h + 1] = Infinity;
  }
  return h + 1;
}
