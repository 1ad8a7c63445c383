import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../phantom/random';
import { decodeBinaryRuns, encodeBinaryRuns, isBinaryRuns } from './binary-runs';

describe('binary run-length code', () => {
  it('round-trips masks of every shape, including empty, full and long runs', () => {
    const random = mulberry32(4);
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array(1),
      Uint8Array.of(1),
      new Uint8Array(1000).fill(1),
      new Uint8Array(300_000), // a run longer than two varint bytes
      Uint8Array.from({ length: 10_001 }, () => (random() < 0.5 ? 1 : 0)),
      Uint8Array.from({ length: 5003 }, (_, i) => (i % 997 < 300 ? 1 : 0)),
    ];
    // an unaligned view: validity is checked byte by byte
    const backing = Uint8Array.from({ length: 1001 }, (_, i) => (i > 500 ? 1 : 0));
    cases.push(backing.subarray(1));
    for (const mask of cases) {
      const code = encodeBinaryRuns(mask)!;
      expect(isBinaryRuns(code)).toBe(true);
      expect(decodeBinaryRuns(code)).toEqual(mask);
    }
    // a sparse organ mask of 35 million voxels is a few bytes per run
    const big = new Uint8Array(35_000_000);
    big.fill(1, 1_000_000, 9_000_000);
    expect(encodeBinaryRuns(big)!.length).toBeLessThan(32);
  });

  it('refuses anything but 0 and 1, and malformed codes', () => {
    expect(encodeBinaryRuns(Uint8Array.of(0, 1, 2))).toBeNull();
    expect(encodeBinaryRuns(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 255))).toBeNull();
    expect(() => decodeBinaryRuns(Uint8Array.of(1, 2, 3))).toThrow(RangeError);
    const code = encodeBinaryRuns(Uint8Array.of(0, 1, 1, 0))!;
    expect(() => decodeBinaryRuns(code.subarray(0, code.length - 1))).toThrow('covers 3 of 4 bytes');
    const overrun = code.slice();
    overrun[overrun.length - 1] = 9;
    expect(() => decodeBinaryRuns(overrun)).toThrow('runs past its length');
    expect(() => decodeBinaryRuns(Uint8Array.of(...code.subarray(0, 12), 0x80))).toThrow('ends inside');
  });
});
