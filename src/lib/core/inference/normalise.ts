import type { ModelNormalisation } from '../models/model-card';

/**
 * Intensity normalisation of a CT in Hounsfield units, in place on a Float32Array, as the model card says:
 * a HU window scaled to [0, 1], a fixed z-score (optionally after clipping), this case's percentiles
 * scaled to [0, 1], or nothing. Percentiles use the linear definition (numpy's default).
 */
export function normaliseIntensities(values: Float32Array, method: ModelNormalisation): Float32Array {
  switch (method.method) {
    case 'none':
      return values;
    case 'window':
      return clipScale(values, method.windowHu[0], method.windowHu[1]);
    case 'percentile': {
      const [lo, hi] = percentilePair(values, method.percentiles[0], method.percentiles[1]);
      if (hi <= lo) return values.fill(0);
      return clipScale(values, lo, hi);
    }
    case 'zscore': {
      const lo = method.clipHu?.[0] ?? -Infinity;
      const hi = method.clipHu?.[1] ?? Infinity;
      const { mean, std } = method;
      for (let i = 0; i < values.length; i += 1) {
        const v = values[i]!;
        values[i] = ((v < lo ? lo : v > hi ? hi : v) - mean) / std;
      }
      return values;
    }
  }
}

function clipScale(values: Float32Array, lo: number, hi: number): Float32Array {
  const scale = 1 / (hi - lo);
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    values[i] = v <= lo ? 0 : v >= hi ? 1 : (v - lo) * scale;
  }
  return values;
}

/** Two percentiles (0-100, linear interpolation) of the values, from one sorted copy. */
export function percentilePair(values: Float32Array, p: number, q: number): [number, number] {
  if (values.length === 0) return [0, 0];
  const sorted = values.slice().sort();
  const at = (percent: number) => {
    const position = (percent / 100) * (sorted.length - 1);
    const below = Math.floor(position);
    const above = Math.min(sorted.length - 1, below + 1);
    return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
  };
  return [at(p), at(q)];
}
