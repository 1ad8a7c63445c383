import { createHash } from 'node:crypto';
import { AppError } from '../../core/errors';
import { toleranceKey } from '../../core/metrics/metric-json';
import {
  defaultAplTolerancesMm,
  defaultSurfaceDiceTolerancesMm,
  metricDefinitionVersion,
  type MetricParameters,
} from '../../core/metrics/metric-set';
import { modelReference, parseModelCard } from '../../core/models/model-card';
import { gaussian, mulberry32 } from '../../core/phantom/random';
import { findTg263Structure, type Tg263Structure } from '../../core/structures/tg263';
import type { Db } from '../db/connection';
import type { NewRow } from '../db/schema';
import { upsertBlob } from '../repositories/blob.repository';
import { insertModelVersion, upsertModel } from '../repositories/model.repository';
import { ensureObserver } from '../repositories/observer.repository';
import {
  insertCases,
  insertCohortCases,
  insertCohortIfAbsent,
  insertContourSets,
  insertEditingSessions,
  insertEvaluationRuns,
  insertJobOutcomes,
  insertMetrics,
  analyzeSeededTables,
  type InsertedContourSet,
} from '../repositories/seed.repository';
import { ensureSite } from '../repositories/site.repository';
import { ensureStructures } from '../repositories/structure.repository';
import { STAPLE_VARIANT } from './consensus.service';

/** The cohort every seeded case belongs to; its presence marks a database as seeded. */
export const SEEDED_COHORT_NAME = 'Seeded analytics cohort';
/** The seed used when none is given. */
export const DEFAULT_SEED = 1;

const SITE_CODES = ['SEED-A', 'SEED-B', 'SEED-C', 'SEED-D'] as const;
const OBSERVERS_PER_SITE = 3;
const MODEL_NAME = 'seed-net';
const MODEL_VERSIONS = ['1.0', '1.1'] as const;
const FIRST_DAY_MS = Date.UTC(2024, 0, 1);
/** 2024-01-01 to 2025-12-31 inclusive (2024 is a leap year). */
const DAYS = 731;
/** Cases planned and written together: bounds memory, not the transaction. */
const BATCH_CASES = 50;
const DAY_MS = 86_400_000;
/** Surface area of a sphere per (volume)^(2/3): (36 pi)^(1/3). */
const SPHERE_AREA_FACTOR = Math.cbrt(36 * Math.PI);

interface StructureProfile {
  tg263Name: string;
  /** typical reference volume, and its log-normal spread between patients */
  volumeCc: number;
  volumeLogSd: number;
  /** surface area over that of a sphere of the same volume */
  shape: number;
  /** mean Dice of seed-net 1.0 against the consensus at an unshifted site */
  modelDice: number;
  /** Dice loss of a consensus and of a physician against the (unknown) true outline */
  consensusLoss: number;
  physicianLoss: number;
  /** spread of the case difficulty and of one set's own deviation, in Dice */
  caseSd: number;
  setSd: number;
}

const STRUCTURES: readonly StructureProfile[] = [
  {
    tg263Name: 'Heart',
    volumeCc: 600,
    volumeLogSd: 0.15,
    shape: 1.15,
    modelDice: 0.92,
    consensusLoss: 0.015,
    physicianLoss: 0.035,
    caseSd: 0.012,
    setSd: 0.008,
  },
  {
    tg263Name: 'Lung_L',
    volumeCc: 1400,
    volumeLogSd: 0.18,
    shape: 1.3,
    modelDice: 0.96,
    consensusLoss: 0.008,
    physicianLoss: 0.015,
    caseSd: 0.006,
    setSd: 0.004,
  },
  {
    tg263Name: 'Lung_R',
    volumeCc: 1600,
    volumeLogSd: 0.18,
    shape: 1.3,
    modelDice: 0.96,
    consensusLoss: 0.008,
    physicianLoss: 0.015,
    caseSd: 0.006,
    setSd: 0.004,
  },
  {
    tg263Name: 'SpinalCanal',
    volumeCc: 60,
    volumeLogSd: 0.15,
    shape: 2.2,
    modelDice: 0.85,
    consensusLoss: 0.03,
    physicianLoss: 0.06,
    caseSd: 0.015,
    setSd: 0.012,
  },
  {
    tg263Name: 'CTV_Breast_L',
    volumeCc: 500,
    volumeLogSd: 0.35,
    shape: 1.4,
    modelDice: 0.82,
    consensusLoss: 0.04,
    physicianLoss: 0.08,
    caseSd: 0.025,
    setSd: 0.015,
  },
];

/** The planted effects, in Dice (see seedAnalytics). */
const VERSION_GAIN = 0.015;
const DOMAIN_SHIFT = 0.04;
const DRIFT = 0.06;
const DRIFT_FROM_MONTH = 18;
const OBSERVER_BIAS = 0.03;
const BIASED_OBSERVER = 'SEED-A-RO3';
const DOMAIN_SHIFT_SITE = 'SEED-C';
const DRIFT_SITE = 'SEED-B';
const DRIFT_STRUCTURE = 'Heart';
const AI_EDITING_FROM_MONTH = 6;
const MISSED_PROBABILITY = 0.003;
/** spread of a model version's own deviation on top of what both versions share */
const VERSION_SD = 0.004;
/** spread of one pair's disagreement beyond what its two sets carry */
const PAIR_SD = 0.003;
const MIN_LOSS = 0.002;

