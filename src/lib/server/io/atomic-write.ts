import { randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { AppError, errorMessage } from '../../core/errors';

/**
 * Writes a file so that readers see the old file or the whole new one, never part of it: a temporary
 * file beside the target, flushed to disk, then renamed. On failure the temporary file is removed.
 * AppError('NOT_FOUND') when the folder does not exist, AppError('INVALID_INPUT') when the file cannot be
 * written; messages start with the path.
 */
export async function writeFileAtomically(filePath: string, bytes: Uint8Array): Promise<void> {
  const tempPath = path.join(path.dirname(filePath), `.${path.basename(filePath)}.${randomUUID()}.tmp`);
  try {
    const handle = await open(tempPath, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, filePath);
  } catch (error) {
    await rm(tempPath, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new AppError('NOT_FOUND', `${filePath}: folder ${path.dirname(filePath)} does not exist`, {
        cause: error,
      });
    }
    throw new AppError('INVALID_INPUT', `${filePath}: cannot write (${errorMessage(error)})`, {
      cause: error,
    });
  }
}
