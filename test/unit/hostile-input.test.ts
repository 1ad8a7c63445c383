import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rasteriseRoi } from '../../src/lib/core/contours/rasterise';
import type { Roi } from '../../src/lib/core/contours/structure-set';
import type { ImageGrid } from '../../src/lib/core/geometry/image-grid';
import { defaultPhantomGrid } from '../../src/lib/core/phantom/breast-phantom';
import { axisAlignedAffine, type Vec3 } from '../../src/lib/core/volume/volume';
import { generateDemoCase, planDemoCohort } from '../../src/lib/server/services/demo.service';
import type { HostileBase, VariantResult, VariantSpec } from '../helpers/hostile-parse';
import { mulberry32 } from '../helpers/random';

/*
 * Fuzzes the DICOM (CT slice, RTSTRUCT) and NIfTI readers with seeded mutations of the test data and of
 * what the demo generator writes. Every variant must end, within a bound, in success or an AppError whose
 * message names the file; a crash (any other exception, a dead worker) or a hang fails the test. Each
 * variant is reproducible from its base, mutation and seed, which the failure list prints.
 * HOSTILE_SEED=n draws other variants, HOSTILE_SCALE=k draws k times as many (a longer search).
 */

const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_129);
const SCALE = Number(process.env.HOSTILE_SCALE ?? 1);
/** Bound on one variant (a hang detector, not a performance target). */
const VARIANT_BOUND_MS = 5_000;
/** A worker silent this long is stuck: it is stopped and the variant counted as a hang. */
const HANG_MS = 15_000;
const THREADS = 1;

const testdata = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/testdata');
const breast = path.join(testdata, 'dicom/breast-dicompyler');
const metrics = path.join(testdata, 'metrics');

type Outcome = VariantResult['outcome'] | 'hang';
type Result = Omit<VariantResult, 'outcome'> & { outcome: Outcome; spec: VariantSpec };

const dicomWeights: Record<string, number> = {
  flip: 5,
  flipAnywhere: 1,
  truncate: 3,
  insert: 2,
  delete: 2,
  length: 5,
  itemLength: 3,
  vr: 2,
  transferSyntax: 2,
  value: 8,
  contourData: 0,
  zigzag: 0,
  nesting: 1,
  manyItems: 1,
  garbage: 1,
};
const niftiWeights: Record<string, number> = {
  header: 8,
  bigEndian: 1,
  hugeDims: 2,
  flipHeader: 3,
  flipAnywhere: 1,
  truncate: 2,
  insert: 1,
  delete: 1,
  gzip: 4,
};

function weighted(weights: Record<string, number>): string[] {
  return Object.entries(weights).flatMap(([name, weight]) => Array<string>(weight).fill(name));
}

/** The variants to run: for each base, `count` mutations drawn from its weights, each with its own seed. */
function plan(bases: Array<{ base: HostileBase; count: number; weights: Record<string, number> }>) {
  const random = mulberry32(SEED);
  const specs: VariantSpec[] = [];
  for (const { base, count, weights } of bases) {
    const names = weighted(weights);
    for (let n = 0; n < count * SCALE; n++) {
      specs.push({
        id: specs.length,
        base: base.name,
        mutation: names[Math.floor(random() * names.length)]!,
        seed: Math.floor(random() * 2 ** 31),
      });
    }
  }
  return specs;
}

