import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPhantomGrid } from '../../src/lib/core/phantom/breast-phantom';
import { encodeDicomFile } from '../../src/lib/server/io/dicom/writer';
import { readRtDose, RT_PLAN_STORAGE, rtTags } from '../../src/lib/server/io/rtdose';
import { doseGridScaling, writeRtDose } from '../../src/lib/server/io/rtdose-writer';
import {
  demoCaseDose,
  generateDemoCase,
  planDemoCohort,
  renderDemoCase,
  type DemoCase,
} from '../../src/lib/server/services/demo.service';
import { loadCaseDose } from '../../src/lib/server/services/dose.service';
import { importDicom } from '../../src/lib/server/services/import.service';
import { FileBlobStore, sha256Hex } from '../../src/lib/server/storage/blob-store';
import { createTestDatabase, type TestDatabase } from './test-database';

let database: TestDatabase;
let dir: string;
let blobDir: string;
let blobs: FileBlobStore;
let caseFolder: string;
let demoCase: DemoCase;
const options = { sites: 1, casesPerSite: 1, seed: 91 };

/** One demo case on a coarse grid (written in a second or two), its planned dose in RD.dcm. */
function plan() {
  const demoPlan = planDemoCohort(options)[0]!;
  demoPlan.grid = defaultPhantomGrid([3, 3, 6], 460);
  return demoPlan;
}

async function counts() {
  const result = await sql<{ doses: number; blobs: number; cases: number }>`
    select (select count(*)::int from dose_grid) as doses, (select count(*)::int from blob) as blobs,
           (select count(*)::int from patient_case) as cases`.execute(database.db);
  return result.rows[0]!;
}

