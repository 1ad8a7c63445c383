/**
 * A run-length code for binary masks (bytes that are all 0 or 1): "CBM1", the byte length as a 64-bit
 * little-endian integer, then the lengths of alternating runs of 0s and 1s (starting with 0s, possibly of
 * length 0) as LEB128 varints. A 35-million-voxel organ mask becomes a few kilobytes, so storing and
 * reading it costs a scan and a fill instead of inflating 35 MB.
 */
const MAGIC = [0x43, 0x42, 0x4d, 0x31];
const HEADER = 12;

/** The run-length code of `bytes`, or null when some byte is neither 0 nor 1 (not a binary mask). */
export function encodeBinaryRuns(bytes: Uint8Array): Uint8Array | null {
  const n = bytes.length;
  // validity four bytes at a time where aligned: any bit other than the lowest of each byte set
  const aligned = bytes.byteOffset % 4 === 0 ? Math.floor(n / 4) : 0;
  if (aligned > 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, aligned);
    for (let w = 0; w < aligned; w += 1) if ((words[w]! & 0xfefefefe) !== 0) return null;
  }
  for (let i = aligned * 4; i < n; i += 1) if (bytes[i]! > 1) return null;

  let out = new Uint8Array(Math.max(64, HEADER + 1024));
  out.set(MAGIC, 0);
  new DataView(out.buffer).setBigUint64(4, BigInt(n), true);
  let o = HEADER;
  const push = (run: number) => {
    if (o + 10 > out.length) {
      const grown = new Uint8Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    let value = run;
    while (value >= 0x80) {
      out[o++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    out[o++] = value;
  };
  let position = 0;
  let value = 0;
  while (position < n) {
    // native scans (memchr) for the end of the current run
    let end = bytes.indexOf(value === 0 ? 1 : 0, position);
    if (end < 0) end = n;
    push(end - position);
    position = end;
    value = 1 - value;
  }
  return out.slice(0, o);
}

/** True when `code` starts like a run-length code of encodeBinaryRuns. */
export function isBinaryRuns(code: Uint8Array): boolean {
  return code.length >= HEADER && MAGIC.every((b, i) => code[i] === b);
}

/** The bytes a run-length code stands for; RangeError when the code is malformed. */
export function decodeBinaryRuns(code: Uint8Array): Uint8Array {
  if (!isBinaryRuns(code)) throw new RangeError('not a binary run-length code (no CBM1 header)');
  const length = new DataView(code.buffer, code.byteOffset, code.byteLength).getBigUint64(4, true);
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('binary run-length code too long');
  const n = Number(length);
  const out = new Uint8Array(n);
  let position = 0;
  let value = 0;
  let i = HEADER;
  while (i < code.length) {
    let run = 0;
    let scale = 1;
    for (;;) {
      if (i >= code.length) throw new RangeError('binary run-length code ends inside a run length');
      const byte = code[i++]!;
      run += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError('binary run-length code has an oversized run length');
    }
    if (position + run > n) throw new RangeError(`binary run-length code runs past its length ${n}`);
    if (value === 1) out.fill(1, position, position + run);
    position += run;
    value = 1 - value;
  }
  if (position !== n) throw new RangeError(`binary run-length code covers ${position} of ${n} bytes`);
  return out;
}
