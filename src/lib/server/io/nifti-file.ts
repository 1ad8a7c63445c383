/**
 * NIfTI-1 files on disk: .nii and .nii.gz in, .nii and .nii.gz out. Parsing and serialising live in
 * core/volume/nifti.ts; this module only does the file system and gzip.
 */
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { writeFileAtomically } from './atomic-write';
import { AppError, errorMessage } from '../../core/errors';
import { parseNifti, serializeNifti } from '../../core/volume/nifti';
import { gridMismatch, toMask, type Mask, type Volume } from '../../core/volume/volume';

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

/**
 * Ceiling on the decompressed size, so a gzip bomb is an error rather than an out-of-memory crash. A
 * 512 x 512 x 1000 float32 CT is 1 GiB; NIfTI-1 masks are far smaller (512 x 512 x 120 uint8 is 31 MB).
 */
const MAX_DECOMPRESSED_BYTES = 2 ** 31;
/** zlib's default 16 KiB output chunk means thousands of chunks for a CT; 1 MiB keeps that to tens. */
const GUNZIP_CHUNK_BYTES = 1 << 20;

/**
 * Reads a NIfTI-1 .nii or .nii.gz file into a Volume. Gzip is recognised by its magic bytes (1f 8b), not
 * by the extension, and inflated up to 2 GiB.
 *
 * Errors: AppError('NOT_FOUND') when the file does not exist; AppError('INVALID_INPUT') when the path is
 * a folder or unreadable, the gzip stream is corrupt or too large, or the NIfTI content is invalid (see
 * parseNifti). Every message starts with the path.
 */
export async function readNiftiFile(filePath: string): Promise<Volume> {
  let bytes: Uint8Array = await readBytes(filePath);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes, {
        chunkSize: GUNZIP_CHUNK_BYTES,
        maxOutputLength: MAX_DECOMPRESSED_BYTES,
      });
    } catch (error) {
      const reason =
        error instanceof RangeError
          ? `decompresses to more than ${MAX_DECOMPRESSED_BYTES / 2 ** 30} GiB`
          : errorMessage(error);
      throw new AppError('INVALID_INPUT', `${filePath}: not a valid gzip stream (${reason})`, {
        cause: error,
      });
    }
  }
  return parseNifti(bytes, filePath);
}

/**
 * Writes a Volume as NIfTI-1 (see serializeNifti), gzipped when the path ends in .gz. The bytes go to a
 * temporary file in the same folder, are flushed to disk, then renamed over `filePath`, so readers never
 * see a half-written file and a failure leaves nothing behind.
 *
 * Errors: AppError('INVALID_ARGUMENT') from serializeNifti for volumes that cannot be written;
 * AppError('NOT_FOUND') when the folder does not exist; AppError('INVALID_INPUT') when the file cannot be
 * created or replaced (permissions, the target is a folder). Every message starts with the path.
 */
export async function writeNiftiFile(
  filePath: string,
  volume: Volume,
  options: { description?: string } = {},
): Promise<void> {
  const raw = serializeNifti(volume, options);
  const bytes = filePath.toLowerCase().endsWith('.gz') ? await gzipAsync(raw) : raw;
  await writeFileAtomically(filePath, bytes);
}

/**
 * Reads a reference and a candidate segmentation (in parallel) and turns both into binary masks: voxels
 * equal to `label`, or all non-zero voxels when no label is given (see toMask).
 *
 * Errors: those of readNiftiFile for either file; AppError('INVALID_ARGUMENT') when `label` is not a
 * finite number; AppError('INVALID_INPUT') naming both paths when the two are not on the same grid
 * (dims, spacing, origin or orientation; see gridMismatch).
 */
export async function readMaskPair(
  referencePath: string,
  candidatePath: string,
  label?: number,
): Promise<{ reference: Mask; candidate: Mask }> {
  if (label !== undefined && !Number.isFinite(label)) {
    throw new AppError('INVALID_ARGUMENT', `label must be a finite number, got ${label}`);
  }
  const [referenceVolume, candidateVolume] = await Promise.all([
    readNiftiFile(referencePath),
    readNiftiFile(candidatePath),
  ]);
  const reason = gridMismatch(referenceVolume, candidateVolume);
  if (reason !== null) {
    throw new AppError('INVALID_INPUT', `${candidatePath} is not on the grid of ${referencePath}: ${reason}`);
  }
  return { reference: toMask(referenceVolume, label), candidate: toMask(candidateVolume, label) };
}

async function readBytes(filePath: string): Promise<Uint8Array> {
  try {
    return await readFile(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('NOT_FOUND', `${filePath}: no such file`, { cause: error });
    if (code === 'EISDIR') {
      throw new AppError('INVALID_INPUT', `${filePath}: is a folder, expected a .nii or .nii.gz file`, {
        cause: error,
      });
    }
    throw new AppError('INVALID_INPUT', `${filePath}: cannot read (${errorMessage(error)})`, {
      cause: error,
    });
  }
}
