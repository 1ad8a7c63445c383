/**
 * NIfTI-1 single-file (.nii) reading and writing, uncompressed bytes in and out (gzip is the caller's
 * business: see server/io/nifti-file.ts).
 *
 * Header layout, datatype codes and the qform/sform rules follow the NIfTI-1 standard (nifti1.h) and
 * the reference C library (nifti1_io.c: nifti_quatern_to_mat44, nifti_mat44_to_quatern), which nibabel
 * agrees with. NIfTI affines map (i, j, k) to RAS mm; Volume stores LPS, so the first two rows are negated
 * on the way in and out.
 */
import { AppError } from '../errors';
import type { Vec3, Volume, VoxelArray } from './volume';

const HEADER_BYTES = 348;
/** Header plus the 4-byte extension flag: where a .nii without extensions keeps its voxels. */
const SINGLE_FILE_VOX_OFFSET = 352;
const NIFTI_UNITS_MM = 2;
const NIFTI_XFORM_SCANNER_ANAT = 1;
/** Relative disagreement allowed between the affine's column norms and pixdim[1..3]. */
const SPACING_RELATIVE_TOLERANCE = 1e-3;
const FLOAT32_EPSILON = 2 ** -23;

/** Byte offsets of the NIfTI-1 header fields we read or write (nifti1.h). */
const OFFSET = {
  sizeofHdr: 0,
  dim: 40,
  datatype: 70,
  bitpix: 72,
  pixdim: 76,
  voxOffset: 108,
  sclSlope: 112,
  sclInter: 116,
  xyztUnits: 123,
  descrip: 148,
  qformCode: 252,
  sformCode: 254,
  quaternB: 256,
  quaternC: 260,
  quaternD: 264,
  qoffsetX: 268,
  qoffsetY: 272,
  qoffsetZ: 276,
  srowX: 280,
  srowY: 296,
  srowZ: 312,
  magic: 344,
} as const;

type VoxelArrayConstructor = {
  new (buffer: ArrayBuffer): VoxelArray;
  readonly BYTES_PER_ELEMENT: number;
};

interface Datatype {
  code: number;
  name: string;
  type: VoxelArrayConstructor;
}

const SUPPORTED_DATATYPES: readonly Datatype[] = [
  { code: 2, name: 'uint8', type: Uint8Array },
  { code: 4, name: 'int16', type: Int16Array },
  { code: 8, name: 'int32', type: Int32Array },
  { code: 16, name: 'float32', type: Float32Array },
  { code: 64, name: 'float64', type: Float64Array },
  { code: 256, name: 'int8', type: Int8Array },
  { code: 512, name: 'uint16', type: Uint16Array },
  { code: 768, name: 'uint32', type: Uint32Array },
];

/** Names of the NIfTI-1 datatypes we recognise but do not read, for the error message. */
const UNSUPPORTED_DATATYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'unknown',
  1: 'binary',
  32: 'complex64',
  128: 'rgb24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'rgba32',
};

const PLATFORM_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** A NIfTI-1 header, after the checks that make every field below safe to use. */
interface NiftiHeader {
  littleEndian: boolean;
  dims: Vec3;
  datatype: Datatype;
  /** pixdim[0..3]: qfac, then the voxel sizes in mm. */
  pixdim: [number, number, number, number];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
}

/**
 * Parses an uncompressed NIfTI-1 single file (.nii, magic "n+1") into a Volume.
 *
 * Voxels: uint8, int8, int16, uint16, int32, uint32, float32 and float64, returned as the matching typed
 * array (a copy, so it is aligned and owns its buffer). When scl_slope is finite, non-zero and not the
 * identity (slope 1, intercept 0) the values are scaled: Float64Array for float64, int32 and uint32
 * sources, Float32Array otherwise. Geometry: sform when sform_code > 0, else qform when qform_code > 0,
 * else diag(pixdim[1..3]) (NIfTI-1 method 1); the RAS affine becomes `affineIjkToLps` by negating its
 * first two rows. `spacingMm` is the column norms of the affine's 3x3 part, kept at the precision stored.
 * Both byte orders are read (sizeof_hdr tells which).
 *
 * Errors: every malformed or unsupported input throws AppError('INVALID_INPUT') whose message starts with
 * `name` and says what was found and what was expected: truncated header or data, bad magic, .hdr/.img
 * pairs, unsupported datatype, dim[0] other than 3 (or 4/5 with singleton extra dimensions), non-positive
 * dims, non-finite or non-positive pixdim, a non-finite or singular affine, an invalid quaternion, and
 * column norms that differ from pixdim[1..3] by more than 1e-3 relative.
 */
