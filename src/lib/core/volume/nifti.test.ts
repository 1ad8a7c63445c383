import { describe, expect, it } from 'vitest';
import { AppError } from '../errors';
import { parseNifti, serializeNifti } from './nifti';
import { axisAlignedAffine, type Vec3, type Volume, type VoxelArray } from './volume';

/** Fields of a hand-made NIfTI-1 header; anything left out gets a valid default. */
interface HeaderFields {
  sizeofHdr?: number;
  dim?: number[];
  datatype?: number;
  bitpix?: number;
  pixdim?: number[];
  voxOffset?: number;
  sclSlope?: number;
  sclInter?: number;
  qformCode?: number;
  sformCode?: number;
  quaternion?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[];
  magic?: number[];
}

type Encoding = 'uint8' | 'int16' | 'int32' | 'float32' | 'float64';
const ENCODING: Record<Encoding, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  int32: { code: 8, bytes: 4 },
  float32: { code: 16, bytes: 4 },
  float64: { code: 64, bytes: 8 },
};

/** A .nii file written field by field with a DataView, in either byte order. */
function buildNifti(
  fields: HeaderFields,
  values: number[],
  encoding: Encoding = 'uint8',
  littleEndian = true,
): Uint8Array {
  const voxOffset = fields.voxOffset ?? 352;
  const { code, bytes } = ENCODING[encoding];
  const out = new Uint8Array(Math.ceil(Math.max(voxOffset, 348)) + values.length * bytes);
  const view = new DataView(out.buffer);
  const le = littleEndian;
  view.setInt32(0, fields.sizeofHdr ?? 348, le);
  (fields.dim ?? [3, values.length, 1, 1, 1, 1, 1, 1]).forEach((v, n) => view.setInt16(40 + 2 * n, v, le));
  view.setInt16(70, fields.datatype ?? code, le);
  view.setInt16(72, fields.bitpix ?? 8 * bytes, le);
  (fields.pixdim ?? [1, 1, 1, 1, 1, 1, 1, 1]).forEach((v, n) => view.setFloat32(76 + 4 * n, v, le));
  view.setFloat32(108, voxOffset, le);
  view.setFloat32(112, fields.sclSlope ?? 1, le);
  view.setFloat32(116, fields.sclInter ?? 0, le);
  view.setInt16(252, fields.qformCode ?? 0, le);
  view.setInt16(254, fields.sformCode ?? 0, le);
  (fields.quaternion ?? [0, 0, 0]).forEach((v, n) => view.setFloat32(256 + 4 * n, v, le));
  (fields.qoffset ?? [0, 0, 0]).forEach((v, n) => view.setFloat32(268 + 4 * n, v, le));
  (fields.srow ?? [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]).forEach((v, n) =>
    view.setFloat32(280 + 4 * n, v, le),
  );
  out.set(fields.magic ?? [0x6e, 0x2b, 0x31, 0], 344);
  values.forEach((v, n) => {
    const at = voxOffset + n * bytes;
    if (encoding === 'uint8') view.setUint8(at, v);
    else if (encoding === 'int16') view.setInt16(at, v, le);
    else if (encoding === 'int32') view.setInt32(at, v, le);
    else if (encoding === 'float32') view.setFloat32(at, v, le);
    else view.setFloat64(at, v, le);
  });
  return out;
}

