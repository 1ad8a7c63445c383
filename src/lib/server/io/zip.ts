import { mkdir, open, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { AppError, errorMessage } from '../../core/errors';

export interface ZipLimits {
  /** Largest total uncompressed size accepted (bytes): the sum of the declared sizes. */
  maxTotalBytes: number;
  maxEntries: number;
  /** Largest uncompressed size of one entry (bytes). */
  maxEntryBytes?: number;
}

export const defaultZipLimits: Required<ZipLimits> = {
  maxTotalBytes: 4 * 1024 ** 3,
  maxEntries: 100_000,
  maxEntryBytes: 1024 ** 3,
};

/** True when the file starts with a zip local-file header. */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04
  );
}

/** One central-directory entry (APPNOTE.TXT 4.3.12), with zip64 sizes resolved. */
interface ZipEntry {
  name: string;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Unix st_mode when the archive was made on Unix or macOS, else null. */
  unixMode: number | null;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const MAX_COMMENT = 0xffff;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

class ZipReader {
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly zipPath: string,
  ) {}

  corrupt(reason: string): never {
    throw new AppError('INVALID_INPUT', `${this.zipPath}: not a readable zip archive (${reason})`);
  }

  refuse(reason: string): never {
    throw new AppError('INVALID_INPUT', `${this.zipPath}: ${reason}`);
  }

  async read(offset: number, length: number, what: string): Promise<DataView> {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.size)) {
      this.corrupt(`${what} at byte ${offset} runs past the end of the file (${this.size} bytes)`);
    }
    const buffer = new Uint8Array(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, offset);
    if (bytesRead !== length) this.corrupt(`${what}: the file changed while it was read`);
    return new DataView(buffer.buffer);
  }

  u64(view: DataView, offset: number, what: string): number {
    const value = view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.corrupt(`${what} ${value} is out of range`);
    return Number(value);
  }

  /** The central directory's position and entry count, from the (zip64) end record. */
  async directory(): Promise<{ offset: number; length: number; count: number }> {
    const tailLength = Math.min(this.size, 22 + MAX_COMMENT);
    const tail = await this.read(this.size - tailLength, tailLength, 'the end of the archive');
    let at = -1;
    for (let n = tailLength - 22; n >= 0; n--) {
      if (tail.getUint32(n, true) === EOCD) {
        at = n;
        break;
      }
    }
    if (at < 0) this.corrupt('no end of central directory record');
    let count = tail.getUint16(at + 10, true);
    let length = tail.getUint32(at + 12, true);
    let offset = tail.getUint32(at + 16, true);
    const eocdOffset = this.size - tailLength + at;
    if (count === 0xffff || length === 0xffffffff || offset === 0xffffffff) {
      if (eocdOffset < 20) this.corrupt('a zip64 archive without its zip64 locator');
      const locator = await this.read(eocdOffset - 20, 20, 'the zip64 locator');
      if (locator.getUint32(0, true) !== ZIP64_LOCATOR) this.corrupt('the zip64 locator is missing');
      const recordOffset = this.u64(locator, 8, 'the zip64 end record offset');
      const record = await this.read(recordOffset, 56, 'the zip64 end record');
      if (record.getUint32(0, true) !== ZIP64_EOCD) this.corrupt('the zip64 end record is missing');
      count = this.u64(record, 32, 'the entry count');
      length = this.u64(record, 40, 'the central directory size');
      offset = this.u64(record, 48, 'the central directory offset');
    }
    if (offset + length > eocdOffset) {
      this.corrupt(`the central directory (${length} bytes at ${offset}) overlaps its end record`);
    }
    return { offset, length, count };
  }

  async entries(limits: Required<ZipLimits>): Promise<ZipEntry[]> {
    const directory = await this.directory();
    if (directory.count > limits.maxEntries) this.refuse(`more than ${limits.maxEntries} entries`);
    if (directory.length < directory.count * 46) {
      this.corrupt(
        `${directory.count} entries cannot fit in a central directory of ${directory.length} bytes`,
      );
    }
    const view = await this.read(directory.offset, directory.length, 'the central directory');
    const bytes = new Uint8Array(view.buffer);
    const entries: ZipEntry[] = [];
    let at = 0;
    for (let n = 0; n < directory.count; n++) {
      if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_HEADER) {
        this.corrupt(`central directory entry ${n + 1} is missing or damaged`);
      }
      const madeBy = view.getUint16(at + 4, true) >> 8;
      const flags = view.getUint16(at + 8, true);
      const nameLength = view.getUint16(at + 28, true);
      const extraLength = view.getUint16(at + 30, true);
      const commentLength = view.getUint16(at + 32, true);
      const external = view.getUint32(at + 38, true);
      const end = at + 46 + nameLength + extraLength + commentLength;
      if (end > bytes.length) this.corrupt(`central directory entry ${n + 1} runs past the directory`);
      const nameBytes = bytes.subarray(at + 46, at + 46 + nameLength);
      const entry: ZipEntry = {
        name: (flags & 0x800 ? utf8 : latin1).decode(nameBytes),
        flags,
        method: view.getUint16(at + 10, true),
        crc32: view.getUint32(at + 16, true),
        compressedSize: view.getUint32(at + 20, true),
        size: view.getUint32(at + 24, true),
        localHeaderOffset: view.getUint32(at + 42, true),
        unixMode: madeBy === 3 || madeBy === 19 ? external >>> 16 : null,
      };
      this.zip64Sizes(view, at + 46 + nameLength, extraLength, entry);
      entries.push(entry);
      at = end;
    }
    return entries;
  }

  /** Replaces 0xffffffff sizes and offset by the zip64 extra field's values (APPNOTE 4.5.3). */
  private zip64Sizes(view: DataView, start: number, length: number, entry: ZipEntry): void {
    const wanted = (['size', 'compressedSize', 'localHeaderOffset'] as const).filter(
      (field) => entry[field] === 0xffffffff,
    );
    if (wanted.length === 0) return;
    for (let at = start; at + 4 <= start + length;) {
      const id = view.getUint16(at, true);
      const size = view.getUint16(at + 2, true);
      if (id === 0x0001) {
        if (size < wanted.length * 8 || at + 4 + size > start + length) break;
        wanted.forEach((field, n) => {
          entry[field] = this.u64(view, at + 4 + 8 * n, `the zip64 ${field} of "${entry.name}"`);
        });
        return;
      }
      at += 4 + size;
    }
    this.corrupt(`entry "${entry.name}" lacks its zip64 sizes`);
  }

  /** The entry's stored bytes, after checking its local header. */
  async data(entry: ZipEntry): Promise<Uint8Array> {
    const local = await this.read(entry.localHeaderOffset, 30, `the local header of "${entry.name}"`);
    if (local.getUint32(0, true) !== LOCAL_HEADER) this.corrupt(`entry "${entry.name}" has no local header`);
    const start = entry.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
    const view = await this.read(start, entry.compressedSize, `the data of "${entry.name}"`);
    return new Uint8Array(view.buffer);
  }
}

