import { AppError } from '../../../core/errors';

/**
 * A DICOM Part 10 parser for the uncompressed little-endian transfer syntaxes. It indexes elements
 * without copying: each element records where its value lies in the file's bytes, values are decoded on
 * request, and pixel data is never touched until asked for.
 */

export const transferSyntax = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflatedExplicitLittle: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
} as const;

const transferSyntaxNames: Record<string, string> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian (retired)',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

export interface DicomElement {
  tag: number;
  /** Two-letter VR: read from the file (explicit VR) or from the dictionary (implicit VR), 'UN' if unknown. */
  vr: string;
  /** Byte offset of the value in the file. */
  offset: number;
  /** Value length in bytes (0xffffffff for undefined-length sequences). */
  length: number;
  /** Sequence items, for SQ. */
  items?: DicomDataset[];
}

export interface DicomDataset {
  elements: Map<number, DicomElement>;
  /** The file's bytes, shared by every dataset of the file. */
  bytes: Uint8Array;
  /** Decoder for text values, from Specific Character Set. */
  text: TextDecoder;
  /** Name of the file, for error messages. */
  source: string;
}

export interface DicomFile {
  meta: DicomDataset;
  dataset: DicomDataset;
  transferSyntaxUid: string;
}

export const tags = {
  transferSyntaxUid: 0x00020010,
  specificCharacterSet: 0x00080005,
  sopClassUid: 0x00080016,
  sopInstanceUid: 0x00080018,
  studyDate: 0x00080020,
  seriesDate: 0x00080021,
  acquisitionDate: 0x00080022,
  studyTime: 0x00080030,
  accessionNumber: 0x00080050,
  modality: 0x00080060,
  manufacturer: 0x00080070,
  institutionName: 0x00080080,
  referringPhysicianName: 0x00080090,
  stationName: 0x00081010,
  studyDescription: 0x00081030,
  seriesDescription: 0x0008103e,
  operatorsName: 0x00081070,
  manufacturerModelName: 0x00081090,
  referencedSopClassUid: 0x00081150,
  referencedSopInstanceUid: 0x00081155,
  patientName: 0x00100010,
  patientId: 0x00100020,
  patientBirthDate: 0x00100030,
  patientSex: 0x00100040,
  sliceThickness: 0x00180050,
  kvp: 0x00180060,
  convolutionKernel: 0x00181210,
  patientPosition: 0x00185100,
  studyInstanceUid: 0x0020000d,
  seriesInstanceUid: 0x0020000e,
  studyId: 0x00200010,
  seriesNumber: 0x00200011,
  instanceNumber: 0x00200013,
  imagePositionPatient: 0x00200032,
  imageOrientationPatient: 0x00200037,
  frameOfReferenceUid: 0x00200052,
  sliceLocation: 0x00201041,
  samplesPerPixel: 0x00280002,
  photometricInterpretation: 0x00280004,
  numberOfFrames: 0x00280008,
  rows: 0x00280010,
  columns: 0x00280011,
  pixelSpacing: 0x00280030,
  bitsAllocated: 0x00280100,
  bitsStored: 0x00280101,
  highBit: 0x00280102,
  pixelRepresentation: 0x00280103,
  rescaleIntercept: 0x00281052,
  rescaleSlope: 0x00281053,
  structureSetLabel: 0x30060002,
  structureSetName: 0x30060004,
  structureSetDescription: 0x30060006,
  structureSetDate: 0x30060008,
  structureSetTime: 0x30060009,
  referencedFrameOfReferenceSequence: 0x30060010,
  rtReferencedStudySequence: 0x30060012,
  rtReferencedSeriesSequence: 0x30060014,
  contourImageSequence: 0x30060016,
  structureSetRoiSequence: 0x30060020,
  roiNumber: 0x30060022,
  referencedFrameOfReferenceUid: 0x30060024,
  roiName: 0x30060026,
  roiGenerationAlgorithm: 0x30060036,
  roiDisplayColor: 0x3006002a,
  roiContourSequence: 0x30060039,
  contourSequence: 0x30060040,
  contourGeometricType: 0x30060042,
  numberOfContourPoints: 0x30060046,
  contourData: 0x30060050,
  rtRoiObservationsSequence: 0x30060080,
  observationNumber: 0x30060082,
  referencedRoiNumber: 0x30060084,
  roiObservationLabel: 0x30060085,
  rtRoiInterpretedType: 0x300600a4,
  roiInterpreter: 0x300600a6,
  pixelData: 0x7fe00010,
} as const;

