/**
 * A DICOM Part 10 encoder: explicit VR little endian (1.2.840.10008.1.2.1), defined-length sequences and
 * items, every value checked against its VR (PS3.5 section 6.2) before a byte is written. It writes what
 * it is given: which attributes an IOD needs is the caller's business (see rtstruct-writer.ts).
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../../../core/errors';

/** Value Representations of PS3.5 Table 6.2-1. */
export type VR =
  | 'AE'
  | 'AS'
  | 'AT'
  | 'CS'
  | 'DA'
  | 'DS'
  | 'DT'
  | 'FD'
  | 'FL'
  | 'IS'
  | 'LO'
  | 'LT'
  | 'OB'
  | 'OD'
  | 'OF'
  | 'OL'
  | 'OV'
  | 'OW'
  | 'PN'
  | 'SH'
  | 'SL'
  | 'SQ'
  | 'SS'
  | 'ST'
  | 'SV'
  | 'TM'
  | 'UC'
  | 'UI'
  | 'UL'
  | 'UN'
  | 'UR'
  | 'US'
  | 'UT'
  | 'UV';

/** A dataset or sequence item: its elements in any order (the encoder sorts them by tag). */
export type DicomDataset = DicomElement[];

/**
 * An element value. Text VRs take a string (one value) or string[] (several, joined by '\'); DS and IS
 * also take number[]. Binary numeric VRs (US, SS, UL, SL, FL, FD, SV, UV, AT, OW, OF, OD, OL, OV) take
 * number[]; OB and UN take a Uint8Array, and any O* VR accepts its little-endian bytes as a Uint8Array.
 * SQ takes its items. An empty string or array is a zero-length value (Type 2 "present but empty").
 */
export type DicomValue = string | string[] | number[] | Uint8Array | DicomDataset[];

/** One data element: `tag` is 0xGGGGEEEE (group in the high 16 bits). */
export interface DicomElement {
  tag: number;
  vr: VR;
  value: DicomValue;
}

/** Transfer syntax written by this encoder. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** ContourBench's Implementation Class UID (0002,0012): a fixed UUID-derived UID (PS3.5 B.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.260557625919431827808980398444063116574';
/** Implementation Version Name (0002,0013). */
export const IMPLEMENTATION_VERSION_NAME = 'CONTOURBENCH_1';

/**
 * A new globally unique UID: '2.25.' followed by the decimal value of a random (version 4) UUID, the
 * form PS3.5 B.2 defines for UIDs without a registered root (at most 44 characters).
 */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString()}`;
}

/**
 * Formats a number as a DS (decimal string) value of at most 16 characters: the shortest round-trip
 * form when it fits, else the most significant digits that fit (toPrecision or toExponential from 16
 * digits down, trailing zeros trimmed). -0 becomes '0'.
 * Errors: AppError('INVALID_ARGUMENT') for NaN and ±Infinity, which DS cannot hold.
 */
export function formatDs(value: number): string {
  if (!Number.isFinite(value)) {
    throw new AppError('INVALID_ARGUMENT', `a DS value must be a finite number, got ${value}`);
  }
  const shortest = String(value === 0 ? 0 : value);
  if (shortest.length <= 16) return shortest;
  // Fixed notation wastes characters on leading zeros (0.000001234...), exponential on the exponent:
  // at each precision try both, so the first fit keeps as many significant digits as 16 characters hold.
  for (let precision = 16; precision >= 1; precision--) {
    for (const candidate of [value.toPrecision(precision), value.toExponential(precision - 1)]) {
      const trimmed = trimTrailingZeros(candidate);
      if (trimmed.length <= 16) return trimmed;
    }
  }
  // toPrecision(1) is at most 7 characters ('-1e+308'), so the loop always returns.
  throw new AppError('INTERNAL', `cannot format ${value} as DS`);
}

function trimTrailingZeros(text: string): string {
  const [mantissa, exponent] = text.split('e');
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`;
}

