import { criteriaSets, saveCriteriaSet } from './model-comparison.service';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatCsvRecord } from '../../core/editing/editing-csv';
import { AppError } from '../../core/errors';
import { parseModelReference } from '../../core/models/model-card';
import { mulberry32 } from '../../core/phantom/random';
import type { Db } from '../db/connection';
import { findCaseId } from '../repositories/case.repository';
import { findPhysicianContourSets } from '../repositories/contour.repository';
import { findCohortId, findLatestRun } from '../repositories/evaluation-run.repository';
import { findModelContourSet } from '../repositories/evaluation.repository';
import { findAddedPathLengths } from '../repositories/metric.repository';
import { ensureSite } from '../repositories/site.repository';
import type { BlobStore } from '../storage/blob-store';
import type { DemoManifest } from './demo.service';
import { importEditingCsv } from './editing.service';
import { createEvaluationRun } from './evaluation-run.service';
import { getModelVersion, registerModel, type RegisteredModel } from './model-registry.service';
import { patientPseudonym } from './pseudonym';

/**
 * Registers every model in `modelsDir` (NAME.onnx beside its card NAME.json). Registering the same bytes
 * and card again changes nothing, so the demo can run any number of times.
 */
export async function registerModelsInFolder(
  db: Db,
  blobs: BlobStore,
  modelsDir: string,
): Promise<RegisteredModel[]> {
  const cards = (await readdir(modelsDir)).filter((f) => f.endsWith('.json')).sort();
  const registered: RegisteredModel[] = [];
  for (const cardFile of cards) {
    const onnxFile = path.join(modelsDir, cardFile.replace(/\.json$/, '.onnx'));
    const cardPath = path.join(modelsDir, cardFile);
    let card: unknown;
    try {
      card = JSON.parse(await readFile(cardPath, 'utf8'));
    } catch (error) {
      throw new AppError('INVALID_INPUT', `${cardPath}: not valid JSON (${(error as Error).message})`);
    }
    const bytes = await readFile(onnxFile).catch(() => {
      throw new AppError('NOT_FOUND', `${cardPath} has no model file ${onnxFile}`);
    });
    registered.push(
      await registerModel(db, blobs, new Uint8Array(bytes), card, { onnx: onnxFile, card: cardPath }),
    );
  }
  return registered;
}

export interface DemoRun {
  model: string;
  runId: number;
  cases: number;
  /** false when a run of this model over the cohort already succeeded or is still going */
  created: boolean;
}

/**
 * One evaluation run per model over the cohort, reusing the latest run when it succeeded or is still
 * queued or running (a demo interrupted and started again picks up where it was).
 */
export async function ensureEvaluationRuns(
  db: Db,
  models: readonly string[],
  cohort: string,
): Promise<DemoRun[]> {
  const cohortId = await findCohortId(db, cohort);
  if (cohortId === undefined) throw new AppError('NOT_FOUND', `no cohort named "${cohort}"`);
  const runs: DemoRun[] = [];
  for (const model of models) {
    const { name, version } = parseModelReference(model);
    const modelVersion = await getModelVersion(db, name, version);
    const latest = await findLatestRun(db, modelVersion.id, cohortId);
    if (latest !== undefined && ['succeeded', 'queued', 'running'].includes(latest.status)) {
      runs.push({ model, runId: latest.id, cases: 0, created: false });
      continue;
    }
    const created = await createEvaluationRun(db, { model, cohort });
    runs.push({ model, runId: created.runId, cases: created.cases, created: true });
  }
  return runs;
}

/** The tolerance (mm) of the added path length that sets the demo's editing times. */
export const DEMO_EDITING_APL_TOLERANCE_MM = 2;

/**
 * The demo's AI-assisted contouring sessions: for every structure a physician corrected from the AI
 * model (the manifest's aiEdits), an editing_ai session from the model's contour set to the physician's,
 * whose active time is 15 s of review plus 0.05 s per mm of added path length (the physician's contour
 * not within 2 mm of the AI's, from the stored metric row), times a random factor of 0.8 to 1.2 drawn
 * from the case seed. Imported through the editing-time CSV like the manual sessions. Cases whose AI
 * contours or metric rows are missing (evaluation not done or failed) are counted and left out.
 */
