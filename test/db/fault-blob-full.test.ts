import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../../src/lib/server/db/connection';
import { generateDemoCohort } from '../../src/lib/server/services/demo.service';
import { registerModelsInFolder } from '../../src/lib/server/services/demo-evaluation.service';
import {
  createEvaluationRun,
  getRunProgress,
  retryFailedCases,
  type RunProgress,
} from '../../src/lib/server/services/evaluation-run.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { mountSmallFilesystem, type SmallFilesystem } from '../helpers/small-filesystem';
import { createTestDatabase, type TestDatabase } from './test-database';

// The blob store's file system full (a real ENOSPC from a small tmpfs) under `contourbench import` and
// under a `contourbench worker` evaluating a run: the command and the run's failures say the blob store
// is out of space, no row is written that names a blob the store lacks, no half-written blob file stays,
// and the same import and the failed cases succeed once space is freed, without duplicate rows.
const root = path.join(import.meta.dirname, '..', '..');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'contourbench-blob-full-'));
const blobDir = path.join(dataDir, 'blobs');
const mounted = mountSmallFilesystem(blobDir, 48);
const skipReason = 'problem' in mounted ? mounted.problem : null;
// Logged, and named in the report, so a skip is never silent.
if (skipReason !== null) process.stderr.write(`fault-blob-full: skipped: ${skipReason}\n`);

let database: TestDatabase;
let store: SmallFilesystem;
let folders: string[] = [];
const blobs = new FileBlobStore(blobDir);
const children: ChildProcess[] = [];

beforeAll(async () => {
  if ('problem' in mounted) return;
  store = mounted;
  database = await createTestDatabase();
  const manifest = await generateDemoCohort(
    path.join(dataDir, 'cohort'),
    { sites: 1, casesPerSite: 2, seed: 23 },
    undefined,
    1,
  );
  folders = manifest.cases.map((c) => path.join(dataDir, 'cohort', c.folder));
}, 300_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await database?.destroy();
  if (!('problem' in mounted)) mounted.unmount();
  await rm(dataDir, { recursive: true, force: true });
});

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: withDatabase(inject('adminUrl'), database.name),
    CONTOURBENCH_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
}

/** Runs `contourbench import` as a user would; resolves with its exit code and output. */
function cliImport(folder: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'bin', 'contourbench.js'),
        'import',
        folder,
        '--site',
        'NORTH',
        '--cohort',
        'full-cohort',
      ],
      { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every file of the store but the ballast, with its size. */
function storeFiles(dir = blobDir): Array<{ file: string; bytes: number }> {
  const files: Array<{ file: string; bytes: number }> = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name !== '.ballast') files.push({ file: full, bytes: statSync(full).size });
    }
  };
  walk(dir);
  return files;
}

/** No temporary file, every blob file whole (it decodes to the content its name hashes) and every blob row backed by a file. */
async function expectStoreConsistent(context: string) {
  const files = storeFiles();
  expect(
    files.filter((f) => !/\/[0-9a-f]{64}(\.m)?\.gz$/.test(f.file)),
    context,
  ).toEqual([]);
  for (const { file } of files) {
    const sha256 = path.basename(file).slice(0, 64);
    await expect(blobs.get(sha256), file).resolves.toBeInstanceOf(Uint8Array);
  }
  const rows = await database.db.selectFrom('blob').select('sha256').execute();
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) await expect(blobs.get(row.sha256), context).resolves.toBeInstanceOf(Uint8Array);
  // every mask and volume a row names is a blob row
  const { rows: dangling } = await sql<{ n: number }>`
    select (select count(*)::int from contour c where not exists
              (select 1 from blob b where b.sha256 = c.mask_blob_sha256))
         + (select count(*)::int from image_series s where s.volume_blob_sha256 is not null and not exists
              (select 1 from blob b where b.sha256 = s.volume_blob_sha256)) as n`.execute(database.db);
  expect(dangling[0]!.n, context).toBe(0);
}

async function tableCounts() {
  const { rows } = await sql<Record<string, number>>`
    select (select count(*)::int from patient_case) as cases,
           (select count(*)::int from image_series) as series,
           (select count(*)::int from contour_set) as sets,
           (select count(*)::int from contour) as contours,
           (select count(*)::int from blob) as blobs,
           (select count(*)::int from metric) as metrics`.execute(database.db);
  return rows[0]!;
}

