import type { Command } from 'commander';
import { computeCohortDoseMetrics } from '../../lib/server/services/dose-metric.service';
import { withCliStores } from '../lifecycle';

/**
 * `contourbench dose --cohort NAME`: the dose each contour of the cohort's cases receives on the case's
 * planned dose, and the dose consequence of every stored metric row (contours already done are skipped).
 */
export function registerDose(program: Command): void {
  program
    .command('dose')
    .description(
      "compute every contour's dose metrics and DVH on its case's planned dose, and the dose consequence (test minus reference) of each metric row",
    )
    .requiredOption('--cohort <name>', 'cohort of cases')
    .option('--json', 'print the per-case summaries as JSON')
    .action(async (options: { cohort: string; json?: boolean }) => {
      await withCliStores('dose', async (deps) => {
        const summaries = await computeCohortDoseMetrics(deps, options.cohort, (done, total, summary) => {
          if (!options.json)
            process.stdout.write(
              `case ${done}/${total}: ${summary === null ? 'no dose' : `${summary.computed} contour(s) computed, ${summary.current} current, ${summary.metricRows} metric row(s) in ${Math.round(summary.computeMs)} ms`}\n`,
            );
        });
        if (options.json) process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
      });
    });
}
