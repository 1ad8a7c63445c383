import type { ModelCardInput } from '../../src/lib/core/models/model-card';
import { GraphBuilder } from './graph-builder';

/**
 * The demo models' graphs.
 *
 * The context network is a small fully convolutional classifier at 3 x 3 x 5 mm: a fixed feature trunk
 * and a per-voxel two-layer head whose weights scripts/build-demo-models.ts fits to demo cases.
 *
 * Trunk, on the normalised CT x (HU window [-1000, 1000] scaled to [0, 1], so air and padding are 0):
 * - five tissue channels A: x itself and four soft thresholds sigmoid(40 (x - t)) at -500, -200, 0 and
 *   200 HU (air and lung / fat / soft tissue / bone);
 * - local features: A and A averaged over 3 x 3 in-plane (10 channels, full resolution);
 * - level 1: A averaged over 2 x 4 x 4 voxels (10 x 12 x 12 mm), sampled at 17 offsets (itself, +-1, +-2,
 *   +-4 cells along x and y, +-1, +-2 along z; zero outside the volume, which is air): 85 channels;
 * - level 2: level 1 averaged again over 2 x 2 x 2 (20 x 24 x 24 mm), sampled at 13 offsets (itself,
 *   +-2, +-4 cells along x and y, +-1, +-2 along z): 65 channels.
 * The offsets along x (the patient's left-right axis) let the head tell left from right and the
 * mediastinum from the lungs; no absolute position enters, so the network is translation equivariant.
 *
 * Head: h = ReLU(W0 local + b0 + up(W1 level1) + up(W2 level2)), logits = W3 h + b3, where up is a
 * trilinear Resize (half-pixel) to full resolution. Resize is linear, so applying W1 and W2 at the coarse
 * levels before upsampling equals applying them to upsampled features, which is how the head is fitted.
 */

export const CONTEXT_SPACING_MM: [number, number, number] = [3, 3, 5];
/** [D, H, W]: one window covers the demo CTs (265 mm long, up to 600 mm across) */
export const CONTEXT_PATCH: [number, number, number] = [56, 208, 208];
export const CONTEXT_WINDOW_HU: [number, number] = [-1000, 1000];
const THRESHOLDS_HU = [-500, -200, 0, 200];
const SOFT_SLOPE = 40;
export const TISSUE_CHANNELS = 1 + THRESHOLDS_HU.length;
export const LOCAL_CHANNELS = 2 * TISSUE_CHANNELS;

/** Cell offsets [dz, dy, dx] sampled at each level. */
function offsets(inPlane: readonly number[], axial: readonly number[]): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [[0, 0, 0]];
  for (const r of inPlane) out.push([0, 0, -r], [0, 0, r]);
  for (const r of inPlane) out.push([0, -r, 0], [0, r, 0]);
  for (const r of axial) out.push([-r, 0, 0], [r, 0, 0]);
  return out;
}
export const LEVEL1_OFFSETS = offsets([1, 2, 4], [1, 2]);
export const LEVEL2_OFFSETS = offsets([2, 4], [1, 2]);
/** Pooling of each level relative to the one before, [z, y, x]. */
export const LEVEL1_POOL: [number, number, number] = [2, 4, 4];
export const LEVEL2_POOL: [number, number, number] = [2, 2, 2];
export const LEVEL1_CHANNELS = TISSUE_CHANNELS * LEVEL1_OFFSETS.length;
export const LEVEL2_CHANNELS = TISSUE_CHANNELS * LEVEL2_OFFSETS.length;
export const CONTEXT_FEATURES = LOCAL_CHANNELS + LEVEL1_CHANNELS + LEVEL2_CHANNELS;

const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * Every channel of `x` shifted so that output voxel v holds x at v + offset (0 outside), for each offset;
 * channels offset-major: channel o * C + c is input channel c at offset o.
 */
