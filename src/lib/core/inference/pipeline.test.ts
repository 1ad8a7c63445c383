import { describe, expect, it } from 'vitest';
import { parseModelCard, type ModelCardInput } from '../models/model-card';
import { mulberry32 } from '../phantom/random';
import { axisAlignedAffine, type Vec3, type Volume } from '../volume/volume';
import { normaliseIntensities, percentilePair } from './normalise';
import { segmentVolume, type WindowRunner } from './pipeline';
import { resampleLinear, resampleNearest, targetGrid } from './resample';
import { gaussianImportance, windowGrid, windowStarts } from './sliding-window';

function ct(
  dims: Vec3,
  spacing: Vec3,
  value: (i: number, j: number, k: number) => number,
): Volume<Float32Array> {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let o = 0;
  for (let k = 0; k < dims[2]; k += 1)
    for (let j = 0; j < dims[1]; j += 1)
      for (let i = 0; i < dims[0]; i += 1, o += 1) data[o] = value(i, j, k);
  return { data, dims, spacingMm: spacing, affineIjkToLps: axisAlignedAffine(spacing) };
}

function card(input: Partial<ModelCardInput['input']>, output: Partial<ModelCardInput['output']> = {}) {
  return parseModelCard(
    {
      schemaVersion: 1,
      name: 'threshold',
      version: '1',
      licence: 'test',
      intendedStructures: ['Heart'],
      input: {
        kind: '3d',
        axisOrder: 'NCDHW',
        channels: 1,
        spacingMm: 'native',
        patchSize: [4, 8, 8],
        normalisation: { method: 'window', windowHu: [-1000, 1000] },
        ...input,
      },
      output: { activation: 'softmax', labels: [{ channel: 1, structure: 'Heart' }], ...output },
    },
    'test card',
  );
}

/** A model in plain JS: channel 1 logit = 20 (x - 0.5) of channel `source` of the input, channel 0 = 0. */
function thresholdRunner(axisOrder: string, source = 0, channels = 1): WindowRunner & { calls: number } {
  const runner = Object.assign(
    async (input: Float32Array, dims: readonly number[]) => {
      runner.calls += 1;
      const spatial = input.length / channels;
      const out = new Float32Array(spatial * 2);
      const last = axisOrder.endsWith('C');
      for (let v = 0; v < spatial; v += 1) {
        const x = last ? input[v * channels + source]! : input[source * spatial + v]!;
        if (last) out[v * 2 + 1] = 20 * (x - 0.5);
        else out[spatial + v] = 20 * (x - 0.5);
      }
      const outDims = [...dims];
      outDims[axisOrder.indexOf('C')] = 2;
      return { data: out, dims: outDims };
    },
    { calls: 0 },
  );
  return runner;
}

