// Builds the demo models in models/ (or OUT_DIR) from the demo cohort's training split:
//   npx tsx scripts/build-demo-models.ts [OUT_DIR]
// thorax-context-net 1.0 is fitted on the first case of site NORTH only, 2.0 on the first case of every
// site; thorax-threshold 1.0 is a classical graph with no fitted weights. Deterministic: the same code
// gives the same bytes (onnxruntime runs single-threaded for the features).
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fillWindowInput, patchOf, prepareModelImage } from '../src/lib/core/inference/pipeline';
import { resampleLinear } from '../src/lib/core/inference/resample';
import { parseModelCard, type ModelCard, type ModelCardInput } from '../src/lib/core/models/model-card';
import { mulberry32 } from '../src/lib/core/phantom/random';
import { OnnxSession, type FloatTensor } from '../src/lib/server/inference/onnx';
import {
  defaultDemoOptions,
  planDemoCohort,
  renderDemoCase,
  type DemoCasePlan,
} from '../src/lib/server/services/demo.service';
import {
  CONTEXT_FEATURES,
  CONTEXT_STRUCTURES,
  LEVEL1_CHANNELS,
  LEVEL2_CHANNELS,
  LOCAL_CHANNELS,
  contextCard,
  contextFeatureGraph,
  contextNetworkGraph,
  thresholdCard,
  thresholdGraph,
  upsampledAt,
  type ContextHead,
} from './onnx/demo-models';
import { fitHead, headLogits, type TrainingSet } from './onnx/fit-head';

const UNIFORM_SAMPLES = 60_000;
const BOUNDARY_SAMPLES = 60_000;
const FIT = { hidden: 16, epochs: 8, batchSize: 256, learningRate: 0.01, weightDecay: 1e-4 };

interface CaseSamples {
  site: string;
  patientId: string;
  set: TrainingSet;
  /** the case's model input, for checking the exported graph */
  input: FloatTensor;
  /** flat indices (padded model grid) of the samples */
  voxels: Uint32Array;
}

/** The feature vector of padded-grid voxel `v`: local channels, then level 1 and level 2 upsampled. */
function featureRow(
  outputs: FloatTensor[],
  patch: readonly number[],
  v: number,
  row: Float32Array,
  offset: number,
): void {
  const [local, level1, level2] = outputs as [FloatTensor, FloatTensor, FloatTensor];
  const plane = patch[1]! * patch[2]!;
  const z = Math.floor(v / plane);
  const y = Math.floor((v % plane) / patch[2]!);
  const x = v % patch[2]!;
  const volume = plane * patch[0]!;
  let f = offset;
  for (let c = 0; c < LOCAL_CHANNELS; c += 1) row[f++] = local.data[c * volume + v]!;
  for (let c = 0; c < LEVEL1_CHANNELS; c += 1) row[f++] = upsampledAt(level1, c, patch, z, y, x);
  for (let c = 0; c < LEVEL2_CHANNELS; c += 1) row[f++] = upsampledAt(level2, c, patch, z, y, x);
}

async function caseSamples(
  plan: DemoCasePlan,
  card: ModelCard,
  features: OnnxSession,
  seed: number,
): Promise<CaseSamples> {
  const { phantom, ct } = renderDemoCase(plan);
  const model = prepareModelImage(ct, card);
  const patch = patchOf(card);
  const [nx, ny, nz] = model.grid.dims;
  if (nz > patch[0] || ny > patch[1] || nx > patch[2])
    throw new Error(`${plan.patientId}: model grid ${nx}x${ny}x${nz} exceeds the patch ${patch.join('x')}`);
  const input: FloatTensor = { data: fillWindowInput(model, card, [0, 0, 0]), dims: [1, 1, ...patch] };
  const outputs = await features.runOutputs('image', input, ['local', 'level1', 'level2']);

  // soft targets on the model grid: the fraction of each voxel inside the structure
  const targets = CONTEXT_STRUCTURES.map((name) => {
    const structure = phantom.structures.find((s) => s.tg263Name === name);
    if (structure === undefined) throw new Error(`${plan.patientId}: the phantom has no ${name}`);
    return resampleLinear(structure.mask, ct.dims, model.grid.dims);
  });
  // samples: uniform over the volume, and as many again near a structure boundary
  const random = mulberry32(seed);
  const voxels = nx * ny * nz;
  const boundary: number[] = [];
  for (let v = 0; v < voxels; v += 1) {
    const i = v % nx;
    const j = Math.floor(v / nx) % ny;
    for (const t of targets) {
      const inside = t[v]! >= 0.5;
      const edge =
        (t[v]! > 0.02 && t[v]! < 0.98) ||
        (i >= 2 && t[v - 2]! >= 0.5 !== inside) ||
        (i < nx - 2 && t[v + 2]! >= 0.5 !== inside) ||
        (j >= 2 && t[v - 2 * nx]! >= 0.5 !== inside) ||
        (j < ny - 2 && t[v + 2 * nx]! >= 0.5 !== inside);
      if (edge) {
        boundary.push(v);
        break;
      }
    }
  }
  const n = UNIFORM_SAMPLES + BOUNDARY_SAMPLES;
  const set: TrainingSet = {
    features: new Float32Array(n * CONTEXT_FEATURES),
    targets: new Float32Array(n * CONTEXT_STRUCTURES.length),
    samples: n,
    featureCount: CONTEXT_FEATURES,
    outputs: CONTEXT_STRUCTURES.length,
  };
  const padded = new Uint32Array(n);
  for (let s = 0; s < n; s += 1) {
    const v =
      s < UNIFORM_SAMPLES ? Math.floor(random() * voxels) : boundary[Math.floor(random() * boundary.length)]!;
    const i = v % nx;
    const j = Math.floor(v / nx) % ny;
    const k = Math.floor(v / (nx * ny));
    const p = (k * patch[1] + j) * patch[2] + i;
    padded[s] = p;
    featureRow(outputs, patch, p, set.features, s * CONTEXT_FEATURES);
    targets.forEach((t, c) => {
      set.targets[s * CONTEXT_STRUCTURES.length + c] = t[v]!;
    });
  }
  return { site: plan.site.code, patientId: plan.patientId, set, input, voxels: padded };
}

