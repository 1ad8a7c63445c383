/**
 * RT Dose reader: a grid-based RTDOSE (multi-frame, one frame per dose plane) to a dose volume in Gy on
 * its own grid in patient coordinates, plus the few RT Plan fields that say what the dose was prescribed.
 */
import { AppError } from '../../core/errors';
import { cross, dot } from '../../core/geometry/image-grid';
import { gridAffine, type Vec3, type Volume } from '../../core/volume/volume';
import {
  formatTag,
  getBytes,
  getNumber,
  getNumbers,
  getSequence,
  getString,
  getUint16,
  parseDicom,
  requireNumbers,
  requireString,
  tags,
  type DicomDataset,
} from './dicom/parser';

/** SOP Class UID of RT Dose Storage. */
export const RT_DOSE_STORAGE = '1.2.840.10008.5.1.4.1.1.481.2';
/** SOP Class UID of RT Plan Storage. */
export const RT_PLAN_STORAGE = '1.2.840.10008.5.1.4.1.1.481.5';

/** Tags of the RT Dose and RT Plan modules this reader relies on. */
export const rtTags = {
  frameIncrementPointer: 0x00280009,
  doseUnits: 0x30040002,
  doseType: 0x30040004,
  doseSummationType: 0x3004000a,
  gridFrameOffsetVector: 0x3004000c,
  doseGridScaling: 0x3004000e,
  referencedRtPlanSequence: 0x300c0002,
  doseReferenceSequence: 0x300a0010,
  doseReferenceType: 0x300a0020,
  targetPrescriptionDose: 0x300a0026,
  fractionGroupSequence: 0x300a0070,
  numberOfFractionsPlanned: 0x300a0078,
} as const;

export type DoseType = 'PHYSICAL' | 'EFFECTIVE' | 'ERROR';

/** Defined terms of Dose Summation Type (3004,000A), PS3.3 C.8.8.3. */
export type DoseSummationType =
  | 'PLAN'
  | 'MULTI_PLAN'
  | 'PLAN_OVERVIEW'
  | 'FRACTION'
  | 'BEAM'
  | 'BRACHY'
  | 'FRACTION_SESSION'
  | 'BEAM_SESSION'
  | 'BRACHY_SESSION'
  | 'CONTROL_POINT'
  | 'RECORD';

const doseTypes: ReadonlySet<string> = new Set<DoseType>(['PHYSICAL', 'EFFECTIVE', 'ERROR']);
const summationTypes: ReadonlySet<string> = new Set<DoseSummationType>([
  'PLAN',
  'MULTI_PLAN',
  'PLAN_OVERVIEW',
  'FRACTION',
  'BEAM',
  'BRACHY',
  'FRACTION_SESSION',
  'BEAM_SESSION',
  'BRACHY_SESSION',
  'CONTROL_POINT',
  'RECORD',
]);

export interface RtDose {
  /**
   * Dose in Gy (stored value x Dose Grid Scaling), i along a row, j down a column, k over the frames in
   * increasing position along the normal row x column, whatever order the file stores them in.
   */
  dose: Volume<Float32Array>;
  frameOfReferenceUid: string;
  sopInstanceUid: string;
  doseType: DoseType;
  summationType: DoseSummationType;
  /** The first item of the Referenced RT Plan Sequence (300C,0002), or null. */
  referencedPlanSopInstanceUid: string | null;
  /** Largest dose of the grid (Gy); 0 for an empty grid. */
  maxGy: number;
  /** Irregularities that do not make the dose wrong, for the import report. */
  warnings: string[];
}

/** Largest distance (mm) two frame steps may differ by and still count as one uniform spacing. */
const FRAME_STEP_TOLERANCE_MM = 0.01;
/** Largest deviation of an Image Orientation (Patient) vector from unit length or perpendicularity. */
const ORIENTATION_TOLERANCE = 1e-3;