/**
 * Encodes a dataset as explicit VR little endian, without preamble or File Meta group: elements sorted
 * by tag in every dataset and item, values padded to even length (UI with NUL, OB/UN with 0x00, other
 * text with a space), sequences and items with defined lengths. Text in SH, LO, ST, LT, PN, UC and UT is
 * encoded by the dataset's Specific Character Set (0008,0005), inherited by sequence items: absent or
 * empty means ASCII only, 'ISO_IR 100' Latin-1, 'ISO_IR 192' UTF-8. A value too long for a 16-bit length
 * field (over 65534 bytes, e.g. a long ContourData) is written with VR UN and a 32-bit length, as DICOM
 * CP-1066 prescribes; readers take the VR from the data dictionary.
 *
 * Errors: AppError('INVALID_ARGUMENT') naming the element's path (e.g. '(3006,0039)[0] > (3006,0050) DS')
 * for a value that violates its VR (UI longer than 64 or with characters other than digits and dots, DS
 * longer than 16 bytes or not a decimal, CS with lower case, DA not YYYYMMDD, numbers out of range, ...),
 * a value of the wrong kind for the VR, a duplicate tag, a group 0002 or item tag in a dataset, or an
 * unsupported Specific Character Set.
 */
export function encodeDataset(dataset: DicomDataset): Uint8Array {
  const sink = new ChunkSink();
  writeDataset(sink, dataset, 'ascii', '', false);
  return sink.concat();
}

/**
 * Encodes a DICOM Part 10 file: 128-byte zero preamble, 'DICM', the File Meta group (group length,
 * version 00\01, Media Storage SOP Class and Instance UIDs copied from the dataset's SOP Class UID
 * (0008,0016) and SOP Instance UID (0008,0018), transfer syntax explicit VR little endian, ContourBench's
 * implementation class UID and version name), then the dataset as encodeDataset writes it.
 *
 * Errors: those of encodeDataset; AppError('INVALID_ARGUMENT') when the dataset lacks a SOP Class UID or
 * SOP Instance UID or holds group 0002 elements.
 */
export function encodeDicomFile(dataset: DicomDataset): Uint8Array {
  const sopClassUid = topLevelString(dataset, 0x00080016, 'SOP Class UID');
  const sopInstanceUid = topLevelString(dataset, 0x00080018, 'SOP Instance UID');
  const meta: DicomDataset = [
    { tag: 0x00020001, vr: 'OB', value: Uint8Array.of(0x00, 0x01) },
    { tag: 0x00020002, vr: 'UI', value: sopClassUid },
    { tag: 0x00020003, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00020010, vr: 'UI', value: EXPLICIT_VR_LITTLE_ENDIAN },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
  ];
  const metaSink = new ChunkSink();
  writeDataset(metaSink, meta, 'ascii', '', true);
  const sink = new ChunkSink();
  sink.push(new Uint8Array(128));
  sink.push(asciiBytes('DICM'));
  writeElement(sink, { tag: 0x00020000, vr: 'UL', value: [metaSink.length] }, 'ascii', '', true);
  sink.append(metaSink);
  writeDataset(sink, dataset, 'ascii', '', false);
  return sink.concat();
}

function topLevelString(dataset: DicomDataset, tag: number, name: string): string {
  const element = dataset.find((candidate) => candidate.tag === tag);
  const value = element?.value;
  const text =
    typeof value === 'string' ? value : Array.isArray(value) && value.length === 1 ? value[0] : null;
  if (typeof text !== 'string' || text === '') {
    throw new AppError('INVALID_ARGUMENT', `a DICOM file needs ${name} ${tagName(tag)} in its dataset`);
  }
  return text;
}

type CharacterSet = 'ascii' | 'latin1' | 'utf8';

