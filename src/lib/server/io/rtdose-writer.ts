/**
 * RT Dose export: a dose volume in Gy to a grid-based DICOM RTDOSE (one frame per dose plane) on the
 * frame of reference of its CT, as a planning system writes a plan dose. The IOD's modules are filled
 * here; dicom/writer.ts encodes the bytes.
 */
import { AppError } from '../../core/errors';
import { cross, dot } from '../../core/geometry/image-grid';
import type { Vec3, Volume } from '../../core/volume/volume';
import { writeFileAtomically } from './atomic-write';
import { encodeDicomFile, formatDs, newUid, type DicomElement } from './dicom/writer';
import { RT_DOSE_STORAGE, RT_PLAN_STORAGE, rtTags } from './rtdose';

/** Largest stored value used: the maximum dose maps to about 4e9 of the 32-bit range (2^32 - 1). */
const STORED_MAX = 4_000_000_000;

/** Everything writeRtDose needs. UIDs and the creation time are generated when not given. */
export interface RtDoseInput {
  /** Dose in Gy, finite and >= 0, on any grid whose k axis runs along ± (row x column). */
  dose: Volume<Float32Array>;
  frameOfReferenceUid: string;
  /** Patient module values copied from the CT; '' writes the (Type 2) attribute empty. */
  patient: { patientName: string; patientId: string; patientBirthDate: string; patientSex: string };
  /** General Study module values copied from the CT. */
  study: {
    studyInstanceUid: string;
    studyDate: string;
    studyTime: string;
    studyId: string;
    accessionNumber: string;
    referringPhysicianName: string;
  };
  /** SOP Instance UID of the RT Plan the dose was computed for, or null when there is none to refer to. */
  referencedPlanSopInstanceUid?: string | null;
  /** Manufacturer (0008,0070); 'ContourBench' when not given. */
  manufacturer?: string;
  seriesNumber?: number;
  seriesDescription?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Instance and Content date and time (local time); now when not given. */
  createdAt?: Date;
}

/**
 * The Dose Grid Scaling (Gy per stored unit) writeRtDose uses for a maximum dose: max / 4e9 rounded to 6
 * significant digits, so the maximum is stored near the top of the unsigned 32-bit range and the
 * scaling prints exactly as a DS; 1 for an all-zero dose. The read-back error is at most half of it.
 */
export function doseGridScaling(maxGy: number): number {
  if (!(maxGy > 0)) return 1;
  return Number(formatDs(Number((maxGy / STORED_MAX).toPrecision(6))));
}

/**
 * Encodes an RT Dose (SOP Class 1.2.840.10008.5.1.4.1.1.481.2) as a DICOM Part 10 file, explicit VR
 * little endian: Patient and General Study (copied from the CT), RT Series (Modality RTDOSE), Frame of
 * Reference, General Equipment, General Image, Image Plane (position of the first frame, orientation,
 * pixel spacing), Image Pixel and Multi-frame (one frame per k plane, Frame Increment Pointer to Grid
 * Frame Offset Vector), RT Dose (Dose Units GY, Dose Type PHYSICAL, Dose Summation Type PLAN, relative
 * Grid Frame Offset Vector starting at 0 and negative when k runs against the normal, Dose Grid Scaling
 * from doseGridScaling, the Referenced RT Plan Sequence when a plan is given) and SOP Common. Pixels are
 * 32-bit unsigned: stored = round(Gy / scaling).
 *
 * Errors: AppError('INVALID_ARGUMENT') for an empty Frame of Reference or Study Instance UID, a dose with
 * NaN, infinite or negative values, data not matching the dims, more than 65535 rows or columns, an
 * affine whose i and j axes are not perpendicular or whose k axis is not along ± (row x column), or a
 * value that violates its DICOM VR (the message names the attribute).
 */
