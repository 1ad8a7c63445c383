/**
 * Benchmarks. `npm run bench -- metrics [--json]` times the full metric set in-process on the
 * 512x512x120 case of the shared test data and on a synthetic 2000 cc lung-like pair: median, minimum and
 * maximum of 7 runs after 2 warm-up runs, single thread, file reading timed separately.
 * `npm run bench -- inference` runs every model family through the pipeline on a body-sized synthetic CT:
 * a bare session.run on one patch against the pipeline's time per window (run plus window preparation and
 * accumulation), the overhead share, and the whole volume; then the demo models on a held-out demo case
 * of each site. `npm run bench -- evaluation` measures cases per minute of an evaluation run with 1 and 2
 * worker processes. `npm run bench -- api` seeds 100,000 metric rows and times each /api/v1 endpoint
 * (p50, p95, max of 40 sequential requests). `npm run bench -- dvh` times every structure's DVH and the
 * default breast dose metrics on a demo-sized phantom case with a 2.5 mm dose grid.
 */
import { FAMILY_BUILDERS, thresholdModel } from './onnx/family-models';
import {
  fillWindowInput,
  prepareModelImage,
  segmentVolume,
  windowInputDims,
  type WindowRunner,
} from '../src/lib/core/inference/pipeline';
import { parseModelCard, parseModelCardJson, type ModelCard } from '../src/lib/core/models/model-card';
import { checkGraphAgainstCard } from '../src/lib/core/models/model-io';
import { OnnxSession } from '../src/lib/server/inference/onnx';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeMetrics } from '../src/lib/core/metrics/metric-set';
import { Workspace } from '../src/lib/core/metrics/workspace';
import { axisAlignedAffine, type Mask, type Vec3, type Volume } from '../src/lib/core/volume/volume';
import { rasteriseRoi } from '../src/lib/core/contours/rasterise';
import {
  DEFAULT_BREAST_DOSE_METRICS,
  evaluateDoseMetrics,
  parseDoseMetricList,
  resolveDoseMetrics,
} from '../src/lib/core/dose/dose-metrics';
import { computeDvh } from '../src/lib/core/dose/dvh';
import { resampleDoseToGrid, sampleDoseInMask } from '../src/lib/core/dose/resample-dose';
import {
  defaultPhantomGrid,
  generatePhantom,
  type PhantomGrid,
} from '../src/lib/core/phantom/breast-phantom';
import { binaryMaskSummary, foregroundBox } from '../src/lib/core/volume/crop';
import { buildImageSeries, scanDicomFolder } from '../src/lib/server/io/ct-series';
import { readMaskPair } from '../src/lib/server/io/nifti-file';
import { readStructureSet } from '../src/lib/server/io/rtstruct';
import { writeRtStruct } from '../src/lib/server/io/rtstruct-writer';
import { MetricPool } from '../src/lib/server/services/metric-pool';
import { loadConfig } from '../src/lib/server/config';
import { dropDatabase, ensureDatabaseExists, openDatabase } from '../src/lib/server/db/database';
import { type Db, withDatabase } from '../src/lib/server/db/connection';
import type { RoleName } from '../src/lib/core/access/permissions';
import { createApiToken, createUser } from '../src/lib/server/services/account.service';
import { seedAnalytics } from '../src/lib/server/services/analytics-seed.service';
import { refreshAlarms } from '../src/lib/server/services/drift.service';
import { saveCriteriaSet } from '../src/lib/server/services/model-comparison.service';
import { createLogger } from '../src/lib/server/logger';
import { findRun } from '../src/lib/server/repositories/evaluation-run.repository';
import {
  defaultDemoOptions,
  generateDemoCohort,
  planDemoCohort,
  renderDemoCase,
} from '../src/lib/server/services/demo.service';
import { registerModelsInFolder } from '../src/lib/server/services/demo-evaluation.service';
import { createEvaluationRun, getRunProgress } from '../src/lib/server/services/evaluation-run.service';
import { importDicom } from '../src/lib/server/services/import.service';
import { prepareJobQueue } from '../src/lib/server/services/worker.service';
import { FileBlobStore } from '../src/lib/server/storage/blob-store';

interface BenchRow {
  case: string;
  voxels: number;
  reference_cc: number;
  test_cc: number;
  read_ms: number | null;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  peak_rss_mb: number;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sharedMetrics = path.resolve(root, '../shared/testdata/metrics');

/** A filled ellipsoid with semi-axes in mm, centred at `centreMm` (grid coordinates in mm). */
function ellipsoid(dims: Vec3, spacingMm: Vec3, centreMm: Vec3, semiAxesMm: Vec3): Mask {
  const [nx, ny, nz] = dims;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) {
    const z = (k * spacingMm[2] - centreMm[2]) / semiAxesMm[2];
    for (let j = 0; j < ny; j++) {
      const y = (j * spacingMm[1] - centreMm[1]) / semiAxesMm[1];
      const base = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const x = (i * spacingMm[0] - centreMm[0]) / semiAxesMm[0];
        if (x * x + y * y + z * z <= 1) data[base + i] = 1;
      }
    }
  }
  return { data, dims, spacingMm, affineIjkToLps: axisAlignedAffine(spacingMm) };
}

