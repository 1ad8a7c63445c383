import { z } from 'zod';
import { AppError } from '../errors';
import { findTg263Structure } from '../structures/tg263';

/**
 * The model card: everything ContourBench needs to run an ONNX segmentation model on a CT and to say what
 * it was. A registered card is stored with the sha256 of its ONNX file and never changes.
 *
 * Axis letters: N batch, C channels, D slices (patient z), H rows (image y), W columns (image x).
 */
export const MODEL_CARD_SCHEMA_VERSION = 1;

const tg263Name = z.string().refine((name) => findTg263Structure(name) !== undefined, {
  message: 'not a TG-263 structure name in the ContourBench catalogue (core/structures/tg263.ts, README)',
});

const huWindow = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo < hi, { message: 'the lower bound must be below the upper bound' });

const normalisation = z.discriminatedUnion('method', [
  /** Clip to a HU window, then scale linearly so the window spans [0, 1]. */
  z.strictObject({ method: z.literal('window'), windowHu: huWindow }),
  /** Optionally clip to a HU window, then (x - mean) / std with fixed values (nnU-Net's CT scheme). */
  z.strictObject({
    method: z.literal('zscore'),
    clipHu: huWindow.optional(),
    mean: z.number(),
    std: z.number().positive(),
  }),
  /** Clip to this case's own percentiles (0-100), then scale the clipped range to [0, 1]. */
  z.strictObject({
    method: z.literal('percentile'),
    percentiles: z
      .tuple([z.number().min(0).max(100), z.number().min(0).max(100)])
      .refine(([lo, hi]) => lo < hi, { message: 'the lower percentile must be below the upper one' }),
  }),
  /** Hounsfield units as they are. */
  z.strictObject({ method: z.literal('none') }),
]);

const postprocessingStep = z.strictObject({
  /** Keep only the largest 26-connected component. */
  largestComponent: z.boolean().optional(),
  /** Fill enclosed holes, slice by slice in the axial plane. */
  fillHoles: z.boolean().optional(),
});

const positiveMm = z.number().positive().max(50);