export function parseNifti(bytes: Uint8Array, name: string): Volume {
  const header = readHeader(bytes, name);
  const voxelTotal = header.dims[0] * header.dims[1] * header.dims[2];
  const dataBytes = voxelTotal * header.datatype.type.BYTES_PER_ELEMENT;
  if (header.voxOffset + dataBytes > bytes.length) {
    invalid(
      name,
      `data truncated: needs ${dataBytes} bytes from offset ${header.voxOffset}, file has ${bytes.length}`,
    );
  }
  // Copy into a fresh buffer: the source may be a Node Buffer view at an odd offset.
  const copy = new Uint8Array(dataBytes);
  copy.set(bytes.subarray(header.voxOffset, header.voxOffset + dataBytes));
  if (header.littleEndian !== PLATFORM_LITTLE_ENDIAN) {
    swapBytes(copy, header.datatype.type.BYTES_PER_ELEMENT);
  }
  const raw = new header.datatype.type(copy.buffer);
  const data = applyScaling(raw, header, name);

  const affineRas = affineFromHeader(bytes, header, name);
  // RAS to LPS negates rows 0 and 1; 0 - x and x + 0 keep -0 out of the result.
  const affineIjkToLps = affineRas.map((value, n) => (n < 8 ? 0 - value : value + 0));
  const spacingMm = columnNorms(affineIjkToLps);
  for (let axis = 0; axis < 3; axis++) {
    const pixdim = header.pixdim[axis + 1];
    if (Math.abs(spacingMm[axis] - pixdim) > SPACING_RELATIVE_TOLERANCE * pixdim) {
      invalid(
        name,
        `voxel spacing of the affine (${spacingMm.join(' x ')} mm, column norms) differs from ` +
          `pixdim[1..3] (${header.pixdim.slice(1).join(' x ')} mm)`,
      );
    }
  }
  return { data, dims: header.dims, spacingMm, affineIjkToLps };
}

/**
 * Serialises a Volume as a little-endian NIfTI-1 single file (.nii): vox_offset 352, no extensions,
 * datatype from the typed array, pixdim[1..3] = spacingMm, xyzt_units mm, sform_code 1 with the RAS affine
 * and qform_code 1 with its rotation as a quaternion (the nearest rotation when the affine is sheared,
 * qfac = -1 when it is left-handed). Header numbers are float32, so parseNifti gives back the same data
 * and dims, and spacing and affine to float32 precision. `description` goes to descrip (printable ASCII,
 * at most 79 characters; others become '?').
 *
 * Errors: AppError('INVALID_ARGUMENT') when the volume cannot be written faithfully: data length is not
 * the product of dims, a dim is not an integer in 1..32767, the affine is not 16 finite numbers with
 * bottom row 0 0 0 1 or is singular, or spacingMm differs from the affine's column norms by more than
 * 1e-3 relative.
 */
