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
  DEMO_COHORT,
  generateDemoCohort,
  truthObserver,
  type DemoManifest,
} from '../../src/lib/server/services/demo.service';
import { importDemoCohort } from '../../src/lib/server/services/demo-import.service';
import {
  computeStapleConsensus,
  consensusJobState,
  enqueueCohortConsensus,
} from '../../src/lib/server/services/consensus.service';
import {
  DEMO_EDITING_APL_TOLERANCE_MM,
  ensureEvaluationRuns,
  importAiEditingSessions,
  registerModelsInFolder,
} from '../../src/lib/server/services/demo-evaluation.service';
import { FileBlobStore } from '../../src/lib/server/storage/blob-store';
import { dciodvfy, hasDciodvfy } from '../helpers/dciodvfy';
import { readRtDose } from '../../src/lib/server/io/rtdose';
import { loadCaseDose } from '../../src/lib/server/services/dose.service';
import { startTestWorker, waitForRunEnd } from './run-helpers';
import { createTestDatabase, type TestDatabase } from './test-database';

// two cases a site: the first is the training split, the second a held-out case (AI-assisted at two sites)
const options = { sites: 3, casesPerSite: 2, seed: 77 };
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
  it('writes one CT series, one RTSTRUCT per observer and the planned dose for each case, with a manifest', async () => {
    expect(manifest.cases).toHaveLength(6);
    expect(manifest.cases.map((c) => c.split)).toEqual(['train', 'test', 'train', 'test', 'train', 'test']);
    for (const c of manifest.cases) {
      const files = await readdir(path.join(dir, 'a', c.folder));
      expect(files.sort()).toEqual(
        ['CT', 'RD.dcm', ...c.observers.map((o) => `RS.${o.replaceAll(' ', '')}.dcm`)].sort(),
      );
    }
    expect(manifest.cases[0].observers[0]).toBe(truthObserver);
    // each site's prescription: 40.05 Gy / 15 at the ESTRO sites, 50 Gy / 25 at the RTOG site
    expect(manifest.cases.map((c) => [c.site, c.prescriptionGy, c.fractions])).toEqual([
      ['NORTH', 40.05, 15],
      ['NORTH', 40.05, 15],
      ['SOUTH', 50, 25],
      ['SOUTH', 50, 25],
      ['EAST', 40.05, 15],
      ['EAST', 40.05, 15],
    ]);
  });

  it('writes a physical plan dose on the CT frame of reference, peaking just above the prescription', async () => {
    for (const c of manifest.cases) {
      const folder = path.join(dir, 'a', c.folder);
      const file = path.join(folder, 'RD.dcm');
      const rd = readRtDose(await readFile(file), file);
      const scan = await scanDicomFolder(path.join(folder, 'CT'));
      const series = buildImageSeries([...scan.imageSeries.values()][0]);
      expect(rd.frameOfReferenceUid).toBe(series.grid.frameOfReferenceUid);
      expect(rd).toMatchObject({ doseType: 'PHYSICAL', summationType: 'PLAN' });
      expect(rd.maxGy / c.prescriptionGy, c.patientId).toBeGreaterThan(1);
      expect(rd.maxGy / c.prescriptionGy, c.patientId).toBeLessThan(1.2);
      // a grid of 2.5 mm, never finer than the CT
      expect(rd.dose.spacingMm).toEqual(c.spacingMm.map((s) => Math.max(2.5, s)));
    }
  });

  it('is the same for the same seed, whatever else is generated', async () => {
    // one site only: its cases are the first site's cases of the three-site cohort, file for file
    const again = await generateDemoCohort(path.join(dir, 'b'), { ...options, sites: 1 }, undefined, 1);
    expect(again.cases).toEqual(manifest.cases.slice(0, 2));
    const c = manifest.cases[1];
    for (const file of [
      'CT/CT.010.dcm',
      `RS.${truthObserver}.dcm`,
      `RS.${c.observers[2].replaceAll(' ', '')}.dcm`,
      'RD.dcm',
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

  it.skipIf(!hasDciodvfy && process.env.CI !== 'true')(
    'validates every RD.dcm with dciodvfy (its 32-bit pixels re-encoded at 16 bits for the tool)',
    async () => {
      for (const c of manifest.cases) {
        const lines = await dciodvfy(path.join(dir, 'a', c.folder, 'RD.dcm'));
        expect(lines, c.patientId).toContain('RTDose');
        expect(
          lines.filter((line) => line.startsWith('Error')),
          `${c.patientId}:\n${lines.join('\n')}`,
        ).toEqual([]);
      }
    },
  );

  it('imports through the DICOM path, site names mapped to TG-263, and reuses what exists', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'blobs'));
    const first = await importDemoCohort(database.db, blobs, path.join(dir, 'a'), manifest);
    expect(first).toMatchObject({ imported: 6, skipped: 0, contourSets: 18 });
    expect(first.editingSessions).toBe(manifest.cases.reduce((n, c) => n + c.sessions.length, 0));
    expect(first.editingSessions).toBeGreaterThan(30);
    const again = await importDemoCohort(database.db, blobs, path.join(dir, 'a'), manifest);
    expect(again).toEqual({ imported: 0, skipped: 6, contourSets: 0, editingSessions: 0 });
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
    expect(perSet).toHaveLength(18);
    expect(Math.min(...perSet.map((s) => s.n))).toBeGreaterThanOrEqual(10);
    expect(manifest.aliases.map((a) => [a.site, a.name])).toEqual([
      ['EAST', 'Boost CTV Left'],
      ['EAST', 'Boost CTV Right'],
    ]);
    // every case carries its planned dose with the manifest's prescription
    const doses = await database.db
      .selectFrom('dose_grid')
      .innerJoin('patient_case', 'patient_case.id', 'dose_grid.case_id')
      .innerJoin('site', 'site.id', 'patient_case.site_id')
      .select(['site.code', 'dose_grid.case_id', 'dose_grid.prescription_gy', 'dose_grid.fractions'])
      .orderBy('dose_grid.case_id')
      .execute();
    expect(doses.map((d) => [d.code, d.prescription_gy, d.fractions])).toEqual(
      manifest.cases.map((c) => [c.site, c.prescriptionGy, c.fractions]),
    );
    const loaded = await loadCaseDose({ db: database.db, blobs }, doses[0]!.case_id);
    expect(loaded).toMatchObject({ prescriptionGy: 40.05, fractions: 15 });
    expect(loaded!.dose.data.length).toBe(loaded!.dose.dims.reduce((a, b) => a * b, 1));
  }, 300_000);

  it('registers the demo models, evaluates the AI model on the held-out cases and sets AI editing times from APL', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'blobs'));
    const modelsDir = path.join(import.meta.dirname, '..', '..', 'models');
    const registered = await registerModelsInFolder(database.db, blobs, modelsDir);
    expect(registered.map((r) => r.reference)).toEqual([
      'thorax-context-net@1.0',
      'thorax-context-net@2.0',
      'thorax-threshold@1.0',
    ]);
    expect((await registerModelsInFolder(database.db, blobs, modelsDir)).some((r) => r.created)).toBe(false);

    const [run] = await ensureEvaluationRuns(database.db, [manifest.ai.model], manifest.ai.testCohort);
    expect(run).toMatchObject({ model: manifest.ai.model, cases: 3, created: true });
    const worker = await startTestWorker(database, blobs);
    try {
      expect(await waitForRunEnd(database, run!.runId, 120)).toMatchObject({
        status: 'succeeded',
        succeeded: 3,
        failed: 0,
      });
    } finally {
      await worker.stop();
    }
    // a finished run is reused, not repeated
    expect(await ensureEvaluationRuns(database.db, [manifest.ai.model], manifest.ai.testCohort)).toEqual([
      { model: manifest.ai.model, runId: run!.runId, cases: 0, created: false },
    ]);

    const expected = manifest.cases.reduce((n, c) => n + c.aiEdits.length, 0);
    expect(expected).toBeGreaterThan(0);
    expect(manifest.cases.filter((c) => c.aiEdits.length > 0).map((c) => c.site)).toEqual(['NORTH', 'EAST']);
    expect(await importAiEditingSessions(database.db, manifest)).toEqual({ imported: expected, missing: 0 });
    expect(await importAiEditingSessions(database.db, manifest)).toEqual({ imported: expected, missing: 0 });
    const sessions = await database.db
      .selectFrom('editing_session as e')
      .innerJoin('metric as m', (join) =>
        join
          .onRef('m.test_set_id', '=', 'e.from_set_id')
          .onRef('m.reference_set_id', '=', 'e.to_set_id')
          .onRef('m.structure_id', '=', 'e.structure_id'),
      )
      .innerJoin('contour_set as ai', 'ai.id', 'e.from_set_id')
      .select(['e.active_seconds', 'm.apl_contour_mm', 'ai.source'])
      .where('e.mode', '=', 'editing_ai')
      .execute();
    expect(sessions).toHaveLength(expected);
    for (const session of sessions) {
      expect(session.source).toBe('model');
      const apl = (session.apl_contour_mm as Record<string, number>)[String(DEMO_EDITING_APL_TOLERANCE_MM)]!;
      // 15 s of review plus 0.05 s a mm of added path length, times 0.8 .. 1.2
      expect(session.active_seconds).toBeGreaterThanOrEqual(Math.floor((15 + 0.05 * apl) * 0.8));
      expect(session.active_seconds).toBeLessThanOrEqual(Math.ceil((15 + 0.05 * apl) * 1.2));
    }
    // the corrected structures were not also drawn from scratch
    const scratch = await database.db
      .selectFrom('editing_session')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('mode', '=', 'from_scratch')
      .executeTakeFirstOrThrow();
    expect(Number(scratch.n)).toBe(manifest.cases.reduce((n, c) => n + c.sessions.length, 0));
  }, 300_000);

  it('computes the STAPLE consensus of a case once, with rater performance and metrics against it', async () => {
    const blobs = new FileBlobStore(path.join(dir, 'blobs'));
    const caseRow = await database.db
      .selectFrom('patient_case')
      .select('id')
      .orderBy('id')
      .executeTakeFirstOrThrow();
    const first = await computeStapleConsensus({ db: database.db, blobs }, caseRow.id);
    expect(first.structures.length).toBeGreaterThan(10);
    expect(first.structures.every((s) => s.converged && s.raters.length >= 2)).toBe(true);
    const again = await computeStapleConsensus({ db: database.db, blobs }, caseRow.id);
    expect(again.consensusSetId).toBe(first.consensusSetId);
    const count = async (table: 'consensus_rater' | 'metric') =>
      Number(
        (
          await database.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll().as('n'))
            .where(table === 'metric' ? 'reference_set_id' : 'consensus_set_id', '=', first.consensusSetId)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count('consensus_rater')).toBe(first.metricRows);
    expect(await count('metric')).toBe(first.metricRows);
    // every pair of the case's three observers, once per structure all three drew
    const pairRows = await database.db
      .selectFrom('metric')
      .innerJoin('contour_set as r', 'r.id', 'metric.reference_set_id')
      .innerJoin('contour_set as t', 't.id', 'metric.test_set_id')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('metric.case_id', '=', caseRow.id)
      .where('r.source', '=', 'physician')
      .where('t.source', '=', 'physician')
      .whereRef('r.id', '<', 't.id')
      .executeTakeFirstOrThrow();
    expect(Number(pairRows.n)).toBe(first.pairRows);
    expect(first.pairRows).toBe(
      first.structures.reduce((n, s) => n + (s.raters.length * (s.raters.length - 1)) / 2, 0),
    );
    // NORTH's physicians: Dr A Ahmed draws 1 mm (targets 2 mm) wider, Dr B Brown 1 mm narrower, so
    // against the consensus Ahmed has the higher sensitivity and Brown the higher specificity
    const heart = first.structures.find((s) => s.tg263Name === 'Heart')!;
    const ahmed = heart.raters.find((r) => r.observerCode === 'Dr A Ahmed')!;
    const brown = heart.raters.find((r) => r.observerCode === 'Dr B Brown')!;
    expect(ahmed.sensitivity).toBeGreaterThan(brown.sensitivity);
    expect(brown.specificity).toBeGreaterThan(ahmed.specificity);

    // the other cases through consensus jobs on a worker; the case already done is not queued again
    expect(await enqueueCohortConsensus(database.db, DEMO_COHORT, { onlyMissing: true })).toBe(5);
    const worker = await startTestWorker(database, blobs);
    try {
      for (let i = 0; i < 1200 && (await consensusJobState(database.db)).open > 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await worker.stop();
    }
    expect(await consensusJobState(database.db)).toEqual({ open: 0, failed: 0, errors: [] });
    const sets = await database.db
      .selectFrom('contour_set')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('source', '=', 'consensus')
      .executeTakeFirstOrThrow();
    expect(Number(sets.n)).toBe(6);
    expect(await enqueueCohortConsensus(database.db, DEMO_COHORT, { onlyMissing: true })).toBe(0);
  }, 240_000);
});
