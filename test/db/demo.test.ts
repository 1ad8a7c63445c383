import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rasteriseRoi } from '../../src/lib/core/contours/rasterise';
import { defaultPhantomGrid, generatePhantom } from '../../src/lib/core/phantom/breast-phantom';
import { buildImageSeries, scanDicomFolder } from '../../src/lib/server/io/ct-series';
import { readStructureSet } from '../../src/lib/server/io/rtstruct';
import {
  generateDemoCohort,
  truthObserver,
  type DemoManifest,
} from '../../src/lib/server/services/demo.service';
import { importDemoCohort } from '../../src/lib/server/services/demo-import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

const options = { sites: 3, casesPerSite: 1, seed: 77 };
let dir: string;
let manifest: DemoManifest;
let database: TestDatabase;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-demo-'));
  manifest = await generateDemoCohort(path.join(dir, 'a'), options);
  database = await createTestDatabase();
}, 300_000);

afterAll(async () => {
  await database?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('demo cohort', () => {
  it('writes one CT series and one RTSTRUCT per observer for each case, with a manifest', async () => {
    expect(manifest.cases).toHaveLength(3);
    const first = manifest.cases[0];
    const files = await readdir(path.join(dir, 'a', first.folder));
    expect(files.sort()).toEqual(
      ['CT', ...first.observers.map((o) => `RS.${o.replaceAll(' ', '')}.dcm`)].sort(),
    );
    expect(first.observers[0]).toBe(truthObserver);
  });

  it('is the same for the same seed', async () => {
    const again = await generateDemoCohort(path.join(dir, 'b'), options);
    expect(again.cases).toEqual(manifest.cases);
    const c = manifest.cases[1];
    for (const file of [
      'CT/CT.010.dcm',
      `RS.${truthObserver}.dcm`,
      `RS.${c.observers[2].replaceAll(' ', '')}.dcm`,
    ]) {
      expect(await sha(path.join(dir, 'b', c.folder, file)), file).toBe(
        await sha(path.join(dir, 'a', c.folder, file)),
      );
    }
  }, 300_000);

  it('gives back the phantom organs from the truth RTSTRUCT (Dice 1)', async () => {
    const c = manifest.cases[0];
    const scan = await scanDicomFolder(path.join(dir, 'a', c.folder));
    expect(scan.rejected).toEqual([]);
    const series = buildImageSeries([...scan.imageSeries.values()][0]);
    const truth = readStructureSet(
      scan.rtStructs.find((r) => r.path.endsWith(`RS.${truthObserver}.dcm`))!.file,
    );
    const phantom = generatePhantom(
      {
        seed: c.seed,
        laterality: c.laterality,
        surgery: c.surgery,
        tumourBed: c.tumourBed,
        nodal: c.nodal,
        size: c.size,
        breathing: c.breathing,
      },
      defaultPhantomGrid(c.spacingMm, c.fovMm),
    );
    expect(truth.rois.map((r) => r.name).sort()).toEqual(phantom.structures.map((s) => s.tg263Name).sort());
    for (const roi of truth.rois) {
      const { mask } = rasteriseRoi(roi, series.grid);
      const expected = phantom.structures.find((s) => s.tg263Name === roi.name)!.mask;
      let differing = 0;
      for (let n = 0; n < expected.length; n++) if ((mask.data[n] !== 0) !== (expected[n] !== 0)) differing++;
      expect(differing, roi.name).toBe(0);
    }
  }, 120_000);

  it('validates with dciodvfy', async () => {
    if (spawnSync('dciodvfy', ['-version']).error && process.env.CI !== 'true') return;
    const c = manifest.cases[0];
    for (const file of ['CT/CT.000.dcm', `RS.${truthObserver}.dcm`]) {
      const run = spawnSync('dciodvfy', [path.join(dir, 'a', c.folder, file)], { encoding: 'utf8' });
      const errors = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.startsWith('Error'));
      expect(errors, file).toEqual([]);
    }
  });

  it('imports through the DICOM path, site names mapped to TG-263, and reuses what exists', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'blobs'));
    const first = await importDemoCohort(database.db, blobs, path.join(dir, 'a'), manifest);
    expect(first).toMatchObject({ imported: 3, skipped: 0, contourSets: 9 });
    expect(first.editingSessions).toBe(manifest.cases.reduce((n, c) => n + c.sessions.length, 0));
    expect(first.editingSessions).toBeGreaterThan(30);
    const again = await importDemoCohort(database.db, blobs, path.join(dir, 'a'), manifest);
    expect(again).toEqual({ imported: 0, skipped: 3, contourSets: 0, editingSessions: 0 });
    const sessions = await database.db
      .selectFrom('editing_session')
      .select(['active_seconds', 'to_set_id', 'mode'])
      .execute();
    expect(sessions).toHaveLength(first.editingSessions);
    expect(
      sessions.every((s) => s.mode === 'from_scratch' && s.to_set_id !== null && s.active_seconds > 0),
    ).toBe(true);
    const observers = await database.db.selectFrom('observer').select('code').orderBy('code').execute();
    expect(observers.map((o) => o.code)).toContain(truthObserver);
    // every observer's structures were mapped: each set has as many contours as the truth set, less missed ones
    const perSet = await database.db
      .selectFrom('contour')
      .select(['contour_set_id', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('contour_set_id')
      .execute();
    expect(perSet).toHaveLength(9);
    expect(Math.min(...perSet.map((s) => s.n))).toBeGreaterThanOrEqual(10);
    expect(manifest.aliases.map((a) => [a.site, a.name])).toEqual([
      ['EAST', 'Boost CTV Left'],
      ['EAST', 'Boost CTV Right'],
    ]);
  }, 300_000);
});