export function serializeNifti(volume: Volume, options: { description?: string } = {}): Uint8Array {
  const { data, dims, spacingMm, affineIjkToLps } = volume;
  checkWritable(volume);
  const datatype = SUPPORTED_DATATYPES.find((entry) => data instanceof entry.type);
  if (!datatype) {
    throw new AppError('INVALID_ARGUMENT', `cannot write NIfTI: unsupported voxel array ${typeName(data)}`);
  }

  const affineRas = Float64Array.from(affineIjkToLps);
  for (let n = 0; n < 8; n++) affineRas[n] = 0 - affineRas[n];
  const { quaternion, qfac } = quaternionFromAffine(affineRas);

  const out = new Uint8Array(SINGLE_FILE_VOX_OFFSET + data.byteLength);
  const view = new DataView(out.buffer);
  const le = true;
  view.setInt32(OFFSET.sizeofHdr, HEADER_BYTES, le);
  const dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
  dim.forEach((value, n) => view.setInt16(OFFSET.dim + 2 * n, value, le));
  view.setInt16(OFFSET.datatype, datatype.code, le);
  view.setInt16(OFFSET.bitpix, 8 * datatype.type.BYTES_PER_ELEMENT, le);
  const pixdim = [qfac, spacingMm[0], spacingMm[1], spacingMm[2], 1, 1, 1, 1];
  pixdim.forEach((value, n) => view.setFloat32(OFFSET.pixdim + 4 * n, value, le));
  view.setFloat32(OFFSET.voxOffset, SINGLE_FILE_VOX_OFFSET, le);
  view.setFloat32(OFFSET.sclSlope, 1, le);
  view.setFloat32(OFFSET.sclInter, 0, le);
  view.setUint8(OFFSET.xyztUnits, NIFTI_UNITS_MM);
  writeAscii(out, OFFSET.descrip, 80, options.description ?? '');
  view.setInt16(OFFSET.qformCode, NIFTI_XFORM_SCANNER_ANAT, le);
  view.setInt16(OFFSET.sformCode, NIFTI_XFORM_SCANNER_ANAT, le);
  view.setFloat32(OFFSET.quaternB, quaternion[1], le);
  view.setFloat32(OFFSET.quaternC, quaternion[2], le);
  view.setFloat32(OFFSET.quaternD, quaternion[3], le);
  view.setFloat32(OFFSET.qoffsetX, affineRas[3], le);
  view.setFloat32(OFFSET.qoffsetY, affineRas[7], le);
  view.setFloat32(OFFSET.qoffsetZ, affineRas[11], le);
  for (let col = 0; col < 4; col++) {
    view.setFloat32(OFFSET.srowX + 4 * col, affineRas[col], le);
    view.setFloat32(OFFSET.srowY + 4 * col, affineRas[4 + col], le);
    view.setFloat32(OFFSET.srowZ + 4 * col, affineRas[8 + col], le);
  }
  out.set([0x6e, 0x2b, 0x31, 0x00], OFFSET.magic); // "n+1\0"

  const voxels = out.subarray(SINGLE_FILE_VOX_OFFSET);
  voxels.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (!PLATFORM_LITTLE_ENDIAN) swapBytes(voxels, datatype.type.BYTES_PER_ELEMENT);
  return out;
}

