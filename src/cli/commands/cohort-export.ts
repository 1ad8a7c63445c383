import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { audit } from '../../lib/server/services/account.service';
import {
  exportNnunetDirectory,
  exportNnunetZip,
  type DatasetExportInput,
  type DatasetExportSummary,
} from '../../lib/server/services/dataset-export.service';
import { saveStream } from '../../lib/server/io/zip-writer';
import { cliActor, withCliStores } from '../lifecycle';
import { collect, parseOption, positiveInteger } from '../options';

interface ExportOptions {
  version: string;
  out: string;
  datasetId: string;
  name?: string;
  structure?: string[];
  external: boolean;
  zip?: boolean;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function printSummary(summary: DatasetExportSummary, written: string, seconds: number): void {
  const lines = [
    `Wrote ${written}: ${summary.cases} case(s), ${summary.files} file(s), ${megabytes(summary.bytes)} in ${seconds.toFixed(1)} s`,
    `Labels: ${summary.labels.map((l) => `${l.value} ${l.structure}`).join(', ')}`,
  ];
  if (summary.missing.length) {
    // by structure: most are targets of the other side, which a case of one side does not have
    const byStructure = new Map<string, number>();
    for (const m of summary.missing) byStructure.set(m.structure, (byStructure.get(m.structure) ?? 0) + 1);
    lines.push(
      `Missing references (background in those label maps; each case in export_report.json): ${summary.missing.length}`,
      ...[...byStructure].map(([structure, n]) => `  ${structure}: ${n} of ${summary.cases} case(s)`),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `contourbench cohort export`: a frozen cohort version as an nnU-Net v2 raw dataset. */
export function registerCohortExport(cohortCommand: Command): void {
  cohortCommand
    .command('export')
    .description('export a frozen version as an nnU-Net v2 raw dataset (imagesTr, labelsTr, dataset.json)')
    .argument('<name>', 'cohort name')
    .requiredOption('--version <n>', 'the frozen version')
    .requiredOption('--out <dir>', 'folder to write Dataset<ID>_<Name> (or its .zip) into, e.g. $nnUNet_raw')
    .option('--dataset-id <id>', 'nnU-Net dataset id, 1 to 999', '501')
    .option('--name <name>', 'dataset name after Dataset<ID>_ (default: from the cohort name and version)')
    .option(
      '--structure <name>',
      'TG-263 structure to label (repeatable; default: every structure with a reference)',
      collect,
    )
    .option('--no-external', 'leave out the external (body) outline')
    .option('--zip', 'write Dataset<ID>_<Name>.zip instead of a folder')
    .action(async (name: string, options: ExportOptions) => {
      const input: DatasetExportInput = {
        cohort: name,
        version: parseOption(positiveInteger(1_000_000), '--version', options.version),
        datasetId: parseOption(positiveInteger(999), '--dataset-id', options.datasetId),
        name: options.name,
        structures: options.structure,
        includeExternal: options.external,
      };
      const out = parseOption(z.string().min(1, 'expected a folder'), '--out', options.out);
      await withCliStores('cohort', async (deps) => {
        const started = performance.now();
        let summary: DatasetExportSummary;
        let written: string;
        if (options.zip) {
          const zip = await exportNnunetZip(deps, input);
          written = path.resolve(out, zip.fileName);
          await mkdir(path.dirname(written), { recursive: true });
          await saveStream(zip.body, written);
          summary = await zip.summary;
        } else {
          summary = await exportNnunetDirectory(deps, input, out);
          written = summary.folder;
        }
        await audit(deps.db, cliActor(), {
          action: 'cohort.export',
          objectType: 'cohort',
          objectId: name,
          details: {
            version: input.version,
            format: options.zip ? 'nnunet-zip' : 'nnunet-folder',
            target: written,
            cases: summary.cases,
            labels: summary.labels,
          },
        });
        printSummary(summary, written, (performance.now() - started) / 1000);
      });
    });
}
