import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../core/errors';
import type { ImageGrid } from '../../core/geometry/image-grid';
import { writeFileAtomically } from './atomic-write';
import { encodeDicomFile, type DicomDataset } from './dicom/writer';

export const ctImageStorage = '1.2.840.10008.5.1.4.1.1.2';

export interface CtScannerTags {
  manufacturer: string;
  model: string;
  stationName: string;
  institutionName: string;
  kvp: number;
  convolutionKernel: string;
  sliceThicknessMm: number;
}

export interface CtSeriesInput {
  grid: ImageGrid;
  /** HU on the grid, i fastest; stored as HU + 1024 (12 bits stored, intercept -1024). */
  hu: Int16Array;
  patient: { name: string; id: string; birthDate: string; sex: string };
  study: {
    instanceUid: string;
    date: string;
    time: string;
    id: string;
    accessionNumber: string;
    description: string;
  };
  series: { instanceUid: string; number: number; description: string; sopInstanceUids: string[] };
  scanner: CtScannerTags;
  /** YYYYMMDD and HHMMSS of the acquisition. */
  acquisitionDate: string;
  acquisitionTime: string;
}

/** The CT Image IOD of slice k: patient, study, series, frame of reference, equipment, image plane and pixel, CT image, SOP common. */
export function ctSliceDataset(input: CtSeriesInput, k: number): DicomDataset {
  const { grid } = input;
  const [nx, ny] = grid.dims;
  const plane = nx * ny;
  const pixels = new Uint8Array(plane * 2);
  const view = new DataView(pixels.buffer);
  const base = k * plane;
  for (let n = 0; n < plane; n++) {
    const stored = Math.max(0, Math.min(4095, input.hu[base + n] + 1024));
    view.setUint16(n * 2, stored, true);
  }
  const position = grid.slicePositionLps[k];
  const sliceLocation =
    position[0] * grid.normalLps[0] + position[1] * grid.normalLps[1] + position[2] * grid.normalLps[2];
  return [
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
    { tag: 0x00080008, vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    { tag: 0x00080016, vr: 'UI', value: ctImageStorage },
    { tag: 0x00080018, vr: 'UI', value: input.series.sopInstanceUids[k] },
    { tag: 0x00080020, vr: 'DA', value: input.study.date },
    { tag: 0x00080021, vr: 'DA', value: input.acquisitionDate },
    { tag: 0x00080022, vr: 'DA', value: input.acquisitionDate },
    { tag: 0x00080030, vr: 'TM', value: input.study.time },
    { tag: 0x00080032, vr: 'TM', value: input.acquisitionTime },
    { tag: 0x00080050, vr: 'SH', value: input.study.accessionNumber },
    { tag: 0x00080060, vr: 'CS', value: 'CT' },
    { tag: 0x00080070, vr: 'LO', value: input.scanner.manufacturer },
    { tag: 0x00080080, vr: 'LO', value: input.scanner.institutionName },
    { tag: 0x00080090, vr: 'PN', value: '' },
    { tag: 0x00081010, vr: 'SH', value: input.scanner.stationName },
    { tag: 0x00081030, vr: 'LO', value: input.study.description },
    { tag: 0x0008103e, vr: 'LO', value: input.series.description },
    { tag: 0x00081090, vr: 'LO', value: input.scanner.model },
    { tag: 0x00100010, vr: 'PN', value: input.patient.name },
    { tag: 0x00100020, vr: 'LO', value: input.patient.id },
    { tag: 0x00100030, vr: 'DA', value: input.patient.birthDate },
    { tag: 0x00100040, vr: 'CS', value: input.patient.sex },
    { tag: 0x00180050, vr: 'DS', value: [input.scanner.sliceThicknessMm] },
    { tag: 0x00180060, vr: 'DS', value: [input.scanner.kvp] },
    { tag: 0x00181210, vr: 'SH', value: input.scanner.convolutionKernel },
    { tag: 0x00185100, vr: 'CS', value: 'HFS' },
    { tag: 0x0020000d, vr: 'UI', value: input.study.instanceUid },
    { tag: 0x0020000e, vr: 'UI', value: input.series.instanceUid },
    { tag: 0x00200010, vr: 'SH', value: input.study.id },
    { tag: 0x00200011, vr: 'IS', value: [input.series.number] },
    { tag: 0x00200012, vr: 'IS', value: [1] },
    { tag: 0x00200013, vr: 'IS', value: [k + 1] },
    { tag: 0x00200020, vr: 'CS', value: ['L', 'P'] },
    { tag: 0x00200032, vr: 'DS', value: [...position] },
    { tag: 0x00200037, vr: 'DS', value: [...grid.rowLps, ...grid.columnLps] },
    { tag: 0x00200052, vr: 'UI', value: grid.frameOfReferenceUid },
    { tag: 0x00200060, vr: 'CS', value: '' },
    { tag: 0x00201040, vr: 'LO', value: '' },
    { tag: 0x00201041, vr: 'DS', value: [sliceLocation] },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [ny] },
    { tag: 0x00280011, vr: 'US', value: [nx] },
    // Pixel Spacing is row spacing (down a column) \ column spacing (along a row)
    { tag: 0x00280030, vr: 'DS', value: [grid.spacingMm[1], grid.spacingMm[0]] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280102, vr: 'US', value: [11] },
    { tag: 0x00280103, vr: 'US', value: [0] },
    { tag: 0x00281050, vr: 'DS', value: [40] },
    { tag: 0x00281051, vr: 'DS', value: [400] },
    { tag: 0x00281052, vr: 'DS', value: [-1024] },
    { tag: 0x00281053, vr: 'DS', value: [1] },
    { tag: 0x00281054, vr: 'LO', value: 'HU' },
    { tag: 0x7fe00010, vr: 'OW', value: pixels },
  ];
}

/**
 * Writes a CT series as one Part 10 file per slice (explicit VR little endian) into `folder`, named
 * CT.<k>.dcm, each written atomically. Returns the file paths in slice order.
 */
export async function writeCtSeries(folder: string, input: CtSeriesInput): Promise<string[]> {
  const [nx, ny, nz] = input.grid.dims;
  if (input.hu.length !== nx * ny * nz) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `CT data holds ${input.hu.length} voxels, the grid ${nx}x${ny}x${nz}`,
    );
  }
  if (input.series.sopInstanceUids.length !== nz) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `${input.series.sopInstanceUids.length} SOP Instance UIDs for ${nz} slices`,
    );
  }
  await mkdir(folder, { recursive: true });
  const files: string[] = [];
  for (let k = 0; k < nz; k++) {
    const file = path.join(folder, `CT.${String(k).padStart(3, '0')}.dcm`);
    await writeFileAtomically(file, encodeDicomFile(ctSliceDataset(input, k)));
    files.push(file);
  }
  return files;
}
