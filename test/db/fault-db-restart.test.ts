import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/server/config';
import { connect, type DatabaseConnection } from '../../src/lib/server/db/connection';
import { migrateToLatest } from '../../src/lib/server/db/migrate';
import { createLogger } from '../../src/lib/server/logger';
import { startRuntime, type Runtime } from '../../src/lib/server/runtime';
import { generateDemoCohort } from '../../src/lib/server/services/demo.service';
import { registerModelsInFolder } from '../../src/lib/server/services/demo-evaluation.service';
import {
  createEvaluationRun,
  getRunProgress,
  type RunProgress,
} from '../../src/lib/server/services/evaluation-run.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { prepareJobQueue } from '../../src/lib/server/services/worker.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres';

// The database lost under running worker processes: the PostgreSQL server stopped and started again, and
// a worker's connection cut while it records a job's completion. The workers ride it out (no process
// ends), the attempts that failed are recorded and retried, the run completes with each case's rows
// written once, and the health report says the database is down while it is. The server is this file's
// own: stopping the shared one would break the tests running beside it.
const CASES = 2;
const root = path.join(import.meta.dirname, '..', '..');

let server: PrivatePostgres;
let database: DatabaseConnection;
let dataDir: string;
let web: Runtime | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startPrivatePostgres();
  database = connect(server.url, { max: 4, applicationName: 'contourbench-test' });
  await migrateToLatest(database.db);
  await prepareJobQueue(database.pool, createLogger('warn', 'test'));
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-db-restart-'));
  const blobs = new FileBlobStore(path.join(dataDir, 'blobs'));
  const manifest = await generateDemoCohort(
    path.join(dataDir, 'cohort'),
    { sites: 1, casesPerSite: CASES, seed: 11 },
    undefined,
    1,
  );
  for (const c of manifest.cases) {
    const report = await importDicom(database.db, blobs, path.join(dataDir, 'cohort', c.folder), {
      siteCode: 'NORTH',
      cohortName: 'restart-cohort',
    });
    expect(report.failed).toEqual([]);
  }
  await registerModelsInFolder(database.db, blobs, path.join(root, 'models'));
}, 300_000);