function startWorker(bases: HostileBase[], scratch: string): Worker {
  const tsx = pathToFileURL(path.resolve('node_modules/tsx/dist/esm/api/index.mjs')).href;
  const entry = pathToFileURL(path.resolve('test/helpers/hostile-parse.ts')).href;
  const source = `import { register } from ${JSON.stringify(tsx)};
register({ tsconfig: false });
await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), {
    workerData: { bases, scratch },
    resourceLimits: { maxOldGenerationSizeMb: 1536 },
  });
}

/**
 * Runs every variant on `threads` worker threads, one variant at a time per thread. A thread that does
 * not answer within HANG_MS is terminated (the variant is a hang) and replaced; a thread that dies marks
 * its variant as a crash and is replaced.
 */
async function runVariants(specs: VariantSpec[], bases: HostileBase[], scratch: string): Promise<Result[]> {
  const results: Result[] = [];
  let next = 0;
  const lane = async () => {
    let worker: Worker | null = null;
    const fresh = async () => {
      const started = startWorker(bases, scratch);
      await new Promise<void>((resolve, reject) => {
        started.once('message', () => resolve());
        started.once('error', reject);
      });
      return started;
    };
    while (next < specs.length) {
      const spec = specs[next++]!;
      worker ??= await fresh();
      const current: Worker = worker;
      const answer = await new Promise<Result>((resolve) => {
        const base = { id: spec.id, source: spec.base, description: `${spec.mutation} #${spec.seed}`, spec };
        const timer = setTimeout(() => {
          resolve({ ...base, outcome: 'hang', ms: HANG_MS });
        }, HANG_MS);
        const done = (result: Result) => {
          clearTimeout(timer);
          current.removeAllListeners('message');
          current.removeAllListeners('error');
          current.removeAllListeners('exit');
          resolve(result);
        };
        current.on('message', (reply: VariantResult) => done({ ...reply, spec }));
        current.on('error', (error) =>
          done({ ...base, outcome: 'crash', message: `worker error: ${error.message}`, ms: 0 }),
        );
        current.on('exit', (code) =>
          done({ ...base, outcome: 'crash', message: `worker exited with code ${code}`, ms: 0 }),
        );
        current.postMessage(spec);
      });
      results.push(answer);
      if (answer.outcome === 'hang' || answer.outcome === 'crash') {
        await current.terminate();
        worker = null;
      }
    }
    await worker?.terminate();
  };
  await Promise.all(Array.from({ length: THREADS }, lane));
  return results.sort((a, b) => a.id - b.id);
}

function problem(result: Result): string | null {
  const where = `${result.spec.base} ${result.spec.mutation} seed ${result.spec.seed} (${result.description})`;
  if (result.outcome === 'hang') return `${where}: no answer within ${HANG_MS} ms`;
  if (result.outcome === 'crash') return `${where}: crashed: ${result.message}`;
  if (result.ms > VARIANT_BOUND_MS) return `${where}: took ${Math.round(result.ms)} ms`;
  if (result.outcome === 'error') {
    if (result.code !== 'INVALID_INPUT') return `${where}: error code ${result.code}: ${result.message}`;
    if (!result.message?.includes(result.source))
      return `${where}: the message does not name ${result.source}: ${result.message}`;
  }
  return null;
}

