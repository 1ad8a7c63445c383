import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDicom, type ImportReport } from '../../src/lib/server/services/import.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { setKeepUidMap } from '../../src/lib/server/repositories/site.repository';
import { exportContourSet } from '../../src/lib/server/services/export.service';
import { addStructureAlias } from '../../src/lib/server/services/structure.service';
import { parseDicom } from '../../src/lib/server/io/dicom/parser';
import { readStructureSet } from '../../src/lib/server/io/rtstruct';
import { buildImageSeries, scanDicomFolder } from '../../src/lib/server/io/ct-series';
import { rasteriseRoi } from '../../src/lib/core/contours/rasterise';
import { createTestDatabase, type TestDatabase } from './test-database';

const series = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../shared/testdata/dicom/breast-dicompyler/series',
);

let database: TestDatabase;
let blobDir: string;
let blobs: FileBlobStore;
let first: ImportReport;

async function counts() {
  const result = await sql<{ cases: number; series: number; sets: number; contours: number; blobs: number }>`
    select (select count(*)::int from patient_case) as cases, (select count(*)::int from image_series) as series,
           (select count(*)::int from contour_set) as sets, (select count(*)::int from contour) as contours,
           (select count(*)::int from blob) as blobs`.execute(database.db);
  return result.rows[0];
}

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-blobs-'));
  blobs = new FileBlobStore(blobDir);
  first = await importDicom(database.db, blobs, series, {
    siteCode: 'SITE-A',
    observerCode: 'RO1',
    laterality: 'left',
    cohortName: 'breast',
  });
}, 120_000);

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

