/**
 * Pictures drawn from the store (mosaics, layer tiles, clip strips and GIFs): answered from the
 * AnswerCache of the current settled store generation, or drawn under a query slot (the drawing
 * reads the store and the dataset) and cached. Headers that describe a picture (sample ids, the
 * tile layout) are cached with it.
 */
import type { Context } from 'hono';
import type { AppDeps } from './app.js';
import type { CachedAnswer } from './cache.js';

export type PictureDeps = Pick<AppDeps, 'executor' | 'watch' | 'cache'>;

/** A picture answer over encoded bytes (no copy). */
export function pictureAnswer(body: Uint8Array, contentType: string, rows: number, headers: Record<string, string> = {}): CachedAnswer {
  return { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), contentType, truncated: false, rows, headers };
}

function send(c: Context, a: CachedAnswer, cache: 'hit' | 'miss'): Response {
  c.header('Content-Type', a.contentType);
  c.header('X-Neurolens-Rows', String(a.rows));
  c.header('X-Neurolens-Cache', cache);
  for (const [k, v] of Object.entries(a.headers ?? {})) c.header(k, v);
  return c.body(a.body as Uint8Array<ArrayBuffer>);
}

/** The cached picture under `key`, or `draw(generation)` under a query slot (cached when the store is settled). */
export async function cachedPicture(c: Context, deps: PictureDeps, key: string, draw: (generation: string) => Promise<CachedAnswer>): Promise<Response> {
  const gen = await deps.watch.generation();
  const hit = gen.settled ? deps.cache.get(gen.id, key) : undefined;
  if (hit) return send(c, hit, 'hit');
  const a = await deps.executor.withSlot(() => draw(gen.id));
  if (gen.settled) deps.cache.set(gen.id, key, a);
  return send(c, a, 'miss');
}
