import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { binaryMaskSummary, boxToIjk } from '../../core/volume/crop';
import os from 'node:os';
import path from 'node:path';
import { AppError, errorMessage, isAppError } from '../../core/errors';
import { rasteriseRoi } from '../../core/contours/rasterise';
import type { StructureSet } from '../../core/contours/structure-set';
import { findTg263Structure, structureReport, TG263_STRUCTURES } from '../../core/structures/tg263';
import type { Db } from '../db/connection';
import type { CaseLaterality, SurgeryType } from '../db/schema';
import { buildImageSeries, scanDicomFolder, type CtSeries, type ParsedDicom } from '../io/ct-series';
import { getString, tags } from '../io/dicom/parser';
import { readRtDose, readRtPlanPrescription, type RtDose } from '../io/rtdose';
import { readStructureSet } from '../io/rtstruct';
import { limitBody } from '../io/body-limit';
import { extractZip, looksLikeZip } from '../io/zip';
import type { Logger } from '../logger';
import { upsertBlob } from '../repositories/blob.repository';
import { countCases, upsertCase, upsertImageSeries } from '../repositories/case.repository';
import { addCaseToCohort, ensureCohort } from '../repositories/cohort.repository';
import { upsertDoseGrid } from '../repositories/dose.repository';
import {
  insertUidMappings,
  upsertContour,
  upsertPhysicianContourSet,
} from '../repositories/contour.repository';
import { ensureObserver } from '../repositories/observer.repository';
import { ensureSite, setPseudonymKeyIfMissing, type Site } from '../repositories/site.repository';
import { ensureStructures, listStructureAliases } from '../repositories/structure.repository';
import type { BlobStore } from '../storage/blob-store';
import { newPseudonymKey, patientKey, patientPseudonym, pseudonymousUid } from './pseudonym';

export interface ImportOptions {
  siteCode: string;
  /** Code of the physician whose contours these are; default: each structure set's Operators' Name, else 'unknown'. */
  observerCode?: string;
  cohortName?: string;
  laterality?: CaseLaterality;
  surgeryType?: SurgeryType;
  protocol?: string;
  /**
   * Prescription of the RTDOSEs in this import whose RT Plan is not in it or does not state one (the
   * RTDOSE itself carries none); without it such a dose is stored with no prescription.
   */
  prescription?: { prescriptionGy: number; fractions: number };
}

export interface ImportedRoi {
  roi: string;
  tg263Name: string;
  rule: string;
  voxels: number;
  volumeCc: number;
}

export interface ImportedStructureSet {
  file: string;
  label: string;
  contourSetId: number;
  rois: ImportedRoi[];
  unmapped: string[];
  /** ROIs mapped to a TG-263 name another ROI of the set already took; the first one is kept. */
  duplicates: Array<{ tg263Name: string; names: string[] }>;
  /** Contours placed on no slice or not closed, per ROI. */
  skippedContours: Array<{ roi: string; offGrid: number; openOrPoint: number }>;
}

export interface ImportedDose {
  file: string;
  doseGridId: number;
  dims: [number, number, number];
  spacingMm: [number, number, number];
  doseType: RtDose['doseType'];
  summationType: RtDose['summationType'];
  maxGy: number;
  prescriptionGy: number | null;
  fractions: number | null;
  /** where the prescription came from: the referenced RT Plan, the import option, or nowhere */
  prescriptionFrom: 'plan' | 'import option' | null;
}

export interface ImportedStudy {
  caseId: number;
  pseudonym: string;
  seriesId: number;
  slices: number;
  structureSets: ImportedStructureSet[];
  /** RTDOSEs on the series' frame of reference, stored with the case */
  doses: ImportedDose[];
  warnings: string[];
}

export interface ImportReport {
  files: number;
  bytesRead: number;
  rejected: Array<{ path: string; reason: string }>;
  /** DICOM objects of modalities not imported (RT Plans are read only for the prescription of a dose). */
  ignored: Array<{ path: string; modality: string }>;
  studies: ImportedStudy[];
  /** Series, structure sets or doses that could not be imported, with the reason (nothing of them is stored). */
  failed: Array<{ what: string; reason: string }>;
  casesAtSite: number;
}

