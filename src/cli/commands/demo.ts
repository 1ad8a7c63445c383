import path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import {
  defaultDemoOptions,
  generateDemoCohort,
  readDemoManifest,
  type DemoOptions,
} from '../../lib/server/services/demo.service';
import { importDemoCohort } from '../../lib/server/services/demo-import.service';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { parseOption, positiveInteger } from '../options';
import { serve } from './serve';

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
      if (!(await readDemoManifest(outDir, cohortOptions))) {
        process.stdout.write(
          `Generating the demo cohort (${cohortOptions.sites} sites x ${cohortOptions.casesPerSite} cases) in ${outDir}\n`,
        );
        await generate(outDir, cohortOptions);
      }
      const manifest = (await readDemoManifest(outDir, cohortOptions))!;
      const opened = await openDatabase(config, logger, {
        migrate: true,
        applicationName: 'contourbench-demo',
      });
      try {
        const progress = bar('Importing cases');
        progress.start(manifest.cases.length, 0, { description: '' });
        const summary = await importDemoCohort(
          opened.connection.db,
          new FileBlobStore(path.join(config.dataDir, 'blobs')),
          outDir,
          manifest,
          (done, description) => progress.update(done, { description }),
        );
        progress.stop();
        process.stdout.write(
          `${summary.imported} cases imported, ${summary.skipped} already there; ${summary.contourSets} structure sets, ` +
            `${summary.editingSessions} editing sessions ` +
            `in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
        );
      } finally {
        await opened.close();
      }
      await serve({
        port: options.port,
        worker: true,
        banner: `Demo cohort: ${manifest.cases.length} cases at ${new Set(manifest.cases.map((c) => c.site)).size} sites (${outDir}).\n`,
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
