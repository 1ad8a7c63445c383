/**
 * RT Structure Set export: masks on a CT grid to a DICOM RTSTRUCT that a treatment planning system can
 * import. Contours come from maskToContours (marching squares, holes as their own contours); the IOD's
 * modules are filled here; dicom/writer.ts encodes the bytes.
 */
import { maskToContours } from '../../core/contours/mask-to-contours';
import { writeFileAtomically } from './atomic-write';
import { AppError } from '../../core/errors';
import type { ImageGrid } from '../../core/geometry/image-grid';
import type { Mask } from '../../core/volume/volume';
import { encodeDicomFile, newUid, type DicomDataset, type DicomElement } from './dicom/writer';

/** SOP Class UID of RT Structure Set Storage. */
export const RT_STRUCTURE_SET_STORAGE = '1.2.840.10008.5.1.4.1.1.481.3';
/**
 * Referenced SOP Class UID of the RT Referenced Study Sequence item: Detached Study Management (retired,
 * but what planning systems write and expect there).
 */
const DETACHED_STUDY_MANAGEMENT = '1.2.840.10008.3.1.2.3.1';
/**
 * Contour coordinates are written rounded to 0.1 µm. Vertices lie at least 0.35 x the smallest pixel
 * spacing from every voxel centre, so the rounding never changes which centres a contour encloses, and
 * the shorter numbers keep ContourData within the 16-bit DS length of explicit VR far more often.
 */
const CONTOUR_DECIMALS = 4;

/** One structure to export: a binary mask on the referenced CT grid. */
export interface RtStructRoiInput {
  /** ROI Number (3006,0022): a positive integer, unique within the structure set. */
  number: number;
  /** ROI Name (3006,0026), at most 64 characters, unique within the structure set. */
  name: string;
  /** ROI Display Color as '#rrggbb', or null to write none. */
  colourRgb: string | null;
  /** RT ROI Interpreted Type (3006,00A4): 'ORGAN', 'CTV', 'PTV', 'EXTERNAL', 'AVOIDANCE', ... or ''. */
  interpretedType: string;
  /** ROI Generation Algorithm (3006,0036); empty when not given. */
  generationAlgorithm?: 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL' | '';
  /** ROI Description (3006,0028), omitted when not given. */
  description?: string;
  mask: Mask;
}

/** The CT series the structure set is drawn on; slice k of `grid` is `sopInstanceUids[k]`. */
export interface ReferencedImageSeries {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  /** SOP Class UID of the images (CT Image Storage is 1.2.840.10008.5.1.4.1.1.2). */
  sopClassUid: string;
  /** SOP Instance UID of every slice, in the grid's slice order. */
  sopInstanceUids: string[];
  grid: ImageGrid;
}

/** Patient module values copied from the CT; '' writes the (Type 2) attribute empty. */
export interface RtStructPatient {
  patientName: string;
  patientId: string;
  /** YYYYMMDD or '' */
  patientBirthDate: string;
  /** 'M', 'F', 'O' or '' */
  patientSex: string;
}

/** General Study module values copied from the CT; '' writes the (Type 2) attribute empty. */
export interface RtStructStudy {
  /** YYYYMMDD or '' */
  studyDate: string;
  /** HHMMSS[.FFFFFF] or '' */
  studyTime: string;
  studyId: string;
  accessionNumber: string;
  referringPhysicianName: string;
}

/** Everything writeRtStruct needs. UIDs and the creation time are generated when not given. */
export interface RtStructInput {
  referencedSeries: ReferencedImageSeries;
  patient: RtStructPatient;
  study: RtStructStudy;
  structureSet: {
    /** Structure Set Label (3006,0002), Type 1: 1 to 16 characters. */
    label: string;
    name?: string;
    description?: string;
  };
  operatorsName?: string;
  /** Manufacturer (0008,0070); 'ContourBench' when not given. */
  manufacturer?: string;
  /** Series Number (0020,0011); 1 when not given. */
  seriesNumber?: number;
  seriesDescription?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Structure Set, Series and Instance Creation date and time (local time); now when not given. */
  createdAt?: Date;
  /** Douglas–Peucker tolerance for the contours (see maskToContours); 0, exact, when not given. */
  simplifyToleranceMm?: number;
  rois: RtStructRoiInput[];
}

