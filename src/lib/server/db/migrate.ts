import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  NO_MIGRATIONS,
} from 'kysely';
import { AppError, errorMessage } from '../../core/errors';
import { migrationsDir } from '../paths';

const migrationName = /^\d{14}_[a-z0-9_]+\.ts$/;

/** Loads migrations/YYYYMMDDHHMMSS_description.ts; any other file there is an error, not silently skipped. */
class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly folder: string) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    const files = (await readdir(this.folder)).filter((file) => !file.startsWith('.')).sort();
    for (const file of files) {
      if (!migrationName.test(file)) {
        throw new AppError(
          'MIGRATION_FAILED',
          `${path.join(this.folder, file)}: migration files are named YYYYMMDDHHMMSS_description.ts`,
        );
      }
      const module = (await import(
        /* @vite-ignore */ pathToFileURL(path.join(this.folder, file)).href
      )) as Partial<Migration>;
      if (typeof module.up !== 'function' || typeof module.down !== 'function') {
        throw new AppError(
          'MIGRATION_FAILED',
          `${path.join(this.folder, file)}: must export up() and down()`,
        );
      }
      migrations[file.replace(/\.ts$/, '')] = { up: module.up, down: module.down };
    }
    return migrations;
  }
}

export interface MigrationStatus {
  name: string;
  executedAt: Date | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations are typed against no schema
type AnyKysely = Kysely<any>;

function migrator(db: AnyKysely, folder = migrationsDir()): Migrator {
  return new Migrator({ db, provider: new FolderMigrationProvider(folder) });
}

function unwrap(result: MigrationResultSet, action: string): string[] {
  const failed = result.results?.find((r) => r.status === 'Error');
  if (result.error) {
    const where = failed ? ` in ${failed.migrationName}` : '';
    throw new AppError(
      'MIGRATION_FAILED',
      `Migration ${action} failed${where}: ${errorMessage(result.error)}`,
      {
        cause: result.error,
      },
    );
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Applies every pending migration (under Kysely's advisory lock, so concurrent starts are safe). */
export async function migrateToLatest(db: AnyKysely, folder?: string): Promise<string[]> {
  return unwrap(await migrator(db, folder).migrateToLatest(), 'up');
}

/** Reverts the last `steps` migrations, or all of them with `steps = 'all'`. */
export async function migrateDown(
  db: AnyKysely,
  steps: number | 'all' = 1,
  folder?: string,
): Promise<string[]> {
  const m = migrator(db, folder);
  if (steps === 'all') return unwrap(await m.migrateTo(NO_MIGRATIONS), 'down');
  const reverted: string[] = [];
  for (let i = 0; i < steps; i++) {
    const names = unwrap(await m.migrateDown(), 'down');
    if (names.length === 0) break;
    reverted.push(...names);
  }
  return reverted;
}

export async function migrationStatus(db: AnyKysely, folder?: string): Promise<MigrationStatus[]> {
  const infos = await migrator(db, folder).getMigrations();
  return infos.map((info) => ({ name: info.name, executedAt: info.executedAt ?? null }));
}
