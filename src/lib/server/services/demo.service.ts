import { createHash } from 'node:crypto';
import os from 'node:os';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageGrid } from '../../core/geometry/image-grid';
import {
  CONVENTIONAL,
  generateBreastDose,
  HYPOFRACTIONATED,
  type Prescription,
} from '../../core/phantom/breast-dose';
import {
  defaultPhantomGrid,
  generatePhantom,
  renderCt,
  type Phantom,
  type PhantomGrid,
  type PhantomSpec,
} from '../../core/phantom/breast-phantom';
import { applyObserverStyle, type ObserverStyle } from '../../core/phantom/observer-style';
import { mulberry32 } from '../../core/phantom/random';
import { findTg263Structure, normaliseStructureName } from '../../core/structures/tg263';
import { axisAlignedAffine, type Vec3, type Volume } from '../../core/volume/volume';
import { writeFileAtomically } from '../io/atomic-write';
import { ctImageStorage, writeCtSeries, type CtScannerTags } from '../io/ct-writer';
import { writeRtDose } from '../io/rtdose-writer';
import { writeRtStruct } from '../io/rtstruct-writer';
import { runTasksInThreads } from '../threads/task-threads';

/** Size and seed of the generated cohort. */
export interface DemoOptions {
  sites: number;
  casesPerSite: number;
  seed: number;
}

/** 3 sites x 4 cases, 3 observers each: generated, imported and served within a few minutes on 2 cores. */
export const defaultDemoOptions: DemoOptions = { sites: 3, casesPerSite: 4, seed: 2026 };

export interface ScannerProfile {
  tags: CtScannerTags;
  noiseHu: number;
  blurMm: number;
  huOffset: number;
}

export interface SiteProfile {
  code: string;
  name: string;
  spacingMm: Vec3;
  fovMm: number;
  scanners: ScannerProfile[];
  /** How the site names each TG-263 structure in its planning system. */
  names: Record<string, string>;
  physicians: ObserverStyle[];
  /** months after the cohort's first date when the site starts correcting AI contours (null: never) */
  aiFromMonth: number | null;
  /** the contouring guideline the site follows (ESTRO or RTOG breast atlas) */
  protocol: 'ESTRO' | 'RTOG';
  /**
   * the site's whole-breast and chest-wall prescription: 40.05 Gy in 15 fractions where the site follows
   * the ESTRO guideline (moderate hypofractionation, START B), 50 Gy in 25 at the RTOG site
   */
  prescription: Prescription;
}

export interface DemoCase {
  site: string;
  patientId: string;
  folder: string;
  seed: number;
  laterality: 'left' | 'right';
  surgery: 'breast_conserving' | 'mastectomy';
  tumourBed: 'none' | 'clips' | 'seroma';
  nodal: boolean;
  /** the contouring guideline of the case's site */
  protocol: 'ESTRO' | 'RTOG';
  /** prescription of the planned dose (RD.dcm) to the breast or chest-wall CTV, Gy, and its fractions */
  prescriptionGy: number;
  fractions: number;
  size: number;
  breathing: number;
  spacingMm: Vec3;
  fovMm: number;
  acquisitionDate: string;
  /** Manual contouring sessions of the physicians (from scratch), for the editing-time import. */
  sessions: Array<{
    observer: string;
    tg263Name: string;
    startedAt: string;
    endedAt: string;
    activeSeconds: number;
  }>;
  /**
   * Structures the physicians corrected from the AI model's contours instead of drawing them (cases of
   * a site after its AI go-live): the editing time is set from the added path length once the demo has
   * evaluated the AI model on the case.
   */
  aiEdits: Array<{ observer: string; tg263Name: string; startedAt: string }>;
  /** train: used to fit the demo models (kept out of the test cohort); test: everything else */
  split: 'train' | 'test';
  scanner: string;
  convolutionKernel: string;
  observers: string[];
}

