import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONTEXT_FEATURES,
  LEVEL1_CHANNELS,
  LEVEL2_CHANNELS,
  LOCAL_CHANNELS,
  contextFeatureGraph,
  contextNetworkGraph,
  thresholdGraph,
  upsampledAt,
  type ContextHead,
} from '../../scripts/onnx/demo-models';
import { fitHead, headLogits } from '../../scripts/onnx/fit-head';
import { segmentVolume } from '../../src/lib/core/inference/pipeline';
import { checkGraphAgainstCard } from '../../src/lib/core/models/model-io';
import { parseModelCardJson, type ModelCard } from '../../src/lib/core/models/model-card';
import { OnnxSession } from '../../src/lib/server/inference/onnx';
import {
  defaultDemoOptions,
  planDemoCohort,
  renderDemoCase,
} from '../../src/lib/server/services/demo.service';
import { mulberry32 } from '../helpers/random';

const modelsDir = path.join(import.meta.dirname, '..', '..', 'models');
const DEMO_MODELS = ['thorax-context-net-1.0', 'thorax-context-net-2.0', 'thorax-threshold-1.0'];
const sessions: OnnxSession[] = [];

async function load(bytes: Uint8Array, name: string): Promise<OnnxSession> {
  const session = await OnnxSession.load(bytes, name, { intraOpThreads: 1 });
  sessions.push(session);
  return session;
}

async function committed(name: string): Promise<{ card: ModelCard; session: OnnxSession }> {
  const card = parseModelCardJson(await readFile(path.join(modelsDir, `${name}.json`), 'utf8'), name);
  const session = await load(new Uint8Array(await readFile(path.join(modelsDir, `${name}.onnx`))), name);
  return { card, session };
}

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

function dice(a: Uint8Array, b: Uint8Array): number {
  let na = 0;
  let nb = 0;
  let both = 0;
  for (let i = 0; i < a.length; i += 1) {
    na += a[i]!;
    nb += b[i]!;
    both += a[i]! & b[i]!;
  }
  return (2 * both) / (na + nb);
}

describe('demo models in models/', () => {
  it('load in onnxruntime and fit their cards', async () => {
    for (const name of DEMO_MODELS) {
      const { card, session } = await committed(name);
      expect(checkGraphAgainstCard(session.signature(), card).problems, name).toEqual([]);
      expect(`${card.name}-${card.version}`).toBe(name);
    }
  });

  it('segment a held-out demo case: 2.0 within the expected Dice, the threshold graph best on lungs', async () => {
    // EAST-003: a test-split case from the site with 5 mm slices (the quickest to render)
    const plan = planDemoCohort(defaultDemoOptions).find((p) => p.patientId === 'EAST-003')!;
    expect(plan.split).toBe('test');
    const { phantom, ct } = renderDemoCase(plan);
    const truth = (name: string) => phantom.structures.find((s) => s.tg263Name === name)!.mask;
    const scores: Record<string, Record<string, number>> = {};
    for (const name of ['thorax-context-net-2.0', 'thorax-threshold-1.0']) {
      const { card, session } = await committed(name);
      const input = card.input.kind === '2d' ? 'slice' : 'image';
      const result = await segmentVolume(ct, card, (data, dims) =>
        session.run(input, { data, dims }, 'logits'),
      );
      scores[name] = Object.fromEntries(
        [...result.masks].map(([structure, mask]) => [structure, dice(mask, truth(structure))]),
      );
    }
    const net = scores['thorax-context-net-2.0']!;
    const threshold = scores['thorax-threshold-1.0']!;
    expect(net.External).toBeGreaterThan(0.99);
    expect(net.Lung_L).toBeGreaterThan(0.94);
    expect(net.Lung_R).toBeGreaterThan(0.94);
    expect(net.Heart).toBeGreaterThan(0.9);
    expect(net.SpinalCanal).toBeGreaterThan(0.8);
    expect(net.Sternum).toBeGreaterThan(0.85);
    expect(Object.keys(threshold).sort()).toEqual(['External', 'Lung_L', 'Lung_R']);
    expect(threshold.Lung_L).toBeGreaterThan(net.Lung_L!);
    expect(threshold.Lung_R).toBeGreaterThan(net.Lung_R!);
    expect(threshold.External).toBeGreaterThan(0.99);
  }, 60_000);
});