function expectInvalid(bytes: Uint8Array, message: string | RegExp): void {
  let caught: unknown;
  try {
    parseNifti(bytes, 'case.nii');
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe('INVALID_INPUT');
  expect((caught as AppError).message).toMatch(/^case\.nii: /);
  expect((caught as AppError).message).toMatch(message);
}

function expectCloseArray(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  for (let n = 0; n < expected.length; n++) {
    expect(Math.abs(actual[n] - expected[n]), `element ${n}: ${actual[n]} vs ${expected[n]}`).toBeLessThan(
      tolerance,
    );
  }
}

/** Row-major LPS affine R * diag(spacing) + origin, R a rotation by `angles` (radians) about z, then y, then x. */
function obliqueAffine(spacingMm: Vec3, originLps: Vec3, angles: Vec3, flipK = false): Float64Array {
  const [ax, ay, az] = angles;
  const rx = [1, 0, 0, 0, Math.cos(ax), -Math.sin(ax), 0, Math.sin(ax), Math.cos(ax)];
  const ry = [Math.cos(ay), 0, Math.sin(ay), 0, 1, 0, -Math.sin(ay), 0, Math.cos(ay)];
  const rz = [Math.cos(az), -Math.sin(az), 0, Math.sin(az), Math.cos(az), 0, 0, 0, 1];
  const mul = (p: number[], q: number[]) =>
    Array.from({ length: 9 }, (_, n) => {
      const row = Math.floor(n / 3);
      const col = n % 3;
      return p[3 * row] * q[col] + p[3 * row + 1] * q[3 + col] + p[3 * row + 2] * q[6 + col];
    });
  const r = mul(rx, mul(ry, rz));
  const affine = new Float64Array(16);
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) {
      affine[4 * row + col] = r[3 * row + col] * spacingMm[col] * (flipK && col === 2 ? -1 : 1);
    }
    affine[4 * row + 3] = originLps[row];
  }
  affine[15] = 1;
  return affine;
}

function makeVolume(data: VoxelArray, dims: Vec3, spacingMm: Vec3, affineIjkToLps: Float64Array): Volume {
  return { data, dims, spacingMm, affineIjkToLps };
}

/** Sets sform_code to 0 in a little-endian file so the reader falls back to the qform. */
function withoutSform(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setInt16(254, 0, true);
  return copy;
}

