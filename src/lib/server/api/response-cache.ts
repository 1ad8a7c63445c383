/**
 * Answers of the analytics API kept under the data version they were computed at (analytics_version,
 * raised by every transaction that changes what they read): the same question at the same version gets
 * the same bytes without recomputing, and any change to the data makes every older answer unreachable.
 * Least recently used answers are dropped beyond `maxEntries` or `maxBytes`.
 */
export class ResponseCache {
  private readonly entries = new Map<
    string,
    { body: Uint8Array<ArrayBuffer>; headers: [string, string][] }
  >();
  private bytes = 0;

  constructor(
    private readonly maxEntries = 256,
    private readonly maxBytes = 128 * 1024 * 1024,
  ) {}

  get(key: string): { body: Uint8Array<ArrayBuffer>; headers: [string, string][] } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // refresh its place in the recency order
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, body: Uint8Array<ArrayBuffer>, headers: [string, string][]): void {
    if (body.byteLength > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= old.body.byteLength;
      this.entries.delete(key);
    }
    this.entries.set(key, { body, headers });
    this.bytes += body.byteLength;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.body.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The cache key of a request: version, path and the query parameters in a fixed order. */
export function cacheKey(version: number, url: URL): string {
  const params = [...url.searchParams.entries()].sort(([a, x], [b, y]) =>
    a === b ? x.localeCompare(y) : a.localeCompare(b),
  );
  return `${version} ${url.pathname}?${new URLSearchParams(params).toString()}`;
}
