import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { exportContourSet } from '../../lib/server/services/export.service';
import { FileBlobStore } from '../../lib/server/storage/blob-store';
import { parseOption, positiveInteger } from '../options';
import { audit } from '../../lib/server/services/account.service';
import { cliActor } from '../lifecycle';

export function registerExportRtStruct(program: Command): void {
  program
    .command('export-rtstruct')
    .description('write a contour set as a DICOM RTSTRUCT on its CT series')
    .requiredOption('--contour-set <id>', 'contour set id')
    .requiredOption('-o, --out <file>', 'output file (.dcm)')
    .option(
      '--simplify-mm <mm>',
      'simplify contours within this distance (default: exact, no simplification)',
    )
    .action(async (options: { contourSet: string; out: string; simplifyMm?: string }) => {
      const simplifyToleranceMm =
        options.simplifyMm === undefined
          ? undefined
          : parseOption(
              z.coerce.number().min(0, 'expected a distance >= 0 mm').max(10, 'expected at most 10 mm'),
              '--simplify-mm',
              options.simplifyMm,
            );
      const id = parseOption(positiveInteger(Number.MAX_SAFE_INTEGER), '--contour-set', options.contourSet);
      const config = loadConfig();
      const opened = await openDatabase(config, createLogger(config.logLevel), {
        migrate: true,
        applicationName: 'contourbench-export',
      });
      try {
        const result = await exportContourSet(
          opened.connection.db,
          new FileBlobStore(path.join(config.dataDir, 'blobs')),
          id,
          options.out,
          { simplifyToleranceMm },
        );
        await audit(opened.connection.db, cliActor(), {
          action: 'export.rtstruct',
          objectType: 'contour_set',
          objectId: id,
          details: { file: result.file, originalUids: result.originalUids },
        });
        process.stdout.write(
          `Wrote ${result.rois} ROIs to ${result.file} (${result.originalUids ? 'original' : 'pseudonymous'} UIDs) in ${result.elapsedMs.toFixed(0)} ms\n`,
        );
      } finally {
        await opened.close();
      }
    });
}