function readHeader(bytes: Uint8Array, name: string): NiftiHeader {
  if (bytes.length < HEADER_BYTES) {
    invalid(name, `truncated: header needs ${HEADER_BYTES} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let littleEndian: boolean;
  if (view.getInt32(OFFSET.sizeofHdr, true) === HEADER_BYTES) littleEndian = true;
  else if (view.getInt32(OFFSET.sizeofHdr, false) === HEADER_BYTES) littleEndian = false;
  else {
    const found = view.getInt32(OFFSET.sizeofHdr, true);
    const hint =
      found === 540 || view.getInt32(OFFSET.sizeofHdr, false) === 540 ? ' (NIfTI-2 is not supported)' : '';
    invalid(name, `not a NIfTI-1 file: sizeof_hdr is ${found}, expected ${HEADER_BYTES}${hint}`);
  }

  const magic = bytes.subarray(OFFSET.magic, OFFSET.magic + 4);
  if (magic[0] === 0x6e && magic[1] === 0x69 && magic[2] === 0x31 && magic[3] === 0) {
    invalid(name, 'is the header of a .hdr/.img pair (magic "ni1"); only single-file .nii is supported');
  }
  if (!(magic[0] === 0x6e && magic[1] === 0x2b && magic[2] === 0x31 && magic[3] === 0)) {
    invalid(name, `bad magic "${printable(magic)}" at byte ${OFFSET.magic}, expected "n+1\\0"`);
  }

  const dim = Array.from({ length: 8 }, (_, n) => view.getInt16(OFFSET.dim + 2 * n, littleEndian));
  const rank = dim[0];
  if (rank < 3 || rank > 5 || dim.slice(4, rank + 1).some((extent) => extent !== 1)) {
    invalid(
      name,
      `not a 3-D image: dim[0]=${rank}, dim[1..${Math.max(rank, 3)}]=${dim.slice(1, Math.max(rank, 3) + 1).join(',')}` +
        ' (expected dim[0]=3, or 4/5 with dim[4..]=1)',
    );
  }
  if (dim[1] <= 0 || dim[2] <= 0 || dim[3] <= 0) {
    invalid(name, `dimensions must be positive: dim[1..3]=${dim.slice(1, 4).join(',')}`);
  }

  const code = view.getInt16(OFFSET.datatype, littleEndian);
  const datatype = SUPPORTED_DATATYPES.find((entry) => entry.code === code);
  if (!datatype) {
    const known = UNSUPPORTED_DATATYPE_NAMES[code] ?? 'not a NIfTI-1 datatype';
    const supported = SUPPORTED_DATATYPES.map((entry) => entry.name).join(', ');
    invalid(name, `unsupported datatype ${code} (${known}); supported: ${supported}`);
  }

  const pixdim = Array.from({ length: 4 }, (_, n) =>
    view.getFloat32(OFFSET.pixdim + 4 * n, littleEndian),
  ) as NiftiHeader['pixdim'];
  for (let axis = 1; axis <= 3; axis++) {
    if (!Number.isFinite(pixdim[axis]) || pixdim[axis] <= 0) {
      invalid(name, `pixdim[${axis}]=${pixdim[axis]}: voxel sizes must be finite and positive`);
    }
  }

  const voxOffset = view.getFloat32(OFFSET.voxOffset, littleEndian);
  if (!Number.isInteger(voxOffset) || voxOffset < SINGLE_FILE_VOX_OFFSET) {
    invalid(name, `vox_offset ${voxOffset} is invalid: expected an integer >= ${SINGLE_FILE_VOX_OFFSET}`);
  }

  return {
    littleEndian,
    dims: [dim[1], dim[2], dim[3]],
    datatype,
    pixdim,
    voxOffset,
    sclSlope: view.getFloat32(OFFSET.sclSlope, littleEndian),
    sclInter: view.getFloat32(OFFSET.sclInter, littleEndian),
    qformCode: view.getInt16(OFFSET.qformCode, littleEndian),
    sformCode: view.getInt16(OFFSET.sformCode, littleEndian),
  };
}

/** scl_slope = 0 or non-finite means "no scaling" (NIfTI-1 standard; nibabel does the same). */
function applyScaling(raw: VoxelArray, header: NiftiHeader, name: string): VoxelArray {
  const slope = header.sclSlope;
  const inter = header.sclInter;
  if (slope === 0 || !Number.isFinite(slope)) return raw;
  if (!Number.isFinite(inter)) {
    invalid(name, `scl_slope is ${slope} but scl_inter is ${inter}: the intercept must be finite`);
  }
  if (slope === 1 && inter === 0) return raw;
  const wide = raw instanceof Float64Array || raw instanceof Int32Array || raw instanceof Uint32Array;
  const scaled = wide ? new Float64Array(raw.length) : new Float32Array(raw.length);
  for (let n = 0; n < raw.length; n++) scaled[n] = raw[n] * slope + inter;
  return scaled;
}

/** The RAS affine (row-major 4x4) chosen as NIfTI-1 prescribes: sform, else qform, else pixdim. */
function affineFromHeader(bytes: Uint8Array, header: NiftiHeader, name: string): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = header.littleEndian;
  const f32 = (offset: number) => view.getFloat32(offset, le);
  const [qfacField, dx, dy, dz] = header.pixdim;
  let affine: Float64Array;
  let source: string;

  if (header.sformCode > 0) {
    source = 'sform';
    affine = new Float64Array(16);
    for (let col = 0; col < 4; col++) {
      affine[col] = f32(OFFSET.srowX + 4 * col);
      affine[4 + col] = f32(OFFSET.srowY + 4 * col);
      affine[8 + col] = f32(OFFSET.srowZ + 4 * col);
    }
    affine[15] = 1;
  } else if (header.qformCode > 0) {
    source = 'qform';
    let b = f32(OFFSET.quaternB);
    let c = f32(OFFSET.quaternC);
    let d = f32(OFFSET.quaternD);
    if (![b, c, d].every(Number.isFinite)) {
      invalid(name, `qform quaternion (${b}, ${c}, ${d}) is not finite`);
    }
    const w2 = 1 - (b * b + c * c + d * d);
    let a: number;
    // As nifti_quatern_to_mat44: a tiny or float32-rounding-negative a is a 180-degree rotation; renormalise.
    if (w2 < 1e-7) {
      if (w2 < -3 * FLOAT32_EPSILON) {
        invalid(name, `qform quaternion (b, c, d) = (${b}, ${c}, ${d}) has norm > 1`);
      }
      const norm = Math.sqrt(b * b + c * c + d * d);
      b /= norm;
      c /= norm;
      d /= norm;
      a = 0;
    } else {
      a = Math.sqrt(w2);
    }
    const qfac = qfacField < 0 ? -1 : 1;
    const rotation = [
      a * a + b * b - c * c - d * d,
      2 * (b * c - a * d),
      2 * (b * d + a * c),
      2 * (b * c + a * d),
      a * a + c * c - b * b - d * d,
      2 * (c * d - a * b),
      2 * (b * d - a * c),
      2 * (c * d + a * b),
      a * a + d * d - c * c - b * b,
    ];
    const scale = [dx, dy, qfac * dz];
    const offset = [f32(OFFSET.qoffsetX), f32(OFFSET.qoffsetY), f32(OFFSET.qoffsetZ)];
    affine = new Float64Array(16);
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 3; col++) affine[4 * row + col] = rotation[3 * row + col] * scale[col];
      affine[4 * row + 3] = offset[row];
    }
    affine[15] = 1;
  } else {
    source = 'pixdim (no sform or qform)';
    affine = Float64Array.from([dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1]);
  }

  if (!affine.every(Number.isFinite)) {
    invalid(
      name,
      `the ${source} affine has non-finite entries: [${Array.from(affine.slice(0, 12)).join(', ')}]`,
    );
  }
  const norms = columnNorms(affine);
  if (Math.abs(det3(affine)) <= 1e-6 * norms[0] * norms[1] * norms[2]) {
    invalid(name, `the ${source} affine is singular: [${Array.from(affine.slice(0, 12)).join(', ')}]`);
  }
  return affine;
}

function checkWritable(volume: Volume): void {
  const { data, dims, spacingMm, affineIjkToLps: a } = volume;
  if (dims.some((n) => !Number.isInteger(n) || n < 1 || n > 32767)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `cannot write NIfTI-1: dims ${dims.join('x')} must be integers in 1..32767`,
    );
  }
  if (data.length !== dims[0] * dims[1] * dims[2]) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `cannot write NIfTI-1: ${data.length} voxels do not fill dims ${dims.join('x')}`,
    );
  }
  const bottomRowOk = a[12] === 0 && a[13] === 0 && a[14] === 0 && a[15] === 1;
  if (a.length !== 16 || !a.every(Number.isFinite) || !bottomRowOk) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `cannot write NIfTI-1: affineIjkToLps must be 16 finite numbers with bottom row 0 0 0 1`,
    );
  }
  const norms = columnNorms(a);
  if (Math.abs(det3(a)) <= 1e-6 * norms[0] * norms[1] * norms[2]) {
    throw new AppError('INVALID_ARGUMENT', 'cannot write NIfTI-1: affineIjkToLps is singular');
  }
  for (let axis = 0; axis < 3; axis++) {
    const spacing = spacingMm[axis];
    if (!(spacing > 0) || Math.abs(norms[axis] - spacing) > SPACING_RELATIVE_TOLERANCE * spacing) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `cannot write NIfTI-1: spacingMm ${spacingMm.join(' x ')} does not match the affine's column ` +
          `norms ${norms.join(' x ')}`,
      );
    }
  }
}

