/**
 * Writing zip archives (PKWARE APPNOTE.TXT 6.3) one entry at a time, without holding the archive in
 * memory. Entries are stored (method 0): what goes in is compressed already (.nii.gz) or small (JSON).
 * Every entry carries the same fixed time (1980-01-01 00:00, the earliest DOS time), UTF-8 names and Unix
 * mode 0644, so the same entries always give the same bytes. Zip64 is not written: an archive that would
 * pass 4 GiB or 65535 entries is refused with an error saying so.
 */
import { randomUUID } from 'node:crypto';
import { link, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { AppError, errorMessage } from '../../core/errors';

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_HEADER_BYTES = 46;
const END_RECORD_BYTES = 22;
/** Largest offset or size a zip without zip64 holds; 0xffffffff itself means "see zip64". */
const MAX_ZIP32 = 0xfffffffe;
const MAX_ENTRIES = 0xfffe;
/** Version 1.0: stored entries need nothing newer. */
const VERSION_NEEDED = 10;
/** Made by Unix (3), APPNOTE 2.0: external attributes hold st_mode in the high 16 bits. */
const VERSION_MADE_BY = (3 << 8) | 20;
const FLAG_UTF8_NAMES = 0x0800;
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const REGULAR_FILE_0644 = (0o100644 << 16) >>> 0;

const utf8 = new TextEncoder();

export interface ZipEntryInput {
  /** path inside the archive, "/" separated, relative */
  name: string;
  data: Uint8Array;
}

export interface ZipSummary {
  entries: number;
  /** size of the archive */
  bytes: number;
}

function tooLarge(what: string): never {
  throw new AppError(
    'INVALID_ARGUMENT',
    `the zip archive would exceed ${what} (the limit of a zip without zip64); export to a folder instead`,
  );
}

/**
 * The encoder: `entry` returns the bytes of one entry (local header, then the data itself, not a copy),
 * `end` the central directory and end record. The caller writes them in order wherever it likes.
 * Errors: AppError('INVALID_ARGUMENT') for a name that is empty, absolute, has "\" or a ".." or empty
 * segment, or is used twice, and for an archive past 4 GiB or 65535 entries; entries after `end` throw.
 */
export class ZipWriter {
  private offset = 0;
  private readonly central: Uint8Array[] = [];
  private readonly names = new Set<string>();
  private ended = false;

  /** Bytes produced so far. */
  get bytes(): number {
    return this.offset;
  }

  get entries(): number {
    return this.central.length;
  }

  entry(name: string, data: Uint8Array): [header: Uint8Array, data: Uint8Array] {
    if (this.ended) throw new AppError('INTERNAL', `zip entry "${name}" added after the archive ended`);
    const segments = name.split('/');
    if (
      name.length === 0 ||
      name.includes('\\') ||
      segments.some((s) => s === '' || s === '.' || s === '..') ||
      [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
    )
      throw new AppError('INVALID_ARGUMENT', `zip entry name ${JSON.stringify(name)} is not a relative path`);
    if (this.names.has(name)) throw new AppError('INVALID_ARGUMENT', `zip entry "${name}" is added twice`);
    const nameBytes = utf8.encode(name);
    if (nameBytes.length > 0xffff) throw new AppError('INVALID_ARGUMENT', `zip entry name is too long`);
    if (this.central.length >= MAX_ENTRIES) tooLarge(`${MAX_ENTRIES} entries`);
    const headerOffset = this.offset;
    const end = headerOffset + LOCAL_HEADER_BYTES + nameBytes.length + data.length;
    // The central directory must start at an offset the end record can hold.
    if (end > MAX_ZIP32) tooLarge('4 GiB');
    const checksum = crc32(data) >>> 0;

    const header = new Uint8Array(LOCAL_HEADER_BYTES + nameBytes.length);
    const h = new DataView(header.buffer);
    h.setUint32(0, LOCAL_HEADER, true);
    h.setUint16(4, VERSION_NEEDED, true);
    h.setUint16(6, FLAG_UTF8_NAMES, true);
    h.setUint16(8, 0, true); // stored
    h.setUint16(10, DOS_TIME, true);
    h.setUint16(12, DOS_DATE, true);
    h.setUint32(14, checksum, true);
    h.setUint32(18, data.length, true);
    h.setUint32(22, data.length, true);
    h.setUint16(26, nameBytes.length, true);
    h.setUint16(28, 0, true);
    header.set(nameBytes, LOCAL_HEADER_BYTES);

    const record = new Uint8Array(CENTRAL_HEADER_BYTES + nameBytes.length);
    const c = new DataView(record.buffer);
    c.setUint32(0, CENTRAL_HEADER, true);
    c.setUint16(4, VERSION_MADE_BY, true);
    c.setUint16(6, VERSION_NEEDED, true);
    c.setUint16(8, FLAG_UTF8_NAMES, true);
    c.setUint16(10, 0, true);
    c.setUint16(12, DOS_TIME, true);
    c.setUint16(14, DOS_DATE, true);
    c.setUint32(16, checksum, true);
    c.setUint32(20, data.length, true);
    c.setUint32(24, data.length, true);
    c.setUint16(28, nameBytes.length, true);
    // extra field, comment, disk number and internal attributes stay 0
    c.setUint32(38, REGULAR_FILE_0644, true);
    c.setUint32(42, headerOffset, true);
    record.set(nameBytes, CENTRAL_HEADER_BYTES);

    this.names.add(name);
    this.central.push(record);
    this.offset = end;
    return [header, data];
  }

  /** The central directory and end-of-central-directory record; the archive is complete after these. */
  end(): Uint8Array {
    if (this.ended) throw new AppError('INTERNAL', 'the zip archive has ended already');
    const directoryBytes = this.central.reduce((sum, r) => sum + r.length, 0);
    if (this.offset + directoryBytes + END_RECORD_BYTES > MAX_ZIP32) tooLarge('4 GiB');
    const out = new Uint8Array(directoryBytes + END_RECORD_BYTES);
    let at = 0;
    for (const record of this.central) {
      out.set(record, at);
      at += record.length;
    }
    const e = new DataView(out.buffer, at);
    e.setUint32(0, END_OF_CENTRAL_DIRECTORY, true);
    e.setUint16(8, this.central.length, true);
    e.setUint16(10, this.central.length, true);
    e.setUint32(12, directoryBytes, true);
    e.setUint32(16, this.offset, true);
    this.ended = true;
    this.offset += out.length;
    return out;
  }
}

/**
 * A zip of `entries` as a byte stream that asks for the next entry only when the reader has taken the
 * previous one (high-water mark 0), so at most one entry is in memory. `finished` resolves with the entry
 * count and archive size after the last byte is queued, and rejects when an entry fails (the stream errors
 * with the same error) or the reader cancels. The iterator is closed on error and on cancel.
 */
export function zipStream(entries: AsyncIterable<ZipEntryInput>): {
  stream: ReadableStream<Uint8Array>;
  finished: Promise<ZipSummary>;
} {
  const iterator = entries[Symbol.asyncIterator]();
  const writer = new ZipWriter();
  let resolve!: (summary: ZipSummary) => void;
  let reject!: (error: unknown) => void;
  const finished = new Promise<ZipSummary>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // The caller may only read the stream; a rejection it never awaits must not crash the process.
  finished.catch(() => {});
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            controller.enqueue(writer.end());
            controller.close();
            resolve({ entries: writer.entries, bytes: writer.bytes });
            return;
          }
          for (const chunk of writer.entry(next.value.name, next.value.data)) controller.enqueue(chunk);
        } catch (error) {
          controller.error(error);
          reject(error);
          await iterator.return?.().catch(() => {});
        }
      },
      async cancel(reason) {
        reject(new AppError('INTERNAL', `the zip download was cancelled (${errorMessage(reason)})`));
        await iterator.return?.().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, finished };
}

