import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { AppError, errorMessage } from '../../core/errors';
import { decodeBinaryRuns, encodeBinaryRuns } from '../../core/volume/binary-runs';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface StoredBlob {
  /** sha256 of the uncompressed content, hex */
  sha256: string;
  sizeBytes: number;
  storedSizeBytes: number;
  compression: 'gzip';
}

/**
 * Content-addressed storage of large binary content (CT volumes, masks, DICOM, ONNX files): the address
 * is the sha256 of the uncompressed bytes, so storing the same content twice stores it once.
 */
export interface BlobStore {
  put(bytes: Uint8Array): Promise<StoredBlob>;
  get(sha256: string): Promise<Uint8Array>;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Errnos meaning the store's file system cannot take more data, and how to say so. */
const outOfSpace: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system or the process file-size limit',
};

/**
 * The local file system store: gzip files under `root/ab/cd/<sha256>.gz`, written to a temporary name,
 * flushed to disk and renamed, so a reader never sees half a blob and a blob whose row was committed
 * survives a power loss. Binary masks (every byte 0 or 1) are run-length coded
 * before gzip and stored as `<sha256>.m.gz` (core/volume/binary-runs.ts): a whole-grid organ mask of 35 MB
 * becomes kilobytes and reads in milliseconds. A failed write (a full disk) removes its temporary file and
 * throws an error naming the store and the problem. A blob whose transaction later rolls back stays as an
 * unreferenced file (harmless: the next import of the same content reuses it).
 */
export class FileBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private pathOf(sha256: string, mask: boolean): string {
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), `${sha256}${mask ? '.m' : ''}.gz`);
  }

  async put(bytes: Uint8Array): Promise<StoredBlob> {
    const sha256 = sha256Hex(bytes);
    const runs = encodeBinaryRuns(bytes);
    const target = this.pathOf(sha256, runs !== null);
    const compressed = await gzipAsync(runs ?? bytes, { level: 3 });
    if (!existsSync(target)) {
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await mkdir(path.dirname(target), { recursive: true });
        const handle = await open(temporary, 'wx');
        try {
          await handle.writeFile(compressed);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const problem = outOfSpace[code];
        throw new AppError(
          problem === undefined ? 'INTERNAL' : 'STORAGE_FULL',
          problem === undefined
            ? `cannot store blob ${sha256} under ${this.root}: ${errorMessage(error)}`
            : `blob store ${this.root}: ${problem} (${code}) while storing blob ${sha256} ` +
                `(${compressed.length} bytes); free space there and retry`,
          { cause: error },
        );
      }
    }
    return { sha256, sizeBytes: bytes.length, storedSizeBytes: compressed.length, compression: 'gzip' };
  }

  async get(sha256: string): Promise<Uint8Array> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new AppError('INVALID_ARGUMENT', `"${sha256}" is not a sha256`);
    const read = (mask: boolean) =>
      readFile(this.pathOf(sha256, mask)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw new AppError('INTERNAL', `blob ${sha256}: ${errorMessage(error)}`);
      });
    const asMask = await read(true);
    const compressed = asMask ?? (await read(false));
    if (compressed === null) throw new AppError('NOT_FOUND', `blob ${sha256}: not in ${this.root}`);
    const inflated = new Uint8Array(await gunzipAsync(compressed));
    let bytes: Uint8Array;
    try {
      bytes = asMask === null ? inflated : decodeBinaryRuns(inflated);
    } catch (error) {
      throw new AppError('INTERNAL', `blob ${sha256} is corrupt: ${errorMessage(error)}`);
    }
    if (sha256Hex(bytes) !== sha256)
      throw new AppError('INTERNAL', `blob ${sha256} is corrupt (content hash differs)`);
    return bytes;
  }
}
