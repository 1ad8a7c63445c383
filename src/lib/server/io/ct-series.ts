import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError, errorMessage } from '../../core/errors';
import { cross, dot, type ImageGrid } from '../../core/geometry/image-grid';
import { gridAffine, type Vec3, type Volume } from '../../core/volume/volume';
import {
  getBytes,
  getNumber,
  getString,
  getUint16,
  parseDicom,
  requireNumbers,
  requireString,
  tags,
  type DicomFile,
} from './dicom/parser';

/** A parsed DICOM file with its path. */
export interface ParsedDicom {
  path: string;
  file: DicomFile;
  modality: string;
  sopInstanceUid: string;
}

export interface FolderScan {
  /** Image series by SeriesInstanceUID, each file with its parse. */
  imageSeries: Map<string, ParsedDicom[]>;
  rtStructs: ParsedDicom[];
  /** Files that are not DICOM, are truncated, or have an unsupported transfer syntax, with the reason. */
  rejected: Array<{ path: string; reason: string }>;
  /** DICOM objects of other modalities (RTPLAN, RTDOSE, ...), not read. */
  ignored: Array<{ path: string; modality: string }>;
  bytesRead: number;
}

/** Scanner, acquisition and patient fields of a CT series (first slice), for case metadata. */
export interface SeriesMetadata {
  modality: string;
  manufacturer: string | null;
  scannerModel: string | null;
  convolutionKernel: string | null;
  kvp: number | null;
  sliceThicknessMm: number | null;
  acquisitionDate: string | null;
  studyDate: string | null;
  patientPosition: string | null;
  seriesDescription: string | null;
  patientName: string | null;
  patientId: string | null;
  patientBirthDate: string | null;
  institutionName: string | null;
}

export interface CtSeries {
  grid: ImageGrid;
  /** Hounsfield units (rescale slope and intercept applied), i along rows, j down columns, k over slices. */
  volume: Volume<Int16Array | Float32Array>;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopClassUid: string;
  /** SOP Instance UID of each slice, in slice order. */
  sopInstanceUids: string[];
  files: string[];
  metadata: SeriesMetadata;
  /** Irregularities that do not make the grid wrong (non-uniform steps), for the import report. */
  warnings: string[];
}

async function listFiles(root: string): Promise<string[]> {
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new AppError(
      'NOT_FOUND',
      `${root}: ${error.code === 'ENOENT' ? 'no such file or folder' : errorMessage(error)}`,
    );
  });
  if (!info.isDirectory()) return [root];
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  return entries
    .filter(
      (entry) => entry.isFile() && !entry.name.startsWith('.') && entry.name.toUpperCase() !== 'DICOMDIR',
    )
    .map((entry) => path.join(entry.parentPath ?? root, entry.name))
    .sort();
}

/** Largest file read as a DICOM object (a CT slice is under a megabyte, a dense RTSTRUCT some hundreds). */
const MAX_DICOM_FILE_BYTES = 1024 ** 3;

/**
 * Reads every file under `root` (a folder, searched recursively, or one file) and sorts the DICOM objects
 * by kind. Nothing is thrown for a bad file: it is listed in `rejected` with the reason.
 */
