/**
 * Export of a frozen cohort version as an nnU-Net v2 raw dataset (layout and rules in
 * core/cohorts/nnunet-dataset.ts), as a folder or as a zip streamed case by case.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import {
  NNUNET_CT_CHANNEL_SUFFIX,
  NNUNET_DEFAULT_DATASET_ID,
  NNUNET_FILE_ENDING,
  buildDatasetJson,
  buildExportReport,
  caseIdentifiers,
  caseOverlap,
  createLabelMap,
  datasetFolderName,
  defaultDatasetName,
  numberLabels,
  paintStructure,
  type CaseOverlap,
  type DatasetReference,
  type LabelEntry,
} from '../../core/cohorts/nnunet-dataset';
import { AppError, errorMessage } from '../../core/errors';
import { serializeNifti } from '../../core/volume/nifti';
import { voxelCount, voxelVolumeMm3, type Volume } from '../../core/volume/volume';
import type { Db } from '../db/connection';
import { zipStream, type ZipEntryInput } from '../io/zip-writer';
import {
  findExportCases,
  findExportImages,
  findExportReferences,
  findExportVersion,
  type ExportReferenceRow,
} from '../repositories/dataset-export.repository';
import type { CaseImage } from '../repositories/evaluation.repository';
import type { BlobStore } from '../storage/blob-store';
import { caseGrid, loadCaseVolume } from './evaluation.service';

const gzipAsync = promisify(gzip);
/**
 * Fixed gzip levels (zlib writes mtime 0) keep the files byte-identical from one export to the next. CT
 * noise barely compresses beyond level 1 (a 510x510x106 phantom CT: 28.0 MB at level 1 in 0.8 s, 27.3 MB at
 * level 6 in 1.8 s); label maps halve from level 1 to 6 at a small cost (448 kB to 229 kB, 24 to 162 ms).
 */
const GZIP_LEVEL_IMAGE = 1;
const GZIP_LEVEL_LABELS = 6;
/** RFC 1952 OS field "unknown", so the header does not depend on the platform that wrote it. */
const GZIP_OS_UNKNOWN = 255;

export interface DatasetExportInput {
  cohort: string;
  version: number;
  /** 1..999, default 501 */
  datasetId?: number;
  /** dataset name after `Dataset<ID>_`; default: the cohort name's letters and digits and `_v<version>` */
  name?: string;
  /** TG-263 names; default: every structure that has a reference in the version */
  structures?: string[];
  /** default true; false leaves out structures of category external (the body outline) */
  includeExternal?: boolean;
}

export interface DatasetExportSummary {
  /** the dataset folder written (absolute), or for a zip the folder inside the archive */
  folder: string;
  cases: number;
  labels: Array<{ value: number; structure: string }>;
  /** files written, dataset.json and export_report.json included */
  files: number;
  /** bytes written: the files' sizes, or the size of the zip archive */
  bytes: number;
  /** cases (by pseudonym) without a reference for a chosen structure: background in their label maps */
  missing: Array<{ case: string; structure: string }>;
}

export interface DatasetExportDeps {
  db: Db;
  blobs: BlobStore;
}

interface PlannedCase {
  caseId: number;
  pseudonym: string;
  site: string;
  identifier: string;
  image: CaseImage;
  /** the chosen structures' references, by TG-263 name */
  references: Map<string, ExportReferenceRow>;
  missing: string[];
}

interface ExportPlan {
  folder: string;
  labels: LabelEntry[];
  cases: PlannedCase[];
  datasetJson: ReturnType<typeof buildDatasetJson>;
  missing: DatasetExportSummary['missing'];
}