function lungPair(): { reference: Mask; test: Mask } {
  const dims: Vec3 = [512, 512, 120];
  const spacingMm: Vec3 = [0.98, 0.98, 2.5];
  // 4/3·π·60·80·100 mm³ ≈ 2011 cc; the test is 3% wider, 4% shorter and 2.9 mm off-centre
  const reference = ellipsoid(dims, spacingMm, [250, 250, 150], [60, 80, 100]);
  const test = ellipsoid(dims, spacingMm, [252, 248.5, 151], [62, 78, 96]);
  return { reference, test };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function timeCase(name: string, reference: Mask, test: Mask, readMs: number | null): BenchRow {
  const workspace = new Workspace();
  for (let n = 0; n < 2; n++) computeMetrics(reference, test, {}, workspace);
  const times: number[] = [];
  let result = computeMetrics(reference, test, {}, workspace);
  for (let n = 0; n < 7; n++) {
    const started = performance.now();
    result = computeMetrics(reference, test, {}, workspace);
    times.push(performance.now() - started);
  }
  return {
    case: name,
    voxels: reference.data.length,
    reference_cc: Math.round(result.volumeReferenceCc * 10) / 10,
    test_cc: Math.round(result.volumeTestCc * 10) / 10,
    read_ms: readMs === null ? null : Math.round(readMs * 10) / 10,
    median_ms: Math.round(median(times) * 10) / 10,
    min_ms: Math.round(Math.min(...times) * 10) / 10,
    max_ms: Math.round(Math.max(...times) * 10) / 10,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/**
 * Whole-case throughput: a case of `pairs.length` structures computed one after another on this thread,
 * and on a pool of worker threads; reported per structure.
 */
async function timeCase8(
  pairs: Array<{ reference: Mask; test: Mask }>,
  threads: number,
): Promise<BenchRow[]> {
  const perStructure = (times: number[]) => times.map((t) => t / pairs.length);
  const workspace = new Workspace();
  const sequential: number[] = [];
  for (let run = 0; run < 9; run++) {
    const started = performance.now();
    for (const { reference, test } of pairs) computeMetrics(reference, test, {}, workspace);
    if (run >= 2) sequential.push(performance.now() - started);
  }
  const pool = new MetricPool(threads);
  const pooled: number[] = [];
  try {
    for (let run = 0; run < 9; run++) {
      const started = performance.now();
      await Promise.all(pairs.map(({ reference, test }) => pool.compute(reference, test)));
      if (run >= 2) pooled.push(performance.now() - started);
    }
  } finally {
    await pool.close();
  }
  const row = (name: string, times: number[]): BenchRow => ({
    case: name,
    voxels: pairs[0].reference.data.length,
    reference_cc: NaN,
    test_cc: NaN,
    read_ms: null,
    median_ms: Math.round(median(times) * 10) / 10,
    min_ms: Math.round(Math.min(...times) * 10) / 10,
    max_ms: Math.round(Math.max(...times) * 10) / 10,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  });
  return [
    row(`case of ${pairs.length} structures, 1 thread, per structure`, perStructure(sequential)),
    row(`case of ${pairs.length} structures, ${threads} threads, per structure`, perStructure(pooled)),
  ];
}

async function benchMetrics(json: boolean): Promise<void> {
  const rows: BenchRow[] = [];
  const casePairs: Array<{ reference: Mask; test: Mask }> = [];
  const caseName = 'c11_breast_large_512';
  const caseDir = path.join(sharedMetrics, caseName);
  if (existsSync(caseDir)) {
    const started = performance.now();
    const { reference, candidate } = await readMaskPair(
      path.join(caseDir, 'ref.nii.gz'),
      path.join(caseDir, 'test.nii.gz'),
    );
    rows.push(timeCase(caseName, reference, candidate, performance.now() - started));
    casePairs.push({ reference, test: candidate });
  } else if (!json) {
    process.stdout.write(`(skipping ${caseName}: ${caseDir} not found)\n`);
  }
  const lung = lungPair();
  rows.push(timeCase('lung2000', lung.reference, lung.test, null));
  casePairs.push(lung);
  // a case of eight structures: the two pairs above, four times each
  rows.push(...(await timeCase8([...casePairs, ...casePairs, ...casePairs, ...casePairs], 2)));

  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        rows.map(({ case: name, voxels, median_ms, min_ms, max_ms, peak_rss_mb }) => ({
          case: name,
          voxels,
          median_ms,
          min_ms,
          max_ms,
          peak_rss_mb,
        })),
      )}\n`,
    );
    return;
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `Full metric set, single thread, median of 7 after 2 warm-ups; Node ${process.version}, ${cpu}, ${os.cpus().length} cores\n\n`,
  );
  const header = [
    'case',
    'voxels',
    'ref cc',
    'test cc',
    'read ms',
    'median ms',
    'min ms',
    'max ms',
    'peak RSS MB',
  ];
  const lines = rows.map((r) => [
    r.case,
    String(r.voxels),
    Number.isNaN(r.reference_cc) ? '-' : String(r.reference_cc),
    Number.isNaN(r.test_cc) ? '-' : String(r.test_cc),
    r.read_ms === null ? '-' : String(r.read_ms),
    String(r.median_ms),
    String(r.min_ms),
    String(r.max_ms),
    String(r.peak_rss_mb),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const format = (cells: string[]) => cells.map((cell, c) => cell.padStart(widths[c])).join('  ');
  process.stdout.write(`${format(header)}\n${lines.map(format).join('\n')}\n`);
}

/**
 * DICOM: reading and parsing the 98-slice breast series (MB/s), building the HU volume, and rasterising
 * every ROI of its RTSTRUCT; median of 5 runs after one warm-up.
 */
async function benchDicom(json: boolean): Promise<void> {
  const base = path.resolve(root, '../shared/testdata/dicom/breast-dicompyler/series');
  if (!existsSync(base)) throw new Error(`${base} not found`);
  const scanTimes: number[] = [];
  const buildTimes: number[] = [];
  const rasteriseTimes: number[] = [];
  const exportTimes: number[] = [];
  let megabytes = 0;
  let voxels = 0;
  for (let run = 0; run < 6; run++) {
    let started = performance.now();
    const scan = await scanDicomFolder(base);
    const scanMs = performance.now() - started;
    megabytes = scan.bytesRead / 1e6;
    started = performance.now();
    const series = buildImageSeries([...scan.imageSeries.values()][0]);
    const buildMs = performance.now() - started;
    const structureSet = readStructureSet(scan.rtStructs[0].file);
    started = performance.now();
    const masks = structureSet.rois.map((roi) => ({ roi, mask: rasteriseRoi(roi, series.grid).mask }));
    const rasteriseMs = performance.now() - started;
    started = performance.now();
    writeRtStruct({
      referencedSeries: {
        studyInstanceUid: series.studyInstanceUid,
        seriesInstanceUid: series.seriesInstanceUid,
        frameOfReferenceUid: series.grid.frameOfReferenceUid,
        sopClassUid: series.sopClassUid,
        sopInstanceUids: series.sopInstanceUids,
        grid: series.grid,
      },
      patient: { patientName: 'BENCH', patientId: 'BENCH', patientBirthDate: '', patientSex: '' },
      study: { studyDate: '', studyTime: '', studyId: '', accessionNumber: '', referringPhysicianName: '' },
      structureSet: { label: 'BENCH' },
      rois: masks
        .filter(({ mask }) => mask.data.some((v) => v !== 0))
        .map(({ roi, mask }, n) => ({
          number: n + 1,
          name: roi.name,
          colourRgb: roi.colourRgb,
          interpretedType: roi.interpretedType ?? '',
          mask,
        })),
    });
    const exportMs = performance.now() - started;
    voxels = series.volume.data.length;
    if (run === 0) continue;
    scanTimes.push(scanMs);
    buildTimes.push(buildMs);
    rasteriseTimes.push(rasteriseMs);
    exportTimes.push(exportMs);
  }
  const row = (name: string, times: number[]) => ({
    case: name,
    voxels,
    median_ms: Math.round(median(times) * 10) / 10,
    min_ms: Math.round(Math.min(...times) * 10) / 10,
    max_ms: Math.round(Math.max(...times) * 10) / 10,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  });
  const rows = [
    {
      ...row('read and parse 98 CT slices + RTSTRUCT', scanTimes),
      mb_per_s: Math.round(megabytes / (median(scanTimes) / 1000)),
    },
    row('build the HU volume', buildTimes),
    row('rasterise all 10 ROIs of the breast RTSTRUCT', rasteriseTimes),
    row('export its 9 non-empty ROIs as an RTSTRUCT', exportTimes),
  ];
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  process.stdout.write(
    `DICOM, ${megabytes.toFixed(1)} MB, median of 5 after a warm-up; Node ${process.version}\n\n`,
  );
  for (const r of rows) {
    const rate = 'mb_per_s' in r ? `  (${r.mb_per_s} MB/s)` : '';
    process.stdout.write(
      `${r.case.padEnd(46)} ${String(r.median_ms).padStart(8)} ms  [${r.min_ms} - ${r.max_ms}]${rate}\n`,
    );
  }
}

/** A bare session.run on one window's tensor (median of 20 after 5) against the pipeline (3 runs after 1). */
async function timeModel(
  ct: Volume,
  card: ModelCard,
  run: WindowRunner,
  input: Float32Array,
  dims: readonly number[],
  runs = { bare: 20, warm: 5 },
) {
  const bare: number[] = [];
  for (let r = 0; r < runs.bare + runs.warm; r++) {
    const started = performance.now();
    await run(input, dims);
    if (r >= runs.warm) bare.push(performance.now() - started);
  }
  const totals: number[] = [];
  const perWindow: number[] = [];
  const overheads: number[] = [];
  let windows = 0;
  for (let r = 0; r < 4; r++) {
    const result = await segmentVolume(ct, card, run);
    if (r === 0) continue;
    windows = result.windows;
    totals.push(result.timings.totalMs);
    perWindow.push((result.timings.inferenceMs + result.timings.windowOverheadMs) / result.windows);
    overheads.push(result.timings.windowOverheadMs / result.timings.inferenceMs);
  }
  return {
    patch: dims.join('x'),
    bare_run_ms: Math.round(median(bare) * 100) / 100,
    pipeline_window_ms: Math.round(median(perWindow) * 100) / 100,
    overhead_pct: Math.round(median(overheads) * 1000) / 10,
    windows,
    volume_ms: Math.round(median(totals)),
  };
}

async function benchInference(json: boolean): Promise<void> {
  // A body-sized synthetic CT: an elliptic water cylinder in air with a denser ellipsoid inside.
  const dims: Vec3 = [192, 160, 48];
  const spacingMm: Vec3 = [1.5, 1.5, 3];
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, v++) {
        const body = ((i - 96) / 85) ** 2 + ((j - 80) / 60) ** 2 <= 1;
        const organ = ((i - 110) / 20) ** 2 + ((j - 75) / 18) ** 2 + ((k - 24) / 9) ** 2 <= 1;
        data[v] = organ ? 45 : body ? -20 + ((i * 13 + j * 7 + k) % 21) : -1000;
      }
  const ct = { data, dims, spacingMm, affineIjkToLps: axisAlignedAffine(spacingMm) };
  const rows = [];
  for (const model of [...FAMILY_BUILDERS.map((build) => build(1)), thresholdModel()]) {
    const card = parseModelCard(model.card, model.card.name);
    const session = await OnnxSession.load(model.bytes, card.name, { intraOpThreads: 1 });
    const { io } = checkGraphAgainstCard(session.signature(), card);
    const { axisOrder, channels, patchSize } = card.input;
    const spatial = [...patchSize];
    const patchDims = [...axisOrder].map((a) =>
      a === 'N' ? 1 : a === 'C' ? channels : (spatial.shift() as number),
    );
    const input = Float32Array.from({ length: patchDims.reduce((a, b) => a * b, 1) }, (_, n) => Math.sin(n));
    const run = (x: Float32Array, d: readonly number[]) =>
      session.run(io!.input.name, { data: x, dims: d }, io!.output.name);
    rows.push({
      model: `${card.name} (${model.family})`,
      ...(await timeModel(ct, card, run, input, patchDims)),
    });
    await session.release();
  }
  rows.push(...(await benchDemoModels()));
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  process.stdout.write(
    `Inference, one intra-op thread; family test models on a CT ${dims.join('x')} at ${spacingMm.join(' x ')} mm, ` +
      `demo models on a held-out demo case of each site; medians; Node ${process.version}\n\n`,
  );
  process.stdout.write(
    `${'model'.padEnd(44)} ${'patch'.padEnd(16)} ${'run ms'.padStart(8)} ${'window ms'.padStart(10)} ${'overhead'.padStart(9)} ${'windows'.padStart(8)} ${'volume ms'.padStart(10)}\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `${r.model.padEnd(44)} ${r.patch.padEnd(16)} ${String(r.bare_run_ms).padStart(8)} ${String(r.pipeline_window_ms).padStart(10)} ${`${r.overhead_pct}%`.padStart(9)} ${String(r.windows).padStart(8)} ${String(r.volume_ms).padStart(10)}\n`,
    );
}

