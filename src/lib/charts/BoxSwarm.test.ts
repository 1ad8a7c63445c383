import { describe, expect, it } from 'vitest';
import { swarmOffsets } from './BoxSwarm';

describe('swarmOffsets', () => {
  it('lays a row out from the centre outwards, one diameter apart', () => {
    expect(Array.from(swarmOffsets([10, 10.5, 11, 11.2, 11.9], 1, 100))).toEqual([0, 2, -2, 4, -4]);
  });

  it('keeps points in different rows on the centre line', () => {
    expect(Array.from(swarmOffsets([1, 5, 9], 1, 100))).toEqual([0, 0, 0]);
  });

  it('narrows the step of a row that would not fit the half-width', () => {
    const offsets = swarmOffsets(new Float64Array(9).fill(3), 1, 2);
    expect(Math.max(...offsets)).toBe(2);
    expect(Math.min(...offsets)).toBe(-2);
    expect(Array.from(offsets.slice(0, 3))).toEqual([0, 0.5, -0.5]);
  });

  it('orders a row by position, ties by input order, whatever the input order', () => {
    expect(Array.from(swarmOffsets([3.5, 3, 3.5], 2, 50))).toEqual([4, 0, -4]);
  });

  it('leaves non-finite positions at the centre and accepts no points', () => {
    expect(Array.from(swarmOffsets([Infinity, NaN, 2, 2], 1, 10))).toEqual([0, 0, 0, 2]);
    expect(swarmOffsets([], 1, 10)).toHaveLength(0);
  });

  it('refuses a radius or half-width that is not a size', () => {
    expect(() => swarmOffsets([1], 0, 10)).toThrow(RangeError);
    expect(() => swarmOffsets([1], 1, -1)).toThrow(RangeError);
    expect(() => swarmOffsets([1], 1, Infinity)).toThrow(RangeError);
  });
});
