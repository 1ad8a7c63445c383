import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { AppError, errorMessage } from '../../core/errors';

export interface ZipLimits {
  /** Largest total uncompressed size accepted (bytes). */
  maxTotalBytes: number;
  maxEntries: number;
}

export const defaultZipLimits: ZipLimits = { maxTotalBytes: 4 * 1024 ** 3, maxEntries: 100_000 };

/** True when the file starts with a zip local-file header. */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

/**
 * Extracts a zip archive into `destination`. Entries whose path is absolute or leaves the folder
 * (`../`), archives over the size or entry limits, and corrupt archives are refused with an error naming
 * the archive and the entry; the check runs before anything is written.
 */
export async function extractZip(
  zipPath: string,
  destination: string,
  limits: ZipLimits = defaultZipLimits,
): Promise<string[]> {
  const bytes = await readFile(zipPath);
  let entries: Record<string, Uint8Array>;
  let count = 0;
  let total = 0;
  try {
    entries = unzipSync(bytes, {
      filter: (file) => {
        count++;
        total += file.originalSize;
        if (count > limits.maxEntries)
          throw new AppError('INVALID_INPUT', `${zipPath}: more than ${limits.maxEntries} entries`);
        if (total > limits.maxTotalBytes) {
          throw new AppError(
            'INVALID_INPUT',
            `${zipPath}: unpacks to more than ${limits.maxTotalBytes} bytes`,
          );
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('INVALID_INPUT', `${zipPath}: not a readable zip archive (${errorMessage(error)})`, {
      cause: error,
    });
  }
  const root = path.resolve(destination);
  const targets: Array<[string, Uint8Array]> = [];
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith('/')) continue;
    const target = path.resolve(root, name);
    if (path.isAbsolute(name) || name.includes('\\') || !target.startsWith(`${root}${path.sep}`)) {
      throw new AppError(
        'INVALID_INPUT',
        `${zipPath}: entry "${name}" would be written outside the import folder`,
      );
    }
    targets.push([target, data]);
  }
  for (const [target, data] of targets) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, data);
  }
  return targets.map(([target]) => target);
}
