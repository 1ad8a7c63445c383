/**
 * Seeded mutations of valid DICOM and NIfTI files for the hostile-input tests: byte flips, truncation,
 * insertion and deletion anywhere, and mutations that know the format (length fields, VRs, transfer
 * syntax, header fields, nesting, gzip framing). The same bytes, mutation and seed give the same variant.
 */
import { gzipSync } from 'node:zlib';
import { parseDicom, tags, type DicomDataset } from '../../src/lib/server/io/dicom/parser';

export type Random = () => number;

export interface Mutated {
  bytes: Uint8Array;
  /** What was done, with offsets and values, for the failure message. */
  description: string;
}

const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, list: readonly T[]): T => list[int(random, list.length)]!;
const hex = (n: number): string => `0x${n.toString(16)}`;

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

function randomBytes(random: Random, count: number): Uint8Array {
  const kind = int(random, 3);
  return Uint8Array.from({ length: count }, () => (kind === 0 ? 0xff : kind === 1 ? 0 : int(random, 256)));
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

// ---------------------------------------------------------------------------------------------------
// Generic byte mutations

/** Flips `1..8` bytes at positions below `limit` (the header region, where the parser decides things). */
export function flipBytes(bytes: Uint8Array, random: Random, limit = bytes.length): Mutated {
  const out = bytes.slice();
  const count = 1 + int(random, 8);
  const at: string[] = [];
  for (let n = 0; n < count; n++) {
    const position = int(random, Math.max(1, Math.min(limit, out.length)));
    const mask = 1 + int(random, 255);
    out[position] ^= mask;
    at.push(`${position}^${hex(mask)}`);
  }
  return { bytes: out, description: `flip ${at.join(',')}` };
}

export function truncate(bytes: Uint8Array, random: Random, limit = bytes.length): Mutated {
  const length = pick(random, [
    0,
    1,
    4,
    128,
    131,
    132,
    133,
    140,
    int(random, limit),
    int(random, bytes.length),
  ]);
  return { bytes: bytes.slice(0, Math.min(length, bytes.length)), description: `truncate to ${length}` };
}

export function insertBytes(bytes: Uint8Array, random: Random, limit = bytes.length): Mutated {
  const at = int(random, Math.min(limit, bytes.length) + 1);
  const inserted = randomBytes(random, 1 + int(random, 64));
  return { bytes: splice(bytes, at, 0, inserted), description: `insert ${inserted.length} bytes at ${at}` };
}

export function deleteBytes(bytes: Uint8Array, random: Random, limit = bytes.length): Mutated {
  const at = int(random, Math.max(1, Math.min(limit, bytes.length)));
  const count = Math.min(1 + int(random, 64), bytes.length - at);
  return {
    bytes: splice(bytes, at, count, new Uint8Array(0)),
    description: `delete ${count} bytes at ${at}`,
  };
}

// ---------------------------------------------------------------------------------------------------
// DICOM

const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Where an element of a valid file lies: header, length field and value. */
export interface DicomSite {
  tag: number;
  vr: string;
  headerOffset: number;
  lengthOffset: number;
  lengthBytes: 2 | 4;
  valueOffset: number;
  length: number;
  /** 0 at the top level (meta or data set), 1 inside a sequence item, ... */
  depth: number;
  explicit: boolean;
}

export interface DicomIndex {
  explicit: boolean;
  sites: DicomSite[];
  /** Offsets of item, item delimiter and sequence delimiter tags. */
  items: number[];
  /** First byte after the file meta information. */
  dataStart: number;
  /** Value offset of Pixel Data, or the file length. */
  headerEnd: number;
}

/** Indexes a valid DICOM file so that mutations can aim at its fields. */
export function indexDicom(bytes: Uint8Array): DicomIndex {
  const file = parseDicom(bytes, 'index');
  const explicit = file.transferSyntaxUid === '1.2.840.10008.1.2.1';
  const sites: DicomSite[] = [];
  const walk = (dataset: DicomDataset, isExplicit: boolean, depth: number) => {
    for (const element of dataset.elements.values()) {
      const long = !isExplicit || longVrs.has(element.vr);
      const lengthBytes = long ? 4 : 2;
      const headerOffset = element.offset - (isExplicit && long ? 12 : 8);
      sites.push({
        tag: element.tag,
        vr: element.vr,
        headerOffset,
        lengthOffset: element.offset - lengthBytes,
        lengthBytes,
        valueOffset: element.offset,
        length: element.length,
        depth,
        explicit: isExplicit,
      });
      for (const item of element.items ?? []) walk(item, isExplicit, depth + 1);
    }
  };
  walk(file.meta, true, 0);
  walk(file.dataset, explicit, 0);
  const items: number[] = [];
  for (let n = 0; n + 4 <= bytes.length; n++) {
    const low = bytes[n + 2];
    const isItem = low === 0x00 || low === 0x0d || low === 0xdd;
    if (bytes[n] === 0xfe && bytes[n + 1] === 0xff && bytes[n + 3] === 0xe0 && isItem) items.push(n);
  }
  const metaEnd = Math.max(...sites.filter((s) => s.tag >>> 16 === 2).map((s) => s.valueOffset + s.length));
  const pixel = sites.find((s) => s.tag === tags.pixelData && s.depth === 0);
  return { explicit, sites, items, dataStart: metaEnd, headerEnd: pixel ? pixel.valueOffset : bytes.length };
}

function setLength(out: Uint8Array, offset: number, lengthBytes: 2 | 4, value: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (lengthBytes === 2) view.setUint16(offset, value & 0xffff, true);
  else view.setUint32(offset, value >>> 0, true);
}

function hostileLength(random: Random, bytes: Uint8Array, site: { valueOffset: number }): number {
  return pick(random, [
    0xffffffff,
    0xfffffffe,
    0x7fffffff,
    0x80000000,
    bytes.length,
    bytes.length - site.valueOffset + 1,
    bytes.length - site.valueOffset,
    0xffff,
    0xfffe,
    0,
    1,
    3,
    int(random, 2 ** 32),
  ]);
}

/** Sets the length field of one element to a hostile value. */
export function dicomLength(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const site = pick(random, index.sites);
  const value = hostileLength(random, bytes, site);
  const out = bytes.slice();
  setLength(out, site.lengthOffset, site.lengthBytes, value);
  return { bytes: out, description: `length of ${hex(site.tag)} (${site.vr}) := ${hex(value)}` };
}

/** Sets the length of an item or delimiter to a hostile value. */
export function dicomItemLength(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  if (index.items.length === 0) return dicomLength(bytes, random, index);
  const at = pick(random, index.items);
  const value = hostileLength(random, bytes, { valueOffset: at + 8 });
  const out = bytes.slice();
  setLength(out, at + 4, 4, value);
  return { bytes: out, description: `item length at ${at} := ${hex(value)}` };
}

/** Replaces the VR of one element of an explicit-VR part (the meta information, or the data set). */
export function dicomVr(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const explicit = index.sites.filter((s) => s.explicit);
  const site = pick(random, explicit);
  const vr = pick(random, ['SQ', 'UN', 'OB', 'OW', 'UT', 'US', 'DS', 'XX', '\0\0', 'ss', '  ']);
  const out = bytes.slice();
  out.set(ascii(vr), site.headerOffset + 4);
  return { bytes: out, description: `VR of ${hex(site.tag)} := ${JSON.stringify(vr)}` };
}

/** A top-level element with a new value (and a new length). */
function rewriteElement(bytes: Uint8Array, site: DicomSite, value: Uint8Array): Uint8Array {
  const padded = value.length % 2 === 0 ? value : Uint8Array.from([...value, 0x20]);
  const header = bytes.slice(site.headerOffset, site.valueOffset);
  setLength(header, site.lengthOffset - site.headerOffset, site.lengthBytes, padded.length);
  const replacement = new Uint8Array(header.length + padded.length);
  replacement.set(header, 0);
  replacement.set(padded, header.length);
  return splice(bytes, site.headerOffset, site.valueOffset + site.length - site.headerOffset, replacement);
}

/** A top-level element of a valid file with a new text value (padded to an even length with a space). */
export function dicomSetText(bytes: Uint8Array, tag: number, value: string): Mutated {
  const site = indexDicom(bytes).sites.find((s) => s.tag === tag && s.depth === 0);
  if (!site) throw new Error(`the file has no top-level element ${hex(tag)}`);
  return {
    bytes: rewriteElement(bytes, site, new TextEncoder().encode(value)),
    description: `${hex(tag)} := ${JSON.stringify(value)}`,
  };
}

const transferSyntaxes = [
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '',
  '\0',
  '1.2.3',
  'x'.repeat(300),
];

/** Replaces the Transfer Syntax UID, sometimes with the other supported one (so the data set is misread). */
export function dicomTransferSyntax(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const site = index.sites.find((s) => s.tag === tags.transferSyntaxUid)!;
  const uid = pick(random, transferSyntaxes);
  return {
    bytes: rewriteElement(bytes, site, ascii(uid.length % 2 === 1 ? `${uid}\0` : uid)),
    description: `transfer syntax := ${JSON.stringify(uid.slice(0, 40))}`,
  };
}

const numberStrings = [
  'NaN',
  'Infinity',
  '-Infinity',
  '-1',
  '0',
  '1e308',
  '-1e308',
  '1e-320',
  '9999999999999999',
  '',
  '\\\\\\',
  '1\\2',
  'abc',
  ' + ',
  '0\\0\\0\\0\\0\\0',
  '1\\0\\0\\0\\1\\0',
  '1\\0\\0\\1\\0\\0',
  '1e30\\1e30\\1e30',
  '-1e200\\1e200\\-1e200',
  '1e308\\1e308\\1e308\\1e308\\1e308\\1e308',
];
const textStrings = [
  '',
  '\0',
  'A\0B',
  'ÿÿÿÿ',
  ' '.repeat(64),
  'RTSTRUCT',
  'CT',
  'ISO_IR 192',
  'ISO 2022 IR 87',
];
const unsignedShorts = [0, 1, 2, 7, 8, 12, 15, 16, 17, 32, 255, 0x7fff, 0x8000, 0xffff];

/** Tags whose values the readers use, and what kind of hostile value suits each. */
const valueTargets = new Map<number, 'us' | 'number' | 'text'>([
  [tags.rows, 'us'],
  [tags.columns, 'us'],
  [tags.bitsAllocated, 'us'],
  [tags.bitsStored, 'us'],
  [tags.pixelRepresentation, 'us'],
  [tags.samplesPerPixel, 'us'],
  [tags.pixelSpacing, 'number'],
  [tags.imageOrientationPatient, 'number'],
  [tags.imagePositionPatient, 'number'],
  [tags.sliceThickness, 'number'],
  [tags.rescaleSlope, 'number'],
  [tags.rescaleIntercept, 'number'],
  [tags.numberOfFrames, 'number'],
  [tags.kvp, 'number'],
  [tags.roiNumber, 'number'],
  [tags.referencedRoiNumber, 'number'],
  [tags.numberOfContourPoints, 'number'],
  [tags.contourData, 'number'],
  [tags.roiDisplayColor, 'number'],
  [tags.modality, 'text'],
  [tags.sopInstanceUid, 'text'],
  [tags.seriesInstanceUid, 'text'],
  [tags.studyInstanceUid, 'text'],
  [tags.frameOfReferenceUid, 'text'],
  [tags.referencedFrameOfReferenceUid, 'text'],
  [tags.specificCharacterSet, 'text'],
  [tags.contourGeometricType, 'text'],
  [tags.roiName, 'text'],
  [tags.seriesDescription, 'text'],
  [tags.operatorsName, 'text'],
  [tags.structureSetLabel, 'text'],
  [tags.acquisitionDate, 'text'],
  [tags.studyDate, 'text'],
]);

/**
 * Gives one field the readers rely on a hostile value: top-level elements are rewritten with a new
 * length; elements inside sequence items are overwritten in place (padded or cut to their length) so the
 * enclosing lengths stay right and the value itself is what the reader meets.
 */
export function dicomValue(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const candidates = index.sites.filter((s) => valueTargets.has(s.tag) && s.length !== 0xffffffff);
  if (candidates.length === 0) return dicomLength(bytes, random, index);
  const site = pick(random, candidates);
  const kind = valueTargets.get(site.tag)!;
  let value: Uint8Array;
  let shown: string;
  if (kind === 'us') {
    const n = pick(random, unsignedShorts);
    value = Uint8Array.of(n & 0xff, n >> 8);
    shown = String(n);
    if (random() < 0.2) {
      value = new Uint8Array(0);
      shown = '(empty)';
    }
  } else {
    const text = pick(random, kind === 'number' ? numberStrings : textStrings);
    value = Uint8Array.from(new TextEncoder().encode(text));
    shown = JSON.stringify(text);
  }
  if (site.depth === 0 && (site.lengthBytes === 4 || value.length < 0xfff0)) {
    return { bytes: rewriteElement(bytes, site, value), description: `${hex(site.tag)} := ${shown}` };
  }
  const out = bytes.slice();
  const room = site.length;
  for (let n = 0; n < room; n++) out[site.valueOffset + n] = n < value.length ? value[n] : 0x20;
  return { bytes: out, description: `${hex(site.tag)} (in place, ${room} bytes) := ${shown}` };
}

/** Fills every number of one Contour Data value with a hostile number, keeping its length. */
export function dicomContourData(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const candidates = index.sites.filter((s) => s.tag === tags.contourData);
  if (candidates.length === 0) return dicomValue(bytes, random, index);
  const site = pick(random, candidates);
  const filler = pick(random, ['1e308', '-1e308', '1e300', '0', '-0', '1e-300', '12345678.9']);
  const out = bytes.slice();
  const text = Array.from({ length: Math.ceil(site.length / (filler.length + 1)) }, () => filler)
    .join('\\')
    .slice(0, site.length);
  out.set(ascii(text.endsWith('\\') ? `${text.slice(0, -1)} ` : text), site.valueOffset);
  return { bytes: out, description: `contour data at ${site.valueOffset} := ${filler}...` };
}

/**
 * Makes one contour zigzag across the image: its y coordinates alternate between large positive and
 * negative values of the same width, so every edge spans every row (the lengths stay right).
 */
export function dicomZigzag(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const candidates = index.sites.filter((s) => s.tag === tags.contourData && s.length >= 12);
  if (candidates.length === 0) return dicomContourData(bytes, random, index);
  const site = pick(random, candidates);
  const text = new TextDecoder('latin1').decode(
    bytes.subarray(site.valueOffset, site.valueOffset + site.length),
  );
  const tokens = text.split('\\');
  const zigzag = tokens.map((token, n) => {
    if (n % 3 !== 1 || token.length < 2) return token;
    const width = token.length;
    return Math.floor(n / 3) % 2 === 0 ? '9'.repeat(width) : `-${'9'.repeat(width - 1)}`;
  });
  const out = bytes.slice();
  out.set(ascii(zigzag.join('\\')), site.valueOffset);
  return { bytes: out, description: `contour data at ${site.valueOffset} zigzags across the rows` };
}

/** Inserts a private element nesting `depth` sequences (undefined lengths) before the first data element. */
export function dicomNesting(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const depth = pick(random, [40, 200, 5000, 100_000]);
  const tag = Uint8Array.of(0x09, 0x00, 0x10, 0x10);
  const header = index.explicit
    ? Uint8Array.from([...tag, ...ascii('SQ'), 0, 0, 0xff, 0xff, 0xff, 0xff])
    : Uint8Array.from([...tag, 0xff, 0xff, 0xff, 0xff]);
  const item = Uint8Array.of(0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff);
  const close = Uint8Array.of(0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0);
  const unit = header.length + item.length;
  const closed = random() < 0.5;
  const nested = new Uint8Array(depth * unit + (closed ? depth * close.length : 0));
  for (let d = 0; d < depth; d++) {
    nested.set(header, d * unit);
    nested.set(item, d * unit + header.length);
  }
  if (closed) for (let d = 0; d < depth; d++) nested.set(close, depth * unit + d * close.length);
  return {
    bytes: splice(bytes, index.dataStart, 0, nested),
    description: `${depth} nested sequences${closed ? '' : ' (never closed)'} at ${index.dataStart}`,
  };
}

/** Inserts a private sequence of `count` empty items before the first data element. */
export function dicomManyItems(bytes: Uint8Array, random: Random, index: DicomIndex): Mutated {
  const count = pick(random, [1000, 100_000]);
  const tag = Uint8Array.of(0x09, 0x00, 0x12, 0x10);
  const header = index.explicit
    ? Uint8Array.from([...tag, ...ascii('SQ'), 0, 0, 0xff, 0xff, 0xff, 0xff])
    : Uint8Array.from([...tag, 0xff, 0xff, 0xff, 0xff]);
  const body = new Uint8Array(count * 8 + 8);
  for (let n = 0; n < count; n++) body.set(Uint8Array.of(0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0), n * 8);
  body.set(Uint8Array.of(0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0), count * 8);
  const inserted = Uint8Array.from([...header, ...body]);
  return {
    bytes: splice(bytes, index.dataStart, 0, inserted),
    description: `a sequence of ${count} empty items at ${index.dataStart}`,
  };
}

/** A preamble, "DICM" and random bytes, or a file too short to hold the preamble. */
export function dicomGarbage(_bytes: Uint8Array, random: Random): Mutated {
  if (random() < 0.3) {
    const length = int(random, 132);
    return { bytes: randomBytes(random, length), description: `${length} bytes, no DICM marker` };
  }
  const length = int(random, 4096);
  const out = new Uint8Array(132 + length);
  out.set(ascii('DICM'), 128);
  out.set(
    Uint8Array.from({ length }, () => int(random, 256)),
    132,
  );
  return { bytes: out, description: `DICM then ${length} random bytes` };
}

export const dicomMutations = {
  flip: (b: Uint8Array, r: Random, i: DicomIndex) => flipBytes(b, r, i.headerEnd),
  flipAnywhere: (b: Uint8Array, r: Random) => flipBytes(b, r),
  truncate: (b: Uint8Array, r: Random, i: DicomIndex) => truncate(b, r, i.headerEnd),
  insert: (b: Uint8Array, r: Random, i: DicomIndex) => insertBytes(b, r, i.headerEnd),
  delete: (b: Uint8Array, r: Random, i: DicomIndex) => deleteBytes(b, r, i.headerEnd),
  length: dicomLength,
  itemLength: dicomItemLength,
  vr: dicomVr,
  transferSyntax: dicomTransferSyntax,
  value: dicomValue,
  contourData: dicomContourData,
  zigzag: dicomZigzag,
  nesting: dicomNesting,
  manyItems: dicomManyItems,
  garbage: dicomGarbage,
} satisfies Record<string, (bytes: Uint8Array, random: Random, index: DicomIndex) => Mutated>;

export type DicomMutationName = keyof typeof dicomMutations;

// ---------------------------------------------------------------------------------------------------
// NIfTI-1 (uncompressed bytes) and gzip

type NiftiField = { name: string; offset: number; type: 'i16' | 'i32' | 'f32'; values: readonly number[] };

const f32Hostile = [Number.NaN, Infinity, -Infinity, 0, -0, -1, 1e-30, 1e30, 3.4e38, -3.4e38, 1, 0.5];
const niftiFields: readonly NiftiField[] = [
  { name: 'sizeof_hdr', offset: 0, type: 'i32', values: [0, 540, 347, 349, -348, 0x5c010000] },
  ...Array.from({ length: 8 }, (_, n) => ({
    name: `dim[${n}]`,
    offset: 40 + 2 * n,
    type: 'i16' as const,
    values: [-32768, -1, 0, 1, 2, 3, 4, 5, 7, 8, 255, 4096, 32767],
  })),
  {
    name: 'datatype',
    offset: 70,
    type: 'i16',
    values: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, -1, 3, 32767],
  },
  { name: 'bitpix', offset: 72, type: 'i16', values: [0, -8, 1, 7, 8, 16, 128, 32767] },
  ...Array.from({ length: 8 }, (_, n) => ({
    name: `pixdim[${n}]`,
    offset: 76 + 4 * n,
    type: 'f32' as const,
    values: f32Hostile,
  })),
  {
    name: 'vox_offset',
    offset: 108,
    type: 'f32',
    values: [0, 348, 351, 352.5, 353, 356, 1e9, 2 ** 31, 2 ** 40, -352, Number.NaN, Infinity, 1e38],
  },
  { name: 'scl_slope', offset: 112, type: 'f32', values: f32Hostile },
  { name: 'scl_inter', offset: 116, type: 'f32', values: f32Hostile },
  { name: 'qform_code', offset: 252, type: 'i16', values: [-1, 0, 1, 2, 4, 32767] },
  { name: 'sform_code', offset: 254, type: 'i16', values: [-1, 0, 1, 2, 4, 32767] },
  ...['quatern_b', 'quatern_c', 'quatern_d', 'qoffset_x', 'qoffset_y', 'qoffset_z'].map((name, n) => ({
    name,
    offset: 256 + 4 * n,
    type: 'f32' as const,
    values: [...f32Hostile, 2, 0.99999994, 1.0000001],
  })),
  ...Array.from({ length: 12 }, (_, n) => ({
    name: `srow_${'xyz'[n >> 2]}[${n % 4}]`,
    offset: 280 + 4 * n,
    type: 'f32' as const,
    values: f32Hostile,
  })),
  { name: 'magic', offset: 344, type: 'i32', values: [0, 0x00312b6e, 0x0031696e, 0x00322b6e, -1] },
];

