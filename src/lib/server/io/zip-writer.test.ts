import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractZip } from './zip';
import { saveStream, ZipWriter, zipStream, type ZipEntryInput } from './zip-writer';

const run = promisify(execFile);
const text = (value: string) => new TextEncoder().encode(value);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'contourbench-zip-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(): ZipEntryInput[] {
  const binary = new Uint8Array(300_000);
  for (let n = 0; n < binary.length; n++) binary[n] = (n * 2654435761) >>> 24;
  return [
    { name: 'Dataset501_x/dataset.json', data: text('{"numTraining": 1}\n') },
    { name: 'Dataset501_x/imagesTr/x_001_0000.nii.gz', data: binary },
    { name: 'Dataset501_x/labelsTr/x_001.nii.gz', data: binary.subarray(1000, 2000) },
    { name: 'Dataset501_x/empty.txt', data: new Uint8Array(0) },
    { name: 'Dataset501_x/Zürich ünïcode.txt', data: text('ü') },
  ];
}

async function* iterate(entries: ZipEntryInput[]): AsyncGenerator<ZipEntryInput> {
  for (const e of entries) yield e;
}

async function unzipAvailable(): Promise<boolean> {
  return run('unzip', ['-v']).then(
    () => true,
    () => false,
  );
}

describe('zipStream and saveStream', () => {
  it('writes an archive that extractZip and unzip read back entry for entry', async () => {
    const entries = sample();
    const { stream, finished } = zipStream(iterate(entries));
    const file = path.join(dir, 'sample.zip');
    const bytes = await saveStream(stream, file);
    const summary = await finished;
    expect(summary).toEqual({ entries: 5, bytes });
    expect((await readFile(file)).length).toBe(bytes);

    const out = path.join(dir, 'sample');
    const written = await extractZip(file, out);
    expect(written.map((f) => path.relative(out, f))).toEqual(entries.map((e) => e.name));
    for (const e of entries) expect(new Uint8Array(await readFile(path.join(out, e.name)))).toEqual(e.data);

    if (await unzipAvailable()) {
      const tested = await run('unzip', ['-t', file]);
      expect(tested.stdout).toContain('No errors detected');
      const listed = await run('unzip', ['-Z', '-l', file]);
      expect(listed.stdout).toContain('-rw-r--r--');
      expect(listed.stdout).toContain('Zürich ünïcode.txt');
      expect(listed.stdout).toContain('80-Jan-01 00:00');
    } else {
      expect(written).toHaveLength(5);
    }
  });

  it('gives byte-identical archives for the same entries', async () => {
    const read = async (name: string) => {
      const file = path.join(dir, name);
      await saveStream(zipStream(iterate(sample())).stream, file);
      return readFile(file);
    };
    expect((await read('a.zip')).equals(await read('b.zip'))).toBe(true);
  });

  it('asks for the next entry only as the reader reads', async () => {
    const asked: string[] = [];
    async function* watched(): AsyncGenerator<ZipEntryInput> {
      for (const e of sample()) {
        asked.push(e.name);
        yield e;
      }
    }
    const { stream } = zipStream(watched());
    const reader = stream.getReader();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(asked).toEqual([]);
    await reader.read(); // first entry's header
    expect(asked).toHaveLength(1);
    await reader.read(); // its data
    expect(asked).toHaveLength(1);
    await reader.cancel('enough');
  });

  it('errors the stream and rejects, closes the source and leaves no file when an entry fails', async () => {
    let closed = false;
    async function* failing(): AsyncGenerator<ZipEntryInput> {
      try {
        yield { name: 'a.txt', data: text('a') };
        throw new Error('mask blob missing');
      } finally {
        closed = true;
      }
    }
    const { stream, finished } = zipStream(failing());
    const file = path.join(dir, 'failed.zip');
    await expect(saveStream(stream, file)).rejects.toThrow('mask blob missing');
    await expect(finished).rejects.toThrow('mask blob missing');
    expect(closed).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes('failed'))).toEqual([]);
  });

  it('closes the source when the reader cancels', async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<ZipEntryInput> {
      try {
        for (let n = 0; ; n++) yield { name: `f${n}`, data: text('x') };
      } finally {
        closed = true;
      }
    }
    const { stream, finished } = zipStream(endless());
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel('client went away');
    await expect(finished).rejects.toThrow(/cancelled \(client went away\)/);
    expect(closed).toBe(true);
  });

  it('refuses to replace an existing file', async () => {
    const file = path.join(dir, 'exists.zip');
    await writeFile(file, 'keep');
    await expect(saveStream(zipStream(iterate(sample())).stream, file)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('exists.zip exists already'),
    });
    expect(await readFile(file, 'utf8')).toBe('keep');
  });
});

describe('ZipWriter', () => {
  it('refuses unsafe and repeated names', () => {
    const writer = new ZipWriter();
    writer.entry('a/b.txt', text('1'));
    for (const name of ['', '/abs', 'a/../b', 'a//b', 'a\\b', 'dir/', 'a\nb'])
      expect(() => writer.entry(name, text('x'))).toThrow(/is not a relative path/);
    expect(() => writer.entry('a/b.txt', text('2'))).toThrow(/"a\/b.txt" is added twice/);
    writer.end();
    expect(() => writer.entry('c', text('3'))).toThrow(/after the archive ended/);
  });

  it('refuses an archive past 4 GiB, saying why, before taking the entry', () => {
    const writer = new ZipWriter();
    const huge = { length: 2 ** 32 } as unknown as Uint8Array;
    expect(() => writer.entry('huge.nii.gz', huge)).toThrow(
      /would exceed 4 GiB \(the limit of a zip without zip64\); export to a folder instead/,
    );
    expect(writer.entries).toBe(0);
    expect(writer.bytes).toBe(0);
  });

  it('lays out the headers as APPNOTE describes', () => {
    const writer = new ZipWriter();
    const [header, data] = writer.entry('a.txt', text('abc'));
    const h = new DataView(header.buffer);
    expect(h.getUint32(0, true)).toBe(0x04034b50);
    expect(h.getUint16(6, true)).toBe(0x0800);
    expect(h.getUint16(8, true)).toBe(0);
    expect(h.getUint32(14, true)).toBe(0x352441c2); // CRC-32 of "abc"
    expect(h.getUint32(18, true)).toBe(3);
    expect(new TextDecoder().decode(header.subarray(30))).toBe('a.txt');
    expect(data).toEqual(text('abc'));
    const end = writer.end();
    const e = new DataView(end.buffer, end.length - 22);
    expect(e.getUint32(0, true)).toBe(0x06054b50);
    expect(e.getUint16(10, true)).toBe(1);
    expect(e.getUint32(12, true)).toBe(46 + 5);
    expect(e.getUint32(16, true)).toBe(30 + 5 + 3);
    expect(writer.bytes).toBe(30 + 5 + 3 + 46 + 5 + 22);
  });
});
