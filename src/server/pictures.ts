/**
 * Pictures on demand: activation maximization and attribution maps rendered by worker threads
 * (picture-worker.ts, `serve --picture-threads`) and cached (picture-cache.ts).
 *
 *   GET /api/pictures/actmax/:layer/:channel.(png|json)                 ?step=&model=&dataset=&size=&steps=&seed=&cached=only
 *   GET /api/pictures/attribution/:method/:dataset/:sample.(png|json)   ?class=C | neuron=LAYER:CHANNEL [&reduce=mean|max] &step=&model=&size=&cached=only
 *
 * `size` (8..512, default 224) is the box the PNG fits in: attribution figures are drawn at that
 * size (as `render <method> --size`); an actmax image is enlarged by the largest integer
 * nearest-neighbour factor that fits (at least 1x; the run's recorded input size decides it).
 * `steps` (1..2048, default 256) and `seed` are the actmax settings; the others keep the CLI's
 * defaults. The .png and the .json of one picture are one cache entry (one render). The main thread only
 * resolves the request: the newest run record of the model (and dataset), the checkpoint it read
 * at `step` (default: the latest, as the CLI does) and a fingerprint of that checkpoint's files;
 * these, the normalized parameters, the run's preprocessing and PICTURE_CODE_VERSION make the
 * cache key, so a retrained or replaced checkpoint never serves an old picture.
 *
 * Headers: `X-Neurolens-Cache: memory|disk|miss` (a request that joins an identical render
 * already running answers `memory`: it started nothing), `X-Neurolens-Render-Ms` on a miss (the
 * worker's time, without the queue wait), `X-Neurolens-Target` on attributions (`class:C`, the
 * predicted class when neither class nor neuron was given, or `neuron:L:C:reduce`).
 * Renders running or waiting are bounded by threads + `--picture-queue`; past that a new render
 * is refused with 503 and `Retry-After` (cached pictures and joins are still answered).
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context, Hono } from 'hono';
import { NeurolensError } from '../errors.js';
import { newestModelRun } from '../explain/input.js';
import { runCheckpointDir } from '../model/run-checkpoint.js';
import { WorkerPool } from '../workers/pool.js';
import { DEFAULT_PICTURE_MEMORY_BYTES, PictureCache, type CacheSource, type PictureEntry } from './picture-cache.js';
import { actmaxRequest, attributionRequest, type ParsedPicture, type PictureRequest } from './picture-params.js';
import type { PictureJob, PictureResult } from './picture-protocol.js';

/** Bump when rendering changes what a picture looks like: every cached picture is then stale. */
const PICTURE_CODE_VERSION = 1;

export interface PictureServiceOptions {
  /** Worker threads rendering pictures (default 1). */
  threads?: number;
  /** Renders that may wait for a worker (default 16); more are refused with 503. */
  queue?: number;
  /** Disk cache directory; null = memory only. */
  cacheDir: string | null;
  /** Bytes of pictures kept in memory (default 64 MiB). */
  memoryBytes?: number;
}

export interface PictureAnswer {
  entry: PictureEntry;
  cache: CacheSource | 'miss';
  renderMs?: number;
}

/** Too many renders running or waiting: 503 with Retry-After. */
class QueueFullError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'QueueFullError';
  }
}

interface Resolved {
  key: string;
  job: PictureJob;
}

