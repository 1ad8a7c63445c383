import type { ModelCardInput } from '../../src/lib/core/models/model-card';
import { GraphBuilder } from './graph-builder';
import { mulberry32 } from '../../src/lib/core/phantom/random';

/**
 * Tiny models of each family clinics buy or build, with random weights from a seed: they prove the
 * pipeline runs the graph shape, not that they segment anything. Each has a card that fits it.
 *
 * - 3d: nnU-Net / MONAI style, channels-first NCDHW, dynamic spatial axes, logits out (two-level U-Net
 *   with a skip connection, instance norm, leaky ReLU, transposed-convolution upsampling).
 * - 2d: channels-last NHWC, applied slice by slice, softmax produced outside (argmax card).
 * - 2.5d: NCHW with 3 neighbouring slices as channels, sigmoid outputs.
 * - transformer: UNETR / TransUNet style: patch embedding, LayerNorm, single-head self-attention, GELU
 *   MLP, residuals, reshape back to a feature map and upsample (fixed patch size, as ViTs are exported).
 */
export interface FamilyModel {
  family: '3d' | '2d' | '2.5d' | 'transformer';
  bytes: Uint8Array;
  card: ModelCardInput;
}

function weights(random: () => number, count: number, fanIn: number): Float32Array {
  const scale = Math.sqrt(2 / fanIn);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 1) out[i] = (random() * 2 - 1) * scale;
  return out;
}

function conv(
  g: GraphBuilder,
  random: () => number,
  x: string,
  inChannels: number,
  outChannels: number,
  kernel: readonly number[],
): string {
  const fanIn = inChannels * kernel.reduce((a, b) => a * b, 1);
  const w = g.constant(
    weights(random, outChannels * fanIn, fanIn),
    [outChannels, inChannels, ...kernel],
    'w',
  );
  const b = g.constant(new Float32Array(outChannels), [outChannels], 'b');
  const pads = [...kernel.map((k) => (k - 1) >> 1), ...kernel.map((k) => (k - 1) >> 1)];
  return g.op1('Conv', [x, w, b], { pads, kernel_shape: [...kernel] });
}

function normAct(g: GraphBuilder, x: string, channels: number): string {
  const scale = g.constant(new Float32Array(channels).fill(1), [channels], 'gamma');
  const bias = g.constant(new Float32Array(channels), [channels], 'beta');
  const norm = g.op1('InstanceNormalization', [x, scale, bias], { epsilon: 1e-5 });
  return g.op1('LeakyRelu', [norm], { alpha: 0.01 });
}

const CARD_BASE = {
  schemaVersion: 1 as const,
  vendor: 'ContourBench test family',
  licence: 'Apache-2.0',
  intendedStructures: ['Heart', 'Lung_L'],
};

const LABELS_1_2 = [
  { channel: 1, structure: 'Heart' },
  { channel: 2, structure: 'Lung_L' },
];

/** nnU-Net-like 3D U-Net with two levels, NCDHW, dynamic D/H/W, 3 logit channels. */
export function unet3d(seed: number): FamilyModel {
  const random = mulberry32(seed);
  const g = new GraphBuilder('unet3d');
  const x = g.input('image', ['batch', 1, 'depth', 'height', 'width']);
  const e1 = normAct(g, conv(g, random, x, 1, 4, [3, 3, 3]), 4);
  const down = g.op1('MaxPool', [e1], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] });
  const e2 = normAct(g, conv(g, random, down, 4, 8, [3, 3, 3]), 8);
  const upW = g.constant(weights(random, 8 * 4 * 8, 8), [8, 4, 2, 2, 2], 'up');
  const up = g.op1('ConvTranspose', [e2, upW], { kernel_shape: [2, 2, 2], strides: [2, 2, 2] });
  const cat = g.op1('Concat', [up, e1], { axis: 1 });
  const d1 = normAct(g, conv(g, random, cat, 8, 4, [3, 3, 3]), 4);
  g.identity(conv(g, random, d1, 4, 3, [1, 1, 1]), 'logits');
  g.output('logits', ['batch', 3, 'depth', 'height', 'width']);
  return {
    family: '3d',
    bytes: g.encode('3D U-Net test model'),
    card: {
      ...CARD_BASE,
      name: 'family-unet3d',
      version: `seed${seed}`,
      input: {
        kind: '3d',
        axisOrder: 'NCDHW',
        channels: 1,
        spacingMm: [2, 2, 3],
        patchSize: [16, 32, 32],
        normalisation: { method: 'zscore', clipHu: [-1000, 1000], mean: -200, std: 400 },
      },
      output: { activation: 'softmax', labels: LABELS_1_2 },
      postprocessing: { default: { largestComponent: true } },
    },
  };
}

