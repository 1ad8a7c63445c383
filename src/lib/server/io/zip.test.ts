import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractZip, looksLikeZip } from './zip';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-zip-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (value: string) => new TextEncoder().encode(value);

async function archive(name: string, entries: Record<string, Uint8Array>): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, zipSync(entries));
  return file;
}

describe('extractZip', () => {
  it('extracts nested entries', async () => {
    const zip = await archive('ok.zip', { 'study/CT.1.dcm': text('a'), 'study/sub/RS.dcm': text('b') });
    expect(looksLikeZip(await readFile(zip))).toBe(true);
    const out = path.join(dir, 'ok');
    const written = await extractZip(zip, out);
    expect(written.map((f) => path.relative(out, f)).sort()).toEqual(['study/CT.1.dcm', 'study/sub/RS.dcm']);
    expect(await readFile(path.join(out, 'study/sub/RS.dcm'), 'utf8')).toBe('b');
  });

  it('refuses an entry that escapes the folder and writes nothing', async () => {
    const zip = await archive('evil.zip', { 'fine.dcm': text('a'), '../../escaped.dcm': text('x') });
    const out = path.join(dir, 'evil');
    await expect(extractZip(zip, out)).rejects.toThrowError(
      /evil\.zip: entry "\.\.\/\.\.\/escaped\.dcm" would be written outside/,
    );
    await expect(readdir(out)).rejects.toThrow();
  });

  it('refuses archives over the limits, and corrupt archives', async () => {
    const zip = await archive('big.zip', { 'a.dcm': new Uint8Array(1000), 'b.dcm': new Uint8Array(1000) });
    await expect(
      extractZip(zip, path.join(dir, 'big'), { maxTotalBytes: 1500, maxEntries: 10 }),
    ).rejects.toThrowError(/big\.zip: unpacks to more than 1500 bytes/);
    await expect(
      extractZip(zip, path.join(dir, 'many'), { maxTotalBytes: 1e9, maxEntries: 1 }),
    ).rejects.toThrowError(/big\.zip: more than 1 entries/);
    const corrupt = path.join(dir, 'corrupt.zip');
    await writeFile(corrupt, Buffer.from('PK\x03\x04 this is not really a zip'));
    await expect(extractZip(corrupt, path.join(dir, 'corrupt'))).rejects.toThrowError(
      /corrupt\.zip: not a readable zip archive/,
    );
  });
});