/** Refuses an entry that would not land as a plain file or folder inside `root`. */
function checkEntry(reader: ZipReader, entry: ZipEntry, root: string, limits: Required<ZipLimits>): string {
  const { name } = entry;
  const target = path.resolve(root, name);
  if ([...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    reader.refuse(`entry ${JSON.stringify(name)} has a control character in its name`);
  if (path.isAbsolute(name) || name.includes('\\') || !target.startsWith(`${root}${path.sep}`)) {
    reader.refuse(`entry "${name}" would be written outside the import folder`);
  }
  const type = entry.unixMode === null ? 0 : entry.unixMode & S_IFMT;
  if (type === S_IFLNK) reader.refuse(`entry "${name}" is a symbolic link; links are not extracted`);
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    reader.refuse(`entry "${name}" is not a regular file or folder (mode ${entry.unixMode!.toString(8)})`);
  }
  if (entry.flags & 0x1) reader.refuse(`entry "${name}" is encrypted`);
  if (entry.method !== 0 && entry.method !== 8) {
    reader.refuse(
      `entry "${name}" uses compression method ${entry.method}; only stored and deflate are read`,
    );
  }
  if (entry.size > limits.maxEntryBytes) {
    reader.refuse(
      `entry "${name}" unpacks to ${entry.size} bytes, more than the limit of ${limits.maxEntryBytes}`,
    );
  }
  if (entry.method === 0 && entry.compressedSize !== entry.size) {
    reader.corrupt(`entry "${name}" is stored with ${entry.compressedSize} bytes but declares ${entry.size}`);
  }
  return target;
}

/** Inflates an entry, never past its declared size, and checks its size and CRC-32. */
function inflateEntry(reader: ZipReader, entry: ZipEntry, stored: Uint8Array): Uint8Array {
  let data: Uint8Array;
  if (entry.method === 0) {
    data = stored;
  } else {
    try {
      data = inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.size) });
    } catch (error) {
      if (error instanceof RangeError || (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        reader.refuse(`entry "${entry.name}" inflates to more than the ${entry.size} bytes it declares`);
      }
      reader.corrupt(`entry "${entry.name}" does not inflate: ${errorMessage(error)}`);
    }
  }
  if (data.length !== entry.size) {
    reader.refuse(`entry "${entry.name}" declares ${entry.size} bytes but holds ${data.length}`);
  }
  if (crc32(data) >>> 0 !== entry.crc32) reader.corrupt(`entry "${entry.name}" fails its CRC-32 check`);
  return data;
}