/** A 2D network in channels-last layout (as TensorFlow exports), applied to every slice. */
export function net2d(seed: number): FamilyModel {
  const random = mulberry32(seed);
  const g = new GraphBuilder('net2d');
  const x = g.input('slice', ['batch', 'height', 'width', 1]);
  const nchw = g.op1('Transpose', [x], { perm: [0, 3, 1, 2] });
  const h = g.op1('Relu', [conv(g, random, nchw, 1, 6, [3, 3])]);
  const h2 = g.op1('Relu', [conv(g, random, h, 6, 6, [3, 3])]);
  const logits = conv(g, random, h2, 6, 3, [1, 1]);
  const probabilities = g.op1('Softmax', [logits], { axis: 1 });
  g.identity(g.op1('Transpose', [probabilities], { perm: [0, 2, 3, 1] }), 'probabilities');
  g.output('probabilities', ['batch', 'height', 'width', 3]);
  return {
    family: '2d',
    bytes: g.encode('2D slice-by-slice test model'),
    card: {
      ...CARD_BASE,
      name: 'family-net2d',
      version: `seed${seed}`,
      input: {
        kind: '2d',
        axisOrder: 'NHWC',
        channels: 1,
        spacingMm: [1.5, 1.5, null],
        patchSize: [64, 64],
        normalisation: { method: 'window', windowHu: [-1000, 400] },
      },
      output: { activation: 'argmax', labels: LABELS_1_2 },
    },
  };
}

/** A 2.5D network: the slice and its two neighbours as three channels, one sigmoid per structure. */
export function net25d(seed: number): FamilyModel {
  const random = mulberry32(seed);
  const g = new GraphBuilder('net25d');
  const x = g.input('slices', ['batch', 3, 'height', 'width']);
  const h = g.op1('Relu', [conv(g, random, x, 3, 6, [3, 3])]);
  g.identity(g.op1('Sigmoid', [conv(g, random, h, 6, 2, [1, 1])]), 'masks');
  g.output('masks', ['batch', 2, 'height', 'width']);
  return {
    family: '2.5d',
    bytes: g.encode('2.5D test model'),
    card: {
      ...CARD_BASE,
      name: 'family-net25d',
      version: `seed${seed}`,
      input: {
        kind: '2.5d',
        axisOrder: 'NCHW',
        channels: 3,
        spacingMm: 'native',
        patchSize: [48, 48],
        normalisation: { method: 'percentile', percentiles: [0.5, 99.5] },
      },
      output: {
        activation: 'sigmoid',
        labels: [
          { channel: 0, structure: 'Heart' },
          { channel: 1, structure: 'Lung_L' },
        ],
      },
    },
  };
}

/**
 * A UNETR-like 3D vision transformer: 4x4x4 patch embedding to 16 features, one pre-norm encoder block
 * (single-head attention, GELU MLP, residuals), then a transposed convolution back to full resolution.
 */
