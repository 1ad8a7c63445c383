import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { MultiBar, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../../lib/server/config';
import type { Db } from '../../lib/server/db/connection';
import { createLogger } from '../../lib/server/logger';
import {
  DEMO_COHORT,
  defaultDemoOptions,
  generateDemoCohort,
  readDemoManifest,
  type DemoOptions,
} from '../../lib/server/services/demo.service';
import { importDemoCohort } from '../../lib/server/services/demo-import.service';
import { projectRoot } from '../../lib/server/paths';
import { startRuntime } from '../../lib/server/runtime';
import {
  ensureDemoCriteria,
  ensureEvaluationRuns,
  importAiEditingSessions,
  registerModelsInFolder,
  type DemoRun,
} from '../../lib/server/services/demo-evaluation.service';
import { getRunProgress, type RunProgress } from '../../lib/server/services/evaluation-run.service';
import { consensusJobState, enqueueCohortConsensus } from '../../lib/server/services/consensus.service';
import { parseOption, positiveInteger } from '../options';
import { ensureWebBuild } from '../web-server';
import { serve } from './serve';
import { createUser, setPassword, users } from '../../lib/server/services/account.service';
import { cliActor } from '../lifecycle';

function bar(label: string): SingleBar {
  return new SingleBar({
    format: `${label.padEnd(22)} [{bar}] {value}/{total} {description}`,
    barsize: 24,
    hideCursor: true,
    clearOnComplete: false,
  });
}

function demoOptions(options: { sites?: string; casesPerSite?: string; seed?: string }): DemoOptions {
  return {
    sites:
      options.sites === undefined
        ? defaultDemoOptions.sites
        : parseOption(positiveInteger(12), '--sites', options.sites),
    casesPerSite:
      options.casesPerSite === undefined
        ? defaultDemoOptions.casesPerSite
        : parseOption(positiveInteger(100), '--cases-per-site', options.casesPerSite),
    seed:
      options.seed === undefined
        ? defaultDemoOptions.seed
        : parseOption(positiveInteger(2 ** 31 - 1), '--seed', options.seed),
  };
}

async function generate(outDir: string, options: DemoOptions): Promise<void> {
  const progress = bar('Generating cases');
  progress.start(options.sites * options.casesPerSite, 0, { description: '' });
  await generateDemoCohort(outDir, options, (done, _total, description) =>
    progress.update(done, { description }),
  );
  progress.stop();
}

/** Follows the consensus jobs until none is left to run; failures are listed after. */
async function followConsensus(db: Db, total: number, label: string): Promise<void> {
  const progress = bar(label);
  const tty = process.stdout.isTTY === true;
  if (tty) progress.start(total, 0, { description: '' });
  let state = await consensusJobState(db);
  while (state.open > 0) {
    if (tty) progress.update(Math.max(0, total - state.open), { description: '' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    state = await consensusJobState(db);
  }
  if (tty) {
    progress.update(total, { description: '' });
    progress.stop();
  }
  process.stdout.write(`${label}: ${total - state.failed} of ${total} cases done\n`);
  for (const error of state.errors) process.stdout.write(`  ${error}\n`);
}

/**
 * Follows evaluation runs until every one has ended: progress bars on a terminal, one line per run as it
 * ends otherwise; failures are listed after.
 */
async function followRuns(db: Db, runs: DemoRun[]): Promise<void> {
  const width = Math.max(...runs.map((r) => r.model.length));
  const label = (r: DemoRun) => `Evaluating ${r.model.padEnd(width)}`;
  const describe = (p: RunProgress) =>
    `${p.status}${p.failed > 0 ? `, ${p.failed} failed` : ''}${p.casesPerMinute === null ? '' : `, ${p.casesPerMinute.toFixed(1)} cases/min`}`;
  const tty = process.stdout.isTTY === true;
  const bars = new MultiBar({
    format: `{label} [{bar}] {value}/{total} {description}`,
    barsize: 24,
    hideCursor: true,
    clearOnComplete: false,
  });
  let progress = await Promise.all(runs.map((r) => getRunProgress(db, r.runId)));
  const lines = tty
    ? runs.map((r, i) => bars.create(progress[i]!.total, 0, { label: label(r), description: '' }))
    : [];
  const reported = new Set<number>();
  for (;;) {
    progress.forEach((p, i) => {
      const ended = p.status !== 'queued' && p.status !== 'running';
      if (tty) lines[i]!.update(p.succeeded + p.failed, { description: describe(p) });
      else if (ended && !reported.has(p.runId)) {
        reported.add(p.runId);
        process.stdout.write(`${label(runs[i]!)} ${p.succeeded + p.failed}/${p.total} ${describe(p)}\n`);
      }
    });
    if (progress.every((p) => p.status !== 'queued' && p.status !== 'running')) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    progress = await Promise.all(runs.map((r) => getRunProgress(db, r.runId)));
  }
  if (tty) bars.stop();
  for (const p of progress)
    for (const e of p.errors) process.stdout.write(`  run ${p.runId} case ${e.caseId}: ${e.message}\n`);
}

/**
 * Extra `contourbench worker` processes for the demo's evaluations, one per core beyond the first (the
 * demo process runs a worker too): separate processes, so case jobs run truly in parallel.
 */
function startHelperWorkers(count: number): { stop(): Promise<void> } {
  const children: ChildProcess[] = [];
  for (let n = 0; n < count; n += 1) {
    children.push(
      spawn(process.execPath, [path.join(projectRoot(), 'bin', 'contourbench.js'), 'worker'], {
        env: { ...process.env, LOG_LEVEL: 'error' },
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
  }
  return {
    stop: async () => {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/**
 * One demo account per role, all with one new password each start (printed with the URL): the demo is a
 * local trial, and a forgotten password should cost nothing.
 */
async function ensureDemoAccounts(db: Db, physicianSite: string): Promise<string> {
  const password = randomBytes(12).toString('base64url');
  const accounts = [
    { email: 'admin@demo.contourbench', role: 'admin', sites: [] as string[] },
    { email: 'physicist@demo.contourbench', role: 'physicist', sites: [] },
    { email: 'physician@demo.contourbench', role: 'physician', sites: [physicianSite] },
    { email: 'auditor@demo.contourbench', role: 'auditor', sites: [] },
  ];
  for (const account of accounts) {
    if ((await users(db)).some((u) => u.email === account.email))
      await setPassword(db, account.email, password, cliActor());
    else await createUser(db, { ...account, password }, cliActor());
  }
  return (
    `Sign in as ${accounts[0]!.email} with the password ${password} (new at every demo start); ` +
    `physicist@, physician@ (site ${physicianSite}) and auditor@demo.contourbench share it.\n`
  );
}

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description('generate and import the demo multi-centre cohort, then serve (what `npm run demo` runs)')
    .option('-p, --port <port>', 'port to listen on (default: PORT or 3000)')
    .action(async (options: { port?: string }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const cohortOptions = defaultDemoOptions;
      const outDir = path.join(config.dataDir, 'demo-cohort');
      const started = performance.now();
      const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
      if (!(await readDemoManifest(outDir, cohortOptions))) {
        process.stdout.write(
          `Generating the demo cohort (${cohortOptions.sites} sites x ${cohortOptions.casesPerSite} cases) in ${outDir}\n`,
        );
        await generate(outDir, cohortOptions);
      }
      const manifest = (await readDemoManifest(outDir, cohortOptions))!;
      // the web app builds in a child process (first start only) while this one imports
      const webBuild = ensureWebBuild(logger);
      webBuild.catch(() => undefined);
      const runtime = startRuntime({
        config,
        logger,
        worker: true,
        applicationName: 'contourbench-demo',
      });
      const { database, blobs } = await runtime;
      const db = database.db;
      let accounts: string;
      try {
        const progress = bar('Importing cases');
        progress.start(manifest.cases.length, 0, { description: '' });
        const summary = await importDemoCohort(db, blobs, outDir, manifest, (done, description) =>
          progress.update(done, { description }),
        );
        progress.stop();
        process.stdout.write(
          `${summary.imported} cases imported, ${summary.skipped} already there; ${summary.contourSets} structure sets, ` +
            `${summary.editingSessions} manual contouring sessions (${elapsed()})\n`,
        );
        const models = await registerModelsInFolder(db, blobs, path.join(projectRoot(), 'models'));
        process.stdout.write(
          `Demo models: ${models.map((m) => `${m.reference}${m.created ? '' : ' (registered before)'}`).join(', ')}\n`,
        );
        const helpers = startHelperWorkers(Math.max(0, os.availableParallelism() - 1));
        try {
          // the consensus first, so that the models are also compared with it
          const queued = await enqueueCohortConsensus(db, DEMO_COHORT, { onlyMissing: true });
          if (queued > 0) await followConsensus(db, queued, 'STAPLE consensus');
          const runs = await ensureEvaluationRuns(
            db,
            models.map((m) => m.reference),
            manifest.ai.testCohort,
          );
          await followRuns(db, runs);
        } finally {
          await helpers.stop();
        }
        await ensureDemoCriteria(db);
        accounts = await ensureDemoAccounts(db, manifest.cases[0]!.site);
        const editing = await importAiEditingSessions(db, manifest);
        process.stdout.write(
          `${editing.imported} AI-assisted editing sessions (${manifest.ai.model} corrected by the physicians)` +
            `${editing.missing > 0 ? `, ${editing.missing} without an AI contour` : ''} (${elapsed()})\n`,
        );
        await webBuild;
      } catch (error) {
        await (await runtime).close();
        throw error;
      }
      await serve({
        port: options.port,
        worker: true,
        runtime,
        banner:
          `Demo cohort: ${manifest.cases.length} cases at ${new Set(manifest.cases.map((c) => c.site)).size} sites (${outDir}); ` +
          `the demo models were evaluated on the ${manifest.cases.filter((c) => c.split === 'test').length} cases of "${manifest.ai.testCohort}". Ready in ${elapsed()}.\n${accounts}`,
      });
    });

  demo
    .command('generate')
    .description('write the demo cohort as DICOM files (CT series and one RTSTRUCT per observer)')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--sites <n>', `number of sites (default ${defaultDemoOptions.sites})`)
    .option('--cases-per-site <n>', `cases per site (default ${defaultDemoOptions.casesPerSite})`)
    .option('--seed <n>', `random seed (default ${defaultDemoOptions.seed})`)
    .action(async (options: { out: string; sites?: string; casesPerSite?: string; seed?: string }) => {
      const cohort = demoOptions(options);
      await generate(options.out, cohort);
      process.stdout.write(
        `Wrote ${cohort.sites * cohort.casesPerSite} cases and manifest.json to ${options.out}\n`,
      );
    });
}