/** Sets one to three NIfTI-1 header fields to hostile values (little-endian, as the test files are). */
export function niftiHeader(bytes: Uint8Array, random: Random): Mutated {
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const changes: string[] = [];
  const count = 1 + int(random, 3);
  for (let n = 0; n < count; n++) {
    const field = pick(random, niftiFields);
    const value = pick(random, field.values);
    if (field.offset + 4 > out.length) continue;
    if (field.type === 'i16') view.setInt16(field.offset, value, true);
    else if (field.type === 'i32') view.setInt32(field.offset, value, true);
    else view.setFloat32(field.offset, value, true);
    changes.push(`${field.name} := ${value}`);
  }
  return { bytes: out, description: changes.join(', ') };
}

/** Declares a big-endian file (the other fields are then read byte-swapped). */
export function niftiBigEndian(bytes: Uint8Array): Mutated {
  const out = bytes.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setInt32(0, 348, false);
  return { bytes: out, description: 'sizeof_hdr written big-endian' };
}

/** Dimensions whose product overflows, or needs far more bytes than the file holds. */
export function niftiHugeDims(bytes: Uint8Array, random: Random): Mutated {
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const dims = pick(random, [
    [32767, 32767, 32767],
    [32767, 32767, 1],
    [65535 & 0x7fff, 2, 2],
    [4096, 4096, 4096],
    [1, 1, 32767],
  ]);
  dims.forEach((d, n) => view.setInt16(42 + 2 * n, d, true));
  view.setInt16(70, pick(random, [2, 16, 64]), true);
  return { bytes: out, description: `dims := ${dims.join('x')}` };
}