/** A DICOM date (YYYYMMDD) as YYYY-MM-DD when it is a calendar date from year 1 on, else null. */
function isoDate(dicomDate: string | null): string | null {
  if (!dicomDate || !/^\d{8}$/.test(dicomDate) || dicomDate.startsWith('0000')) return null;
  const iso = `${dicomDate.slice(0, 4)}-${dicomDate.slice(4, 6)}-${dicomDate.slice(6, 8)}`;
  const time = Date.parse(`${iso}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().startsWith(iso) ? iso : null;
}

/** rasteriseRoi, with the structure set's file named in its errors. */
function rasteriseIn(file: string, roi: StructureSet['rois'][number], grid: CtSeries['grid']) {
  try {
    return rasteriseRoi(roi, grid);
  } catch (error) {
    if (isAppError(error)) throw new AppError(error.code, `${file}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The deepest folder holding every one of `paths`, to name a series in messages. */
function commonFolder(paths: readonly string[]): string {
  let folder = path.dirname(paths[0] ?? '.');
  while (!paths.every((p) => p.startsWith(`${folder}${path.sep}`)) && folder !== path.dirname(folder)) {
    folder = path.dirname(folder);
  }
  return folder;
}

/** Mean, standard deviation and 5th/50th/95th percentiles of HU inside a mask (integer histogram). */
function huStatistics(series: CtSeries, mask: Uint8Array) {
  const data = series.volume.data;
  const offset = 32768;
  const histogram = new Float64Array(65536);
  let count = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let n = 0; n < mask.length; n++) {
    if (mask[n] === 0) continue;
    const hu = Math.max(-32768, Math.min(32767, Math.round(data[n])));
    histogram[hu + offset]++;
    count++;
    sum += hu;
    sumSquares += hu * hu;
  }
  if (count === 0) return null;
  const percentile = (fraction: number) => {
    const rank = Math.ceil(fraction * count);
    let seen = 0;
    for (let v = 0; v < histogram.length; v++) {
      seen += histogram[v];
      if (seen >= rank) return v - offset;
    }
    return 32767;
  };
  const mean = sum / count;
  return {
    mean,
    std: Math.sqrt(Math.max(0, sumSquares / count - mean * mean)),
    p05: percentile(0.05),
    p50: percentile(0.5),
    p95: percentile(0.95),
  };
}

interface PreparedRoi extends ImportedRoi {
  roiNumber: number;
  colourRgb: string | null;
  maskSha256: string;
  storedSizeBytes: number;
  sizeBytes: number;
  bboxIjk: number[] | null;
}

/** Replaces a temporary path in every file name and message of a report. */
function renameReportPaths(report: ImportReport, from: string, to: string): void {
  const rename = (text: string) => text.split(from).join(to);
  report.rejected = report.rejected.map((r) => ({ path: rename(r.path), reason: rename(r.reason) }));
  report.ignored = report.ignored.map((r) => ({ ...r, path: rename(r.path) }));
  report.failed = report.failed.map((f) => ({ what: rename(f.what), reason: rename(f.reason) }));
  for (const study of report.studies) {
    for (const set of study.structureSets) set.file = rename(set.file);
    for (const dose of study.doses) dose.file = rename(dose.file);
    study.warnings = study.warnings.map(rename);
  }
}

/** An RTDOSE of the import, read once to check it; its voxels are read again when its series is stored. */
interface DoseCandidate {
  path: string;
  frameOfReferenceUid: string;
}

/** The Frame of Reference UID of a file, or undefined when it has none that can be read. */
function frameOfReference(parsed: ParsedDicom): string | undefined {
  try {
    return getString(parsed.file.dataset, tags.frameOfReferenceUid);
  } catch {
    return undefined;
  }
}

/** Reads a DICOM file of the scan again (the scan keeps only what it needed of other modalities). */
async function readScanned(filePath: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(filePath));
  } catch (error) {
    throw new AppError('INVALID_INPUT', `${filePath}: cannot read (${errorMessage(error)})`, {
      cause: error,
    });
  }
}