function exists(filePath: string): Promise<boolean> {
  return stat(filePath).then(
    () => true,
    () => false,
  );
}

/**
 * Saves a byte stream as `filePath`: refused when the file exists; written to a temporary file beside it,
 * flushed, and linked into place only when the stream ends, so a failed or interrupted stream leaves
 * nothing behind. Returns the size. Errors: AppError('CONFLICT') when the file exists, AppError('NOT_FOUND')
 * when its folder does not, and the stream's own error.
 */
export async function saveStream(stream: ReadableStream<Uint8Array>, filePath: string): Promise<number> {
  if (await exists(filePath)) {
    await stream.cancel('the target exists').catch(() => {});
    throw new AppError('CONFLICT', `${filePath} exists already; choose another place or remove it`);
  }
  const temporary = path.join(path.dirname(filePath), `.${path.basename(filePath)}.${randomUUID()}.partial`);
  let bytes = 0;
  let handle;
  try {
    handle = await open(temporary, 'wx');
  } catch (error) {
    await stream.cancel('cannot write').catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT',
      `${filePath}: cannot write (${errorMessage(error)})`,
      { cause: error },
    );
  }
  try {
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (let at = 0; at < value.length;) {
          const { bytesWritten } = await handle.write(value, at, value.length - at);
          at += bytesWritten;
        }
        bytes += value.length;
      }
    } catch (error) {
      await reader.cancel(error).catch(() => {});
      throw error;
    } finally {
      reader.releaseLock();
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    try {
      // link, unlike rename, refuses to replace a file that appeared meanwhile
      await link(temporary, filePath).catch(async (error: NodeJS.ErrnoException) => {
        // file systems without hard links: rename, after checking once more that the target is free
        if (error.code !== 'EPERM' && error.code !== 'ENOTSUP' && error.code !== 'ENOSYS') throw error;
        if (await exists(filePath)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        await rename(temporary, filePath);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new AppError(
        code === 'EEXIST' ? 'CONFLICT' : 'INVALID_INPUT',
        code === 'EEXIST'
          ? `${filePath} exists already; choose another place or remove it`
          : `${filePath}: cannot write (${errorMessage(error)})`,
        { cause: error },
      );
    }
    return bytes;
  } finally {
    await handle?.close().catch(() => {});
    await rm(temporary, { force: true });
  }
}
