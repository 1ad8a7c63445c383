import { createHash } from 'node:crypto';
import { AppError } from '../../core/errors';
import { describeMetric, metricCatalogue, metricDefinition } from '../../core/metrics/metric-catalogue';
import {
  defaultAplTolerancesMm,
  defaultSurfaceDiceTolerancesMm,
  metricDefinitionVersion,
} from '../../core/metrics/metric-set';
import { summariseMetricSample } from '../../core/stats/metric-sample';
import type { Db } from '../db/connection';
import { findMetricValues } from '../repositories/analytics.repository';
import {
  findComparableVersions,
  findRunCaseSets,
  findReportRun,
  findSignOffs,
  insertSignOff,
  findRunSites,
} from '../repositories/report.repository';
import { appVersion } from '../paths';
import {
  caseValues,
  describeReference,
  goodness,
  referenceFilter,
  type ReferenceChoice,
} from './analytics-values';
import { compareModels, evaluateCriteria } from './model-comparison.service';
import { observerAgreement } from './observer-agreement.service';
import { largestDisagreement } from './case-viewer.service';
import type { BlobStore } from '../storage/blob-store';
import { type Actor, type Principal, requireSite } from './account.service';

/** The metrics a commissioning report tabulates per structure. */
export const REPORT_METRICS = [
  'dice',
  'hd95_mm',
  'surface_dice_2mm',
  'msd_mean_mm',
  'apl_2mm',
  'volume_diff_pct',
];

export interface ReportOptions {
  /** NAME@VERSION to compare with; default the newest other version of the model run on the cohort */
  compareWith?: string | null;
  criteriaSet?: string;
  reference?: ReferenceChoice;
}

function parseLabel(label: string) {
  const at = label.lastIndexOf('@');
  return { name: label.slice(0, at), version: label.slice(at + 1) };
}

/**
 * Everything a commissioning report of one evaluation run states: the model card and its sha256, the
 * cohort, every metric definition and parameter, per structure results against the reference, the
 * comparison with another version, the acceptance outcome, the human envelope, the worst cases, the
 * software version, and the sign-offs so far. `digest` is the sha256 of the numbers (everything but the
 * sign-offs), so a sign-off names exactly what it signed.
 */