function merge(parts: TrainingSet[]): TrainingSet {
  const samples = parts.reduce((a, p) => a + p.samples, 0);
  const features = new Float32Array(samples * CONTEXT_FEATURES);
  const targets = new Float32Array(samples * CONTEXT_STRUCTURES.length);
  let s = 0;
  for (const p of parts) {
    features.set(p.features, s * CONTEXT_FEATURES);
    targets.set(p.targets, s * CONTEXT_STRUCTURES.length);
    s += p.samples;
  }
  return { features, targets, samples, featureCount: CONTEXT_FEATURES, outputs: CONTEXT_STRUCTURES.length };
}

/** Runs the exported graph on a training input and compares its logits with the fitted head's. */
async function checkExport(bytes: Uint8Array, head: ContextHead, check: CaseSamples): Promise<number> {
  const session = await OnnxSession.load(bytes, 'exported context network', { intraOpThreads: 1 });
  try {
    const out = await session.run('image', check.input, 'logits');
    const volume = check.input.data.length;
    let worst = 0;
    for (let s = 0; s < 2000; s += 1) {
      const q = Math.floor((s * check.set.samples) / 2000);
      const expected = headLogits(
        head,
        check.set.features.subarray(q * CONTEXT_FEATURES, (q + 1) * CONTEXT_FEATURES),
      );
      for (let k = 0; k < head.outputs; k += 1)
        worst = Math.max(worst, Math.abs(out.data[k * volume + check.voxels[q]!]! - expected[k]!));
    }
    if (worst > 1e-3) throw new Error(`the exported graph differs from the fitted head by ${worst}`);
    return worst;
  } finally {
    await session.release();
  }
}

async function write(out: string, card: ModelCardInput, bytes: Uint8Array): Promise<void> {
  parseModelCard(card, `${card.name}@${card.version}`);
  const base = path.join(out, `${card.name}-${card.version}`);
  await writeFile(`${base}.onnx`, bytes);
  await writeFile(`${base}.json`, `${JSON.stringify(card, null, 2)}\n`);
  const sha = createHash('sha256').update(bytes).digest('hex');
  process.stdout.write(`${base}.onnx  ${bytes.length} bytes  sha256 ${sha}\n`);
}

const out = process.argv[2] ?? 'models';
await mkdir(out, { recursive: true });
const started = performance.now();
const seconds = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const training = planDemoCohort(defaultDemoOptions).filter((p) => p.split === 'train');
const card = parseModelCard(contextCard('0', ''), 'context network card');
const features = await OnnxSession.load(contextFeatureGraph(), 'context features', { intraOpThreads: 1 });
const cases: CaseSamples[] = [];
for (const [n, plan] of training.entries()) {
  cases.push(await caseSamples(plan, card, features, 1000 + n));
  process.stdout.write(
    `features of ${plan.patientId} (${plan.scanner.tags.convolutionKernel}) ${seconds()}\n`,
  );
}
await features.release();

const variants = [
  {
    version: '1.0',
    sites: ['NORTH'],
    description:
      'Fixed multi-scale context features (soft HU tissue classes, averaged at 10 x 12 x 12 and 20 x 24 x 24 mm ' +
      'and sampled at offsets up to 10 cm) and a two-layer per-voxel classifier fitted to one demo case ' +
      'of site NORTH (Siemens, Br40) only: expect it to do worse on other scanners.',
  },
  {
    version: '2.0',
    sites: [...new Set(cases.map((c) => c.site))],
    description:
      'The 1.0 architecture refitted to one demo case of every site (Siemens Br40, GE STANDARD, Philips B).',
  },
];
for (const variant of variants) {
  const chosen = cases.filter((c) => variant.sites.includes(c.site));
  const { head, loss } = fitHead(merge(chosen.map((c) => c.set)), {
    ...FIT,
    seed: 7,
    onEpoch: (epoch, l) =>
      process.stdout.write(`  ${variant.version} epoch ${epoch}: loss ${l.toFixed(4)} ${seconds()}\n`),
  });
  const modelCard = contextCard(
    variant.version,
    `${variant.description} Training cases: ${chosen.map((c) => c.patientId).join(', ')}; ` +
      `final mean binary cross-entropy ${loss.toFixed(4)}.`,
  );
  const bytes = contextNetworkGraph(head, `thorax-context-net ${variant.version}`);
  const worst = await checkExport(bytes, head, chosen[0]!);
  process.stdout.write(`  exported graph matches the fitted head within ${worst.toExponential(1)}\n`);
  await write(out, modelCard, bytes);
}
await write(out, thresholdCard(), thresholdGraph());
process.stdout.write(`done in ${seconds()}\n`);
