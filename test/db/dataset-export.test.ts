import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTg263Structure } from '../../src/lib/core/structures/tg263';
import { gridAffine, type Vec3, type Volume } from '../../src/lib/core/volume/volume';
import { readNiftiFile } from '../../src/lib/server/io/nifti-file';
import { extractZip } from '../../src/lib/server/io/zip';
import { saveStream } from '../../src/lib/server/io/zip-writer';
import { ensureObserver } from '../../src/lib/server/repositories/observer.repository';
import { ensureSite } from '../../src/lib/server/repositories/site.repository';
import { ensureStructures } from '../../src/lib/server/repositories/structure.repository';
import {
  checkCohort,
  createCohort,
  decideFinding,
  freezeCohort,
} from '../../src/lib/server/services/cohort.service';
import {
  exportNnunetDirectory,
  exportNnunetZip,
  type DatasetExportSummary,
} from '../../src/lib/server/services/dataset-export.service';
import { FileBlobStore, type BlobStore } from '../../src/lib/server/storage/blob-store';
import { insertCaseWithCt, insertPhysicianSet } from './case-fixture';
import { createTestDatabase, type TestDatabase } from './test-database';

const run = promisify(execFile);
const actor = { userId: null, label: 'test' };
const COHORT = 'breast export';
const STRUCTURES = ['External', 'Lung_L', 'Heart', 'A_LAD'] as const;
type StructureName = (typeof STRUCTURES)[number];

interface FixtureCase {
  pseudonym: string;
  dims: Vec3;
  spacingMm: Vec3;
  originLpsMm: Vec3;
  directionLps: number[];
  /** the stored CT: int16, or float32 (exported rounded to int16) */
  ct: Int16Array | Float32Array;
  masks: Partial<Record<StructureName, Uint8Array>>;
}

/** A mask of the voxels whose index satisfies `inside` (i, j, k as fractions 0..1 of the grid). */
function shape(dims: Vec3, inside: (x: number, y: number, z: number) => boolean): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, v++)
        mask[v] = inside((i + 0.5) / dims[0], (j + 0.5) / dims[1], (k + 0.5) / dims[2]) ? 1 : 0;
  return mask;
}