const item = 0xfffee000;
const itemDelimitation = 0xfffee00d;
const sequenceDelimitation = 0xfffee0dd;
const undefinedLength = 0xffffffff;
/** Deepest sequence nesting accepted; RT objects nest about five levels, and recursion needs a bound. */
const maxSequenceDepth = 64;

/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR encoding. */
const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** VRs of the tags read by value type in implicit VR files (everything else is text or a sequence). */
const implicitVrs = new Map<number, string>([
  [tags.samplesPerPixel, 'US'],
  [tags.rows, 'US'],
  [tags.columns, 'US'],
  [tags.bitsAllocated, 'US'],
  [tags.bitsStored, 'US'],
  [tags.highBit, 'US'],
  [tags.pixelRepresentation, 'US'],
  [tags.pixelData, 'OW'],
]);

/** Sequences that may have a defined length, which implicit VR cannot otherwise tell from a value. */
const knownSequences = new Set<number>([
  tags.referencedFrameOfReferenceSequence,
  tags.rtReferencedStudySequence,
  tags.rtReferencedSeriesSequence,
  tags.contourImageSequence,
  tags.structureSetRoiSequence,
  tags.roiContourSequence,
  tags.contourSequence,
  tags.rtRoiObservationsSequence,
  0x00081115, // Referenced Series Sequence
  0x00081140, // Referenced Image Sequence
  0x00081110, // Referenced Study Sequence
  0x00081111, // Referenced Performed Procedure Step Sequence
  0x00082112, // Source Image Sequence
  0x00089215, // Derivation Code Sequence
  0x30060018, // Predecessor Structure Set Sequence
  0x300600b0, // ROI Physical Properties Sequence
  0x30060086, // RT ROI Identification Code Sequence
  0x00400275, // Request Attributes Sequence
]);

