import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlobStore, sha256Hex } from './blob-store';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'contourbench-blobs-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const fileOf = (sha: string, suffix: string) =>
  path.join(root, sha.slice(0, 2), sha.slice(2, 4), `${sha}${suffix}`);

describe('FileBlobStore', () => {
  it('stores content by its sha256 and gives it back; masks run-length coded', async () => {
    const store = new FileBlobStore(root);
    const mask = new Uint8Array(2_000_000);
    mask.fill(1, 100_000, 900_000);
    const volume = Int16Array.from({ length: 10_000 }, (_, i) => (i % 300) - 1000);
    const other = new Uint8Array(volume.buffer);
    const storedMask = await store.put(mask);
    const storedOther = await store.put(other);
    expect(storedMask).toMatchObject({ sha256: sha256Hex(mask), sizeBytes: 2_000_000, compression: 'gzip' });
    expect(storedMask.storedSizeBytes).toBeLessThan(100);
    expect(existsSync(fileOf(storedMask.sha256, '.m.gz'))).toBe(true);
    expect(existsSync(fileOf(storedOther.sha256, '.gz'))).toBe(true);
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    expect(same(await store.get(storedMask.sha256), mask)).toBe(true);
    expect(same(await store.get(storedOther.sha256), other)).toBe(true);
    // the same content again is the same blob
    expect(await store.put(mask.slice())).toEqual(storedMask);
  });

  it('reports a missing, malformed or corrupt blob', async () => {
    const store = new FileBlobStore(root);
    await expect(store.get('0'.repeat(64))).rejects.toThrow('not in');
    await expect(store.get('nope')).rejects.toThrow('is not a sha256');
    const stored = await store.put(Uint8Array.of(0, 1, 1, 0));
    const { gzipSync } = await import('node:zlib');
    await writeFile(fileOf(stored.sha256, '.m.gz'), gzipSync(Uint8Array.of(1, 2, 3)));
    await expect(store.get(stored.sha256)).rejects.toThrow('is corrupt');
  });
});