describe('demo model graphs', () => {
  it('the threshold graph finds the body and splits the lungs at its centre of mass', async () => {
    const session = await load(thresholdGraph(), 'threshold');
    const n = 64;
    const slice = new Float32Array(n * n); // 0 = -1000 HU after the [-1000, 1000] window
    const set = (j0: number, j1: number, i0: number, i1: number, value: number) => {
      for (let j = j0; j < j1; j += 1) for (let i = i0; i < i1; i += 1) slice[j * n + i] = value;
    };
    set(10, 54, 8, 56, 0.52); // soft tissue, 40 HU
    set(20, 40, 14, 26, 0.075); // lung at low x: the patient's right
    set(20, 40, 38, 50, 0.075); // lung at high x: the patient's left
    slice[5 * n + 5] = 0.52; // a speck of tissue outside the body row and column ranges
    const out = await session.run('slice', { data: slice, dims: [1, 1, n, n] }, 'logits');
    const mask = (c: number) =>
      Array.from(out.data.subarray(c * n * n, (c + 1) * n * n), (v) => (v > 0 ? 1 : 0));
    const count = (c: number) => mask(c).reduce<number>((a, b) => a + b, 0);
    expect(count(0)).toBe(44 * 48 + 1); // the body, and the speck (the card's largest component removes it)
    expect(count(1)).toBe(240);
    expect(count(2)).toBe(240);
    expect(mask(1)[30 * n + 44]).toBe(1); // Lung_L at high x
    expect(mask(2)[30 * n + 20]).toBe(1); // Lung_R at low x
  });

  it('the context network equals its fitted head applied to upsampled trunk features', async () => {
    const random = mulberry32(11);
    const [D, H, W] = [8, 32, 32];
    const image = Float32Array.from({ length: D * H * W }, () => random());
    const features = await load(contextFeatureGraph(), 'features');
    const [local, level1, level2] = await features.runOutputs(
      'image',
      { data: image, dims: [1, 1, D, H, W] },
      ['local', 'level1', 'level2'],
    );
    expect(local!.dims).toEqual([1, LOCAL_CHANNELS, D, H, W]);
    expect(level1!.dims).toEqual([1, LEVEL1_CHANNELS, D / 2, H / 4, W / 4]);
    expect(level2!.dims).toEqual([1, LEVEL2_CHANNELS, D / 4, H / 8, W / 8]);
    const head: ContextHead = {
      hidden: 5,
      outputs: 3,
      w1: Float32Array.from({ length: 5 * CONTEXT_FEATURES }, () => random() - 0.5),
      b1: Float32Array.from({ length: 5 }, () => random() - 0.5),
      w2: Float32Array.from({ length: 15 }, () => random() - 0.5),
      b2: Float32Array.from({ length: 3 }, () => random() - 0.5),
    };
    const net = await load(contextNetworkGraph(head, 'test'), 'net');
    const logits = await net.run('image', { data: image, dims: [1, 1, D, H, W] }, 'logits');
    expect(logits.dims).toEqual([1, 3, D, H, W]);
    let worst = 0;
    for (let s = 0; s < 100; s += 1) {
      const v = [Math.floor(random() * D), Math.floor(random() * H), Math.floor(random() * W)];
      const flat = (v[0]! * H + v[1]!) * W + v[2]!;
      const row: number[] = [];
      for (let c = 0; c < LOCAL_CHANNELS; c += 1) row.push(local!.data[c * D * H * W + flat]!);
      for (let c = 0; c < LEVEL1_CHANNELS; c += 1)
        row.push(upsampledAt(level1!, c, [D, H, W], v[0]!, v[1]!, v[2]!));
      for (let c = 0; c < LEVEL2_CHANNELS; c += 1)
        row.push(upsampledAt(level2!, c, [D, H, W], v[0]!, v[1]!, v[2]!));
      const expected = headLogits(head, row);
      for (let k = 0; k < 3; k += 1)
        worst = Math.max(worst, Math.abs(logits.data[k * D * H * W + flat]! - expected[k]!));
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('fitHead learns a non-linear rule reproducibly and folds the feature scaling into the weights', () => {
    const random = mulberry32(5);
    const samples = 4000;
    const features = new Float32Array(samples * 3);
    const targets = new Float32Array(samples * 2);
    for (let s = 0; s < samples; s += 1) {
      const a = random() * 2 - 1;
      const b = random() * 2 - 1;
      features.set([100 + 50 * a, b, random()], s * 3); // an offset, scaled feature and a useless one
      targets[s * 2] = a > 0 ? 1 : 0; // linear
      targets[s * 2 + 1] = a * a + b * b < 0.5 ? 1 : 0; // a disc: needs the hidden layer
    }
    const set = { features, targets, samples, featureCount: 3, outputs: 2 };
    const options = { hidden: 8, epochs: 30, batchSize: 64, learningRate: 0.02, weightDecay: 0, seed: 3 };
    const { head, loss } = fitHead(set, options);
    let correct = 0;
    for (let s = 0; s < samples; s += 1) {
      const z = headLogits(head, features.subarray(s * 3, s * 3 + 3));
      for (let k = 0; k < 2; k += 1) if (z[k]! > 0 === targets[s * 2 + k]! > 0.5) correct += 1;
    }
    expect(correct / (2 * samples)).toBeGreaterThan(0.95);
    expect(loss).toBeLessThan(0.15);
    expect(fitHead(set, options).head.w1).toEqual(head.w1);
  });
});
