import { AppError } from '../errors';
import { modelReference, postprocessingFor, type ModelCard } from '../models/model-card';
import type { Vec3, Volume } from '../volume/volume';
import { normaliseIntensities } from './normalise';
import { applyPostprocessing } from './postprocess';
import { resampleLinear, resampleNearest, targetGrid, type ResampledGrid } from './resample';
import { gaussianImportance, windowGrid } from './sliding-window';

/** Runs the model on one window: input in the card's axis order, batch 1; returns the raw output. */
export type WindowRunner = (
  input: Float32Array,
  dims: readonly number[],
) => Promise<{ data: Float32Array; dims: readonly number[] }>;

export interface SegmentationTimings {
  resampleMs: number;
  normaliseMs: number;
  inferenceMs: number;
  /** time spent preparing windows and accumulating outputs (the pipeline's own work around session.run) */
  windowOverheadMs: number;
  labelsMs: number;
  totalMs: number;
}

export interface Segmentation {
  /** TG-263 name -> mask on the CT's grid (x fastest), after post-processing */
  masks: Map<string, Uint8Array>;
  /** the grid the model ran on */
  modelGrid: { dims: Vec3; spacingMm: Vec3 };
  windows: number;
  timings: SegmentationTimings;
  /** voxels changed by post-processing, per structure */
  postprocessing: Map<string, { removedVoxels: number; filledVoxels: number }>;
}

export interface SegmentOptions {
  /** called after each window with (done, total) */
  onWindow?: (done: number, total: number) => void;
}

function channelsLast(card: ModelCard): boolean {
  return card.input.axisOrder.endsWith('C');
}

/** The CT resampled to the model's grid and normalised, with the value windows are padded with. */
export interface ModelImage {
  grid: ResampledGrid;
  /** normalised intensities on the model grid, x fastest */
  image: Float32Array;
  /** the lowest normalised value (air): what a window reaching past the volume is filled with */
  padValue: number;
}

/** Resamples the CT to the card's spacing (trilinear) and normalises it as the card says. */
export function prepareModelImage(
  ct: Volume,
  card: ModelCard,
  timings?: Pick<SegmentationTimings, 'resampleMs' | 'normaliseMs'>,
): ModelImage {
  let t = performance.now();
  const grid = targetGrid(ct.dims, ct.spacingMm, card.input.spacingMm);
  const image = resampleLinear(ct.data, ct.dims, grid.dims);
  if (timings) timings.resampleMs += performance.now() - t;
  t = performance.now();
  normaliseIntensities(image, card.input.normalisation);
  let padValue = Infinity;
  for (let i = 0; i < image.length; i += 1) if (image[i]! < padValue) padValue = image[i]!;
  if (timings) timings.normaliseMs += performance.now() - t;
  return { grid, image, padValue };
}

/** The window size [D, H, W] the card asks for (D = 1 for 2D and 2.5D models). */
export function patchOf(card: ModelCard): [number, number, number] {
  const p = card.input.patchSize;
  return card.input.kind === '3d' ? [p[0]!, p[1]!, p[2]!] : [1, p[0]!, p[1]!];
}

/** The shape of one window's input tensor in the card's axis order, batch 1. */
export function windowInputDims(card: ModelCard): number[] {
  const patch = patchOf(card);
  const channels = card.input.channels;
  return [...card.input.axisOrder].map((axis) =>
    axis === 'N' ? 1 : axis === 'C' ? channels : axis === 'D' ? patch[0] : axis === 'H' ? patch[1] : patch[2],
  );
}

/**
 * Fills `input` with the window starting at [d0, h0, w0] of the model image, in the card's axis order:
 * voxels past the volume take the pad value; channel c of a 2.5D model is slice d + c - half, clamped
 * to the volume. Rows are copied whole where the layout allows (one channel, or channels first).
 */
