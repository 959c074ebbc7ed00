/**
 * The HTTP API (hono): read-only access to a store for dashboards.
 *
 *   GET  /healthz                                 liveness; no auth, touches neither DuckDB nor disk
 *   GET  /, /ui/app.js, /ui/app.css               the dashboard (ui/: bundled at the first request; no data, no auth)
 *   GET  /api/queries                             the named queries with their parameters and columns
 *   GET  /api/datasets                            per dataset of the run records: class names, source kind, models (datasets.ts)
 *   GET  /api/generation                          the store's generation {id, settled}: changes when the store does (cheap: no query)
 *   GET  /api/queries/:name?param=...&format=     run a named query (cached per store generation)
 *   POST /api/sql                                 one read-only query: JSON {sql} or text/plain
 *   GET  /api/samples/:dataset/:id.png            a sample's original pixels
 *   GET  /api/neurons/:layer/:channel/mosaic.png  a neuron's top-k mosaic (?step=&k=&dataset=&model=&tile=&columns=&crop=cell|box|rf)
 *   GET  /api/neurons/:layer/:channel/clips.png   a video unit's top-k clips as frame strips (?step=&k=&dataset=&model=&flow=&cell=; ids in X-Neurolens-Samples)
 *   GET  /api/samples/:dataset/:id.gif            a clip as a looping GIF at the video's fps / stride (clips.ts; also /:id/clip.gif)
 *   GET  /api/samples/:dataset/:id/strip.png      a clip's frames side by side as the model saw them (?flow=0|1&height=); /:id/clip.gif: looping GIF
 *   GET  /api/layers/:layer/tiles.png             units from..to as one sprite of top-1 receptive-field crops (?step=&dataset=&model=&tile=&from=&to=; layout in X-Neurolens-Tiles)
 *   GET  /api/pictures/actmax/:layer/:channel.png|.json            a unit's activation maximization, rendered by worker threads and cached (?step=&model=&dataset=&size=&steps=&seed=&cached=only; pictures.ts)
 *   GET  /api/pictures/attribution/:method/:dataset/:id.png|.json  an attribution map of a sample (?class=|neuron=&reduce=&step=&model=&size=&cached=only; pictures.ts)
 *
 * Tabular answers are JSON, CSV, NDJSON, Arrow IPC stream or Parquet (negotiate.ts). Headers:
 * `X-Neurolens-Rows`, `X-Neurolens-Truncated: true` when the row limit cut the answer,
 * `X-Neurolens-Cache: hit|miss` on named queries.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { NeurolensError } from '../errors.js';
import { neuronMosaic } from '../render/neuron-mosaic.js';
import { FORMAT_MIME, bindParams, formatResult, sqlForStore, type QueryDef } from '../queries/index.js';
import type { Store } from '../storage/index.js';
import { bearerAuth } from './auth.js';
import { AnswerCache, type CachedAnswer } from './cache.js';
import type { LimitedResult, QueryExecutor } from './executor.js';
import { HttpError, respondError } from './http-errors.js';
import { negotiateFormat, type HttpFormat } from './negotiate.js';
import { mountPictures, type PictureService } from './pictures.js';
import { cachedPicture, pictureAnswer } from './cached-picture.js';
import { mountClips } from './clips.js';
import { mountDatasets } from './datasets.js';
import { mosaicCrop, mosaicOptions } from './mosaic-params.js';
import { rfMosaic } from '../render/rf-mosaic.js';
import type { SampleImages } from './samples.js';
import type { StoreWatch } from './store-watch.js';
import { mountDashboard } from './ui/routes.js';
import { mountTiles } from './tiles.js';

export interface AppDeps {
  store: Store;
  executor: QueryExecutor;
  watch: StoreWatch;
  queries: QueryDef[];
  samples: SampleImages;
  cache: AnswerCache;
  /** Bearer token required on every route but /healthz. */
  token?: string;
  /** Largest accepted request body in bytes (default 256 KiB). */
  maxBodyBytes?: number;
  /** Activation maximization and attribution renders (worker threads + cache). */
  pictures: PictureService;
}

function encode(result: LimitedResult, format: HttpFormat): CachedAnswer {
  return { body: formatResult(result, format), contentType: FORMAT_MIME[format], truncated: result.truncated, rows: result.rowCount };
}

function send(c: Context, a: CachedAnswer, extra: Record<string, string> = {}): Response {
  c.header('Content-Type', a.contentType);
  c.header('X-Neurolens-Rows', String(a.rows));
  if (a.truncated) c.header('X-Neurolens-Truncated', 'true');
  for (const [k, v] of Object.entries(extra)) c.header(k, v);
  return c.body(typeof a.body === 'string' ? a.body : (a.body as Uint8Array<ArrayBuffer>));
}

/** The SQL of a POST /api/sql body: JSON `{"sql": "..."}` or the raw text. */
async function readSql(c: Context): Promise<{ sql: string; format?: string }> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  const text = await c.req.text();
  if (!type.startsWith('application/json')) return { sql: text };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new NeurolensError('BAD_QUERY', `request body is not valid JSON: ${(e as Error).message}`);
  }
  const o = body as { sql?: unknown; format?: unknown };
  if (typeof o?.sql !== 'string') throw new NeurolensError('BAD_QUERY', 'JSON body must be {"sql": "<query>"} with a string sql field');
  return { sql: o.sql, format: typeof o.format === 'string' ? o.format : undefined };
}