/**
 * Imports a DICOM folder, file or zip archive: each CT series with the RTSTRUCTs and RTDOSEs on its frame
 * of reference becomes a case, an image series, one physician contour set per RTSTRUCT and one dose grid
 * per RTDOSE, de-identified on the way in (patient pseudonym per site, UIDs remapped, names and IDs not
 * stored). A dose's prescription comes from the RT Plan it refers to when that is in the import, else from
 * `options.prescription`, else it is unknown. Each series is written in one transaction after everything
 * is computed; a failing series, structure set or dose stores nothing of itself and is listed in `failed`
 * (an RTDOSE on a frame of reference no series has is refused; the case imports without it). Importing
 * the same objects again changes nothing.
 */
export async function importDicom(
  db: Db,
  blobs: BlobStore,
  root: string,
  options: ImportOptions,
  logger?: Logger,
): Promise<ImportReport> {
  if (root.toLowerCase().endsWith('.zip')) {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'contourbench-zip-'));
    try {
      await extractZip(root, folder);
      const report = await importDicomFolder(db, blobs, folder, options, logger);
      // name files inside the archive as archive/entry, not by the temporary folder
      renameReportPaths(report, folder, root);
      return report;
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }
  return importDicomFolder(db, blobs, root, options, logger);
}

async function importDicomFolder(
  db: Db,
  blobs: BlobStore,
  root: string,
  options: ImportOptions,
  logger?: Logger,
): Promise<ImportReport> {
  const scan = await scanDicomFolder(root);
  const site = await ensureSite(db, options.siteCode);
  const key = site.pseudonymKey ?? (await setPseudonymKeyIfMissing(db, site.id, newPseudonymKey()));
  const report: ImportReport = {
    files:
      scan.rejected.length +
      scan.ignored.length +
      scan.rtStructs.length +
      [...scan.imageSeries.values()].reduce((n, list) => n + list.length, 0),
    bytesRead: scan.bytesRead,
    rejected: scan.rejected,
    ignored: scan.ignored.filter((object) => object.modality !== 'RTDOSE'),
    studies: [],
    failed: [],
    casesAtSite: 0,
  };

  const structureSets: Array<{ path: string; set: StructureSet }> = [];
  for (const parsed of scan.rtStructs) {
    try {
      structureSets.push({ path: parsed.path, set: readStructureSet(parsed.file) });
    } catch (error) {
      report.failed.push({ what: parsed.path, reason: errorMessage(error) });
    }
  }
  // every RTDOSE is read in full here, so a bad one is reported whether or not its series imports
  const doses: DoseCandidate[] = [];
  for (const object of scan.ignored.filter((o) => o.modality === 'RTDOSE')) {
    try {
      const dose = readRtDose(await readScanned(object.path), object.path);
      doses.push({ path: object.path, frameOfReferenceUid: dose.frameOfReferenceUid });
    } catch (error) {
      report.failed.push({ what: object.path, reason: errorMessage(error) });
    }
  }
  // RT Plans state the prescription of the doses that refer to them
  const plans = new Map<string, { prescriptionGy: number | null; fractions: number | null }>();
  if (doses.length > 0) {
    for (const object of scan.ignored.filter((o) => o.modality === 'RTPLAN')) {
      try {
        const plan = readRtPlanPrescription(await readScanned(object.path), object.path);
        plans.set(plan.sopInstanceUid, plan);
      } catch {
        // a plan that cannot be read only leaves its doses without a prescription
      }
    }
  }
  const used = new Set<string>();
  const context: ImportContext = {
    site,
    key,
    aliases: await listStructureAliases(db, site.id),
    structureIds: await ensureStructures(db, TG263_STRUCTURES),
    options,
    root,
    doses,
    plans,
    usedDoses: new Set<string>(),
  };

  for (const [seriesUid, files] of scan.imageSeries) {
    const what = `series ${seriesUid} (${files.length} files in ${commonFolder(files.map((f) => f.path))})`;
    try {
      const { failedDoses, ...study } = await importSeries(db, blobs, files, structureSets, used, context);
      report.studies.push(study);
      report.failed.push(...failedDoses);
      logger?.info(
        { case: study.pseudonym, structureSets: study.structureSets.length, doses: study.doses.length },
        'imported a study',
      );
    } catch (error) {
      report.failed.push({ what, reason: errorMessage(error) });
      // the doses on this series' frame of reference go with it
      const frame = frameOfReference(files[0]!);
      for (const dose of doses) {
        if (dose.frameOfReferenceUid !== frame || context.usedDoses.has(dose.path)) continue;
        context.usedDoses.add(dose.path);
        report.failed.push({
          what: dose.path,
          reason: `${dose.path}: the image series on its frame of reference (${what}) was not imported`,
        });
      }
    }
  }

  for (const { path: setPath, set } of structureSets) {
    if (!used.has(setPath)) {
      report.failed.push({
        what: setPath,
        reason: `no image series on its frame of reference ${set.frameOfReferenceUid} was found with it`,
      });
    }
  }
  for (const dose of doses) {
    if (!context.usedDoses.has(dose.path)) {
      report.failed.push({
        what: dose.path,
        reason: `${dose.path}: the dose is on frame of reference ${dose.frameOfReferenceUid}, and no image series on it was found with it`,
      });
    }
  }
  report.casesAtSite = await countCases(db, site.id);
  return report;
}