export function fillWindowInput(
  model: ModelImage,
  card: ModelCard,
  start: readonly [number, number, number],
  input = new Float32Array(windowInputDims(card).reduce((a, b) => a * b, 1)),
): Float32Array {
  const { image, padValue } = model;
  const [nx, ny, nz] = model.grid.dims;
  const [d0, h0, w0] = start;
  const patch = patchOf(card);
  const channels = card.input.channels;
  const is3d = card.input.kind === '3d';
  const interleaved = channelsLast(card) && channels > 1;
  const patchVoxels = patch[0] * patch[1] * patch[2];
  const half = (channels - 1) / 2;
  const width = Math.max(0, Math.min(patch[2], nx - w0));
  for (let c = 0; c < channels; c += 1) {
    for (let d = 0; d < patch[0]; d += 1) {
      const z = d0 + d + (is3d ? 0 : c - half);
      const zc = Math.min(nz - 1, Math.max(0, z));
      const zInside = d0 + d < nz;
      for (let h = 0; h < patch[1]; h += 1) {
        const y = h0 + h;
        const inside = zInside && y < ny ? width : 0;
        const rowBase = nx * (y + ny * zc) + w0;
        const p = (d * patch[1] + h) * patch[2];
        if (interleaved) {
          for (let x = 0; x < patch[2]; x += 1)
            input[(p + x) * channels + c] = x < inside ? image[rowBase + x]! : padValue;
        } else {
          const o = c * patchVoxels + p;
          if (inside > 0) input.set(image.subarray(rowBase, rowBase + inside), o);
          if (inside < patch[2]) input.fill(padValue, o + inside, o + patch[2]);
        }
      }
    }
  }
  return input;
}

/**
 * Segments a CT (Hounsfield units) with a model as its card describes: resample to the model spacing,
 * normalise, sliding windows with overlap and Gaussian weighting (2D and 2.5D models run slice by slice,
 * 2.5D with neighbouring slices as channels), activation, label map, resampling back to the CT grid
 * (nearest neighbour on labels) and per-structure post-processing. The model itself is `run`; this
 * function is pure otherwise. Non-finite or wrongly shaped outputs fail with the window named.
 */
