import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../../test/helpers/random';
import { AppError } from '../../core/errors';
import { cross, dot, type ImageGrid } from '../../core/geometry/image-grid';
import type { Mask, Vec3 } from '../../core/volume/volume';
import {
  encodeDataset,
  encodeDicomFile,
  EXPLICIT_VR_LITTLE_ENDIAN,
  formatDs,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  newUid,
  type DicomDataset,
} from './dicom/writer';
import {
  RT_STRUCTURE_SET_STORAGE,
  writeRtStruct,
  writeRtStructFile,
  type RtStructInput,
  type RtStructRoiInput,
} from './rtstruct-writer';

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

// ---------------------------------------------------------------------------------------------------
// Test-local helpers: a grid builder, a minimal explicit-VR-little-endian reader, an even-odd
// voxel-centre rasteriser (DESIGN.md's rule, written independently of the real one) and a CT writer.
// ---------------------------------------------------------------------------------------------------

function makeGrid(
  dims: Vec3,
  spacingMm: Vec3,
  options: { rowLps?: Vec3; columnLps?: Vec3; originLps?: Vec3; frameOfReferenceUid?: string } = {},
): ImageGrid {
  const rowLps = options.rowLps ?? [1, 0, 0];
  const columnLps = options.columnLps ?? [0, 1, 0];
  const normalLps = cross(rowLps, columnLps);
  const originLps = options.originLps ?? [0, 0, 0];
  const slicePositionLps = Array.from(
    { length: dims[2] },
    (_, k) => originLps.map((value, axis) => value + k * spacingMm[2] * normalLps[axis]) as unknown as Vec3,
  );
  const affine = new Float64Array(16);
  for (let axis = 0; axis < 3; axis++) {
    affine[axis * 4] = rowLps[axis] * spacingMm[0];
    affine[axis * 4 + 1] = columnLps[axis] * spacingMm[1];
    affine[axis * 4 + 2] = normalLps[axis] * spacingMm[2];
    affine[axis * 4 + 3] = originLps[axis];
  }
  affine[15] = 1;
  return {
    dims,
    spacingMm,
    rowLps,
    columnLps,
    normalLps,
    slicePositionLps,
    slicePositionsMm: slicePositionLps.map((position) => dot(position, normalLps)),
    affineIjkToLps: affine,
    frameOfReferenceUid: options.frameOfReferenceUid ?? '',
  };
}

function emptyMask(grid: ImageGrid): Mask {
  const [nx, ny, nz] = grid.dims;
  return {
    data: new Uint8Array(nx * ny * nz),
    dims: grid.dims,
    spacingMm: grid.spacingMm,
    affineIjkToLps: grid.affineIjkToLps,
  };
}

function maskFrom(grid: ImageGrid, inside: (i: number, j: number, k: number) => boolean): Mask {
  const mask = emptyMask(grid);
  const [nx, ny, nz] = grid.dims;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) mask.data[i + nx * (j + ny * k)] = inside(i, j, k) ? 1 : 0;
    }
  }
  return mask;
}

function countOnes(data: Uint8Array): number {
  let count = 0;
  for (const value of data) count += value !== 0 ? 1 : 0;
  return count;
}

interface ParsedElement {
  tag: number;
  vr: string;
  bytes: Uint8Array;
  items?: ParsedDataset[];
}
type ParsedDataset = Map<number, ParsedElement>;

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Reads explicit VR little endian with defined lengths only (what our writer produces), checking tag order. */
function parseDataset(bytes: Uint8Array, start: number, end: number): ParsedDataset {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: ParsedDataset = new Map();
  let offset = start;
  let previousTag = -1;
  while (offset < end) {
    const tag = view.getUint16(offset, true) * 0x10000 + view.getUint16(offset + 2, true);
    expect(tag).toBeGreaterThan(previousTag);
    previousTag = tag;
    const vr = String.fromCharCode(bytes[offset + 4], bytes[offset + 5]);
    let length: number;
    if (LONG_VRS.has(vr)) {
      expect(view.getUint16(offset + 6, true)).toBe(0);
      length = view.getUint32(offset + 8, true);
      offset += 12;
    } else {
      length = view.getUint16(offset + 6, true);
      offset += 8;
    }
    expect(length % 2).toBe(0);
    const element: ParsedElement = { tag, vr, bytes: bytes.subarray(offset, offset + length) };
    if (vr === 'SQ') {
      element.items = [];
      let itemOffset = offset;
      while (itemOffset < offset + length) {
        expect(view.getUint16(itemOffset, true)).toBe(0xfffe);
        expect(view.getUint16(itemOffset + 2, true)).toBe(0xe000);
        const itemLength = view.getUint32(itemOffset + 4, true);
        element.items.push(parseDataset(bytes, itemOffset + 8, itemOffset + 8 + itemLength));
        itemOffset += 8 + itemLength;
      }
      expect(itemOffset).toBe(offset + length);
    }
    out.set(tag, element);
    offset += length;
  }
  expect(offset).toBe(end);
  return out;
}

function parseDicomFile(bytes: Uint8Array): { meta: ParsedDataset; dataset: ParsedDataset } {
  expect(Array.from(bytes.subarray(0, 128)).every((byte) => byte === 0)).toBe(true);
  expect(new TextDecoder('latin1').decode(bytes.subarray(128, 132))).toBe('DICM');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(view.getUint32(132, true)).toBe(0x00000002);
  expect(String.fromCharCode(bytes[136], bytes[137])).toBe('UL');
  const groupLength = view.getUint32(140, true);
  const meta = parseDataset(bytes, 132, 144 + groupLength);
  return { meta, dataset: parseDataset(bytes, 144 + groupLength, bytes.length) };
}

function element(dataset: ParsedDataset, tag: number): ParsedElement {
  const found = dataset.get(tag);
  if (!found) throw new Error(`missing (${tag.toString(16).padStart(8, '0')})`);
  return found;
}

function text(dataset: ParsedDataset, tag: number, decoder = new TextDecoder('latin1')): string {
  return decoder.decode(element(dataset, tag).bytes).replace(/[\0 ]+$/, '');
}

function texts(dataset: ParsedDataset, tag: number): string[] {
  return text(dataset, tag).split('\\');
}

function numbers(dataset: ParsedDataset, tag: number): number[] {
  return texts(dataset, tag).map(Number);
}

function items(dataset: ParsedDataset, tag: number): ParsedDataset[] {
  return element(dataset, tag).items ?? [];
}