export const modelCardSchema = z
  .strictObject({
    schemaVersion: z.literal(MODEL_CARD_SCHEMA_VERSION),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, ".", "_" and "-", at most 64'),
    version: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]{0,31}$/, 'letters, digits, ".", "+", "_" and "-", at most 32'),
    vendor: z.string().max(200).default(''),
    description: z.string().max(4000).default(''),
    licence: z.string().min(1).max(200),
    intendedStructures: z.array(tg263Name).min(1),
    input: z.strictObject({
      /** The graph input to feed; may be omitted when the graph has exactly one input. */
      name: z.string().min(1).optional(),
      /** 3d: patches of D x H x W; 2d: one slice at a time; 2.5d: a slice with its neighbours as channels. */
      kind: z.enum(['3d', '2d', '2.5d']),
      axisOrder: z.enum(['NCDHW', 'NDHWC', 'NCHW', 'NHWC']),
      /** 1 for 3d and 2d; for 2.5d the number of neighbouring slices stacked, odd, centred on the slice. */
      channels: z.int().min(1).max(15),
      /** [x, y, z] in mm, or "native" to keep the CT's grid; z of a 2d or 2.5d model may be null (native slices). */
      spacingMm: z.union([z.literal('native'), z.tuple([positiveMm, positiveMm, positiveMm.nullable()])]),
      /** [D, H, W] for 3d, [H, W] for 2d and 2.5d. */
      patchSize: z.array(z.int().min(1).max(1024)).min(2).max(3),
      /** Fraction of a patch shared by neighbouring windows, per axis (nnU-Net uses 0.5). */
      overlap: z.number().min(0).max(0.9).default(0.5),
      /** Gaussian importance weighting of each window: sigma as a fraction of the patch size (0 = flat). */
      gaussianSigmaScale: z.number().min(0).max(1).default(0.125),
      normalisation,
    }),
    output: z.strictObject({
      /** The graph output to read; may be omitted when the graph has exactly one output. */
      name: z.string().min(1).optional(),
      /** softmax and argmax: one label per voxel (argmax over channels); sigmoid: each channel thresholded. */
      activation: z.enum(['softmax', 'sigmoid', 'argmax']),
      /** Probability threshold for sigmoid outputs. */
      threshold: z.number().gt(0).lt(1).default(0.5),
      /** Output channel -> TG-263 structure; channels not listed are background. */
      labels: z.array(z.strictObject({ channel: z.int().min(0).max(255), structure: tg263Name })).min(1),
    }),
    /** Post-processing per structure; `default` applies to every structure without an entry of its own. */
    postprocessing: z
      .strictObject({
        default: postprocessingStep.optional(),
        structures: z.record(tg263Name, postprocessingStep).optional(),
      })
      .default({}),
  })
  .superRefine((card, ctx) => {
    const { input, output } = card;
    const spatialRank = input.kind === '3d' ? 3 : 2;
    if (input.axisOrder.length - 2 !== spatialRank) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'axisOrder'],
        message: `a ${input.kind} model takes ${spatialRank + 2}-dimensional input, ${input.axisOrder} has ${input.axisOrder.length}`,
      });
    }
    if (input.patchSize.length !== spatialRank) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'patchSize'],
        message: `a ${input.kind} model's patch has ${spatialRank} sizes (${spatialRank === 3 ? 'D, H, W' : 'H, W'}), not ${input.patchSize.length}`,
      });
    }
    if (input.kind === '2.5d' && (input.channels < 3 || input.channels % 2 === 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'channels'],
        message: 'a 2.5d model stacks an odd number (3 or more) of neighbouring slices as channels',
      });
    }
    if (input.kind !== '2.5d' && input.channels !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'channels'],
        message: `a ${input.kind} model takes the CT as its single channel`,
      });
    }
    if (input.kind === '3d' && Array.isArray(input.spacingMm) && input.spacingMm[2] === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['input', 'spacingMm'],
        message: 'a 3d model needs a z spacing (or "native" for all axes)',
      });
    }
    const seenChannels = new Map<number, number>();
    const seenStructures = new Map<string, number>();
    output.labels.forEach((label, i) => {
      const sameChannel = seenChannels.get(label.channel);
      if (sameChannel !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['output', 'labels', i, 'channel'],
          message: `channel ${label.channel} is already mapped by labels[${sameChannel}]`,
        });
      const sameStructure = seenStructures.get(label.structure);
      if (sameStructure !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['output', 'labels', i, 'structure'],
          message: `${label.structure} is already produced by labels[${sameStructure}]`,
        });
      if (!card.intendedStructures.includes(label.structure))
        ctx.addIssue({
          code: 'custom',
          path: ['output', 'labels', i, 'structure'],
          message: `${label.structure} is not among intendedStructures`,
        });
      if (output.activation !== 'sigmoid' && label.channel === 0)
        ctx.addIssue({
          code: 'custom',
          path: ['output', 'labels', i, 'channel'],
          message: `with ${output.activation}, channel 0 is background; labels start at channel 1`,
        });
      seenChannels.set(label.channel, i);
      seenStructures.set(label.structure, i);
    });
    for (const structure of card.intendedStructures) {
      if (!seenStructures.has(structure))
        ctx.addIssue({
          code: 'custom',
          path: ['intendedStructures'],
          message: `${structure} has no output channel in output.labels`,
        });
    }
    for (const structure of Object.keys(card.postprocessing.structures ?? {})) {
      if (!seenStructures.has(structure))
        ctx.addIssue({
          code: 'custom',
          path: ['postprocessing', 'structures', structure],
          message: `${structure} is not produced by the model (not in output.labels)`,
        });
    }
  });

export type ModelCard = z.output<typeof modelCardSchema>;
export type ModelCardInput = z.input<typeof modelCardSchema>;
export type ModelNormalisation = ModelCard['input']['normalisation'];
export type PostprocessingStep = z.output<typeof postprocessingStep>;

/** Parses a model card, or throws INVALID_INPUT listing every problem with its JSON path and the source. */
export function parseModelCard(value: unknown, source: string): ModelCard {
  const result = modelCardSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length === 0 ? '(card)' : issue.path.map(String).join('.');
    return `  ${where}: ${issue.message}`;
  });
  throw new AppError('INVALID_INPUT', `${source}: invalid model card\n${problems.join('\n')}`);
}

/** Parses the JSON text of a model card (see parseModelCard). */
export function parseModelCardJson(text: string, source: string): ModelCard {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AppError('INVALID_INPUT', `${source}: not JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  return parseModelCard(value, source);
}

/** The post-processing steps that apply to one structure. */
export function postprocessingFor(card: ModelCard, structure: string): PostprocessingStep {
  return card.postprocessing.structures?.[structure] ?? card.postprocessing.default ?? {};
}

/** `name@version`, the way models are named on the command line and in the API. */
export function modelReference(card: Pick<ModelCard, 'name' | 'version'>): string {
  return `${card.name}@${card.version}`;
}

/** Splits `name@version`; throws INVALID_ARGUMENT naming the expected form. */
export function parseModelReference(reference: string): { name: string; version: string } {
  const at = reference.lastIndexOf('@');
  if (at <= 0 || at === reference.length - 1)
    throw new AppError(
      'INVALID_ARGUMENT',
      `model "${reference}": expected NAME@VERSION, e.g. demo-unet@1.0.0`,
    );
  return { name: reference.slice(0, at), version: reference.slice(at + 1) };
}