export function writeRtDose(input: RtDoseInput): Uint8Array {
  const { dose, patient, study } = input;
  if (input.frameOfReferenceUid === '') {
    throw new AppError('INVALID_ARGUMENT', 'an RT Dose needs a Frame of Reference UID');
  }
  if (study.studyInstanceUid === '') {
    throw new AppError('INVALID_ARGUMENT', 'an RT Dose needs a Study Instance UID');
  }
  const [nx, ny, nz] = dose.dims;
  if (dose.data.length !== nx * ny * nz) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `dose data holds ${dose.data.length} voxels, the grid ${nx}x${ny}x${nz} needs ${nx * ny * nz}`,
    );
  }
  if (nx < 1 || ny < 1 || nz < 1 || nx > 0xffff || ny > 0xffff) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `dose grid ${nx}x${ny}x${nz}: rows and columns must be 1 to 65535`,
    );
  }
  const geometry = frameGeometry(dose);
  let maxGy = 0;
  for (let n = 0; n < dose.data.length; n++) {
    const gy = dose.data[n];
    if (!(gy >= 0) || gy === Infinity) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `dose voxel ${n} is ${gy} Gy; a physical dose is finite and not negative`,
      );
    }
    if (gy > maxGy) maxGy = gy;
  }
  const scaling = doseGridScaling(maxGy);
  const pixels = new Uint8Array(dose.data.length * 4);
  const view = new DataView(pixels.buffer);
  for (let n = 0; n < dose.data.length; n++) {
    view.setUint32(n * 4, Math.min(0xffffffff, Math.round(dose.data[n] / scaling)), true);
  }

  const createdAt = input.createdAt ?? new Date();
  const date = dicomDate(createdAt);
  const time = dicomTime(createdAt);
  const manufacturer = input.manufacturer ?? 'ContourBench';
  const texts = [
    ...Object.values(patient),
    ...Object.values(study),
    input.seriesDescription ?? '',
    manufacturer,
  ];
  const characterSet = texts.some((text) => [...text].some((character) => character.codePointAt(0)! > 0xff))
    ? 'ISO_IR 192'
    : 'ISO_IR 100';
  const plan = input.referencedPlanSopInstanceUid;
  const planReference: DicomElement[] = plan
    ? [
        {
          tag: rtTags.referencedRtPlanSequence,
          vr: 'SQ',
          value: [
            [
              { tag: 0x00081150, vr: 'UI', value: RT_PLAN_STORAGE },
              { tag: 0x00081155, vr: 'UI', value: plan },
            ],
          ],
        },
      ]
    : [];
  const description: DicomElement[] = input.seriesDescription
    ? [{ tag: 0x0008103e, vr: 'LO', value: input.seriesDescription }]
    : [];
  const dataset: DicomElement[] = [
    // SOP Common
    { tag: 0x00080005, vr: 'CS', value: characterSet },
    { tag: 0x00080012, vr: 'DA', value: date },
    { tag: 0x00080013, vr: 'TM', value: time },
    { tag: 0x00080016, vr: 'UI', value: RT_DOSE_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: input.sopInstanceUid ?? newUid() },
    // Patient
    { tag: 0x00100010, vr: 'PN', value: patient.patientName },
    { tag: 0x00100020, vr: 'LO', value: patient.patientId },
    { tag: 0x00100030, vr: 'DA', value: patient.patientBirthDate },
    { tag: 0x00100040, vr: 'CS', value: patient.patientSex },
    // General Study
    { tag: 0x0020000d, vr: 'UI', value: study.studyInstanceUid },
    { tag: 0x00080020, vr: 'DA', value: study.studyDate },
    { tag: 0x00080030, vr: 'TM', value: study.studyTime },
    { tag: 0x00080050, vr: 'SH', value: study.accessionNumber },
    { tag: 0x00080090, vr: 'PN', value: study.referringPhysicianName },
    { tag: 0x00200010, vr: 'SH', value: study.studyId },
    // RT Series
    { tag: 0x00080060, vr: 'CS', value: 'RTDOSE' },
    { tag: 0x0020000e, vr: 'UI', value: input.seriesInstanceUid ?? newUid() },
    { tag: 0x00200011, vr: 'IS', value: [input.seriesNumber ?? 1] },
    ...description,
    { tag: 0x00081070, vr: 'PN', value: '' },
    // Frame of Reference
    { tag: 0x00200052, vr: 'UI', value: input.frameOfReferenceUid },
    { tag: 0x00201040, vr: 'LO', value: '' },
    // General Equipment
    { tag: 0x00080070, vr: 'LO', value: manufacturer },
    { tag: 0x00081090, vr: 'LO', value: 'ContourBench' },
    // General Image
    { tag: 0x00200013, vr: 'IS', value: [1] },
    { tag: 0x00080023, vr: 'DA', value: date },
    { tag: 0x00080033, vr: 'TM', value: time },
    // Image Plane
    // Pixel Spacing is row spacing (down a column) \ column spacing (along a row)
    { tag: 0x00280030, vr: 'DS', value: [geometry.spacingMm[1], geometry.spacingMm[0]] },
    { tag: 0x00200037, vr: 'DS', value: [...geometry.rowLps, ...geometry.columnLps] },
    { tag: 0x00200032, vr: 'DS', value: [...geometry.originLps] },
    { tag: 0x00180050, vr: 'DS', value: [geometry.spacingMm[2]] },
    // Image Pixel and Multi-frame
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280008, vr: 'IS', value: [nz] },
    { tag: rtTags.frameIncrementPointer, vr: 'AT', value: [rtTags.gridFrameOffsetVector] },
    { tag: 0x00280010, vr: 'US', value: [ny] },
    { tag: 0x00280011, vr: 'US', value: [nx] },
    { tag: 0x00280100, vr: 'US', value: [32] },
    { tag: 0x00280101, vr: 'US', value: [32] },
    { tag: 0x00280102, vr: 'US', value: [31] },
    { tag: 0x00280103, vr: 'US', value: [0] },
    { tag: 0x7fe00010, vr: 'OW', value: pixels },
    // RT Dose
    { tag: rtTags.doseUnits, vr: 'CS', value: 'GY' },
    { tag: rtTags.doseType, vr: 'CS', value: 'PHYSICAL' },
    { tag: rtTags.doseSummationType, vr: 'CS', value: 'PLAN' },
    {
      tag: rtTags.gridFrameOffsetVector,
      vr: 'DS',
      value: Array.from({ length: nz }, (_, k) => roundOffset(k * geometry.stepAlongNormalMm)),
    },
    { tag: rtTags.doseGridScaling, vr: 'DS', value: [scaling] },
    { tag: 0x30040014, vr: 'CS', value: 'IMAGE' },
    ...planReference,
  ];
  return encodeDicomFile(dataset);
}

