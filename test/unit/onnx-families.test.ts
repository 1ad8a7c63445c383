import { describe, expect, it } from 'vitest';
import { FAMILY_BUILDERS, thresholdModel } from '../../scripts/onnx/family-models';
import { segmentVolume } from '../../src/lib/core/inference/pipeline';
import { axisAlignedAffine, type Volume } from '../../src/lib/core/volume/volume';
import { ModelSessions } from '../../src/lib/server/inference/model-sessions';
import { parseModelCard } from '../../src/lib/core/models/model-card';
import { checkGraphAgainstCard } from '../../src/lib/core/models/model-io';
import { OnnxSession } from '../../src/lib/server/inference/onnx';

function patchDims(card: ReturnType<typeof parseModelCard>): number[] {
  const { axisOrder, channels, patchSize } = card.input;
  const spatial = [...patchSize];
  return [...axisOrder].map((axis) =>
    axis === 'N' ? 1 : axis === 'C' ? channels : (spatial.shift() as number),
  );
}

describe('model families built by scripts/onnx/family-models.ts', () => {
  for (const build of FAMILY_BUILDERS) {
    it(`${build.name}: loads in onnxruntime, fits its card and gives finite outputs of the right shape`, async () => {
      const model = build(7);
      const card = parseModelCard(model.card, `${model.family} card`);
      const session = await OnnxSession.load(model.bytes, card.name);
      try {
        const check = checkGraphAgainstCard(session.signature(), card);
        expect(check.problems).toEqual([]);
        const dims = patchDims(card);
        const count = dims.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37));
        const output = await session.run(check.io!.input.name, { data, dims }, check.io!.output.name);
        const channelAxis = card.input.axisOrder.indexOf('C');
        const expected = [...dims];
        expected[channelAxis] = card.output.activation === 'sigmoid' ? 2 : 3;
        expect(output.dims).toEqual(expected);
        expect(output.data.every(Number.isFinite)).toBe(true);
        expect(new Set(output.data).size).toBeGreaterThan(10);
      } finally {
        await session.release();
      }
    });
  }

  it('builds the same bytes from the same seed and different bytes from another', () => {
    for (const build of FAMILY_BUILDERS) {
      expect(Buffer.from(build(3).bytes).equals(Buffer.from(build(3).bytes))).toBe(true);
      expect(Buffer.from(build(3).bytes).equals(Buffer.from(build(4).bytes))).toBe(false);
    }
  });

  it('reports every way a graph does not fit its card', async () => {
    const model = FAMILY_BUILDERS[3](1);
    const session = await OnnxSession.load(model.bytes, 'vit');
    try {
      const card = parseModelCard(
        {
          ...model.card,
          input: { ...model.card.input, name: 'img', patchSize: [32, 32, 32] },
          output: {
            activation: 'softmax',
            labels: [
              { channel: 1, structure: 'Heart' },
              { channel: 3, structure: 'Lung_L' },
            ],
          },
        },
        'card',
      );
      expect(checkGraphAgainstCard(session.signature(), card).problems).toEqual([
        'input.name "img" is not a graph input; the graph has image',
        'output "logits" has 3 channel(s); the label map uses channel 3',
      ]);
      const fixedPatch = parseModelCard(
        { ...model.card, input: { ...model.card.input, patchSize: [16, 32, 48] } },
        'c',
      );
      expect(checkGraphAgainstCard(session.signature(), fixedPatch).problems).toEqual([
        'input "image" axis W is fixed at 32; the card\'s patchSize gives 48',
      ]);
    } finally {
      await session.release();
    }
  });

  it('refuses bytes that are not an ONNX model, naming the source', async () => {
    await expect(
      OnnxSession.load(new TextEncoder().encode('not a model'), 'models/bad.onnx'),
    ).rejects.toThrow(/^models\/bad\.onnx: onnxruntime cannot load the model/);
  });
});

describe('the pipeline with onnxruntime', () => {
  const volume = (): Volume<Float32Array> => {
    const dims: [number, number, number] = [40, 36, 20];
    const data = new Float32Array(dims[0] * dims[1] * dims[2]);
    let o = 0;
    for (let k = 0; k < dims[2]; k += 1)
      for (let j = 0; j < dims[1]; j += 1)
        for (let i = 0; i < dims[0]; i += 1, o += 1)
          data[o] =
            (i - 20) ** 2 + (j - 18) ** 2 + ((k - 10) * 2) ** 2 < 100
              ? 60
              : -700 + ((i * 7 + j * 3 + k) % 11);
    return { data, dims, spacingMm: [1, 1, 2], affineIjkToLps: axisAlignedAffine([1, 1, 2]) };
  };

  it('segments exactly the thresholded CT through an ONNX threshold graph and overlapping windows', async () => {
    const model = thresholdModel();
    const sessions = new ModelSessions({ intraOpThreads: 1 });
    try {
      const card = parseModelCard(model.card, 'threshold card');
      const run = await sessions.runner('threshold', card, async () => model.bytes);
      const ct = volume();
      const result = await segmentVolume(ct, card, run);
      // D 20 in steps of 4 (patch 8), H 36 and W 40 in steps of at most 8 (patch 16): 4 windows each
      expect(result.windows).toBe(4 * 4 * 4);
      expect(result.masks.get('Heart')).toEqual(Uint8Array.from(ct.data, (v) => (v > 0 ? 1 : 0)));
      expect(await sessions.runner('threshold', card, () => Promise.reject(new Error('not reloaded')))).toBe(
        run,
      );
      expect(sessions.size).toBe(1);
    } finally {
      await sessions.close();
    }
  });

  for (const build of FAMILY_BUILDERS) {
    it(`${build.name}: runs a whole volume through the pipeline onto the CT grid`, async () => {
      const model = build(5);
      const sessions = new ModelSessions({ intraOpThreads: 1 });
      try {
        const card = parseModelCard(model.card, 'card');
        const run = await sessions.runner(model.family, card, async () => model.bytes);
        const ct = volume();
        const result = await segmentVolume(ct, card, run);
        expect([...result.masks.keys()].sort()).toEqual(['Heart', 'Lung_L']);
        for (const mask of result.masks.values()) expect(mask.length).toBe(ct.data.length);
        expect(result.windows).toBeGreaterThan(0);
      } finally {
        await sessions.close();
      }
    });
  }

  it('refuses a session whose graph does not fit the card, and loads it again next time', async () => {
    const model = thresholdModel();
    const sessions = new ModelSessions();
    const card = parseModelCard({ ...model.card, input: { ...model.card.input, name: 'x' } }, 'card');
    await expect(sessions.runner('t', card, async () => model.bytes)).rejects.toThrow(
      /^threshold@1 \(sha256 t…\) does not fit its card:\n {2}input.name "x" is not a graph input/,
    );
    expect(sessions.size).toBe(0);
    await sessions.close();
  });
});