/** Even-odd voxel-centre rasterisation of contours read from a file (DESIGN.md, independent of src). */
function rasteriseEvenOdd(contourData: number[][], grid: ImageGrid): Uint8Array {
  const [nx, ny, nz] = grid.dims;
  const out = new Uint8Array(nx * ny * nz);
  const bySlice = new Map<number, Array<{ x: number[]; y: number[] }>>();
  for (const p of contourData) {
    const positionMm = p[0] * grid.normalLps[0] + p[1] * grid.normalLps[1] + p[2] * grid.normalLps[2];
    let k = 0;
    for (let s = 1; s < nz; s++) {
      if (Math.abs(grid.slicePositionsMm[s] - positionMm) < Math.abs(grid.slicePositionsMm[k] - positionMm))
        k = s;
    }
    expect(Math.abs(grid.slicePositionsMm[k] - positionMm)).toBeLessThan(grid.spacingMm[2] / 2);
    const origin = grid.slicePositionLps[k];
    const x: number[] = [];
    const y: number[] = [];
    for (let m = 0; m < p.length; m += 3) {
      const d: Vec3 = [p[m] - origin[0], p[m + 1] - origin[1], p[m + 2] - origin[2]];
      x.push(dot(d, grid.rowLps));
      y.push(dot(d, grid.columnLps));
    }
    bySlice.set(k, [...(bySlice.get(k) ?? []), { x, y }]);
  }
  for (const [k, polygons] of bySlice) {
    for (let j = 0; j < ny; j++) {
      const cy = j * grid.spacingMm[1];
      for (let i = 0; i < nx; i++) {
        const cx = i * grid.spacingMm[0];
        let inside = false;
        for (const { x, y } of polygons) {
          for (let a = 0, b = x.length - 1; a < x.length; b = a++) {
            if (y[a] > cy !== y[b] > cy && cx < ((x[b] - x[a]) * (cy - y[a])) / (y[b] - y[a]) + x[a]) {
              inside = !inside;
            }
          }
        }
        if (inside) out[i + nx * (j + ny * k)] = 1;
      }
    }
  }
  return out;
}

const patient = {
  patientName: 'Doe^Jane',
  patientId: 'CB-0001',
  patientBirthDate: '19700101',
  patientSex: 'F',
};
const study = {
  studyDate: '20240102',
  studyTime: '101500',
  studyId: 'S1',
  accessionNumber: 'A123',
  referringPhysicianName: 'Ref^Doc',
};

interface CtSeries {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  sopInstanceUids: string[];
  grid: ImageGrid;
}

function makeCtSeries(grid: ImageGrid): CtSeries {
  return {
    studyInstanceUid: newUid(),
    seriesInstanceUid: newUid(),
    frameOfReferenceUid: grid.frameOfReferenceUid,
    sopInstanceUids: grid.slicePositionLps.map(() => newUid()),
    grid,
  };
}