async function waitForRunEnd(runId: number, context: () => string): Promise<RunProgress> {
  const until = Date.now() + 240_000;
  for (;;) {
    const progress = await getRunProgress(database.db, runId);
    if (progress.status !== 'queued' && progress.status !== 'running') return progress;
    if (Date.now() > until) throw new Error(`run ${runId} did not end within 240 s\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const noSpace = `blob store ${blobDir}: no space left on device (ENOSPC)`;

const title = `the blob store out of space${skipReason === null ? '' : ` (skipped: ${skipReason})`}`;

describe.skipIf(skipReason !== null)(title, () => {
  it('an import stops with the reason, writes no half rows or files, and succeeds once space is freed', async () => {
    const first = await cliImport(folders[0]!);
    expect(first.code, first.stderr).toBe(0);
    const afterFirst = await tableCounts();
    expect(afterFirst.cases).toBe(1);
    const filesFirst = storeFiles();
    // What the second case adds to the store, learnt by importing it into a scratch database and store;
    // then room is left for its CT volume and about half its masks, so the store fills in the middle.
    const probeDatabase = await createTestDatabase();
    const probeDir = path.join(dataDir, 'probe-blobs');
    try {
      await importDicom(probeDatabase.db, new FileBlobStore(probeDir), folders[1]!, { siteCode: 'NORTH' });
    } finally {
      await probeDatabase.destroy();
    }
    const present = new Set(filesFirst.map((f) => path.basename(f.file)));
    const pages = (bytes: number) => Math.ceil(bytes / 4096) * 4096;
    const added = storeFiles(probeDir).filter((f) => !present.has(path.basename(f.file)));
    await rm(probeDir, { recursive: true });
    const volume = added.reduce((largest, f) => (f.bytes > largest.bytes ? f : largest));
    const maskPages = added.filter((f) => f !== volume).reduce((sum, f) => sum + pages(f.bytes), 0);
    expect(maskPages).toBeGreaterThan(4 * 4096);
    store.fill(pages(volume.bytes) + pages(maskPages / 2));

    const full = await cliImport(folders[1]!);
    const said = full.stdout + full.stderr;
    expect(full.code, said).toBe(1);
    expect(said).toContain(noSpace);
    expect(said).toContain('free space there and retry');
    expect(said).not.toContain('Unexpected error');
    // nothing of the second case in the database; what blobs it stored are whole, unreferenced files
    expect(await tableCounts()).toEqual(afterFirst);
    expect(storeFiles().length).toBeGreaterThan(filesFirst.length);
    await expectStoreConsistent(full.stderr);

    store.free();
    const retried = await cliImport(folders[1]!);
    expect(retried.code, retried.stderr).toBe(0);
    const afterRetry = await tableCounts();
    expect(afterRetry.cases).toBe(2);
    expect(afterRetry.contours).toBeGreaterThan(afterFirst.contours);
    const again = await cliImport(folders[1]!);
    expect(again.code, again.stderr).toBe(0);
    expect(await tableCounts()).toEqual(afterRetry);
    await expectStoreConsistent(retried.stdout);
  }, 240_000);

  it('an evaluation run reports the full store per case and completes, once, when the failed cases are retried', async () => {
    await registerModelsInFolder(database.db, blobs, path.join(root, 'models'));
    const before = await tableCounts();
    expect(before.cases).toBe(2);
    store.fill();
    expect(store.freeBytes()).toBe(0);

    let output = '';
    const worker = spawn(process.execPath, [path.join(root, 'bin', 'contourbench.js'), 'worker'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(worker);
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const run = await createEvaluationRun(database.db, {
      model: 'thorax-context-net@2.0',
      cohort: 'full-cohort',
      maxAttempts: 1,
    });
    const failed = await waitForRunEnd(run.runId, () => output);
    expect(failed, output).toMatchObject({ status: 'failed', total: 2, succeeded: 0, failed: 2 });
    expect(failed.errors).toHaveLength(2);
    for (const e of failed.errors) expect(e.message).toContain(noSpace);
    // no model contour set, contour, metric or blob row for the failed cases, no partial blob file
    expect(await tableCounts()).toEqual(before);
    await expectStoreConsistent(output);

    store.free();
    const retry = await retryFailedCases(database.db, run.runId);
    expect(retry.cases.map((c) => c.message.includes(noSpace))).toEqual([true, true]);
    const done = await waitForRunEnd(run.runId, () => output);
    expect(done, output).toMatchObject({
      status: 'succeeded',
      total: 2,
      succeeded: 2,
      failed: 0,
      errors: [],
    });
    const after = await tableCounts();
    expect(after.cases).toBe(2);
    expect(after.sets).toBe(before.sets + 2);
    // one metric row per reference contour of a structure the model produced, each once
    const { rows } = await sql<{ expected: number }>`
      select count(*)::int as expected from contour rc
      join contour_set rs on rs.id = rc.contour_set_id and rs.source in ('physician', 'consensus')
      where rc.structure_id in (select mc.structure_id from contour mc
        join contour_set ms on ms.id = mc.contour_set_id where ms.case_id = rs.case_id and ms.source = 'model')`.execute(
      database.db,
    );
    expect(rows[0]!.expected).toBeGreaterThan(0);
    expect(after.metrics).toBe(rows[0]!.expected);
    const outcomes = await database.db
      .selectFrom('job_outcome')
      .select(['status', 'attempts'])
      .where('evaluation_run_id', '=', run.runId)
      .execute();
    expect(outcomes).toEqual([
      { status: 'succeeded', attempts: 1 },
      { status: 'succeeded', attempts: 1 },
    ]);
    await expectStoreConsistent(output);

    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    worker.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  }, 300_000);
});
