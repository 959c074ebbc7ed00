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

export class AnswerCache {
  private readonly map = new Map<string, CachedAnswer>();
  private bytes = 0;
  private generation = '';

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  static key(name: string, params: Record<string, unknown>, format: string): string {
    const sorted = Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]);
    return JSON.stringify([name, sorted, format], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  }

  get(generation: string, key: string): CachedAnswer | undefined {
    if (generation !== this.generation) return undefined;
    const hit = this.map.get(key);
    if (hit) {
      // Re-insert: Map iteration order is insertion order, so the first key is the least recent.
      this.map.delete(key);
      this.map.set(key, hit);
    }
    return hit;
  }

  set(generation: string, key: string, answer: CachedAnswer): void {
    if (generation !== this.generation) {
      // Everything older is unreachable: drop it at once.
      this.map.clear();
      this.bytes = 0;
      this.generation = generation;
    }
    const size = sizeOf(answer);
    if (size > this.maxBytes / 4) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= sizeOf(old);
      this.map.delete(key);
    }
    this.map.set(key, answer);
    this.bytes += size;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= sizeOf(v);
    }
  }

  get size(): number {
    return this.map.size;
  }
}