export async function scanDicomFolder(root: string, concurrency = 8): Promise<FolderScan> {
  const files = await listFiles(root);
  const scan: FolderScan = { imageSeries: new Map(), rtStructs: [], rejected: [], ignored: [], bytesRead: 0 };
  let next = 0;
  const work = async () => {
    while (next < files.length) {
      const filePath = files[next++];
      try {
        const { size } = await stat(filePath);
        if (size > MAX_DICOM_FILE_BYTES) {
          throw new AppError(
            'INVALID_INPUT',
            `${filePath}: ${size} bytes, more than the ${MAX_DICOM_FILE_BYTES / 1024 ** 3} GiB a DICOM object is read up to`,
          );
        }
        const bytes = await readFile(filePath);
        scan.bytesRead += bytes.length;
        const file = parseDicom(bytes, filePath);
        const modality = requireString(file.dataset, tags.modality, 'Modality');
        const parsed: ParsedDicom = {
          path: filePath,
          file,
          modality,
          sopInstanceUid: requireString(file.dataset, tags.sopInstanceUid, 'SOP Instance UID'),
        };
        if (modality === 'RTSTRUCT') {
          scan.rtStructs.push(parsed);
        } else if (modality === 'CT' || modality === 'MR' || modality === 'PT') {
          const series = requireString(file.dataset, tags.seriesInstanceUid, 'Series Instance UID');
          const list = scan.imageSeries.get(series) ?? [];
          list.push(parsed);
          scan.imageSeries.set(series, list);
        } else {
          scan.ignored.push({ path: filePath, modality });
        }
      } catch (error) {
        scan.rejected.push({ path: filePath, reason: errorMessage(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, work));
  scan.rtStructs.sort((a, b) => a.path.localeCompare(b.path));
  scan.rejected.sort((a, b) => a.path.localeCompare(b.path));
  return scan;
}

const orientationTolerance = 1e-4;
/** Largest finite float32: rescaled pixel values must stay below it. */
const FLOAT32_MAX = 3.4028234663852886e38;

function fail(message: string): never {
  throw new AppError('INVALID_INPUT', message);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

interface Slice {
  parsed: ParsedDicom;
  positionLps: Vec3;
  positionMm: number;
}

/**
 * Builds a CT (or other single-frame image) series: slices sorted by position along the slice normal,
 * geometry from ImagePositionPatient and ImageOrientationPatient, pixels rescaled to HU. Mixed
 * orientations, pixel spacings or sizes, two slices at one position, gantry tilt and missing slices
 * (a step more than 1.5 times the median) are errors; a non-uniform but gap-free spacing is a warning.
 */
export function buildImageSeries(files: ParsedDicom[]): CtSeries {
  if (files.length === 0) fail('an image series needs at least one slice');
  const first = files[0].file.dataset;
  const seriesInstanceUid = requireString(first, tags.seriesInstanceUid, 'Series Instance UID');
  const where = `series ${seriesInstanceUid}`;
  const iop = requireNumbers(first, tags.imageOrientationPatient, 'Image Orientation (Patient)', 6);
  const rowLps: Vec3 = [iop[0], iop[1], iop[2]];
  const columnLps: Vec3 = [iop[3], iop[4], iop[5]];
  if (Math.abs(dot(rowLps, rowLps) - 1) > 1e-3 || Math.abs(dot(columnLps, columnLps) - 1) > 1e-3) {
    fail(`${files[0].path}: Image Orientation (Patient) ${iop.join('\\')} is not made of unit vectors`);
  }
  if (Math.abs(dot(rowLps, columnLps)) > 1e-3) {
    fail(`${files[0].path}: Image Orientation (Patient) ${iop.join('\\')} has non-perpendicular axes`);
  }
  const normalLps = cross(rowLps, columnLps);
  const rows = getUint16(first, tags.rows);
  const columns = getUint16(first, tags.columns);
  if (!rows || !columns) fail(`${files[0].path}: missing Rows or Columns`);
  const spacing = requireNumbers(first, tags.pixelSpacing, 'Pixel Spacing', 2);
  if (!(spacing[0] > 0 && spacing[1] > 0))
    fail(`${files[0].path}: Pixel Spacing ${spacing.join('\\')} must be positive`);
  const frameOfReferenceUid = requireString(first, tags.frameOfReferenceUid, 'Frame of Reference UID');

  const slices: Slice[] = files.map((parsed) => {
    const ds = parsed.file.dataset;
    const own = requireNumbers(ds, tags.imageOrientationPatient, 'Image Orientation (Patient)', 6);
    if (own.some((value, n) => Math.abs(value - iop[n]) > orientationTolerance)) {
      fail(
        `${where} mixes orientations: ${parsed.path} has ${own.join('\\')}, ${files[0].path} has ${iop.join('\\')}`,
      );
    }
    const ownRows = getUint16(ds, tags.rows);
    const ownColumns = getUint16(ds, tags.columns);
    if (ownRows !== rows || ownColumns !== columns) {
      fail(
        `${where} mixes image sizes: ${parsed.path} is ${ownColumns ?? '?'}x${ownRows ?? '?'}, ${files[0].path} is ${columns}x${rows}`,
      );
    }
    const ownSpacing = requireNumbers(ds, tags.pixelSpacing, 'Pixel Spacing', 2);
    if (Math.abs(ownSpacing[0] - spacing[0]) > 1e-4 || Math.abs(ownSpacing[1] - spacing[1]) > 1e-4) {
      fail(
        `${where} mixes pixel spacings: ${parsed.path} has ${ownSpacing.join('\\')}, ${files[0].path} has ${spacing.join('\\')}`,
      );
    }
    const ownFrame = getString(ds, tags.frameOfReferenceUid);
    if (ownFrame !== frameOfReferenceUid) {
      fail(
        `${where} mixes frames of reference: ${parsed.path} is on ${ownFrame || '(none)'}, ${files[0].path} on ${frameOfReferenceUid}`,
      );
    }
    const ipp = requireNumbers(ds, tags.imagePositionPatient, 'Image Position (Patient)', 3);
    const positionLps: Vec3 = [ipp[0], ipp[1], ipp[2]];
    const positionMm = dot(positionLps, normalLps);
    if (!Number.isFinite(positionMm)) {
      fail(`${parsed.path}: Image Position (Patient) ${ipp.join('\\')} is out of range`);
    }
    return { parsed, positionLps, positionMm };
  });
  slices.sort((a, b) => a.positionMm - b.positionMm);

  const warnings: string[] = [];
  const steps: number[] = [];
  for (let k = 1; k < slices.length; k++) {
    const step = slices[k].positionMm - slices[k - 1].positionMm;
    if (step < 1e-3) {
      fail(
        `${where}: ${slices[k - 1].parsed.path} and ${slices[k].parsed.path} lie at the same position (${slices[k].positionMm.toFixed(3)} mm)`,
      );
    }
    steps.push(step);
    // the offset between slices must lie along the normal: anything in-plane is a gantry tilt or shear
    const delta: Vec3 = [
      slices[k].positionLps[0] - slices[k - 1].positionLps[0],
      slices[k].positionLps[1] - slices[k - 1].positionLps[1],
      slices[k].positionLps[2] - slices[k - 1].positionLps[2],
    ];
    const inPlane = Math.hypot(dot(delta, rowLps), dot(delta, columnLps));
    if (inPlane > 0.01 + 1e-3 * step) {
      fail(
        `${where}: slices are not stacked along their normal (gantry tilt or sheared series): ` +
          `${slices[k].parsed.path} is offset ${inPlane.toFixed(3)} mm in-plane from the previous slice`,
      );
    }
  }
  const sliceThickness = getNumber(first, tags.sliceThickness);
  const stepMm = steps.length > 0 ? median(steps) : sliceThickness && sliceThickness > 0 ? sliceThickness : 1;
  for (let k = 1; k < slices.length; k++) {
    const step = steps[k - 1];
    if (step > 1.5 * stepMm) {
      fail(
        `${where}: slice missing between ${slices[k - 1].parsed.path} (${slices[k - 1].positionMm.toFixed(2)} mm) ` +
          `and ${slices[k].parsed.path} (${slices[k].positionMm.toFixed(2)} mm): step ${step.toFixed(2)} mm, median ${stepMm.toFixed(2)} mm`,
      );
    }
  }
  if (steps.length > 0) {
    const smallest = Math.min(...steps);
    const largest = Math.max(...steps);
    if (largest - smallest > 0.01 * stepMm) {
      warnings.push(
        `${where}: slice spacing varies from ${smallest.toFixed(3)} to ${largest.toFixed(3)} mm; contours are matched to ` +
          `each slice's own position, the volume grid uses the median ${stepMm.toFixed(3)} mm`,
      );
    }
  }

  const [nx, ny, nz] = [columns, rows, slices.length];
  const plane = nx * ny;
  const pixels = slices.map(({ parsed }) => decodePixels(parsed, nx, ny));
  const integral = pixels.every((p) => p.slope === 1 && Number.isInteger(p.intercept));
  let min = Infinity;
  let max = -Infinity;
  pixels.forEach((p, k) => {
    const a = p.min * p.slope + p.intercept;
    const b = p.max * p.slope + p.intercept;
    // stored as float32 when not int16: values beyond its range would become infinite
    if (!(Math.abs(a) <= FLOAT32_MAX && Math.abs(b) <= FLOAT32_MAX)) {
      fail(
        `${slices[k].parsed.path}: Rescale Slope ${p.slope} and Rescale Intercept ${p.intercept} take stored values ` +
          `${p.min}..${p.max} out of range (${a}..${b})`,
      );
    }
    min = Math.min(min, a, b);
    max = Math.max(max, a, b);
  });
  const useInt16 = integral && min >= -32768 && max <= 32767;
  const data = useInt16 ? new Int16Array(plane * nz) : new Float32Array(plane * nz);
  pixels.forEach((p, k) => {
    const base = k * plane;
    for (let n = 0; n < plane; n++) data[base + n] = p.values[n] * p.slope + p.intercept;
  });

  const origin = slices[0].positionLps;
  const spacingMm: Vec3 = [spacing[1], spacing[0], stepMm];
  const affineIjkToLps = gridAffine([...rowLps, ...columnLps, ...normalLps], spacingMm, origin);
  const grid: ImageGrid = {
    dims: [nx, ny, nz],
    spacingMm,
    rowLps,
    columnLps,
    normalLps,
    slicePositionLps: slices.map((s) => s.positionLps),
    slicePositionsMm: slices.map((s) => s.positionMm),
    affineIjkToLps,
    frameOfReferenceUid,
  };
  const text = (tag: number) => getString(first, tag) || null;
  return {
    grid,
    volume: { data, dims: grid.dims, spacingMm, affineIjkToLps },
    studyInstanceUid: requireString(first, tags.studyInstanceUid, 'Study Instance UID'),
    seriesInstanceUid,
    sopClassUid: requireString(first, tags.sopClassUid, 'SOP Class UID'),
    sopInstanceUids: slices.map((s) => s.parsed.sopInstanceUid),
    files: slices.map((s) => s.parsed.path),
    metadata: {
      modality: requireString(first, tags.modality, 'Modality'),
      manufacturer: text(tags.manufacturer),
      scannerModel: text(tags.manufacturerModelName),
      convolutionKernel: text(tags.convolutionKernel),
      kvp: getNumber(first, tags.kvp) ?? null,
      sliceThicknessMm: sliceThickness ?? null,
      acquisitionDate: text(tags.acquisitionDate),
      studyDate: text(tags.studyDate),
      patientPosition: text(tags.patientPosition),
      seriesDescription: text(tags.seriesDescription),
      patientName: text(tags.patientName),
      patientId: text(tags.patientId),
      patientBirthDate: text(tags.patientBirthDate),
      institutionName: text(tags.institutionName),
    },
    warnings,
  };
}

interface DecodedPixels {
  values: Int16Array | Uint16Array | Uint8Array;
  slope: number;
  intercept: number;
  min: number;
  max: number;
}

function decodePixels(parsed: ParsedDicom, nx: number, ny: number): DecodedPixels {
  const ds = parsed.file.dataset;
  const samples = getUint16(ds, tags.samplesPerPixel) ?? 1;
  if (samples !== 1) fail(`${parsed.path}: ${samples} samples per pixel, expected a grey-scale image`);
  const frames = getNumber(ds, tags.numberOfFrames) ?? 1;
  if (frames !== 1) fail(`${parsed.path}: ${frames} frames, expected single-frame slices`);
  const bitsAllocated = getUint16(ds, tags.bitsAllocated);
  const representation = getUint16(ds, tags.pixelRepresentation) ?? 0;
  const raw = getBytes(ds, tags.pixelData);
  if (!raw) fail(`${parsed.path}: no Pixel Data (7FE0,0010)`);
  const count = nx * ny;
  let values: Int16Array | Uint16Array | Uint8Array;
  if (bitsAllocated === 16) {
    if (raw.length < count * 2)
      fail(`${parsed.path}: Pixel Data has ${raw.length} bytes, ${nx}x${ny} pixels need ${count * 2}`);
    // a view on the file's bytes when aligned (the usual case), a copy otherwise
    const aligned = raw.byteOffset % 2 === 0 ? raw : Uint8Array.from(raw.subarray(0, count * 2));
    values =
      representation === 1
        ? new Int16Array(aligned.buffer, aligned.byteOffset, count)
        : new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  } else if (bitsAllocated === 8) {
    if (raw.length < count)
      fail(`${parsed.path}: Pixel Data has ${raw.length} bytes, ${nx}x${ny} pixels need ${count}`);
    values = raw.slice(0, count);
  } else {
    fail(`${parsed.path}: Bits Allocated ${bitsAllocated ?? 'missing'}, expected 8 or 16`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let n = 0; n < count; n++) {
    const v = values[n];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const slope = getNumber(ds, tags.rescaleSlope) ?? 1;
  const intercept = getNumber(ds, tags.rescaleIntercept) ?? 0;
  if (slope === 0) fail(`${parsed.path}: Rescale Slope is 0`);
  return { values, slope, intercept, min, max };
}