interface Scanner {
  manufacturer: string;
  scannerModel: string;
  kernel: string;
  kvp: number;
  slicesMm: readonly number[];
  pixelSpacingsMm: readonly number[];
  huMean: number;
  huStd: number;
  huP05: number;
  huP50: number;
  huP95: number;
  noiseHu: number;
  /** contouring system the site's editing times come from */
  tool: string;
}

const SIEMENS_PIXELS = [0.977, 1.074, 1.172, 1.27] as const;
const SCANNERS: Record<(typeof SITE_CODES)[number], Scanner> = {
  'SEED-A': {
    manufacturer: 'SIEMENS',
    scannerModel: 'SOMATOM Definition AS',
    kernel: 'Br40',
    kvp: 120,
    slicesMm: [2.5],
    pixelSpacingsMm: SIEMENS_PIXELS,
    huMean: -190,
    huStd: 400,
    huP05: -870,
    huP50: 5,
    huP95: 190,
    noiseHu: 12,
    tool: 'Eclipse 16.1',
  },
  'SEED-B': {
    manufacturer: 'SIEMENS',
    scannerModel: 'SOMATOM go.Open Pro',
    kernel: 'Br40',
    kvp: 120,
    slicesMm: [3],
    pixelSpacingsMm: SIEMENS_PIXELS,
    huMean: -185,
    huStd: 395,
    huP05: -865,
    huP50: 8,
    huP95: 185,
    noiseHu: 11,
    tool: 'RayStation 12A',
  },
  'SEED-C': {
    manufacturer: 'GE MEDICAL SYSTEMS',
    scannerModel: 'Discovery CT590 RT',
    kernel: 'LUNG',
    kvp: 120,
    slicesMm: [5],
    pixelSpacingsMm: [0.977, 1.367],
    huMean: -160,
    huStd: 430,
    huP05: -890,
    huP50: 15,
    huP95: 240,
    noiseHu: 28,
    tool: 'Monaco 6.1',
  },
  'SEED-D': {
    manufacturer: 'SIEMENS',
    scannerModel: 'SOMATOM Confidence',
    kernel: 'Br40',
    kvp: 120,
    slicesMm: [2.5, 3],
    pixelSpacingsMm: SIEMENS_PIXELS,
    huMean: -195,
    huStd: 405,
    huP05: -875,
    huP50: 3,
    huP95: 195,
    noiseHu: 13,
    tool: 'Eclipse 18.0',
  },
};

export interface SeedAnalyticsOptions {
  /** number of cases (1430 gives about 100,000 metric rows) */
  cases: number;
  /** the RNG seed (an integer, reduced to 32 bits); default DEFAULT_SEED */
  seed?: number;
  /** called after every group of cases is written, with the cases done so far and the total */
  onProgress?: (done: number, total: number) => void;
}

export interface SeedAnalyticsResult {
  cases: number;
  metricRows: number;
  editingSessions: number;
  contourSets: number;
  cohort: string;
  /** NAME@VERSION of the seeded model versions */
  models: string[];
  sites: string[];
}

