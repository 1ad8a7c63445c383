import { mulberry32 } from '../../src/lib/core/phantom/random';
import type { ContextHead } from './demo-models';

/**
 * Fits a two-layer per-voxel classifier (features -> ReLU hidden layer -> one logit per structure) by
 * minimising the mean binary cross-entropy of each structure's sigmoid against soft targets (the fraction
 * of the voxel inside the structure), with Adam, mini-batches in a seeded order and L2 weight decay.
 * Features are standardised for the fit and the scaling folded back into the first layer, so the result
 * applies to raw features. Sequential float64 arithmetic: the same data and seed give the same weights.
 */
export interface TrainingSet {
  /** samples x features, row-major */
  features: Float32Array;
  /** samples x outputs, in [0, 1] */
  targets: Float32Array;
  samples: number;
  featureCount: number;
  outputs: number;
}

export interface FitOptions {
  hidden: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  weightDecay: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    readonly params: Float64Array,
    private readonly rate: () => number,
  ) {
    this.m = new Float64Array(params.length);
    this.v = new Float64Array(params.length);
  }

  step(grad: Float64Array): void {
    this.t += 1;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    const lr = this.rate();
    for (let i = 0; i < grad.length; i += 1) {
      const g = grad[i]!;
      this.m[i] = b1 * this.m[i]! + (1 - b1) * g;
      this.v[i] = b2 * this.v[i]! + (1 - b2) * g * g;
      this.params[i] = this.params[i]! - (lr * (this.m[i]! / c1)) / (Math.sqrt(this.v[i]! / c2) + 1e-8);
    }
  }
}