interface ImportContext {
  site: Site;
  key: string;
  aliases: Map<string, string>;
  structureIds: Map<string, number>;
  options: ImportOptions;
  root: string;
  /** RTDOSEs of the import that read without error */
  doses: DoseCandidate[];
  /** prescriptions of the RT Plans of the import, by SOP Instance UID */
  plans: Map<string, { prescriptionGy: number | null; fractions: number | null }>;
  /** doses taken by a series (stored with it, or failed with it) */
  usedDoses: Set<string>;
}

interface PreparedDose {
  result: ImportedDose;
  dose: RtDose;
  blob: { sha256: string; sizeBytes: number; storedSizeBytes: number };
}

/**
 * One series with the structure sets on its frame of reference: everything is computed and its blobs
 * stored first, then its rows are written in one transaction. Throws (storing no rows) when the series
 * cannot be built or the transaction fails.
 */
async function importSeries(
  db: Db,
  blobs: BlobStore,
  files: ParsedDicom[],
  structureSets: Array<{ path: string; set: StructureSet }>,
  used: Set<string>,
  context: ImportContext,
): Promise<ImportedStudy & { failedDoses: ImportReport['failed'] }> {
  const { site, key, aliases, structureIds, options, root } = context;
  const series = buildImageSeries(files);
  const acquisitionDate = series.metadata.acquisitionDate ?? series.metadata.studyDate;
  const warnings = [...series.warnings];
  if (acquisitionDate !== null && isoDate(acquisitionDate) === null) {
    warnings.push(
      `${files[0]!.path}: acquisition date "${acquisitionDate}" is not a calendar date; the case has none`,
    );
  }
  const sets = structureSets.filter((s) => s.set.frameOfReferenceUid === series.grid.frameOfReferenceUid);
  sets.forEach((s) => used.add(s.path));
  const treatedSide =
    options.laterality === 'left' || options.laterality === 'right' ? options.laterality : null;
  const pseudo = (uid: string) => pseudonymousUid(key, uid);
  const patientId = series.metadata.patientId || series.studyInstanceUid;
  const pseudonym = patientPseudonym(key, site.code, patientId);

  // everything heavy happens before the transaction: rasterising, hashing, storing blobs
  const volumeBytes = new Uint8Array(
    series.volume.data.buffer,
    series.volume.data.byteOffset,
    series.volume.data.byteLength,
  );
  const volumeBlob = await blobs.put(volumeBytes);
  const preparedSets: Array<{
    path: string;
    set: StructureSet;
    rois: PreparedRoi[];
    result: ImportedStructureSet;
  }> = [];
  let bodyMask: Uint8Array | null = null;
  for (const { path: setPath, set } of sets) {
    const names = structureReport(
      set.rois.map((roi) => ({ name: roi.name, interpretedType: roi.interpretedType })),
      { laterality: treatedSide, aliases },
    );
    const result: ImportedStructureSet = {
      file: setPath,
      label: set.label,
      contourSetId: 0,
      rois: [],
      unmapped: names.unmapped,
      duplicates: names.duplicates,
      skippedContours: [],
    };
    const rois: PreparedRoi[] = [];
    const taken = new Set<string>();
    for (const mapped of names.mapped) {
      if (taken.has(mapped.tg263Name)) continue;
      taken.add(mapped.tg263Name);
      const roi = set.rois.find((r) => r.name === mapped.name)!;
      const { mask, report: rasterised } = rasteriseIn(setPath, roi, series.grid);
      if (rasterised.skippedOffGrid.length > 0 || rasterised.skippedType > 0) {
        result.skippedContours.push({
          roi: roi.name,
          offGrid: rasterised.skippedOffGrid.length,
          openOrPoint: rasterised.skippedType,
        });
      }
      const { voxels, box } = binaryMaskSummary(mask.data, series.grid.dims);
      if (mapped.tg263Name === 'External' && bodyMask === null) bodyMask = mask.data;
      const stored = await blobs.put(mask.data);
      const [sx, sy, sz] = series.grid.spacingMm;
      rois.push({
        roi: roi.name,
        tg263Name: mapped.tg263Name,
        rule: mapped.rule,
        voxels,
        volumeCc: (voxels * sx * sy * sz) / 1000,
        roiNumber: roi.number,
        colourRgb: roi.colourRgb,
        maskSha256: stored.sha256,
        storedSizeBytes: stored.storedSizeBytes,
        sizeBytes: stored.sizeBytes,
        bboxIjk: boxToIjk(box),
      });
    }
    result.rois = rois.map(({ roi, tg263Name, rule, voxels, volumeCc }) => ({
      roi,
      tg263Name,
      rule,
      voxels,
      volumeCc,
    }));
    preparedSets.push({ path: setPath, set, rois, result });
  }
  const hu = bodyMask ? huStatistics(series, bodyMask) : null;
  const { doses: preparedDoses, failed: failedDoses } = await prepareDoses(blobs, series, context, warnings);

  return db.transaction().execute(async (trx) => {
    await upsertBlob(trx, { ...volumeBlob, mediaType: 'application/x-contourbench-volume-int16' });
    const caseId = await upsertCase(trx, {
      siteId: site.id,
      pseudonym,
      patientKeySha256: patientKey(key, patientId),
      acquisitionDate: isoDate(acquisitionDate),
      laterality: options.laterality ?? null,
      surgeryType: options.surgeryType ?? null,
      protocol: options.protocol ?? null,
      manufacturer: series.metadata.manufacturer,
      scannerModel: series.metadata.scannerModel,
      convolutionKernel: series.metadata.convolutionKernel,
      kvp: series.metadata.kvp,
      sliceThicknessMm: series.metadata.sliceThicknessMm,
      pixelSpacingMm: series.grid.spacingMm[0],
      huMean: hu?.mean ?? null,
      huStd: hu?.std ?? null,
      huP05: hu?.p05 ?? null,
      huP50: hu?.p50 ?? null,
      huP95: hu?.p95 ?? null,
    });
    const g = series.grid;
    const seriesId = await upsertImageSeries(trx, {
      caseId,
      seriesInstanceUid: pseudo(series.seriesInstanceUid),
      studyInstanceUid: pseudo(series.studyInstanceUid),
      frameOfReferenceUid: pseudo(g.frameOfReferenceUid),
      sopClassUid: series.sopClassUid,
      modality: series.metadata.modality,
      description: series.metadata.seriesDescription ?? '',
      dims: [...g.dims],
      spacingMm: [...g.spacingMm],
      originLpsMm: [...g.slicePositionLps[0]],
      directionLps: [g.rowLps, g.columnLps, g.normalLps].flatMap((axis) => [...axis]),
      slicePositionsMm: g.slicePositionsMm,
      sliceOriginsLpsMm: g.slicePositionLps.flatMap((p) => [...p]),
      sopInstanceUids: series.sopInstanceUids.map(pseudo),
      volumeBlobSha256: volumeBlob.sha256,
    });
    if (site.keepUidMap) {
      const originals = [
        series.seriesInstanceUid,
        series.studyInstanceUid,
        g.frameOfReferenceUid,
        ...series.sopInstanceUids,
        ...preparedDoses.map((p) => p.dose.sopInstanceUid),
      ];
      await insertUidMappings(
        trx,
        site.id,
        [...originals, ...preparedSets.map((p) => p.set.sopInstanceUid)].map((uid) => ({
          pseudonymousUid: pseudo(uid),
          originalUid: uid,
        })),
      );
    }
    for (const prepared of preparedSets) {
      // the physician: given on the command line, else the structure set's operator, else unknown
      const operator = prepared.set.operatorsName?.replaceAll('^', ' ').trim().slice(0, 64);
      const observerCode = options.observerCode ?? (operator || 'unknown');
      const observerId = await ensureObserver(trx, site.id, observerCode);
      const contourSetId = await upsertPhysicianContourSet(trx, {
        caseId,
        imageSeriesId: seriesId,
        observerId,
        label: prepared.set.label,
        sopInstanceUid: pseudo(prepared.set.sopInstanceUid),
        unmappedRoiNames: prepared.result.unmapped,
      });
      prepared.result.contourSetId = contourSetId;
      for (const roi of prepared.rois) {
        await upsertBlob(trx, {
          sha256: roi.maskSha256,
          sizeBytes: roi.sizeBytes,
          storedSizeBytes: roi.storedSizeBytes,
          compression: 'gzip',
          mediaType: 'application/x-contourbench-mask-uint8',
        });
        const structureId =
          structureIds.get(roi.tg263Name) ??
          (await ensureStructures(trx, [findTg263Structure(roi.tg263Name)!])).get(roi.tg263Name)!;
        await upsertContour(trx, {
          contourSetId,
          structureId,
          maskBlobSha256: roi.maskSha256,
          volumeCc: roi.volumeCc,
          voxelCount: roi.voxels,
          bboxIjk: roi.bboxIjk,
          sourceRoiName: roi.roi,
          sourceRoiNumber: roi.roiNumber,
          colourRgb: roi.colourRgb,
        });
      }
    }
    for (const prepared of preparedDoses) {
      const { dose, blob, result } = prepared;
      await upsertBlob(trx, {
        ...blob,
        compression: 'gzip',
        mediaType: 'application/x-contourbench-dose-float32',
      });
      const a = dose.dose.affineIjkToLps;
      const axis = (c: number) => {
        const length = Math.hypot(a[c], a[4 + c], a[8 + c]);
        return [a[c] / length, a[4 + c] / length, a[8 + c] / length];
      };
      result.doseGridId = await upsertDoseGrid(trx, {
        caseId,
        imageSeriesId: seriesId,
        sopInstanceUid: pseudo(dose.sopInstanceUid),
        dims: [...dose.dose.dims],
        spacingMm: [...dose.dose.spacingMm],
        originLpsMm: [a[3], a[7], a[11]],
        directionLps: [...axis(0), ...axis(1), ...axis(2)],
        doseBlobSha256: blob.sha256,
        doseType: dose.doseType,
        summationType: dose.summationType,
        maxGy: dose.maxGy,
        prescriptionGy: result.prescriptionGy,
        fractions: result.fractions,
      });
    }
    if (options.cohortName) {
      await addCaseToCohort(
        trx,
        await ensureCohort(trx, options.cohortName),
        caseId,
        `imported from ${root}`,
      );
    }
    return {
      caseId,
      pseudonym,
      seriesId,
      slices: g.dims[2],
      structureSets: preparedSets.map((p) => p.result),
      doses: preparedDoses.map((p) => p.result),
      warnings,
      failedDoses,
    };
  });
}

