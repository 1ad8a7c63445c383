import type { Command } from 'commander';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { addStructureAlias, previewStructureNames } from '../../lib/server/services/structure.service';

async function withDatabase<T>(
  work: (db: Awaited<ReturnType<typeof openDatabase>>['connection']['db']) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const opened = await openDatabase(config, createLogger(config.logLevel), {
    migrate: true,
    applicationName: 'contourbench-structures',
  });
  try {
    return await work(opened.connection.db);
  } finally {
    await opened.close();
  }
}

export function registerStructures(program: Command): void {
  const structures = program.command('structures').description('TG-263 structure names and per-site aliases');

  structures
    .command('alias')
    .description('map a site-specific ROI name to a TG-263 structure')
    .requiredOption('--name <roi>', 'ROI name as the site writes it')
    .requiredOption('--tg263 <name>', 'TG-263 structure name')
    .option('--site <code>', 'site the alias belongs to (default: every site)')
    .action((options: { name: string; tg263: string; site?: string }) =>
      withDatabase(async (db) => {
        const key = await addStructureAlias(db, options.site ?? null, options.name, options.tg263);
        process.stdout.write(
          `"${options.name}" (key ${key}) -> ${options.tg263}${options.site ? ` at ${options.site}` : ' at every site'}\n`,
        );
      }),
    );

  structures
    .command('map')
    .description('show how ROI names map to TG-263 at a site')
    .requiredOption('--site <code>', 'site')
    .option('--laterality <side>', 'treated side, left or right')
    .argument('<names...>', 'ROI names')
    .action((names: string[], options: { site: string; laterality?: string }) =>
      withDatabase(async (db) => {
        const side =
          options.laterality === 'left' || options.laterality === 'right' ? options.laterality : null;
        for (const row of await previewStructureNames(db, options.site, names, side)) {
          process.stdout.write(
            `${row.name.padEnd(24)} ${row.tg263Name ? `-> ${row.tg263Name} (${row.rule})` : 'not mapped'}\n`,
          );
        }
      }),
    );
}