/** A minimal CT Image IOD for slice k: enough for dciodvfy and for plastimatch to take the geometry. */
function ctSliceDataset(series: CtSeries, k: number): DicomDataset {
  const { grid } = series;
  const [nx, ny] = grid.dims;
  const pixels = new Uint8Array(nx * ny * 2);
  return [
    { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
    { tag: 0x00080008, vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    { tag: 0x00080016, vr: 'UI', value: CT_IMAGE_STORAGE },
    { tag: 0x00080018, vr: 'UI', value: series.sopInstanceUids[k] },
    { tag: 0x00080020, vr: 'DA', value: study.studyDate },
    { tag: 0x00080030, vr: 'TM', value: study.studyTime },
    { tag: 0x00080050, vr: 'SH', value: study.accessionNumber },
    { tag: 0x00080060, vr: 'CS', value: 'CT' },
    { tag: 0x00080070, vr: 'LO', value: 'ContourBench test' },
    { tag: 0x00080090, vr: 'PN', value: study.referringPhysicianName },
    { tag: 0x00100010, vr: 'PN', value: patient.patientName },
    { tag: 0x00100020, vr: 'LO', value: patient.patientId },
    { tag: 0x00100030, vr: 'DA', value: patient.patientBirthDate },
    { tag: 0x00100040, vr: 'CS', value: patient.patientSex },
    { tag: 0x00180050, vr: 'DS', value: [grid.spacingMm[2]] },
    { tag: 0x00180060, vr: 'DS', value: [120] },
    { tag: 0x00185100, vr: 'CS', value: 'HFS' },
    { tag: 0x0020000d, vr: 'UI', value: series.studyInstanceUid },
    { tag: 0x0020000e, vr: 'UI', value: series.seriesInstanceUid },
    { tag: 0x00200010, vr: 'SH', value: study.studyId },
    { tag: 0x00200011, vr: 'IS', value: [1] },
    { tag: 0x00200012, vr: 'IS', value: [1] },
    { tag: 0x00200013, vr: 'IS', value: [k + 1] },
    { tag: 0x00200020, vr: 'CS', value: ['L', 'P'] },
    { tag: 0x00200032, vr: 'DS', value: [...grid.slicePositionLps[k]] },
    { tag: 0x00200037, vr: 'DS', value: [...grid.rowLps, ...grid.columnLps] },
    { tag: 0x00200052, vr: 'UI', value: series.frameOfReferenceUid },
    { tag: 0x00200060, vr: 'CS', value: 'L' },
    { tag: 0x00201040, vr: 'LO', value: '' },
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: [ny] },
    { tag: 0x00280011, vr: 'US', value: [nx] },
    // PixelSpacing is (row spacing, i.e. down a column) \ (column spacing, i.e. along a row).
    { tag: 0x00280030, vr: 'DS', value: [grid.spacingMm[1], grid.spacingMm[0]] },
    { tag: 0x00280100, vr: 'US', value: [16] },
    { tag: 0x00280101, vr: 'US', value: [16] },
    { tag: 0x00280102, vr: 'US', value: [15] },
    { tag: 0x00280103, vr: 'US', value: [1] },
    { tag: 0x00281052, vr: 'DS', value: [-1024] },
    { tag: 0x00281053, vr: 'DS', value: [1] },
    { tag: 0x7fe00010, vr: 'OW', value: pixels },
  ];
}

function baseInput(series: CtSeries, rois: RtStructRoiInput[]): RtStructInput {
  return {
    referencedSeries: { ...series, sopClassUid: CT_IMAGE_STORAGE },
    patient,
    study,
    structureSet: { label: 'AI contours', name: 'Model v1 export', description: 'Exported by ContourBench' },
    operatorsName: 'Physicist^Test',
    seriesDescription: 'ContourBench export',
    createdAt: new Date(2024, 5, 11, 14, 30, 5),
    rois,
  };
}

/** Every contour of one ROI of a parsed RTSTRUCT, with the UID it references. */
function parsedContours(dataset: ParsedDataset, roiNumber: number): Array<{ points: number[]; uid: string }> {
  const roi = items(dataset, 0x30060039).find((item) => numbers(item, 0x30060084)[0] === roiNumber);
  expect(roi).toBeDefined();
  if (!roi!.has(0x30060040)) return [];
  return items(roi!, 0x30060040).map((contour) => {
    expect(text(contour, 0x30060042)).toBe('CLOSED_PLANAR');
    const points = numbers(contour, 0x30060050);
    expect(points.length).toBe(3 * numbers(contour, 0x30060046)[0]);
    const images = items(contour, 0x30060016);
    expect(images).toHaveLength(1);
    expect(text(images[0], 0x00081150)).toBe(CT_IMAGE_STORAGE);
    return { points, uid: text(images[0], 0x00081155) };
  });
}

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

const hasDciodvfy = commandExists('dciodvfy');
const hasPlastimatch = commandExists('plastimatch');

function dciodvfy(file: string): string[] {
  const run = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  return `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
}

// ---------------------------------------------------------------------------------------------------
// The encoder
// ---------------------------------------------------------------------------------------------------

describe('encodeDicomFile', () => {
  const sopInstanceUid = '1.2.3.4.5';
  const minimal: DicomDataset = [
    { tag: 0x00080018, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00080016, vr: 'UI', value: RT_STRUCTURE_SET_STORAGE },
  ];

  it('writes preamble, DICM and a File Meta group with its length, UIDs and version name', () => {
    const { meta, dataset } = parseDicomFile(encodeDicomFile(minimal));
    expect(numbers(meta, 0x00020000)).toHaveLength(1);
    expect(Array.from(element(meta, 0x00020001).bytes)).toEqual([0, 1]);
    expect(text(meta, 0x00020002)).toBe(RT_STRUCTURE_SET_STORAGE);
    expect(text(meta, 0x00020003)).toBe(sopInstanceUid);
    expect(text(meta, 0x00020010)).toBe(EXPLICIT_VR_LITTLE_ENDIAN);
    expect(text(meta, 0x00020012)).toBe(IMPLEMENTATION_CLASS_UID);
    expect(text(meta, 0x00020013)).toBe(IMPLEMENTATION_VERSION_NAME);
    expect(element(meta, 0x00020010).vr).toBe('UI');
    // UI values are padded with NUL: '1.2.3.4.5' is 9 bytes, written as 10.
    expect(Array.from(element(dataset, 0x00080018).bytes)).toEqual([...Buffer.from('1.2.3.4.5'), 0]);
  });

  it('needs SOP Class and Instance UIDs and refuses group 0002 in the dataset', () => {
    expect(() => encodeDicomFile([minimal[0]])).toThrow(/needs SOP Class UID \(0008,0016\)/);
    expect(() => encodeDicomFile([...minimal, { tag: 0x00020010, vr: 'UI', value: '1.2' }])).toThrow(
      /\(0002,0010\) UI: File Meta elements/,
    );
  });
});

describe('encodeDataset', () => {
  it('sorts elements by tag in datasets and items, pads by VR and uses 16- or 32-bit lengths', () => {
    const bytes = encodeDataset([
      { tag: 0x00100010, vr: 'PN', value: 'Doe' },
      { tag: 0x00080060, vr: 'CS', value: 'CT' },
      {
        tag: 0x30060039,
        vr: 'SQ',
        value: [
          [
            { tag: 0x30060084, vr: 'IS', value: [7] },
            { tag: 0x3006002a, vr: 'IS', value: [255, 0, 12] },
          ],
          [],
        ],
      },
      { tag: 0x00091001, vr: 'OB', value: Uint8Array.of(1, 2, 3) },
      { tag: 0x00091002, vr: 'UT', value: 'odd' },
      { tag: 0x00091003, vr: 'US', value: [1, 65535] },
      { tag: 0x00091004, vr: 'FD', value: [-1.5] },
      { tag: 0x00091005, vr: 'AT', value: [0x30060050] },
    ]);
    const parsed = parseDataset(bytes, 0, bytes.length);
    expect([...parsed.keys()]).toEqual([
      0x00080060, 0x00091001, 0x00091002, 0x00091003, 0x00091004, 0x00091005, 0x00100010, 0x30060039,
    ]);
    expect(Array.from(element(parsed, 0x00100010).bytes)).toEqual([...Buffer.from('Doe ')]);
    expect(Array.from(element(parsed, 0x00091001).bytes)).toEqual([1, 2, 3, 0]);
    expect(Array.from(element(parsed, 0x00091002).bytes)).toEqual([...Buffer.from('odd ')]);
    expect(Array.from(element(parsed, 0x00091003).bytes)).toEqual([1, 0, 255, 255]);
    expect(new DataView(element(parsed, 0x00091004).bytes.slice().buffer).getFloat64(0, true)).toBe(-1.5);
    expect(Array.from(element(parsed, 0x00091005).bytes)).toEqual([0x06, 0x30, 0x50, 0x00]);
    const sequence = items(parsed, 0x30060039);
    expect(sequence).toHaveLength(2);
    expect([...sequence[0].keys()]).toEqual([0x3006002a, 0x30060084]);
    expect(texts(sequence[0], 0x3006002a)).toEqual(['255', '0', '12']);
    expect(sequence[1].size).toBe(0);
    // Header sizes: CS has a 16-bit length (8-byte header), OB a 32-bit one (12-byte header).
    expect(bytes[4]).toBe('C'.charCodeAt(0));
    expect(bytes.length).toBe(10 + 16 + 16 + 12 + 16 + 12 + 12 + (12 + (8 + 10 + 16) + 8));
  });

  it('encodes text by the Specific Character Set, inherited by sequence items', () => {
    const latin = parseDataset(
      ...withBounds(
        encodeDataset([
          { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
          { tag: 0x00100010, vr: 'PN', value: 'Müller' },
          { tag: 0x30060020, vr: 'SQ', value: [[{ tag: 0x30060026, vr: 'LO', value: 'Côte' }]] },
        ]),
      ),
    );
    expect(Array.from(element(latin, 0x00100010).bytes)).toEqual([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]);
    expect(element(items(latin, 0x30060020)[0], 0x30060026).bytes[1]).toBe(0xf4);
    const utf8 = parseDataset(
      ...withBounds(
        encodeDataset([
          { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' },
          { tag: 0x00100010, vr: 'PN', value: '山田^太郎' },
        ]),
      ),
    );
    expect(text(utf8, 0x00100010, new TextDecoder('utf-8'))).toBe('山田^太郎');
  });

  it('writes a value too long for a 16-bit length as UN with a 32-bit length (CP-1066)', () => {
    const values = Array.from({ length: 8000 }, (_, n) => -100.1234 - n);
    const bytes = encodeDataset([{ tag: 0x30060050, vr: 'DS', value: values }]);
    const parsed = parseDataset(bytes, 0, bytes.length);
    expect(element(parsed, 0x30060050).vr).toBe('UN');
    expect(numbers(parsed, 0x30060050)).toEqual(values);
  });

  function expectInvalid(dataset: DicomDataset, message: RegExp) {
    let caught: unknown;
    try {
      encodeDataset(dataset);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('INVALID_ARGUMENT');
    expect((caught as AppError).message).toMatch(message);
  }

  it.each([
    [
      'UI longer than 64',
      { tag: 0x00080018, vr: 'UI', value: `1.${'2'.repeat(63)}` },
      /65 characters, UI allows at most 64/,
    ],
    ['UI with letters', { tag: 0x00080018, vr: 'UI', value: '1.2.abc' }, /UI is digit groups/],
    ['UI with a leading zero', { tag: 0x00080018, vr: 'UI', value: '1.02.3' }, /UI is digit groups/],
    [
      'DS over 16 bytes',
      { tag: 0x30060050, vr: 'DS', value: '12345678.12345678' },
      /17 bytes, DS allows at most 16/,
    ],
    ['DS not a number', { tag: 0x30060050, vr: 'DS', value: ['1', 'abc'] }, /'abc': DS is a decimal/],
    [
      'DS NaN',
      { tag: 0x30060050, vr: 'DS', value: [NaN] },
      /\(3006,0050\) DS: value NaN is not a finite number/,
    ],
    ['IS not an integer', { tag: 0x30060022, vr: 'IS', value: [1.5] }, /IS value 1.5 is not an integer/],
    ['CS lower case', { tag: 0x00080060, vr: 'CS', value: 'ct' }, /CS allows only A-Z/],
    [
      'CS too long',
      { tag: 0x00080060, vr: 'CS', value: 'A'.repeat(17) },
      /17 characters, CS allows at most 16/,
    ],
    ['DA with dashes', { tag: 0x00080020, vr: 'DA', value: '2024-01-02' }, /DA is YYYYMMDD/],
    ['DA month 13', { tag: 0x00080020, vr: 'DA', value: '20241302' }, /month 01-12/],
    ['TM hour 25', { tag: 0x00080030, vr: 'TM', value: '250000' }, /hours 00-23/],
    [
      'SH too long',
      { tag: 0x30060002, vr: 'SH', value: 'A'.repeat(17) },
      /17 characters, SH allows at most 16/,
    ],
    ['LO with a backslash', { tag: 0x30060026, vr: 'LO', value: 'a\\b' }, /backslash/],
    ['LO with a newline', { tag: 0x30060026, vr: 'LO', value: 'a\nb' }, /no control characters/],
    ['PN with 4 groups', { tag: 0x00100010, vr: 'PN', value: 'a=b=c=d' }, /at most 3 component groups/],
    [
      'US out of range',
      { tag: 0x00280010, vr: 'US', value: [70000] },
      /70000 is not an integer in \[0, 65535\]/,
    ],
    ['non-ASCII without a character set', { tag: 0x00100010, vr: 'PN', value: 'Müller' }, /ISO_IR 100/],
    ['non-ASCII in a CS', { tag: 0x00080060, vr: 'CS', value: 'É' }, /CS allows only A-Z/],
    ['OB given numbers', { tag: 0x7fe00010, vr: 'OB', value: [1, 2] }, /OB takes a Uint8Array/],
    ['SQ given a string', { tag: 0x30060020, vr: 'SQ', value: 'x' }, /an SQ value must be an array of items/],
    ['LT with two values', { tag: 0x00204000, vr: 'LT', value: ['a', 'b'] }, /LT holds a single value/],
  ] as Array<[string, DicomDataset[number], RegExp]>)('rejects %s', (_name, bad, message) => {
    expectInvalid([bad], message);
  });

  it('names the nested path, and rejects duplicates, unknown VRs and unsupported character sets', () => {
    expectInvalid(
      [
        {
          tag: 0x30060039,
          vr: 'SQ',
          value: [[], [{ tag: 0x30060040, vr: 'SQ', value: [[{ tag: 0x30060050, vr: 'DS', value: 'x' }]] }]],
        },
      ],
      /\(3006,0039\)\[1\] > \(3006,0040\)\[0\] > \(3006,0050\) DS/,
    );
    expectInvalid(
      [
        { tag: 0x00100010, vr: 'PN', value: 'a' },
        { tag: 0x00100010, vr: 'PN', value: 'b' },
      ],
      /appears twice/,
    );
    expectInvalid([{ tag: 0x00100010, vr: 'XX' as 'PN', value: 'a' }], /unknown VR 'XX'/);
    expectInvalid([{ tag: 0x00080005, vr: 'CS', value: 'ISO_IR 144' }], /unsupported Specific Character Set/);
    expectInvalid(
      [
        { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
        { tag: 0x00100010, vr: 'PN', value: '山田' },
      ],
      /use Specific Character Set 'ISO_IR 192'/,
    );
  });
});

function withBounds(bytes: Uint8Array): [Uint8Array, number, number] {
  return [bytes, 0, bytes.length];
}

describe('formatDs and newUid', () => {
  it('formats numbers in at most 16 characters, as exactly as that allows', () => {
    expect(formatDs(0.1)).toBe('0.1');
    expect(formatDs(-0)).toBe('0');
    expect(formatDs(-249.51171875)).toBe('-249.51171875');
    expect(formatDs(1 / 3)).toBe('0.33333333333333');
    expect(formatDs(1e21)).toBe('1e+21');
    expect(formatDs(-1.2345678901234567e-100)).toBe('-1.23456789e-100');
    const random = mulberry32(7);
    for (let n = 0; n < 2000; n++) {
      const value = (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
      const formatted = formatDs(value);
      expect(formatted.length).toBeLessThanOrEqual(16);
      expect(formatted).toMatch(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/);
      expect(Math.abs(Number(formatted) - value)).toBeLessThanOrEqual(Math.abs(value) * 1e-9);
    }
    expect(() => formatDs(Infinity)).toThrow(AppError);
  });

  it('makes distinct 2.25 UIDs within 64 characters', () => {
    const uids = new Set(Array.from({ length: 500 }, () => newUid()));
    expect(uids.size).toBe(500);
    for (const uid of [...uids, IMPLEMENTATION_CLASS_UID]) {
      expect(uid).toMatch(/^2\.25\.(0|[1-9]\d*)$/);
      expect(uid.length).toBeLessThanOrEqual(64);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// writeRtStruct
// ---------------------------------------------------------------------------------------------------

describe('writeRtStruct on a synthetic CT grid', () => {
  const grid = makeGrid([24, 20, 6], [0.9765625, 0.9765625, 2.5], {
    originLps: [-11.71875, -9.27734375, -40],
    frameOfReferenceUid: newUid(),
  });
  const series = makeCtSeries(grid);
  const random = mulberry32(99);
  const rois: RtStructRoiInput[] = [
    {
      number: 1,
      name: 'External',
      colourRgb: '#00ff00',
      interpretedType: 'EXTERNAL',
      generationAlgorithm: 'AUTOMATIC',
      // An ellipse with an air cavity on slices 2-3; the last slice fills the whole array.
      mask: maskFrom(grid, (i, j, k) => {
        if (k === 5) return true;
        const inEllipse = ((i - 11.5) / 11) ** 2 + ((j - 9.5) / 9) ** 2 <= 1;
        const inCavity = (k === 2 || k === 3) && ((i - 8) / 3) ** 2 + ((j - 9) / 2.5) ** 2 <= 1;
        return inEllipse && !inCavity;
      }),
    },
    {
      number: 2,
      name: 'CTV_Breast',
      colourRgb: '#ff8000',
      interpretedType: 'CTV',
      description: 'ring with an island in its hole',
      mask: maskFrom(grid, (i, j, k) => {
        if (k < 1 || k > 4) return false;
        const r = Math.hypot(i - 12, j - 10);
        return (r >= 5 && r < 8) || r < 2;
      }),
    },
    {
      number: 5,
      name: 'Nodes_Dots',
      colourRgb: null,
      interpretedType: 'ORGAN',
      // Sparse random voxels: single-voxel rings and diagonal-only neighbours (saddles).
      mask: maskFrom(grid, () => random() < 0.15),
    },
    {
      number: 7,
      name: 'Border',
      colourRgb: '#0000ff',
      interpretedType: 'ORGAN',
      mask: maskFrom(grid, (i, j, k) => k >= 2 && (i === 0 || j === 19 || (i < 4 && j > 14))),
    },
    { number: 9, name: 'Empty', colourRgb: '#ffffff', interpretedType: 'ORGAN', mask: emptyMask(grid) },
  ];
  const input = baseInput(series, rois);
  const bytes = writeRtStruct(input);
  const { meta, dataset } = parseDicomFile(bytes);

  let workDir: string;
  let rtssPath: string;
  let ctDir: string;
  beforeAll(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'contourbench-rtstruct-'));
    rtssPath = path.join(workDir, 'rtss.dcm');
    ctDir = path.join(workDir, 'ct');
    await mkdir(ctDir);
    await writeFile(rtssPath, bytes);
    for (let k = 0; k < grid.dims[2]; k++) {
      await writeFile(path.join(ctDir, `ct${k}.dcm`), encodeDicomFile(ctSliceDataset(series, k)));
    }
  });
  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('fills SOP Common, Patient, General Study, RT Series and General Equipment', () => {
    expect(text(meta, 0x00020002)).toBe(RT_STRUCTURE_SET_STORAGE);
    expect(text(dataset, 0x00080016)).toBe(RT_STRUCTURE_SET_STORAGE);
    expect(text(meta, 0x00020003)).toBe(text(dataset, 0x00080018));
    expect(text(dataset, 0x00080005)).toBe('ISO_IR 100');
    expect(text(dataset, 0x00100010)).toBe('Doe^Jane');
    expect(text(dataset, 0x00100020)).toBe('CB-0001');
    expect(text(dataset, 0x00100030)).toBe('19700101');
    expect(text(dataset, 0x00100040)).toBe('F');
    expect(text(dataset, 0x0020000d)).toBe(series.studyInstanceUid);
    expect(text(dataset, 0x00080020)).toBe('20240102');
    expect(text(dataset, 0x00080030)).toBe('101500');
    expect(text(dataset, 0x00200010)).toBe('S1');
    expect(text(dataset, 0x00080050)).toBe('A123');
    expect(text(dataset, 0x00080090)).toBe('Ref^Doc');
    expect(text(dataset, 0x00080060)).toBe('RTSTRUCT');
    expect(text(dataset, 0x0020000e)).toMatch(/^2\.25\.\d+$/);
    expect(text(dataset, 0x0020000e)).not.toBe(series.seriesInstanceUid);
    expect(numbers(dataset, 0x00200011)).toEqual([1]);
    expect(text(dataset, 0x00081070)).toBe('Physicist^Test');
    expect(text(dataset, 0x00080070)).toBe('ContourBench');
  });

  it('fills the Structure Set module, referencing frame, study, series and every slice', () => {
    expect(text(dataset, 0x30060002)).toBe('AI contours');
    expect(text(dataset, 0x30060004)).toBe('Model v1 export');
    expect(text(dataset, 0x30060008)).toBe('20240611');
    expect(text(dataset, 0x30060009)).toBe('143005');
    const frames = items(dataset, 0x30060010);
    expect(frames).toHaveLength(1);
    expect(text(frames[0], 0x00200052)).toBe(series.frameOfReferenceUid);
    const studies = items(frames[0], 0x30060012);
    expect(text(studies[0], 0x00081155)).toBe(series.studyInstanceUid);
    const referencedSeries = items(studies[0], 0x30060014);
    expect(text(referencedSeries[0], 0x0020000e)).toBe(series.seriesInstanceUid);
    const images = items(referencedSeries[0], 0x30060016);
    expect(images.map((image) => text(image, 0x00081155))).toEqual(series.sopInstanceUids);
    expect(images.every((image) => text(image, 0x00081150) === CT_IMAGE_STORAGE)).toBe(true);
    const structureSetRois = items(dataset, 0x30060020);
    expect(structureSetRois.map((item) => numbers(item, 0x30060022)[0])).toEqual([1, 2, 5, 7, 9]);
    expect(structureSetRois.map((item) => text(item, 0x30060026))).toEqual(rois.map((roi) => roi.name));
    expect(structureSetRois.every((item) => text(item, 0x30060024) === series.frameOfReferenceUid)).toBe(
      true,
    );
    expect(text(structureSetRois[0], 0x30060036)).toBe('AUTOMATIC');
    expect(text(structureSetRois[1], 0x30060028)).toBe('ring with an island in its hole');
  });

  it('fills ROI Contour and RT ROI Observations', () => {
    const roiContours = items(dataset, 0x30060039);
    expect(roiContours.map((item) => numbers(item, 0x30060084)[0])).toEqual([1, 2, 5, 7, 9]);
    expect(numbers(roiContours[0], 0x3006002a)).toEqual([0, 255, 0]);
    expect(numbers(roiContours[1], 0x3006002a)).toEqual([255, 128, 0]);
    expect(roiContours[2].has(0x3006002a)).toBe(false);
    expect(roiContours[4].has(0x30060040)).toBe(false);
    const observations = items(dataset, 0x30060080);
    expect(observations.map((item) => numbers(item, 0x30060082)[0])).toEqual([1, 2, 3, 4, 5]);
    expect(observations.map((item) => numbers(item, 0x30060084)[0])).toEqual([1, 2, 5, 7, 9]);
    expect(observations.map((item) => text(item, 0x300600a4))).toEqual([
      'EXTERNAL',
      'CTV',
      'ORGAN',
      'ORGAN',
      'ORGAN',
    ]);
    expect(observations.every((item) => element(item, 0x300600a6).bytes.length === 0)).toBe(true);
  });

  it('references from each contour the slice it lies on, and round-trips every mask exactly', () => {
    for (const roi of rois) {
      const contours = parsedContours(dataset, roi.number);
      for (const { points, uid } of contours) {
        const k = series.sopInstanceUids.indexOf(uid);
        expect(k).toBeGreaterThanOrEqual(0);
        for (let m = 2; m < points.length; m += 3)
          expect(points[m]).toBeCloseTo(grid.slicePositionLps[k][2], 9);
      }
      const back = rasteriseEvenOdd(
        contours.map((contour) => contour.points),
        grid,
      );
      expect(Buffer.from(back).equals(Buffer.from(roi.mask.data))).toBe(true);
    }
    expect(parsedContours(dataset, 2).length).toBe(4 * 3);
  });

  it('is deterministic for fixed UIDs and time', () => {
    const fixed = { ...input, sopInstanceUid: '1.2.3', seriesInstanceUid: '1.2.4' };
    expect(Buffer.from(writeRtStruct(fixed)).equals(Buffer.from(writeRtStruct(fixed)))).toBe(true);
  });

  it.skipIf(!hasDciodvfy)(
    'passes dciodvfy without errors, RTSTRUCT and CT alike (skipped when dicom3tools is not installed)',
    () => {
      for (const file of [rtssPath, path.join(ctDir, 'ct0.dcm')]) {
        const lines = dciodvfy(file);
        expect(
          lines.filter((line) => line.startsWith('Error')),
          `${file}:\n${lines.join('\n')}`,
        ).toEqual([]);
      }
    },
  );

  it.skipIf(!hasPlastimatch)(
    'rasterises in plastimatch to the same voxels (skipped when plastimatch is not installed)',
    async () => {
      const outDir = path.join(workDir, 'plastimatch-out');
      const run = spawnSync(
        'plastimatch',
        [
          'convert',
          '--input',
          rtssPath,
          '--referenced-ct',
          ctDir,
          '--xor-contours',
          '--output-prefix',
          outDir,
        ],
        { encoding: 'utf8' },
      );
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      const files = await readdir(outDir);
      for (const roi of rois) {
        const file = files.find((name) => name === `${roi.name}.mha`);
        // plastimatch writes no image for a structure without contours.
        if (countOnes(roi.mask.data) === 0 && file === undefined) continue;
        expect(file, `plastimatch wrote ${files.join(', ')}`).toBeDefined();
        const image = parseMha(await readFile(path.join(outDir, file!)));
        expect(image.dims).toEqual([...grid.dims]);
        expect(countOnes(image.data)).toBe(countOnes(roi.mask.data));
        expect(Buffer.from(image.data).equals(Buffer.from(roi.mask.data))).toBe(true);
      }
    },
    60_000,
  );
});

/** MetaImage (.mha) with local uncompressed or zlib-compressed uchar data, as plastimatch writes it. */
function parseMha(bytes: Uint8Array): { dims: number[]; data: Uint8Array } {
  const headerEnd = Buffer.from(bytes).indexOf('ElementDataFile = LOCAL\n');
  expect(headerEnd).toBeGreaterThan(0);
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, headerEnd));
  const field = (name: string) => new RegExp(`^${name} = (.*)$`, 'm').exec(header)?.[1] ?? '';
  const dims = field('DimSize').split(' ').map(Number);
  const raw = bytes.subarray(headerEnd + 'ElementDataFile = LOCAL\n'.length);
  expect(field('ElementType')).toBe('MET_UCHAR');
  const data = field('CompressedData') === 'True' ? new Uint8Array(inflateSync(raw)) : raw;
  expect(data.length).toBe(dims[0] * dims[1] * dims[2]);
  return { dims, data };
}

/** Writes the CT slices and the RTSTRUCT to a temp folder and runs plastimatch on them. */
async function plastimatchMasks(
  series: CtSeries,
  rtStruct: Uint8Array,
  names: string[],
): Promise<Map<string, Uint8Array | undefined>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'contourbench-plastimatch-'));
  try {
    const ctDir = path.join(dir, 'ct');
    await mkdir(ctDir);
    for (let k = 0; k < series.grid.dims[2]; k++) {
      await writeFile(path.join(ctDir, `ct${k}.dcm`), encodeDicomFile(ctSliceDataset(series, k)));
    }
    await writeFile(path.join(dir, 'rtss.dcm'), rtStruct);
    const outDir = path.join(dir, 'out');
    const run = spawnSync(
      'plastimatch',
      [
        'convert',
        '--input',
        path.join(dir, 'rtss.dcm'),
        '--referenced-ct',
        ctDir,
        '--xor-contours',
        '--output-prefix',
        outDir,
      ],
      { encoding: 'utf8' },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const files = await readdir(outDir);
    const out = new Map<string, Uint8Array | undefined>();
    for (const name of names) {
      const file = files.find((candidate) => candidate === `${name}.mha`);
      out.set(name, file === undefined ? undefined : parseMha(await readFile(path.join(outDir, file))).data);
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('writeRtStruct on other grids', () => {
  it('round-trips on an oblique grid with non-square pixels', async () => {
    const rowLps: Vec3 = [Math.cos(0.3), Math.sin(0.3), 0];
    const tilt = 0.2;
    const columnLps: Vec3 = [-Math.sin(0.3) * Math.cos(tilt), Math.cos(0.3) * Math.cos(tilt), Math.sin(tilt)];
    const grid = makeGrid([17, 13, 4], [0.7, 1.3, 3], {
      rowLps,
      columnLps,
      originLps: [-31.25, 12.5, 101.7],
      frameOfReferenceUid: newUid(),
    });
    const series = makeCtSeries(grid);
    const random = mulberry32(5);
    const mask = maskFrom(grid, () => random() < 0.4);
    const bytes = writeRtStruct(
      baseInput(series, [{ number: 1, name: 'GTV', colourRgb: '#ff0000', interpretedType: 'GTV', mask }]),
    );
    const { dataset } = parseDicomFile(bytes);
    const contours = parsedContours(dataset, 1);
    for (const { points, uid } of contours) {
      const k = series.sopInstanceUids.indexOf(uid);
      for (let m = 0; m < points.length; m += 3) {
        const d: Vec3 = [
          points[m] - grid.slicePositionLps[k][0],
          points[m + 1] - grid.slicePositionLps[k][1],
          points[m + 2] - grid.slicePositionLps[k][2],
        ];
        // Coordinates are rounded to 1e-4 mm: each point stays within that of its slice plane.
        expect(Math.abs(dot(d, grid.normalLps))).toBeLessThan(1e-4);
      }
    }
    const back = rasteriseEvenOdd(
      contours.map((contour) => contour.points),
      grid,
    );
    expect(Buffer.from(back).equals(Buffer.from(mask.data))).toBe(true);
    if (hasDciodvfy) {
      const dir = await mkdtemp(path.join(tmpdir(), 'contourbench-rtstruct-'));
      try {
        await writeFile(path.join(dir, 'rtss.dcm'), bytes);
        expect(dciodvfy(path.join(dir, 'rtss.dcm')).filter((line) => line.startsWith('Error'))).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('writes a ContourData longer than 64 KiB as UN, still exact', async () => {
    // A jagged 600-row shape: every row shifts its edges, so each ring has thousands of vertices.
    const grid = makeGrid([64, 600, 3], [0.9765625, 0.9765625, 3], {
      originLps: [-250.1234567, -200.7654321, 12.5],
      frameOfReferenceUid: newUid(),
    });
    const series = makeCtSeries(grid);
    const mask = maskFrom(grid, (i, j, k) => k === 1 && i >= 5 + (j % 3) * 2 && i < 58 - (j % 4) * 2);
    const bytes = writeRtStruct(
      baseInput(series, [{ number: 1, name: 'Jagged', colourRgb: null, interpretedType: 'ORGAN', mask }]),
    );
    const { dataset } = parseDicomFile(bytes);
    const roi = items(dataset, 0x30060039)[0];
    const contour = items(roi, 0x30060040)[0];
    expect(element(contour, 0x30060050).vr).toBe('UN');
    expect(element(contour, 0x30060050).bytes.length).toBeGreaterThan(0xfffe);
    const back = rasteriseEvenOdd(
      parsedContours(dataset, 1).map((c) => c.points),
      grid,
    );
    expect(Buffer.from(back).equals(Buffer.from(mask.data))).toBe(true);
    if (hasDciodvfy) {
      const dir = await mkdtemp(path.join(tmpdir(), 'contourbench-rtstruct-'));
      try {
        await writeFile(path.join(dir, 'rtss.dcm'), bytes);
        const lines = dciodvfy(path.join(dir, 'rtss.dcm'));
        expect(
          lines.filter((line) => line.startsWith('Error')),
          lines.join('\n'),
        ).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    // Not checked with plastimatch: 1.9.4 (DCMTK) does not read ContourData sent as UN ("Error finding
    // DCM_ContourData") and drops the contour.
  });
});

describe('writeRtStruct and plastimatch on other geometries', () => {
  const cases: Array<[string, ImageGrid]> = [
    [
      'non-square pixels, thick slices',
      makeGrid([21, 15, 5], [0.6, 1.4, 5], {
        originLps: [100.3, -50.05, -7.5],
        frameOfReferenceUid: newUid(),
      }),
    ],
    [
      'oblique rows and columns',
      makeGrid([21, 15, 5], [1, 1.2, 3], {
        rowLps: [Math.cos(0.4), Math.sin(0.4), 0],
        columnLps: [-Math.sin(0.4), Math.cos(0.4), 0],
        originLps: [10, 20, 30],
        frameOfReferenceUid: newUid(),
      }),
    ],
    [
      'tilted gantry (column out of the axial plane)',
      makeGrid([21, 15, 5], [1, 1.2, 3], {
        columnLps: [0, Math.cos(0.3), Math.sin(0.3)],
        originLps: [10, 20, 30],
        frameOfReferenceUid: newUid(),
      }),
    ],
    [
      'sagittal slices',
      makeGrid([21, 15, 5], [1, 1.2, 3], {
        rowLps: [0, 1, 0],
        columnLps: [0, 0, -1],
        originLps: [10, 20, 30],
        frameOfReferenceUid: newUid(),
      }),
    ],
    [
      'rows running to the right, slices descending',
      makeGrid([21, 15, 5], [1, 1.2, 3], {
        rowLps: [-1, 0, 0],
        originLps: [10, 20, 30],
        frameOfReferenceUid: newUid(),
      }),
    ],
  ];
  it.skipIf(!hasPlastimatch).each(cases)(
    '%s: plastimatch rasterises the same voxels (skipped when plastimatch is not installed)',
    async (_name, grid) => {
      const series = makeCtSeries(grid);
      const random = mulberry32(11);
      const blob = maskFrom(grid, (i, j, k) => k > 0 && Math.hypot(i - 10, (j - 7) * 1.3) < 6 + random());
      const speckle = maskFrom(grid, () => random() < 0.3);
      const bytes = writeRtStruct(
        baseInput(series, [
          { number: 1, name: 'Blob', colourRgb: '#ff0000', interpretedType: 'ORGAN', mask: blob },
          { number: 2, name: 'Speckle', colourRgb: '#00ff00', interpretedType: 'ORGAN', mask: speckle },
        ]),
      );
      const masks = await plastimatchMasks(series, bytes, ['Blob', 'Speckle']);
      for (const [name, mask] of [
        ['Blob', blob],
        ['Speckle', speckle],
      ] as const) {
        const fromPlastimatch = masks.get(name)!;
        expect(countOnes(fromPlastimatch)).toBe(countOnes(mask.data));
        expect(Buffer.from(fromPlastimatch).equals(Buffer.from(mask.data))).toBe(true);
      }
    },
    60_000,
  );
});

describe('writeRtStruct: character sets and invalid input', () => {
  const grid = makeGrid([6, 5, 3], [1, 1, 2], { frameOfReferenceUid: newUid() });
  const series = makeCtSeries(grid);
  const roi = (overrides: Partial<RtStructRoiInput> = {}): RtStructRoiInput => ({
    number: 1,
    name: 'Heart',
    colourRgb: '#ff0000',
    interpretedType: 'ORGAN',
    mask: maskFrom(grid, (i, j) => i === 2 && j === 2),
    ...overrides,
  });

  it('writes ISO_IR 100 for Latin-1 text and ISO_IR 192 beyond it', () => {
    const latin = parseDicomFile(
      writeRtStruct({ ...baseInput(series, [roi()]), patient: { ...patient, patientName: 'Müller^Zoë' } }),
    ).dataset;
    expect(text(latin, 0x00080005)).toBe('ISO_IR 100');
    expect(text(latin, 0x00100010)).toBe('Müller^Zoë');
    const utf8 = parseDicomFile(writeRtStruct(baseInput(series, [roi({ name: '心臓' })]))).dataset;
    expect(text(utf8, 0x00080005)).toBe('ISO_IR 192');
    const name = text(items(utf8, 0x30060020)[0], 0x30060026, new TextDecoder('utf-8'));
    expect(name).toBe('心臓');
  });

  function expectInvalid(input: RtStructInput, message: RegExp) {
    let caught: unknown;
    try {
      writeRtStruct(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('INVALID_ARGUMENT');
    expect((caught as AppError).message).toMatch(message);
  }

  it('rejects input that does not describe one consistent structure set', () => {
    const base = baseInput(series, [roi()]);
    expectInvalid(
      { ...base, referencedSeries: { ...base.referencedSeries, sopInstanceUids: ['1.2'] } },
      /lists 1 SOP Instance UIDs for 3 slices/,
    );
    expectInvalid(
      { ...base, referencedSeries: { ...base.referencedSeries, frameOfReferenceUid: '1.2.9' } },
      /frame of reference 1.2.9 differs from the grid's/,
    );
    expectInvalid(
      baseInput(series, [roi(), roi({ name: 'Lung' })]),
      /ROI number 1 is used by more than one ROI/,
    );
    expectInvalid(
      baseInput(series, [roi(), roi({ number: 2 })]),
      /ROI name 'Heart' is used by more than one ROI/,
    );
    expectInvalid(
      baseInput(series, [roi({ number: 0 })]),
      /ROI 'Heart': number must be a positive integer, got 0/,
    );
    expectInvalid(baseInput(series, [roi({ colourRgb: 'red' })]), /colour must be '#rrggbb', got 'red'/);
    expectInvalid(
      baseInput(series, [roi({ mask: emptyMask(makeGrid([6, 5, 4], [1, 1, 2])) })]),
      /mask dimensions 6x5x4 differ from the image grid 6x5x3/,
    );
    expectInvalid(
      { ...base, referencedSeries: { ...base.referencedSeries, sopInstanceUids: ['1.1', '', '1.3'] } },
      /slice 1 of the referenced series has an empty SOP Instance UID/,
    );
    expectInvalid(
      { ...base, structureSet: { label: 'A label far too long' } },
      /\(3006,0002\) SH: .*at most 16/,
    );
    expectInvalid({ ...base, patient: { ...patient, patientBirthDate: '1970-01-01' } }, /\(0010,0030\) DA/);
    expectInvalid(
      baseInput(series, [roi({ interpretedType: 'organ' })]),
      /\(3006,0080\)\[0\] > \(3006,00A4\) CS/,
    );
  });

  it('simplifies contours when asked, never below 3 points', () => {
    const disc = maskFrom(grid, (i, j) => Math.hypot(i - 2.5, j - 2) < 2.2);
    const exact = parsedContours(
      parseDicomFile(writeRtStruct(baseInput(series, [roi({ mask: disc })]))).dataset,
      1,
    );
    const simplified = parsedContours(
      parseDicomFile(writeRtStruct({ ...baseInput(series, [roi({ mask: disc })]), simplifyToleranceMm: 5 }))
        .dataset,
      1,
    );
    expect(simplified).toHaveLength(exact.length);
    for (let n = 0; n < exact.length; n++) {
      expect(simplified[n].points.length).toBeLessThan(exact[n].points.length);
      expect(simplified[n].points.length).toBeGreaterThanOrEqual(9);
    }
  });
});

describe('writeRtStructFile', () => {
  const grid = makeGrid([6, 5, 2], [1, 1, 2], { frameOfReferenceUid: newUid() });
  const series = makeCtSeries(grid);
  const input: RtStructInput = {
    ...baseInput(series, [
      {
        number: 1,
        name: 'Cord',
        colourRgb: '#ffff00',
        interpretedType: 'ORGAN',
        mask: maskFrom(grid, (i, j) => i === 3 && j === 1),
      },
    ]),
    sopInstanceUid: '1.2.826.0.1.3',
    seriesInstanceUid: '1.2.826.0.1.4',
  };
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'contourbench-rtstruct-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the bytes of writeRtStruct, replacing an existing file and leaving no temporary file', async () => {
    const target = path.join(dir, 'rtss.dcm');
    await writeFile(target, 'old content');
    await writeRtStructFile(target, input);
    expect(Buffer.from(await readFile(target)).equals(Buffer.from(writeRtStruct(input)))).toBe(true);
    expect(await readdir(dir)).toEqual(['rtss.dcm']);
  });

  it('names a missing folder, and writes nothing for invalid input', async () => {
    const missing = path.join(dir, 'no-such-folder', 'rtss.dcm');
    await expect(writeRtStructFile(missing, input)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/no-such-folder does not exist/),
    });
    const target = path.join(dir, 'invalid.dcm');
    await expect(writeRtStructFile(target, { ...input, structureSet: { label: ' ' } })).rejects.toMatchObject(
      {
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/Structure Set Label \(3006,0002\) is required/),
      },
    );
    expect((await readdir(dir)).filter((name) => name !== 'rtss.dcm')).toEqual([]);
  });
});