function shifted(g: GraphBuilder, x: string, cellOffsets: ReadonlyArray<[number, number, number]>): string {
  const reach = [0, 1, 2].map((a) => Math.max(...cellOffsets.map((o) => Math.abs(o[a]!))));
  const padded = g.op1('Pad', [x, g.int64([0, 0, ...reach, 0, 0, ...reach])], { mode: 'constant' });
  const slices = cellOffsets.map((offset) => {
    const starts = offset.map((o, a) => reach[a]! + o);
    // ends counted from the end of each padded axis: reach - offset voxels are left over there
    const ends = offset.map((o, a) => (reach[a]! - o === 0 ? INT64_MAX : o - reach[a]!));
    return g.op1('Slice', [padded, g.int64(starts), g.int64(ends), g.int64([2, 3, 4])]);
  });
  return g.op1('Concat', slices, { axis: 1 });
}

interface Trunk {
  local: string;
  level1: string;
  level2: string;
}

function contextTrunk(g: GraphBuilder, x: string): Trunk {
  const [lo, hi] = CONTEXT_WINDOW_HU;
  const thresholds = THRESHOLDS_HU.map((hu) => (hu - lo) / (hi - lo));
  const slopeW = g.constant(
    thresholds.map(() => SOFT_SLOPE),
    [thresholds.length, 1, 1, 1, 1],
    'slope',
  );
  const slopeB = g.constant(
    thresholds.map((t) => -SOFT_SLOPE * t),
    [thresholds.length],
    'offset',
  );
  const soft = g.op1('Sigmoid', [g.op1('Conv', [x, slopeW, slopeB], { kernel_shape: [1, 1, 1] })]);
  const tissue = g.op1('Concat', [x, soft], { axis: 1 });
  const smooth = g.op1('AveragePool', [tissue], {
    kernel_shape: [1, 3, 3],
    pads: [0, 1, 1, 0, 1, 1],
    count_include_pad: 0,
  });
  const local = g.op1('Concat', [tissue, smooth], { axis: 1 });
  const pool1 = g.op1('AveragePool', [tissue], { kernel_shape: LEVEL1_POOL, strides: LEVEL1_POOL });
  const pool2 = g.op1('AveragePool', [pool1], { kernel_shape: LEVEL2_POOL, strides: LEVEL2_POOL });
  return { local, level1: shifted(g, pool1, LEVEL1_OFFSETS), level2: shifted(g, pool2, LEVEL2_OFFSETS) };
}

/** The trunk alone, for fitting: outputs local [1, 10, D, H, W], level1 and level2 at their resolutions. */
export function contextFeatureGraph(): Uint8Array {
  const g = new GraphBuilder('context_features');
  const x = g.input('image', [1, 1, 'depth', 'height', 'width']);
  const trunk = contextTrunk(g, x);
  g.identity(trunk.local, 'local');
  g.identity(trunk.level1, 'level1');
  g.identity(trunk.level2, 'level2');
  g.output('local', [1, LOCAL_CHANNELS, 'depth', 'height', 'width']);
  g.output('level1', [1, LEVEL1_CHANNELS, 'd1', 'h1', 'w1']);
  g.output('level2', [1, LEVEL2_CHANNELS, 'd2', 'h2', 'w2']);
  return g.encode('ContourBench context features');
}

/** Trilinear value at full-resolution voxel (z, y, x) of a coarse feature map, as Resize half_pixel. */
export function upsampledAt(
  map: { data: Float32Array; dims: readonly number[] },
  channel: number,
  full: readonly number[],
  z: number,
  y: number,
  x: number,
): number {
  const [, , d, h, w] = map.dims as [number, number, number, number, number];
  const position = (o: number, n: number, fullN: number): [number, number, number] => {
    const p = Math.min(n - 1, Math.max(0, ((o + 0.5) * n) / fullN - 0.5));
    const a = Math.floor(p);
    return [a, Math.min(n - 1, a + 1), p - a];
  };
  const [z0, z1, fz] = position(z, d, full[0]!);
  const [y0, y1, fy] = position(y, h, full[1]!);
  const [x0, x1, fx] = position(x, w, full[2]!);
  const base = channel * d * h * w;
  const at = (a: number, b: number, c: number) => map.data[base + (a * h + b) * w + c]!;
  const lerp = (a: number, b: number, f: number) => a * (1 - f) + b * f;
  return lerp(
    lerp(lerp(at(z0, y0, x0), at(z0, y0, x1), fx), lerp(at(z0, y1, x0), at(z0, y1, x1), fx), fy),
    lerp(lerp(at(z1, y0, x0), at(z1, y0, x1), fx), lerp(at(z1, y1, x0), at(z1, y1, x1), fx), fy),
    fz,
  );
}