export function transformer3d(seed: number): FamilyModel {
  const random = mulberry32(seed);
  const g = new GraphBuilder('vit3d');
  const [D, H, W, P, E] = [16, 32, 32, 4, 16];
  const tokens = (D / P) * (H / P) * (W / P);
  const x = g.input('image', [1, 1, D, H, W]);
  const embW = g.constant(weights(random, E * P * P * P, P * P * P), [E, 1, P, P, P], 'embed');
  const emb = g.op1('Conv', [x, embW], { kernel_shape: [P, P, P], strides: [P, P, P] });
  const flat = g.op1('Reshape', [emb, g.int64([1, E, tokens])]);
  const seq = g.op1('Transpose', [flat], { perm: [0, 2, 1] }); // [1, T, E]
  const position = g.constant(weights(random, tokens * E, E), [1, tokens, E], 'pos');
  const h0 = g.op1('Add', [seq, position]);
  const layerNorm = (input: string): string =>
    g.op1(
      'LayerNormalization',
      [input, g.constant(new Float32Array(E).fill(1), [E]), g.constant(new Float32Array(E), [E])],
      {
        axis: -1,
        epsilon: 1e-5,
      },
    );
  const linear = (input: string, inF: number, outF: number): string =>
    g.op1('Add', [
      g.op1('MatMul', [input, g.constant(weights(random, inF * outF, inF), [inF, outF], 'lin')]),
      g.constant(new Float32Array(outF), [outF], 'bias'),
    ]);
  const n1 = layerNorm(h0);
  const q = linear(n1, E, E);
  const k = linear(n1, E, E);
  const v = linear(n1, E, E);
  const scores = g.op1('Div', [
    g.op1('MatMul', [q, g.op1('Transpose', [k], { perm: [0, 2, 1] })]),
    g.constant([Math.sqrt(E)], [1]),
  ]);
  const attention = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: -1 }), v]);
  const h1 = g.op1('Add', [h0, linear(attention, E, E)]);
  const n2 = layerNorm(h1);
  const hidden = linear(n2, E, 2 * E);
  // GELU (exact): 0.5 x (1 + erf(x / sqrt 2)); opset 17 has Erf but no Gelu operator.
  const erf = g.op1('Erf', [g.op1('Div', [hidden, g.constant([Math.SQRT2], [1])])]);
  const gelu = g.op1('Mul', [
    g.op1('Mul', [hidden, g.constant([0.5], [1])]),
    g.op1('Add', [erf, g.constant([1], [1])]),
  ]);
  const h2 = g.op1('Add', [h1, linear(gelu, 2 * E, E)]);
  const map = g.op1('Reshape', [
    g.op1('Transpose', [h2], { perm: [0, 2, 1] }),
    g.int64([1, E, D / P, H / P, W / P]),
  ]);
  const upW = g.constant(weights(random, E * 3 * P * P * P, E), [E, 3, P, P, P], 'up');
  g.identity(g.op1('ConvTranspose', [map, upW], { kernel_shape: [P, P, P], strides: [P, P, P] }), 'logits');
  g.output('logits', [1, 3, D, H, W]);
  return {
    family: 'transformer',
    bytes: g.encode('UNETR-like transformer test model'),
    card: {
      ...CARD_BASE,
      name: 'family-vit3d',
      version: `seed${seed}`,
      input: {
        kind: '3d',
        axisOrder: 'NCDHW',
        channels: 1,
        spacingMm: [2, 2, 3],
        patchSize: [D, H, W],
        normalisation: { method: 'window', windowHu: [-1000, 1000] },
      },
      output: { activation: 'softmax', labels: LABELS_1_2 },
    },
  };
}

export const FAMILY_BUILDERS = [unet3d, net2d, net25d, transformer3d] as const;

/**
 * A classical threshold as an ONNX graph: channel 1 logit = 20 (x - 0.5) of the normalised input, channel
 * 0 = 0, so the label is "normalised value above 0.5". With a [-1000, 1000] HU window that is HU > 0.
 */
export function thresholdModel(): FamilyModel {
  const g = new GraphBuilder('threshold');
  const x = g.input('image', ['batch', 1, 'depth', 'height', 'width']);
  const foreground = g.op1('Mul', [g.op1('Sub', [x, g.constant([0.5], [1])]), g.constant([20], [1])]);
  const background = g.op1('Mul', [x, g.constant([0], [1])]);
  g.identity(g.op1('Concat', [background, foreground], { axis: 1 }), 'logits');
  g.output('logits', ['batch', 2, 'depth', 'height', 'width']);
  return {
    family: '3d',
    bytes: g.encode('HU threshold'),
    card: {
      ...CARD_BASE,
      name: 'threshold',
      version: '1',
      intendedStructures: ['Heart'],
      input: {
        kind: '3d',
        axisOrder: 'NCDHW',
        channels: 1,
        spacingMm: 'native',
        patchSize: [8, 16, 16],
        normalisation: { method: 'window', windowHu: [-1000, 1000] },
      },
      output: { activation: 'softmax', labels: [{ channel: 1, structure: 'Heart' }] },
    },
  };
}
