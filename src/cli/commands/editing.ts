import type { Command } from 'commander';
import { importEditingCsv } from '../../lib/server/services/editing.service';
import { readInputFile, withCliDatabase } from '../lifecycle';

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
      const text = (await readInputFile(file)).toString('utf8');
      const result = await withCliDatabase('editing', (db) => importEditingCsv(db, text, file));
      if (result.errors.length > 0) {
        process.stderr.write(
          `${result.errors.map((e) => e.message).join('\n')}\nNothing imported: ${result.errors.length} problem(s) in ${file}.\n`,
        );
        process.exitCode = 1;
      } else {
        process.stdout.write(`Imported ${result.imported} editing session(s) from ${file}.\n`);
      }
    });
}