export async function importAiEditingSessions(
  db: Db,
  manifest: DemoManifest,
): Promise<{ imported: number; missing: number }> {
  const { name, version } = parseModelReference(manifest.ai.model);
  const model = await getModelVersion(db, name, version);
  const csv = ['site,case,observer,structure,mode,started_at,ended_at,active_seconds,from_set,to_set,tool'];
  let missing = 0;
  for (const demoCase of manifest.cases) {
    if (demoCase.aiEdits.length === 0) continue;
    const site = await ensureSite(db, demoCase.site);
    const key = site.pseudonymKey;
    const pseudonym = key ? patientPseudonym(key, demoCase.site, demoCase.patientId) : undefined;
    const caseId = pseudonym ? await findCaseId(db, site.id, pseudonym) : undefined;
    const aiSet = caseId === undefined ? undefined : await findModelContourSet(db, caseId, model.id);
    if (caseId === undefined || aiSet === undefined || pseudonym === undefined) {
      missing += demoCase.aiEdits.length;
      continue;
    }
    const physicianSets = await findPhysicianContourSets(db, caseId);
    const apl = await findAddedPathLengths(db, aiSet, DEMO_EDITING_APL_TOLERANCE_MM);
    const random = mulberry32(demoCase.seed + 104_729);
    for (const edit of demoCase.aiEdits) {
      const toSet = physicianSets.get(edit.observer);
      const aplMm = apl.find((a) => a.referenceSetId === toSet && a.structure === edit.tg263Name)?.aplMm;
      const factor = 0.8 + 0.4 * random();
      if (toSet === undefined || aplMm === undefined || aplMm === null) {
        missing += 1;
        continue;
      }
      const activeSeconds = Math.round((15 + 0.05 * aplMm) * factor);
      const started = new Date(edit.startedAt);
      const ended = new Date(started.getTime() + Math.round(activeSeconds * 1.15) * 1000);
      csv.push(
        formatCsvRecord([
          demoCase.site,
          pseudonym,
          edit.observer,
          edit.tg263Name,
          'editing_ai',
          started.toISOString(),
          ended.toISOString(),
          String(activeSeconds),
          String(aiSet),
          String(toSet),
          'demo',
        ]),
      );
    }
  }
  if (csv.length === 1) return { imported: 0, missing };
  const result = await importEditingCsv(db, `${csv.join('\n')}\n`, 'demo AI editing log');
  if (result.errors.length > 0)
    throw new AppError(
      'INTERNAL',
      `demo AI editing log: ${result.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`,
    );
  return { imported: result.imported, missing };
}

/** The demo's acceptance criteria set: what a department might ask of a thorax OAR model. */
export const DEMO_CRITERIA = {
  name: 'Demo commissioning',
  criteria: [
    {
      structure: null,
      metric: 'dice',
      comparator: '>=',
      threshold: 0.8,
      minPassRate: 0.9,
      note: 'every structure: Dice 0.80 against the consensus in 90% of cases',
    },
    {
      structure: 'Heart',
      metric: 'dice',
      comparator: '>=',
      threshold: 0.85,
      minPassRate: 0.9,
      note: 'the heart drives the dose constraint',
    },
    {
      structure: null,
      metric: 'hd95_mm',
      comparator: '<=',
      threshold: 10,
      minPassRate: 0.9,
      note: 'no boundary error beyond 1 cm in 90% of cases',
    },
    {
      structure: 'SpinalCanal',
      metric: 'surface_dice_2mm',
      comparator: '>=',
      threshold: 0.8,
      minPassRate: 0.9,
      note: 'a serial organ: boundary agreement within 2 mm',
    },
    {
      structure: 'Heart',
      metric: 'dose_dmean_absdelta_gy',
      comparator: '<=',
      threshold: 0.5,
      minPassRate: 0.9,
      note: "the model's heart within 0.5 Gy of the reference heart's mean dose, on the case's plan",
    },
  ],
} as const;

/** Stores the demo's criteria set unless one of that name exists (a user's edits are kept). */
export async function ensureDemoCriteria(db: Db): Promise<boolean> {
  if ((await criteriaSets(db)).some((s) => s.name === DEMO_CRITERIA.name)) return false;
  await saveCriteriaSet(db, DEMO_CRITERIA, 'demo criteria');
  return true;
}