/**
 * Writes writeRtDose's file to `filePath` atomically (a temporary file, flushed, then renamed).
 * Errors: those of writeRtDose and of writeFileAtomically; messages start with the path when the write fails.
 */
export async function writeRtDoseFile(filePath: string, input: RtDoseInput): Promise<void> {
  await writeFileAtomically(filePath, writeRtDose(input));
}

/**
 * The frames' geometry from the affine (what positions mean): row and column unit vectors, the first
 * frame's position, the spacings and the signed step along the normal.
 */
function frameGeometry(dose: Volume<Float32Array>): {
  rowLps: Vec3;
  columnLps: Vec3;
  originLps: Vec3;
  spacingMm: Vec3;
  stepAlongNormalMm: number;
} {
  const a = dose.affineIjkToLps;
  const column = (c: number): Vec3 => [a[c], a[4 + c], a[8 + c]];
  const unit = (v: Vec3): Vec3 => {
    const length = Math.hypot(v[0], v[1], v[2]);
    return [v[0] / length, v[1] / length, v[2] / length];
  };
  const rowLps = unit(column(0));
  const columnLps = unit(column(1));
  const kAxis = column(2);
  const normal = cross(rowLps, columnLps);
  const stepAlongNormalMm = dot(kAxis, normal);
  const offAxis = Math.hypot(dot(kAxis, rowLps), dot(kAxis, columnLps));
  if (
    Math.abs(dot(rowLps, columnLps)) > 1e-6 ||
    !(Math.abs(stepAlongNormalMm) > 0) ||
    offAxis > 1e-6 * Math.abs(stepAlongNormalMm)
  ) {
    throw new AppError(
      'INVALID_ARGUMENT',
      'a dose grid needs perpendicular i and j axes and a k axis along ± (row x column): DICOM frames are parallel planes',
    );
  }
  return {
    rowLps,
    columnLps,
    originLps: [a[3], a[7], a[11]],
    spacingMm: [Math.hypot(...column(0)), Math.hypot(...column(1)), Math.abs(stepAlongNormalMm)],
    stepAlongNormalMm,
  };
}

/** Offsets rounded to 1e-6 mm, so 3 x 0.1 prints as 0.3 rather than 0.30000000000000004. */
function roundOffset(valueMm: number): number {
  const rounded = Math.round(valueMm * 1e6) / 1e6;
  return rounded === 0 ? 0 : rounded;
}

function dicomDate(when: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}`;
}

function dicomTime(when: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
}