/**
 * Extracts a zip archive into `destination`, reading one entry at a time. Refused with an error naming
 * the archive and the entry, before anything is written: entries whose path is absolute or leaves the
 * folder (`../`), symbolic links and other special files, encrypted entries, compression other than
 * stored and deflate, names used twice, and archives over the entry-count, per-entry or total size
 * limits (by the sizes the archive declares). While extracting, an entry that inflates past its declared
 * size, to another size, or fails its CRC is refused, and what was written is removed. Corrupt archives
 * are INVALID_INPUT "not a readable zip archive".
 */
export async function extractZip(
  zipPath: string,
  destination: string,
  limits: ZipLimits = defaultZipLimits,
): Promise<string[]> {
  const bounds: Required<ZipLimits> = { ...defaultZipLimits, ...limits };
  const root = path.resolve(destination);
  let size: number;
  try {
    size = (await stat(zipPath)).size;
  } catch (error) {
    throw new AppError('NOT_FOUND', `${zipPath}: cannot read the archive (${errorMessage(error)})`, {
      cause: error,
    });
  }
  const handle = await open(zipPath, 'r');
  const reader = new ZipReader(handle, size, zipPath);
  const written: string[] = [];
  const existed = await stat(root).then(
    () => true,
    () => false,
  );
  try {
    const entries = await reader.entries(bounds);
    const files: Array<{ entry: ZipEntry; target: string }> = [];
    const targets = new Set<string>();
    const folders = new Set<string>();
    let total = 0;
    for (const entry of entries) {
      const target = checkEntry(reader, entry, root, bounds);
      total += entry.size;
      if (total > bounds.maxTotalBytes) reader.refuse(`unpacks to more than ${bounds.maxTotalBytes} bytes`);
      if (targets.has(target) || folders.has(target)) reader.refuse(`entry "${entry.name}" appears twice`);
      if (entry.name.endsWith('/') || (entry.unixMode !== null && (entry.unixMode & S_IFMT) === S_IFDIR)) {
        folders.add(target);
        continue;
      }
      targets.add(target);
      for (let parent = path.dirname(target); parent !== root; parent = path.dirname(parent))
        folders.add(parent);
      files.push({ entry, target });
    }
    for (const target of targets) {
      if (folders.has(target)) reader.refuse(`"${path.relative(root, target)}" is both a file and a folder`);
    }
    for (const { entry, target } of files) {
      const data = inflateEntry(reader, entry, await reader.data(entry));
      try {
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, data, { flag: 'wx' });
      } catch (error) {
        reader.refuse(`cannot write entry "${entry.name}" (${errorMessage(error)})`);
      }
      written.push(target);
    }
    return written;
  } catch (error) {
    if (existed) await Promise.all(written.map((file) => rm(file, { force: true })));
    else await rm(root, { recursive: true, force: true });
    if (error instanceof AppError) throw error;
    throw new AppError('INVALID_INPUT', `${zipPath}: not a readable zip archive (${errorMessage(error)})`, {
      cause: error,
    });
  } finally {
    await handle.close();
  }
}
