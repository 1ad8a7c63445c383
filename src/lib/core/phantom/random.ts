/**
 * mulberry32: a small, fast, seeded 32-bit PRNG (Tommy Ettinger's public-domain generator). Returns a
 * function giving uniform numbers in [0, 1) with 2^-32 resolution; the same seed always gives the same
 * sequence. The seed is reduced to an unsigned 32-bit integer (fractions truncated, NaN -> 0). Not
 * cryptographic: for reproducible synthetic data only.
 */
export function mulberry32(seed: number): () => number {
  let state = (Number.isFinite(seed) ? Math.trunc(seed) : 0) >>> 0;
  return function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard normal sampler (mean 0, SD 1) driven by a uniform generator, by the Box-Muller transform:
 * z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2), with u1 in (0, 1]. The second value
 * of each pair is cached, so two calls consume two uniforms.
 */
export function gaussian(uniform: () => number): () => number {
  let spare = 0;
  let hasSpare = false;
  return function next(): number {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const phi = 2 * Math.PI * u2;
    spare = r * Math.sin(phi);
    hasSpare = true;
    return r * Math.cos(phi);
  };
}
