import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, statfsSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface SmallFilesystem {
  dir: string;
  /** Bytes the file system can still take. */
  freeBytes(): number;
  /**
   * Fills the file system with a ballast file until `leaveBytes` remain (0: until a write fails for want of
   * space); returns the ballast's size.
   */
  fill(leaveBytes?: number): number;
  /** Removes the ballast again. */
  free(): void;
  unmount(): void;
}

const ballastName = '.ballast';

/**
 * Mounts a tmpfs of `sizeMb` at `dir`, so writes under it fail with a real ENOSPC once it is full. Needs
 * root with the right to mount (CAP_SYS_ADMIN). Returns the reason instead when the mount is refused.
 */
export function mountSmallFilesystem(dir: string, sizeMb: number): SmallFilesystem | { problem: string } {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'tmpfs', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return { problem: `cannot mount a ${sizeMb} MB tmpfs at ${dir}: ${stderr || String(error)}` };
  }
  const ballast = path.join(dir, ballastName);
  const freeBytes = () => {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  };
  return {
    dir,
    freeBytes,
    fill: (leaveBytes = 0) => {
      const fd = openSync(ballast, 'a');
      let written = 0;
      try {
        // whole pages while there is room to leave, then single pages until the file system refuses
        for (const chunk of [1 << 20, 1 << 12]) {
          const bytes = Buffer.alloc(chunk);
          while (freeBytes() - chunk >= leaveBytes) {
            try {
              written += writeSync(fd, bytes);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free: () => rmSync(ballast, { force: true }),
    unmount: () => {
      execFileSync('umount', ['--lazy', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
