import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/server/config';
import { createLogger } from '../../lib/server/logger';
import { startRuntime } from '../../lib/server/runtime';
import {
  cancelEvaluationRun,
  createEvaluationRun,
  getRunProgress,
  retryFailedCases,
  type RunProgress,
} from '../../lib/server/services/evaluation-run.service';
import { parseOption, positiveInteger } from '../options';
import { audit } from '../../lib/server/services/account.service';
import { cliActor } from '../lifecycle';

function describe(progress: RunProgress): string {
  const rate = progress.casesPerMinute === null ? '' : ` ${progress.casesPerMinute.toFixed(1)} cases/min`;
  const eta =
    progress.etaSeconds === null || progress.etaSeconds === 0
      ? ''
      : ` ETA ${Math.ceil(progress.etaSeconds)} s`;
  return `${progress.status}, ${progress.failed} failed${rate}${eta}`;
}

/**
 * `contourbench evaluate --model NAME@VERSION --cohort NAME`: creates an evaluation run (one job per case)
 * and follows it with a progress bar until it ends; `--in-process` also runs the jobs in this process,
 * otherwise any running `contourbench serve` or `contourbench worker` takes them. `--retry RUN` queues a
 * run's failed cases again and follows it the same way.
 */
export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('run a registered model over a cohort and store every metric (one job per case)')
    .option('--model <name@version>', 'registered model version')
    .option('--cohort <name>', 'cohort of cases')
    .option(
      '--cohort-version <n>',
      "a frozen version of the cohort: its cases, against the version's reference contours",
    )
    .option('--in-process', 'run the jobs in this process too')
    .option('--concurrency <n>', 'jobs at a time with --in-process', '1')
    .option('--no-wait', 'create the run and return')
    .option('--status <run>', 'show the progress of a run')
    .option('--cancel <run>', 'cancel a run (pending jobs are removed)')
    .option('--retry <run>', 'queue the failed cases of a run again and follow it')
    .option('--json', 'print the final progress as JSON')
    .action(
      async (options: {
        model?: string;
        cohort?: string;
        cohortVersion?: string;
        inProcess?: boolean;
        concurrency: string;
        wait: boolean;
        status?: string;
        cancel?: string;
        retry?: string;
        json?: boolean;
      }) => {
        const concurrency = parseOption(positiveInteger(16), '--concurrency', options.concurrency);
        const config = loadConfig();
        const runtime = await startRuntime({
          config,
          // job logs would tear the progress bar: warnings and errors only, unless asked for more
          logger: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel),
          worker: options.inProcess === true,
          concurrency,
          applicationName: 'contourbench-evaluate',
        });
        const db = runtime.database.db;
        const print = (progress: RunProgress) =>
          process.stdout.write(
            options.json
              ? `${JSON.stringify(progress)}\n`
              : `Run ${progress.runId}: ${progress.succeeded + progress.failed}/${progress.total} cases, ${describe(progress)}\n${progress.errors.map((e) => `  case ${e.caseId}: ${e.message}\n`).join('')}`,
          );
        try {
          if (options.cancel !== undefined) {
            const runId = parseOption(z.coerce.number().int().positive(), '--cancel', options.cancel);
            const removed = await cancelEvaluationRun(db, runId);
            await audit(db, cliActor(), {
              action: 'run.cancel',
              objectType: 'evaluation_run',
              objectId: runId,
            });
            process.stdout.write(`Run ${runId} cancelled; ${removed} pending job(s) removed.\n`);
            return;
          }
          if (options.status !== undefined) {
            print(
              await getRunProgress(
                db,
                parseOption(z.coerce.number().int().positive(), '--status', options.status),
              ),
            );
            return;
          }
          let runId: number;
          let cases: number;
          let label: string;
          if (options.retry !== undefined) {
            runId = parseOption(z.coerce.number().int().positive(), '--retry', options.retry);
            const retried = await retryFailedCases(db, runId);
            await audit(db, cliActor(), {
              action: 'run.retry',
              objectType: 'evaluation_run',
              objectId: runId,
              details: { cases: retried.cases.map((c) => c.caseId) },
            });
            if (retried.cases.length === 0) {
              process.stdout.write(`Run ${runId} has no failed cases to retry.\n`);
              print(await getRunProgress(db, runId));
              return;
            }
            process.stdout.write(
              `Run ${runId}: ${retried.cases.length} failed case(s) queued again:\n` +
                retried.cases.map((c) => `  case ${c.caseId} (was: ${c.message})\n`).join(''),
            );
            cases = (await getRunProgress(db, runId)).total;
            label = `run ${runId}`;
          } else {
            const model = parseOption(z.string().min(3), '--model', options.model);
            const cohort = parseOption(z.string().min(1), '--cohort', options.cohort);
            const version =
              options.cohortVersion === undefined
                ? undefined
                : parseOption(z.coerce.number().int().positive(), '--cohort-version', options.cohortVersion);
            const run = await createEvaluationRun(db, { model, cohort, version });
            await audit(db, cliActor(), {
              action: 'run.create',
              objectType: 'evaluation_run',
              objectId: run.runId,
              details: { model, cohort, version: version ?? null },
            });
            process.stdout.write(
              `Run ${run.runId}: ${model} over cohort ${cohort}${version === undefined ? '' : ` version ${version}`}, ${run.cases} case(s) queued.\n`,
            );
            runId = run.runId;
            cases = run.cases;
            label = model;
          }
          if (!options.wait) return;
          const bar = new SingleBar({
            format: `Evaluating ${label.padEnd(20)} [{bar}] {value}/{total} {description}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: false,
          });
          const tty = process.stdout.isTTY === true && !options.json;
          let progress = await getRunProgress(db, runId);
          if (tty)
            bar.start(cases, progress.succeeded + progress.failed, { description: describe(progress) });
          while (progress.status === 'queued' || progress.status === 'running') {
            await new Promise((resolve) => setTimeout(resolve, 500));
            progress = await getRunProgress(db, runId);
            if (tty) bar.update(progress.succeeded + progress.failed, { description: describe(progress) });
          }
          if (tty) bar.stop();
          print(progress);
          if (progress.status !== 'succeeded') process.exitCode = 1;
        } finally {
          await runtime.close();
        }
      },
    );
}