function fail(source: string, message: string): never {
  throw new AppError('INVALID_INPUT', `${source}: ${message}`);
}

/**
 * Reads a grid-based RT Dose (Modality RTDOSE) from the bytes of a DICOM Part 10 file (implicit or
 * explicit VR little endian). `source` names the file in every message.
 *
 * - Units: Dose Units (3004,0002) must be GY; RELATIVE doses are refused (they cannot be evaluated in Gy).
 * - Pixels: Bits Allocated 16 or 32, Pixel Representation 0 (unsigned) or 1 (two's complement), Bits
 *   Stored honoured; Gy = stored value x Dose Grid Scaling (3004,000E), which is required and > 0.
 * - Frames: Number of Frames (0028,0008) planes, each placed by Grid Frame Offset Vector (3004,000C),
 *   which DICOM allows in two forms. Rule: a first offset of 0 means offsets relative to Image Position
 *   (Patient) along the normal row x column; otherwise, when the images are axial (normal along ±z) and
 *   the first offset equals the Image Position z (within 1e-3 mm), the offsets are absolute z
 *   coordinates. Anything else is refused. A single frame may omit the vector; its thickness is then
 *   Slice Thickness (0018,0050), else 1 mm with a warning.
 * - Frames are sorted by position, so decreasing offsets (a negative slice direction) give the same
 *   volume as increasing ones. Steps must be uniform within 0.01 mm: non-uniform offsets are refused,
 *   never resampled, so every dose value stays where the planning system put it.
 *
 * Errors: AppError('INVALID_INPUT') naming the file and the tag for a file that is not DICOM, is
 * truncated, is not an RTDOSE, lacks a required attribute, or holds a value outside the above.
 */
