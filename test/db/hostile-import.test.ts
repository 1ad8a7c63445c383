import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/lib/core/errors';
import { defaultPhantomGrid } from '../../src/lib/core/phantom/breast-phantom';
import { generateDemoCase, planDemoCohort } from '../../src/lib/server/services/demo.service';
import { importDicom, type ImportReport } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import {
  dicomMutations,
  dicomSetText,
  indexDicom,
  type DicomMutationName,
  type Mutated,
} from '../helpers/hostile-mutations';
import { mulberry32 } from '../helpers/random';
import { tags } from '../../src/lib/server/io/dicom/parser';
import { createTestDatabase, type TestDatabase } from './test-database';

/*
 * "No partial rows": the real DICOM import on mutated copies of a demo case (folders and zips). An import
 * that stores nothing must leave every table's row count and the blob store as they were, and say which
 * file failed; one that stores a study must store only that study, with every blob it wrote recorded.
 */

const SITE = 'HOSTILE';
const SEED = 4_242;

let database: TestDatabase;
let dir: string;
let blobDir: string;
let blobs: FileBlobStore;
let demoCase: string;
let ctFiles: string[];
let rsFiles: string[];

interface Snapshot {
  rows: Record<string, number>;
  blobFiles: string[];
  seriesUids: string[];
}