export async function segmentVolume(
  ct: Volume,
  card: ModelCard,
  run: WindowRunner,
  options: SegmentOptions = {},
): Promise<Segmentation> {
  const name = modelReference(card);
  const started = performance.now();
  const timings: SegmentationTimings = {
    resampleMs: 0,
    normaliseMs: 0,
    inferenceMs: 0,
    windowOverheadMs: 0,
    labelsMs: 0,
    totalMs: 0,
  };
  const prepared = prepareModelImage(ct, card, timings);
  const { grid } = prepared;

  const [nx, ny, nz] = grid.dims;
  const patch = patchOf(card);
  const size: [number, number, number] = [nz, ny, nx];
  const padded: [number, number, number] = [
    Math.max(size[0], patch[0]),
    Math.max(size[1], patch[1]),
    Math.max(size[2], patch[2]),
  ];
  const windows = windowGrid(padded, patch, card.input.overlap);
  const importance = gaussianImportance(patch, card.input.gaussianSigmaScale);
  const patchVoxels = patch[0] * patch[1] * patch[2];
  const inputDims = windowInputDims(card);
  const input = new Float32Array(patchVoxels * card.input.channels);
  const last = channelsLast(card);
  const voxels = nx * ny * nz;
  const weightSum = new Float32Array(voxels);
  let accumulated: Float32Array | undefined;
  let outChannels = 0;
  const activation = card.output.activation;

  for (let w = 0; w < windows.length; w += 1) {
    const [d0, h0, w0] = windows[w]!.start;
    let tw = performance.now();
    fillWindowInput(prepared, card, windows[w]!.start, input);
    timings.windowOverheadMs += performance.now() - tw;
    const ti = performance.now();
    const output = await run(input, inputDims);
    timings.inferenceMs += performance.now() - ti;
    tw = performance.now();

    const expectedRank = inputDims.length;
    const channelAxis = card.input.axisOrder.indexOf('C');
    const spatialOk =
      output.dims.length === expectedRank &&
      output.dims.every((n, axis) => axis === channelAxis || n === inputDims[axis]);
    const k = output.dims[channelAxis] ?? 0;
    if (!spatialOk || output.data.length !== k * patchVoxels)
      throw new AppError(
        'WORKER_FAILED',
        `${name}: output of shape [${output.dims.join(', ')}] for input [${inputDims.join(', ')}] (window ${w + 1} of ${windows.length}); expected [${inputDims.map((n, axis) => (axis === channelAxis ? 'C' : n)).join(', ')}]`,
      );
    if (accumulated === undefined) {
      outChannels = k;
      const highest = Math.max(...card.output.labels.map((l) => l.channel));
      if (k <= highest)
        throw new AppError(
          'WORKER_FAILED',
          `${name}: the output has ${k} channels; the label map uses channel ${highest}`,
        );
      accumulated = new Float32Array(k * voxels);
    } else if (k !== outChannels) {
      throw new AppError(
        'WORKER_FAILED',
        `${name}: window ${w + 1} has ${k} output channels, the first had ${outChannels}`,
      );
    }
    const data = output.data;
    // Raw outputs are averaged with the Gaussian weights and the activation applied once at the end,
    // as nnU-Net and MONAI's sliding-window inference do. A window no other window overlaps needs no
    // weighting (its weights cancel): its rows are copied with weight 1. The outputs used are summed on
    // the way: a non-finite sum means a NaN or infinity somewhere, which is then looked for and reported.
    let total = 0;
    const alone = windows[w]!.alone;
    const width = Math.min(patch[2], nx - w0);
    for (let d = 0; d < patch[0] && d0 + d < nz; d += 1) {
      for (let h = 0; h < patch[1] && h0 + h < ny; h += 1) {
        const p = (d * patch[1] + h) * patch[2];
        const base = nx * (h0 + h + ny * (d0 + d)) + w0;
        if (alone) weightSum.fill(1, base, base + width);
        else
          for (let x = 0; x < width; x += 1) weightSum[base + x] = weightSum[base + x]! + importance[p + x]!;
        for (let c = 0; c < k; c += 1) {
          const target = c * voxels + base;
          if (last) {
            for (let x = 0; x < width; x += 1) {
              const v = data[(p + x) * k + c]!;
              total += v;
              accumulated[target + x] = alone ? v : accumulated[target + x]! + v * importance[p + x]!;
            }
          } else if (alone) {
            const source = c * patchVoxels + p;
            accumulated.set(data.subarray(source, source + width), target);
            for (let x = 0; x < width; x += 1) total += data[source + x]!;
          } else {
            const source = c * patchVoxels + p;
            for (let x = 0; x < width; x += 1) {
              const v = data[source + x]!;
              total += v;
              accumulated[target + x] = accumulated[target + x]! + v * importance[p + x]!;
            }
          }
        }
      }
    }
    if (!Number.isFinite(total)) {
      const i = data.findIndex((v) => !Number.isFinite(v));
      const c = last ? i % k : Math.floor(i / patchVoxels);
      throw new AppError(
        'WORKER_FAILED',
        `${name}: the model produced ${data[i]} (channel ${c}, window ${w + 1} of ${windows.length} at d,h,w = ${d0},${h0},${w0})`,
      );
    }
    timings.windowOverheadMs += performance.now() - tw;
    options.onWindow?.(w + 1, windows.length);
  }

  const t = performance.now();
  const acc = accumulated as Float32Array;
  const masks = new Map<string, Uint8Array>();
  const postprocessing = new Map<string, { removedVoxels: number; filledVoxels: number }>();
  const modelMasks = new Map<string, Uint8Array>();
  if (activation === 'sigmoid') {
    // sigmoid(mean logit) >= t  <=>  mean logit >= log(t / (1 - t))
    const logitThreshold = Math.log(card.output.threshold / (1 - card.output.threshold));
    for (const { channel, structure } of card.output.labels) {
      const mask = new Uint8Array(voxels);
      const offset = channel * voxels;
      for (let v = 0; v < voxels; v += 1)
        mask[v] = acc[offset + v]! >= logitThreshold * weightSum[v]! ? 1 : 0;
      modelMasks.set(structure, mask);
    }
  } else {
    const labels = new Uint8Array(voxels);
    for (let v = 0; v < voxels; v += 1) {
      let best = 0;
      let bestValue = acc[v]!;
      for (let c = 1; c < outChannels; c += 1) {
        const value = acc[c * voxels + v]!;
        if (value > bestValue) {
          best = c;
          bestValue = value;
        }
      }
      labels[v] = best;
    }
    const back = resampleNearest(labels, grid.dims, ct.dims);
    for (const { channel, structure } of card.output.labels) {
      const mask = new Uint8Array(back.length);
      for (let v = 0; v < back.length; v += 1) mask[v] = back[v] === channel ? 1 : 0;
      masks.set(structure, mask);
    }
  }
  for (const [structure, mask] of modelMasks) masks.set(structure, resampleNearest(mask, grid.dims, ct.dims));
  for (const [structure, mask] of masks) {
    const result = applyPostprocessing(mask, ct.dims, postprocessingFor(card, structure));
    postprocessing.set(structure, { removedVoxels: result.removedVoxels, filledVoxels: result.filledVoxels });
  }
  timings.labelsMs = performance.now() - t;
  timings.totalMs = performance.now() - started;
  return { masks, modelGrid: grid, windows: windows.length, timings, postprocessing };
}