/** Collects encoded pieces so nested sequences are measured without copying their contents. */
class ChunkSink {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  append(other: ChunkSink): void {
    for (const chunk of other.chunks) this.push(chunk);
  }

  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function vrSet(list: string): ReadonlySet<VR> {
  return new Set(list.split(' ') as VR[]);
}

const KNOWN_VRS: ReadonlySet<string> = vrSet(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV',
);
/** VRs with 2 reserved bytes and a 32-bit length in explicit VR (PS3.5 Table 7.1-1). */
const LONG_LENGTH_VRS = vrSet('OB OD OF OL OV OW SQ SV UC UN UR UT UV');
/** VRs whose text the Specific Character Set governs; the others are ASCII. */
const CHARACTER_SET_VRS = vrSet('SH LO ST LT PN UC UT');
const TEXT_VRS = vrSet('AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT');
/** VRs holding exactly one value, in which a backslash is an ordinary character. */
const SINGLE_VALUE_VRS = vrSet('LT ST UT UR');
const MAX_16_BIT_LENGTH = 0xfffe;
const MAX_32_BIT_LENGTH = 0xfffffffe;

function writeDataset(
  sink: ChunkSink,
  dataset: DicomDataset,
  inherited: CharacterSet,
  path: string,
  isMeta: boolean,
): void {
  const elements = [...dataset].sort((a, b) => a.tag - b.tag);
  for (let n = 1; n < elements.length; n++) {
    if (elements[n].tag === elements[n - 1].tag) {
      throw invalid(path, elements[n], 'appears twice in the same dataset');
    }
  }
  const characterSetElement = elements.find((element) => element.tag === 0x00080005);
  const characterSet = characterSetElement ? parseCharacterSet(characterSetElement, path) : inherited;
  for (const element of elements) writeElement(sink, element, characterSet, path, isMeta);
}

function parseCharacterSet(element: DicomElement, path: string): CharacterSet {
  const raw = element.value;
  const values = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(values) || values.some((value) => typeof value !== 'string')) {
    throw invalid(path, element, 'Specific Character Set must be a string');
  }
  const terms = (values as string[]).map((value) => value.trim());
  if (terms.length === 0 || (terms.length === 1 && terms[0] === '')) return 'ascii';
  if (terms.length === 1 && terms[0] === 'ISO_IR 100') return 'latin1';
  if (terms.length === 1 && terms[0] === 'ISO_IR 192') return 'utf8';
  throw invalid(
    path,
    element,
    `unsupported Specific Character Set '${terms.join('\\')}' (expected empty, 'ISO_IR 100' or 'ISO_IR 192')`,
  );
}

function writeElement(
  sink: ChunkSink,
  element: DicomElement,
  characterSet: CharacterSet,
  path: string,
  isMeta: boolean,
): void {
  const { tag, vr } = element;
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffffffff) {
    throw new AppError('INVALID_ARGUMENT', `${path}tag ${tag} is not a 32-bit tag number (0xGGGGEEEE)`);
  }
  if (!KNOWN_VRS.has(vr)) throw invalid(path, element, `unknown VR '${vr}'`);
  const group = tag >>> 16;
  if (group === 0xfffe) throw invalid(path, element, 'item and delimitation tags are written by the encoder');
  if (group === 0x0002 && !isMeta) {
    throw invalid(
      path,
      element,
      'File Meta elements (group 0002) belong to the file header, not the dataset',
    );
  }

  if (vr === 'SQ') {
    const items = element.value;
    if (!Array.isArray(items) || items.some((item) => !Array.isArray(item))) {
      throw invalid(path, element, 'an SQ value must be an array of items (arrays of elements)');
    }
    const body = new ChunkSink();
    (items as DicomDataset[]).forEach((item, index) => {
      const itemSink = new ChunkSink();
      writeDataset(itemSink, item, characterSet, `${path}${tagName(tag)}[${index}] > `, isMeta);
      body.push(itemHeader(itemSink.length));
      body.append(itemSink);
    });
    sink.push(elementHeader(tag, 'SQ', body.length));
    sink.append(body);
    return;
  }

  let bytes = encodeValue(element, characterSet, path);
  if (bytes.length % 2 === 1) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    padded[bytes.length] = vr === 'UI' || vr === 'OB' || vr === 'UN' ? 0x00 : 0x20;
    bytes = padded;
  }
  let writtenVr: VR = vr;
  if (!LONG_LENGTH_VRS.has(vr) && bytes.length > MAX_16_BIT_LENGTH) {
    if (isMeta)
      throw invalid(path, element, `value of ${bytes.length} bytes exceeds the 16-bit length field`);
    writtenVr = 'UN';
  }
  if (bytes.length > MAX_32_BIT_LENGTH)
    throw invalid(path, element, `value of ${bytes.length} bytes is too long`);
  sink.push(elementHeader(tag, writtenVr, bytes.length));
  sink.push(bytes);
}