/** A fitted head: w1 is hidden x CONTEXT_FEATURES (local, level1, level2 columns in that order). */
export interface ContextHead {
  hidden: number;
  outputs: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

function columns(head: ContextHead, from: number, count: number): Float32Array {
  const out = new Float32Array(head.hidden * count);
  for (let h = 0; h < head.hidden; h += 1)
    out.set(head.w1.subarray(h * CONTEXT_FEATURES + from, h * CONTEXT_FEATURES + from + count), h * count);
  return out;
}

/** The whole context network with a fitted head: NCDHW in, sigmoid logits [1, outputs, D, H, W] out. */
export function contextNetworkGraph(head: ContextHead, description: string): Uint8Array {
  const g = new GraphBuilder('context_net');
  const x = g.input('image', ['batch', 1, 'depth', 'height', 'width']);
  const trunk = contextTrunk(g, x);
  const conv1 = (input: string, from: number, count: number, bias: boolean): string =>
    g.op1(
      'Conv',
      [
        input,
        g.constant(columns(head, from, count), [head.hidden, count, 1, 1, 1], 'head'),
        ...(bias ? [g.constant(head.b1, [head.hidden], 'head_bias')] : []),
      ],
      { kernel_shape: [1, 1, 1] },
    );
  const up = (input: string, pool: readonly number[]): string =>
    g.op1('Resize', [input, '', g.constant([1, 1, ...pool], [5], 'scales')], {
      mode: 'linear',
      coordinate_transformation_mode: 'half_pixel',
    });
  const fromLocal = conv1(trunk.local, 0, LOCAL_CHANNELS, true);
  const fromLevel1 = up(conv1(trunk.level1, LOCAL_CHANNELS, LEVEL1_CHANNELS, false), LEVEL1_POOL);
  const level2Scale = LEVEL1_POOL.map((p, a) => p * LEVEL2_POOL[a]!);
  const fromLevel2 = up(
    conv1(trunk.level2, LOCAL_CHANNELS + LEVEL1_CHANNELS, LEVEL2_CHANNELS, false),
    level2Scale,
  );
  const hidden = g.op1('Relu', [g.op1('Add', [g.op1('Add', [fromLocal, fromLevel1]), fromLevel2])]);
  const w2 = g.constant(head.w2, [head.outputs, head.hidden, 1, 1, 1], 'out');
  const b2 = g.constant(head.b2, [head.outputs], 'out_bias');
  g.identity(g.op1('Conv', [hidden, w2, b2], { kernel_shape: [1, 1, 1] }), 'logits');
  g.output('logits', ['batch', head.outputs, 'depth', 'height', 'width']);
  return g.encode(description);
}

/**
 * A classical pipeline as a 2D ONNX graph on native CT slices (HU window [-1000, 1000] scaled to
 * [0, 1]): tissue is HU > -400; the body is every voxel with tissue on both sides along the row and
 * along the column (prefix sums from each end); lungs are non-tissue voxels inside the body after a 3 x 3
 * opening (min-pool then max-pool), split into left and right at the body's centre of mass along x in
 * each slice. Outputs sigmoid logits (+-10) for External, Lung_L and Lung_R; the card adds hole filling
 * and the largest component.
 */
export function thresholdGraph(): Uint8Array {
  const g = new GraphBuilder('threshold_morphology');
  const x = g.input('slice', ['batch', 1, 'height', 'width']);
  const cutoff = (-400 - CONTEXT_WINDOW_HU[0]) / (CONTEXT_WINDOW_HU[1] - CONTEXT_WINDOW_HU[0]);
  const tissue = g.op1('Cast', [g.op1('Greater', [x, g.constant([cutoff], [1])])], { to: 1 });
  const reaches = (axis: number, reverse: number): string =>
    g.op1(
      'Cast',
      [
        g.op1('Greater', [
          g.op1('CumSum', [tissue, g.int64scalar(axis)], { reverse }),
          g.constant([0.5], [1]),
        ]),
      ],
      { to: 1 },
    );
  const body = g.op1('Mul', [
    g.op1('Mul', [reaches(3, 0), reaches(3, 1)]),
    g.op1('Mul', [reaches(2, 0), reaches(2, 1)]),
  ]);
  const one = g.constant([1], [1]);
  const air = g.op1('Mul', [g.op1('Sub', [one, tissue]), body]);
  const pool = { kernel_shape: [3, 3], pads: [1, 1, 1, 1] };
  const eroded = g.op1('Neg', [g.op1('MaxPool', [g.op1('Neg', [air])], pool)]);
  const lungs = g.op1('Mul', [g.op1('MaxPool', [eroded], pool), body]);
  // x index of every column, and the body's centre of mass along x per slice
  const shape = g.op1('Shape', [x]);
  const width = g.op1('Gather', [shape, g.int64scalar(3)], { axis: 0 });
  const column = g.op1('Cast', [g.op1('Range', [g.int64scalar(0), width, g.int64scalar(1)])], { to: 1 });
  const mass = g.op1('ReduceSum', [body, g.int64([2, 3])], { keepdims: 1 });
  const moment = g.op1('ReduceSum', [g.op1('Mul', [body, column]), g.int64([2, 3])], { keepdims: 1 });
  const centre = g.op1('Div', [moment, g.op1('Max', [mass, one])]);
  const leftSide = g.op1('Cast', [g.op1('Greater', [column, centre])], { to: 1 });
  const lungL = g.op1('Mul', [lungs, leftSide]);
  const lungR = g.op1('Mul', [lungs, g.op1('Sub', [one, leftSide])]);
  const logit = (mask: string): string =>
    g.op1('Mul', [g.op1('Sub', [mask, g.constant([0.5], [1])]), g.constant([20], [1])]);
  g.identity(g.op1('Concat', [logit(body), logit(lungL), logit(lungR)], { axis: 1 }), 'logits');
  g.output('logits', ['batch', 3, 'height', 'width']);
  return g.encode('Threshold and morphology: body, left and right lung');
}

export const CONTEXT_STRUCTURES = ['External', 'Lung_L', 'Lung_R', 'Heart', 'SpinalCanal', 'Sternum'];

/** The card of a fitted context network. */
export function contextCard(version: string, description: string): ModelCardInput {
  return {
    schemaVersion: 1,
    name: 'thorax-context-net',
    version,
    vendor: 'ContourBench demo',
    description,
    licence: 'Apache-2.0',
    intendedStructures: CONTEXT_STRUCTURES,
    input: {
      kind: '3d',
      axisOrder: 'NCDHW',
      channels: 1,
      spacingMm: CONTEXT_SPACING_MM,
      patchSize: CONTEXT_PATCH,
      overlap: 0.5,
      gaussianSigmaScale: 0.125,
      normalisation: { method: 'window', windowHu: CONTEXT_WINDOW_HU },
    },
    output: {
      activation: 'sigmoid',
      threshold: 0.5,
      labels: CONTEXT_STRUCTURES.map((structure, channel) => ({ channel, structure })),
    },
    postprocessing: {
      default: { largestComponent: true, fillHoles: true },
    },
  };
}

/** The card of the threshold-and-morphology graph. */
export function thresholdCard(): ModelCardInput {
  return {
    schemaVersion: 1,
    name: 'thorax-threshold',
    version: '1.0',
    vendor: 'ContourBench demo',
    description:
      'Classical segmentation as an ONNX graph, slice by slice on the native grid: body = voxels above ' +
      '-400 HU with tissue on both sides along the row and the column; lungs = air inside the body after ' +
      'a 3 x 3 opening, split at the body centre of mass. No fitted weights.',
    licence: 'Apache-2.0',
    intendedStructures: ['External', 'Lung_L', 'Lung_R'],
    input: {
      kind: '2d',
      axisOrder: 'NCHW',
      channels: 1,
      spacingMm: 'native',
      patchSize: [512, 512],
      overlap: 0,
      gaussianSigmaScale: 0,
      normalisation: { method: 'window', windowHu: CONTEXT_WINDOW_HU },
    },
    output: {
      activation: 'sigmoid',
      threshold: 0.5,
      labels: [
        { channel: 0, structure: 'External' },
        { channel: 1, structure: 'Lung_L' },
        { channel: 2, structure: 'Lung_R' },
      ],
    },
    postprocessing: { default: { largestComponent: true, fillHoles: true } },
  };
}