describe('serializeNifti then parseNifti', () => {
  const dims: Vec3 = [4, 3, 5];
  const count = dims[0] * dims[1] * dims[2];
  const spacingMm: Vec3 = [0.98, 1.17, 2.5];
  const affine = obliqueAffine(spacingMm, [-124.95, 30.5, -98.75], [0.3, -0.2, 0.5]);

  it.each([
    ['uint8', Uint8Array.from({ length: count }, (_, n) => (n * 7) % 256)],
    ['int16', Int16Array.from({ length: count }, (_, n) => (n - 30) * 1000)],
    ['float32', Float32Array.from({ length: count }, (_, n) => Math.fround(n / 3 - 10))],
  ] as const)('keeps %s data, dims, spacing and an oblique affine', (_name, data) => {
    const bytes = serializeNifti(makeVolume(data, dims, spacingMm, affine), { description: 'round trip' });
    expect(bytes.length).toBe(352 + data.byteLength);
    const parsed = parseNifti(bytes, 'roundtrip.nii');
    expect(parsed.data).toBeInstanceOf(data.constructor);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
    expect(parsed.dims).toEqual(dims);
    expectCloseArray(parsed.spacingMm, spacingMm, 1e-6);
    expectCloseArray(parsed.affineIjkToLps, affine, 2e-5);
  });

  it.each([
    ['oblique, right-handed', affine],
    ['oblique, left-handed (qfac -1)', obliqueAffine(spacingMm, [1, 2, 3], [-0.7, 0.1, 2.2], true)],
    [
      'LPS axis-aligned (a 180-degree qform rotation)',
      axisAlignedAffine(spacingMm, [-124.95, -124.95, -98.75]),
    ],
    ['RAS axis-aligned', obliqueAffine(spacingMm, [0, 0, 0], [0, 0, Math.PI])],
    ['rotated 180 degrees about x', obliqueAffine(spacingMm, [5, 6, 7], [Math.PI, 0, 0])],
  ])('writes a qform that reproduces the sform: %s', (_name, lps) => {
    const volume = makeVolume(new Uint8Array(count), dims, spacingMm, lps);
    const fromQform = parseNifti(withoutSform(serializeNifti(volume)), 'qform.nii');
    expectCloseArray(fromQform.affineIjkToLps, lps, 2e-5);
    expectCloseArray(fromQform.spacingMm, spacingMm, 1e-6);
  });

  it('keeps a sheared affine through the sform and writes the nearest rotation as qform', () => {
    const sheared = Float64Array.from([1, 0.1, 0, 5, 0, 1, 0, 6, 0, 0, 2, 7, 0, 0, 0, 1]);
    const volume = makeVolume(new Uint8Array(count), dims, [1, Math.hypot(1, 0.1), 2], sheared);
    const bytes = serializeNifti(volume);
    expectCloseArray(parseNifti(bytes, 'sheared.nii').affineIjkToLps, sheared, 1e-6);
    const view = new DataView(bytes.buffer);
    const [b, c, d] = [256, 260, 264].map((offset) => view.getFloat32(offset, true));
    expect(b * b + c * c + d * d).toBeLessThanOrEqual(1 + 1e-6);
    expect(parseNifti(withoutSform(bytes), 'sheared-qform.nii').dims).toEqual(dims);
  });

  it('keeps the float32 value of a spacing as stored, without rounding', () => {
    const volume = makeVolume(
      new Uint8Array(8),
      [2, 2, 2],
      [0.98, 0.98, 2.5],
      axisAlignedAffine([0.98, 0.98, 2.5]),
    );
    const parsed = parseNifti(serializeNifti(volume), 'spacing.nii');
    expect(parsed.spacingMm).toEqual([0.9800000190734863, 0.9800000190734863, 2.5]);
    expect(parsed.affineIjkToLps[0]).toBe(0.9800000190734863);
  });

  it('writes the little-endian header fields the standard asks for', () => {
    const volume = makeVolume(new Int16Array(count), dims, spacingMm, affine);
    const bytes = serializeNifti(volume, { description: 'héllo' });
    const view = new DataView(bytes.buffer);
    expect(view.getInt32(0, true)).toBe(348);
    expect(view.getInt16(70, true)).toBe(4);
    expect(view.getInt16(72, true)).toBe(16);
    expect(view.getFloat32(108, true)).toBe(352);
    expect(bytes[123]).toBe(2);
    expect(view.getInt16(252, true)).toBe(1);
    expect(view.getInt16(254, true)).toBe(1);
    expect(view.getFloat32(80, true)).toBe(Math.fround(0.98));
    expect(new TextDecoder().decode(bytes.subarray(148, 154))).toBe('h?llo\0');
    expect(Array.from(bytes.subarray(344, 352))).toEqual([0x6e, 0x2b, 0x31, 0, 0, 0, 0, 0]);
  });

  it('truncates a long description to 79 characters', () => {
    const bytes = serializeNifti(
      makeVolume(new Uint8Array(1), [1, 1, 1], [1, 1, 1], axisAlignedAffine([1, 1, 1])),
      {
        description: 'x'.repeat(200),
      },
    );
    expect(bytes.subarray(148, 228).filter((byte) => byte === 0x78).length).toBe(79);
    expect(bytes[227]).toBe(0);
  });

  it('rejects volumes it cannot write faithfully', () => {
    const base = makeVolume(new Uint8Array(8), [2, 2, 2], [1, 1, 1], axisAlignedAffine([1, 1, 1]));
    const cases: [Volume, RegExp][] = [
      [{ ...base, data: new Uint8Array(7) }, /7 voxels do not fill dims 2x2x2/],
      [{ ...base, dims: [40000, 1, 1], data: new Uint8Array(40000) }, /must be integers in 1\.\.32767/],
      [{ ...base, spacingMm: [1, 1, 2] }, /spacingMm 1 x 1 x 2 does not match/],
      [{ ...base, affineIjkToLps: axisAlignedAffine([1, 1, 0]), spacingMm: [1, 1, 0] }, /singular/],
      [
        { ...base, affineIjkToLps: Float64Array.from([...axisAlignedAffine([1, 1, 1]).slice(0, 15), 2]) },
        /0 0 0 1/,
      ],
    ];
    for (const [volume, message] of cases) {
      expect(() => serializeNifti(volume)).toThrow(message);
      expect(() => serializeNifti(volume)).toThrow(AppError);
    }
  });
});

