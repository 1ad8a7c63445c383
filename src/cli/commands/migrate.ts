import type { Command } from 'commander';
import { loadConfig } from '../../lib/server/config';
import { openDatabase } from '../../lib/server/db/database';
import { migrateDown, migrateToLatest, migrationStatus } from '../../lib/server/db/migrate';
import { createLogger } from '../../lib/server/logger';
import { parseOption, positiveInteger } from '../options';

async function withDatabase<T>(
  work: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  const opened = await openDatabase(config, createLogger(config.logLevel), {
    migrate: false,
    applicationName: 'contourbench-migrate',
  });
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

export function registerMigrate(program: Command): void {
  const migrate = program.command('migrate').description('apply, revert or list database migrations');

  migrate
    .command('up')
    .description('apply every pending migration')
    .action(() =>
      withDatabase(async ({ connection }) => {
        const applied = await migrateToLatest(connection.db);
        process.stdout.write(
          applied.length === 0
            ? 'Already up to date.\n'
            : applied.map((name) => `applied  ${name}\n`).join(''),
        );
      }),
    );

  migrate
    .command('down')
    .description('revert the last migration (or more)')
    .option('-s, --steps <n>', 'how many migrations to revert', '1')
    .option('--all', 'revert every migration (drops all ContourBench tables and their data)')
    .action((options: { steps: string; all?: boolean }) => {
      const steps = options.all ? 'all' : parseOption(positiveInteger(10_000), '--steps', options.steps);
      return withDatabase(async ({ connection }) => {
        const reverted = await migrateDown(connection.db, steps);
        process.stdout.write(
          reverted.length === 0
            ? 'Nothing to revert.\n'
            : reverted.map((name) => `reverted ${name}\n`).join(''),
        );
      });
    });

  migrate
    .command('status')
    .description('list migrations and whether each is applied')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) =>
      withDatabase(async ({ connection }) => {
        const status = await migrationStatus(connection.db);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        for (const { name, executedAt } of status) {
          process.stdout.write(
            `${executedAt ? `applied ${executedAt.toISOString()}` : 'pending'.padEnd(32)}  ${name}\n`,
          );
        }
        const pending = status.filter((m) => !m.executedAt).length;
        process.stdout.write(`${status.length - pending} applied, ${pending} pending\n`);
      }),
    );
}