export const niftiMutations = {
  header: niftiHeader,
  bigEndian: (b: Uint8Array) => niftiBigEndian(b),
  hugeDims: niftiHugeDims,
  flipHeader: (b: Uint8Array, r: Random) => flipBytes(b, r, 352),
  flipAnywhere: (b: Uint8Array, r: Random) => flipBytes(b, r),
  truncate: (b: Uint8Array, r: Random) => truncate(b, r, 400),
  insert: (b: Uint8Array, r: Random) => insertBytes(b, r, 352),
  delete: (b: Uint8Array, r: Random) => deleteBytes(b, r, 352),
} satisfies Record<string, (bytes: Uint8Array, random: Random) => Mutated>;

export type NiftiMutationName = keyof typeof niftiMutations;

/** Corrupts the gzip framing or stream of a .nii.gz. */
export function gzipCorruption(gz: Uint8Array, random: Random): Mutated {
  const kind = int(random, 8);
  const out = gz.slice();
  switch (kind) {
    case 0:
      return flipBytes(gz, random, 10);
    case 1: {
      const m = flipBytes(gz.subarray(10, gz.length - 8), random);
      out.set(m.bytes, 10);
      return { bytes: out, description: `deflate data: ${m.description}` };
    }
    case 2: {
      const at = gz.length - 8 + int(random, 8);
      out[at] ^= 0xff;
      return { bytes: out, description: `trailer byte ${at} inverted (CRC or ISIZE)` };
    }
    case 3:
      return truncate(gz, random);
    case 4: {
      const tail = randomBytes(random, 1 + int(random, 100));
      return {
        bytes: Uint8Array.from([...gz, ...tail]),
        description: `${tail.length} bytes after the stream`,
      };
    }
    case 5:
      return { bytes: Uint8Array.from([...gz, ...gz]), description: 'two gzip members' };
    case 6: {
      const inner = randomBytes(random, int(random, 2000));
      return { bytes: gzipSync(inner), description: `gzip of ${inner.length} random bytes` };
    }
    default: {
      const tail = randomBytes(random, int(random, 64));
      return { bytes: Uint8Array.from([0x1f, 0x8b, ...tail]), description: 'gzip magic then garbage' };
    }
  }
}
