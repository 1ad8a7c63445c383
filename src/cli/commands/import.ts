import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { importDicom, type ImportReport } from '../../lib/server/services/import.service';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { parseOption } from '../options';
import { audit } from '../../lib/server/services/account.service';
import { importAuditDetails } from '../../lib/server/services/audit.service';
import { cliActor } from '../lifecycle';

const siteCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'use letters, digits, ".", "_" or "-"');
const laterality = z.enum(['left', 'right', 'bilateral'], { error: 'expected left, right or bilateral' });
const surgery = z.enum(['breast_conserving', 'mastectomy', 'mastectomy_reconstruction', 'none'], {
  error: 'expected breast_conserving, mastectomy, mastectomy_reconstruction or none',
});

/** "40.05/15": the prescription dose in Gy and the number of fractions. */
const prescription = z
  .string()
  .regex(/^\d+(\.\d+)?\/\d+$/, 'expected GY/FRACTIONS, e.g. 40.05/15')
  .transform((text) => {
    const [gy, fractions] = text.split('/').map(Number);
    return { prescriptionGy: gy!, fractions: fractions! };
  })
  .refine((p) => p.prescriptionGy > 0 && p.prescriptionGy <= 200 && p.fractions >= 1 && p.fractions <= 100, {
    message: 'a dose of 0 to 200 Gy in 1 to 100 fractions',
  });

export function formatImportReport(report: ImportReport): string {
  const lines: string[] = [];
  lines.push(`Read ${report.files} files (${(report.bytesRead / 1e6).toFixed(1)} MB).`);
  for (const study of report.studies) {
    lines.push(
      `Case ${study.pseudonym}: ${study.slices} slices, ${study.structureSets.length} structure set(s)`,
    );
    for (const set of study.structureSets) {
      lines.push(`  ${path.basename(set.file)} "${set.label}" -> contour set ${set.contourSetId}`);
      for (const roi of set.rois) {
        lines.push(
          `    ${roi.roi.padEnd(20)} -> ${roi.tg263Name.padEnd(18)} ${roi.volumeCc.toFixed(1).padStart(8)} cc  (${roi.rule})`,
        );
      }
      if (set.unmapped.length > 0)
        lines.push(`    not mapped to TG-263 (not imported): ${set.unmapped.join(', ')}`);
      for (const duplicate of set.duplicates) {
        lines.push(
          `    ${duplicate.names.join(' and ')} all map to ${duplicate.tg263Name}: kept "${duplicate.names[0]}"`,
        );
      }
      for (const skipped of set.skippedContours) {
        lines.push(
          `    ${skipped.roi}: ${skipped.offGrid} contours off the slices, ${skipped.openOrPoint} open or point contours skipped`,
        );
      }
    }
    for (const dose of study.doses ?? [])
      lines.push(
        `  ${path.basename(dose.file)} RT dose (${dose.summationType}, ${dose.doseType}) -> dose grid ${dose.doseGridId}: ` +
          `${dose.dims.join('x')} at ${dose.spacingMm.join('x')} mm, max ${dose.maxGy.toFixed(2)} Gy` +
          (dose.prescriptionGy === null
            ? ', no prescription'
            : `, prescription ${dose.prescriptionGy} Gy${dose.fractions ? ` in ${dose.fractions} fractions` : ''} (from the ${dose.prescriptionFrom})`),
      );
    for (const warning of study.warnings) lines.push(`  warning: ${warning}`);
  }
  for (const rejected of report.rejected) lines.push(`Skipped ${rejected.path}: ${rejected.reason}`);
  for (const failed of report.failed) lines.push(`Not imported: ${failed.what}: ${failed.reason}`);
  if (report.ignored.length > 0) {
    lines.push(
      `Ignored ${report.ignored.length} objects of other modalities (${[...new Set(report.ignored.map((i) => i.modality))].join(', ')}).`,
    );
  }
  lines.push(`The site now has ${report.casesAtSite} case(s).`);
  return `${lines.join('\n')}\n`;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'import a DICOM folder, file or zip (CT series and RTSTRUCTs), de-identified, into the database',
    )
    .argument('<path>', 'folder (searched recursively), file or zip archive')
    .requiredOption('--site <code>', 'site the data comes from (created if new)')
    .option('--observer <code>', 'physician who drew the structure sets (default: unknown)')
    .option('--cohort <name>', 'add the imported cases to this cohort')
    .option('--laterality <side>', 'treated side: left, right or bilateral (maps side-less names)')
    .option('--surgery <type>', 'breast_conserving, mastectomy, mastectomy_reconstruction or none')
    .option(
      '--prescription <gy/fractions>',
      'prescription of RT doses whose RT Plan is not in the import, e.g. 40.05/15',
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (
        root: string,
        options: {
          site: string;
          observer?: string;
          cohort?: string;
          laterality?: string;
          surgery?: string;
          prescription?: string;
          json?: boolean;
        },
      ) => {
        const config = loadConfig();
        const logger = createLogger(config.logLevel, 'contourbench', 'stderr');
        const opened = await openDatabase(config, logger, {
          migrate: true,
          applicationName: 'contourbench-import',
        });
        try {
          const report = await importDicom(
            opened.connection.db,
            new FileBlobStore(path.join(config.dataDir, 'blobs')),
            root,
            {
              siteCode: parseOption(siteCode, '--site', options.site),
              observerCode: options.observer,
              cohortName: options.cohort,
              laterality:
                options.laterality === undefined
                  ? undefined
                  : parseOption(laterality, '--laterality', options.laterality),
              surgeryType:
                options.surgery === undefined
                  ? undefined
                  : parseOption(surgery, '--surgery', options.surgery),
              prescription:
                options.prescription === undefined
                  ? undefined
                  : parseOption(prescription, '--prescription', options.prescription),
            },
            logger,
          );
          await audit(opened.connection.db, cliActor(), {
            action: 'import.dicom',
            objectType: 'site',
            objectId: options.site,
            details: { ...importAuditDetails(report), folder: path.resolve(root) },
          });
          process.stdout.write(
            options.json ? `${JSON.stringify(report, null, 2)}\n` : formatImportReport(report),
          );
          if (report.studies.length === 0) process.exitCode = 1;
        } finally {
          await opened.close();
        }
      },
    );
}