export function readRtDose(bytes: Uint8Array, source: string): RtDose {
  const ds = parseDicom(bytes, source).dataset;
  const warnings: string[] = [];
  const modality = getString(ds, tags.modality);
  if (modality !== 'RTDOSE') {
    fail(source, `Modality ${formatTag(tags.modality)} is ${modality || 'missing'}, expected RTDOSE`);
  }
  const sopInstanceUid = requireString(ds, tags.sopInstanceUid, 'SOP Instance UID');
  const frameOfReferenceUid = requireString(ds, tags.frameOfReferenceUid, 'Frame of Reference UID');

  const units = requireString(ds, rtTags.doseUnits, 'Dose Units').toUpperCase();
  if (units === 'RELATIVE') {
    fail(
      source,
      `Dose Units ${formatTag(rtTags.doseUnits)} is RELATIVE: a relative dose cannot be evaluated in Gy; export the dose in GY`,
    );
  }
  if (units !== 'GY') fail(source, `Dose Units ${formatTag(rtTags.doseUnits)} is "${units}", expected GY`);
  const doseType = requireString(ds, rtTags.doseType, 'Dose Type');
  if (!doseTypes.has(doseType)) {
    fail(
      source,
      `Dose Type ${formatTag(rtTags.doseType)} is "${doseType}", expected PHYSICAL, EFFECTIVE or ERROR`,
    );
  }
  const summationType = requireString(ds, rtTags.doseSummationType, 'Dose Summation Type');
  if (!summationTypes.has(summationType)) {
    fail(
      source,
      `Dose Summation Type ${formatTag(rtTags.doseSummationType)} is "${summationType}", expected one of ${[...summationTypes].join(', ')}`,
    );
  }
  const plan = getSequence(ds, rtTags.referencedRtPlanSequence)[0];
  const referencedPlanSopInstanceUid = (plan && getString(plan, tags.referencedSopInstanceUid)) || null;

  // geometry of the frames
  const iop = requireNumbers(ds, tags.imageOrientationPatient, 'Image Orientation (Patient)', 6);
  const rowLps: Vec3 = [iop[0], iop[1], iop[2]];
  const columnLps: Vec3 = [iop[3], iop[4], iop[5]];
  if (
    Math.abs(dot(rowLps, rowLps) - 1) > ORIENTATION_TOLERANCE ||
    Math.abs(dot(columnLps, columnLps) - 1) > ORIENTATION_TOLERANCE ||
    Math.abs(dot(rowLps, columnLps)) > ORIENTATION_TOLERANCE
  ) {
    fail(
      source,
      `Image Orientation (Patient) ${formatTag(tags.imageOrientationPatient)} ${iop.join('\\')} is not two perpendicular unit vectors`,
    );
  }
  const normalLps = cross(rowLps, columnLps);
  const ipp = requireNumbers(ds, tags.imagePositionPatient, 'Image Position (Patient)', 3);
  const pixelSpacing = requireNumbers(ds, tags.pixelSpacing, 'Pixel Spacing', 2);
  if (!(pixelSpacing[0] > 0 && pixelSpacing[1] > 0)) {
    fail(source, `Pixel Spacing ${formatTag(tags.pixelSpacing)} ${pixelSpacing.join('\\')} must be positive`);
  }
  const rows = getUint16(ds, tags.rows);
  const columns = getUint16(ds, tags.columns);
  if (!rows) fail(source, `Rows ${formatTag(tags.rows)} is missing or 0`);
  if (!columns) fail(source, `Columns ${formatTag(tags.columns)} is missing or 0`);
  const frames = getNumber(ds, tags.numberOfFrames) ?? 1;
  if (!Number.isInteger(frames) || frames < 1) {
    fail(
      source,
      `Number of Frames ${formatTag(tags.numberOfFrames)} is ${frames}, expected a positive integer`,
    );
  }
  const { order, firstMm, stepMm } = frameLayout(ds, frames, ipp, normalLps, warnings);

  const scaling = getNumber(ds, rtTags.doseGridScaling);
  if (scaling === undefined) {
    fail(
      source,
      `missing Dose Grid Scaling ${formatTag(rtTags.doseGridScaling)}: the stored values have no unit`,
    );
  }
  if (!(scaling > 0) || !Number.isFinite(scaling)) {
    fail(
      source,
      `Dose Grid Scaling ${formatTag(rtTags.doseGridScaling)} is ${scaling}, expected a positive number`,
    );
  }
  const plane = rows * columns;
  const data = new Float32Array(plane * frames);
  const maxGy = decodeDose(ds, data, plane, order, scaling);
  const originLps = [0, 1, 2].map((a) => ipp[a] + firstMm * normalLps[a]);
  const spacingMm: Vec3 = [pixelSpacing[1], pixelSpacing[0], stepMm];
  return {
    dose: {
      data,
      dims: [columns, rows, frames],
      spacingMm,
      affineIjkToLps: gridAffine([...rowLps, ...columnLps, ...normalLps], spacingMm, originLps),
    },
    frameOfReferenceUid,
    sopInstanceUid,
    doseType: doseType as DoseType,
    summationType: summationType as DoseSummationType,
    referencedPlanSopInstanceUid,
    maxGy,
    warnings,
  };
}

/**
 * Where each frame lies along the normal: `order[k]` is the file's frame at sorted position k, the first
 * at `firstMm` from Image Position (Patient), then one every `stepMm`.
 */