/**
 * The RTDOSEs on the series' frame of reference, read and their voxels stored as blobs (float32 Gy),
 * before the series' transaction. A dose that cannot be read now is listed in `failed` (the series still
 * imports); a dose grid that misses the CT entirely is kept with a warning.
 */
async function prepareDoses(
  blobs: BlobStore,
  series: CtSeries,
  context: ImportContext,
  warnings: string[],
): Promise<{ doses: PreparedDose[]; failed: ImportReport['failed'] }> {
  const doses: PreparedDose[] = [];
  const failed: ImportReport['failed'] = [];
  for (const candidate of context.doses) {
    if (candidate.frameOfReferenceUid !== series.grid.frameOfReferenceUid) continue;
    if (context.usedDoses.has(candidate.path)) continue;
    context.usedDoses.add(candidate.path);
    let dose: RtDose;
    try {
      dose = readRtDose(await readScanned(candidate.path), candidate.path);
    } catch (error) {
      failed.push({ what: candidate.path, reason: errorMessage(error) });
      continue;
    }
    warnings.push(...dose.warnings);
    if (!overlaps(dose, series)) {
      warnings.push(`${candidate.path}: the dose grid does not overlap the CT volume`);
    }
    const plan = dose.referencedPlanSopInstanceUid
      ? context.plans.get(dose.referencedPlanSopInstanceUid)
      : undefined;
    const fromPlan = plan !== undefined && plan.prescriptionGy !== null;
    const option = context.options.prescription;
    const data = dose.dose.data;
    const stored = await blobs.put(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    doses.push({
      dose,
      blob: { sha256: stored.sha256, sizeBytes: stored.sizeBytes, storedSizeBytes: stored.storedSizeBytes },
      result: {
        file: candidate.path,
        doseGridId: 0,
        dims: [...dose.dose.dims],
        spacingMm: [...dose.dose.spacingMm],
        doseType: dose.doseType,
        summationType: dose.summationType,
        maxGy: dose.maxGy,
        prescriptionGy: fromPlan ? plan.prescriptionGy : (option?.prescriptionGy ?? null),
        fractions: fromPlan ? plan.fractions : (option?.fractions ?? null),
        prescriptionFrom: fromPlan ? 'plan' : option ? 'import option' : null,
      },
    });
  }
  return { doses, failed };
}

/** Whether the bounding boxes (LPS) of the dose grid's and the CT's voxel centres intersect. */
function overlaps(dose: RtDose, series: CtSeries): boolean {
  const box = (affine: Float64Array, dims: readonly number[]) => {
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    for (let c = 0; c < 8; c++) {
      const ijk = [c & 1 ? dims[0] - 1 : 0, c & 2 ? dims[1] - 1 : 0, c & 4 ? dims[2] - 1 : 0];
      for (let r = 0; r < 3; r++) {
        const v =
          affine[4 * r] * ijk[0] +
          affine[4 * r + 1] * ijk[1] +
          affine[4 * r + 2] * ijk[2] +
          affine[4 * r + 3];
        lo[r] = Math.min(lo[r], v);
        hi[r] = Math.max(hi[r], v);
      }
    }
    return { lo, hi };
  };
  const a = box(dose.dose.affineIjkToLps, dose.dose.dims);
  const b = box(series.grid.affineIjkToLps, series.grid.dims);
  return [0, 1, 2].every((r) => a.lo[r] <= b.hi[r] + 1 && b.lo[r] <= a.hi[r] + 1);
}

/**
 * Imports an uploaded zip archive: the body is spooled to a temporary file (refused with
 * BodyTooLargeError as soon as more than `maxBytes` arrived, and unless it is a zip archive), imported
 * like a folder, and removed.
 */
export async function importUpload(
  db: Db,
  blobs: BlobStore,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: ImportOptions,
  logger?: Logger,
): Promise<ImportReport> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'contourbench-upload-'));
  const file = path.join(folder, 'upload.zip');
  try {
    const handle = await open(file, 'w');
    const head = new Uint8Array(4);
    let received = 0;
    try {
      for await (const chunk of limitBody(body, maxBytes) as unknown as AsyncIterable<Uint8Array>) {
        if (received < head.length) head.set(chunk.subarray(0, head.length - received), received);
        received += chunk.length;
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    if (received < head.length || !looksLikeZip(head))
      throw new AppError('INVALID_INPUT', 'the upload is not a zip archive');
    const report = await importDicom(db, blobs, file, options, logger);
    renameReportPaths(report, file, 'upload.zip');
    return report;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
