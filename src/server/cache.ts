/**
 * Encoded answers of named queries, keyed by (generation, query, parameters, format), least
 * recently used first out, bounded in bytes. The generation is part of the key, so an answer
 * computed before a commit is never served after the commit was seen (store-watch.ts).
 */
export interface CachedAnswer {
  body: Uint8Array | string;
  contentType: string;
  truncated: boolean;
  rows: number;
  /** Headers that describe the answer (picture layouts, sample ids), sent with it from the cache too. */
  headers?: Record<string, string>;
}

function sizeOf(a: CachedAnswer): number {
  return typeof a.body === 'string' ? a.body.length * 2 : a.body.byteLength;
}

/**
 * Map bounded in bytes (as `sizeOf` counts them), least recently used first out; a value over a
 * quarter of the budget is not kept, so one large value cannot empty the cache. Shared by the
 * answer cache and the picture cache's memory layer (picture-cache.ts).
 */
export class ByteLru<V> {
  /** Each value with its size as counted when it was set, so the byte total stays exact. */
  private readonly map = new Map<string, { value: V; size: number }>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (v: V) => number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    // Re-insert: Map iteration order is insertion order, so the first key is the least recent.
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    if (size > this.maxBytes / 4) return;
    this.delete(key);
    this.map.set(key, { value, size });
    this.bytes += size;
    for (const [k] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  delete(key: string): void {
    const old = this.map.get(key);
    if (!old) return;
    this.map.delete(key);
    this.bytes -= old.size;
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.map.size;
  }
}

export class AnswerCache {
  private readonly lru: ByteLru<CachedAnswer>;
  private generation = '';

  constructor(maxBytes = 64 * 1024 * 1024) {
    this.lru = new ByteLru(maxBytes, sizeOf);
  }

  static key(name: string, params: Record<string, unknown>, format: string): string {
    const sorted = Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]);
    return JSON.stringify([name, sorted, format], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  }

  get(generation: string, key: string): CachedAnswer | undefined {
    if (generation !== this.generation) return undefined;
    return this.lru.get(key);
  }

  set(generation: string, key: string, answer: CachedAnswer): void {
    if (generation !== this.generation) {
      // Everything older is unreachable: drop it at once.
      this.lru.clear();
      this.generation = generation;
    }
    this.lru.set(key, answer);
  }

  get size(): number {
    return this.lru.size;
  }
}