/** The demo's clinical AI model, the structures physicians correct from it, and the held-out cohort. */
/** The cohort every demo case is imported into. */
export const DEMO_COHORT = 'Demo multi-centre breast cohort';

export const demoAi = {
  model: 'thorax-context-net@2.0',
  structures: ['Lung_L', 'Lung_R', 'Heart', 'SpinalCanal', 'Sternum'],
  testCohort: 'Demo test split',
} as const;

export interface DemoManifest {
  version: 4;
  /** the AI model the physicians correct (see DemoCase.aiEdits) and the held-out evaluation cohort */
  ai: { model: string; testCohort: string };
  options: DemoOptions;
  /** The observer whose structure sets are the phantom's true organs (no style applied). */
  truthObserver: string;
  driftEvent: { site: string; from: string; change: string };
  /** Site names the built-in TG-263 rules do not resolve: registered as site aliases before import. */
  aliases: Array<{ site: string; name: string; tg263Name: string }>;
  cases: DemoCase[];
}

export const truthObserver = 'EXPERT';

const neutral = (code: string): ObserverStyle => ({
  code,
  marginMm: 0,
  targetMarginMm: 0,
  smoothness: 0,
  cranialSlices: 0,
  caudalSlices: 0,
  missedSliceProbability: 0,
  missedStructureProbability: 0,
});

function scanner(
  manufacturer: string,
  model: string,
  kernel: string,
  kvp: number,
  noiseHu: number,
  blurMm: number,
  huOffset: number,
  sliceThicknessMm: number,
  institutionName: string,
): ScannerProfile {
  return {
    tags: {
      manufacturer,
      model,
      stationName: `${model.replace(/\s+/g, '').slice(0, 10)}01`,
      institutionName,
      kvp,
      convolutionKernel: kernel,
      sliceThicknessMm,
    },
    noiseHu,
    blurMm,
    huOffset,
  };
}

