import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
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

/** One entry of a hand-made archive; every field a hostile archive could lie about can be set. */
interface RawEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** uncompressed size written in the headers (default: the real one) */
  declaredSize?: number;
  crc?: number;
  /** Unix st_mode (made on Unix when given) */
  mode?: number;
  flags?: number;
  method?: number;
}

/** A zip archive written field by field (APPNOTE.TXT 4.3), so tests can make it lie. */
function rawZip(entries: RawEntry[], options: { declaredCount?: number } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = new TextEncoder().encode(entry.name);
    const stored = entry.deflate ? deflateRawSync(entry.data) : entry.data;
    const method = entry.method ?? (entry.deflate ? 8 : 0);
    const crc = entry.crc ?? crc32(entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    const flags = 0x800 | (entry.flags ?? 0);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, flags, true);
    local.setUint16(8, method, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, stored.length, true);
    local.setUint32(22, size, true);
    local.setUint16(26, name.length, true);
    parts.push(new Uint8Array(local.buffer), name, stored);
    const header = new DataView(new ArrayBuffer(46));
    header.setUint32(0, 0x02014b50, true);
    header.setUint16(4, entry.mode === undefined ? 20 : (3 << 8) | 20, true);
    header.setUint16(6, 20, true);
    header.setUint16(8, flags, true);
    header.setUint16(10, method, true);
    header.setUint32(16, crc, true);
    header.setUint32(20, stored.length, true);
    header.setUint32(24, size, true);
    header.setUint16(28, name.length, true);
    header.setUint32(38, ((entry.mode ?? 0) << 16) >>> 0, true);
    header.setUint32(42, offset, true);
    central.push(new Uint8Array(header.buffer), name);
    offset += 30 + name.length + stored.length;
  }
  const directoryLength = central.reduce((n, part) => n + part.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, options.declaredCount ?? entries.length, true);
  end.setUint16(10, options.declaredCount ?? entries.length, true);
  end.setUint32(12, directoryLength, true);
  end.setUint32(16, offset, true);
  return Buffer.concat([...parts, ...central, new Uint8Array(end.buffer)]);
}