/**
 * Encodes an RT Structure Set (SOP Class 1.2.840.10008.5.1.4.1.1.481.3) as a DICOM Part 10 file,
 * explicit VR little endian, with every module the IOD requires: Patient and General Study (copied),
 * RT Series (Modality RTSTRUCT, new Series Instance UID), General Equipment, Structure Set (label,
 * date, time, the referenced frame of reference, study, series and every slice in the Contour Image
 * Sequence, one Structure Set ROI item per ROI), ROI Contour (colour; one CLOSED_PLANAR contour per ring
 * of maskToContours, each referencing the slice it lies on), RT ROI Observations (interpreted type,
 * empty interpreter) and SOP Common (Specific Character Set ISO_IR 100, or ISO_IR 192 when some text is
 * outside Latin-1). An ROI with an empty mask is listed without a Contour Sequence. Contour coordinates
 * are LPS mm rounded to 1e-4 mm; rasterising them with the even-odd voxel-centre rule gives back each
 * mask exactly (without simplification).
 *
 * Errors: AppError('INVALID_ARGUMENT') when the label or a referenced UID is empty, the slice UIDs do
 * not match the grid's slice count, the
 * frame of reference differs from the grid's, ROI numbers are not unique positive integers, ROI names
 * repeat, a colour is not '#rrggbb', a mask is not on the grid, or a value violates its DICOM VR (the
 * message names the attribute).
 */