/** Site profiles: scanners, slice spacing, naming habits and physicians; the second site changes kernel mid-way. */
function siteProfiles(count: number): SiteProfile[] {
  const all: SiteProfile[] = [
    {
      code: 'NORTH',
      name: 'North Radiotherapy Centre',
      spacingMm: [1.17, 1.17, 3],
      fovMm: 500,
      scanners: [scanner('SIEMENS', 'SOMATOM go.Open Pro', 'Br40', 120, 12, 1.0, 0, 3, 'North RT Centre')],
      names: {
        External: 'BODY',
        Lung_L: 'Lt Lung',
        Lung_R: 'Rt Lung',
        Heart: 'Heart',
        SpinalCanal: 'Spinal Canal',
        Esophagus: 'Oesophagus',
        Breast_L: 'Lt Breast',
        Breast_R: 'Rt Breast',
        CTV_Breast_L: 'CTV Breast L',
        CTV_Breast_R: 'CTV Breast R',
        CTV_Chestwall_L: 'CTV Chest Wall L',
        CTV_Chestwall_R: 'CTV Chest Wall R',
        CTV_TumorBed_L: 'CTV Tumour Bed L',
        CTV_TumorBed_R: 'CTV Tumour Bed R',
        CTVn_LN_Ax_L1_L: 'Ax Level I L',
        CTVn_LN_Ax_L1_R: 'Ax Level I R',
        CTVn_LN_Ax_L2_L: 'Ax Level II L',
        CTVn_LN_Ax_L2_R: 'Ax Level II R',
        CTVn_LN_Ax_L3_L: 'Ax Level III L',
        CTVn_LN_Ax_L3_R: 'Ax Level III R',
        CTVn_LN_Sclav_L: 'SCF L',
        CTVn_LN_Sclav_R: 'SCF R',
        CTVn_LN_IMN_L: 'IMN L',
        CTVn_LN_IMN_R: 'IMN R',
      },
      aiFromMonth: 4,
      protocol: 'ESTRO',
      prescription: HYPOFRACTIONATED,
      physicians: [
        {
          ...neutral('Dr A Ahmed'),
          marginMm: 1,
          targetMarginMm: 2,
          smoothness: 0.3,
          cranialSlices: 1,
          missedSliceProbability: 0.02,
        },
        {
          ...neutral('Dr B Brown'),
          marginMm: -1,
          targetMarginMm: -1.5,
          smoothness: 0.6,
          caudalSlices: -1,
          missedStructureProbability: 0.1,
        },
      ],
    },
    {
      code: 'SOUTH',
      name: 'South University Hospital',
      spacingMm: [0.98, 0.98, 2],
      fovMm: 500,
      scanners: [
        scanner(
          'GE MEDICAL SYSTEMS',
          'Revolution CT',
          'STANDARD',
          120,
          10,
          1.2,
          0,
          2,
          'South University Hospital',
        ),
        // the drift event: a sharper kernel with more noise and a calibration offset from month 8
        scanner(
          'GE MEDICAL SYSTEMS',
          'Revolution CT',
          'LUNG',
          120,
          22,
          0.4,
          18,
          2,
          'South University Hospital',
        ),
      ],
      names: {
        External: 'External',
        Lung_L: 'LUNG_L',
        Lung_R: 'LUNG_R',
        Heart: 'HEART',
        SpinalCanal: 'SPINAL_CANAL',
        Esophagus: 'ESOPHAGUS',
        Breast_L: 'BREAST_L',
        Breast_R: 'BREAST_R',
        CTV_Breast_L: 'CTVp_Breast_L',
        CTV_Breast_R: 'CTVp_Breast_R',
        CTV_Chestwall_L: 'CTVp_Chestwall_L',
        CTV_Chestwall_R: 'CTVp_Chestwall_R',
        CTV_TumorBed_L: 'CTV_TumorBed_L',
        CTV_TumorBed_R: 'CTV_TumorBed_R',
        CTVn_LN_Ax_L1_L: 'CTVn_LN_Ax_L1_L',
        CTVn_LN_Ax_L1_R: 'CTVn_LN_Ax_L1_R',
        CTVn_LN_Ax_L2_L: 'CTVn_LN_Ax_L2_L',
        CTVn_LN_Ax_L2_R: 'CTVn_LN_Ax_L2_R',
        CTVn_LN_Ax_L3_L: 'CTVn_LN_Ax_L3_L',
        CTVn_LN_Ax_L3_R: 'CTVn_LN_Ax_L3_R',
        CTVn_LN_Sclav_L: 'CTVn_LN_Sclav_L',
        CTVn_LN_Sclav_R: 'CTVn_LN_Sclav_R',
        CTVn_LN_IMN_L: 'CTVn_LN_IMN_L',
        CTVn_LN_IMN_R: 'CTVn_LN_IMN_R',
      },
      aiFromMonth: null,
      protocol: 'RTOG',
      prescription: CONVENTIONAL,
      physicians: [
        {
          ...neutral('Dr C Costa'),
          marginMm: 0.5,
          targetMarginMm: 3,
          smoothness: 0.2,
          cranialSlices: 2,
          caudalSlices: 1,
        },
        {
          ...neutral('Dr D Dubois'),
          marginMm: 0,
          targetMarginMm: -2,
          smoothness: 0.8,
          missedSliceProbability: 0.05,
          missedStructureProbability: 0.15,
        },
      ],
    },
    {
      code: 'EAST',
      name: 'East Cancer Institute',
      spacingMm: [1.27, 1.27, 5],
      fovMm: 600,
      scanners: [
        scanner('Philips', 'Brilliance Big Bore', 'B', 140, 16, 1.4, -10, 5, 'East Cancer Institute'),
      ],
      names: {
        External: 'Skin',
        Lung_L: 'Lung Left',
        Lung_R: 'Lung Right',
        Heart: 'Heart',
        SpinalCanal: 'Canal',
        Esophagus: 'Esophagus',
        Breast_L: 'Breast Left',
        Breast_R: 'Breast Right',
        CTV_Breast_L: 'Breast CTV Left',
        CTV_Breast_R: 'Breast CTV Right',
        CTV_Chestwall_L: 'Chestwall CTV Left',
        CTV_Chestwall_R: 'Chestwall CTV Right',
        CTV_TumorBed_L: 'Boost CTV Left',
        CTV_TumorBed_R: 'Boost CTV Right',
        CTVn_LN_Ax_L1_L: 'Axilla 1 Left',
        CTVn_LN_Ax_L1_R: 'Axilla 1 Right',
        CTVn_LN_Ax_L2_L: 'Axilla 2 Left',
        CTVn_LN_Ax_L2_R: 'Axilla 2 Right',
        CTVn_LN_Ax_L3_L: 'Axilla 3 Left',
        CTVn_LN_Ax_L3_R: 'Axilla 3 Right',
        CTVn_LN_Sclav_L: 'Supraclav Left',
        CTVn_LN_Sclav_R: 'Supraclav Right',
        CTVn_LN_IMN_L: 'Int Mammary Left',
        CTVn_LN_IMN_R: 'Int Mammary Right',
      },
      aiFromMonth: 6,
      protocol: 'ESTRO',
      prescription: HYPOFRACTIONATED,
      physicians: [
        { ...neutral('Dr E Evans'), marginMm: 2, targetMarginMm: 1, smoothness: 0.4, caudalSlices: 1 },
        {
          ...neutral('Dr F Fischer'),
          marginMm: -0.5,
          targetMarginMm: 2.5,
          smoothness: 0.1,
          cranialSlices: -1,
          missedSliceProbability: 0.03,
        },
      ],
    },
  ];
  return Array.from({ length: count }, (_, n) => {
    const profile = all[n % all.length];
    return n < all.length
      ? profile
      : { ...profile, code: `${profile.code}${Math.floor(n / all.length) + 1}` };
  });
}