function elementHeader(tag: number, vr: VR, length: number): Uint8Array {
  const long = LONG_LENGTH_VRS.has(vr);
  const header = new Uint8Array(long ? 12 : 8);
  const view = new DataView(header.buffer);
  view.setUint16(0, tag >>> 16, true);
  view.setUint16(2, tag & 0xffff, true);
  header[4] = vr.charCodeAt(0);
  header[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, length, true);
  else view.setUint16(6, length, true);
  return header;
}

function itemHeader(length: number): Uint8Array {
  const header = new Uint8Array(8);
  const view = new DataView(header.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, 0xe000, true);
  view.setUint32(4, length, true);
  return header;
}

function encodeValue(element: DicomElement, characterSet: CharacterSet, path: string): Uint8Array {
  const { vr, value } = element;
  if (TEXT_VRS.has(vr)) return encodeText(element, characterSet, path);
  if (value instanceof Uint8Array) {
    if (vr === 'OB' || vr === 'UN') return value;
    const width = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 }[vr as string];
    if (width === undefined) throw invalid(path, element, `${vr} takes number[], not bytes`);
    if (value.length % width !== 0) {
      throw invalid(path, element, `${vr} bytes must come in multiples of ${width}, got ${value.length}`);
    }
    return value;
  }
  if (vr === 'OB' || vr === 'UN') throw invalid(path, element, `${vr} takes a Uint8Array`);
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'number')) {
    throw invalid(path, element, `${vr} takes an array of numbers`);
  }
  return encodeNumbers(element, value as number[], path);
}

const NUMBER_FORMATS: Record<string, { width: number; min?: number; max?: number; integer: boolean }> = {
  US: { width: 2, min: 0, max: 0xffff, integer: true },
  OW: { width: 2, min: 0, max: 0xffff, integer: true },
  SS: { width: 2, min: -0x8000, max: 0x7fff, integer: true },
  UL: { width: 4, min: 0, max: 0xffffffff, integer: true },
  OL: { width: 4, min: 0, max: 0xffffffff, integer: true },
  AT: { width: 4, min: 0, max: 0xffffffff, integer: true },
  SL: { width: 4, min: -0x80000000, max: 0x7fffffff, integer: true },
  FL: { width: 4, integer: false },
  OF: { width: 4, integer: false },
  FD: { width: 8, integer: false },
  OD: { width: 8, integer: false },
  SV: { width: 8, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true },
  UV: { width: 8, min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  OV: { width: 8, min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
};

function encodeNumbers(element: DicomElement, values: number[], path: string): Uint8Array {
  const { vr } = element;
  const format = NUMBER_FORMATS[vr];
  if (format === undefined) throw invalid(path, element, `unknown VR ${vr}`);
  const out = new Uint8Array(values.length * format.width);
  const view = new DataView(out.buffer);
  values.forEach((value, index) => {
    if (format.integer) {
      if (!Number.isInteger(value) || value < format.min! || value > format.max!) {
        throw invalid(path, element, `value ${value} is not an integer in [${format.min}, ${format.max}]`);
      }
    } else if (
      (vr === 'FL' || vr === 'OF') &&
      Number.isFinite(value) &&
      !Number.isFinite(Math.fround(value))
    ) {
      throw invalid(path, element, `value ${value} overflows a 32-bit float`);
    }
    const offset = index * format.width;
    switch (vr) {
      case 'US':
      case 'OW':
        view.setUint16(offset, value, true);
        break;
      case 'SS':
        view.setInt16(offset, value, true);
        break;
      case 'UL':
      case 'OL':
        view.setUint32(offset, value, true);
        break;
      case 'AT':
        view.setUint16(offset, value >>> 16, true);
        view.setUint16(offset + 2, value & 0xffff, true);
        break;
      case 'SL':
        view.setInt32(offset, value, true);
        break;
      case 'FL':
      case 'OF':
        view.setFloat32(offset, value, true);
        break;
      case 'FD':
      case 'OD':
        view.setFloat64(offset, value, true);
        break;
      case 'SV':
        view.setBigInt64(offset, BigInt(value), true);
        break;
      default:
        view.setBigUint64(offset, BigInt(value), true);
    }
  });
  return out;
}

function encodeText(element: DicomElement, characterSet: CharacterSet, path: string): Uint8Array {
  const { vr, value } = element;
  let values: string[];
  if (typeof value === 'string') {
    values = [value];
  } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    values = value as string[];
  } else if (
    (vr === 'DS' || vr === 'IS') &&
    Array.isArray(value) &&
    value.every((item) => typeof item === 'number')
  ) {
    values = (value as number[]).map((number) => {
      if (!Number.isFinite(number)) throw invalid(path, element, `value ${number} is not a finite number`);
      return vr === 'DS' ? formatDs(number) : formatIs(number, element, path);
    });
  } else {
    throw invalid(
      path,
      element,
      `${vr} takes a string or string[]${vr === 'DS' || vr === 'IS' ? ' or number[]' : ''}`,
    );
  }
  if (SINGLE_VALUE_VRS.has(vr) && values.length > 1) {
    throw invalid(path, element, `${vr} holds a single value, got ${values.length}`);
  }
  for (const text of values) {
    const problem = textProblem(vr, text);
    if (problem !== null) throw invalid(path, element, `value '${abbreviate(text)}': ${problem}`);
  }
  const joined = values.join('\\');
  const encoding = CHARACTER_SET_VRS.has(vr) ? characterSet : 'ascii';
  return encodeString(joined, encoding, element, path);
}

function formatIs(value: number, element: DicomElement, path: string): string {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw invalid(path, element, `IS value ${value} is not an integer in the signed 32-bit range`);
  }
  return String(value);
}