export function formatTag(tag: number): string {
  const hex = tag.toString(16).padStart(8, '0').toUpperCase();
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

function fail(source: string, message: string): never {
  throw new AppError('INVALID_INPUT', `${source}: ${message}`);
}

class Reader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(offset: number, count: number, what: string): void {
    if (offset + count > this.bytes.length) {
      fail(
        this.source,
        `truncated: ${what} at byte ${offset} needs ${count} bytes, the file has ${this.bytes.length}`,
      );
    }
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  tag(offset: number): number {
    return ((this.u16(offset) << 16) | this.u16(offset + 2)) >>> 0;
  }

  /**
   * Parses elements from `start` until `end` (exclusive), or until an item or sequence delimiter when
   * `end` is undefined-length. Returns the dataset and the offset after it (after its delimiter).
   */
  dataset(
    start: number,
    end: number,
    explicit: boolean,
    decoder: TextDecoder,
    depth = 0,
  ): { dataset: DicomDataset; next: number } {
    const elements = new Map<number, DicomElement>();
    const dataset: DicomDataset = { elements, bytes: this.bytes, text: decoder, source: this.source };
    let offset = start;
    while (offset < end) {
      this.need(offset, 8, 'an element header');
      const tag = this.tag(offset);
      if (tag === itemDelimitation || tag === sequenceDelimitation) {
        return { dataset, next: offset + 8 };
      }
      let vr: string;
      let length: number;
      let valueOffset: number;
      if (tag >>> 16 === 0xfffe) {
        fail(this.source, `unexpected item tag ${formatTag(tag)} at byte ${offset} outside a sequence`);
      }
      if (explicit) {
        vr = String.fromCharCode(this.bytes[offset + 4], this.bytes[offset + 5]);
        if (!/^[A-Z]{2}$/.test(vr))
          fail(this.source, `element ${formatTag(tag)} at byte ${offset} has an invalid VR`);
        if (longVrs.has(vr)) {
          this.need(offset, 12, `element ${formatTag(tag)}`);
          length = this.u32(offset + 8);
          valueOffset = offset + 12;
        } else {
          length = this.u16(offset + 6);
          valueOffset = offset + 8;
        }
      } else {
        length = this.u32(offset + 4);
        valueOffset = offset + 8;
        vr = implicitVrs.get(tag) ?? (knownSequences.has(tag) || length === undefinedLength ? 'SQ' : 'UN');
        if (
          vr === 'UN' &&
          length >= 8 &&
          valueOffset + 4 <= this.bytes.length &&
          this.tag(valueOffset) === item
        ) {
          vr = 'SQ';
        }
      }
      const element: DicomElement = { tag, vr, offset: valueOffset, length };
      if (vr === 'SQ' || (vr === 'UN' && length === undefinedLength)) {
        if (depth >= maxSequenceDepth) {
          fail(
            this.source,
            `sequence ${formatTag(tag)} at byte ${offset} is nested more than ${maxSequenceDepth} levels deep`,
          );
        }
        const { items, next } = this.sequence(valueOffset, length, explicit, decoder, tag, depth + 1);
        element.items = items;
        element.vr = 'SQ';
        elements.set(tag, element);
        offset = next;
        continue;
      }
      if (length === undefinedLength) {
        if (tag === tags.pixelData)
          fail(this.source, 'encapsulated (compressed) pixel data is not supported');
        fail(this.source, `element ${formatTag(tag)} has an undefined length`);
      }
      this.need(valueOffset, length, `the value of ${formatTag(tag)}`);
      elements.set(tag, element);
      if (tag === tags.specificCharacterSet) decoder = textDecoderFor(this.bytes, valueOffset, length);
      dataset.text = decoder;
      offset = valueOffset + length;
    }
    if (end !== Number.POSITIVE_INFINITY && offset > end) {
      fail(this.source, `an element runs past the end of its item (byte ${offset} > ${end})`);
    }
    return { dataset, next: offset };
  }

  sequence(
    start: number,
    length: number,
    explicit: boolean,
    decoder: TextDecoder,
    tag: number,
    depth: number,
  ): { items: DicomDataset[]; next: number } {
    const end = length === undefinedLength ? Number.POSITIVE_INFINITY : start + length;
    if (end !== Number.POSITIVE_INFINITY) this.need(start, length, `sequence ${formatTag(tag)}`);
    const items: DicomDataset[] = [];
    let offset = start;
    while (offset < end) {
      this.need(offset, 8, `an item of sequence ${formatTag(tag)}`);
      const itemTag = this.tag(offset);
      const itemLength = this.u32(offset + 4);
      if (itemTag === sequenceDelimitation) return { items, next: offset + 8 };
      if (itemTag !== item)
        fail(
          this.source,
          `sequence ${formatTag(tag)} holds ${formatTag(itemTag)} where an item was expected`,
        );
      const itemEnd = itemLength === undefinedLength ? Number.POSITIVE_INFINITY : offset + 8 + itemLength;
      const { dataset, next } = this.dataset(offset + 8, itemEnd, explicit, decoder, depth);
      items.push(dataset);
      offset = next;
    }
    if (end === Number.POSITIVE_INFINITY) fail(this.source, `sequence ${formatTag(tag)} has no delimiter`);
    return { items, next: offset };
  }
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function textDecoderFor(bytes: Uint8Array, offset: number, length: number): TextDecoder {
  const value = latin1
    .decode(bytes.subarray(offset, offset + length))
    .trim()
    .toUpperCase();
  return value.includes('ISO_IR 192') ? utf8 : latin1;
}

/**
 * Parses a DICOM Part 10 file (preamble, "DICM", file meta information, data set). Throws INVALID_INPUT
 * naming the file for anything that is not such a file, for truncation, and for transfer syntaxes other
 * than implicit and explicit VR little endian (naming the syntax).
 */
export function parseDicom(bytes: Uint8Array, source: string): DicomFile {
  if (bytes.length < 132 || latin1.decode(bytes.subarray(128, 132)) !== 'DICM') {
    fail(source, 'not a DICOM file (no "DICM" marker after the 128-byte preamble)');
  }
  const reader = new Reader(bytes, source);
  // File meta: explicit VR little endian; group 0002 only.
  let metaEnd = 132;
  while (metaEnd + 8 <= bytes.length && reader.u16(metaEnd) === 0x0002) {
    const vr = String.fromCharCode(bytes[metaEnd + 4], bytes[metaEnd + 5]);
    metaEnd += longVrs.has(vr) ? 12 + reader.u32(metaEnd + 8) : 8 + reader.u16(metaEnd + 6);
  }
  const { dataset: meta } = reader.dataset(132, metaEnd, true, latin1);
  const syntax = getString(meta, tags.transferSyntaxUid) ?? '';
  if (syntax !== transferSyntax.implicitLittle && syntax !== transferSyntax.explicitLittle) {
    const name = transferSyntaxNames[syntax];
    fail(
      source,
      syntax === ''
        ? 'the file meta information has no Transfer Syntax UID'
        : `transfer syntax ${syntax}${name ? ` (${name})` : ''} is not supported; export uncompressed (implicit or explicit VR little endian)`,
    );
  }
  const { dataset } = reader.dataset(metaEnd, bytes.length, syntax === transferSyntax.explicitLittle, latin1);
  return { meta, dataset, transferSyntaxUid: syntax };
}

function element(dataset: DicomDataset, tag: number): DicomElement | undefined {
  return dataset.elements.get(tag);
}

/**
 * Text value with trailing padding removed; undefined when absent. A NUL inside the value (only trailing
 * padding may be NUL) is INVALID_INPUT naming the file and the tag: no text store accepts it.
 */
export function getString(dataset: DicomDataset, tag: number): string | undefined {
  const e = element(dataset, tag);
  if (!e) return undefined;
  const raw = dataset.text.decode(dataset.bytes.subarray(e.offset, e.offset + e.length));
  const value = raw.replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (value.includes('\0')) fail(dataset.source, `${formatTag(tag)} holds a NUL character inside its value`);
  return value;
}

/** Multi-valued text (backslash-separated), each value trimmed. */
export function getStrings(dataset: DicomDataset, tag: number): string[] | undefined {
  const value = getString(dataset, tag);
  if (value === undefined) return undefined;
  return value === '' ? [] : value.split('\\').map((part) => part.trim());
}

/** Decimal or integer strings (DS, IS) as numbers; throws naming the tag for anything unparsable. */
export function getNumbers(dataset: DicomDataset, tag: number): number[] | undefined {
  const values = getStrings(dataset, tag);
  if (values === undefined) return undefined;
  return values.map((value) => {
    const number = Number(value);
    if (value === '' || !Number.isFinite(number)) {
      fail(dataset.source, `${formatTag(tag)} holds "${value}", expected a number`);
    }
    return number;
  });
}

export function getNumber(dataset: DicomDataset, tag: number): number | undefined {
  return getNumbers(dataset, tag)?.[0];
}

/** A US value. */
export function getUint16(dataset: DicomDataset, tag: number): number | undefined {
  const e = element(dataset, tag);
  if (!e) return undefined;
  if (e.length < 2) fail(dataset.source, `${formatTag(tag)} is empty, expected an unsigned short`);
  return dataset.bytes[e.offset] | (dataset.bytes[e.offset + 1] << 8);
}

export function getSequence(dataset: DicomDataset, tag: number): DicomDataset[] {
  return element(dataset, tag)?.items ?? [];
}

/** The raw bytes of a value (a view into the file, not a copy). */
export function getBytes(dataset: DicomDataset, tag: number): Uint8Array | undefined {
  const e = element(dataset, tag);
  return e ? dataset.bytes.subarray(e.offset, e.offset + e.length) : undefined;
}

/** A required text value: throws INVALID_INPUT naming the file and the attribute when it is missing or empty. */
export function requireString(dataset: DicomDataset, tag: number, name: string): string {
  const value = getString(dataset, tag);
  if (value === undefined || value === '') fail(dataset.source, `missing ${name} ${formatTag(tag)}`);
  return value;
}

/** Required numbers with an exact count. */
export function requireNumbers(dataset: DicomDataset, tag: number, name: string, count: number): number[] {
  const values = getNumbers(dataset, tag);
  if (values === undefined) fail(dataset.source, `missing ${name} ${formatTag(tag)}`);
  if (values.length !== count) {
    fail(dataset.source, `${name} ${formatTag(tag)} has ${values.length} values, expected ${count}`);
  }
  return values;
}