async function blobFiles(): Promise<string[]> {
  return (await readdir(blobDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
}

/** A copy of the case folder whose RD.dcm is replaced by `bytes`. */
async function variant(name: string, bytes: Uint8Array): Promise<string> {
  const folder = path.join(dir, name);
  await cp(caseFolder, folder, { recursive: true });
  await writeFile(path.join(folder, 'RD.dcm'), bytes);
  return folder;
}

beforeAll(async () => {
  database = await createTestDatabase();
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-dose-import-'));
  blobDir = path.join(dir, 'blobs');
  blobs = new FileBlobStore(blobDir);
  demoCase = await generateDemoCase(path.join(dir, 'demo'), options, plan());
  caseFolder = path.join(dir, 'demo', demoCase.folder);
}, 120_000);

afterAll(async () => {
  await database?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('RTDOSE import', () => {
  it('stores the dose of a demo case: a dose_grid row, its blob, and the prescription passed with the import', async () => {
    const report = await importDicom(database.db, blobs, caseFolder, {
      siteCode: 'DOSE',
      laterality: demoCase.laterality,
      prescription: { prescriptionGy: demoCase.prescriptionGy, fractions: demoCase.fractions },
    });
    expect(report.failed).toEqual([]);
    expect(report.ignored).toEqual([]);
    expect(report.studies).toHaveLength(1);
    const [imported] = report.studies[0]!.doses;
    expect(imported).toMatchObject({
      file: path.join(caseFolder, 'RD.dcm'),
      doseType: 'PHYSICAL',
      summationType: 'PLAN',
      prescriptionGy: demoCase.prescriptionGy,
      fractions: demoCase.fractions,
      prescriptionFrom: 'import option',
    });
    const row = await database.db
      .selectFrom('dose_grid')
      .selectAll()
      .where('id', '=', imported!.doseGridId)
      .executeTakeFirstOrThrow();
    expect(row.case_id).toBe(report.studies[0]!.caseId);
    expect(row.image_series_id).toBe(report.studies[0]!.seriesId);
    expect([row.dim_x, row.dim_y, row.dim_z]).toEqual(imported!.dims);
    expect(row.direction_lps).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    // the SOP Instance UID is pseudonymised like every other UID of the import
    const rd = readRtDose(await readFile(path.join(caseFolder, 'RD.dcm')), 'RD.dcm');
    expect(row.sop_instance_uid).not.toBe(rd.sopInstanceUid);
    expect(row.sop_instance_uid).toMatch(/^2\.25\.\d+$/);
    const blob = await database.db
      .selectFrom('blob')
      .selectAll()
      .where('sha256', '=', row.dose_blob_sha256)
      .executeTakeFirstOrThrow();
    expect(blob).toMatchObject({ size_bytes: rd.dose.data.length * 4 });
    expect(await blobFiles()).toContain(`${row.dose_blob_sha256}.gz`);
  });

  it('gives the volume back with loadCaseDose, within the scaling quantum of the generated dose', async () => {
    const caseId = (await database.db.selectFrom('dose_grid').select('case_id').executeTakeFirstOrThrow())
      .case_id;
    const loaded = await loadCaseDose({ db: database.db, blobs }, caseId);
    expect(loaded).toBeDefined();
    const demoPlan = plan();
    const generated = demoCaseDose(demoPlan, renderDemoCase(demoPlan).phantom);
    expect(loaded!.dose.dims).toEqual(generated.dose.dims);
    expect(loaded!.dose.spacingMm).toEqual(generated.dose.spacingMm);
    for (let n = 0; n < 16; n++) {
      expect(loaded!.dose.affineIjkToLps[n]).toBeCloseTo(generated.dose.affineIjkToLps[n]!, 6);
    }
    const quantum = doseGridScaling(generated.dose.data.reduce((a, b) => Math.max(a, b), 0));
    let worst = 0;
    for (let n = 0; n < generated.dose.data.length; n++) {
      worst = Math.max(worst, Math.abs(loaded!.dose.data[n]! - generated.dose.data[n]!));
    }
    expect(worst).toBeLessThanOrEqual(quantum / 2 + 60 * 2 ** -23);
    expect(loaded).toMatchObject({ prescriptionGy: demoCase.prescriptionGy, fractions: demoCase.fractions });
    expect(await loadCaseDose({ db: database.db, blobs }, caseId + 1000)).toBeUndefined();
  });

  it('changes nothing when the same case is imported again', async () => {
    const before = await counts();
    const files = await blobFiles();
    const report = await importDicom(database.db, blobs, caseFolder, {
      siteCode: 'DOSE',
      laterality: demoCase.laterality,
      prescription: { prescriptionGy: demoCase.prescriptionGy, fractions: demoCase.fractions },
    });
    expect(report.studies[0]!.doses).toHaveLength(1);
    expect(await counts()).toEqual(before);
    expect(await blobFiles()).toEqual(files);
  });

  it('refuses a dose on another frame of reference with the reason, imports the case, writes nothing of the dose', async () => {
    const rd = readRtDose(await readFile(path.join(caseFolder, 'RD.dcm')), 'RD.dcm');
    // a different dose, so that its blob would be new if it were stored
    const other = { ...rd.dose, data: rd.dose.data.map((v) => v * 1.01) };
    const folder = await variant(
      'other-frame',
      writeRtDose({
        dose: other,
        frameOfReferenceUid: '1.2.826.0.1.3680043.2.1125.7.7',
        patient: { patientName: 'X', patientId: demoCase.patientId, patientBirthDate: '', patientSex: 'F' },
        study: {
          studyInstanceUid: '1.2.826.0.1.3680043.2.1125.7.8',
          studyDate: '',
          studyTime: '',
          studyId: '',
          accessionNumber: '',
          referringPhysicianName: '',
        },
        sopInstanceUid: '1.2.826.0.1.3680043.2.1125.7.9',
      }),
    );
    const sha = sha256Hex(new Uint8Array(other.data.buffer));
    const before = await counts();
    const report = await importDicom(database.db, blobs, folder, { siteCode: 'OTHER', laterality: 'left' });
    expect(report.studies).toHaveLength(1);
    expect(report.studies[0]!.doses).toEqual([]);
    expect(report.studies[0]!.structureSets.length).toBeGreaterThan(0);
    expect(report.failed).toEqual([
      {
        what: path.join(folder, 'RD.dcm'),
        reason: expect.stringMatching(
          /RD\.dcm: the dose is on frame of reference 1\.2\.826\.0\.1\.3680043\.2\.1125\.7\.7/,
        ),
      },
    ]);
    expect(await counts()).toEqual({ ...before, cases: before.cases + 1 });
    expect(await blobFiles()).not.toContain(`${sha}.gz`);
    const stored = await database.db.selectFrom('blob').select('sha256').where('sha256', '=', sha).execute();
    expect(stored).toEqual([]);
  });

  it('names the file of a RELATIVE-units or truncated RTDOSE, and still imports the case', async () => {
    const original = new Uint8Array(await readFile(path.join(caseFolder, 'RD.dcm')));
    // Dose Units GY -> RELATIVE: the element grows by 6 bytes, nothing after it has an offset to fix
    const at = Buffer.from(original).indexOf(Buffer.from([0x04, 0x30, 0x02, 0x00, 0x43, 0x53, 0x02, 0x00]));
    expect(at).toBeGreaterThan(0);
    const relative = new Uint8Array(original.length + 6);
    relative.set(original.subarray(0, at));
    relative.set([0x04, 0x30, 0x02, 0x00, 0x43, 0x53, 0x08, 0x00, ...Buffer.from('RELATIVE')], at);
    relative.set(original.subarray(at + 10), at + 16);
    const relativeFolder = await variant('relative', relative);
    const truncatedFolder = await variant('truncated', original.subarray(0, original.length >> 1));

    const before = await counts();
    const files = await blobFiles();
    const relativeReport = await importDicom(database.db, blobs, relativeFolder, { siteCode: 'DOSE' });
    expect(relativeReport.studies).toHaveLength(1);
    expect(relativeReport.studies[0]!.doses).toEqual([]);
    expect(relativeReport.failed).toEqual([
      {
        what: path.join(relativeFolder, 'RD.dcm'),
        reason: `${path.join(relativeFolder, 'RD.dcm')}: Dose Units (3004,0002) is RELATIVE: a relative dose cannot be evaluated in Gy; export the dose in GY`,
      },
    ]);
    const truncatedReport = await importDicom(database.db, blobs, truncatedFolder, { siteCode: 'DOSE' });
    expect(truncatedReport.studies).toHaveLength(1);
    expect(truncatedReport.studies[0]!.doses).toEqual([]);
    expect(truncatedReport.rejected).toHaveLength(1);
    expect(truncatedReport.rejected[0]!.path).toBe(path.join(truncatedFolder, 'RD.dcm'));
    expect(truncatedReport.rejected[0]!.reason).toMatch(
      new RegExp(`^${path.join(truncatedFolder, 'RD.dcm').replaceAll('.', '\\.')}: truncated`),
    );
    // the case was imported before: the same case, series and structure sets; the dose row kept
    expect(await counts()).toEqual(before);
    expect(await blobFiles()).toEqual(files);
  });

  it('takes the prescription from the RT Plan the dose refers to', async () => {
    const rd = readRtDose(await readFile(path.join(caseFolder, 'RD.dcm')), 'RD.dcm');
    const folder = path.join(dir, 'with-plan');
    await cp(caseFolder, folder, { recursive: true });
    await writeFile(
      path.join(folder, 'RP.dcm'),
      encodeDicomFile([
        { tag: 0x00080016, vr: 'UI', value: RT_PLAN_STORAGE },
        { tag: 0x00080018, vr: 'UI', value: rd.referencedPlanSopInstanceUid! },
        { tag: 0x00080060, vr: 'CS', value: 'RTPLAN' },
        {
          tag: rtTags.doseReferenceSequence,
          vr: 'SQ',
          value: [
            [
              { tag: rtTags.doseReferenceType, vr: 'CS', value: 'TARGET' },
              { tag: rtTags.targetPrescriptionDose, vr: 'DS', value: [42.56] },
            ],
          ],
        },
        {
          tag: rtTags.fractionGroupSequence,
          vr: 'SQ',
          value: [[{ tag: rtTags.numberOfFractionsPlanned, vr: 'IS', value: [16] }]],
        },
      ]),
    );
    const report = await importDicom(database.db, blobs, folder, {
      siteCode: 'PLAN',
      prescription: { prescriptionGy: 40.05, fractions: 15 },
    });
    expect(report.failed).toEqual([]);
    expect(report.ignored).toEqual([{ path: path.join(folder, 'RP.dcm'), modality: 'RTPLAN' }]);
    expect(report.studies[0]!.doses[0]).toMatchObject({
      prescriptionGy: 42.56,
      fractions: 16,
      prescriptionFrom: 'plan',
    });
    const loaded = await loadCaseDose({ db: database.db, blobs }, report.studies[0]!.caseId);
    expect(loaded).toMatchObject({ prescriptionGy: 42.56, fractions: 16 });
  });
});
