/**
 * Fills the database at DATABASE_URL with the deterministic analytics load-test dataset (see
 * seedAnalytics in src/lib/server/services/analytics-seed.service.ts for what it holds and which effects
 * are planted), after applying pending migrations.
 *
 *   npx tsx scripts/seed-analytics.ts [--cases N] [--seed S]
 *
 * 1430 cases (the default) give about 100,000 metric rows. A database that already holds the seeded
 * cohort is left alone (exit code 1).
 */
import { parseArgs } from 'node:util';
import { errorMessage, isAppError } from '../src/lib/core/errors';
import { connect, redactUrl } from '../src/lib/server/db/connection';
import { migrateToLatest } from '../src/lib/server/db/migrate';
import { DEFAULT_SEED, seedAnalytics } from '../src/lib/server/services/analytics-seed.service';

const DEFAULT_CASES = 1430;

function integerOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
    throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`);
  }
  return parsed;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: npx tsx scripts/seed-analytics.ts [--cases N] [--seed S]\n');
    return 0;
  }
  const cases = integerOption('cases', values.cases, DEFAULT_CASES, 1);
  const seed = integerOption('seed', values.seed, DEFAULT_SEED, Number.MIN_SAFE_INTEGER);
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write(
      'DATABASE_URL is not set: point it at the database to fill, e.g.\n' +
        '  DATABASE_URL=postgres://user@127.0.0.1:5432/cb_seed npx tsx scripts/seed-analytics.ts\n',
    );
    return 2;
  }

  const connection = connect(url, { max: 2, applicationName: 'contourbench-seed' });
  try {
    const started = performance.now();
    const applied = await migrateToLatest(connection.db);
    process.stdout.write(
      `${redactUrl(url)}: ${applied.length === 0 ? 'migrations up to date' : `applied ${applied.join(', ')}`}\n`,
    );
    process.stdout.write(`seeding ${cases} cases (seed ${seed})\n`);
    let lastPercent = -1;
    const result = await seedAnalytics(connection.db, {
      cases,
      seed,
      onProgress: (done, total) => {
        const percent = Math.floor((100 * done) / total);
        if (percent >= lastPercent + 10 || done === total) {
          lastPercent = percent;
          process.stdout.write(`  ${done}/${total} cases (${percent}%)\n`);
        }
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const lines: Array<[string, string | number]> = [
      ['cohort', result.cohort],
      ['sites', result.sites.join(', ')],
      ['models', result.models.join(', ')],
      ['cases', result.cases],
      ['contour sets', result.contourSets],
      ['metric rows', result.metricRows],
      ['editing sessions', result.editingSessions],
      ['elapsed', `${seconds.toFixed(1)} s`],
    ];
    process.stdout.write(lines.map(([label, value]) => `${label.padEnd(17)} ${value}\n`).join(''));
    return 0;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${isAppError(error) ? `${error.code}: ` : ''}${errorMessage(error)}\n`);
    process.exitCode = 1;
  },
);
