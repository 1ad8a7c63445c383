import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDicom, tags } from '../../src/lib/server/io/dicom/parser';

/** Whether dicom3tools' dciodvfy is installed. */
export const hasDciodvfy = spawnSync('sh', ['-c', 'command -v dciodvfy']).status === 0;

/**
 * A DICOM file's bytes with its 32-bit Pixel Data re-encoded at 16 bits: Bits Allocated, Bits Stored and
 * High Bit rewritten in place, each value's top 16 bits kept, the Pixel Data (the last element) shortened.
 * dciodvfy (dicom3tools 1.00~20220618, as Debian ships it) stops with the assertion
 * `bitsallocated <= bytesinword*8u` on any Pixel Data of more than 16 bits before it reports anything, so
 * this is the form in which it can check every other attribute of an RT Dose.
 */
export function with16BitPixels(bytes: Uint8Array, source = 'file'): Uint8Array {
  const dataset = parseDicom(bytes, source).dataset;
  const copy = Uint8Array.from(bytes);
  const view = new DataView(copy.buffer);
  for (const [tag, value] of [
    [tags.bitsAllocated, 16],
    [tags.bitsStored, 16],
    [tags.highBit, 15],
  ]) {
    view.setUint16(dataset.elements.get(tag)!.offset, value, true);
  }
  const pixels = dataset.elements.get(tags.pixelData)!;
  if (pixels.offset + pixels.length !== bytes.length) throw new Error(`${source}: Pixel Data is not last`);
  const count = pixels.length / 4;
  const out = new Uint8Array(pixels.offset + count * 2);
  out.set(copy.subarray(0, pixels.offset));
  const outView = new DataView(out.buffer);
  outView.setUint32(pixels.offset - 4, count * 2, true);
  for (let n = 0; n < count; n++) {
    outView.setUint16(pixels.offset + n * 2, view.getUint32(pixels.offset + n * 4, true) >>> 16, true);
  }
  return out;
}

/**
 * dciodvfy's output lines for a file (empty lines dropped). A file with Bits Allocated 32 is checked in
 * the 16-bit form of with16BitPixels, written to a temporary folder (never beside the file: a folder that
 * is imported later must not gain objects).
 */
export async function dciodvfy(file: string): Promise<string[]> {
  const bytes = new Uint8Array(await readFile(file));
  const dataset = parseDicom(bytes, file).dataset;
  const bits = dataset.elements.get(tags.bitsAllocated);
  const wide = bits !== undefined && bytes[bits.offset] === 32 && bytes[bits.offset + 1] === 0;
  const folder = wide ? await mkdtemp(path.join(os.tmpdir(), 'contourbench-dciodvfy-')) : null;
  try {
    const target = folder ? path.join(folder, path.basename(file)) : file;
    if (folder) await writeFile(target, with16BitPixels(bytes, file));
    const run = spawnSync('dciodvfy', [target], { encoding: 'utf8' });
    return `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
  } finally {
    if (folder) await rm(folder, { recursive: true, force: true });
  }
}