/** A UID derived from the cohort seed and a name: the same cohort always has the same UIDs. */
function derivedUid(seed: number, name: string): string {
  const digest = createHash('sha256').update(`contourbench-demo:${seed}:${name}`).digest().subarray(0, 16);
  return `2.25.${BigInt(`0x${digest.toString('hex')}`).toString(10)}`;
}

function dicomDate(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '');
}

function imageGrid(dims: Vec3, spacingMm: Vec3, originLps: Vec3, frameOfReferenceUid: string): ImageGrid {
  const slicePositionLps = Array.from({ length: dims[2] }, (_, k): Vec3 => [
    originLps[0],
    originLps[1],
    originLps[2] + k * spacingMm[2],
  ]);
  return {
    dims,
    spacingMm,
    rowLps: [1, 0, 0],
    columnLps: [0, 1, 0],
    normalLps: [0, 0, 1],
    slicePositionLps,
    slicePositionsMm: slicePositionLps.map((p) => p[2]),
    affineIjkToLps: axisAlignedAffine(spacingMm, originLps),
    frameOfReferenceUid,
  };
}

/** In-plane boundary length of a mask (mm): boundary pixels (a 4-neighbour outside) times the pixel size. */
function boundaryLengthMm(data: Uint8Array, dims: Vec3, spacingMm: Vec3): number {
  const [nx, ny, nz] = dims;
  let pixels = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const n = row + i;
        if (data[n] === 0) continue;
        if (
          i === 0 ||
          i === nx - 1 ||
          j === 0 ||
          j === ny - 1 ||
          !data[n - 1] ||
          !data[n + 1] ||
          !data[n - nx] ||
          !data[n + nx]
        )
          pixels++;
      }
    }
  }
  return (pixels * (spacingMm[0] + spacingMm[1])) / 2;
}

