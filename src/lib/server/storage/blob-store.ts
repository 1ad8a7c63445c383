import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { AppError, errorMessage } from '../../core/errors';

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

/**
 * The local file system store: gzip files under `root/ab/cd/<sha256>.gz`, written to a temporary name and
 * renamed, so a reader never sees half a blob. A blob whose transaction later rolls back stays as an
 * unreferenced file (harmless: the next import of the same content reuses it).
 */
export class FileBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private pathOf(sha256: string): string {
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), `${sha256}.gz`);
  }

  async put(bytes: Uint8Array): Promise<StoredBlob> {
    const sha256 = sha256Hex(bytes);
    const target = this.pathOf(sha256);
    const compressed = await gzipAsync(bytes, { level: 3 });
    if (!existsSync(target)) {
      await mkdir(path.dirname(target), { recursive: true });
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(temporary, compressed);
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw new AppError(
          'INTERNAL',
          `cannot store blob ${sha256} under ${this.root}: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    return { sha256, sizeBytes: bytes.length, storedSizeBytes: compressed.length, compression: 'gzip' };
  }

  async get(sha256: string): Promise<Uint8Array> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new AppError('INVALID_ARGUMENT', `"${sha256}" is not a sha256`);
    const compressed = await readFile(this.pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
      throw new AppError(
        error.code === 'ENOENT' ? 'NOT_FOUND' : 'INTERNAL',
        `blob ${sha256}: ${error.code === 'ENOENT' ? `not in ${this.root}` : errorMessage(error)}`,
      );
    });
    const bytes = new Uint8Array(await gunzipAsync(compressed));
    if (sha256Hex(bytes) !== sha256)
      throw new AppError('INTERNAL', `blob ${sha256} is corrupt (content hash differs)`);
    return bytes;
  }
}