/**
 * The demo models in models/ on one held-out demo case of each site (rendered in memory): a bare
 * session.run on that case's first window against the pipeline's time per window, and the whole case
 * (resampling, inference, labels back on the CT grid, post-processing).
 */
async function benchDemoModels() {
  const cases = planDemoCohort(defaultDemoOptions).filter((p) => p.split === 'test' && p.index === 1);
  const rendered = cases.map((plan) => ({
    name: `${plan.patientId} ${plan.grid.dims.join('x')}`,
    ct: renderDemoCase(plan).ct,
  }));
  const rows = [];
  for (const file of ['thorax-context-net-2.0', 'thorax-threshold-1.0']) {
    const card = parseModelCardJson(await readFile(path.join(root, 'models', `${file}.json`), 'utf8'), file);
    const bytes = new Uint8Array(await readFile(path.join(root, 'models', `${file}.onnx`)));
    const session = await OnnxSession.load(bytes, file, { intraOpThreads: 1 });
    const { io } = checkGraphAgainstCard(session.signature(), card);
    const run = (x: Float32Array, d: readonly number[]) =>
      session.run(io!.input.name, { data: x, dims: d }, io!.output.name);
    for (const c of rendered) {
      const input = fillWindowInput(prepareModelImage(c.ct, card), card, [0, 0, 0]);
      const dims = windowInputDims(card);
      rows.push({
        model: `${card.name}@${card.version} ${c.name}`,
        ...(await timeModel(c.ct, card, run, input, dims, { bare: 5, warm: 2 })),
      });
    }
    await session.release();
  }
  return rows;
}