let dir: string;
let demoCase: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-hostile-'));
  // one demo case as the generator writes it, on a coarse grid so it is written in about a second
  const options = { sites: 1, casesPerSite: 1, seed: 41 };
  const demoPlan = planDemoCohort(options)[0]!;
  demoPlan.grid = defaultPhantomGrid([4, 4, 8], 400);
  const written = await generateDemoCase(dir, options, demoPlan);
  demoCase = path.join(dir, written.folder);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hostile input', () => {
  it('ends every mutated DICOM and NIfTI file in success or an error naming the file, in bounded time', async () => {
    const breastCt = (n: number) => path.join(breast, 'series', `CT.${String(n).padStart(3, '0')}.dcm`);
    const demoCt = (await readdir(path.join(demoCase, 'CT'))).sort().map((f) => path.join(demoCase, 'CT', f));
    const demoRs = (await readdir(demoCase)).filter((f) => f.startsWith('RS.')).sort();
    const bases: Array<{ base: HostileBase; count: number; weights: Record<string, number> }> = [
      {
        base: { name: 'breast-CT.000', kind: 'ct', path: breastCt(0), series: [1, 2, 3].map(breastCt) },
        count: 110,
        weights: dicomWeights,
      },
      {
        base: {
          name: 'breast-rtss',
          kind: 'rtstruct',
          path: path.join(breast, 'series', 'rtss.dcm'),
          series: Array.from({ length: 98 }, (_, n) => breastCt(n)),
          coarsen: 4,
        },
        count: 100,
        weights: { ...dicomWeights, contourData: 4, zigzag: 3 },
      },
      {
        base: { name: 'demo-CT', kind: 'ct', path: demoCt[10]!, series: demoCt.slice(11, 14) },
        count: 90,
        weights: dicomWeights,
      },
      ...demoRs.slice(0, 2).map((file) => ({
        base: {
          name: `demo-${file}`,
          kind: 'rtstruct' as const,
          path: path.join(demoCase, file),
          series: demoCt,
        },
        count: 50,
        weights: { ...dicomWeights, contourData: 4, zigzag: 3 },
      })),
      ...[
        'c01_identical/ref.nii.gz',
        'c03_sphere_shift_z_2slices/test.nii',
        'c07_holes/test.nii.gz',
        'c12_fp_island/ref.nii.gz',
      ].map((file) => ({
        base: { name: file.replace('/', '-'), kind: 'nifti' as const, path: path.join(metrics, file) },
        count: 40,
        weights: niftiWeights,
      })),
      {
        base: {
          name: 'breast-mask-Heart',
          kind: 'nifti',
          path: path.join(breast, 'masks', '05_Heart.nii.gz'),
        },
        count: 12,
        weights: niftiWeights,
      },
    ];
    const specs = plan(bases);
    const results = await runVariants(
      specs,
      bases.map((b) => b.base),
      path.join(dir, 'variants'),
    );

    expect(results).toHaveLength(specs.length);
    expect(specs.length).toBeGreaterThanOrEqual(500);
    expect(results.map(problem).filter((p) => p !== null)).toEqual([]);
    // the mutations reach both ends: some variants still read, most are refused
    const count = (outcome: Outcome, kind: string) =>
      results.filter((r) => r.outcome === outcome && r.spec.base.includes(kind)).length;
    for (const kind of ['CT', 'rtss', 'RS.', 'nii']) {
      expect(count('ok', kind), `${kind} variants that still read`).toBeGreaterThan(0);
      expect(count('error', kind), `${kind} variants refused`).toBeGreaterThan(0);
    }
  }, 240_000);

  it('refuses a contour that zigzags across every row before computing its crossings', () => {
    const dims: Vec3 = [512, 512, 1];
    const spacingMm: Vec3 = [1, 1, 3];
    const grid: ImageGrid = {
      dims,
      spacingMm,
      rowLps: [1, 0, 0],
      columnLps: [0, 1, 0],
      normalLps: [0, 0, 1],
      slicePositionLps: [[0, 0, 0]],
      slicePositionsMm: [0],
      affineIjkToLps: axisAlignedAffine(spacingMm),
      frameOfReferenceUid: '1.2.3',
    };
    // 200 000 points, each edge from y = -1 m to y = +1 m: 10^8 crossings, 800 MB of them
    const count = 200_000;
    const pointsLps = new Float64Array(count * 3);
    for (let p = 0; p < count; p++) {
      pointsLps[3 * p] = (p / count) * 500;
      pointsLps[3 * p + 1] = p % 2 === 0 ? -1000 : 1000;
    }
    const roi: Roi = {
      number: 1,
      name: 'Zigzag',
      colourRgb: null,
      interpretedType: null,
      observationLabel: null,
      interpreter: null,
      generationAlgorithm: null,
      contours: [{ geometricType: 'CLOSED_PLANAR', pointsLps, referencedSopInstanceUids: [] }],
    };
    const started = performance.now();
    expect(() => rasteriseRoi(roi, grid)).toThrowError(
      /^ROI "Zigzag": its contours on slice 0 cross the voxel rows 102400000 times, more than the 3097152/,
    );
    expect(performance.now() - started).toBeLessThan(VARIANT_BOUND_MS);
  });
});
