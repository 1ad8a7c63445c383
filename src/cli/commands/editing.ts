import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { AppError, errorMessage } from '../../lib/core/errors';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { createLogger } from '../../lib/server/logger';
import { importEditingCsv } from '../../lib/server/services/editing.service';

/** `contourbench editing import FILE.csv`: records physicians' contouring and editing times. */
export function registerEditing(program: Command): void {
  const editing = program.command('editing').description('editing-time records (contouring and correcting)');
  editing
    .command('import')
    .description(
      'import editing sessions from a CSV (site,case,observer,structure,mode,started_at,ended_at,active_seconds[,from_set,to_set,tool]); all or nothing',
    )
    .argument('<file>', 'CSV file with a header line')
    .action(async (file: string) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new AppError('INVALID_ARGUMENT', `cannot read ${file}: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      const config = loadConfig();
      const opened = await openDatabase(config, createLogger(config.logLevel), {
        migrate: true,
        applicationName: 'contourbench-editing',
      });
      try {
        const result = await importEditingCsv(opened.connection.db, text, file);
        if (result.errors.length > 0) {
          process.stderr.write(
            `${result.errors.map((e) => e.message).join('\n')}\nNothing imported: ${result.errors.length} problem(s) in ${file}.\n`,
          );
          process.exitCode = 1;
        } else {
          process.stdout.write(`Imported ${result.imported} editing session(s) from ${file}.\n`);
        }
      } finally {
        await opened.close();
      }
    });
}