function fixtureCase(
  pseudonym: string,
  dims: Vec3,
  spacingMm: Vec3,
  directionLps: number[],
  float: boolean,
  withLad: boolean,
): FixtureCase {
  const voxels = dims[0] * dims[1] * dims[2];
  const ct = float ? new Float32Array(voxels) : new Int16Array(voxels);
  for (let v = 0; v < voxels; v++) ct[v] = ((v * 37) % 2400) - 1000 + (float ? 0.3 + (v % 3) * 0.2 : 0);
  const masks: FixtureCase['masks'] = {
    // the body: everything but a margin
    External: shape(dims, (x, y) => (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.2),
    // left lung: the left half of the body, partly over the heart
    Lung_L: shape(dims, (x, y, z) => x > 0.55 && y < 0.7 && z > 0.1),
    Heart: shape(dims, (x, y, z) => (x - 0.55) ** 2 + (y - 0.5) ** 2 + (z - 0.5) ** 2 < 0.05),
  };
  // the LAD: a thin tube across the heart's front, part of it in the lung
  if (withLad)
    masks.A_LAD = shape(
      dims,
      (x, y, z) => Math.abs(y - 0.32) < 0.05 && x > 0.45 && x < 0.7 && z > 0.3 && z < 0.7,
    );
  return { pseudonym, dims, spacingMm, originLpsMm: [-12.5, 30, -40], directionLps, ct, masks };
}

const identity = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const cases: FixtureCase[] = [
  fixtureCase('EXP-02', [24, 20, 8], [1, 1.5, 3], identity, false, true),
  // rows along -y and columns along +x: the affine is not diagonal
  fixtureCase('EXP-01', [20, 18, 6], [0.8, 0.9, 2.5], [0, -1, 0, 1, 0, 0, 0, 0, 1], true, true),
  fixtureCase('EXP-03', [16, 16, 5], [1.2, 1.2, 2], identity, false, false),
];
/** exported order: by pseudonym */
const byPseudonym = [...cases].sort((a, b) => (a.pseudonym < b.pseudonym ? -1 : 1));

let database: TestDatabase;
let blobDir: string;
let outRoot: string;
let blobs: FileBlobStore;
const maskSha = new Map<string, string>();

beforeAll(async () => {
  database = await createTestDatabase();
  blobDir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dataset-blobs-'));
  outRoot = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dataset-out-'));
  blobs = new FileBlobStore(blobDir);
  const db = database.db;
  const site = await ensureSite(db, 'EXP');
  const observerId = await ensureObserver(db, site.id, 'EXPERT');
  const structureIds = await ensureStructures(
    db,
    STRUCTURES.map((s) => findTg263Structure(s)!),
  );
  for (const [n, c] of cases.entries()) {
    const { caseId, seriesId } = await insertCaseWithCt(db, blobs, {
      siteId: site.id,
      pseudonym: c.pseudonym,
      uid: `2.25.${n}`,
      ct: c.ct,
      dims: c.dims,
      spacingMm: c.spacingMm,
      originLpsMm: c.originLpsMm,
      directionLps: c.directionLps,
      acquisitionDate: `2026-01-0${n + 1}`,
      laterality: 'left',
      surgeryType: 'breast_conserving',
      protocol: 'ESTRO',
    });
    const set = await insertPhysicianSet(db, blobs, {
      caseId,
      seriesId,
      observerId,
      label: 'EXPERT',
      sopInstanceUid: `2.25.${n}8`,
      voxelCc: (c.spacingMm[0] * c.spacingMm[1] * c.spacingMm[2]) / 1000,
      masks: Object.entries(c.masks).map(([structure, mask]) => ({
        structure,
        mask,
        structureId: structureIds.get(structure)!,
        roiNumber: 1,
      })),
    });
    for (const [structure, sha] of set.maskSha256) maskSha.set(`${c.pseudonym}|${structure}`, sha);
  }
  const deps = { db, blobs };
  await createCohort(db, { name: COHORT, selection: { sites: ['EXP'] } }, actor);
  for (const f of (await checkCohort(deps, COHORT)).findings)
    await decideFinding(
      deps,
      COHORT,
      {
        pseudonym: f.pseudonym,
        check: f.check,
        structure: f.structure ?? undefined,
        decision: 'accepted',
        note: 'synthetic export fixture',
      },
      actor,
    );
  const frozen = await freezeCohort(deps, COHORT, { reference: ['*=observer:EXPERT'] }, actor);
  expect(frozen.version).toBe(1);
}, 60_000);

afterAll(async () => {
  await database?.destroy();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
  if (outRoot) await rm(outRoot, { recursive: true, force: true });
});

/** Label values by the independent rule: largest median volume first; overlaps go to the highest value. */
function expectedLabels(structures: readonly StructureName[]): StructureName[] {
  const median = (values: number[]) => {
    const s = [...values].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const volume = (structure: StructureName) =>
    median(
      cases
        .filter((c) => c.masks[structure])
        .map(
          (c) =>
            c.masks[structure]!.reduce((s, m) => s + m, 0) * c.spacingMm[0] * c.spacingMm[1] * c.spacingMm[2],
        ),
    );
  return [...structures].sort((a, b) => volume(b) - volume(a) || (a < b ? -1 : 1));
}

/** What each voxel should hold, and the voxels each structure loses, computed voxel by voxel. */
function expectedLabelMap(c: FixtureCase, order: readonly StructureName[]) {
  const voxels = c.dims[0] * c.dims[1] * c.dims[2];
  const map = new Uint8Array(voxels);
  const lost: Record<string, number> = {};
  for (let v = 0; v < voxels; v++) {
    let best = 0;
    order.forEach((s, n) => {
      if (c.masks[s]?.[v]) best = n + 1;
    });
    map[v] = best;
    order.forEach((s, n) => {
      if (c.masks[s]?.[v] && best !== n + 1) lost[s] = (lost[s] ?? 0) + 1;
    });
  }
  const present = order.filter((s) => c.masks[s]);
  return { map, lost: Object.fromEntries(present.map((s) => [s, lost[s] ?? 0])) };
}

function expectGrid(volume: Volume, c: FixtureCase): void {
  expect(volume.dims).toEqual(c.dims);
  volume.spacingMm.forEach((s, axis) => expect(s).toBeCloseTo(c.spacingMm[axis]!, 5));
  const affine = gridAffine(c.directionLps, c.spacingMm, c.originLpsMm);
  volume.affineIjkToLps.forEach((value, n) => expect(value).toBeCloseTo(affine[n]!, 4));
}

async function readJson(file: string) {
  return JSON.parse(await readFile(file, 'utf8'));
}

async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

let folderSummary: DatasetExportSummary;
let folder: string;

describe('nnU-Net dataset export', () => {
  it('writes a folder that reads back voxel for voxel with the stored CT and references', async () => {
    const out = path.join(outRoot, 'first');
    folderSummary = await exportNnunetDirectory(
      { db: database.db, blobs },
      { cohort: COHORT, version: 1 },
      out,
    );
    folder = path.join(out, 'Dataset501_breast_export_v1');
    const order = expectedLabels(STRUCTURES);
    expect(order).toEqual(['External', 'Lung_L', 'Heart', 'A_LAD']);
    expect(folderSummary).toEqual({
      folder,
      cases: 3,
      labels: order.map((structure, n) => ({ value: n + 1, structure })),
      files: 8,
      bytes: expect.any(Number),
      missing: [{ case: 'EXP-03', structure: 'A_LAD' }],
    });
    expect(await readdir(out)).toEqual(['Dataset501_breast_export_v1']);
    const ids = ['breast_export_v1_001', 'breast_export_v1_002', 'breast_export_v1_003'];
    expect(await listTree(folder)).toEqual([
      'dataset.json',
      'export_report.json',
      ...ids.map((id) => `imagesTr/${id}_0000.nii.gz`),
      ...ids.map((id) => `labelsTr/${id}.nii.gz`),
    ]);

    const dataset = await readJson(path.join(folder, 'dataset.json'));
    expect(dataset.channel_names).toEqual({ '0': 'CT' });
    expect(dataset.labels).toEqual({ background: 0, External: 1, Lung_L: 2, Heart: 3, A_LAD: 4 });
    expect(dataset.numTraining).toBe(3);
    expect(dataset.file_ending).toBe('.nii.gz');
    const provenance = dataset.contourbench;
    expect(provenance.cohort).toBe(COHORT);
    expect(provenance.version).toBe(1);
    expect(provenance.content_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(provenance.overlap_rule).toContain('highest label');
    expect(
      provenance.cases.map((c: { pseudonym: string; identifier: string }) => [c.pseudonym, c.identifier]),
    ).toEqual(byPseudonym.map((c, n) => [c.pseudonym, ids[n]]));
    expect(provenance.cases[2].missing).toEqual(['A_LAD']);
    expect(provenance.cases[0].references.Heart.mask_sha256).toBe(maskSha.get('EXP-01|Heart'));
    expect(JSON.stringify(dataset)).not.toContain('2.25.'); // no DICOM identifiers

    const report = await readJson(path.join(folder, 'export_report.json'));
    expect(report.missing).toEqual([{ case: ids[2], structure: 'A_LAD' }]);
    expect(report.missing_rule).toContain('background');

    let lostSomewhere = 0;
    for (const [n, c] of byPseudonym.entries()) {
      const image = await readNiftiFile(path.join(folder, `imagesTr/${ids[n]}_0000.nii.gz`));
      const labels = await readNiftiFile(path.join(folder, `labelsTr/${ids[n]}.nii.gz`));
      expectGrid(image, c);
      expectGrid(labels, c);
      expect(image.data).toBeInstanceOf(Int16Array);
      expect(labels.data).toBeInstanceOf(Uint8Array);
      expect(image.data).toEqual(Int16Array.from(c.ct, (hu) => Math.round(hu)));
      const expected = expectedLabelMap(c, order);
      expect(labels.data).toEqual(expected.map);
      expect(report.cases[n].lost_voxels).toEqual(expected.lost);
      for (const s of order)
        if (c.masks[s])
          expect(report.cases[n].reference_voxels[s]).toBe(c.masks[s]!.reduce((a, m) => a + m, 0));
      lostSomewhere += Object.values(expected.lost).reduce((a, b) => a + b, 0);
    }
    expect(lostSomewhere).toBeGreaterThan(0); // the fixture does overlap
  });

  it('exports byte-identical files again, and the same files as a zip', async () => {
    const again = await exportNnunetDirectory(
      { db: database.db, blobs },
      { cohort: COHORT, version: 1 },
      path.join(outRoot, 'second'),
    );
    const files = await listTree(folder);
    for (const file of files) {
      const a = await readFile(path.join(folder, file));
      const b = await readFile(path.join(again.folder, file));
      if (file === 'dataset.json') {
        const strip = (bytes: Buffer) => bytes.toString('utf8').replace(/"exported_at": "[^"]+"/, '');
        expect(strip(a)).toBe(strip(b));
      } else expect(a.equals(b), file).toBe(true);
    }

    const zip = await exportNnunetZip({ db: database.db, blobs }, { cohort: COHORT, version: 1 });
    expect(zip.fileName).toBe('Dataset501_breast_export_v1.zip');
    const zipFile = path.join(outRoot, zip.fileName);
    const bytes = await saveStream(zip.body, zipFile);
    const summary = await zip.summary;
    expect(summary).toEqual({ ...folderSummary, folder: 'Dataset501_breast_export_v1', bytes });
    const unpacked = path.join(outRoot, 'unzipped');
    await extractZip(zipFile, unpacked);
    for (const file of files.filter((f) => f !== 'dataset.json')) {
      const a = await readFile(path.join(folder, file));
      const b = await readFile(path.join(unpacked, 'Dataset501_breast_export_v1', file));
      expect(a.equals(b), file).toBe(true);
    }
    const labels = await readNiftiFile(
      path.join(unpacked, 'Dataset501_breast_export_v1/labelsTr/breast_export_v1_001.nii.gz'),
    );
    expect(labels.data).toEqual(expectedLabelMap(byPseudonym[0]!, expectedLabels(STRUCTURES)).map);
    const tested = await run('unzip', ['-t', zipFile]).catch(() => null);
    if (tested) expect(tested.stdout).toContain('No errors detected');
  });

  it('exports chosen structures and leaves out External, numbered and painted by the same rule', async () => {
    const summary = await exportNnunetDirectory(
      { db: database.db, blobs },
      {
        cohort: COHORT,
        version: 1,
        datasetId: 42,
        name: 'Cardiac',
        structures: ['A_LAD', 'Heart', 'Lung_L'],
      },
      path.join(outRoot, 'chosen'),
    );
    expect(summary.labels).toEqual([
      { value: 1, structure: 'Lung_L' },
      { value: 2, structure: 'Heart' },
      { value: 3, structure: 'A_LAD' },
    ]);
    expect(path.basename(summary.folder)).toBe('Dataset042_Cardiac');
    const dataset = await readJson(path.join(summary.folder, 'dataset.json'));
    expect(dataset.contourbench.excluded_structures).toEqual(['External']);
    const labels = await readNiftiFile(path.join(summary.folder, 'labelsTr/Cardiac_001.nii.gz'));
    expect(labels.data).toEqual(expectedLabelMap(byPseudonym[0]!, ['Lung_L', 'Heart', 'A_LAD']).map);

    const noExternal = await exportNnunetDirectory(
      { db: database.db, blobs },
      { cohort: COHORT, version: 1, name: 'NoBody', includeExternal: false },
      path.join(outRoot, 'chosen'),
    );
    expect(noExternal.labels.map((l) => l.structure)).toEqual(['Lung_L', 'Heart', 'A_LAD']);
  });

  it('refuses before writing anything: unknown cohort or version, bad structures, an existing folder', async () => {
    const deps = { db: database.db, blobs };
    const out = path.join(outRoot, 'refused');
    await expect(exportNnunetDirectory(deps, { cohort: 'nope', version: 1 }, out)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'no cohort named "nope"',
    });
    await expect(exportNnunetDirectory(deps, { cohort: COHORT, version: 7 }, out)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `cohort "${COHORT}" has no version 7 (its versions: 1)`,
    });
    await expect(exportNnunetZip(deps, { cohort: COHORT, version: 7 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      exportNnunetZip(deps, { cohort: COHORT, version: 1, structures: ['Heart', 'Brain', 'heart'] }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `cohort "${COHORT}" version 1 has no reference for Brain, heart; its structures: A_LAD, External, Heart, Lung_L`,
    });
    await expect(
      exportNnunetDirectory(
        deps,
        { cohort: COHORT, version: 1, structures: ['External'], includeExternal: false },
        out,
      ),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      exportNnunetDirectory(deps, { cohort: COHORT, version: 1, datasetId: 1000 }, out),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      exportNnunetDirectory(deps, { cohort: COHORT, version: 1, name: '../x' }, out),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(
      exportNnunetDirectory(deps, { cohort: COHORT, version: 1 }, path.dirname(folder)),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('exists already') });
    expect(await readdir(path.dirname(folder))).toEqual(['Dataset501_breast_export_v1']);
  });

  it('leaves nothing behind when a case fails midway, as a folder or as a zip', async () => {
    const lastMask = maskSha.get('EXP-03|Heart')!;
    const failing: BlobStore = {
      put: (bytes) => blobs.put(bytes),
      get: async (sha256) => {
        if (sha256 === lastMask) throw new Error('disk read error');
        return blobs.get(sha256);
      },
    };
    const out = path.join(outRoot, 'failing', 'nested');
    await expect(
      exportNnunetDirectory({ db: database.db, blobs: failing }, { cohort: COHORT, version: 1 }, out),
    ).rejects.toThrow('disk read error');
    expect(await readdir(outRoot)).not.toContain('failing');

    const zip = await exportNnunetZip({ db: database.db, blobs: failing }, { cohort: COHORT, version: 1 });
    const zipFile = path.join(outRoot, 'failing.zip');
    await expect(saveStream(zip.body, zipFile)).rejects.toThrow('disk read error');
    await expect(zip.summary).rejects.toThrow('disk read error');
    expect((await readdir(outRoot)).filter((f) => f.includes('failing'))).toEqual([]);
  });
});