describe('DICOM import', () => {
  it('imports the breast case: one case, its series and one contour set of the mapped ROIs', async () => {
    expect(first.rejected).toEqual([]);
    expect(first.failed).toEqual([]);
    expect(first.studies).toHaveLength(1);
    const [set] = first.studies[0].structureSets;
    expect(set.rois.map((r) => [r.roi, r.tg263Name])).toEqual([
      ['BODY', 'External'],
      ['Breast', 'CTV_Breast_L'],
      ['Heart', 'Heart'],
      ['Lt Lung', 'Lung_L'],
      ['Tumor Bed', 'CTV_TumorBed_L'],
    ]);
    expect(set.unmapped).toEqual(['Areola', 'Borders', 'Nodes', 'Scar', 'Tumor Bed Block']);
    // kept with the set, for the cohort checks
    const stored = await database.db
      .selectFrom('contour_set')
      .select('unmapped_roi_names')
      .where('id', '=', set.contourSetId)
      .executeTakeFirstOrThrow();
    expect(stored.unmapped_roi_names).toEqual(set.unmapped);
    expect(set.rois.find((r) => r.roi === 'Heart')?.voxels).toBe(127003);
    expect(await counts()).toEqual({ cases: 1, series: 1, sets: 1, contours: 5, blobs: 6 });
    const cohort = await database.db.selectFrom('cohort_case').selectAll().execute();
    expect(cohort).toHaveLength(1);
  });

  it('stores masks that read back, and the case metadata', async () => {
    const heart = await database.db
      .selectFrom('contour')
      .innerJoin('structure', 'structure.id', 'contour.structure_id')
      .select(['contour.mask_blob_sha256', 'contour.voxel_count', 'contour.volume_cc', 'contour.bbox_ijk'])
      .where('structure.tg263_name', '=', 'Heart')
      .executeTakeFirstOrThrow();
    const mask = await blobs.get(heart.mask_blob_sha256);
    expect(mask.length).toBe(512 * 512 * 98);
    expect(mask.reduce((sum, v) => sum + v, 0)).toBe(127003);
    expect(heart.volume_cc).toBeCloseTo(439.66, 2);
    expect(heart.bbox_ijk).toHaveLength(6);
    const patientCase = await database.db.selectFrom('patient_case').selectAll().executeTakeFirstOrThrow();
    expect(patientCase.pseudonym).toMatch(/^SITE-A-[0-9A-Z]{10}$/);
    expect(patientCase.laterality).toBe('left');
    expect(patientCase.slice_thickness_mm).toBe(3);
    expect(patientCase.hu_p50).not.toBeNull();
  });

  it('de-identifies: no patient name or original UID is stored', async () => {
    const dump = JSON.stringify([
      await database.db.selectFrom('patient_case').selectAll().execute(),
      await database.db.selectFrom('image_series').selectAll().execute(),
      await database.db.selectFrom('contour_set').selectAll().execute(),
      await database.db.selectFrom('observer').selectAll().execute(),
    ]);
    expect(dump).not.toContain('boost');
    expect(dump).not.toContain('2.16.840.1.113662.2.12.0.3057.1241703565');
    const stored = await database.db.selectFrom('image_series').selectAll().executeTakeFirstOrThrow();
    expect(stored.series_instance_uid).toMatch(/^2\.25\.\d+$/);
    expect(stored.sop_instance_uids).toHaveLength(98);
    expect(stored.slice_origins_lps_mm).toHaveLength(98 * 3);
    expect(await database.db.selectFrom('uid_map').selectAll().execute()).toEqual([]);
  });

  it('changes nothing when the same objects are imported again, and keeps the UID map only when asked', async () => {
    const before = await counts();
    const again = await importDicom(database.db, blobs, series, {
      siteCode: 'SITE-A',
      observerCode: 'RO1',
      laterality: 'left',
    });
    expect(again.studies[0].pseudonym).toBe(first.studies[0].pseudonym);
    expect(again.studies[0].structureSets[0].contourSetId).toBe(
      first.studies[0].structureSets[0].contourSetId,
    );
    expect(await counts()).toEqual(before);

    const site = await database.db
      .selectFrom('site')
      .select('id')
      .where('code', '=', 'SITE-A')
      .executeTakeFirstOrThrow();
    await setKeepUidMap(database.db, site.id, true);
    await importDicom(database.db, blobs, series, {
      siteCode: 'SITE-A',
      observerCode: 'RO1',
      laterality: 'left',
    });
    const map = await database.db.selectFrom('uid_map').selectAll().execute();
    expect(map.length).toBe(98 + 4);
    expect(map.map((m) => m.original_uid)).toContain('2.16.840.1.113662.2.12.0.3057.1241703565.36');
    expect(await counts()).toEqual(before);
  });

  it('exports the contour set as an RTSTRUCT that rasterises back to the stored masks', async () => {
    const out = path.join(blobDir, 'export.dcm');
    const contourSetId = first.studies[0].structureSets[0].contourSetId;
    const result = await exportContourSet(database.db, blobs, contourSetId, out);
    expect(result.rois).toBe(5);
    expect(result.originalUids).toBe(true); // the site keeps its UID map since the previous test
    const exported = readStructureSet(parseDicom(await readFile(out), out));
    expect(exported.rois.map((r) => r.name)).toEqual([
      'External',
      'CTV_Breast_L',
      'Heart',
      'Lung_L',
      'CTV_TumorBed_L',
    ]);
    // the original CT finds its structure set again: same frame of reference, every slice referenced
    const scan = await scanDicomFolder(series);
    const ct = buildImageSeries([...scan.imageSeries.values()][0]);
    expect(exported.frameOfReferenceUid).toBe(ct.grid.frameOfReferenceUid);
    expect(new Set(exported.referencedSopInstanceUids)).toEqual(new Set(ct.sopInstanceUids));
    const stored = await database.db
      .selectFrom('contour')
      .innerJoin('structure', 'structure.id', 'contour.structure_id')
      .select(['structure.tg263_name', 'contour.mask_blob_sha256'])
      .where('contour.contour_set_id', '=', contourSetId)
      .execute();
    for (const roi of exported.rois) {
      const mask = await blobs.get(stored.find((s) => s.tg263_name === roi.name)!.mask_blob_sha256);
      const again = rasteriseRoi(roi, ct.grid).mask.data;
      let differing = 0;
      for (let n = 0; n < mask.length; n++) if (mask[n] !== again[n]) differing++;
      expect(differing, roi.name).toBe(0);
    }
  });

  it('imports a zip archive and names its files inside the archive', async () => {
    const entries: Record<string, [Uint8Array, { level: 0 }]> = {};
    for (const file of await readdir(series))
      entries[`export/${file}`] = [await readFile(path.join(series, file)), { level: 0 }];
    const zip = path.join(blobDir, 'study.zip');
    await writeFile(zip, zipSync(entries));
    const report = await importDicom(database.db, blobs, zip, { siteCode: 'SITE-Z', laterality: 'left' });
    expect(report.failed).toEqual([]);
    expect(report.studies).toHaveLength(1);
    expect(report.studies[0].structureSets[0].file).toBe(`${zip}/export/rtss.dcm`);
    expect(report.studies[0].pseudonym).toMatch(/^SITE-Z-/);
  });

  it('maps a site alias before the built-in rules, for that site only', async () => {
    await addStructureAlias(database.db, 'SITE-N', 'Nodes', 'CTVn_LN_L');
    await expect(addStructureAlias(database.db, 'SITE-N', 'Nodes', 'Nodes_X')).rejects.toThrowError(
      /"Nodes_X" is not a TG-263 name/,
    );
    const report = await importDicom(database.db, blobs, series, { siteCode: 'SITE-N', laterality: 'left' });
    const nodes = report.studies[0].structureSets[0].rois.find((r) => r.roi === 'Nodes');
    expect(nodes).toMatchObject({ tg263Name: 'CTVn_LN_L', rule: 'site alias', voxels: 192 });
    expect(report.studies[0].structureSets[0].unmapped).not.toContain('Nodes');
    expect(first.studies[0].structureSets[0].unmapped).toContain('Nodes');
  });

  it('lists bad files and a structure set without its series, storing nothing for them', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'contourbench-bad-import-'));
    try {
      await mkdir(path.join(folder, 'nested'));
      await copyFile(path.join(series, 'rtss.dcm'), path.join(folder, 'nested', 'rtss.dcm'));
      await writeFile(
        path.join(folder, 'broken.dcm'),
        (await readFile(path.join(series, 'CT.000.dcm'))).subarray(0, 900),
      );
      const before = await counts();
      const report = await importDicom(database.db, blobs, folder, { siteCode: 'SITE-B' });
      expect(report.studies).toEqual([]);
      expect(report.rejected).toEqual([
        { path: path.join(folder, 'broken.dcm'), reason: expect.stringContaining('truncated') },
      ]);
      expect(report.failed).toEqual([
        {
          what: path.join(folder, 'nested', 'rtss.dcm'),
          reason: expect.stringContaining('no image series on its frame of reference'),
        },
      ]);
      expect(await counts()).toEqual(before);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
