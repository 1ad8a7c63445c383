import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import type { Vec3 } from '../volume/volume';
import { staple } from './staple';

const dims: Vec3 = [48, 48, 40];
const n = dims[0] * dims[1] * dims[2];

function truthMask(): Uint8Array {
  const mask = new Uint8Array(n);
  let v = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, v++)
        mask[v] = ((i - 24) / 16) ** 2 + ((j - 22) / 12) ** 2 + ((k - 20) / 14) ** 2 <= 1 ? 1 : 0;
  return mask;
}

describe('STAPLE', () => {
  it('recovers the sensitivity and specificity of synthetic raters and the truth', () => {
    const truth = truthMask();
    const random = mulberry32(21);
    const performance = [
      { sensitivity: 0.95, specificity: 0.99 },
      { sensitivity: 0.8, specificity: 0.995 },
      { sensitivity: 0.9, specificity: 0.97 },
      { sensitivity: 0.97, specificity: 0.98 },
      { sensitivity: 0.85, specificity: 0.99 },
    ];
    // each rater misses foreground and adds background voxels independently at its own rates
    const raters = performance.map(({ sensitivity, specificity }) =>
      Uint8Array.from(truth, (t) => (t ? (random() < sensitivity ? 1 : 0) : random() < specificity ? 0 : 1)),
    );
    const result = staple(raters, dims);
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeLessThan(200);
    result.raters.forEach((estimated, j) => {
      expect(Math.abs(estimated.sensitivity - performance[j]!.sensitivity), `rater ${j} p`).toBeLessThan(
        0.01,
      );
      expect(Math.abs(estimated.specificity - performance[j]!.specificity), `rater ${j} q`).toBeLessThan(
        0.003,
      );
    });
    let wrong = 0;
    for (let v = 0; v < n; v++) if (result.consensus[v] !== truth[v]) wrong += 1;
    // five fairly good raters: the consensus misses or adds well under 1 % of the truth's volume
    const volume = truth.reduce((a, b) => a + b, 0);
    expect(wrong / volume).toBeLessThan(0.01);
  });

  it('agreeing raters give their common mask; empty raters an empty consensus', () => {
    const truth = truthMask();
    const same = staple([truth, truth.slice(), truth.slice()], dims);
    expect(same.consensus).toEqual(truth);
    expect(same.raters.every((r) => r.sensitivity > 0.999 && r.specificity > 0.999)).toBe(true);
    const empty = staple([new Uint8Array(n), new Uint8Array(n)], dims);
    expect(empty).toMatchObject({ box: null, prior: 0, converged: true });
    expect(() => staple([truth], dims)).toThrow('at least 2 raters');
    expect(() => staple([truth, new Uint8Array(3)], dims)).toThrow('rater 1 mask has 3 voxels');
  });
});