function sortedText(values: Iterable<string>): string[] {
  return [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Everything an export needs, checked before a byte is written: the version, structures, CT of each case. */
async function planExport(deps: DatasetExportDeps, input: DatasetExportInput): Promise<ExportPlan> {
  const { db, blobs } = deps;
  if (typeof input.cohort !== 'string' || input.cohort.trim() === '')
    throw new AppError('INVALID_ARGUMENT', 'name the cohort to export');
  if (!Number.isInteger(input.version) || input.version < 1)
    throw new AppError('INVALID_ARGUMENT', `version ${input.version}: expected a whole number from 1`);
  const name = input.name ?? defaultDatasetName(input.cohort, input.version);
  const folder = datasetFolderName(input.datasetId ?? NNUNET_DEFAULT_DATASET_ID, name);

  const found = await findExportVersion(db, input.cohort, input.version);
  if (!found.cohort) throw new AppError('NOT_FOUND', `no cohort named "${input.cohort}"`);
  const version = found.version;
  if (version === undefined)
    throw new AppError(
      'NOT_FOUND',
      `cohort "${input.cohort}" has no version ${input.version}` +
        (found.versions.length
          ? ` (its versions: ${found.versions.join(', ')})`
          : ' (it has no frozen version yet: contourbench cohort freeze)'),
    );
  const label = `cohort "${input.cohort}" version ${input.version}`;

  const [caseRows, references] = await Promise.all([
    findExportCases(db, version.versionId),
    findExportReferences(db, version.versionId),
  ]);
  const categories = new Map(references.map((r) => [r.structure, r.category]));
  const available = sortedText(categories.keys());
  const includeExternal = input.includeExternal ?? true;
  let chosen: string[];
  if (input.structures?.length) {
    const asked = [...new Set(input.structures)];
    const unknown = asked.filter((s) => !categories.has(s));
    if (unknown.length)
      throw new AppError(
        'INVALID_ARGUMENT',
        `${label} has no reference for ${unknown.join(', ')}; its structures: ${available.join(', ') || 'none'}`,
      );
    const external = asked.filter((s) => categories.get(s) === 'external');
    if (!includeExternal && external.length)
      throw new AppError(
        'INVALID_ARGUMENT',
        `${external.join(', ')} is the external outline, which the export was asked to leave out`,
      );
    chosen = asked;
  } else {
    chosen = available.filter((s) => includeExternal || categories.get(s) !== 'external');
  }
  if (chosen.length === 0)
    throw new AppError(
      'INVALID_ARGUMENT',
      available.length
        ? `${label}: no structure left to export (its structures: ${available.join(', ')})`
        : `${label} has no reference contours to export`,
    );
  const chosenSet = new Set(chosen);

  const images = await findExportImages(
    db,
    caseRows.map((c) => c.caseId),
  );
  const imagesByCase = new Map<number, CaseImage[]>();
  for (const image of images) {
    if (!imagesByCase.has(image.caseId)) imagesByCase.set(image.caseId, []);
    imagesByCase.get(image.caseId)!.push(image);
  }
  const referencesByCase = new Map<number, Map<string, ExportReferenceRow>>();
  for (const r of references) {
    if (!chosenSet.has(r.structure)) continue;
    if (!referencesByCase.has(r.caseId)) referencesByCase.set(r.caseId, new Map());
    referencesByCase.get(r.caseId)!.set(r.structure, r);
  }

  const problems: string[] = [];
  const identified = caseIdentifiers(name, caseRows);
  const cases: PlannedCase[] = [];
  for (const c of identified) {
    const refs = referencesByCase.get(c.caseId) ?? new Map<string, ExportReferenceRow>();
    const ct = imagesByCase.get(c.caseId) ?? [];
    const seriesIds = new Set([...refs.values()].map((r) => r.imageSeriesId).filter((id) => id !== null));
    let image: CaseImage | undefined;
    if (seriesIds.size > 1) {
      problems.push(`case ${c.pseudonym}: its references lie on ${seriesIds.size} different image series`);
      continue;
    }
    if (seriesIds.size === 1) {
      const [seriesId] = seriesIds;
      image = ct.find((i) => i.seriesId === seriesId);
      if (!image)
        problems.push(`case ${c.pseudonym}: image series ${seriesId} of its references has no stored CT`);
    } else {
      image = ct[0];
      if (!image) problems.push(`case ${c.pseudonym}: no stored CT volume`);
    }
    if (!image) continue;
    cases.push({
      ...c,
      image,
      references: refs,
      missing: chosen.filter((s) => !refs.has(s)).sort(),
    });
  }
  if (problems.length)
    throw new AppError('INVALID_INPUT', `${label} cannot be exported:\n  ${problems.join('\n  ')}`);

  // Label order: the cohort's median reference volume. A contour row that no longer holds the frozen
  // mask (re-imported since) gives no stored volume: its mask is measured instead.
  const volumes = new Map<string, number[]>(chosen.map((s) => [s, []]));
  for (const c of cases)
    for (const r of c.references.values()) {
      let volumeCc = r.volumeCc;
      if (volumeCc === null) {
        const mask = await readMask(blobs, c, r);
        let inside = 0;
        for (let n = 0; n < mask.length; n++) if (mask[n] !== 0) inside++;
        volumeCc = (inside * voxelVolumeMm3(c.image.spacingMm)) / 1000;
      }
      volumes.get(r.structure)!.push(volumeCc);
    }
  const labels = numberLabels(chosen.map((structure) => ({ structure, volumesCc: volumes.get(structure)! })));

  const datasetJson = buildDatasetJson({
    folder,
    cohort: {
      name: input.cohort,
      version: version.version,
      contentSha256: version.contentSha256,
      referencePolicy: version.policy,
      frozenAt: version.frozenAt.toISOString(),
      note: version.note,
    },
    labels,
    excluded: available.filter((s) => !chosenSet.has(s)),
    cases: cases.map((c) => ({
      caseId: c.caseId,
      pseudonym: c.pseudonym,
      site: c.site,
      identifier: c.identifier,
      ctSha256: c.image.volumeBlobSha256,
      references: labels
        .filter((l) => c.references.has(l.structure))
        .map((l): DatasetReference => {
          const r = c.references.get(l.structure)!;
          return { structure: r.structure, contourSetId: r.contourSetId, maskSha256: r.maskSha256 };
        }),
      missing: c.missing,
    })),
    exportedAt: new Date().toISOString(),
  });
  return {
    folder,
    labels,
    cases,
    datasetJson,
    missing: cases.flatMap((c) => c.missing.map((structure) => ({ case: c.pseudonym, structure }))),
  };
}

/** A reference mask, checked to lie on the case's CT grid. */
async function readMask(blobs: BlobStore, c: PlannedCase, r: ExportReferenceRow): Promise<Uint8Array> {
  const mask = await blobs.get(r.maskSha256);
  const voxels = voxelCount(caseGrid(c.image).dims);
  if (mask.length !== voxels)
    throw new AppError(
      'INVALID_INPUT',
      `case ${c.pseudonym} ${r.structure}: mask ${r.maskSha256.slice(0, 12)}… has ${mask.length} voxels, ` +
        `its CT grid ${c.image.dims.join('x')} = ${voxels}`,
    );
  return mask;
}

/** The CT in HU as int16; float volumes are rounded to the nearest HU and clamped to the int16 range. */
function ctAsInt16(volume: Volume): Int16Array {
  if (volume.data instanceof Int16Array) return volume.data;
  const source = volume.data;
  const out = new Int16Array(source.length);
  for (let n = 0; n < source.length; n++) {
    const v = Math.round(source[n]!);
    out[n] = v > 32767 ? 32767 : v < -32768 ? -32768 : v === v ? v : -1024;
  }
  return out;
}

async function gzipDeterministic(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  const out = await gzipAsync(bytes, { level });
  out[9] = GZIP_OS_UNKNOWN;
  return out;
}

const json = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);

/**
 * The dataset's files in order: dataset.json, then each case's image and label map (one case in memory
 * at a time), then export_report.json. Paths are relative to the dataset folder.
 */
async function* datasetFiles(
  blobs: BlobStore,
  plan: ExportPlan,
  overlaps: CaseOverlap[],
): AsyncGenerator<ZipEntryInput> {
  yield { name: 'dataset.json', data: json(plan.datasetJson) };
  for (const c of plan.cases) {
    const grid = caseGrid(c.image);
    const ct = await loadCaseVolume(blobs, c.image);
    // The CT compresses on the thread pool while the label map is painted here.
    const image = gzipDeterministic(
      serializeNifti({ ...grid, data: ctAsInt16(ct) }, { description: 'CT HU' }),
      GZIP_LEVEL_IMAGE,
    );
    image.catch(() => {});
    const labelMap = createLabelMap(plan.labels.length, voxelCount(grid.dims));
    const lostByLabel: number[] = [];
    const referenceVoxels = new Map<string, number>();
    for (const l of plan.labels) {
      const r = c.references.get(l.structure);
      if (!r) continue;
      const mask = await readMask(blobs, c, r);
      referenceVoxels.set(l.structure, paintStructure(labelMap, l.value, mask, lostByLabel));
    }
    const labels = await gzipDeterministic(
      serializeNifti({ ...grid, data: labelMap }, { description: 'labels' }),
      GZIP_LEVEL_LABELS,
    );
    yield {
      name: `imagesTr/${c.identifier}${NNUNET_CT_CHANNEL_SUFFIX}${NNUNET_FILE_ENDING}`,
      data: await image,
    };
    yield { name: `labelsTr/${c.identifier}${NNUNET_FILE_ENDING}`, data: labels };
    overlaps.push(caseOverlap(c.identifier, plan.labels, referenceVoxels, lostByLabel, c.missing));
  }
  yield { name: 'export_report.json', data: json(buildExportReport(plan.folder, plan.labels, overlaps)) };
}

function summaryOf(plan: ExportPlan, folder: string, files: number, bytes: number): DatasetExportSummary {
  return {
    folder,
    cases: plan.cases.length,
    labels: plan.labels.map((l) => ({ value: l.value, structure: l.structure })),
    files,
    bytes,
    missing: plan.missing,
  };
}

function exists(target: string): Promise<boolean> {
  return stat(target).then(
    () => true,
    () => false,
  );
}

function writeError(target: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const full = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG';
  return new AppError(
    full ? 'STORAGE_FULL' : 'INVALID_INPUT',
    `${target}: cannot write (${errorMessage(error)})`,
    {
      cause: error,
    },
  );
}

async function writeSynced(file: string, data: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the version as `<outDir>/Dataset<ID>_<Name>/` (outDir is created when missing). Everything is
 * checked first (NOT_FOUND for an unknown cohort or version, INVALID_ARGUMENT for structures the version
 * has no reference for, CONFLICT when the dataset folder exists); the files go to a temporary folder
 * beside it, renamed into place at the end, and on any error nothing is left behind.
 */
export async function exportNnunetDirectory(
  deps: DatasetExportDeps,
  input: DatasetExportInput,
  outDir: string,
): Promise<DatasetExportSummary> {
  const plan = await planExport(deps, input);
  const parent = path.resolve(outDir);
  const target = path.join(parent, plan.folder);
  if (await exists(target))
    throw new AppError(
      'CONFLICT',
      `${target} exists already; remove it or choose another --out or dataset id`,
    );
  let created: string | undefined;
  try {
    created = await mkdir(parent, { recursive: true });
  } catch (error) {
    throw writeError(parent, error);
  }
  const temporary = path.join(parent, `.${plan.folder}.${randomUUID()}.partial`);
  let files = 0;
  let bytes = 0;
  try {
    await mkdir(path.join(temporary, 'imagesTr'), { recursive: true });
    await mkdir(path.join(temporary, 'labelsTr'));
    for await (const file of datasetFiles(deps.blobs, plan, [])) {
      const at = path.join(temporary, file.name);
      try {
        await writeSynced(at, file.data);
      } catch (error) {
        throw writeError(path.join(target, file.name), error);
      }
      files++;
      bytes += file.data.length;
    }
    if (await exists(target)) throw new AppError('CONFLICT', `${target} appeared during the export`);
    await rename(temporary, target).catch((error: unknown) => {
      throw writeError(target, error);
    });
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw error;
  }
  return summaryOf(plan, target, files, bytes);
}

/**
 * The version as a zip of `Dataset<ID>_<Name>/...`, streamed case by case as the body is read. Validation
 * errors (as for the folder export) are thrown before the body exists; an error while streaming errors the
 * body and rejects `summary`, which otherwise resolves when the last byte has been queued.
 */
export async function exportNnunetZip(
  deps: DatasetExportDeps,
  input: DatasetExportInput,
): Promise<{ fileName: string; summary: Promise<DatasetExportSummary>; body: ReadableStream<Uint8Array> }> {
  const plan = await planExport(deps, input);
  async function* entries(): AsyncGenerator<ZipEntryInput> {
    for await (const file of datasetFiles(deps.blobs, plan, []))
      yield { name: `${plan.folder}/${file.name}`, data: file.data };
  }
  const { stream, finished } = zipStream(entries());
  const summary = finished.then((zip) => summaryOf(plan, plan.folder, zip.entries, zip.bytes));
  summary.catch(() => {});
  return { fileName: `${plan.folder}.zip`, summary, body: stream };
}
