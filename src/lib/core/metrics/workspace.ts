/**
 * Scratch buffers reused across metric computations. On the machines ContourBench runs on, touching fresh
 * memory costs far more than computing with it, so every volume-sized buffer is allocated once, grown
 * geometrically and handed out again. A workspace serves one computation at a time.
 */
export class Workspace {
  private readonly float64 = new Map<string, Float64Array>();
  private readonly uint8 = new Map<string, Uint8Array>();
  private readonly int32 = new Map<string, Int32Array>();
  private readonly uint16 = new Map<string, Uint16Array>();

  /** A Float64Array of at least `length` elements; contents are unspecified. */
  f64(name: string, length: number): Float64Array {
    return grow(this.float64, name, length, (n) => new Float64Array(n));
  }

  /** A Uint8Array of at least `length` elements; contents are unspecified. */
  u8(name: string, length: number): Uint8Array {
    return grow(this.uint8, name, length, (n) => new Uint8Array(n));
  }

  /** A Uint16Array of at least `length` elements; contents are unspecified. */
  u16(name: string, length: number): Uint16Array {
    return grow(this.uint16, name, length, (n) => new Uint16Array(n));
  }

  /** An Int32Array of at least `length` elements; contents are unspecified. */
  i32(name: string, length: number): Int32Array {
    return grow(this.int32, name, length, (n) => new Int32Array(n));
  }

  /**
   * The Int32Array `name` grown to twice `count` entries with its first `count` entries kept, for index
   * lists whose final length is unknown.
   */
  growI32(name: string, list: Int32Array, count: number): Int32Array {
    const grown = this.i32(name, count * 2);
    if (grown !== list) grown.set(list.subarray(0, count));
    return grown;
  }

  /** Bytes currently held, for benchmarks. */
  get bytes(): number {
    let total = 0;
    for (const map of [this.float64, this.uint8, this.uint16, this.int32])
      for (const array of map.values()) total += array.byteLength;
    return total;
  }
}

function grow<T extends { length: number }>(
  cache: Map<string, T>,
  name: string,
  length: number,
  create: (n: number) => T,
): T {
  const existing = cache.get(name);
  if (existing && existing.length >= length) return existing;
  const created = create(Math.max(length, Math.ceil((existing?.length ?? 0) * 1.5), 64));
  cache.set(name, created);
  return created;
}