const interpreted: Record<string, string> = {
  OAR: 'ORGAN',
  CTV: 'CTV',
  nodal: 'CTV',
  external: 'EXTERNAL',
  other: 'ORGAN',
};

/** One case of the demo cohort before anything is rendered: who, where, when, what anatomy. */
export interface DemoCasePlan {
  site: SiteProfile;
  /** index of the case within its site */
  index: number;
  patientId: string;
  seed: number;
  acquired: Date;
  scanner: ScannerProfile;
  spec: PhantomSpec;
  grid: PhantomGrid;
  /** the first case of each site is the training split the demo models were fitted on */
  split: 'train' | 'test';
  /** the case's own random stream, continued after the draws that made `spec` */
  random: () => number;
}

const DEMO_START = Date.UTC(2025, 5, 2);
const DEMO_SPAN_DAYS = 14 * 30;
const DEMO_DRIFT_FROM = new Date(DEMO_START + 7 * 30 * 86_400_000);

/**
 * Every case of the demo cohort for `options`, in site order, with its anatomy, scanner, date and grid
 * decided (nothing rendered). Deterministic in the options: the model builder and the generator see the
 * same cases.
 */
export function planDemoCohort(options: DemoOptions): DemoCasePlan[] {
  const random = mulberry32(options.seed);
  const plans: DemoCasePlan[] = [];
  for (const site of siteProfiles(options.sites)) {
    for (let n = 0; n < options.casesPerSite; n++) {
      const caseSeed = Math.floor(random() * 2 ** 31);
      const caseRandom = mulberry32(caseSeed);
      const acquired = new Date(
        DEMO_START + Math.floor(((n + caseRandom()) / options.casesPerSite) * DEMO_SPAN_DAYS) * 86_400_000,
      );
      const scanner =
        site.scanners.length > 1 && acquired >= DEMO_DRIFT_FROM ? site.scanners[1] : site.scanners[0];
      const surgery = caseRandom() < 0.7 ? 'breast_conserving' : 'mastectomy';
      const spec: PhantomSpec = {
        seed: caseSeed,
        laterality: caseRandom() < 0.5 ? 'left' : 'right',
        surgery,
        tumourBed: surgery === 'mastectomy' ? 'none' : caseRandom() < 0.5 ? 'clips' : 'seroma',
        nodal: caseRandom() < 0.5,
        size: 0.88 + 0.24 * caseRandom(),
        breathing: caseRandom(),
      };
      plans.push({
        site,
        index: n,
        patientId: `${site.code}-${String(n + 1).padStart(3, '0')}`,
        seed: caseSeed,
        acquired,
        scanner,
        spec,
        grid: defaultPhantomGrid(site.spacingMm, site.fovMm),
        split: n === 0 ? 'train' : 'test',
        random: caseRandom,
      });
    }
  }
  return plans;
}

/** The phantom of a planned case and its CT as the site's scanner renders it (HU, Int16, on the plan's grid). */
export function renderDemoCase(plan: DemoCasePlan): { phantom: Phantom; ct: Volume<Int16Array> } {
  const phantom = generatePhantom(plan.spec, plan.grid);
  const { noiseHu, blurMm, huOffset } = plan.scanner;
  const { dims, spacingMm, originLps } = plan.grid;
  return {
    phantom,
    ct: {
      data: renderCt(phantom, { noiseHu, blurMm, huOffset }, plan.seed + 1),
      dims,
      spacingMm,
      affineIjkToLps: axisAlignedAffine(spacingMm, originLps),
    },
  };
}

/**
 * Generates the demo cohort as real DICOM under `outDir`: per site and case a CT series (CT/), one
 * RTSTRUCT per observer (RS.<observer>.dcm): the truth observer (the phantom's organs as they are) and
 * each site physician's styled contours, with the site's structure names, and the planned dose (RD.dcm,
 * see demoCaseDose). Acquisition dates span 14
 * months; the second site's scanner changes kernel part way through. Writes manifest.json last, so a
 * complete manifest means a complete cohort. Cases are written on `threads` worker threads (one per core
 * by default). Deterministic: the same options give the same files, whatever the number of threads.
 */