/**
 * The qform quaternion (a, b, c, d) with a >= 0 and qfac of an affine, as nifti_mat44_to_quatern: the
 * columns are normalised, a left-handed matrix gets qfac -1 and its third column flipped, and a matrix
 * that is not quite orthogonal is replaced by its nearest rotation (polar decomposition).
 */
function quaternionFromAffine(affine: Float64Array): {
  quaternion: [number, number, number, number];
  qfac: number;
} {
  const norms = columnNorms(affine);
  const m = [0, 1, 2, 4, 5, 6, 8, 9, 10].map((index) => affine[index] / norms[index % 4]);
  let qfac = 1;
  if (det3x3(m) < 0) {
    qfac = -1;
    m[2] = -m[2];
    m[5] = -m[5];
    m[8] = -m[8];
  }
  const r = polarRotation(m);
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = r;
  let a = r11 + r22 + r33 + 1;
  let b: number;
  let c: number;
  let d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      a = -a;
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quaternion: [a, b, c, d], qfac };
}

/** Nearest rotation to a 3x3 matrix (row-major) with positive determinant, by Newton's polar iteration. */
function polarRotation(m: number[]): number[] {
  let x = m.slice();
  for (let iteration = 0; iteration < 100; iteration++) {
    const inverseTranspose = transpose3(inverse3(x));
    const next = x.map((value, n) => 0.5 * (value + inverseTranspose[n]));
    const change = next.reduce((sum, value, n) => sum + Math.abs(value - x[n]), 0);
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}

function inverse3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const det = det3x3(m);
  return [
    (e * i - f * h) / det,
    (c * h - b * i) / det,
    (b * f - c * e) / det,
    (f * g - d * i) / det,
    (a * i - c * g) / det,
    (c * d - a * f) / det,
    (d * h - e * g) / det,
    (b * g - a * h) / det,
    (a * e - b * d) / det,
  ];
}