async function snapshot(): Promise<Snapshot> {
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(database.db);
  const rows: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const result = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(name)}`.execute(
      database.db,
    );
    rows[name] = result.rows[0]!.n;
  }
  const blobFiles = (await readdir(blobDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(blobDir, path.join(entry.parentPath, entry.name)))
    .sort();
  const series = await database.db.selectFrom('image_series').select('series_instance_uid').execute();
  return { rows, blobFiles, seriesUids: series.map((s) => s.series_instance_uid).sort() };
}

/** Every blob file has its row and every row its file. */
async function orphans(): Promise<string[]> {
  const files = new Set((await snapshot()).blobFiles.map((f) => path.basename(f).replace(/(\.m)?\.gz$/, '')));
  const rows = new Set(
    (await database.db.selectFrom('blob').select('sha256').execute()).map((r) => r.sha256),
  );
  return [
    ...[...files].filter((sha) => !rows.has(sha)).map((sha) => `file without row ${sha}`),
    ...[...rows].filter((sha) => !files.has(sha)).map((sha) => `row without file ${sha}`),
  ];
}

async function copyCase(name: string): Promise<string> {
  const target = path.join(dir, 'variants', name);
  await cp(demoCase, target, { recursive: true });
  return target;
}

async function mutateFile(
  file: string,
  mutation: DicomMutationName | ((b: Uint8Array) => Mutated),
  seed: number,
) {
  const bytes = new Uint8Array(await readFile(file));
  const mutated =
    typeof mutation === 'function'
      ? mutation(bytes)
      : dicomMutations[mutation](bytes, mulberry32(seed), indexDicom(bytes));
  await writeFile(file, mutated.bytes);
  return mutated.description;
}

async function zipFolder(folder: string, extra: Record<string, Uint8Array> = {}): Promise<string> {
  const entries: Record<string, Uint8Array> = {};
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    entries[path.relative(folder, full)] = new Uint8Array(await readFile(full));
  }
  const file = `${folder}.zip`;
  await writeFile(file, zipSync({ ...entries, ...extra }, { level: 1 }));
  return file;
}

interface Outcome {
  variant: string;
  whole: 'threw' | 'nothing stored' | 'stored';
  problems: string[];
}

/** Runs one import and checks it against the rules above. */
async function check(variant: string, root: string): Promise<Outcome> {
  const before = await snapshot();
  const problems: string[] = [];
  let report: ImportReport | null = null;
  try {
    report = await importDicom(database.db, blobs, root, { siteCode: SITE, laterality: 'left' });
  } catch (error) {
    if (!isAppError(error)) problems.push(`threw a non-AppError: ${String(error)}`);
    else if (!error.message.includes(root))
      problems.push(`the error does not name ${root}: ${error.message}`);
  }
  const after = await snapshot();
  const unchanged = () => {
    if (JSON.stringify(after.rows) !== JSON.stringify(before.rows))
      problems.push(`row counts changed: ${JSON.stringify(before.rows)} -> ${JSON.stringify(after.rows)}`);
    if (JSON.stringify(after.blobFiles) !== JSON.stringify(before.blobFiles))
      problems.push(`the blob store changed: ${after.blobFiles.length - before.blobFiles.length} files`);
  };
  if (report === null) {
    unchanged();
    return { variant, whole: 'threw', problems };
  }
  for (const rejected of report.rejected) {
    if (!rejected.path.startsWith(root) || !rejected.reason.includes(rejected.path))
      problems.push(`a rejected file is not named: ${JSON.stringify(rejected)}`);
  }
  for (const failed of report.failed) {
    if (!`${failed.what} ${failed.reason}`.includes(root))
      problems.push(`a failure names no file: ${JSON.stringify(failed)}`);
  }
  if (report.studies.length === 0) {
    unchanged();
    if (report.failed.length + report.rejected.length === 0)
      problems.push('nothing stored and nothing failed');
    return { variant, whole: 'nothing stored', problems };
  }
  // stored: the new series are exactly the reported ones, and the blob store has no orphans
  const reported = await database.db
    .selectFrom('image_series')
    .select('series_instance_uid')
    .where(
      'id',
      'in',
      report.studies.map((s) => s.seriesId),
    )
    .execute();
  const allowed = new Set([...before.seriesUids, ...reported.map((r) => r.series_instance_uid)]);
  for (const uid of after.seriesUids) if (!allowed.has(uid)) problems.push(`unreported series ${uid} stored`);
  problems.push(...(await orphans()));
  return { variant, whole: 'stored', problems };
}

beforeAll(async () => {
  database = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-hostile-import-'));
  blobDir = path.join(dir, 'blobs');
  blobs = new FileBlobStore(blobDir);
  const options = { sites: 1, casesPerSite: 1, seed: 43 };
  const demoPlan = planDemoCohort(options)[0]!;
  demoPlan.grid = defaultPhantomGrid([4, 4, 8], 400);
  const written = await generateDemoCase(path.join(dir, 'demo'), options, demoPlan);
  demoCase = path.join(dir, 'demo', written.folder);
  ctFiles = (await readdir(path.join(demoCase, 'CT'))).sort().map((f) => path.join('CT', f));
  rsFiles = (await readdir(demoCase)).filter((f) => f.startsWith('RS.')).sort();
  // the valid case first: the site, its key and the structure catalogue exist before any variant
  const baseline = await importDicom(database.db, blobs, demoCase, { siteCode: SITE, laterality: 'left' });
  expect(baseline.failed).toEqual([]);
  expect(baseline.studies).toHaveLength(1);
}, 120_000);

afterAll(async () => {
  await database?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a failing import stores nothing', () => {
  it('mutated CT slices and structure sets, as folders and zips', async () => {
    const random = mulberry32(SEED);
    const names = Object.keys(dicomMutations) as DicomMutationName[];
    const outcomes: Outcome[] = [];
    for (let n = 0; n < 36; n++) {
      const mutation = names[Math.floor(random() * names.length)]!;
      const seed = Math.floor(random() * 2 ** 31);
      const folder = await copyCase(`v${n}`);
      // a middle slice (a refused one leaves a gap) or a structure set
      const target =
        n % 3 === 2
          ? rsFiles[Math.floor(random() * rsFiles.length)]!
          : ctFiles[1 + Math.floor(random() * (ctFiles.length - 2))]!;
      const description = await mutateFile(path.join(folder, target), mutation, seed);
      const root = n % 4 === 3 ? await zipFolder(folder) : folder;
      const outcome = await check(`${target} ${mutation} seed ${seed} (${description})`, root);
      outcomes.push(outcome);
      await rm(folder, { recursive: true, force: true });
    }
    expect(outcomes.filter((o) => o.problems.length > 0)).toEqual([]);
    expect(outcomes.filter((o) => o.whole === 'nothing stored').length).toBeGreaterThan(8);
  }, 300_000);

  it('values that would reach the database malformed', async () => {
    const text = (tag: number, value: string) => (b: Uint8Array) => dicomSetText(b, tag, value);
    // a CT slice refused fails its series; a structure set refused fails alone (the others are stored)
    const cases: Array<[string, 'CT' | 'RS', (b: Uint8Array) => Mutated, Outcome['whole']]> = [
      [
        'a NUL in the series description',
        'CT',
        text(tags.seriesDescription, 'Planning\0CT'),
        'nothing stored',
      ],
      ['a NUL in the manufacturer', 'CT', text(tags.manufacturer, 'ACME\0X'), 'nothing stored'],
      [
        'a NUL in the SOP Class UID',
        'CT',
        text(tags.sopClassUid, '1.2.840.10008.5.1.4.1.1\0.2'),
        'nothing stored',
      ],
      [
        'an impossible acquisition date (stored without a date)',
        'CT',
        text(tags.acquisitionDate, '20261399'),
        'stored',
      ],
      ['a NUL in the structure set label', 'RS', text(tags.structureSetLabel, 'RS\0X'), 'stored'],
      ['a NUL in the operator', 'RS', text(tags.operatorsName, 'Dr\0Who'), 'stored'],
    ];
    const outcomes: Outcome[] = [];
    for (const [n, [what, kind, mutate, expected]] of cases.entries()) {
      const folder = await copyCase(`db${n}`);
      const targets = kind === 'CT' ? ctFiles : rsFiles.slice(0, 1);
      for (const target of targets) await mutateFile(path.join(folder, target), mutate, 0);
      const outcome = await check(what, folder);
      if (outcome.whole !== expected) outcome.problems.push(`${outcome.whole}, expected ${expected}`);
      outcomes.push(outcome);
    }
    expect(outcomes.filter((o) => o.problems.length > 0)).toEqual([]);
  }, 120_000);

  it('ROI numbers that are not integers', async () => {
    const folder = await copyCase('roi');
    const file = path.join(folder, rsFiles[0]!);
    const bytes = new Uint8Array(await readFile(file));
    // a two-digit ROI number becomes ".5" in place, so every length around it stays right
    const site = indexDicom(bytes).sites.find(
      (s) => s.tag === tags.roiNumber && s.length === 2 && bytes[s.valueOffset + 1] !== 0x20,
    )!;
    const out = bytes.slice();
    out.set(new TextEncoder().encode('.5'), site.valueOffset);
    await writeFile(file, out);
    const outcome = await check('ROI number .5', folder);
    expect(outcome.problems).toEqual([]);
    expect(outcome.whole).toBe('stored');
  });
});