export async function generateDemoCohort(
  outDir: string,
  options: DemoOptions,
  onCase?: (done: number, total: number, description: string) => void,
  threads = os.availableParallelism(),
): Promise<DemoManifest> {
  const sites = siteProfiles(options.sites);
  const total = options.sites * options.casesPerSite;
  const manifest: DemoManifest = {
    version: 4,
    options,
    ai: { model: demoAi.model, testCohort: demoAi.testCohort },
    truthObserver,
    driftEvent: {
      site: sites[Math.min(1, sites.length - 1)].code,
      from: dicomDate(DEMO_DRIFT_FROM),
      change: 'reconstruction kernel STANDARD -> LUNG, noise 10 -> 22 HU, HU offset +18',
    },
    aliases: sites.flatMap((site) =>
      Object.entries(site.names)
        .filter(([tg263Name, name]) => {
          const laterality = tg263Name.endsWith('_L') ? 'left' : tg263Name.endsWith('_R') ? 'right' : null;
          return normaliseStructureName(name, { laterality })?.tg263Name !== tg263Name;
        })
        .map(([tg263Name, name]) => ({ site: site.code, name, tg263Name })),
    ),
    cases: [],
  };
  await mkdir(outDir, { recursive: true });
  const plans = planDemoCohort(options);
  let done = 0;
  manifest.cases = await runTasksInThreads<DemoCaseTask, DemoCase>({
    entry: 'demo-thread',
    tasks: plans.map((_, index) => ({ outDir, options, index })),
    threads,
    inline: (task) => generateDemoCase(outDir, options, plans[task.index]!),
    describe: (task) => `demo case ${plans[task.index]!.patientId}`,
    onResult: (_, demoCase) =>
      onCase?.(++done, total, `${demoCase.patientId} (${demoCase.laterality}, ${demoCase.surgery})`),
  });
  await writeFileAtomically(
    path.join(outDir, 'manifest.json'),
    new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`),
  );
  return manifest;
}

/** One case to generate, as sent to a generation thread. */
export interface DemoCaseTask {
  outDir: string;
  options: DemoOptions;
  index: number;
}

/** Dose grid spacing of the demo: 2.5 mm, or the CT's spacing along an axis where the CT is coarser. */
const DEMO_DOSE_SPACING_MM = 2.5;

/**
 * The planned dose of a demo case (core/phantom/breast-dose.ts: tangents, plus a matched nodal field for
 * nodal cases) on a dose grid of 2.5 mm (never finer than the CT), at the prescription of the case's site.
 */
export function demoCaseDose(plan: DemoCasePlan, phantom: Phantom) {
  const [sx, sy, sz] = plan.grid.spacingMm;
  const spacingMm: Vec3 = [
    Math.max(DEMO_DOSE_SPACING_MM, sx),
    Math.max(DEMO_DOSE_SPACING_MM, sy),
    Math.max(DEMO_DOSE_SPACING_MM, sz),
  ];
  return generateBreastDose(phantom, plan.spec, plan.site.prescription, { spacingMm });
}

/**
 * Writes one planned case under `outDir`: its CT series, one RTSTRUCT per observer and the planned dose
 * (RD.dcm, RT Dose on the CT's frame of reference, referring to the case's plan). Returns its manifest
 * entry.
 */
export async function generateDemoCase(
  outDir: string,
  options: DemoOptions,
  plan: DemoCasePlan,
): Promise<DemoCase> {
  const { site, patientId, spec, acquired, random: caseRandom } = plan;
  const caseSeed = plan.seed;
  const profile = plan.scanner;
  const phantomGrid = plan.grid;
  const frameOfReferenceUid = derivedUid(options.seed, `${patientId}:frame`);
  const grid = imageGrid(phantomGrid.dims, phantomGrid.spacingMm, phantomGrid.originLps, frameOfReferenceUid);
  const { phantom, ct } = renderDemoCase(plan);
  const hu = ct.data;
  const folder = path.join(outDir, site.code, patientId);
  const studyInstanceUid = derivedUid(options.seed, `${patientId}:study`);
  const sopInstanceUids = grid.slicePositionLps.map((_, k) =>
    derivedUid(options.seed, `${patientId}:ct:${k}`),
  );
  const date = dicomDate(acquired);
  const patient = { name: `DEMO^${patientId}`, id: patientId, birthDate: '', sex: 'F' };
  const study = {
    instanceUid: studyInstanceUid,
    date,
    time: '093000',
    id: patientId,
    accessionNumber: `A${patientId}`,
    description: 'Breast RT planning CT',
  };
  await writeCtSeries(path.join(folder, 'CT'), {
    grid,
    hu,
    patient,
    study,
    series: {
      instanceUid: derivedUid(options.seed, `${patientId}:ct`),
      number: 1,
      description: 'Planning CT',
      sopInstanceUids,
    },
    scanner: profile.tags,
    acquisitionDate: date,
    acquisitionTime: '093000',
  });
  const observers = [neutral(truthObserver), ...site.physicians];
  const sessions: DemoCase['sessions'] = [];
  const aiEdits: DemoCase['aiEdits'] = [];
  for (const [index, style] of observers.entries()) {
    const rois = phantom.structures.flatMap((structure, roiIndex) => {
      const catalogue = findTg263Structure(structure.tg263Name);
      const category =
        catalogue?.category === 'CTV' || catalogue?.category === 'nodal' || catalogue?.category === 'external'
          ? catalogue.category
          : 'OAR';
      const mask = {
        data: structure.mask,
        dims: grid.dims,
        spacingMm: grid.spacingMm,
        affineIjkToLps: grid.affineIjkToLps,
      };
      const styled =
        style.code === truthObserver
          ? mask
          : applyObserverStyle(mask, category, style, caseSeed + 7919 * (index + 1) + roiIndex);
      if (!styled.data.some((v) => v !== 0)) return [];
      const aiAssisted =
        plan.split === 'test' &&
        site.aiFromMonth !== null &&
        acquired.getTime() >= DEMO_START + site.aiFromMonth * 30 * 86_400_000 &&
        (demoAi.structures as readonly string[]).includes(structure.tg263Name);
      const began =
        acquired.getTime() +
        (index + 1) * 86_400_000 +
        14 * 3_600_000 +
        (sessions.length + aiEdits.length) * 1_200_000;
      if (style.code !== truthObserver && aiAssisted) {
        aiEdits.push({
          observer: style.code,
          tg263Name: structure.tg263Name,
          startedAt: new Date(began).toISOString(),
        });
      } else if (style.code !== truthObserver && catalogue?.category !== 'external') {
        // drawing time grows with the contour length: 20 s a structure plus 0.04 s a mm of boundary on
        // every slice (physicians draw some slices and interpolate the rest), +-25 %
        const lengthMm = boundaryLengthMm(styled.data, grid.dims, grid.spacingMm);
        const activeSeconds = Math.round((20 + 0.04 * lengthMm) * (0.75 + 0.5 * caseRandom()));
        sessions.push({
          observer: style.code,
          tg263Name: structure.tg263Name,
          startedAt: new Date(began).toISOString(),
          endedAt: new Date(began + Math.round(activeSeconds * 1.15) * 1000).toISOString(),
          activeSeconds,
        });
      }
      const name =
        style.code === truthObserver
          ? structure.tg263Name
          : (site.names[structure.tg263Name] ?? structure.tg263Name);
      return [
        {
          number: roiIndex + 1,
          name,
          colourRgb: catalogue?.colourRgb ?? null,
          interpretedType: interpreted[category] ?? 'ORGAN',
          generationAlgorithm: 'MANUAL' as const,
          mask: styled,
        },
      ];
    });
    const code = style.code.replaceAll(' ', '');
    const bytes = writeRtStruct({
      referencedSeries: {
        studyInstanceUid,
        seriesInstanceUid: derivedUid(options.seed, `${patientId}:ct`),
        frameOfReferenceUid,
        sopClassUid: ctImageStorage,
        sopInstanceUids,
        grid,
      },
      patient: {
        patientName: patient.name,
        patientId: patient.id,
        patientBirthDate: '',
        patientSex: 'F',
      },
      study: {
        studyDate: date,
        studyTime: '093000',
        studyId: patientId,
        accessionNumber: study.accessionNumber,
        referringPhysicianName: '',
      },
      structureSet: {
        label: code.slice(0, 16),
        name: `${style.code} ${date}`,
        description: `Contours of ${style.code}`,
      },
      operatorsName: style.code,
      seriesNumber: 100 + index,
      seriesDescription: `Structures ${style.code}`,
      seriesInstanceUid: derivedUid(options.seed, `${patientId}:rs:${code}:series`),
      sopInstanceUid: derivedUid(options.seed, `${patientId}:rs:${code}`),
      createdAt: new Date(acquired.getTime() + (index + 1) * 86_400_000),
      rois,
    });
    await writeFileAtomically(path.join(folder, `RS.${code}.dcm`), bytes);
  }
  const planned = demoCaseDose(plan, phantom);
  await writeFileAtomically(
    path.join(folder, 'RD.dcm'),
    writeRtDose({
      dose: planned.dose,
      frameOfReferenceUid,
      patient: { patientName: patient.name, patientId: patient.id, patientBirthDate: '', patientSex: 'F' },
      study: {
        studyInstanceUid,
        studyDate: date,
        studyTime: '093000',
        studyId: patientId,
        accessionNumber: study.accessionNumber,
        referringPhysicianName: '',
      },
      referencedPlanSopInstanceUid: derivedUid(options.seed, `${patientId}:rp`),
      seriesNumber: 200,
      seriesDescription: `Planned dose ${planned.prescriptionGy} Gy / ${planned.fractions} fx`,
      seriesInstanceUid: derivedUid(options.seed, `${patientId}:rd:series`),
      sopInstanceUid: derivedUid(options.seed, `${patientId}:rd`),
      createdAt: new Date(acquired.getTime() + 7 * 86_400_000),
    }),
  );
  return {
    site: site.code,
    patientId,
    folder: path.relative(outDir, folder),
    seed: caseSeed,
    laterality: spec.laterality,
    surgery: spec.surgery,
    tumourBed: spec.tumourBed,
    nodal: spec.nodal,
    protocol: site.protocol,
    prescriptionGy: planned.prescriptionGy,
    fractions: planned.fractions,
    size: spec.size,
    breathing: spec.breathing,
    spacingMm: site.spacingMm,
    fovMm: site.fovMm,
    acquisitionDate: date,
    sessions,
    aiEdits,
    split: plan.split,
    scanner: `${profile.tags.manufacturer} ${profile.tags.model}`,
    convolutionKernel: profile.tags.convolutionKernel,
    observers: observers.map((o) => o.code),
  };
}

/** The manifest of a complete cohort in `outDir` generated with `options`, or null. */
export async function readDemoManifest(outDir: string, options: DemoOptions): Promise<DemoManifest | null> {
  try {
    const manifest = JSON.parse(await readFile(path.join(outDir, 'manifest.json'), 'utf8')) as DemoManifest;
    const same = manifest.version === 4 && JSON.stringify(manifest.options) === JSON.stringify(options);
    return same ? manifest : null;
  } catch {
    return null;
  }
}