function killWorkers() {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// a test that failed half-way leaves its workers running; they must not take the next test's jobs
afterEach(killWorkers);

afterAll(async () => {
  killWorkers();
  await web?.close().catch(() => {});
  await database?.close().catch(() => {});
  await server?.destroy();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
}

function startWorkerProcess(): WorkerProcess {
  let output = '';
  const child = spawn(process.execPath, [path.join(root, 'bin', 'contourbench.js'), 'worker'], {
    env: {
      ...process.env,
      DATABASE_URL: server.url,
      CONTOURBENCH_DATA_DIR: dataDir,
      // two busy workers share two cores here: a pool is only taken for dead well after any pause
      CONTOURBENCH_WORKER_HEARTBEAT_SECONDS: '1',
      CONTOURBENCH_WORKER_DEAD_AFTER_SECONDS: '60',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  children.push(child);
  return { child, output: () => output };
}

async function stopWorkerProcess(worker: WorkerProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
  worker.child.kill('SIGTERM');
  return exited;
}

/** Polls `probe` every 100 ms (its errors count as "not yet": the database may be down). */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  seconds: number,
  context: () => string = () => '',
): Promise<T> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${seconds} s waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface JobRow {
  id: number;
  key: string;
  attempts: number;
  locked_by: string | null;
  last_error: string | null;
}

async function runJobs(runId: number): Promise<JobRow[]> {
  const { rows } = await sql<JobRow>`
    select id, key, attempts, locked_by, last_error from graphile_worker._private_jobs
    where key like ${`evaluate:${runId}:%`} order by id`.execute(database.db);
  return rows;
}

function waitForRunEnd(runId: number): Promise<RunProgress> {
  return waitFor(
    'the run to end',
    async () => {
      const progress = await getRunProgress(database.db, runId);
      return progress.status === 'queued' || progress.status === 'running' ? undefined : progress;
    },
    240,
  );
}

/**
 * Per case: the metric rows of the run, all metric rows of the case's model set (any run), and the rows
 * expected (one per reference contour of a structure the model produced).
 */
async function metricCounts(runId: number) {
  const { rows } = await sql<{ case_id: number; of_run: number; all_rows: number; expected: number }>`
    select c.id as case_id,
      (select count(*)::int from metric m where m.case_id = c.id and m.evaluation_run_id = ${runId}) as of_run,
      (select count(*)::int from metric m join contour_set ms on ms.id = m.test_set_id
        where ms.case_id = c.id and ms.source = 'model') as all_rows,
      (select count(*)::int from contour rc join contour_set rs on rs.id = rc.contour_set_id
        where rs.case_id = c.id and rs.source in ('physician', 'consensus')
          and rc.structure_id in (select mc.structure_id from contour mc
            join contour_set ms on ms.id = mc.contour_set_id where ms.case_id = c.id and ms.source = 'model')
      ) as expected
    from patient_case c order by c.id`.execute(database.db);
  return rows;
}

async function outcomes(runId: number) {
  return database.db
    .selectFrom('job_outcome')
    .select(['case_id', 'status', 'attempts'])
    .where('evaluation_run_id', '=', runId)
    .orderBy('case_id')
    .execute();
}

async function modelSetCount(): Promise<number> {
  const row = await database.db
    .selectFrom('contour_set')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('source', '=', 'model')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The run's rows: every case once, each with its expected metric rows and no others. */
async function expectRowsOnce(runId: number, context: string) {
  const metrics = await metricCounts(runId);
  expect(metrics, context).toHaveLength(CASES);
  for (const m of metrics) {
    expect(m.expected, context).toBeGreaterThan(0);
    expect({ caseId: m.case_id, ofRun: m.of_run, all: m.all_rows }, context).toEqual({
      caseId: m.case_id,
      ofRun: m.expected,
      all: m.expected,
    });
  }
  expect(await modelSetCount(), context).toBe(CASES);
}

describe('the database lost under running workers', () => {
  it('a server restart mid-run: workers reconnect, the run completes, rows are written once', async () => {
    web = await startRuntime({
      config: loadConfig({ DATABASE_URL: server.url, CONTOURBENCH_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
      worker: false,
      applicationName: 'contourbench-web',
    });
    expect((await web.health()).database.ok).toBe(true);
    const run = await createEvaluationRun(database.db, {
      model: 'thorax-context-net@2.0',
      cohort: 'restart-cohort',
    });
    const workers = [startWorkerProcess(), startWorkerProcess()];
    const outputs = () => workers.map((w, i) => `--- worker ${i + 1}:\n${w.output()}`).join('\n');
    await waitFor(
      'both workers to take a case',
      async () => ((await runJobs(run.runId)).every((job) => job.locked_by !== null) ? true : undefined),
      60,
      outputs,
    );

    await server.stop();
    const down = await web.health();
    expect(down).toMatchObject({ status: 'down', database: { ok: false } });
    expect(down.database.error).toMatch(/ECONNREFUSED|terminat|connection/i);
    // The server stays down until a running case reaches the database and fails that attempt.
    await waitFor(
      'a case attempt to fail on the lost database',
      async () => (/"task":"evaluate-case","attempt":1/.test(outputs()) ? true : undefined),
      90,
      outputs,
    );
    expect((await web.health()).status).toBe('down');
    await server.start();

    // graphile-worker's record of the failed attempt, kept on the job until a later attempt succeeds
    const failedAttempt = await waitFor(
      'the failed attempt to be recorded on its job',
      async () => (await runJobs(run.runId)).find((job) => job.last_error !== null),
      120,
      outputs,
    );
    expect(failedAttempt.attempts).toBeGreaterThanOrEqual(1);
    // whichever moment of the outage the attempt met: a cut connection, a refused one, or a new one the
    // server refused while stopping or starting (SQLSTATE 57P03)
    expect(failedAttempt.last_error).toMatch(
      /Connection terminated|ECONNREFUSED|terminating connection|the database system is (shutting down|starting up)/,
    );

    const recovered = await waitFor(
      'the health report to recover',
      async () => {
        const report = await web!.health();
        return report.status === 'ok' && report.worker.livePools.length === 2 ? report : undefined;
      },
      60,
      outputs,
    );
    expect(recovered.database).toMatchObject({ ok: true, pendingMigrations: [] });

    const progress = await waitForRunEnd(run.runId);
    expect(progress, outputs()).toMatchObject({
      status: 'succeeded',
      total: CASES,
      succeeded: CASES,
      failed: 0,
      errors: [],
    });
    const ended = await outcomes(run.runId);
    expect(ended, outputs()).toHaveLength(CASES);
    expect(ended.every((o) => o.status === 'succeeded')).toBe(true);
    // the interrupted case counts its failed attempt
    expect(ended.find((o) => `evaluate:${run.runId}:${o.case_id}` === failedAttempt.key)?.attempts).toBe(
      failedAttempt.attempts + 1,
    );
    await expectRowsOnce(run.runId, outputs());
    expect(await runJobs(run.runId)).toEqual([]);

    // Both processes lived through it, said what happened, and took no live pool for dead.
    for (const w of workers) expect(w.child.exitCode, outputs()).toBeNull();
    expect(outputs()).toContain('database reachable again');
    expect(outputs()).not.toContain('released the jobs of worker pools');
    for (const w of workers) expect(await stopWorkerProcess(w), outputs()).toBe(0);
  }, 300_000);

  it('a connection cut while a worker records a completion: the pool is replaced and the case retried', async () => {
    const run = await createEvaluationRun(database.db, {
      model: 'thorax-context-net@2.0',
      cohort: 'restart-cohort',
    });
    const worker = startWorkerProcess();
    const job = await waitFor(
      'the worker to take a case',
      async () => (await runJobs(run.runId)).find((j) => j.locked_by !== null),
      60,
      worker.output,
    );
    // Holding the job's row makes the worker's completion wait on it; that session is then ended.
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from graphile_worker._private_jobs where id = $1 for update', [job.id]);
      const waiting = await waitFor(
        "the worker's completion to wait on the job row",
        async () => {
          const { rows } = await blocker.query<{ pid: number }>(
            `select pid from pg_stat_activity
             where application_name = 'contourbench-worker' and wait_event_type = 'Lock'`,
          );
          return rows[0];
        },
        120,
      );
      await blocker.query('select pg_terminate_backend($1)', [waiting.pid]);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
    }

    // The pool ends once its running case is done, its replacement runs the case whose completion was
    // lost once more (the run may already count that case: its rows and outcome were written).
    await waitFor(
      'the pool to be replaced',
      async () => (worker.output().includes('job worker pool replaced') ? true : undefined),
      120,
      worker.output,
    );
    expect(worker.output()).toMatch(
      /job worker pool stopped by itself \(completeJob: terminating connection/,
    );
    await waitFor(
      'the jobs of the run to end',
      async () => ((await runJobs(run.runId)).length === 0 ? true : undefined),
      120,
      worker.output,
    );
    const progress = await waitForRunEnd(run.runId);
    expect(progress, worker.output()).toMatchObject({
      status: 'succeeded',
      total: CASES,
      succeeded: CASES,
      failed: 0,
    });
    const ended = await outcomes(run.runId);
    expect(ended.map((o) => o.status)).toEqual(['succeeded', 'succeeded']);
    // the case whose completion was lost ran again under the new pool, replacing its rows
    expect(ended.find((o) => `evaluate:${run.runId}:${o.case_id}` === job.key)?.attempts).toBe(2);
    await expectRowsOnce(run.runId, worker.output());
    expect(worker.child.exitCode, worker.output()).toBeNull();
    expect(await stopWorkerProcess(worker), worker.output()).toBe(0);
  }, 300_000);
});