/**
 * Evaluation throughput with real worker processes: a demo cohort of `--cases` held-out and training
 * cases (default 6: 3 sites x 2) in a fresh embedded Postgres, thorax-context-net@2.0 evaluated by 1 and
 * then 2 `contourbench worker` processes (concurrency 1 each); cases per minute from the first job taken
 * to the last case stored.
 */
async function benchEvaluation(json: boolean): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-bench-'));
  const env: Record<string, string | undefined> = {
    ...process.env,
    CONTOURBENCH_DATA_DIR: dir,
    CONTOURBENCH_PG_PORT: '54391',
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  const config = loadConfig(env);
  const logger = createLogger('warn');
  const opened = await openDatabase(config, logger, { migrate: true, applicationName: 'contourbench-bench' });
  const db = opened.connection.db;
  const blobs = new FileBlobStore(path.join(dir, 'blobs'));
  const rows: Array<{ workers: number; cases: number; seconds: number; cases_per_min: number }> = [];
  try {
    const options = { sites: 3, casesPerSite: 2, seed: 2026 };
    const manifest = await generateDemoCohort(path.join(dir, 'cohort'), options);
    for (const c of manifest.cases)
      await importDicom(db, blobs, path.join(dir, 'cohort', c.folder), {
        siteCode: c.site,
        cohortName: 'bench',
      });
    await registerModelsInFolder(db, blobs, path.join(root, 'models'));
    await prepareJobQueue(opened.connection.pool, logger);
    for (const workers of [1, 2]) {
      const run = await createEvaluationRun(db, { model: 'thorax-context-net@2.0', cohort: 'bench' });
      const children = Array.from({ length: workers }, () =>
        spawn(process.execPath, [path.join(root, 'bin', 'contourbench.js'), 'worker'], {
          env,
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
      let progress = await getRunProgress(db, run.runId);
      while (progress.status === 'queued' || progress.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        progress = await getRunProgress(db, run.runId);
      }
      await Promise.all(
        children.map(
          (child) => new Promise((resolve) => child.once('exit', resolve) && child.kill('SIGTERM')),
        ),
      );
      if (progress.status !== 'succeeded') throw new Error(`bench run ${run.runId} ended ${progress.status}`);
      const { startedAt, finishedAt } = (await findRun(db, run.runId))!;
      const seconds = (new Date(finishedAt!).getTime() - new Date(startedAt!).getTime()) / 1000;
      rows.push({
        workers,
        cases: progress.total,
        seconds: Math.round(seconds * 10) / 10,
        cases_per_min: Math.round((progress.total / seconds) * 600) / 10,
      });
    }
  } finally {
    await opened.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  process.stdout.write(
    `Evaluation of thorax-context-net@2.0 over 6 demo cases (3 sites), worker processes of concurrency 1, ` +
      `${os.availableParallelism()} cores; Node ${process.version}\n\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `${r.workers} worker process(es): ${r.cases} cases in ${r.seconds} s, ${r.cases_per_min} cases/min\n`,
    );
}

/** The requests `bench api` times: what the dashboards ask, and the unfiltered worst cases beside them. */
const API_REQUESTS: Array<[string, string]> = [
  ['metrics, one structure and site, 1000 rows', 'metrics?structure=Heart&site=SEED-B&limit=1000'],
  ['metrics CSV, one model, 1000 rows', 'metrics?model=seed-net@1.1&format=csv&limit=1000'],
  ['compare/models, all structures, 3 metrics', 'compare/models?model=seed-net@1.0&model=seed-net@1.1'],
  [
    'compare/models with acceptance criteria',
    'compare/models?model=seed-net@1.0&model=seed-net@1.1&criteria=bench',
  ],
  ['sites/shift, one model', 'sites/shift?model=seed-net@1.1&metric=dice'],
  ['sites/shift, every model', 'sites/shift?metric=hd95_mm'],
  ['drift, one model and structure, per site', 'drift?model=seed-net@1.1&structure=Heart'],
  ['drift, one model, every structure and site', 'drift?model=seed-net@1.1'],
  ['observers/agreement, one structure', 'observers/agreement?structure=Heart'],
  ['observers/agreement, every structure', 'observers/agreement'],
  ['editing, one structure', 'editing?structure=Heart'],
  ['editing, every structure', 'editing'],
  ['alarms (open)', 'alarms'],
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

interface SeededServer {
  url: string;
  db: Db;
  seeded: { metricRows: number; cases: number };
}

/**
 * Seeds the 100,000-row analytics dataset (scripts/seed-analytics.ts) into a fresh database (a new one on
 * DATABASE_URL's server, else the embedded Postgres in a temporary folder), raises its alarms, stores a
 * criteria set, serves it with `contourbench serve` and hands the server to `work`.
 */
async function withSeededServer<T>(work: (server: SeededServer) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-bench-api-'));
  const logger = createLogger('warn');
  const serverUrl = process.env.DATABASE_URL;
  let benchDatabase: string | undefined;
  const env: Record<string, string | undefined> = {
    ...process.env,
    CONTOURBENCH_DATA_DIR: dir,
    CONTOURBENCH_PG_PORT: '54392',
    LOG_LEVEL: 'warn',
  };
  if (serverUrl) {
    benchDatabase = `cb_bench_api_${process.pid}`;
    await ensureDatabaseExists(serverUrl, benchDatabase);
    env.DATABASE_URL = withDatabase(serverUrl, benchDatabase);
  } else delete env.DATABASE_URL;
  const opened = await openDatabase(loadConfig(env), logger, {
    migrate: true,
    applicationName: 'contourbench-bench',
  });
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const db = opened.connection.db;
    const started = performance.now();
    const seeded = await seedAnalytics(db, { cases: 1430 });
    const seedSeconds = (performance.now() - started) / 1000;
    const alarms = await refreshAlarms(db);
    await saveCriteriaSet(db, {
      name: 'bench',
      criteria: [
        { structure: null, metric: 'dice', comparator: '>=', threshold: 0.85, minPassRate: 0.9 },
        { structure: null, metric: 'hd95_mm', comparator: '<=', threshold: 10, minPassRate: 0.9 },
      ],
    });
    process.stderr.write(
      `seeded ${seeded.cases} cases, ${seeded.metricRows} metric rows in ${seedSeconds.toFixed(1)} s; ${alarms.raised} alarms\n`,
    );
    const port = 54393;
    child = spawn(
      process.execPath,
      [path.join(root, 'bin', 'contourbench.js'), 'serve', '--port', String(port)],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child!.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('ContourBench is running at')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
    });
    return await work({ url: `http://127.0.0.1:${port}`, db, seeded });
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await opened.close();
    if (serverUrl && benchDatabase) await dropDatabase(serverUrl, benchDatabase);
    await rm(dir, { recursive: true, force: true });
  }
}

const benchActor = { userId: null, label: 'bench' };

/** A user of the role with an API token and a signed-in session (its Cookie header). */
async function benchUser(server: SeededServer, role: RoleName, email: string) {
  const password = randomBytes(18).toString('base64url');
  await createUser(server.db, { email, role, password }, benchActor);
  const { token } = await createApiToken(server.db, { email, name: 'bench' }, benchActor);
  const response = await fetch(`${server.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url, accept: 'text/html' },
    body: new URLSearchParams({ email, password, next: '/' }),
    redirect: 'manual',
  });
  const cookie = response.headers.get('set-cookie')?.split(';')[0];
  if (response.status !== 303 || !cookie) throw new Error(`sign-in of ${email} answered ${response.status}`);
  return { token, cookie };
}

/**
 * `bench api`: each /api/v1 request timed sequentially over loopback: 3 warm-up requests, then 40 timed,
 * from sending to the last byte of the body; each first computed every time (Cache-Control: no-cache),
 * then as served again from the answer cache at the same version.
 */
async function benchApi(json: boolean): Promise<void> {
  const rows: Array<{
    request: string;
    query: string;
    kb: number;
    p50_ms: number;
    p95_ms: number;
    max_ms: number;
    cached_p95_ms: number;
  }> = [];
  const seeded = await withSeededServer(async (server) => {
    const { token } = await benchUser(server, 'physicist', 'bench@contourbench.bench');
    const timeRequests = async (query: string, headers: Record<string, string>) => {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 43; i += 1) {
        const t = performance.now();
        const response = await fetch(`${server.url}/api/v1/${query}`, {
          headers: { authorization: `Bearer ${token}`, ...headers },
        });
        const body = await response.arrayBuffer();
        const ms = performance.now() - t;
        if (response.status !== 200)
          throw new Error(`${query}: ${response.status} ${Buffer.from(body).toString('utf8').slice(0, 300)}`);
        bytes = body.byteLength;
        if (i >= 3) times.push(ms);
      }
      return { times: times.sort((a, b) => a - b), bytes };
    };
    for (const [request, query] of API_REQUESTS) {
      const computed = await timeRequests(query, { 'cache-control': 'no-cache' });
      const cached = await timeRequests(query, {});
      rows.push({
        request,
        query,
        kb: Math.round(computed.bytes / 1024),
        p50_ms: Math.round(percentile(computed.times, 0.5)),
        p95_ms: Math.round(percentile(computed.times, 0.95)),
        max_ms: Math.round(computed.times[computed.times.length - 1]!),
        cached_p95_ms: Math.round(percentile(cached.times, 0.95) * 10) / 10,
      });
    }
    return server.seeded;
  });
  if (json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  process.stdout.write(
    `/api/v1 over ${seeded.metricRows} metric rows (${seeded.cases} seeded cases), sequential requests over loopback, ` +
      `40 timed after 3 warm-up; ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}\n\n`,
  );
  process.stdout.write(
    '| request | body kB | computed p50 ms | computed p95 ms | computed max ms | cached p95 ms |\n|---|---:|---:|---:|---:|---:|\n',
  );
  for (const r of rows)
    process.stdout.write(
      `| ${r.request} (\`${r.query}\`) | ${r.kb} | ${r.p50_ms} | ${r.p95_ms} | ${r.max_ms} | ${r.cached_p95_ms} |\n`,
    );
}

/** What the load test's users ask for: dashboard pages (session cookie) and API calls (token), in turn. */
const LOAD_REQUESTS: Array<{ name: string; path: string; api: boolean }> = [
  { name: 'page /', path: '/', api: false },
  {
    name: 'page /commissioning',
    path: '/commissioning?modelA=seed-net%401.0&modelB=seed-net%401.1',
    api: false,
  },
  { name: 'page /observers', path: '/observers', api: false },
  { name: 'page /sites', path: '/sites', api: false },
  { name: 'page /drift', path: '/drift', api: false },
  { name: 'page /editing', path: '/editing', api: false },
  {
    name: 'api compare/models',
    path: '/api/v1/compare/models?model=seed-net@1.0&model=seed-net@1.1&structure=Heart',
    api: true,
  },
  { name: 'api drift', path: '/api/v1/drift?model=seed-net@1.1&structure=Heart', api: true },
  { name: 'api observers/agreement', path: '/api/v1/observers/agreement?structure=Heart', api: true },
  { name: 'api metrics page', path: '/api/v1/metrics?limit=200', api: true },
  { name: 'api alarms', path: '/api/v1/alarms', api: true },
];

/**
 * `bench load`: 50 signed-in users at once for 60 s over loopback, each asking for the next page or API
 * call of LOAD_REQUESTS as soon as the last one has answered (closed loop, no think time), against the
 * 100,000-row database. Reports throughput, errors and latency percentiles per request and in all. The
 * clients run in this process on the same machine as the server, so they take a share of its cores.
 */
async function benchLoad(json: boolean): Promise<void> {
  const USERS = 50;
  const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
  const result = await withSeededServer(async (server) => {
    const users = [];
    for (let u = 0; u < USERS; u++)
      users.push(
        await benchUser(server, u % 5 === 4 ? 'auditor' : 'physicist', `load${u}@contourbench.bench`),
      );
    const agent = new http.Agent({ keepAlive: true, maxSockets: USERS * 2 });
    const get = (path_: string, headers: Record<string, string>) =>
      new Promise<{ status: number; bytes: number }>((resolve, reject) => {
        const request = http.get(`${server.url}${path_}`, { agent, headers }, (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
          response.on('error', reject);
        });
        request.on('error', reject);
      });
    // one warm pass, so that the first minute is not the first computation
    for (const r of LOAD_REQUESTS)
      await get(
        r.path,
        r.api ? { authorization: `Bearer ${users[0]!.token}` } : { cookie: users[0]!.cookie },
      );
    const times = new Map<string, number[]>(LOAD_REQUESTS.map((r) => [r.name, []]));
    const errors: string[] = [];
    let bytes = 0;
    const started = performance.now();
    const until = started + SECONDS * 1000;
    await Promise.all(
      users.map(async (user, u) => {
        for (let i = u; performance.now() < until; i++) {
          const r = LOAD_REQUESTS[i % LOAD_REQUESTS.length]!;
          const t = performance.now();
          try {
            const answer = await get(
              r.path,
              r.api ? { authorization: `Bearer ${user.token}` } : { cookie: user.cookie },
            );
            bytes += answer.bytes;
            if (answer.status !== 200) errors.push(`${r.name}: ${answer.status}`);
          } catch (error) {
            errors.push(`${r.name}: ${error instanceof Error ? error.message : String(error)}`);
          }
          times.get(r.name)!.push(performance.now() - t);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    agent.destroy();
    return { elapsed, times, errors, bytes, seeded: server.seeded };
  });
  const all = [...result.times.values()].flat().sort((a, b) => a - b);
  const summary = (sorted: number[]) => ({
    requests: sorted.length,
    p50_ms: Math.round(percentile(sorted, 0.5)),
    p95_ms: Math.round(percentile(sorted, 0.95)),
    p99_ms: Math.round(percentile(sorted, 0.99)),
    max_ms: Math.round(sorted[sorted.length - 1]!),
  });
  const rows = [...result.times].map(([name, t]) => ({ name, ...summary(t.sort((a, b) => a - b)) }));
  const total = {
    name: 'all',
    ...summary(all),
    perSecond: Math.round((all.length / result.elapsed) * 10) / 10,
  };
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ users: USERS, seconds: result.elapsed, total, rows, errors: result.errors.length })}\n`,
    );
  } else {
    process.stdout.write(
      `${USERS} concurrent users for ${result.elapsed.toFixed(1)} s over ${result.seeded.metricRows} metric rows, loopback, ` +
        `closed loop; ${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}\n` +
        `${all.length} requests, ${total.perSecond} per second, ${(result.bytes / 1e6).toFixed(0)} MB, ${result.errors.length} errors\n\n` +
        '| request | requests | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|\n',
    );
    for (const r of [...rows, total])
      process.stdout.write(
        `| ${r.name} | ${r.requests} | ${r.p50_ms} | ${r.p95_ms} | ${r.p99_ms} | ${r.max_ms} |\n`,
      );
    if (result.errors.length)
      process.stdout.write(
        `\nfirst errors:\n${result.errors
          .slice(0, 10)
          .map((e) => `  ${e}`)
          .join('\n')}\n`,
      );
  }
  if (result.errors.length) process.exitCode = 1;
}

/** A 2.5 mm dose grid over `grid` with a tangential-like breast dose (Gy) shaped on the phantom's target. */
function tangentialDose(grid: PhantomGrid, target: Uint8Array, side: 1 | -1, prescriptionGy: number) {
  const box = foregroundBox(target, grid.dims)!;
  const [ox, oy, oz] = grid.originLps;
  const [sx, sy, sz] = grid.spacingMm;
  // target extent in LPS mm: medial/lateral (x), anterior (small y) to posterior, inferior to superior
  const xs = [ox + box.iMin * sx, ox + box.iMax * sx];
  const yPosterior = oy + box.jMax * sy;
  const zs = [oz + box.kMin * sz, oz + box.kMax * sz];
  const xMedial = side > 0 ? xs[0]! : xs[1]!;
  const spacingMm: Vec3 = [2.5, 2.5, 2.5];
  const extent = grid.dims.map((n, a) => (n - 1) * grid.spacingMm[a]!);
  const dims: Vec3 = [
    Math.ceil(extent[0]! / 2.5) + 1,
    Math.ceil(extent[1]! / 2.5) + 1,
    Math.ceil(extent[2]! / 2.5) + 1,
  ];
  const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) {
    const z = oz + 2.5 * k;
    const inZ = sigmoid((z - zs[0]! + 10) / 3) * sigmoid((zs[1]! + 10 - z) / 3);
    for (let j = 0; j < dims[1]; j++) {
      const y = oy + 2.5 * j;
      for (let i = 0; i < dims[0]; i++, v++) {
        const x = ox + 2.5 * i;
        const lateral = side * (x - xMedial);
        // the posterior field edge is tilted: it lies deeper laterally, taking a slice of lung
        const edgeY = yPosterior - 25 + 0.45 * lateral;
        const inField = inZ * sigmoid((edgeY - y) / 3) * sigmoid((lateral + 5) / 3);
        const hot = 1 + 0.05 * Math.sin(x / 17) * Math.cos(z / 23);
        data[v] =
          prescriptionGy * (inField * hot + (1 - inField) * 0.04 * Math.exp(-Math.abs(y - edgeY) / 40));
      }
    }
  }
  return {
    data,
    dims,
    spacingMm,
    affineIjkToLps: axisAlignedAffine(spacingMm, grid.originLps),
  } satisfies Volume<Float32Array>;
}

/**
 * `bench dvh`: every structure's DVH and the default breast dose metrics of a demo-sized case (the breast
 * phantom on a demo site's grid, a tangential-like dose on a 2.5 mm grid): per structure the dose
 * resampling (trilinear, mask voxels only, inside the mask's box) and the DVH and metrics; median of 7
 * after 2 warm-ups, single thread. Mask boxes and voxel counts are known at import (stored with each
 * contour), so they are computed before timing and reported once.
 */
async function benchDvh(json: boolean): Promise<void> {
  const prescriptionGy = 40.05;
  const sites: Array<{ site: string; spacingMm: Vec3; fovMm: number }> = [
    { site: 'NORTH', spacingMm: [1.17, 1.17, 3], fovMm: 500 },
    { site: 'SOUTH', spacingMm: [0.98, 0.98, 2], fovMm: 500 },
  ];
  const entries = parseDoseMetricList(DEFAULT_BREAST_DOSE_METRICS);
  const results = [];
  for (const { site, spacingMm, fovMm } of sites) {
    const grid = defaultPhantomGrid(spacingMm, fovMm);
    const phantom = generatePhantom(
      {
        seed: 7,
        laterality: 'left',
        surgery: 'breast_conserving',
        tumourBed: 'seroma',
        nodal: true,
        size: 1,
        breathing: 0.5,
      },
      grid,
    );
    const affineIjkToLps = axisAlignedAffine(grid.spacingMm, grid.originLps);
    const target = phantom.structures.find((s) => s.tg263Name === 'CTV_Breast_L')!;
    const dose = tangentialDose(grid, target.mask, 1, prescriptionGy);
    const masks = phantom.structures.map((s) => ({
      name: s.tg263Name,
      mask: { data: s.mask, dims: grid.dims, spacingMm: grid.spacingMm, affineIjkToLps } satisfies Mask,
    }));
    let started = performance.now();
    const summaries = masks.map(({ mask }) => binaryMaskSummary(mask.data, mask.dims));
    const summaryMs = performance.now() - started;
    const { metrics } = resolveDoseMetrics(
      entries,
      masks.map((m) => m.name),
      'left',
    );
    const buffer = new Float32Array(Math.max(...summaries.map((s) => s.voxels)));
    const resampleTimes = masks.map(() => [] as number[]);
    const dvhTimes = masks.map(() => [] as number[]);
    const totals: number[] = [];
    let values: Array<{ structure: string; text: string; value: number | null; unit: string }> = [];
    for (let run = 0; run < 9; run++) {
      const runStarted = performance.now();
      const runValues: typeof values = [];
      masks.forEach(({ name, mask }, s) => {
        started = performance.now();
        const sampled = sampleDoseInMask(dose, mask, { summary: summaries[s], buffer });
        const resampledAt = performance.now();
        const dvh = computeDvh(sampled.doseGy, sampled.voxelCc, {
          outsideDoseGridVoxels: sampled.outsideVoxels,
        });
        const own = metrics.filter((m) => m.structure === name).map((m) => m.metric);
        for (const r of evaluateDoseMetrics(dvh, own, prescriptionGy))
          runValues.push({ structure: name, text: r.metric.text, value: r.value, unit: r.unit });
        if (run >= 2) {
          resampleTimes[s]!.push(resampledAt - started);
          dvhTimes[s]!.push(performance.now() - resampledAt);
        }
      });
      if (run >= 2) totals.push(performance.now() - runStarted);
      values = runValues;
    }
    // for contrast: the dose resampled over the whole CT grid, as a full-grid approach would
    started = performance.now();
    resampleDoseToGrid(dose, { dims: grid.dims, spacingMm: grid.spacingMm, affineIjkToLps });
    const fullGridMs = performance.now() - started;
    const round1 = (ms: number) => Math.round(ms * 10) / 10;
    results.push({
      site,
      ct: `${grid.dims.join('x')} at ${grid.spacingMm.join(' x ')} mm`,
      dose: `${dose.dims.join('x')} at 2.5 mm`,
      summary_ms: round1(summaryMs),
      full_grid_resample_ms: round1(fullGridMs),
      total_ms: round1(median(totals)),
      resample_ms: round1(resampleTimes.reduce((sum, t) => sum + median(t), 0)),
      dvh_and_metrics_ms: round1(dvhTimes.reduce((sum, t) => sum + median(t), 0)),
      structures: masks.map(({ name }, s) => ({
        structure: name,
        voxels: summaries[s]!.voxels,
        volume_cc: Math.round((summaries[s]!.voxels * grid.spacingMm.reduce((a, b) => a * b, 1)) / 100) / 10,
        resample_ms: Math.round(median(resampleTimes[s]!) * 100) / 100,
        dvh_ms: Math.round(median(dvhTimes[s]!) * 100) / 100,
      })),
      metrics: values.map((v) => ({
        ...v,
        value: v.value === null ? null : Math.round(v.value * 100) / 100,
      })),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  process.stdout.write(
    `DVH of every structure + default breast dose metrics, single thread, median of 7 after 2 warm-ups; ` +
      `${os.availableParallelism()} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}\n`,
  );
  for (const r of results) {
    process.stdout.write(
      `\n${r.site}: CT ${r.ct}, dose ${r.dose}; whole case ${r.total_ms} ms ` +
        `(resample ${r.resample_ms} ms, DVH + metrics ${r.dvh_and_metrics_ms} ms); ` +
        `mask boxes and counts ${r.summary_ms} ms (once, at import); ` +
        `whole-grid resample for contrast ${r.full_grid_resample_ms} ms; peak RSS ${r.peak_rss_mb} MB\n\n`,
    );
    process.stdout.write(
      `${'structure'.padEnd(18)} ${'voxels'.padStart(9)} ${'cc'.padStart(8)} ${'resample ms'.padStart(12)} ${'DVH + metrics ms'.padStart(17)}\n`,
    );
    for (const s of r.structures)
      process.stdout.write(
        `${s.structure.padEnd(18)} ${String(s.voxels).padStart(9)} ${String(s.volume_cc).padStart(8)} ${String(s.resample_ms).padStart(12)} ${String(s.dvh_ms).padStart(17)}\n`,
      );
    process.stdout.write(
      `\nmetrics (prescription ${prescriptionGy} Gy): ${r.metrics
        .map((m) => `${m.structure} ${m.text} ${m.value ?? '-'} ${m.unit}`)
        .join('; ')}\n`,
    );
  }
}

const [suite = 'metrics', ...flags] = process.argv.slice(2);
const suites: Record<string, (json: boolean) => Promise<void>> = {
  metrics: benchMetrics,
  dicom: benchDicom,
  inference: benchInference,
  evaluation: benchEvaluation,
  api: benchApi,
  load: benchLoad,
  dvh: benchDvh,
};
if (!suites[suite]) {
  process.stderr.write(`bench: unknown suite "${suite}"; available: ${Object.keys(suites).join(', ')}\n`);
  process.exit(2);
}
await suites[suite](flags.includes('--json'));