/** Mixes integers into one 32-bit seed (murmur3 finaliser rounds), so every stream is independent. */
function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (Math.trunc(part) >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

interface Random {
  uniform: () => number;
  normal: () => number;
}

function random(seed: number): Random {
  const uniform = mulberry32(seed);
  return { uniform, normal: gaussian(uniform) };
}

function pick<T>(rng: Random, values: readonly T[]): T {
  return values[Math.min(values.length - 1, Math.floor(rng.uniform() * values.length))]!;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A contour set's latent state for one structure: how far it is from the truth and its size. */
interface SetState {
  /** Dice loss against the true outline */
  loss: number;
  volumeCc: number;
  surfaceAreaMm2: number;
  missed: boolean;
}

/** Set keys of a case, in insertion order: three physicians, the consensus, one model set per version. */
type SetKey = 'P0' | 'P1' | 'P2' | 'C' | 'M0' | 'M1';
const PHYSICIAN_KEYS = ['P0', 'P1', 'P2'] as const;
const MODEL_KEYS = ['M0', 'M1'] as const;

interface CasePlan {
  index: number;
  siteIndex: number;
  pseudonym: string;
  dayMs: number;
  month: number;
  scanner: Scanner;
  sliceMm: number;
  pixelMm: number;
  row: NewRow<'patient_case'>;
  /** per structure (in STRUCTURES order), per set key */
  states: Array<Record<SetKey, SetState>>;
}

/** The case's latent quantities; a pure function of the seed, the case index and the case count. */
function planCase(seed: number, index: number, total: number, observerCodes: string[][]): CasePlan {
  const rng = random(mixSeed(seed, 1, index));
  const siteIndex = index % SITE_CODES.length;
  const siteCode = SITE_CODES[siteIndex]!;
  const scanner = SCANNERS[siteCode];
  const dayMs = FIRST_DAY_MS + Math.floor((index * DAYS) / total) * DAY_MS;
  const date = new Date(dayMs);
  const month = (date.getUTCFullYear() - 2024) * 12 + date.getUTCMonth();
  const sliceMm = pick(rng, scanner.slicesMm);
  const pixelMm = pick(rng, scanner.pixelSpacingsMm);
  const huP05 = scanner.huP05 + 15 * rng.normal();
  const huP50 = scanner.huP50 + 10 * rng.normal();
  const huP95 = scanner.huP95 + 25 * rng.normal();
  const pseudonym = `SEED-${String(index + 1).padStart(6, '0')}`;
  const row: NewRow<'patient_case'> = {
    site_id: 0,
    pseudonym,
    acquisition_date: isoDay(dayMs),
    laterality: 'left',
    surgery_type: 'breast_conserving',
    protocol: 'Breast L 40 Gy / 15 fx',
    manufacturer: scanner.manufacturer,
    scanner_model: scanner.scannerModel,
    convolution_kernel: scanner.kernel,
    kvp: scanner.kvp,
    slice_thickness_mm: sliceMm,
    pixel_spacing_mm: pixelMm,
    hu_mean: round(scanner.huMean + 25 * rng.normal(), 2),
    hu_std: round(scanner.huStd + 20 * rng.normal(), 2),
    hu_p05: round(Math.min(huP05, huP50 - 100), 2),
    hu_p50: round(huP50, 2),
    hu_p95: round(Math.max(huP95, huP50 + 50), 2),
    noise_std_hu: round(Math.max(3, scanner.noiseHu * (1 + 0.15 * rng.normal())), 2),
    imported_at: new Date(dayMs + 2 * DAY_MS),
  };

  const shifted = siteCode === DOMAIN_SHIFT_SITE;
  const states = STRUCTURES.map((profile) => {
    const difficulty = rng.normal();
    const trueVolumeCc = profile.volumeCc * Math.exp(profile.volumeLogSd * rng.normal());
    const modelLoss = 1 - profile.modelDice - profile.consensusLoss;
    const sharedModelNoise = rng.normal();
    const state = (loss: number, volumeBias: number, roughness: number, missed = false): SetState => {
      const floored = Math.max(MIN_LOSS, loss);
      // a set's volume error is bounded by its overlap error, so volumes never contradict Dice
      const volumeCc = missed ? 0 : trueVolumeCc * (1 + floored * (volumeBias + 0.5 * rng.normal()));
      const surfaceAreaMm2 = missed
        ? 0
        : profile.shape * SPHERE_AREA_FACTOR * Math.pow(volumeCc * 1000, 2 / 3) * (1 + roughness);
      return { loss: floored, volumeCc, surfaceAreaMm2, missed };
    };
    const physician = (o: number) => {
      const biased = observerCodes[siteIndex]![o] === BIASED_OBSERVER;
      return state(
        profile.physicianLoss +
          (biased ? OBSERVER_BIAS : 0) +
          profile.caseSd * difficulty +
          profile.setSd * rng.normal(),
        biased ? 0.5 : 0,
        0.03 + 0.01 * rng.normal(),
      );
    };
    const model = (v: number) => {
      const drift =
        v === 1 &&
        siteCode === DRIFT_SITE &&
        month >= DRIFT_FROM_MONTH &&
        profile.tg263Name === DRIFT_STRUCTURE;
      const loss =
        modelLoss -
        (v === 1 ? VERSION_GAIN : 0) +
        (shifted ? DOMAIN_SHIFT : 0) +
        (drift ? DRIFT : 0) +
        profile.caseSd * difficulty +
        profile.setSd * sharedModelNoise +
        VERSION_SD * rng.normal();
      return state(loss, -0.3, -0.01 + 0.005 * rng.normal(), rng.uniform() < MISSED_PROBABILITY);
    };
    return {
      P0: physician(0),
      P1: physician(1),
      P2: physician(2),
      C: state(
        profile.consensusLoss + 0.5 * profile.caseSd * difficulty + 0.5 * profile.setSd * rng.normal(),
        0,
        -0.02,
      ),
      M0: model(0),
      M1: model(1),
    };
  });
  return { index, siteIndex, pseudonym, dayMs, month, scanner, sliceMm, pixelMm, row, states };
}

/** Values of a metric row that depend on the pair (everything but the keys). */
type MetricValues = Omit<
  NewRow<'metric'>,
  'case_id' | 'reference_set_id' | 'test_set_id' | 'structure_id' | 'evaluation_run_id' | 'computed_at'
>;

const SURFACE_DICE_TOLERANCES = [...defaultSurfaceDiceTolerancesMm];
const APL_TOLERANCES = [...defaultAplTolerancesMm];

function metricParameters(pixelMm: number, sliceMm: number): NewRow<'metric'>['parameters'] {
  const p: MetricParameters = {
    definitionVersion: metricDefinitionVersion,
    spacingMm: [pixelMm, pixelMm, sliceMm],
    surfaceDiceTolerancesMm: SURFACE_DICE_TOLERANCES,
    aplTolerancesMm: APL_TOLERANCES,
    surfaceModel: 'deepmind-corner-surfels',
    hd95: 'max of directed area-weighted nearest-rank 95th percentiles',
    apl: 'axial slices (k), pixel and marching-squares contour models',
    voxelCentre: 'face-connected surface voxels, voxel-centre distances, linear percentiles',
  };
  return {
    spacing_mm: p.spacingMm,
    surface_dice_tolerances_mm: p.surfaceDiceTolerancesMm,
    apl_tolerances_mm: p.aplTolerancesMm,
    surface_model: p.surfaceModel,
    hd95: p.hd95,
    apl: p.apl,
    voxel_centre: p.voxelCentre,
  };
}

function byTolerance(tolerances: readonly number[], value: (tau: number) => number): Record<string, number> {
  return Object.fromEntries(tolerances.map((tau) => [toleranceKey(tau), value(tau)]));
}

/**
 * The metric values of a test set against a reference set, consistent with each other the way the
 * engine's are: jaccard from Dice, intersection from Dice and both volumes, distances from the symmetric
 * difference spread over the surface, surface Dice and APL from an exponential distance distribution.
 */
function pairMetrics(
  ref: SetState,
  test: SetState,
  grid: { pixelMm: number; sliceMm: number; parameters: NewRow<'metric'>['parameters'] },
  rng: Random,
): MetricValues {
  // summed axial contour length of the reference: its lateral surface cut into slices
  const boundaryMm = (0.9 * ref.surfaceAreaMm2) / grid.sliceMm;
  const pixelFactor = 0.93 * (1 + 0.02 * rng.normal());
  const common = {
    definition_version: metricDefinitionVersion,
    parameters: grid.parameters,
    reference_empty: false,
    reference_volume_cc: ref.volumeCc,
    surface_area_ref_mm2: ref.surfaceAreaMm2,
    apl_slices: null,
  };
  if (test.missed) {
    // what the engine stores for an empty test against a non-empty reference
    return {
      ...common,
      test_empty: true,
      detected: false,
      test_volume_cc: 0,
      intersection_volume_cc: 0,
      volume_diff_cc: -ref.volumeCc,
      volume_diff_pct: -100,
      dice: 0,
      jaccard: 0,
      sensitivity: 0,
      precision: null,
      hd95_mm: Infinity,
      hd_max_mm: Infinity,
      hd95_ref_to_test_mm: Infinity,
      hd95_test_to_ref_mm: null,
      hd95_pooled_mm: null,
      hd95_directed_mean_mm: null,
      hd95_voxel_centre_mm: null,
      msd_ref_to_test_mm: Infinity,
      msd_test_to_ref_mm: null,
      msd_mean_mm: Infinity,
      assd_mm: Infinity,
      surface_area_test_mm2: 0,
      surface_dice: byTolerance(SURFACE_DICE_TOLERANCES, () => 0),
      apl_pixel_mm: byTolerance(APL_TOLERANCES, () => boundaryMm * pixelFactor),
      apl_contour_mm: byTolerance(APL_TOLERANCES, () => boundaryMm),
      centroid_shift_mm: null,
      centroid_shift_lps_mm: null,
      cranial_extent_error_mm: null,
      caudal_extent_error_mm: null,
    };
  }
  const vr = ref.volumeCc;
  const vt = test.volumeCc;
  // Dice cannot exceed 2 min / sum (one set inside the other)
  const feasible = (2 * Math.min(vr, vt)) / (vr + vt);
  const dice = clamp(1 - ref.loss - test.loss + PAIR_SD * rng.normal(), 0.05, Math.min(0.998, feasible));
  const intersection = (dice * (vr + vt)) / 2;
  const ar = ref.surfaceAreaMm2;
  const at = test.surfaceAreaMm2;
  // mean surface distance: the symmetric difference spread over the mean surface, less the part of the
  // displacement that runs along the surface
  const meanDistanceMm = (0.8 * (1 - dice) * (vr + vt) * 1000) / ((ar + at) / 2);
  const asymmetry = clamp(0.1 * rng.normal(), -0.4, 0.4);
  const msdRefToTest = meanDistanceMm * (1 + asymmetry);
  const msdTestToRef = meanDistanceMm * (1 - asymmetry);
  const assd = (msdRefToTest * ar + msdTestToRef * at) / (ar + at);
  const hd95RefToTest = msdRefToTest * Math.max(1.5, 3 * Math.exp(0.15 * rng.normal()));
  const hd95TestToRef = msdTestToRef * Math.max(1.5, 3 * Math.exp(0.15 * rng.normal()));
  const hd95 = Math.max(hd95RefToTest, hd95TestToRef);
  const hdMax = hd95 * (1.25 - 0.5 * Math.log(1 - rng.uniform())) + grid.pixelMm;
  const vcRefToTest = hd95RefToTest * (0.95 + 0.1 * rng.uniform());
  const vcTestToRef = hd95TestToRef * (0.95 + 0.1 * rng.uniform());
  const vcLow = Math.min(vcRefToTest, vcTestToRef);
  const vcHigh = Math.max(vcRefToTest, vcTestToRef);
  // half a pixel: boundaries on the same voxel edges coincide even when slightly displaced
  const offsetMm = grid.pixelMm / 2;
  const centroidMm = 0.5 * meanDistanceMm * Math.exp(0.4 * rng.normal());
  const direction = [rng.normal(), rng.normal(), 0.5 * rng.normal()];
  const norm = Math.hypot(...direction) || 1;
  const centroid = direction.map((c) => (c / norm) * centroidMm);
  const extentSd = 0.4 + meanDistanceMm / grid.sliceMm;
  return {
    ...common,
    test_empty: false,
    detected: true,
    test_volume_cc: vt,
    intersection_volume_cc: intersection,
    volume_diff_cc: vt - vr,
    volume_diff_pct: (100 * (vt - vr)) / vr,
    dice,
    jaccard: dice / (2 - dice),
    sensitivity: intersection / vr,
    precision: intersection / vt,
    hd95_mm: hd95,
    hd_max_mm: hdMax,
    hd95_ref_to_test_mm: hd95RefToTest,
    hd95_test_to_ref_mm: hd95TestToRef,
    hd95_pooled_mm: vcLow + (vcHigh - vcLow) * rng.uniform(),
    hd95_directed_mean_mm: (vcRefToTest + vcTestToRef) / 2,
    hd95_voxel_centre_mm: vcHigh,
    msd_ref_to_test_mm: msdRefToTest,
    msd_test_to_ref_mm: msdTestToRef,
    msd_mean_mm: (msdRefToTest + msdTestToRef) / 2,
    assd_mm: assd,
    surface_area_test_mm2: at,
    surface_dice: byTolerance(SURFACE_DICE_TOLERANCES, (tau) => 1 - Math.exp(-(tau + offsetMm) / assd)),
    apl_pixel_mm: byTolerance(
      APL_TOLERANCES,
      (tau) => boundaryMm * pixelFactor * Math.exp(-(tau + offsetMm) / msdRefToTest),
    ),
    apl_contour_mm: byTolerance(
      APL_TOLERANCES,
      (tau) => boundaryMm * Math.exp(-(tau + offsetMm) / msdRefToTest),
    ),
    centroid_shift_mm: Math.hypot(...centroid),
    centroid_shift_lps_mm: centroid,
    // whole slices, positive where the test reaches beyond the reference (+ 0 turns -0 into 0)
    cranial_extent_error_mm: Math.round(extentSd * rng.normal()) * grid.sliceMm + 0,
    caudal_extent_error_mm: Math.round(extentSd * rng.normal()) * grid.sliceMm + 0,
  };
}

/** The card of a placeholder version: valid, so listings and analyses that parse cards accept it. */
function placeholderCard(version: string): Record<string, unknown> {
  const card = parseModelCard(
    {
      schemaVersion: 1,
      name: MODEL_NAME,
      version,
      vendor: 'ContourBench load data',
      description:
        'Generated load-test data: no ONNX file exists behind this version and its contours and metrics were generated, not computed.',
      licence: 'Apache-2.0',
      intendedStructures: STRUCTURES.map((s) => s.tg263Name),
      input: {
        kind: '3d',
        axisOrder: 'NCDHW',
        channels: 1,
        spacingMm: [1.5, 1.5, 3],
        patchSize: [64, 128, 128],
        normalisation: { method: 'window', windowHu: [-1000, 1000] },
      },
      output: {
        activation: 'softmax',
        labels: STRUCTURES.map((s, i) => ({ channel: i + 1, structure: s.tg263Name })),
      },
    },
    `${MODEL_NAME}@${version} (seeded card)`,
  );
  return card as unknown as Record<string, unknown>;
}

interface Context {
  seed: number;
  total: number;
  cohortId: number;
  siteIds: number[];
  /** observer ids and codes per site, in site order */
  observerIds: number[][];
  observerCodes: string[][];
  structureIds: number[];
  versionIds: number[];
  runIds: number[];
  runStartMs: number[];
}

/** Seconds an evaluation job takes per case, on average (spacing of the job outcomes). */
const JOB_SECONDS = 1.8;

function jobTiming(context: Context, version: number, index: number) {
  const rng = random(mixSeed(context.seed, 4, version, index));
  const startedMs = context.runStartMs[version]! + index * JOB_SECONDS * 1000;
  // shorter than the spacing: one worker, jobs back to back
  const durationMs = Math.round(1000 * JOB_SECONDS * (0.7 + 0.25 * rng.uniform()));
  return { startedAt: new Date(startedMs), finishedAt: new Date(startedMs + durationMs), durationMs };
}

async function seedBatch(
  trx: Db,
  context: Context,
  first: number,
  count: number,
): Promise<{ metricRows: number; editingSessions: number; contourSets: number }> {
  const plans: CasePlan[] = [];
  for (let i = first; i < first + count; i++)
    plans.push(planCase(context.seed, i, context.total, context.observerCodes));

  const cases = await insertCases(
    trx,
    plans.map((plan) => ({ ...plan.row, site_id: context.siteIds[plan.siteIndex]! })),
  );
  const caseIds = new Map(cases.map((c) => [`${c.siteId}:${c.pseudonym}`, c.id]));
  const caseIdOf = (plan: CasePlan) => caseIds.get(`${context.siteIds[plan.siteIndex]}:${plan.pseudonym}`)!;

  await insertCohortCases(
    trx,
    plans.map((plan) => ({
      cohort_id: context.cohortId,
      case_id: caseIdOf(plan),
      reason: 'seeded load data',
      added_at: new Date(plan.dayMs + 2 * DAY_MS),
    })),
  );

  const setRows: NewRow<'contour_set'>[] = [];
  for (const plan of plans) {
    const caseId = caseIdOf(plan);
    const createdAt = new Date(plan.dayMs + DAY_MS);
    context.observerIds[plan.siteIndex]!.forEach((observerId, o) =>
      setRows.push({
        case_id: caseId,
        source: 'physician',
        observer_id: observerId,
        label: context.observerCodes[plan.siteIndex]![o]!,
        created_at: createdAt,
      }),
    );
    setRows.push({
      case_id: caseId,
      source: 'consensus',
      variant: STAPLE_VARIANT,
      label: 'STAPLE consensus',
      created_at: new Date(plan.dayMs + 3 * DAY_MS),
    });
    MODEL_VERSIONS.forEach((version, v) =>
      setRows.push({
        case_id: caseId,
        source: 'model',
        model_version_id: context.versionIds[v]!,
        evaluation_run_id: context.runIds[v]!,
        label: `${MODEL_NAME}@${version}`,
        created_at: jobTiming(context, v, plan.index).finishedAt,
      }),
    );
  }
  const sets = await insertContourSets(trx, setRows);
  const setKeyOf = (s: InsertedContourSet) =>
    `${s.caseId}:${s.source}:${s.observerId ?? ''}:${s.modelVersionId ?? ''}:${s.variant}`;
  const setIds = new Map(sets.map((s) => [setKeyOf(s), s.id]));
  const setIdsOf = (plan: CasePlan): Record<SetKey, number> => {
    const caseId = caseIdOf(plan);
    const observers = context.observerIds[plan.siteIndex]!;
    const id = (key: string) => setIds.get(`${caseId}:${key}`)!;
    return {
      P0: id(`physician:${observers[0]}::`),
      P1: id(`physician:${observers[1]}::`),
      P2: id(`physician:${observers[2]}::`),
      C: id(`consensus:::${STAPLE_VARIANT}`),
      M0: id(`model::${context.versionIds[0]}:`),
      M1: id(`model::${context.versionIds[1]}:`),
    };
  };

  const metricRows: NewRow<'metric'>[] = [];
  const sessionRows: NewRow<'editing_session'>[] = [];
  const jobRows: NewRow<'job_outcome'>[] = [];
  for (const plan of plans) {
    const caseId = caseIdOf(plan);
    const ids = setIdsOf(plan);
    const parameters = metricParameters(plan.pixelMm, plan.sliceMm);
    const grid = { pixelMm: plan.pixelMm, sliceMm: plan.sliceMm, parameters };
    const physicianComputedAt = new Date(plan.dayMs + 3 * DAY_MS + 12 * 3_600_000);
    const modelComputedAt = MODEL_VERSIONS.map((_, v) => jobTiming(context, v, plan.index).finishedAt);
    /** apl_contour_mm of seed-net 1.1 against each physician, per structure, for editing times */
    const aplOfLatest: Array<Record<string, Record<string, number>>> = [];

    plan.states.forEach((states, s) => {
      const rng = random(mixSeed(context.seed, 2, plan.index, s));
      const row = (refKey: SetKey, testKey: SetKey, runId: number | null, computedAt: Date) => {
        const values = pairMetrics(states[refKey], states[testKey], grid, rng);
        metricRows.push({
          case_id: caseId,
          reference_set_id: ids[refKey],
          test_set_id: ids[testKey],
          structure_id: context.structureIds[s]!,
          evaluation_run_id: runId,
          computed_at: computedAt,
          ...values,
        });
        return values;
      };
      const apl: Record<string, Record<string, number>> = {};
      MODEL_KEYS.forEach((modelKey, v) => {
        for (const refKey of [...PHYSICIAN_KEYS, 'C'] as const) {
          const values = row(refKey, modelKey, context.runIds[v]!, modelComputedAt[v]!);
          if (v === 1) apl[refKey] = values.apl_contour_mm as Record<string, number>;
        }
      });
      for (const key of PHYSICIAN_KEYS) row('C', key, null, physicianComputedAt);
      for (let a = 0; a < PHYSICIAN_KEYS.length; a++) {
        for (let b = a + 1; b < PHYSICIAN_KEYS.length; b++) {
          const [ka, kb] = [PHYSICIAN_KEYS[a]!, PHYSICIAN_KEYS[b]!];
          // the lower set id is the reference, as the consensus service orders its rater pairs
          if (ids[ka] < ids[kb]) row(ka, kb, null, physicianComputedAt);
          else row(kb, ka, null, physicianComputedAt);
        }
      }
      aplOfLatest.push(apl);
    });

    // editing sessions: one clock per observer, so an observer's sessions never overlap
    const rng = random(mixSeed(context.seed, 3, plan.index));
    const observers = context.observerIds[plan.siteIndex]!;
    const clocks = observers.map(
      (_, o) => plan.dayMs + (9 + 2 * o) * 3_600_000 + Math.floor(rng.uniform() * 3600) * 1000,
    );
    const session = (o: number, s: number, mode: 'from_scratch' | 'editing_ai', activeSeconds: number) => {
      const startedMs = clocks[o]!;
      const endedMs = startedMs + Math.ceil(activeSeconds * (1.05 + 0.45 * rng.uniform()) * 1000);
      clocks[o] = endedMs + (60 + Math.floor(rng.uniform() * 240)) * 1000;
      sessionRows.push({
        observer_id: observers[o]!,
        case_id: caseId,
        structure_id: context.structureIds[s]!,
        from_set_id: mode === 'editing_ai' ? ids.M1 : null,
        to_set_id: ids[PHYSICIAN_KEYS[o]!],
        started_at: new Date(startedMs),
        ended_at: new Date(endedMs),
        active_seconds: round(activeSeconds, 1),
        mode,
        tool: plan.scanner.tool,
      });
    };
    STRUCTURES.forEach((_, s) => {
      const manual = (plan.index + s) % OBSERVERS_PER_SITE;
      const boundaryMm = aplOfLatest[s]![PHYSICIAN_KEYS[manual]!]![toleranceKey(0)]!;
      session(manual, s, 'from_scratch', (20 + 0.04 * boundaryMm) * (0.8 + 0.4 * rng.uniform()));
      if (plan.month >= AI_EDITING_FROM_MONTH) {
        const editor = (manual + 1) % OBSERVERS_PER_SITE;
        const addedMm = aplOfLatest[s]![PHYSICIAN_KEYS[editor]!]![toleranceKey(2)]!;
        session(editor, s, 'editing_ai', (15 + 0.05 * addedMm) * (0.8 + 0.4 * rng.uniform()));
      }
    });

    MODEL_VERSIONS.forEach((_, v) => {
      const timing = jobTiming(context, v, plan.index);
      jobRows.push({
        evaluation_run_id: context.runIds[v]!,
        case_id: caseId,
        status: 'succeeded',
        attempts: 1,
        worker_id: 'seed-worker-1',
        started_at: timing.startedAt,
        finished_at: timing.finishedAt,
        duration_ms: timing.durationMs,
      });
    });
  }
  await insertMetrics(trx, metricRows);
  await insertEditingSessions(trx, sessionRows);
  await insertJobOutcomes(trx, jobRows);
  return { metricRows: metricRows.length, editingSessions: sessionRows.length, contourSets: sets.length };
}

/**
 * Fills the database with a deterministic analytics dataset for load tests and benchmarks of the
 * analytics API: `cases` breast cases (70 metric rows each, so 1430 cases give about 100,000 rows), all in
 * one transaction. Refuses with CONFLICT when the cohort 'Seeded analytics cohort' exists (the database
 * is already seeded), and with INVALID_ARGUMENT for a non-positive or fractional case count or seed.
 *
 * Dataset, a pure function of (seed, cases):
 * - sites SEED-A..SEED-D with observers SEED-x-RO1..RO3 (radiation oncologists); cases SEED-000001...
 *   assigned round-robin to the sites (case i to site i mod 4) and spread evenly over the acquisition
 *   days 2024-01-01..2025-12-31 in case order ("month" below counts from 2024-01 = 0).
 * - scanners: SEED-A, -B, -D SIEMENS, kernel Br40, 2.5 / 3 / 2.5-or-3 mm slices, noise ~12 HU; SEED-C
 *   GE MEDICAL SYSTEMS, kernel LUNG, 5 mm slices, noise ~28 HU and brighter HU percentiles.
 * - structures Heart, Lung_L, Lung_R, SpinalCanal, CTV_Breast_L (reference volumes ~600, 1400, 1600,
 *   60, 500 cc); model seed-net 1.0 and 1.1 (placeholder ONNX blobs, no file), one succeeded evaluation
 *   run each over the cohort, with a job outcome per case.
 * - per case: three physician sets (the site's observers), a STAPLE consensus set (variant 'staple'),
 *   one model set per version. Per structure 14 metric rows: each model set against each physician and
 *   the consensus (with the run), each physician against the consensus, each physician pair (reference
 *   the lower set id). No contour or mask rows.
 * - mean Dice of seed-net 1.0 against the consensus: Heart 0.92, lungs 0.96, SpinalCanal 0.85,
 *   CTV_Breast_L 0.82; physicians against the consensus about 0.95, 0.977, 0.91, 0.88.
 * - about 0.3% of the (model set, structure) pairs are missed structures: their 4 rows have test_empty,
 *   Dice 0 and infinite distances, as the metric engine stores an empty test.
 *
 * Planted effects (in Dice, on top of noise; tests and benchmarks rely on them):
 * - version: seed-net 1.1 is better than 1.0 by about +0.015 on every row, paired (both versions share
 *   the case's noise and differ by a small independent term, SD 0.004).
 * - domain shift: at SEED-C both versions are about 0.04 worse (physicians are not).
 * - drift: at SEED-B, from month 18 (acquired 2025-07-01 or later), 1.1's Heart Dice is about 0.06 lower.
 * - observer bias: SEED-A-RO3 agrees about 0.03 less with the consensus (and with everyone else) than its
 *   colleagues, and draws larger volumes.
 * - editing sessions per case and structure: a 'from_scratch' session of observer (case + structure)
 *   mod 3 into their own set, active seconds (20 + 0.04 x APL contour at 0 mm of the 1.1 row against
 *   that set) x U(0.8, 1.2); from month 6 also an 'editing_ai' session of the next observer from the
 *   1.1 set into their own set, (15 + 0.05 x APL contour at 2 mm) x U(0.8, 1.2); sessions start on the
 *   acquisition day and never overlap for one observer. AI editing therefore takes less time than manual
 *   contouring (about 30% for the lungs to 75% for the breast CTV), and a larger share where the model is
 *   worse (SEED-C, the drift). Thick slices mean less boundary, so SEED-C's sessions are shorter in
 *   absolute terms.
 */
export async function seedAnalytics(db: Db, options: SeedAnalyticsOptions): Promise<SeedAnalyticsResult> {
  const total = options.cases;
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(total) || total < 1)
    throw new AppError('INVALID_ARGUMENT', `cases must be a positive integer, got ${total}`);
  if (!Number.isSafeInteger(seed))
    throw new AppError('INVALID_ARGUMENT', `seed must be an integer, got ${seed}`);

  const result = await db.transaction().execute(async (trx) => {
    const cohortId = await insertCohortIfAbsent(
      trx,
      SEEDED_COHORT_NAME,
      `Generated load-test data (seed ${seed}, ${total} cases); not clinical data.`,
    );
    if (cohortId === undefined)
      throw new AppError(
        'CONFLICT',
        `the database already holds seeded analytics data (cohort "${SEEDED_COHORT_NAME}" exists)`,
      );

    const siteIds: number[] = [];
    const observerIds: number[][] = [];
    const observerCodes: string[][] = [];
    for (const code of SITE_CODES) {
      const site = await ensureSite(trx, code, `Seeded site ${code.slice(-1)}`);
      siteIds.push(site.id);
      const codes = Array.from({ length: OBSERVERS_PER_SITE }, (_, o) => `${code}-RO${o + 1}`);
      observerCodes.push(codes);
      const ids: number[] = [];
      for (const [o, observerCode] of codes.entries())
        ids.push(await ensureObserver(trx, site.id, observerCode, `Radiation oncologist ${o + 1} (${code})`));
      observerIds.push(ids);
    }

    const definitions = STRUCTURES.map((s) => findTg263Structure(s.tg263Name)) as Tg263Structure[];
    const structureIdsByName = await ensureStructures(trx, definitions);
    const structureIds = STRUCTURES.map((s) => structureIdsByName.get(s.tg263Name)!);

    const modelId = await upsertModel(trx, {
      name: MODEL_NAME,
      vendor: 'ContourBench load data',
      description: 'Generated load-test model: no ONNX files, generated metrics.',
    });
    const versionIds: number[] = [];
    for (const version of MODEL_VERSIONS) {
      // Placeholder blob rows for load data: model_version needs one, but no ONNX file exists behind it,
      // so running this version fails at loading, never silently.
      const sha256 = createHash('sha256')
        .update(`contourbench load data ${MODEL_NAME}@${version}`)
        .digest('hex');
      await upsertBlob(trx, {
        sha256,
        sizeBytes: 0,
        storedSizeBytes: 0,
        compression: 'none',
        mediaType: 'application/onnx',
      });
      versionIds.push(
        await insertModelVersion(trx, {
          modelId,
          version,
          onnxSha256: sha256,
          card: placeholderCard(version),
        }),
      );
    }

    const runStartMs = [Date.UTC(2026, 0, 5, 8, 0, 0), Date.UTC(2026, 1, 2, 8, 0, 0)];
    const runIds = await insertEvaluationRuns(
      trx,
      MODEL_VERSIONS.map((_, v) => ({
        cohort_id: cohortId,
        model_version_id: versionIds[v]!,
        status: 'succeeded' as const,
        parameters: { reference: 'all physician and consensus sets' },
        jobs_total: total,
        jobs_succeeded: total,
        jobs_failed: 0,
        created_at: new Date(runStartMs[v]! - 60_000),
        started_at: new Date(runStartMs[v]!),
        finished_at: new Date(runStartMs[v]! + (total + 1) * JOB_SECONDS * 1000),
      })),
    );

    const context: Context = {
      seed,
      total,
      cohortId,
      siteIds,
      observerIds,
      observerCodes,
      structureIds,
      versionIds,
      runIds,
      runStartMs,
    };
    const counts = { metricRows: 0, editingSessions: 0, contourSets: 0 };
    for (let first = 0; first < total; first += BATCH_CASES) {
      const count = Math.min(BATCH_CASES, total - first);
      const batch = await seedBatch(trx, context, first, count);
      counts.metricRows += batch.metricRows;
      counts.editingSessions += batch.editingSessions;
      counts.contourSets += batch.contourSets;
      options.onProgress?.(first + count, total);
    }
    return {
      cases: total,
      ...counts,
      cohort: SEEDED_COHORT_NAME,
      models: MODEL_VERSIONS.map((version) => modelReference({ name: MODEL_NAME, version })),
      sites: [...SITE_CODES],
    };
  });
  // planner statistics for the bulk-loaded tables now, not whenever autovacuum comes round
  await analyzeSeededTables(db);
  return result;
}
