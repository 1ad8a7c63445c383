import { describe, expect, it } from 'vitest';
import {
  modelCardSchema,
  parseModelCard,
  parseModelCardJson,
  parseModelReference,
  postprocessingFor,
  type ModelCardInput,
} from './model-card';

function card(overrides: Partial<ModelCardInput> = {}): ModelCardInput {
  return {
    schemaVersion: 1,
    name: 'breast-unet',
    version: '1.0.0',
    vendor: 'ContourBench',
    licence: 'Apache-2.0',
    intendedStructures: ['Heart', 'Lung_L'],
    input: {
      kind: '3d',
      axisOrder: 'NCDHW',
      channels: 1,
      spacingMm: [1.5, 1.5, 3],
      patchSize: [32, 64, 64],
      normalisation: { method: 'zscore', clipHu: [-1000, 1000], mean: -300, std: 400 },
    },
    output: {
      activation: 'softmax',
      labels: [
        { channel: 1, structure: 'Heart' },
        { channel: 2, structure: 'Lung_L' },
      ],
    },
    postprocessing: { default: { largestComponent: true }, structures: { Lung_L: { fillHoles: true } } },
    ...overrides,
  };
}

function problemsOf(value: unknown): string[] {
  try {
    parseModelCard(value, 'card.json');
  } catch (error) {
    return (error as Error).message.split('\n').slice(1);
  }
  return [];
}

describe('model card', () => {
  it('accepts a complete 3d card and fills the defaults', () => {
    const parsed = parseModelCard(card(), 'card.json');
    expect(parsed.input.overlap).toBe(0.5);
    expect(parsed.input.gaussianSigmaScale).toBe(0.125);
    expect(parsed.output.threshold).toBe(0.5);
    expect(postprocessingFor(parsed, 'Heart')).toEqual({ largestComponent: true });
    expect(postprocessingFor(parsed, 'Lung_L')).toEqual({ fillHoles: true });
  });

  it('accepts 2d, 2.5d and native-spacing cards', () => {
    const twoD = card({
      input: {
        kind: '2d',
        axisOrder: 'NHWC',
        channels: 1,
        spacingMm: [1, 1, null],
        patchSize: [128, 128],
        normalisation: { method: 'window', windowHu: [-160, 240] },
      },
    });
    expect(modelCardSchema.safeParse(twoD).success).toBe(true);
    const twoAndHalf = card({
      input: {
        kind: '2.5d',
        axisOrder: 'NCHW',
        channels: 5,
        spacingMm: 'native',
        patchSize: [96, 96],
        normalisation: { method: 'percentile', percentiles: [0.5, 99.5] },
      },
    });
    expect(modelCardSchema.safeParse(twoAndHalf).success).toBe(true);
  });

  it('names every problem with its path and the source', () => {
    const bad = card({
      name: 'Breast UNet',
      intendedStructures: ['Heart', 'Lung_L', 'Liver_Big'],
      input: {
        kind: '3d',
        axisOrder: 'NCHW',
        channels: 2,
        spacingMm: [1, 1, null],
        patchSize: [64, 64],
        normalisation: { method: 'zscore', mean: 0, std: 0 },
      },
      output: {
        activation: 'softmax',
        labels: [
          { channel: 0, structure: 'Heart' },
          { channel: 0, structure: 'Lung_L' },
        ],
      },
    });
    expect(() => parseModelCard(bad, 'models/x.json')).toThrow(/^models\/x\.json: invalid model card/);
    const problems = problemsOf(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}name: lower-case/),
        expect.stringMatching(/^ {2}intendedStructures\.2: not a TG-263 structure name/),
        expect.stringMatching(/^ {2}input\.normalisation\.std: /),
      ]),
    );
  });

  it('checks the card against itself once the fields parse', () => {
    const problems = problemsOf(
      card({
        input: {
          kind: '3d',
          axisOrder: 'NCHW',
          channels: 2,
          spacingMm: [1, 1, null],
          patchSize: [64, 64],
          normalisation: { method: 'none' },
        },
        intendedStructures: ['Heart', 'Lung_L', 'Esophagus'],
        output: {
          activation: 'softmax',
          labels: [
            { channel: 0, structure: 'Heart' },
            { channel: 0, structure: 'Lung_L' },
            { channel: 3, structure: 'Lung_R' },
          ],
        },
        postprocessing: { structures: { SpinalCord: { fillHoles: true } } },
      }),
    );
    expect(problems).toEqual([
      '  input.axisOrder: a 3d model takes 5-dimensional input, NCHW has 4',
      "  input.patchSize: a 3d model's patch has 3 sizes (D, H, W), not 2",
      '  input.channels: a 3d model takes the CT as its single channel',
      '  input.spacingMm: a 3d model needs a z spacing (or "native" for all axes)',
      '  output.labels.0.channel: with softmax, channel 0 is background; labels start at channel 1',
      '  output.labels.1.channel: channel 0 is already mapped by labels[0]',
      '  output.labels.1.channel: with softmax, channel 0 is background; labels start at channel 1',
      '  output.labels.2.structure: Lung_R is not among intendedStructures',
      '  intendedStructures: Esophagus has no output channel in output.labels',
      '  postprocessing.structures.SpinalCord: SpinalCord is not produced by the model (not in output.labels)',
    ]);
  });

  it('allows channel 0 for sigmoid outputs and needs an odd neighbour count for 2.5d', () => {
    const sigmoid = card({
      output: {
        activation: 'sigmoid',
        labels: [
          { channel: 0, structure: 'Heart' },
          { channel: 1, structure: 'Lung_L' },
        ],
      },
    });
    expect(problemsOf(sigmoid)).toEqual([]);
    const even = card({
      input: {
        kind: '2.5d',
        axisOrder: 'NCHW',
        channels: 4,
        spacingMm: 'native',
        patchSize: [64, 64],
        normalisation: { method: 'none' },
      },
    });
    expect(problemsOf(even)).toEqual([
      '  input.channels: a 2.5d model stacks an odd number (3 or more) of neighbouring slices as channels',
    ]);
  });

  it('refuses unknown keys, so a misspelt field is not silently ignored', () => {
    expect(problemsOf({ ...card(), licens: 'MIT' })).toEqual([expect.stringContaining('licens')]);
  });

  it('reports text that is not JSON with the file name', () => {
    expect(() => parseModelCardJson('{ "name": ', 'cards/a.json')).toThrow(/^cards\/a\.json: not JSON/);
  });

  it('parses NAME@VERSION references', () => {
    expect(parseModelReference('breast-unet@1.0.0')).toEqual({ name: 'breast-unet', version: '1.0.0' });
    expect(() => parseModelReference('breast-unet')).toThrow(/expected NAME@VERSION/);
    expect(() => parseModelReference('@1')).toThrow(/expected NAME@VERSION/);
  });
});

describe('the README example card', () => {
  it('parses as printed', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../../README.md', import.meta.url), 'utf8');
    const block = /A complete card[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const card = parseModelCardJson(block!, 'README.md');
    expect(card.output.labels).toHaveLength(4);
    expect(postprocessingFor(card, 'A_LAD')).toEqual({ fillHoles: false });
  });
});
