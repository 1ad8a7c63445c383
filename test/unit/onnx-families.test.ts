import { describe, expect, it } from 'vitest';
import { FAMILY_BUILDERS } from '../../scripts/onnx/family-models';
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
