import path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { z } from 'zod';
import { computeCohortConsensus } from '../../lib/server/services/consensus.service';
import { MetricPool } from '../../lib/server/services/metric-pool';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { withCliDatabase } from '../lifecycle';
import { parseOption } from '../options';

/** `contourbench consensus --cohort NAME`: the STAPLE consensus of every case of a cohort. */
export function registerConsensus(program: Command): void {
  program
    .command('consensus')
    .description(
      "compute the STAPLE consensus of each case's physician contours, each physician's sensitivity and specificity, and every physician's metrics against it",
    )
    .requiredOption('--cohort <name>', 'cohort of cases')
    .option('--json', 'print the result as JSON')
    .action(async (options: { cohort: string; json?: boolean }) => {
      const cohort = parseOption(z.string().min(1), '--cohort', options.cohort);
      await withCliDatabase('consensus', async (db, config) => {
        const metricPool = new MetricPool();
        const bar = new SingleBar({
          format: 'STAPLE consensus      [{bar}] {value}/{total} {description}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
        });
        const tty = process.stdout.isTTY === true && !options.json;
        try {
          let started = false;
          const summaries = await computeCohortConsensus(
            { db, blobs: new FileBlobStore(path.join(config.dataDir, 'blobs')), metricPool },
            cohort,
            (done, total, summary) => {
              if (!tty) return;
              if (!started) bar.start(total, 0, { description: '' });
              started = true;
              bar.update(done, {
                description: `case ${summary.caseId}: ${summary.structures.length} structures`,
              });
            },
          );
          if (started) bar.stop();
          if (options.json) {
            process.stdout.write(`${JSON.stringify(summaries)}\n`);
            return;
          }
          const structures = summaries.reduce((n, s) => n + s.structures.length, 0);
          const notConverged = summaries.flatMap((s) => s.structures.filter((x) => !x.converged));
          process.stdout.write(
            `${summaries.length} case(s): ${structures} consensus structures, ${summaries.reduce((n, s) => n + s.metricRows, 0)} observer-vs-consensus and ${summaries.reduce((n, s) => n + s.pairRows, 0)} observer-pair metric rows` +
              `${notConverged.length > 0 ? `; ${notConverged.length} did not converge` : ''}.\n`,
          );
        } finally {
          await metricPool.close();
        }
      });
    });
}
