import { describe, expect, it } from 'vitest';
import { majorityVote } from './majority-vote';

const m = (...bits: number[]) => Uint8Array.from(bits);

describe('majorityVote', () => {
  it('keeps voxels more than half of the raters have', () => {
    expect([...majorityVote([m(1, 1, 0, 0), m(1, 0, 1, 0), m(1, 1, 1, 0)])]).toEqual([1, 1, 1, 0]);
  });

  it('drops ties: two raters give their intersection, four need three', () => {
    expect([...majorityVote([m(1, 1, 0), m(1, 0, 1)])]).toEqual([1, 0, 0]);
    expect([...majorityVote([m(1, 1, 1), m(1, 1, 0), m(1, 0, 0), m(0, 0, 1)])]).toEqual([1, 0, 0]);
  });

  it('treats any non-zero voxel as a vote and returns 0/1', () => {
    expect([...majorityVote([m(255, 2), m(7, 0), m(0, 0)])]).toEqual([1, 0]);
  });

  it('refuses no masks and masks on different grids', () => {
    expect(() => majorityVote([])).toThrow(RangeError);
    expect(() => majorityVote([m(1, 0), m(1)])).toThrow(/mask 1 has 1 voxels/);
  });
});