export async function buildReport(db: Db, runId: number, options: ReportOptions = {}, blobs?: BlobStore) {
  const run = await findReportRun(db, runId);
  if (run === undefined) throw new AppError('NOT_FOUND', `no evaluation run ${runId}`);
  const model = { name: run.modelName, version: run.modelVersion };
  const filter = { cohort: run.cohort, evaluationRunId: runId };
  const frozen =
    run.cohortVersion === null
      ? null
      : { kind: 'cohort_version' as const, cohort: run.cohort, version: run.cohortVersion };
  // a run over a frozen version: that version's references; else the consensus when the cohort has one,
  // else each physician
  let reference: ReferenceChoice = options.reference ?? frozen ?? { kind: 'consensus' };
  const metrics = REPORT_METRICS.map(metricDefinition);
  let rows = await findMetricValues(db, metrics, { ...filter, ...referenceFilter(reference) });
  if (rows.length === 0 && options.reference === undefined && frozen === null) {
    reference = { kind: 'physicians' };
    rows = await findMetricValues(db, metrics, { ...filter, referenceSource: 'physician' });
  }
  const structures = [...new Set(rows.map((r) => r.structure))].sort();
  const perStructure = structures.map((structure) => ({
    structure,
    metrics: Object.fromEntries(
      metrics.map((metric, i) => {
        const values = [
          ...caseValues(
            metric,
            rows.filter((r) => r.structure === structure),
            i,
          ).values(),
        ]
          .map((v) => v.value)
          .filter((v): v is number => v !== null);
        return [metric.name, summariseMetricSample(values, { seed: runId })];
      }),
    ),
  }));
  const dice = metricDefinition('dice');
  const worst = [...caseValues(dice, rows, 0).values()]
    .filter((v) => v.value !== null)
    .sort((a, b) => goodness(dice, a.value!) - goodness(dice, b.value!))
    .slice(0, 10)
    .map((v) => ({
      caseId: v.row.caseId,
      case: v.row.casePseudonym,
      site: v.row.site,
      structure: v.row.structure,
      dice: v.value,
    }));

  const comparable = await findComparableVersions(db, runId);
  const compareWith = options.compareWith === undefined ? (comparable[0] ?? null) : options.compareWith;
  const comparison =
    compareWith === null
      ? null
      : await compareModels(db, {
          models: [parseLabel(compareWith), model],
          metrics: ['dice', 'hd95_mm', 'surface_dice_2mm'],
          filter: { cohort: run.cohort },
          reference,
        }).catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
  const acceptance =
    options.criteriaSet === undefined
      ? null
      : await evaluateCriteria(db, {
          model,
          filter: { cohort: run.cohort },
          reference,
          criteriaSet: options.criteriaSet,
        });
  const agreement = await observerAgreement(db, { cohort: run.cohort, models: [model] });

  const body = {
    run: {
      id: run.id,
      status: run.status,
      cohort: run.cohort,
      cohortVersion:
        run.cohortVersion === null
          ? null
          : {
              version: run.cohortVersion,
              contentSha256: run.cohortVersionSha256,
              referencePolicy: run.cohortVersionPolicy,
            },
      cases: run.jobsTotal,
      succeeded: run.jobsSucceeded,
      failed: run.jobsFailed,
      createdAt: run.createdAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
      parameters: run.parameters,
    },
    model: {
      label: run.model,
      sha256: run.sha256,
      registeredAt: run.registeredAt.toISOString(),
      card: run.card,
    },
    software: { version: appVersion(), metricDefinitionVersion },
    definitions: {
      metrics: [...metricCatalogue.values()].map(describeMetric),
      parameters: {
        surfaceDiceTolerancesMm: [...defaultSurfaceDiceTolerancesMm],
        aplTolerancesMm: [...defaultAplTolerancesMm],
        surfaceModel: 'surface elements at voxel corners (DeepMind surface-distance convention)',
        hd95: 'maximum of the two directed area-weighted 95th percentiles, nearest rank',
        rasterisation: 'voxel centre inside by the even-odd rule over the contours of a slice',
      },
    },
    reference:
      reference.kind === 'consensus'
        ? "each case's STAPLE consensus"
        : reference.kind === 'physicians'
          ? "each case's physicians (mean over them)"
          : describeReference(reference),
    perStructure,
    comparison:
      compareWith === null ? null : { with: compareWith, candidates: comparable, result: comparison },
    acceptance,
    envelope: agreement.structures.map((s) => ({
      structure: s.structure,
      envelope: s.envelope,
      caveat: agreement.caveat,
    })),
    worstCases: worst,
  };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  // where each worst case is shown: the axial slice where model and reference differ most
  const views =
    blobs === undefined
      ? []
      : await Promise.all(
          (await findRunCaseSets(db, runId, worst)).map(async (sets) => {
            const disagreement = await largestDisagreement({ db, blobs }, sets.caseId, {
              structureId: sets.structureId,
              setA: sets.referenceSetId,
              setB: sets.testSetId,
            }).catch(() => null);
            return { ...sets, k: disagreement?.k ?? null };
          }),
        );
  const signOffs = (await findSignOffs(db, runId)).map((s) => ({
    id: s.id,
    at: s.at.toISOString(),
    name: String(s.details.name ?? ''),
    email: String(s.details.email ?? ''),
    role: String(s.details.role ?? ''),
    statement: String(s.details.statement ?? ''),
    digest: String(s.details.digest ?? ''),
  }));
  return { ...body, digest, signOffs, views };
}

/**
 * Records a sign-off of the report as it now reads (its digest) in the audit trail, append-only: who
 * (the signed-in user, with the professional role they sign in), when, and the statement signed.
 */
export async function signOffReport(
  db: Db,
  runId: number,
  signer: { name: string; email: string; role: string; statement: string },
  actor: Actor,
  options: ReportOptions = {},
): Promise<{ id: number; digest: string }> {
  const report = await buildReport(db, runId, options);
  const id = await insertSignOff(db, runId, actor, { ...signer, digest: report.digest });
  return { id, digest: report.digest };
}

/** FORBIDDEN unless every case of the run is at a site the principal sees. */
export async function requireReportAccess(db: Db, principal: Principal, runId: number): Promise<void> {
  if (principal.sites === null) return;
  for (const site of await findRunSites(db, runId)) requireSite(principal, site);
}
