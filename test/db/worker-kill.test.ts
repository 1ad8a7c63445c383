import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withDatabase } from '../../src/lib/server/db/connection';
import { generateDemoCohort } from '../../src/lib/server/services/demo.service';
import { registerModelsInFolder } from '../../src/lib/server/services/demo-evaluation.service';
import { createEvaluationRun, getRunProgress } from '../../src/lib/server/services/evaluation-run.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

// A worker killed with SIGKILL in the middle of a case: another worker process takes the job over once
// the first one's heartbeat is older than the dead-after time, and the rows are written once, whole.
const HEARTBEAT_SECONDS = 1;
const DEAD_AFTER_SECONDS = 4;
const root = path.join(import.meta.dirname, '..', '..');

let database: TestDatabase;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-kill-'));
  const blobs = new FileBlobStore(path.join(dataDir, 'blobs'));
  const manifest = await generateDemoCohort(
    path.join(dataDir, 'cohort'),
    { sites: 1, casesPerSite: 1, seed: 9 },
    undefined,
    1,
  );
  const report = await importDicom(
    database.db,
    blobs,
    path.join(dataDir, 'cohort', manifest.cases[0]!.folder),
    { siteCode: 'NORTH', cohortName: 'kill-cohort' },
  );
  expect(report.studies).toHaveLength(1);
  await registerModelsInFolder(database.db, blobs, path.join(root, 'models'));
}, 300_000);

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await database?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function startWorkerProcess(): { child: ChildProcess; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [path.join(root, 'bin', 'contourbench.js'), 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: withDatabase(inject('adminUrl'), database.name),
      CONTOURBENCH_DATA_DIR: dataDir,
      CONTOURBENCH_WORKER_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
      CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS: String(DEAD_AFTER_SECONDS),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  children.push(child);
  return { child, output: () => output };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, seconds: number): Promise<T> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function lockOf(runId: number) {
  const rows = await sql<{ locked_by: string | null; attempts: number }>`
    select locked_by, attempts from graphile_worker._private_jobs where key like ${`evaluate:${runId}:%`}`.execute(
    database.db,
  );
  return rows.rows[0];
}

async function counts(runId: number) {
  const one = async (query: Promise<{ n: number | string | bigint }>) => Number((await query).n);
  return {
    metrics: await one(
      database.db
        .selectFrom('metric')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('evaluation_run_id', '=', runId)
        .executeTakeFirstOrThrow(),
    ),
    modelSets: await one(
      database.db
        .selectFrom('contour_set')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('source', '=', 'model')
        .executeTakeFirstOrThrow(),
    ),
    outcomes: await one(
      database.db
        .selectFrom('job_outcome')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('evaluation_run_id', '=', runId)
        .executeTakeFirstOrThrow(),
    ),
  };
}

describe('a worker killed in the middle of a job', () => {
  it('leaves no partial rows, and another worker process takes the job over after the dead-after time', async () => {
    const run = await createEvaluationRun(database.db, {
      model: 'thorax-context-net@2.0',
      cohort: 'kill-cohort',
    });
    const first = startWorkerProcess();
    const taken = await waitFor(
      'the first worker to take the job',
      async () => {
        const lock = await lockOf(run.runId);
        return lock?.locked_by ? lock : undefined;
      },
      60,
    );
    expect(taken.attempts).toBe(1);
    // inside the job: model inference and metrics take seconds on this case
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await getRunProgress(database.db, run.runId)).succeeded).toBe(0);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const killedAt = Date.now();
    expect(first.child.signalCode).toBe('SIGKILL');

    // nothing half-written: the job's rows are written in one transaction at its end
    expect(await counts(run.runId)).toEqual({ metrics: 0, modelSets: 0, outcomes: 0 });
    expect((await lockOf(run.runId))?.locked_by).toBe(taken.locked_by);

    const second = startWorkerProcess();
    const retaken = await waitFor(
      'the second worker to take the job over',
      async () => {
        const lock = await lockOf(run.runId);
        return lock?.locked_by && lock.locked_by !== taken.locked_by ? lock : undefined;
      },
      60,
    );
    const pickupSeconds = (Date.now() - killedAt) / 1000;
    expect(retaken.attempts).toBe(2);
    // not before the first pool's heartbeat was DEAD_AFTER_SECONDS old (it beat at most one interval before the kill)
    expect(pickupSeconds).toBeGreaterThanOrEqual(DEAD_AFTER_SECONDS - HEARTBEAT_SECONDS);
    expect(pickupSeconds).toBeLessThan(DEAD_AFTER_SECONDS + 30);

    const progress = await waitFor(
      'the run to end',
      async () => {
        const p = await getRunProgress(database.db, run.runId);
        return p.status === 'queued' || p.status === 'running' ? undefined : p;
      },
      120,
    );
    expect(progress, second.output()).toMatchObject({ status: 'succeeded', succeeded: 1, failed: 0 });
    const after = await counts(run.runId);
    // six structures against the case's three physician sets (EXPERT and the site's two physicians),
    // less any structure a physician did not draw; each row once
    expect(after.modelSets).toBe(1);
    expect(after.outcomes).toBe(1);
    expect(after.metrics).toBeGreaterThanOrEqual(15);
    expect(after.metrics).toBeLessThanOrEqual(18);
    const outcome = await database.db
      .selectFrom('job_outcome')
      .select(['attempts', 'status'])
      .where('evaluation_run_id', '=', run.runId)
      .executeTakeFirstOrThrow();
    expect(outcome).toEqual({ attempts: 2, status: 'succeeded' });

    second.child.kill('SIGTERM');
    const code = await new Promise((resolve) => second.child.once('exit', (c) => resolve(c)));
    expect(code, second.output()).toBe(0);
  }, 240_000);
});