function encodeString(
  text: string,
  characterSet: CharacterSet,
  element: DicomElement,
  path: string,
): Uint8Array {
  if (characterSet === 'utf8') return new TextEncoder().encode(text);
  const limit = characterSet === 'latin1' ? 0xff : 0x7f;
  const out = new Uint8Array(text.length);
  for (let n = 0; n < text.length; n++) {
    const code = text.charCodeAt(n);
    if (code > limit) {
      const needed =
        characterSet === 'ascii' && CHARACTER_SET_VRS.has(element.vr)
          ? `; set Specific Character Set (0008,0005) to 'ISO_IR 100' or 'ISO_IR 192'`
          : characterSet === 'latin1'
            ? `; use Specific Character Set 'ISO_IR 192'`
            : `; ${element.vr} allows only ASCII`;
      throw invalid(path, element, `character '${text[n]}' is outside the character set${needed}`);
    }
    out[n] = code;
  }
  return out;
}

const CS_PATTERN = /^[A-Z0-9 _]*$/;
const DS_PATTERN = /^ *[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)? *$/;
const IS_PATTERN = /^ *[+-]?\d+ *$/;
const UI_PATTERN = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;
const DA_PATTERN = /^(\d{4})(\d{2})(\d{2})$/;
const TM_PATTERN = /^(\d{2})((\d{2})((\d{2})(\.\d{1,6})?)?)?$/;
const DT_PATTERN = /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/;
const AS_PATTERN = /^\d{3}[DWMY]$/;
const UR_PATTERN = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
/**
 * AE, LO, SH, PN, UC allow no control character. DICOM also allows ESC in text, but only to start the
 * ISO 2022 code extensions this encoder does not write, so it is refused everywhere.
 */
const NAME_CONTROLS: ReadonlySet<number> = new Set();
/** LT, ST, UT allow TAB, LF, FF and CR. */
const TEXT_CONTROLS: ReadonlySet<number> = new Set([0x09, 0x0a, 0x0c, 0x0d]);

/** Whether `text` holds a C0 control character or DEL outside `allowed`. */
function hasControlCharacter(text: string, allowed: ReadonlySet<number>): boolean {
  for (let n = 0; n < text.length; n++) {
    const code = text.charCodeAt(n);
    if ((code < 0x20 || code === 0x7f) && !allowed.has(code)) return true;
  }
  return false;
}

