import type { ModelCard } from './model-card';

/** One graph input or output as the ONNX file declares it: element type and shape (a string is a named, dynamic axis). */
export interface TensorSignature {
  name: string;
  elementType: string;
  shape: ReadonlyArray<number | string | null>;
}

export interface GraphSignature {
  inputs: readonly TensorSignature[];
  outputs: readonly TensorSignature[];
}

/** The graph input and output a card uses, resolved against the file. */
export interface ResolvedModelIo {
  input: TensorSignature;
  output: TensorSignature;
}

function describeShape(shape: TensorSignature['shape']): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function pick(
  kind: 'input' | 'output',
  wanted: string | undefined,
  available: readonly TensorSignature[],
  problems: string[],
): TensorSignature | undefined {
  if (wanted === undefined) {
    if (available.length === 1) return available[0];
    problems.push(
      `the graph has ${available.length} ${kind}s (${available.map((t) => t.name).join(', ')}); name the one to use in ${kind}.name`,
    );
    return undefined;
  }
  const found = available.find((t) => t.name === wanted);
  if (found === undefined)
    problems.push(
      `${kind}.name "${wanted}" is not a graph ${kind}; the graph has ${available.map((t) => t.name).join(', ') || 'none'}`,
    );
  return found;
}

/**
 * Checks a model's declared inputs and outputs against its card before anything runs: element type,
 * rank from the axis order, the channel count, fixed spatial sizes against the patch size, and enough
 * output channels for the label map. Dynamic axes (named or unknown) pass. Returns every mismatch, each a
 * sentence naming the tensor and both values; an empty list means the card fits.
 */
export function checkGraphAgainstCard(
  graph: GraphSignature,
  card: ModelCard,
): { problems: string[]; io?: ResolvedModelIo } {
  const problems: string[] = [];
  const input = pick('input', card.input.name, graph.inputs, problems);
  const output = pick('output', card.output.name, graph.outputs, problems);
  const axes = card.input.axisOrder;
  const spatialAxes = axes.replace('N', '').replace('C', '');
  const patchByAxis = new Map<string, number>(
    [...spatialAxes].map((axis, i) => [axis, card.input.patchSize[i] ?? 0]),
  );

  if (input !== undefined) {
    if (input.elementType !== 'float32')
      problems.push(`input "${input.name}" is ${input.elementType}; ContourBench feeds float32`);
    if (input.shape.length !== axes.length) {
      problems.push(
        `input "${input.name}" has shape ${describeShape(input.shape)} (rank ${input.shape.length}); the card's axisOrder ${axes} needs rank ${axes.length}`,
      );
    } else {
      [...axes].forEach((axis, i) => {
        const size = input.shape[i];
        if (typeof size !== 'number' || size <= 0) return;
        if (axis === 'N' && size !== 1)
          problems.push(
            `input "${input.name}" has a fixed batch of ${size}; export it with batch 1 or a dynamic batch axis`,
          );
        if (axis === 'C' && size !== card.input.channels)
          problems.push(
            `input "${input.name}" has ${size} channel(s) (axis ${i}); the card says input.channels = ${card.input.channels}`,
          );
        const patch = patchByAxis.get(axis);
        if (patch !== undefined && size !== patch)
          problems.push(
            `input "${input.name}" axis ${axis} is fixed at ${size}; the card's patchSize gives ${patch}`,
          );
      });
    }
  }

  if (output !== undefined) {
    if (output.elementType !== 'float32')
      problems.push(`output "${output.name}" is ${output.elementType}; ContourBench reads float32`);
    if (output.shape.length !== axes.length) {
      problems.push(
        `output "${output.name}" has shape ${describeShape(output.shape)} (rank ${output.shape.length}); expected rank ${axes.length} in the input's axis order ${axes}`,
      );
    } else {
      const channelAxis = axes.indexOf('C');
      const channels = output.shape[channelAxis];
      const highest = Math.max(...card.output.labels.map((l) => l.channel));
      if (typeof channels === 'number' && channels > 0 && channels <= highest)
        problems.push(
          `output "${output.name}" has ${channels} channel(s); the label map uses channel ${highest}`,
        );
      if (typeof channels === 'number' && channels === 1 && card.output.activation !== 'sigmoid')
        problems.push(
          `output "${output.name}" has a single channel; ${card.output.activation} needs background and labels`,
        );
    }
  }

  if (input === undefined || output === undefined) return { problems };
  return { problems, io: { input, output } };
}
