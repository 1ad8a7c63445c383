import type { Command } from 'commander';
import { z } from 'zod';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { configureSite } from '../../lib/server/services/site.service';
import { parseOption } from '../options';

export function registerSites(program: Command): void {
  program
    .command('site')
    .description('create or configure a site')
    .requiredOption('--site <code>', 'site code')
    .option('--name <name>', 'display name')
    .option(
      '--keep-uid-map <yes|no>',
      'keep original DICOM UIDs so contours can be exported back to the planning system',
    )
    .action(async (options: { site: string; name?: string; keepUidMap?: string }) => {
      const keep =
        options.keepUidMap === undefined
          ? undefined
          : parseOption(
              z.enum(['yes', 'no'], { error: 'expected yes or no' }),
              '--keep-uid-map',
              options.keepUidMap,
            ) === 'yes';
      const config = loadConfig();
      const opened = await openDatabase(config, createLogger(config.logLevel), {
        migrate: true,
        applicationName: 'contourbench-site',
      });
      try {
        const site = await configureSite(opened.connection.db, options.site, {
          name: options.name,
          keepUidMap: keep,
        });
        process.stdout.write(
          `Site ${site.code} (${site.name}): original UIDs ${site.keepUidMap ? 'kept' : 'not kept'}\n`,
        );
      } finally {
        await opened.close();
      }
    });
}