function describeQuery(d: QueryDef) {
  return { name: d.name, description: d.description, params: d.params, columns: d.columns, sql: d.sql };
}

export function createApp(deps: AppDeps): Hono {
  const { executor, watch, cache, samples } = deps;
  const byName = new Map(deps.queries.map((q) => [q.name, q]));
  const app = new Hono();
  app.onError(respondError);
  app.notFound((c) => respondError(new HttpError(404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), c));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  mountDashboard(app);
  if (deps.token !== undefined) app.use('/api/*', bearerAuth(deps.token));

  app.get('/api/queries', (c) => c.json({ queries: deps.queries.map(describeQuery) }));

  // Dashboards poll this to re-fetch when the store changes (a commit, a finalize, a new run).
  app.get('/api/generation', async (c) => {
    const gen = await watch.generation();
    c.header('Cache-Control', 'no-store');
    return c.json({ id: gen.id, settled: gen.settled });
  });

  app.get('/api/queries/:name', async (c) => {
    const name = c.req.param('name');
    const def = byName.get(name);
    if (!def) throw new NeurolensError('NOT_FOUND', `unknown query '${name}' (known: ${[...byName.keys()].join(', ')})`);
    const { format: formatParam, ...raw } = c.req.query();
    const format = negotiateFormat(formatParam, c.req.header('accept'));
    const params = bindParams(def, raw);
    const gen = await watch.generation();
    const key = AnswerCache.key(name, params, format);
    const hit = gen.settled ? cache.get(gen.id, key) : undefined;
    if (hit) return send(c, hit, { 'X-Neurolens-Cache': 'hit' });
    let result: LimitedResult;
    try {
      result = await executor.run(sqlForStore(def, deps.store), { untrusted: false, params, download: format !== 'json' });
    } catch (e) {
      if (e instanceof NeurolensError) throw new NeurolensError(e.code, `query ${name}: ${e.message}`, { cause: e.cause ?? e });
      throw e;
    }
    const answer = encode(result, format);
    if (gen.settled) cache.set(gen.id, key, answer);
    return send(c, answer, { 'X-Neurolens-Cache': 'miss' });
  });

  const maxSize = deps.maxBodyBytes ?? 256 * 1024;
  app.post(
    '/api/sql',
    bodyLimit({
      maxSize,
      onError: () => {
        throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body over the limit of ${maxSize} bytes (serve --max-body)`);
      },
    }),
    async (c) => {
      const { sql, format: bodyFormat } = await readSql(c);
      const format = negotiateFormat(c.req.query('format') ?? bodyFormat, c.req.header('accept'));
      // Views may change shape when a table gets its first files: keep them current.
      await watch.generation();
      return send(c, encode(await executor.run(sql, { untrusted: true, download: format !== 'json' }), format));
    },
  );

  app.get('/api/samples/:dataset/:file', async (c, next) => {
    const m = /^(\d{1,9})\.png$/.exec(c.req.param('file'));
    // <id>.gif is a clip's animation (clips.ts, mounted below).
    if (!m && /^\d{1,9}\.gif$/.test(c.req.param('file'))) return next();
    if (!m) throw new HttpError(404, 'NOT_FOUND', `expected /api/samples/<dataset>/<sample_id>.png, got ${c.req.path}`);
    const gen = await watch.generation();
    const png = await samples.png(c.req.param('dataset'), Number(m[1]), gen.id);
    c.header('Content-Type', 'image/png');
    return c.body(new Uint8Array(png.buffer, png.byteOffset, png.byteLength) as Uint8Array<ArrayBuffer>);
  });

  app.get('/api/neurons/:layer/:channel/mosaic.png', async (c) => {
    const opts = mosaicOptions(c.req.param('layer'), c.req.param('channel'), c.req.query());
    const crop = mosaicCrop(c.req.query('crop'));
    const key = AnswerCache.key('mosaic.png', { ...opts, crop } as unknown as Record<string, unknown>, 'png');
    return cachedPicture(c, deps, key, async () => {
      if (crop === 'cell') {
        const m = await neuronMosaic(deps.store, opts);
        return pictureAnswer(m.png, 'image/png', m.rows.length, { 'X-Neurolens-Crop': crop });
      }
      const m = await rfMosaic(deps.store, { ...opts, crop });
      return pictureAnswer(m.png, 'image/png', m.rows.length, { 'X-Neurolens-Crop': crop, 'X-Neurolens-Receptive-Field': `${m.field.size[0]}x${m.field.size[1]}` });
    });
  });

  // Route groups in their own modules (each mounts under /api, after the token check).
  // -- mount points: one line per module, keep this list sorted --
  mountClips(app, deps);
  mountDatasets(app, deps);
  mountPictures(app, deps);
  mountTiles(app, deps);

  return app;
}