export function writeRtStruct(input: RtStructInput): Uint8Array {
  const series = input.referencedSeries;
  const grid = series.grid;
  const required: Array<[string, string]> = [
    ['Structure Set Label (3006,0002)', input.structureSet.label.trim()],
    ['Study Instance UID', series.studyInstanceUid],
    ['referenced Series Instance UID', series.seriesInstanceUid],
    ['Frame of Reference UID', series.frameOfReferenceUid],
    ['referenced SOP Class UID', series.sopClassUid],
  ];
  for (const [name, value] of required) {
    if (value === '') throw new AppError('INVALID_ARGUMENT', `${name} is required and must not be empty`);
  }
  const missingSlice = series.sopInstanceUids.indexOf('');
  if (missingSlice >= 0) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `slice ${missingSlice} of the referenced series has an empty SOP Instance UID`,
    );
  }
  if (series.sopInstanceUids.length !== grid.dims[2]) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `referenced series lists ${series.sopInstanceUids.length} SOP Instance UIDs for ${grid.dims[2]} slices`,
    );
  }
  if (grid.frameOfReferenceUid && grid.frameOfReferenceUid !== series.frameOfReferenceUid) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `frame of reference ${series.frameOfReferenceUid} differs from the grid's ${grid.frameOfReferenceUid}`,
    );
  }
  checkRois(input.rois);

  const createdAt = input.createdAt ?? new Date();
  const date = dicomDate(createdAt);
  const time = dicomTime(createdAt);
  const sopInstanceUid = input.sopInstanceUid ?? newUid();
  const seriesInstanceUid = input.seriesInstanceUid ?? newUid();
  const imageReference = (k: number): DicomDataset => [
    { tag: 0x00081150, vr: 'UI', value: series.sopClassUid },
    { tag: 0x00081155, vr: 'UI', value: series.sopInstanceUids[k] },
  ];

  const { patient, study } = input;
  const structureSetRois: DicomDataset[] = [];
  const roiContours: DicomDataset[] = [];
  const observations: DicomDataset[] = [];
  input.rois.forEach((roi, index) => {
    structureSetRois.push([
      { tag: 0x30060022, vr: 'IS', value: [roi.number] },
      { tag: 0x30060024, vr: 'UI', value: series.frameOfReferenceUid },
      { tag: 0x30060026, vr: 'LO', value: roi.name },
      ...optional(0x30060028, 'ST', roi.description),
      { tag: 0x30060036, vr: 'CS', value: roi.generationAlgorithm ?? '' },
    ]);

    const contourItems: DicomDataset[] = [];
    for (const { k, contours } of maskToContours(roi.mask, grid, {
      simplifyToleranceMm: input.simplifyToleranceMm,
    })) {
      for (const contour of contours) {
        const points = Array.from(contour.pointsLps, roundCoordinate);
        contourItems.push([
          { tag: 0x30060016, vr: 'SQ', value: [imageReference(k)] },
          { tag: 0x30060042, vr: 'CS', value: 'CLOSED_PLANAR' },
          { tag: 0x30060046, vr: 'IS', value: [points.length / 3] },
          { tag: 0x30060048, vr: 'IS', value: [contourItems.length + 1] },
          { tag: 0x30060050, vr: 'DS', value: points },
        ]);
      }
    }
    roiContours.push([
      { tag: 0x30060084, vr: 'IS', value: [roi.number] },
      ...(roi.colourRgb === null ? [] : [{ tag: 0x3006002a, vr: 'IS', value: rgb(roi.colourRgb) } as const]),
      ...(contourItems.length > 0 ? [{ tag: 0x30060040, vr: 'SQ', value: contourItems } as const] : []),
    ]);

    observations.push([
      { tag: 0x30060082, vr: 'IS', value: [index + 1] },
      { tag: 0x30060084, vr: 'IS', value: [roi.number] },
      { tag: 0x300600a4, vr: 'CS', value: roi.interpretedType },
      { tag: 0x300600a6, vr: 'PN', value: '' },
    ]);
  });

  const manufacturer = input.manufacturer ?? 'ContourBench';
  const texts = [
    ...Object.values(patient),
    ...Object.values(study),
    input.structureSet.label,
    input.structureSet.name ?? '',
    input.structureSet.description ?? '',
    input.operatorsName ?? '',
    input.seriesDescription ?? '',
    manufacturer,
    ...input.rois.flatMap((roi) => [roi.name, roi.description ?? '']),
  ];
  const characterSet = texts.some((text) => [...text].some((character) => character.codePointAt(0)! > 0xff))
    ? 'ISO_IR 192'
    : 'ISO_IR 100';

  const dataset: DicomElement[] = [
    // SOP Common
    { tag: 0x00080005, vr: 'CS', value: characterSet },
    { tag: 0x00080012, vr: 'DA', value: date },
    { tag: 0x00080013, vr: 'TM', value: time },
    { tag: 0x00080016, vr: 'UI', value: RT_STRUCTURE_SET_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: sopInstanceUid },
    // Patient
    { tag: 0x00100010, vr: 'PN', value: patient.patientName },
    { tag: 0x00100020, vr: 'LO', value: patient.patientId },
    { tag: 0x00100030, vr: 'DA', value: patient.patientBirthDate },
    { tag: 0x00100040, vr: 'CS', value: patient.patientSex },
    // General Study
    { tag: 0x0020000d, vr: 'UI', value: series.studyInstanceUid },
    { tag: 0x00080020, vr: 'DA', value: study.studyDate },
    { tag: 0x00080030, vr: 'TM', value: study.studyTime },
    { tag: 0x00080050, vr: 'SH', value: study.accessionNumber },
    { tag: 0x00080090, vr: 'PN', value: study.referringPhysicianName },
    { tag: 0x00200010, vr: 'SH', value: study.studyId },
    // RT Series
    { tag: 0x00080060, vr: 'CS', value: 'RTSTRUCT' },
    { tag: 0x0020000e, vr: 'UI', value: seriesInstanceUid },
    { tag: 0x00200011, vr: 'IS', value: [input.seriesNumber ?? 1] },
    { tag: 0x00080021, vr: 'DA', value: date },
    { tag: 0x00080031, vr: 'TM', value: time },
    ...optional(0x0008103e, 'LO', input.seriesDescription),
    { tag: 0x00081070, vr: 'PN', value: input.operatorsName ?? '' },
    // Frame of Reference (dciodvfy expects it; planning systems read the UID here too)
    { tag: 0x00200052, vr: 'UI', value: series.frameOfReferenceUid },
    { tag: 0x00201040, vr: 'LO', value: '' },
    // General Equipment
    { tag: 0x00080070, vr: 'LO', value: manufacturer },
    { tag: 0x00081090, vr: 'LO', value: 'ContourBench' },
    // Structure Set
    { tag: 0x30060002, vr: 'SH', value: input.structureSet.label },
    ...optional(0x30060004, 'LO', input.structureSet.name),
    ...optional(0x30060006, 'ST', input.structureSet.description),
    { tag: 0x00200013, vr: 'IS', value: [1] },
    { tag: 0x30060008, vr: 'DA', value: date },
    { tag: 0x30060009, vr: 'TM', value: time },
    {
      tag: 0x30060010,
      vr: 'SQ',
      value: [
        [
          { tag: 0x00200052, vr: 'UI', value: series.frameOfReferenceUid },
          {
            tag: 0x30060012,
            vr: 'SQ',
            value: [
              [
                { tag: 0x00081150, vr: 'UI', value: DETACHED_STUDY_MANAGEMENT },
                { tag: 0x00081155, vr: 'UI', value: series.studyInstanceUid },
                {
                  tag: 0x30060014,
                  vr: 'SQ',
                  value: [
                    [
                      { tag: 0x0020000e, vr: 'UI', value: series.seriesInstanceUid },
                      {
                        tag: 0x30060016,
                        vr: 'SQ',
                        value: series.sopInstanceUids.map((_, k) => imageReference(k)),
                      },
                    ],
                  ],
                },
              ],
            ],
          },
        ],
      ],
    },
    { tag: 0x30060020, vr: 'SQ', value: structureSetRois },
    // ROI Contour
    { tag: 0x30060039, vr: 'SQ', value: roiContours },
    // RT ROI Observations
    { tag: 0x30060080, vr: 'SQ', value: observations },
  ];
  return encodeDicomFile(dataset);
}

