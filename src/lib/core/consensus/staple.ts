import type { Vec3 } from '../volume/volume';
import { binaryMaskSummary, type IndexBox } from '../volume/crop';

/**
 * STAPLE (Warfield, Zou and Wells, IEEE TMI 2004), binary: the expectation-maximisation estimate of the
 * hidden true segmentation from several raters' masks, with each rater's sensitivity p and specificity q.
 *
 * - Region: the bounding box of the union of all masks (voxels outside it are background for every
 *   rater and would only inflate the specificities).
 * - Prior: the fraction of 1s over all raters' decisions in the region, fixed (as ITK's default).
 * - Start: p = q = 0.99 for every rater.
 * - E-step: W_i = f a_i / (f a_i + (1 - f) b_i) with a_i = prod_j p_j^D (1 - p_j)^(1 - D) and
 *   b_i = prod_j q_j^(1 - D) (1 - q_j)^D; M-step: p_j = sum W D / sum W, q_j = sum (1 - W)(1 - D) / sum (1 - W).
 * - Convergence: the largest change of any p or q below `tolerance` (default 1e-8), or `maxIterations`
 *   (default 200); the result says which.
 * - Consensus: W >= 0.5.
 *
 * Voxels with the same pattern of decisions share W, so the EM runs over the distinct patterns (at most
 * 2^K for K raters) with their counts: the cost is one pass over the region plus the iterations on a
 * small table.
 */
export interface StapleRater {
  sensitivity: number;
  specificity: number;
}

export interface StapleResult {
  consensus: Uint8Array;
  raters: StapleRater[];
  /** probability that a voxel is foreground, assumed for the region */
  prior: number;
  iterations: number;
  converged: boolean;
  /** the region (union bounding box), or null when every mask is empty */
  box: IndexBox | null;
}

export function staple(
  masks: readonly Uint8Array[],
  dims: Vec3,
  options: { tolerance?: number; maxIterations?: number } = {},
): StapleResult {
  const k = masks.length;
  if (k < 2) throw new RangeError(`STAPLE needs at least 2 raters, got ${k}`);
  if (k > 24) throw new RangeError(`STAPLE over more than 24 raters is not supported, got ${k}`);
  const voxels = dims[0] * dims[1] * dims[2];
  for (const [j, m] of masks.entries())
    if (m.length !== voxels)
      throw new RangeError(`rater ${j} mask has ${m.length} voxels, the grid ${voxels}`);
  const tolerance = options.tolerance ?? 1e-8;
  const maxIterations = options.maxIterations ?? 200;
  const consensus = new Uint8Array(voxels);

  // union bounding box
  let box: IndexBox | null = null;
  for (const m of masks) {
    const b = binaryMaskSummary(m, dims).box;
    if (b === null) continue;
    box =
      box === null
        ? { ...b }
        : {
            iMin: Math.min(box.iMin, b.iMin),
            iMax: Math.max(box.iMax, b.iMax),
            jMin: Math.min(box.jMin, b.jMin),
            jMax: Math.max(box.jMax, b.jMax),
            kMin: Math.min(box.kMin, b.kMin),
            kMax: Math.max(box.kMax, b.kMax),
          };
  }
  if (box === null)
    return {
      consensus,
      raters: masks.map(() => ({ sensitivity: 1, specificity: 1 })),
      prior: 0,
      iterations: 0,
      converged: true,
      box,
    };

  // count the decision patterns in the box
  const [nx, ny] = dims;
  const counts = new Map<number, number>();
  const patternOf = (v: number) => {
    let pattern = 0;
    for (let j = 0; j < k; j += 1) if (masks[j]![v]) pattern |= 1 << j;
    return pattern;
  };
  let decisions = 0;
  let regionVoxels = 0;
  for (let z = box.kMin; z <= box.kMax; z += 1)
    for (let y = box.jMin; y <= box.jMax; y += 1) {
      const row = nx * (y + ny * z);
      for (let x = box.iMin; x <= box.iMax; x += 1) {
        const pattern = patternOf(row + x);
        counts.set(pattern, (counts.get(pattern) ?? 0) + 1);
        regionVoxels += 1;
      }
    }
  const patterns = Int32Array.from(counts.keys());
  const weights = Float64Array.from(counts.values());
  for (let t = 0; t < patterns.length; t += 1) {
    let ones = 0;
    for (let j = 0; j < k; j += 1) if (patterns[t]! & (1 << j)) ones += 1;
    decisions += ones * weights[t]!;
  }
  const prior = decisions / (regionVoxels * k);

  const p = new Float64Array(k).fill(0.99);
  const q = new Float64Array(k).fill(0.99);
  const w = new Float64Array(patterns.length);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations) {
    iterations += 1;
    // E-step in log space (many raters make the products tiny)
    for (let t = 0; t < patterns.length; t += 1) {
      let logA = Math.log(prior);
      let logB = Math.log(1 - prior);
      for (let j = 0; j < k; j += 1) {
        const d = patterns[t]! & (1 << j);
        logA += Math.log(d ? p[j]! : 1 - p[j]!);
        logB += Math.log(d ? 1 - q[j]! : q[j]!);
      }
      const m = Math.max(logA, logB);
      const a = Math.exp(logA - m);
      const b = Math.exp(logB - m);
      w[t] = a / (a + b);
    }
    // M-step
    let change = 0;
    for (let j = 0; j < k; j += 1) {
      let fg = 0;
      let fgHit = 0;
      let bg = 0;
      let bgHit = 0;
      for (let t = 0; t < patterns.length; t += 1) {
        const n = weights[t]!;
        const d = patterns[t]! & (1 << j);
        fg += n * w[t]!;
        bg += n * (1 - w[t]!);
        if (d) fgHit += n * w[t]!;
        else bgHit += n * (1 - w[t]!);
      }
      const pj = fg > 0 ? fgHit / fg : 1;
      const qj = bg > 0 ? bgHit / bg : 1;
      change = Math.max(change, Math.abs(pj - p[j]!), Math.abs(qj - q[j]!));
      // keep the logarithms finite
      p[j] = Math.min(1 - 1e-12, Math.max(1e-12, pj));
      q[j] = Math.min(1 - 1e-12, Math.max(1e-12, qj));
    }
    if (change < tolerance) {
      converged = true;
      break;
    }
  }
  const foreground = new Set<number>();
  for (let t = 0; t < patterns.length; t += 1) if (w[t]! >= 0.5) foreground.add(patterns[t]!);
  for (let z = box.kMin; z <= box.kMax; z += 1)
    for (let y = box.jMin; y <= box.jMax; y += 1) {
      const row = nx * (y + ny * z);
      for (let x = box.iMin; x <= box.iMax; x += 1)
        if (foreground.has(patternOf(row + x))) consensus[row + x] = 1;
    }
  return {
    consensus,
    raters: Array.from(p, (sensitivity, j) => ({ sensitivity, specificity: q[j]! })),
    prior,
    iterations,
    converged,
    box,
  };
}