describe('parseNifti geometry', () => {
  const srow = [-2, 0, 0, 10, 0, -3, 0, 20, 0, 0, 4, 30];

  it('uses the sform when sform_code > 0, even when a qform is present', () => {
    const bytes = buildNifti(
      {
        dim: [3, 2, 1, 1, 1, 1, 1, 1],
        pixdim: [1, 2, 3, 4, 1, 1, 1, 1],
        sformCode: 2,
        srow,
        qformCode: 1,
        quaternion: [0, 0, 0],
        qoffset: [-1, -1, -1],
      },
      [0, 1],
    );
    const volume = parseNifti(bytes, 'sform.nii');
    expect(Array.from(volume.affineIjkToLps)).toEqual([2, 0, 0, -10, 0, 3, 0, -20, 0, 0, 4, 30, 0, 0, 0, 1]);
    expect(volume.spacingMm).toEqual([2, 3, 4]);
  });

  it('builds the affine from the qform quaternion and qfac when sform_code is 0', () => {
    // 90 degrees about z: a = cos 45, d = sin 45; qfac -1 flips the k column.
    const bytes = buildNifti(
      {
        dim: [3, 2, 1, 1, 1, 1, 1, 1],
        pixdim: [-1, 2, 3, 4, 1, 1, 1, 1],
        qformCode: 1,
        quaternion: [0, 0, Math.SQRT1_2],
        qoffset: [10, 20, 30],
      },
      [0, 1],
    );
    const volume = parseNifti(bytes, 'qform.nii');
    expectCloseArray(volume.affineIjkToLps, [0, 3, 0, -10, -2, 0, 0, -20, 0, 0, -4, 30, 0, 0, 0, 1], 1e-6);
    expectCloseArray(volume.spacingMm, [2, 3, 4], 1e-6);
  });

  it('falls back to diag(pixdim) with no offset when neither sform nor qform is set', () => {
    const bytes = buildNifti({ dim: [3, 1, 1, 1, 1, 1, 1, 1], pixdim: [0, 0.5, 0.75, 3, 1, 1, 1, 1] }, [9]);
    const volume = parseNifti(bytes, 'method1.nii');
    expect(Array.from(volume.affineIjkToLps)).toEqual([
      -0.5, 0, 0, 0, 0, -0.75, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1,
    ]);
    expect(volume.spacingMm).toEqual([0.5, 0.75, 3]);
  });

  it('reads a big-endian file: header, voxels and geometry', () => {
    const values = [-300, 0, 1, 258, 32767, -32768];
    const bytes = buildNifti(
      { dim: [3, 3, 2, 1, 1, 1, 1, 1], pixdim: [1, 2, 3, 4, 1, 1, 1, 1], sformCode: 1, srow },
      values,
      'int16',
      false,
    );
    expect(bytes[0]).toBe(0);
    expect(bytes[3]).toBe(348 & 0xff);
    const volume = parseNifti(bytes, 'big-endian.nii');
    expect(volume.data).toBeInstanceOf(Int16Array);
    expect(Array.from(volume.data)).toEqual(values);
    expect(volume.dims).toEqual([3, 2, 1]);
    expect(Array.from(volume.affineIjkToLps)).toEqual([2, 0, 0, -10, 0, 3, 0, -20, 0, 0, 4, 30, 0, 0, 0, 1]);
  });

  it('reads big-endian float64 voxels', () => {
    const values = [Math.PI, -1e300, 0.1];
    const bytes = buildNifti({ dim: [3, 3, 1, 1, 1, 1, 1, 1] }, values, 'float64', false);
    const volume = parseNifti(bytes, 'big-endian-f64.nii');
    expect(volume.data).toBeInstanceOf(Float64Array);
    expect(Array.from(volume.data)).toEqual(values);
  });

  it('accepts 4-D and 5-D files whose extra dimensions are 1', () => {
    const four = parseNifti(buildNifti({ dim: [4, 2, 1, 1, 1, 1, 1, 1] }, [3, 4]), 'four.nii');
    expect(four.dims).toEqual([2, 1, 1]);
    const five = parseNifti(buildNifti({ dim: [5, 1, 2, 1, 1, 1, 7, 7] }, [3, 4]), 'five.nii');
    expect(five.dims).toEqual([1, 2, 1]);
  });

  it('returns an aligned copy when the bytes sit at an odd offset of a larger buffer', () => {
    const file = buildNifti({ dim: [3, 2, 1, 1, 1, 1, 1, 1] }, [1.5, -2.25], 'float32');
    const padded = new Uint8Array(file.length + 1);
    padded.set(file, 1);
    const volume = parseNifti(padded.subarray(1), 'odd.nii');
    expect(volume.data).toBeInstanceOf(Float32Array);
    expect(Array.from(volume.data)).toEqual([1.5, -2.25]);
    expect(volume.data.buffer).not.toBe(padded.buffer);
  });

  it('reads voxels from vox_offset, past any extensions', () => {
    const volume = parseNifti(
      buildNifti({ dim: [3, 2, 1, 1, 1, 1, 1, 1], voxOffset: 400 }, [7, 8]),
      'ext.nii',
    );
    expect(Array.from(volume.data)).toEqual([7, 8]);
  });
});

