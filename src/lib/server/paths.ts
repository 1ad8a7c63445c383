import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The folder holding ContourBench's package.json, found by walking up from this module. Works from the
 * sources (src/lib/server), from the built server (build/server/chunks) and from an installed package.
 */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'contourbench') {
      cachedRoot = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(`No contourbench package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function migrationsDir(): string {
  return path.join(projectRoot(), 'migrations');
}

/** The version in package.json. */
export function appVersion(): string {
  return JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')).version as string;
}
