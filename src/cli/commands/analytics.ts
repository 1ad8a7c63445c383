import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { AppError, errorMessage } from '../../lib/core/errors';
import { acknowledge, alarms, refreshAlarms } from '../../lib/server/services/drift.service';
import { criteriaSets, saveCriteriaSet } from '../../lib/server/services/model-comparison.service';
import { cliActor, withCliDatabase } from '../lifecycle';
import { parseOption } from '../options';

/** `contourbench criteria set FILE.json | list`: named acceptance criteria sets of model commissioning. */
export function registerCriteria(program: Command): void {
  const criteria = program.command('criteria').description('acceptance criteria of model commissioning');
  criteria
    .command('set')
    .description(
      'store a criteria set from JSON {"name", "criteria": [{structure|null, metric, comparator, threshold, minPassRate, note}]}, replacing one of the same name',
    )
    .argument('<file>', 'JSON file')
    .action(async (file: string) => {
      let body: unknown;
      try {
        body = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw new AppError('INVALID_INPUT', `${file}: not a readable JSON file (${errorMessage(error)})`);
      }
      await withCliDatabase('criteria', async (db) => {
        const saved = await saveCriteriaSet(db, body, file);
        process.stdout.write(`criteria set "${saved.name}": ${saved.criteria.length} criteria stored\n`);
      });
    });
  criteria
    .command('list')
    .description('every criteria set with its criteria')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withCliDatabase('criteria', async (db) => {
        const sets = await criteriaSets(db);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(sets)}\n`);
          return;
        }
        for (const set of sets) {
          process.stdout.write(`${set.name}\n`);
          for (const c of set.criteria)
            process.stdout.write(
              `  ${c.structure ?? '(every structure)'}: ${c.metric} ${c.comparator} ${c.threshold} in ${c.minPassRate * 100}% of cases${c.note ? ` (${c.note})` : ''}\n`,
            );
        }
        if (sets.length === 0) process.stdout.write('no criteria sets\n');
      });
    });
}

/** `contourbench alarms list | refresh | ack ID --note N`: drift alarms of the control charts. */
export function registerAlarms(program: Command): void {
  const command = program.command('alarms').description('drift alarms raised by the control charts');
  command
    .command('list')
    .description('open alarms, newest first (--all for acknowledged ones too)')
    .option('--all', 'include acknowledged alarms')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (options: { all?: boolean; limit: string; json?: boolean }) => {
      const limit = parseOption(z.coerce.number().int().min(1).max(5000), '--limit', options.limit);
      await withCliDatabase('alarms', async (db) => {
        const list = await alarms(db, { open: !options.all, limit });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(list)}\n`);
          return;
        }
        for (const a of list)
          process.stdout.write(
            `${a.id}\t${a.pointAt.toISOString().slice(0, 10)}\t${a.model ?? '-'}\t${a.site ?? '-'}\t${a.structure ?? '-'}\t${a.metric}\t${a.description}${a.acknowledgedAt ? `\tacknowledged: ${a.acknowledgementNote}` : ''}\n`,
          );
        if (list.length === 0) process.stdout.write(options.all ? 'no alarms\n' : 'no open alarms\n');
      });
    });
  command
    .command('refresh')
    .description(
      "recompute every model's control charts and store new alarms (also run after each evaluation run)",
    )
    .action(async () => {
      await withCliDatabase('alarms', async (db) => {
        const result = await refreshAlarms(db);
        process.stdout.write(`${result.series} series charted, ${result.raised} new alarm(s)\n`);
      });
    });
  command
    .command('ack')
    .description('acknowledge an alarm with a note')
    .argument('<id>', 'alarm id')
    .requiredOption('--note <text>', 'what was found and done')
    .option('--user <email>', 'the acknowledging user')
    .action(async (id: string, options: { note: string; user?: string }) => {
      const alarmId = parseOption(z.coerce.number().int().positive(), 'alarm id', id);
      const note = parseOption(z.string().min(1).max(2000), '--note', options.note);
      await withCliDatabase('alarms', async (db) => {
        await acknowledge(db, alarmId, { note, user: options.user }, cliActor());
        process.stdout.write(`alarm ${alarmId} acknowledged\n`);
      });
    });
}