/** Why `text` is not a valid single value of `vr` (PS3.5 Table 6.2-1), or null. Empty is always valid. */
function textProblem(vr: VR, text: string): string | null {
  if (text === '') return null;
  const characters = [...text].length;
  const tooLong = (max: number) =>
    characters > max ? `${characters} characters, ${vr} allows at most ${max}` : null;
  const noBackslash = (): string | null =>
    text.includes('\\') ? `a backslash separates values; ${vr} values cannot contain one` : null;
  switch (vr) {
    case 'AE':
      return (
        tooLong(16) ??
        (text.includes('\\') || hasControlCharacter(text, NAME_CONTROLS)
          ? 'AE allows no backslash or control characters'
          : null)
      );
    case 'AS':
      return AS_PATTERN.test(text) ? null : "AS is 'nnnD', 'nnnW', 'nnnM' or 'nnnY'";
    case 'CS':
      return tooLong(16) ?? (CS_PATTERN.test(text) ? null : 'CS allows only A-Z, 0-9, space and underscore');
    case 'DA': {
      const match = DA_PATTERN.exec(text);
      if (!match) return 'DA is YYYYMMDD';
      const month = Number(match[2]);
      const day = Number(match[3]);
      return month >= 1 && month <= 12 && day >= 1 && day <= 31 ? null : 'DA has month 01-12 and day 01-31';
    }
    case 'DS':
      if (text.length > 16) return `${text.length} bytes, DS allows at most 16`;
      return DS_PATTERN.test(text) ? null : 'DS is a decimal number such as -12.5 or 1.5e3';
    case 'DT':
      return tooLong(26) ?? (DT_PATTERN.test(text) ? null : 'DT is YYYYMMDDHHMMSS.FFFFFF&ZZXX');
    case 'IS': {
      if (text.length > 12) return `${text.length} bytes, IS allows at most 12`;
      if (!IS_PATTERN.test(text)) return 'IS is an integer';
      const number = Number(text);
      return number >= -0x80000000 && number <= 0x7fffffff ? null : 'IS is a signed 32-bit integer';
    }
    case 'LO':
      return (
        tooLong(64) ??
        noBackslash() ??
        (hasControlCharacter(text, NAME_CONTROLS) ? 'LO allows no control characters' : null)
      );
    case 'SH':
      return (
        tooLong(16) ??
        noBackslash() ??
        (hasControlCharacter(text, NAME_CONTROLS) ? 'SH allows no control characters' : null)
      );
    case 'UC':
      return (
        noBackslash() ?? (hasControlCharacter(text, NAME_CONTROLS) ? 'UC allows no control characters' : null)
      );
    case 'PN': {
      if (noBackslash()) return noBackslash();
      if (hasControlCharacter(text, NAME_CONTROLS)) return 'PN allows no control characters';
      const groups = text.split('=');
      if (groups.length > 3) return 'PN has at most 3 component groups (alphabetic=ideographic=phonetic)';
      for (const group of groups) {
        if ([...group].length > 64) return 'a PN component group allows at most 64 characters';
        if (group.split('^').length > 5) return 'a PN component group has at most 5 components';
      }
      return null;
    }
    case 'LT':
      return (
        tooLong(10240) ??
        (hasControlCharacter(text, TEXT_CONTROLS)
          ? 'LT allows no control characters but TAB, LF, FF and CR'
          : null)
      );
    case 'ST':
      return (
        tooLong(1024) ??
        (hasControlCharacter(text, TEXT_CONTROLS)
          ? 'ST allows no control characters but TAB, LF, FF and CR'
          : null)
      );
    case 'UT':
      return hasControlCharacter(text, TEXT_CONTROLS)
        ? 'UT allows no control characters but TAB, LF, FF and CR'
        : null;
    case 'TM': {
      const match = TM_PATTERN.exec(text);
      if (!match) return 'TM is HHMMSS.FFFFFF';
      const hours = Number(match[1]);
      const minutes = match[3] === undefined ? 0 : Number(match[3]);
      const seconds = match[5] === undefined ? 0 : Number(match[5]);
      return hours < 24 && minutes < 60 && seconds < 61
        ? null
        : 'TM has hours 00-23, minutes 00-59, seconds 00-60';
    }
    case 'UI':
      if (text.length > 64) return `${text.length} characters, UI allows at most 64`;
      return UI_PATTERN.test(text)
        ? null
        : 'UI is digit groups separated by dots, without leading zeros or other characters';
    case 'UR':
      return UR_PATTERN.test(text) ? null : 'UR is a URI (RFC 3986 characters, no spaces or backslash)';
    default:
      return `${vr} is not a text VR`;
  }
}

function abbreviate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0));
}

function tagName(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

function invalid(path: string, element: DicomElement, problem: string): AppError {
  return new AppError(
    'INVALID_ARGUMENT',
    `DICOM element ${path}${tagName(element.tag)} ${element.vr}: ${problem}`,
  );
}