function frameLayout(
  ds: DicomDataset,
  frames: number,
  ipp: number[],
  normalLps: Vec3,
  warnings: string[],
): { order: number[]; firstMm: number; stepMm: number } {
  const source = ds.source;
  const gfov = formatTag(rtTags.gridFrameOffsetVector);
  const offsets = getNumbers(ds, rtTags.gridFrameOffsetVector);
  if (offsets === undefined || offsets.length === 0) {
    if (frames > 1) fail(source, `missing Grid Frame Offset Vector ${gfov} for ${frames} frames`);
    const thickness = getNumber(ds, tags.sliceThickness);
    if (thickness !== undefined && thickness > 0) return { order: [0], firstMm: 0, stepMm: thickness };
    warnings.push(`${source}: a single dose plane without Slice Thickness; taken as 1 mm thick`);
    return { order: [0], firstMm: 0, stepMm: 1 };
  }
  if (offsets.length !== frames) {
    fail(source, `Grid Frame Offset Vector ${gfov} has ${offsets.length} values for ${frames} frames`);
  }
  let relative: number[];
  if (offsets[0] === 0) {
    relative = offsets;
  } else if (Math.abs(Math.abs(normalLps[2]) - 1) < 1e-6 && Math.abs(offsets[0] - ipp[2]) <= 1e-3) {
    // absolute z: a step along the normal (±z) moves z by ±1 mm per mm
    relative = offsets.map((z) => (z - ipp[2]) * Math.sign(normalLps[2]));
  } else {
    fail(
      source,
      `Grid Frame Offset Vector ${gfov} starts at ${offsets[0]}: expected 0 (offsets relative to Image Position (Patient)) ` +
        `or, for axial images only, the Image Position (Patient) z ${ipp[2]} (absolute z)`,
    );
  }
  const order = relative.map((_, k) => k).sort((a, b) => relative[a] - relative[b]);
  const sorted = order.map((k) => relative[k]);
  if (frames === 1) {
    const thickness = getNumber(ds, tags.sliceThickness);
    return { order, firstMm: sorted[0], stepMm: thickness !== undefined && thickness > 0 ? thickness : 1 };
  }
  for (let k = 1; k < frames; k++) {
    if (sorted[k] - sorted[k - 1] < 1e-3) {
      fail(source, `Grid Frame Offset Vector ${gfov} places two frames at ${sorted[k].toFixed(3)} mm`);
    }
  }
  const stepMm = (sorted[frames - 1] - sorted[0]) / (frames - 1);
  for (let k = 1; k < frames; k++) {
    const step = sorted[k] - sorted[k - 1];
    if (Math.abs(step - stepMm) > FRAME_STEP_TOLERANCE_MM) {
      fail(
        source,
        `Grid Frame Offset Vector ${gfov} is not uniform: a step of ${step.toFixed(3)} mm at ${sorted[k].toFixed(3)} mm ` +
          `against a mean of ${stepMm.toFixed(3)} mm; non-uniform dose grids are not read`,
      );
    }
  }
  return { order, firstMm: sorted[0], stepMm };
}

/**
 * Decodes the pixel data into `out` in Gy (stored value x `scaling`), frame `order[k]` of the file to
 * plane k. Returns the largest dose.
 */