const sphere = (c: Vec3, r: number) => (i: number, j: number, k: number) =>
  (i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2 <= r * r ? 40 : -800;

describe('sliding windows', () => {
  it('places windows evenly from 0 to n - p with at most p (1 - overlap) between them', () => {
    expect(windowStarts(10, 16, 0.5)).toEqual([0]);
    expect(windowStarts(16, 16, 0.5)).toEqual([0]);
    expect(windowStarts(40, 16, 0.5)).toEqual([0, 8, 16, 24]);
    expect(windowStarts(41, 16, 0.5)).toEqual([0, 6, 13, 19, 25]);
    expect(windowStarts(100, 32, 0)).toEqual([0, 23, 45, 68]);
    expect(windowGrid([1, 20, 20], [1, 16, 16], 0.5)).toHaveLength(4);
    // overlapping neighbours need weighting; windows that share no voxel are alone
    expect(windowGrid([1, 20, 20], [1, 16, 16], 0.5).map((w) => w.alone)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(windowGrid([3, 16, 40], [1, 16, 16], 0.5).every((w) => !w.alone)).toBe(true);
    expect(windowGrid([3, 16, 16], [1, 16, 16], 0.5)).toEqual([
      { start: [0, 0, 0], alone: true },
      { start: [1, 0, 0], alone: true },
      { start: [2, 0, 0], alone: true },
    ]);
    expect(windowGrid([56, 208, 208], [56, 208, 208], 0.5)).toEqual([{ start: [0, 0, 0], alone: true }]);
    expect(windowGrid([1, 32, 48], [1, 16, 16], 0).map((w) => w.alone)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
  });

  it('weights the patch centre most, every voxel above 0', () => {
    const map = gaussianImportance([5, 9, 9], 0.125);
    expect(map[2 * 81 + 4 * 9 + 4]).toBe(1);
    expect(Math.min(...map)).toBeGreaterThan(0);
    expect(map[0]).toBeLessThan(0.01);
    expect([...gaussianImportance([2, 2, 2], 0)]).toEqual(new Array(8).fill(1));
  });
});

describe('resampling', () => {
  it('keeps the extent: 100 voxels of 1 mm at 2.5 mm are 40 voxels of 2.5 mm', () => {
    expect(targetGrid([100, 50, 10], [1, 1, 3], [2.5, 2, null])).toEqual({
      dims: [40, 25, 10],
      spacingMm: [2.5, 2, 3],
    });
    expect(targetGrid([101, 50, 10], [1, 1, 3], [2, 2, 2]).spacingMm[0]).toBeCloseTo(101 / 51, 12);
  });

  it('reproduces a linear ramp exactly inside and labels round-trip through nearest', () => {
    const ramp = ct([12, 6, 4], [1, 1, 1], (i, j, k) => 3 * i + 2 * j + k);
    const half = resampleLinear(ramp.data, ramp.dims, [6, 3, 2]);
    // model voxel 1 along x sits at source x = (1 + 0.5) * 2 - 0.5 = 2.5
    expect(half[1]).toBeCloseTo(3 * 2.5 + 2 * 0.5 + 0.5, 5);
    const labels = Uint8Array.from({ length: 24 }, (_, i) => i % 3);
    const up = resampleNearest(labels, [4, 3, 2], [8, 6, 4]);
    expect(resampleNearest(up, [8, 6, 4], [4, 3, 2])).toEqual(labels);
  });
});

describe('normalisation', () => {
  it('windows, z-scores and clips by this case percentiles', () => {
    expect([
      ...normaliseIntensities(Float32Array.from([-2000, -1000, 0, 1000, 3000]), {
        method: 'window',
        windowHu: [-1000, 1000],
      }),
    ]).toEqual([0, 0, 0.5, 1, 1]);
    expect([
      ...normaliseIntensities(Float32Array.from([-2000, 100, 300]), {
        method: 'zscore',
        clipHu: [-1000, 1000],
        mean: 100,
        std: 200,
      }),
    ]).toEqual([-5.5, 0, 1]);
    const values = Float32Array.from({ length: 101 }, (_, i) => i);
    expect(percentilePair(values, 10, 90)).toEqual([10, 90]);
    const scaled = normaliseIntensities(values.slice(), { method: 'percentile', percentiles: [10, 90] });
    expect([scaled[0], scaled[50], scaled[100]]).toEqual([0, 0.5, 1]);
  });
});

describe('segmentVolume', () => {
  it('gives exactly the thresholded CT through many overlapping 3D windows at native spacing', async () => {
    const volume = ct([21, 19, 11], [1, 1, 2], sphere([10, 9, 5], 6));
    const runner = thresholdRunner('NCDHW');
    const result = await segmentVolume(volume, card({}), runner);
    const expected = Uint8Array.from(volume.data, (v) => (v > 0 ? 1 : 0));
    expect(result.masks.get('Heart')).toEqual(expected);
    expect(result.windows).toBe(runner.calls);
    // D: 11 voxels in steps of at most 2 from 0 to 7 (5 windows); H: 19 -> 4; W: 21 -> 5
    expect(result.windows).toBe(5 * 4 * 5);
  });

  it('pads volumes smaller than a patch and handles channels-last 2D models slice by slice', async () => {
    const volume = ct([6, 5, 3], [1, 1, 3], sphere([3, 2, 1], 2));
    const runner = thresholdRunner('NHWC');
    const result = await segmentVolume(
      volume,
      card({ kind: '2d', axisOrder: 'NHWC', spacingMm: [1, 1, null], patchSize: [8, 8] }),
      runner,
    );
    expect(runner.calls).toBe(3);
    expect(result.masks.get('Heart')).toEqual(Uint8Array.from(volume.data, (v) => (v > 0 ? 1 : 0)));
  });

  it('stacks neighbouring slices as 2.5D channels in order, clamped at the ends', async () => {
    const volume = ct([8, 8, 5], [1, 1, 1], (_i, _j, k) => (k === 2 ? 500 : -500));
    const c = card({ kind: '2.5d', axisOrder: 'NCHW', channels: 3, patchSize: [8, 8] });
    // channel 2 is the next slice: the mask shows slice 1 (whose next slice is 2)
    const next = await segmentVolume(volume, c, thresholdRunner('NCHW', 2, 3));
    const onSlice = (mask: Uint8Array, k: number) => mask[k * 64 + 27];
    expect([0, 1, 2, 3, 4].map((k) => onSlice(next.masks.get('Heart')!, k))).toEqual([0, 1, 0, 0, 0]);
    const previous = await segmentVolume(volume, c, thresholdRunner('NCHW', 0, 3));
    expect([0, 1, 2, 3, 4].map((k) => onSlice(previous.masks.get('Heart')!, k))).toEqual([0, 0, 0, 1, 0]);
  });

  it('resamples to the model spacing and back onto the CT grid', async () => {
    // symmetric contrast, so the threshold sits at the partial-volume midpoint
    const volume = ct([40, 40, 20], [1, 1, 1], (i, j, k) =>
      sphere([20, 20, 10], 9)(i, j, k) > 0 ? 500 : -500,
    );
    const result = await segmentVolume(volume, card({ spacingMm: [2, 2, 2] }), thresholdRunner('NCDHW'));
    expect(result.modelGrid.dims).toEqual([20, 20, 10]);
    const mask = result.masks.get('Heart')!;
    expect(mask.length).toBe(volume.data.length);
    let agree = 0;
    let inside = 0;
    for (let v = 0; v < mask.length; v += 1) {
      if (volume.data[v]! > 0) inside += 1;
      if ((volume.data[v]! > 0 ? 1 : 0) === mask[v]) agree += 1;
    }
    expect(inside).toBeGreaterThan(2500);
    // 2 mm blocks on a 9 mm sphere: the grid itself costs about one voxel in seven of the sphere
    expect(mask.length - agree).toBeLessThan(0.2 * inside);
    // and it is exactly: threshold on the resampled CT, nearest back
    const model = resampleLinear(volume.data, volume.dims, [20, 20, 10]);
    const labels = Uint8Array.from(model, (v) => (v > 0 ? 1 : 0));
    expect(mask).toEqual(resampleNearest(labels, [20, 20, 10], volume.dims));
  });

  it('applies sigmoid thresholds and post-processing per structure', async () => {
    const volume = ct([20, 20, 6], [1, 1, 1], (i, j) =>
      (i < 8 && j < 8) || (i > 15 && j > 15) ? 900 : -900,
    );
    const c = parseModelCard(
      {
        ...card({}),
        intendedStructures: ['Heart'],
        output: { activation: 'sigmoid', threshold: 0.5, labels: [{ channel: 1, structure: 'Heart' }] },
        postprocessing: { default: { largestComponent: true } },
      },
      'card',
    );
    const result = await segmentVolume(volume, c, thresholdRunner('NCDHW'));
    const mask = result.masks.get('Heart')!;
    expect(mask.reduce((a, b) => a + b, 0)).toBe(8 * 8 * 6);
    expect(result.postprocessing.get('Heart')?.removedVoxels).toBe(4 * 4 * 6);
  });

  it('thresholds sigmoid outputs at the card threshold on the averaged logits', async () => {
    // HU 30 -> normalised 0.515 -> logit 0.3 (probability 0.57); HU 900 -> logit 9
    const volume = ct([16, 16, 4], [1, 1, 1], (i) => (i < 8 ? 30 : 900));
    const withThreshold = (threshold: number) =>
      parseModelCard(
        {
          ...card({}),
          output: { activation: 'sigmoid', threshold, labels: [{ channel: 1, structure: 'Heart' }] },
        },
        'card',
      );
    const count = (mask: Uint8Array) => mask.reduce((a, b) => a + b, 0);
    const low = await segmentVolume(volume, withThreshold(0.5), thresholdRunner('NCDHW'));
    const high = await segmentVolume(volume, withThreshold(0.6), thresholdRunner('NCDHW'));
    expect(count(low.masks.get('Heart')!)).toBe(16 * 16 * 4);
    expect(count(high.masks.get('Heart')!)).toBe(8 * 16 * 4);
  });

  it('fails on NaN and on a wrongly shaped output, naming the model and the window', async () => {
    const volume = ct([8, 8, 4], [1, 1, 1], () => 0);
    const nan: WindowRunner = async (input, dims) => ({
      data: new Float32Array(input.length * 2).fill(NaN),
      dims: [1, 2, ...dims.slice(2)],
    });
    await expect(segmentVolume(volume, card({}), nan)).rejects.toThrow(
      /^threshold@1: the model produced NaN \(channel 0, window 1 of 1/,
    );
    const wrong: WindowRunner = async (input) => ({
      data: new Float32Array(input.length * 2),
      dims: [1, 2, 4, 8, 4, 2],
    });
    await expect(segmentVolume(volume, card({}), wrong)).rejects.toThrow(
      /^threshold@1: output of shape \[1, 2, 4, 8, 4, 2\] for input \[1, 1, 4, 8, 8\]/,
    );
    const random = mulberry32(1);
    const oneChannel: WindowRunner = async (input, dims) => ({
      data: Float32Array.from(input, () => random()),
      dims,
    });
    await expect(segmentVolume(volume, card({}), oneChannel)).rejects.toThrow(
      'threshold@1: the output has 1 channels; the label map uses channel 1',
    );
  });
});