/** Names, sizes and mtimes of a checkpoint's files (model.json and weight shards). */
async function fingerprint(dir: string): Promise<[string, number, number][]> {
  const names = (await readdir(dir)).sort();
  const out: [string, number, number][] = [];
  for (const name of names) {
    const s = await stat(path.join(dir, name)).catch(() => null);
    if (s?.isFile()) out.push([name, s.size, s.mtimeMs]);
  }
  return out;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

interface RunSpec {
  dataset?: { name?: string; source?: { kind?: string } };
  model?: { name?: string; input?: { height?: number; width?: number } };
}

/** Integer nearest-neighbour upscale that fits the actmax image into a size x size box (>= 1). */
function upscaleFor(size: number, input: { height?: number; width?: number } | undefined): number {
  const side = Math.max(input?.height ?? 0, input?.width ?? 0);
  return side > 0 ? Math.max(1, Math.floor(size / side)) : 1;
}

export class PictureService {
  private pool: WorkerPool<PictureJob, PictureResult> | undefined;
  private readonly inflight = new Map<string, Promise<{ entry: PictureEntry; renderMs: number }>>();
  private readonly cache: PictureCache;
  private readonly threads: number;
  private readonly queue: number;
  private closed = false;
  /** Recent render time (ms), for Retry-After. */
  private meanMs = 2000;

  constructor(
    private readonly storeDir: string,
    o: PictureServiceOptions,
  ) {
    this.threads = Math.max(1, o.threads ?? 1);
    this.queue = Math.max(0, o.queue ?? 16);
    this.cache = new PictureCache(o.cacheDir, o.memoryBytes ?? DEFAULT_PICTURE_MEMORY_BYTES);
  }

  /** Started at the first render: a server that draws no picture pays for no worker. */
  private workers(): WorkerPool<PictureJob, PictureResult> {
    return (this.pool ??= WorkerPool.create<PictureJob, PictureResult>(new URL('./picture-worker.ts', import.meta.url), { threads: this.threads }));
  }

  /** Run, checkpoint and cache key of a request (main thread: a few small file reads). */
  async resolve(req: PictureRequest): Promise<Resolved> {
    const store = path.resolve(this.storeDir);
    const run = await newestModelRun(store, req.dataset, req.model);
    const spec = run.spec as RunSpec;
    const model = spec.model!.name!;
    if (req.kind === 'attribution' && spec.dataset?.source?.kind === 'video') {
      throw new NeurolensError('BAD_QUERY', `attribution: dataset '${req.dataset}' holds video clips; clip attribution is drawn by \`neurolens render clip-attribution\``);
    }
    const ckpt = await runCheckpointDir(store, run.runId, req.step);
    const normalized = { ...req, step: ckpt.step, model, ...(req.kind === 'actmax' ? { dataset: req.dataset ?? null } : {}) };
    const files = await fingerprint(ckpt.dir);
    const key = sha256(
      JSON.stringify({
        version: PICTURE_CODE_VERSION,
        request: normalized,
        dir: ckpt.dir,
        files,
        preprocess: spec.model?.input ?? null,
        runId: run.runId,
      }),
    );
    const base = { store, modelDir: ckpt.dir, model };
    if (req.kind === 'actmax') {
      const { layer, channel, steps, seed, dataset } = req;
      return { key, job: { kind: 'actmax', ...base, step: ckpt.step, dataset, layer, channel, steps, seed, upscale: upscaleFor(req.size, spec.model?.input) } };
    }
    const modelKey = sha256(JSON.stringify([ckpt.dir, files, run.runId]));
    const { method, dataset, sample, target, size } = req;
    return { key, job: { kind: 'attribution', ...base, modelKey, method, dataset, sample, target, size } };
  }

  /** The picture from the cache, a render in flight or a new render; null for a cached=only miss. */
  async picture(p: ParsedPicture): Promise<PictureAnswer | null> {
    this.checkOpen();
    const { key, job } = await this.resolve(p.request);
    const hit = await this.cache.get(key);
    if (hit) return { entry: hit.entry, cache: hit.from };
    if (p.cachedOnly) return null;
    const running = this.inflight.get(key);
    if (running) return { entry: (await running).entry, cache: 'memory' };
    // The disk read above yielded: an identical render may have finished meanwhile.
    const done = this.cache.memoryOnly(key);
    if (done) return { entry: done, cache: 'memory' };
    this.checkOpen();
    if (this.inflight.size >= this.threads + this.queue) {
      const waiting = this.inflight.size - this.threads;
      const seconds = Math.min(60, Math.max(1, Math.ceil(((waiting + 1) * this.meanMs) / this.threads / 1000)));
      throw new QueueFullError(`picture queue full: ${this.inflight.size} renders running or waiting (serve --picture-threads ${this.threads} --picture-queue ${this.queue}); retry in ${seconds} s`, seconds);
    }
    const render = this.render(key, job);
    this.inflight.set(key, render);
    const forget = () => {
      if (this.inflight.get(key) === render) this.inflight.delete(key);
    };
    render.then(forget, forget);
    const r = await render;
    return { entry: r.entry, cache: 'miss', renderMs: r.renderMs };
  }

  private async render(key: string, job: PictureJob): Promise<{ entry: PictureEntry; renderMs: number }> {
    let r: PictureResult;
    try {
      r = await this.workers().run(job);
    } catch (e) {
      // Closing terminates the workers: their tasks fail with thread errors that mean nothing
      // to the client; say what happened instead.
      if (this.closed) throw new NeurolensError('BACKEND', 'the server is shutting down: render cancelled', { cause: e });
      throw e;
    }
    this.meanMs = 0.8 * this.meanMs + 0.2 * r.renderMs;
    const entry: PictureEntry = { png: Buffer.from(r.png.buffer, r.png.byteOffset, r.png.byteLength), info: r.info, headers: r.headers };
    await this.cache.set(key, entry);
    return { entry, renderMs: r.renderMs };
  }

  private checkOpen(): void {
    if (this.closed) throw new NeurolensError('BACKEND', 'the server is shutting down: no new renders');
  }

  /** Terminates the workers; renders running or waiting fail with BACKEND (503). */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.dispose();
  }
}

function respond(c: Context, p: ParsedPicture, a: PictureAnswer | null): Response {
  if (!a) return c.body(null, 204);
  c.header('X-Neurolens-Cache', a.cache);
  if (a.renderMs !== undefined) c.header('X-Neurolens-Render-Ms', String(a.renderMs));
  for (const [k, v] of Object.entries(a.entry.headers)) c.header(k, v);
  if (p.format === 'json') return c.json(a.entry.info);
  c.header('Content-Type', 'image/png');
  return c.body(new Uint8Array(a.entry.png.buffer, a.entry.png.byteOffset, a.entry.png.byteLength) as Uint8Array<ArrayBuffer>);
}

async function answer(c: Context, service: PictureService, p: ParsedPicture): Promise<Response> {
  try {
    return respond(c, p, await service.picture(p));
  } catch (e) {
    if (!(e instanceof QueueFullError)) throw e;
    c.header('Retry-After', String(e.retryAfterSeconds));
    return c.json({ error: e.message, code: 'QUEUE_FULL' }, 503);
  }
}

/** Mounts the picture routes (after the token check, see app.ts). */
export function mountPictures(app: Hono, deps: { pictures: PictureService }): void {
  const service = deps.pictures;
  app.get('/api/pictures/actmax/:layer/:file', (c) => answer(c, service, actmaxRequest(c.req.param('layer'), c.req.param('file'), c.req.query())));
  app.get('/api/pictures/attribution/:method/:dataset/:file', (c) =>
    answer(c, service, attributionRequest(c.req.param('method'), c.req.param('dataset'), c.req.param('file'), c.req.query())),
  );
}