describe('parseNifti scaling', () => {
  const dim = [3, 3, 1, 1, 1, 1, 1, 1];

  it('applies scl_slope and scl_inter, returning Float32Array for 16-bit sources', () => {
    const volume = parseNifti(
      buildNifti({ dim, sclSlope: 0.5, sclInter: -10 }, [0, 3, -4], 'int16'),
      'scaled.nii',
    );
    expect(volume.data).toBeInstanceOf(Float32Array);
    expect(Array.from(volume.data)).toEqual([-10, -8.5, -12]);
  });

  it('applies an intercept alone (slope 1)', () => {
    const volume = parseNifti(
      buildNifti({ dim, sclSlope: 1, sclInter: 1024 }, [0, 3, -4], 'int16'),
      'shift.nii',
    );
    expect(volume.data).toBeInstanceOf(Float32Array);
    expect(Array.from(volume.data)).toEqual([1024, 1027, 1020]);
  });

  it('returns Float64Array when scaling 32-bit integers', () => {
    const volume = parseNifti(
      buildNifti({ dim, sclSlope: 2, sclInter: 1 }, [2_000_000_001, 0, -5], 'int32'),
      'scaled32.nii',
    );
    expect(volume.data).toBeInstanceOf(Float64Array);
    expect(Array.from(volume.data)).toEqual([4_000_000_003, 1, -9]);
  });

  it.each([
    ['slope 0', 0, 5],
    ['slope 1, intercept 0', 1, 0],
    ['slope NaN', NaN, 0],
  ])('leaves the raw values and type when %s', (_name, sclSlope, sclInter) => {
    const volume = parseNifti(buildNifti({ dim, sclSlope, sclInter }, [0, 3, -4], 'int16'), 'raw.nii');
    expect(volume.data).toBeInstanceOf(Int16Array);
    expect(Array.from(volume.data)).toEqual([0, 3, -4]);
  });

  it('rejects a valid slope with a non-finite intercept', () => {
    expectInvalid(buildNifti({ dim, sclSlope: 2, sclInter: Infinity }, [0, 1, 2]), /scl_inter is Infinity/);
  });
});