/**
 * Writes writeRtStruct's file to `filePath` atomically: the bytes go to a temporary file in the same
 * folder, are flushed to disk, then renamed over `filePath`, so readers never see a half-written file
 * and a failure leaves nothing behind.
 *
 * Errors: those of writeRtStruct; AppError('NOT_FOUND') when the folder does not exist;
 * AppError('INVALID_INPUT') when the file cannot be created or replaced. Messages start with the path.
 */
export async function writeRtStructFile(filePath: string, input: RtStructInput): Promise<void> {
  const bytes = writeRtStruct(input);
  await writeFileAtomically(filePath, bytes);
}

function checkRois(rois: RtStructRoiInput[]): void {
  const numbers = new Set<number>();
  const names = new Set<string>();
  for (const roi of rois) {
    if (!Number.isInteger(roi.number) || roi.number < 1 || roi.number > 0x7fffffff) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `ROI '${roi.name}': number must be a positive integer, got ${roi.number}`,
      );
    }
    if (numbers.has(roi.number)) {
      throw new AppError('INVALID_ARGUMENT', `ROI number ${roi.number} is used by more than one ROI`);
    }
    numbers.add(roi.number);
    if (names.has(roi.name)) {
      throw new AppError('INVALID_ARGUMENT', `ROI name '${roi.name}' is used by more than one ROI`);
    }
    names.add(roi.name);
    if (roi.colourRgb !== null && !/^#[0-9a-fA-F]{6}$/.test(roi.colourRgb)) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `ROI '${roi.name}': colour must be '#rrggbb', got '${roi.colourRgb}'`,
      );
    }
  }
}

function optional(tag: number, vr: 'LO' | 'ST', value: string | undefined): DicomElement[] {
  return value === undefined || value === '' ? [] : [{ tag, vr, value }];
}

function rgb(colour: string): number[] {
  return [1, 3, 5].map((offset) => parseInt(colour.slice(offset, offset + 2), 16));
}

function roundCoordinate(valueMm: number): number {
  const scale = 10 ** CONTOUR_DECIMALS;
  return Math.round(valueMm * scale) / scale;
}

function dicomDate(when: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${when.getFullYear()}${pad(when.getMonth() + 1)}${pad(when.getDate())}`;
}

function dicomTime(when: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(when.getHours())}${pad(when.getMinutes())}${pad(when.getSeconds())}`;
}