function decodeDose(
  ds: DicomDataset,
  out: Float32Array,
  plane: number,
  order: number[],
  scaling: number,
): number {
  const source = ds.source;
  const samples = getUint16(ds, tags.samplesPerPixel) ?? 1;
  if (samples !== 1)
    fail(source, `Samples per Pixel ${formatTag(tags.samplesPerPixel)} is ${samples}, expected 1`);
  const photometric = getString(ds, tags.photometricInterpretation);
  if (photometric !== undefined && photometric !== 'MONOCHROME2') {
    fail(
      source,
      `Photometric Interpretation ${formatTag(tags.photometricInterpretation)} is ${photometric}, expected MONOCHROME2`,
    );
  }
  const bitsAllocated = getUint16(ds, tags.bitsAllocated);
  if (bitsAllocated !== 16 && bitsAllocated !== 32) {
    fail(
      source,
      `Bits Allocated ${formatTag(tags.bitsAllocated)} is ${bitsAllocated ?? 'missing'}, expected 16 or 32`,
    );
  }
  const bitsStored = getUint16(ds, tags.bitsStored) ?? bitsAllocated;
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    fail(
      source,
      `Bits Stored ${formatTag(tags.bitsStored)} is ${bitsStored}, expected 1 to ${bitsAllocated}`,
    );
  }
  const representation = getUint16(ds, tags.pixelRepresentation) ?? 0;
  if (representation !== 0 && representation !== 1) {
    fail(
      source,
      `Pixel Representation ${formatTag(tags.pixelRepresentation)} is ${representation}, expected 0 or 1`,
    );
  }
  const raw = getBytes(ds, tags.pixelData);
  if (!raw) fail(source, `no Pixel Data ${formatTag(tags.pixelData)}`);
  const count = plane * order.length;
  const width = bitsAllocated / 8;
  if (raw.length < count * width) {
    fail(
      source,
      `Pixel Data ${formatTag(tags.pixelData)} has ${raw.length} bytes; ${count} ${bitsAllocated}-bit values need ${count * width} (truncated?)`,
    );
  }
  const view = new DataView(raw.buffer, raw.byteOffset, count * width);
  const signed = representation === 1;
  // bits above Bits Stored are not part of the value: shifting them out and back clears them
  // (unsigned) or sign-extends the value (signed)
  const unused = 32 - bitsStored;
  let maxGy = -Infinity;
  for (let k = 0; k < order.length; k++) {
    const from = order[k] * plane;
    const to = k * plane;
    for (let n = 0; n < plane; n++) {
      let stored: number;
      if (bitsAllocated === 32) {
        const v = view.getUint32((from + n) * 4, true);
        stored = signed ? (v << unused) >> unused : unused === 0 ? v : (v << unused) >>> unused;
      } else {
        const v = view.getUint16((from + n) * 2, true);
        stored = signed ? (v << unused) >> unused : (v << unused) >>> unused;
      }
      const gy = Math.fround(stored * scaling);
      out[to + n] = gy;
      if (gy > maxGy) maxGy = gy;
    }
  }
  return maxGy;
}

/** What an RT Plan says was prescribed. */
export interface RtPlanPrescription {
  sopInstanceUid: string;
  /** Target Prescription Dose (300A,0026) of the first TARGET dose reference, Gy; null when absent. */
  prescriptionGy: number | null;
  /** Number of Fractions Planned (300A,0078) of the first fraction group; null when absent. */
  fractions: number | null;
}

/**
 * Reads the prescription of an RT Plan (Modality RTPLAN): Target Prescription Dose of the first Dose
 * Reference Sequence (300A,0010) item whose Dose Reference Type is TARGET (else the first item with a
 * prescription), and Number of Fractions Planned of the first Fraction Group Sequence (300A,0070) item.
 * Either is null when the plan does not say; non-positive values count as not said.
 *
 * Errors: AppError('INVALID_INPUT') naming the file and the tag for a file that is not DICOM, not an
 * RTPLAN, or holds unparsable numbers.
 */
export function readRtPlanPrescription(bytes: Uint8Array, source: string): RtPlanPrescription {
  const ds = parseDicom(bytes, source).dataset;
  const modality = getString(ds, tags.modality);
  if (modality !== 'RTPLAN') {
    fail(source, `Modality ${formatTag(tags.modality)} is ${modality || 'missing'}, expected RTPLAN`);
  }
  const references = getSequence(ds, rtTags.doseReferenceSequence);
  const withDose = references.filter((item) => (getNumber(item, rtTags.targetPrescriptionDose) ?? 0) > 0);
  const target =
    withDose.find((item) => getString(item, rtTags.doseReferenceType) === 'TARGET') ?? withDose[0];
  const group = getSequence(ds, rtTags.fractionGroupSequence)[0];
  const fractions = group ? getNumber(group, rtTags.numberOfFractionsPlanned) : undefined;
  return {
    sopInstanceUid: requireString(ds, tags.sopInstanceUid, 'SOP Instance UID'),
    prescriptionGy: target ? getNumber(target, rtTags.targetPrescriptionDose)! : null,
    fractions: fractions !== undefined && Number.isInteger(fractions) && fractions > 0 ? fractions : null,
  };
}