function transpose3(m: number[]): number[] {
  return [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];
}

function det3x3(m: number[]): number {
  return (
    m[0] * (m[4] * m[8] - m[5] * m[7]) -
    m[1] * (m[3] * m[8] - m[5] * m[6]) +
    m[2] * (m[3] * m[7] - m[4] * m[6])
  );
}

/** Determinant of the 3x3 part of a row-major 4x4 affine. */
function det3(affine: Float64Array): number {
  return det3x3([0, 1, 2, 4, 5, 6, 8, 9, 10].map((index) => affine[index]));
}

/** Euclidean norms of the first three columns of a row-major 4x4 affine: the voxel spacing in mm. */
function columnNorms(affine: Float64Array): Vec3 {
  const norm = (col: number) => Math.hypot(affine[col], affine[4 + col], affine[8 + col]);
  return [norm(0), norm(1), norm(2)];
}

/** Reverses the byte order of every `size`-byte element in place. */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let start = 0; start < bytes.length; start += size) {
    for (let low = start, high = start + size - 1; low < high; low++, high--) {
      const byte = bytes[low];
      bytes[low] = bytes[high];
      bytes[high] = byte;
    }
  }
}

/** Writes printable ASCII, NUL-terminated, into a fixed-size field; other characters become '?'. */
function writeAscii(out: Uint8Array, offset: number, fieldBytes: number, text: string): void {
  const length = Math.min(text.length, fieldBytes - 1);
  for (let n = 0; n < length; n++) {
    const code = text.charCodeAt(n);
    out[offset + n] = code >= 0x20 && code < 0x7f ? code : 0x3f;
  }
}

function printable(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) =>
    byte >= 0x20 && byte < 0x7f && byte !== 0x5c
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).padStart(2, '0')}`,
  ).join('');
}

function typeName(value: unknown): string {
  return (value as { constructor?: { name?: string } })?.constructor?.name ?? typeof value;
}

function invalid(name: string, problem: string): never {
  throw new AppError('INVALID_INPUT', `${name}: ${problem}`);
}