describe('extractZip on hostile archives', () => {
  const fine: RawEntry = { name: 'study/CT.1.dcm', data: text('slice') };
  let n = 0;
  async function refused(entries: RawEntry[], pattern: RegExp, limits?: Parameters<typeof extractZip>[2]) {
    const file = path.join(dir, `hostile-${++n}.zip`);
    await writeFile(file, rawZip(entries));
    const out = path.join(dir, `hostile-${n}`);
    await expect(extractZip(file, out, limits)).rejects.toThrowError(pattern);
    await expect(readdir(out)).rejects.toThrow();
    return file;
  }

  it('reads what it writes itself, stored and deflated', async () => {
    const file = path.join(dir, 'raw.zip');
    await writeFile(
      file,
      rawZip([fine, { name: 'study/RS.dcm', data: new Uint8Array(5000), deflate: true }]),
    );
    const out = path.join(dir, 'raw');
    expect((await extractZip(file, out)).map((f) => path.relative(out, f))).toEqual([
      'study/CT.1.dcm',
      'study/RS.dcm',
    ]);
    expect((await readFile(path.join(out, 'study/RS.dcm'))).length).toBe(5000);
  });

  it('refuses absolute paths, escapes, backslashes and control characters in names', async () => {
    await refused(
      [fine, { name: '/etc/cron.d/x', data: text('x') }],
      /entry "\/etc\/cron\.d\/x" would be written outside/,
    );
    await refused(
      [fine, { name: 'a/../../x', data: text('x') }],
      /entry "a\/\.\.\/\.\.\/x" would be written outside/,
    );
    await refused([fine, { name: '..\\x', data: text('x') }], /would be written outside the import folder/);
    await refused([fine, { name: 'a\u0000b', data: text('x') }], /entry "a\\u0000b" has a control character/);
    await refused(
      [
        { name: './', data: new Uint8Array(0) },
        { name: '.', data: text('x') },
      ],
      /would be written outside/,
    );
  });

  it('refuses symbolic links and special files, and never creates a link', async () => {
    const file = await refused(
      [fine, { name: 'study/link.dcm', data: text('/etc/passwd'), mode: 0o120777 }],
      /hostile-\d+\.zip: entry "study\/link\.dcm" is a symbolic link/,
    );
    expect(file).toMatch(/\.zip$/);
    await refused(
      [{ name: 'fifo', data: new Uint8Array(0), mode: 0o010644 }],
      /entry "fifo" is not a regular file/,
    );
    const plain = path.join(dir, 'plain.zip');
    await writeFile(plain, rawZip([{ name: 'a.dcm', data: text('a'), mode: 0o100644 }]));
    const [written] = await extractZip(plain, path.join(dir, 'plain'));
    expect((await lstat(written!)).isFile()).toBe(true);
  });

  it('refuses an entry that inflates past its declared size, or to less, and a bad CRC', async () => {
    const zeros = new Uint8Array(1 << 20);
    await refused(
      [{ name: 'bomb.dcm', data: zeros, deflate: true, declaredSize: 1000 }],
      /entry "bomb\.dcm" inflates to more than the 1000 bytes it declares/,
    );
    await refused(
      [{ name: 'short.dcm', data: zeros, deflate: true, declaredSize: 2 << 20 }],
      /entry "short\.dcm" declares 2097152 bytes but holds 1048576/,
    );
    await refused(
      [{ name: 'crc.dcm', data: text('abc'), crc: 1 }],
      /entry "crc\.dcm" fails its CRC-32 check/,
    );
    await refused(
      [{ name: 'stored.dcm', data: text('abc'), declaredSize: 1 << 30 }],
      /stored with 3 bytes but declares 1073741824/,
    );
  });

  it('refuses archives over the entry, entry-size and total limits by what they declare, before inflating', async () => {
    const huge = [{ name: 'huge.dcm', data: text('x'), deflate: true, declaredSize: 0xfffffff0 }];
    await refused(huge, /entry "huge\.dcm" unpacks to 4294967280 bytes, more than the limit of 1073741824/);
    await refused(
      [
        { name: 'a.dcm', data: new Uint8Array(600), deflate: true },
        { name: 'b.dcm', data: new Uint8Array(600), deflate: true },
      ],
      /unpacks to more than 1000 bytes/,
      { maxTotalBytes: 1000, maxEntries: 10 },
    );
    const many = path.join(dir, 'many.zip');
    await writeFile(many, rawZip([fine], { declaredCount: 60_000 }));
    await expect(
      extractZip(many, path.join(dir, 'many'), { maxTotalBytes: 1e9, maxEntries: 50_000 }),
    ).rejects.toThrowError(/many\.zip: more than 50000 entries/);
    await expect(extractZip(many, path.join(dir, 'many2'))).rejects.toThrowError(
      /many\.zip: not a readable zip archive \(60000 entries cannot fit/,
    );
  });

  it('refuses duplicate names, a name that is both a file and a folder, encryption and unknown methods', async () => {
    await refused([fine, { ...fine }], /entry "study\/CT\.1\.dcm" appears twice/);
    await refused([{ name: 'study', data: text('x') }, fine], /"study" is both a file and a folder/);
    await refused([{ ...fine, flags: 1 }], /entry "study\/CT\.1\.dcm" is encrypted/);
    await refused([{ ...fine, method: 12 }], /uses compression method 12; only stored and deflate/);
  });

  it('refuses truncated and damaged archives as unreadable, naming the archive', async () => {
    const whole = rawZip([fine, { name: 'b.dcm', data: new Uint8Array(3000).fill(7), deflate: true }]);
    for (const [k, bytes] of [
      whole.subarray(0, whole.length - 30),
      whole.subarray(0, 40),
      Uint8Array.from(whole).fill(0xff, 40, 60),
      Uint8Array.from([...whole.subarray(0, 30), ...whole.subarray(60)]),
    ].entries()) {
      const file = path.join(dir, `damaged-${k}.zip`);
      await writeFile(file, bytes);
      await expect(extractZip(file, path.join(dir, `damaged-${k}`))).rejects.toThrowError(
        new RegExp(`damaged-${k}\\.zip: `),
      );
    }
  });
});