export function fitHead(set: TrainingSet, options: FitOptions): { head: ContextHead; loss: number } {
  const { samples: n, featureCount: F, outputs: K } = set;
  const H = options.hidden;
  const random = mulberry32(options.seed);

  // standardise the features
  const mean = new Float64Array(F);
  const scale = new Float64Array(F);
  for (let s = 0; s < n; s += 1) for (let f = 0; f < F; f += 1) mean[f] = mean[f]! + set.features[s * F + f]!;
  for (let f = 0; f < F; f += 1) mean[f] = mean[f]! / n;
  for (let s = 0; s < n; s += 1)
    for (let f = 0; f < F; f += 1) scale[f] = scale[f]! + (set.features[s * F + f]! - mean[f]!) ** 2;
  for (let f = 0; f < F; f += 1) {
    const sd = Math.sqrt(scale[f]! / n);
    scale[f] = sd > 1e-6 ? 1 / sd : 0;
  }

  // parameters: w1 [H x F], b1 [H], w2 [K x H], b2 [K] in one array
  const o1 = 0;
  const ob1 = H * F;
  const o2 = ob1 + H;
  const ob2 = o2 + K * H;
  const params = new Float64Array(ob2 + K);
  const he1 = Math.sqrt(6 / F);
  const he2 = Math.sqrt(6 / H);
  for (let i = 0; i < H * F; i += 1) params[o1 + i] = (random() * 2 - 1) * he1;
  for (let i = 0; i < K * H; i += 1) params[o2 + i] = (random() * 2 - 1) * he2;
  for (let h = 0; h < H; h += 1) params[ob1 + h] = 0.1;

  const batches = Math.ceil(n / options.batchSize);
  const totalSteps = batches * options.epochs;
  let step = 0;
  // cosine decay from the learning rate to 5 % of it
  const adam = new Adam(params, () => {
    const progress = step / totalSteps;
    return options.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * progress)));
  });
  const grad = new Float64Array(params.length);
  const x = new Float64Array(F);
  const hidden = new Float64Array(H);
  const dHidden = new Float64Array(H);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let epochLoss = 0;

  for (let epoch = 0; epoch < options.epochs; epoch += 1) {
    for (let i = n - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    epochLoss = 0;
    for (let b = 0; b < batches; b += 1) {
      grad.fill(0);
      const from = b * options.batchSize;
      const to = Math.min(n, from + options.batchSize);
      for (let q = from; q < to; q += 1) {
        const s = order[q]!;
        for (let f = 0; f < F; f += 1) x[f] = (set.features[s * F + f]! - mean[f]!) * scale[f]!;
        for (let h = 0; h < H; h += 1) {
          let a = params[ob1 + h]!;
          const row = o1 + h * F;
          for (let f = 0; f < F; f += 1) a += params[row + f]! * x[f]!;
          hidden[h] = a > 0 ? a : 0;
        }
        dHidden.fill(0);
        for (let k = 0; k < K; k += 1) {
          let z = params[ob2 + k]!;
          const row = o2 + k * H;
          for (let h = 0; h < H; h += 1) z += params[row + h]! * hidden[h]!;
          const y = set.targets[s * K + k]!;
          // numerically stable BCE with logits: max(z, 0) - z y + log(1 + exp(-|z|))
          epochLoss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
          const dz = 1 / (1 + Math.exp(-z)) - y;
          grad[ob2 + k] = grad[ob2 + k]! + dz;
          for (let h = 0; h < H; h += 1) {
            grad[row + h] = grad[row + h]! + dz * hidden[h]!;
            dHidden[h] = dHidden[h]! + dz * params[row + h]!;
          }
        }
        for (let h = 0; h < H; h += 1) {
          if (hidden[h]! <= 0) continue;
          const d = dHidden[h]!;
          grad[ob1 + h] = grad[ob1 + h]! + d;
          const row = o1 + h * F;
          for (let f = 0; f < F; f += 1) grad[row + f] = grad[row + f]! + d * x[f]!;
        }
      }
      const count = to - from;
      for (let i = 0; i < grad.length; i += 1) grad[i] = grad[i]! / count;
      for (let i = 0; i < H * F; i += 1) grad[o1 + i] = grad[o1 + i]! + options.weightDecay * params[o1 + i]!;
      for (let i = 0; i < K * H; i += 1) grad[o2 + i] = grad[o2 + i]! + options.weightDecay * params[o2 + i]!;
      adam.step(grad);
      step += 1;
    }
    epochLoss /= n * K;
    options.onEpoch?.(epoch + 1, epochLoss);
  }

  // fold the standardisation into the first layer: w (x - m) s = (w s) x - sum(w s m)
  const w1 = new Float32Array(H * F);
  const b1 = new Float32Array(H);
  for (let h = 0; h < H; h += 1) {
    let bias = params[ob1 + h]!;
    for (let f = 0; f < F; f += 1) {
      const w = params[o1 + h * F + f]! * scale[f]!;
      w1[h * F + f] = w;
      bias -= w * mean[f]!;
    }
    b1[h] = bias;
  }
  return {
    head: {
      hidden: H,
      outputs: K,
      w1,
      b1,
      w2: Float32Array.from(params.subarray(o2, o2 + K * H)),
      b2: Float32Array.from(params.subarray(ob2, ob2 + K)),
    },
    loss: epochLoss,
  };
}

/** The head's logits for one raw feature vector (float64), for checking the exported graph. */
export function headLogits(head: ContextHead, features: ArrayLike<number>): Float64Array {
  const F = features.length;
  const hidden = new Float64Array(head.hidden);
  for (let h = 0; h < head.hidden; h += 1) {
    let a = head.b1[h]!;
    for (let f = 0; f < F; f += 1) a += head.w1[h * F + f]! * features[f]!;
    hidden[h] = a > 0 ? a : 0;
  }
  const out = new Float64Array(head.outputs);
  for (let k = 0; k < head.outputs; k += 1) {
    let z = head.b2[k]!;
    for (let h = 0; h < head.hidden; h += 1) z += head.w2[k * head.hidden + h]! * hidden[h]!;
    out[k] = z;
  }
  return out;
}
