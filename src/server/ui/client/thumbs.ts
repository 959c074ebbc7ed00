/**
 * Sample thumbnails for hover tooltips: fetched with the bearer token (an <img src> cannot carry
 * it), kept as object URLs in a small LRU (revoked when evicted, so sweeping the pointer over
 * thousands of points does not pin thousands of blobs), and one request in flight: asking for
 * another sample aborts the previous request, so a slow answer never replaces a newer picture.
 */
import { call } from './api.js';

export class ThumbCache {
  private readonly urls = new Map<string, string>();
  private inflight: { key: string; ctrl: AbortController; done: Promise<string | null> } | undefined;

  constructor(private readonly capacity = 64) {}

  /** Object URL of the thumbnail at `path`, or null when a later `get` superseded this one. */
  get(path: string): Promise<string | null> {
    const hit = this.urls.get(path);
    if (hit) {
      // Map order is insertion order: re-inserting makes this the most recently used.
      this.urls.delete(path);
      this.urls.set(path, hit);
      this.cancel();
      return Promise.resolve(hit);
    }
    if (this.inflight?.key === path) return this.inflight.done;
    this.cancel();
    const ctrl = new AbortController();
    const done = this.fetch(path, ctrl);
    this.inflight = { key: path, ctrl, done };
    return done;
  }

  private async fetch(path: string, ctrl: AbortController): Promise<string | null> {
    try {
      const r = await call(path, { signal: ctrl.signal });
      const blob = await r.blob();
      if (ctrl.signal.aborted) return null;
      const url = URL.createObjectURL(blob);
      this.put(path, url);
      return url;
    } catch (e) {
      // An aborted request is a superseded one, not a failure; anything else is the caller's to show.
      if (ctrl.signal.aborted) return null;
      throw e;
    } finally {
      if (this.inflight?.ctrl === ctrl) this.inflight = undefined;
    }
  }

  private put(path: string, url: string): void {
    this.urls.set(path, url);
    while (this.urls.size > this.capacity) {
      const [oldest, old] = this.urls.entries().next().value as [string, string];
      this.urls.delete(oldest);
      URL.revokeObjectURL(old);
    }
  }

  /** Aborts the request in flight (the pointer left the point). */
  cancel(): void {
    this.inflight?.ctrl.abort();
    this.inflight = undefined;
  }

  get size(): number {
    return this.urls.size;
  }

  dispose(): void {
    this.cancel();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}