describe('parseNifti errors', () => {
  const valid = () => buildNifti({ dim: [3, 2, 2, 1, 1, 1, 1, 1] }, [0, 1, 2, 3], 'int16');

  it('names the file and the byte counts of a truncated header', () => {
    expectInvalid(valid().subarray(0, 100), 'case.nii: truncated: header needs 348 bytes, file has 100');
    expectInvalid(new Uint8Array(0), 'truncated: header needs 348 bytes, file has 0');
  });

  it('names the offset and byte counts of truncated data', () => {
    expectInvalid(valid().subarray(0, 357), 'data truncated: needs 8 bytes from offset 352, file has 357');
  });

  it('rejects a bad magic and says what was expected', () => {
    expectInvalid(
      buildNifti({ magic: [0x6e, 0x2b, 0x32, 0] }, [1]),
      'bad magic "n+2\\x00" at byte 344, expected "n+1\\0"',
    );
  });

  it('rejects the header of a .hdr/.img pair', () => {
    expectInvalid(
      buildNifti({ magic: [0x6e, 0x69, 0x31, 0] }, [1]),
      /\.hdr\/\.img pair .* not supported|only single-file/,
    );
  });

  it('rejects a sizeof_hdr that is not 348 in either byte order, naming NIfTI-2', () => {
    expectInvalid(
      buildNifti({ sizeofHdr: 540 }, [1]),
      'sizeof_hdr is 540, expected 348 (NIfTI-2 is not supported)',
    );
    expectInvalid(buildNifti({ sizeofHdr: 12 }, [1]), 'sizeof_hdr is 12, expected 348');
  });

  it.each([
    [[2, 4, 1, 1, 1, 1, 1, 1], 'not a 3-D image: dim[0]=2'],
    [[4, 2, 2, 1, 2, 1, 1, 1], 'not a 3-D image: dim[0]=4, dim[1..4]=2,2,1,2'],
    [[6, 2, 2, 1, 1, 1, 1, 1], 'not a 3-D image: dim[0]=6'],
    [[0, 2, 2, 1, 1, 1, 1, 1], 'not a 3-D image: dim[0]=0'],
    [[3, 2, 0, 1, 1, 1, 1, 1], 'dimensions must be positive: dim[1..3]=2,0,1'],
    [[3, 2, 2, -1, 1, 1, 1, 1], 'dimensions must be positive: dim[1..3]=2,2,-1'],
  ])('rejects dim %j', (dim, message) => {
    expectInvalid(buildNifti({ dim }, [0, 1, 2, 3]), message);
  });

  it.each([
    [
      1024,
      'unsupported datatype 1024 (int64); supported: uint8, int16, int32, float32, float64, int8, uint16, uint32',
    ],
    [128, 'unsupported datatype 128 (rgb24)'],
    [1, 'unsupported datatype 1 (binary)'],
    [3, 'unsupported datatype 3 (not a NIfTI-1 datatype)'],
  ])('rejects datatype %i', (datatype, message) => {
    expectInvalid(buildNifti({ datatype }, [1]), message);
  });

  it.each([
    [[1, 0, 1, 1], 'pixdim[1]=0: voxel sizes must be finite and positive'],
    [[1, 1, -2, 1], 'pixdim[2]=-2'],
    [[1, 1, 1, NaN], 'pixdim[3]=NaN'],
    [[1, 1, Infinity, 1], 'pixdim[2]=Infinity'],
  ])('rejects pixdim %j', (pixdim, message) => {
    expectInvalid(buildNifti({ pixdim: [...pixdim, 1, 1, 1, 1] }, [1]), message);
  });

  it('rejects a singular sform', () => {
    const srow = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0];
    expectInvalid(buildNifti({ sformCode: 1, srow }, [1]), /the sform affine is singular/);
  });

  it('rejects a non-finite sform', () => {
    const srow = [1, 0, 0, NaN, 0, 1, 0, 0, 0, 0, 1, 0];
    expectInvalid(buildNifti({ sformCode: 1, srow }, [1]), /the sform affine has non-finite entries/);
  });

  it('rejects a qform quaternion longer than 1', () => {
    expectInvalid(
      buildNifti({ qformCode: 1, quaternion: [1, 1, 0] }, [1]),
      /qform quaternion .* has norm > 1/,
    );
  });

  it('names both spacings when the affine disagrees with pixdim', () => {
    const srow = [-2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0];
    expectInvalid(
      buildNifti({ sformCode: 1, srow, pixdim: [1, 1, 1, 1, 1, 1, 1, 1] }, [1]),
      'voxel spacing of the affine (2 x 1 x 1 mm, column norms) differs from pixdim[1..3] (1 x 1 x 1 mm)',
    );
  });

  it('accepts spacing within 1e-3 relative of pixdim', () => {
    const srow = [-1.0005, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0];
    const volume = parseNifti(buildNifti({ sformCode: 1, srow }, [1]), 'close.nii');
    expect(volume.spacingMm[0]).toBeCloseTo(1.0005, 6);
  });

  it('rejects a vox_offset inside the header or not an integer', () => {
    expectInvalid(
      buildNifti({ voxOffset: 100 }, [1]),
      'vox_offset 100 is invalid: expected an integer >= 352',
    );
    expectInvalid(buildNifti({ voxOffset: 352.5 }, [1]), 'vox_offset 352.5 is invalid');
  });
});
