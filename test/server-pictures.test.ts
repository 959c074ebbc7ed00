/**
 * Pictures through `neurolens serve` (src/server/pictures.ts): a real server over a store made by
 * a real pipeline run (edge net, 8x8 images), real worker threads, real HTTP. Every picture is
 * compared with what the library gives when called directly with the same settings (seeded:
 * deterministic on one backend); caching, sharing of identical renders, the bounded queue,
 * errors and liveness during a render are checked through the answers' status and headers,
 * never through durations.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { newRunId, writeRun } from '../src/storage/runs.js';
import { renderActmax } from '../src/explain/actmax-render.js';
import { explain, renderExplanation, type MethodName } from '../src/explain/explain.js';
import { loadSampleInput, openExplainModel } from '../src/explain/input.js';
import type { Target } from '../src/explain/target.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/server/index.js';

const N = 24;
const TOKEN = 'pic-token-4f1a';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let fx: PipelineFixture;
let cacheDir: string;
let server: RunningServer;
let direct: Store;
const extra: RunningServer[] = [];

async function start(o: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const s = await startServer({ store: fx.store, port: 0, token: TOKEN, pictureCacheDir: cacheDir, ...o });
  extra.push(s);
  return s;
}

async function get(s: RunningServer, p: string, headers: Record<string, string> = AUTH): Promise<Response> {
  return fetch(`${s.url}${p}`, { headers });
}

async function png(r: Response): Promise<Buffer> {
  expect(r.status, await r.clone().text().catch(() => '')).toBe(200);
  expect(r.headers.get('content-type')).toBe('image/png');
  return Buffer.from(await r.arrayBuffer());
}

async function errorOf(r: Response): Promise<{ status: number; error: string; code: string }> {
  const body = (await r.json()) as { error: string; code: string };
  return { status: r.status, ...body };
}

/** What `neurolens render <method> --store --sample` draws, called directly. */
async function directAttribution(method: MethodName, sample: number, target: Target, size: number, step?: number) {
  const m = await openExplainModel({ store: fx.store, dataset: 'edges', step });
  try {
    const input = await loadSampleInput(fx.store, m, sample, 'edges');
    const e = explain(m.model, input, target, { method } as never);
    const r = await renderExplanation(e, input, { size, title: `${String(e.summary.method)} ${String(e.summary.target)}` });
    return { e, r, m: { dir: m.dir, step: m.step, name: m.name } };
  } finally {
    m.dispose();
  }
}

beforeAll(async () => {
  await setupBackend('auto');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-pictures-'));
  fx = await makePipelineFixture(dir, N);
  const summary = await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' });
  expect(summary.status).toBe('succeeded');
  direct = await Store.open(fx.store, { readOnly: true });
  cacheDir = path.join(dir, 'picture-cache');
  server = await startServer({ store: fx.store, port: 0, token: TOKEN, pictureCacheDir: cacheDir });
}, 240_000);

afterAll(async () => {
  await server?.close();
  for (const s of extra) await s.close();
  direct?.dispose();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
});

describe('pictures: activation maximization', () => {
  it('PNG bytes and sidecar equal renderActmax with the same settings; the second answer comes from memory', async () => {
    const q = 'steps=24&seed=3&size=64';
    const first = await get(server, `/api/pictures/actmax/conv1/1.png?${q}`);
    expect(first.headers.get('x-neurolens-cache')).toBe('miss');
    expect(Number(first.headers.get('x-neurolens-render-ms'))).toBeGreaterThanOrEqual(0);
    const bytes = await png(first);

    // size 64 over the 8x8 input: nearest-neighbour upscale 8.
    const want = await renderActmax({ store: fx.store, layer: 'conv1', channel: 1, steps: 24, seed: 3, upscale: 8 });
    expect(bytes.equals(want.png)).toBe(true);

    const json = await get(server, `/api/pictures/actmax/conv1/1.json?${q}`);
    expect(json.status).toBe(200);
    // Same cache entry as the PNG: no second render.
    expect(json.headers.get('x-neurolens-cache')).toBe('memory');
    const sidecar = (await json.json()) as Record<string, unknown>;
    // Nothing legitimately differs: the server passes the same store, checkpoint (latest step)
    // and settings; model.dir is the directory the run recorded in both.
    expect(sidecar).toEqual(JSON.parse(JSON.stringify(want.sidecar)));
    expect(sidecar.image).toEqual({ height: 8, width: 8, channels: 1, upscale: 8 });

    const again = await get(server, `/api/pictures/actmax/conv1/1.png?${q}`);
    expect(again.headers.get('x-neurolens-cache')).toBe('memory');
    expect(again.headers.get('x-neurolens-render-ms')).toBeNull();
    expect((await png(again)).equals(bytes)).toBe(true);
  });

  it('an explicit step renders that checkpoint (step 0 differs from the latest, 100)', async () => {
    const r = await get(server, '/api/pictures/actmax/conv1/0.json?steps=8&size=8&step=0');
    expect(r.status).toBe(200);
    const s = (await r.json()) as { model: { step: number; dir: string } };
    expect(s.model.step).toBe(0);
    expect(path.basename(s.model.dir)).toBe('ckpt-000000');
  });
});

describe('pictures: attribution', () => {
  it('gradcam and occlusion for class C and for neuron conv1:1 equal explain + renderExplanation', async () => {
    const cases: { method: MethodName; q: string; target: Target; header: string }[] = [
      { method: 'gradcam', q: 'class=1', target: { kind: 'class', index: 1 }, header: 'class:1' },
      { method: 'occlusion', q: 'class=0', target: { kind: 'class', index: 0 }, header: 'class:0' },
      { method: 'gradcam', q: 'neuron=conv1:1', target: { kind: 'neuron', layer: 'conv1', channel: 1, reduce: 'mean' }, header: 'neuron:conv1:1:mean' },
      { method: 'occlusion', q: 'neuron=conv1:1&reduce=max', target: { kind: 'neuron', layer: 'conv1', channel: 1, reduce: 'max' }, header: 'neuron:conv1:1:max' },
    ];
    for (const c of cases) {
      const sample = 5;
      const r = await get(server, `/api/pictures/attribution/${c.method}/edges/${sample}.png?${c.q}&size=48`);
      expect(r.headers.get('x-neurolens-target')).toBe(c.header);
      const bytes = await png(r);
      const d = await directAttribution(c.method, sample, c.target, 48);
      expect(bytes.equals(d.r.png), `${c.method} ${c.q}`).toBe(true);
      const j = (await (await get(server, `/api/pictures/attribution/${c.method}/edges/${sample}.json?${c.q}&size=48`)).json()) as Record<string, unknown>;
      expect(j.method).toBe(d.e.summary.method);
      expect(j.target).toBe(d.e.summary.target);
      expect(j.score).toBeCloseTo(Number(d.e.summary.score), 6);
      expect(j.range).toEqual(JSON.parse(JSON.stringify(d.r.range)));
      expect(j.image).toEqual({ width: d.r.width, height: d.r.height, overlay: d.r.overlay });
      expect(j.model).toEqual(d.m);
      expect(j.input).toMatchObject({ sampleId: sample });
      expect(j.target_class).toBeUndefined();
    }
  });

  it('without class or neuron: the class the model predicts at that step, as the predictions table says', async () => {
    for (const [sample, step] of [[2, 100], [3, 0], [4, undefined]] as const) {
      const stepQ = step === undefined ? '' : `&step=${step}`;
      const r = await get(server, `/api/pictures/attribution/gradcam/edges/${sample}.json?size=32${stepQ}`);
      expect(r.status).toBe(200);
      const j = (await r.json()) as { target_class: number; model: { step: number } };
      const rows = await direct.query<{ pred: number }>(
        `SELECT pred FROM predictions WHERE dataset = 'edges' AND model = 'edge-net' AND sample_id = ${sample} AND step = ${step ?? 100}`,
      );
      expect(rows.length).toBe(1);
      expect(j.target_class).toBe(Number(rows[0]!.pred));
      expect(j.model.step).toBe(step ?? 100);
      expect(r.headers.get('x-neurolens-target')).toBe(`class:${rows[0]!.pred}`);
      // The picture is the one for that class given explicitly.
      const pic = await png(await get(server, `/api/pictures/attribution/gradcam/edges/${sample}.png?size=32${stepQ}`));
      const d = await directAttribution('gradcam', sample, { kind: 'class', index: Number(rows[0]!.pred) }, 32, step);
      expect(pic.equals(d.r.png)).toBe(true);
    }
  });
});

describe('pictures: cache', () => {
  it('cached=only: 204 before, 200 after; a second server on the same directory answers from disk with the same bytes', async () => {
    const p = '/api/pictures/actmax/conv1/0.png?steps=12&seed=9&size=16';
    const before = await get(server, `${p}&cached=only`);
    expect(before.status).toBe(204);
    expect(await before.text()).toBe('');
    const made = await get(server, p);
    expect(made.headers.get('x-neurolens-cache')).toBe('miss');
    const bytes = await png(made);
    const after = await get(server, `${p}&cached=only`);
    expect(after.headers.get('x-neurolens-cache')).toBe('memory');
    expect((await png(after)).equals(bytes)).toBe(true);

    const second = await start();
    const fromDisk = await get(second, p);
    expect(fromDisk.headers.get('x-neurolens-cache')).toBe('disk');
    expect((await png(fromDisk)).equals(bytes)).toBe(true);
    // The JSON shares the entry.
    const j = await get(second, p.replace('.png', '.json'));
    expect(j.headers.get('x-neurolens-cache')).toBe('memory');
    // Nothing was written into the store.
    const inStore = await fs.readdir(fx.store, { recursive: true });
    expect(inStore.some((f) => String(f).endsWith('.png'))).toBe(false);
  });

  it('a corrupt cache file is rendered again (and rewritten)', async () => {
    const p = '/api/pictures/attribution/saliency/edges/7.png?class=1&size=24';
    const listPngs = async () => (await fs.readdir(cacheDir, { recursive: true })).map(String).filter((f) => f.endsWith('.png'));
    const known = new Set(await listPngs());
    const bytes = await png(await get(server, p));
    const added = (await listPngs()).filter((f) => !known.has(f));
    expect(added.length).toBe(1);
    const file = path.join(cacheDir, added[0]!);
    expect((await fs.readFile(file)).equals(bytes)).toBe(true);
    // Flip bytes in the middle of the PNG (same length: only the recorded hash can tell).
    const bad = Buffer.from(bytes);
    for (let i = 20; i < 28; i++) bad[i] = bad[i]! ^ 0xff;
    await fs.writeFile(file, bad);

    const fresh = await start();
    const again = await get(fresh, p);
    expect(again.headers.get('x-neurolens-cache')).toBe('miss');
    expect((await png(again)).equals(bytes)).toBe(true);
    expect((await fs.readFile(file)).equals(bytes)).toBe(true);
  });

  it('a checkpoint whose files change (mtime) is a new cache key: rendered again', async () => {
    const p = '/api/pictures/attribution/gradcam/edges/6.png?class=0&size=16&step=0';
    expect((await get(server, p)).headers.get('x-neurolens-cache')).toBe('miss');
    expect((await get(server, p)).headers.get('x-neurolens-cache')).toBe('memory');
    const modelJson = path.join(fx.dir, 'ckpts', 'ckpt-000000', 'model.json');
    const later = new Date(Date.parse('2030-01-01T00:00:00Z'));
    await fs.utimes(modelJson, later, later);
    expect((await get(server, p)).headers.get('x-neurolens-cache')).toBe('miss');
  });

  it('an unwritable cache directory: memory only, pictures still served', async () => {
    const file = path.join(fx.dir, 'not-a-dir');
    await fs.writeFile(file, 'x');
    const s = await start({ pictureCacheDir: path.join(file, 'pictures') });
    const p = '/api/pictures/actmax/conv1/2.png?steps=4&size=8';
    expect((await get(s, p)).headers.get('x-neurolens-cache')).toBe('miss');
    expect((await get(s, p)).headers.get('x-neurolens-cache')).toBe('memory');
  });

  it('a cache directory inside the store is refused', async () => {
    await expect(startServer({ store: fx.store, port: 0, pictureCacheDir: path.join(fx.store, 'pictures') })).rejects.toThrow(/inside the store/);
  });
});

describe('pictures: concurrency', () => {
  it('identical concurrent requests share one render: exactly one miss', async () => {
    const p = '/api/pictures/actmax/conv1/1.png?steps=200&seed=21&size=16';
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(server, p)));
    const kinds = answers.map((r) => r.headers.get('x-neurolens-cache'));
    expect(kinds.filter((k) => k === 'miss').length).toBe(1);
    expect(kinds.every((k) => k === 'miss' || k === 'memory')).toBe(true);
    const bodies = await Promise.all(answers.map(png));
    for (const b of bodies) expect(b.equals(bodies[0]!)).toBe(true);
  });

  it('queue full: 503 with Retry-After (1 thread, queue 1, several distinct renders at once)', async () => {
    const s = await start({ pictureThreads: 1, pictureQueue: 1, pictureCacheDir: null });
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => get(s, `/api/pictures/actmax/conv1/1.png?steps=64&seed=${100 + i}&size=8`)));
    const statuses = answers.map((r) => r.status);
    const refused = answers.filter((r) => r.status === 503);
    expect(refused.length, statuses.join(',')).toBeGreaterThanOrEqual(1);
    // One running plus one waiting are accepted.
    expect(statuses.filter((x) => x === 200).length, statuses.join(',')).toBeGreaterThanOrEqual(2);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const e = await errorOf(r);
      expect(e.code).toBe('QUEUE_FULL');
      expect(e.error).toMatch(/--picture-queue 1/);
    }
  });

  it('/healthz and queries answer while a long render runs', async () => {
    const order: string[] = [];
    const render = get(server, '/api/pictures/actmax/conv1/1.png?steps=2048&seed=77&size=8').then(async (r) => {
      order.push(`render ${r.status}`);
      return r;
    });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    order.push('healthz');
    const q = await get(server, '/api/queries');
    expect(q.status).toBe(200);
    order.push('queries');
    const r = await render;
    expect(r.headers.get('x-neurolens-cache')).toBe('miss');
    expect(order).toEqual(['healthz', 'queries', 'render 200']);
  });

  it('close terminates the workers: a running render is answered 503, not left hanging', async () => {
    const s = await start({ pictureThreads: 1, pictureQueue: 0, pictureCacheDir: null });
    const long = (seed: number) => get(s, `/api/pictures/actmax/conv1/0.png?steps=2048&seed=${seed}&size=8`);
    let longSeed = 5;
    let pending = long(longSeed);
    // With one thread and no queue, a distinct render is refused exactly while the long one is
    // in flight: that is the signal that it runs (no sleeping). The two requests race to the
    // server: when a probe got the thread first, the long one was refused (503) and is asked again.
    for (let seed = 1000; ; seed++) {
      const settled = await Promise.race([pending, Promise.resolve(null)]);
      if (settled) {
        expect(settled.status).toBe(503);
        pending = long(++longSeed);
        continue;
      }
      const probe = await get(s, `/api/pictures/actmax/conv1/1.png?steps=1&seed=${seed}&size=8`);
      if (probe.status === 503) break;
      expect(probe.status).toBe(200);
    }
    await s.close();
    const r = await pending;
    expect(r.status).toBe(503);
    const e = await errorOf(r);
    expect(e.code).toBe('BACKEND');
    expect(e.error).toMatch(/render cancelled/);
  });
});

describe('pictures: errors', () => {
  it('bad parameters: 400 naming them', async () => {
    const cases: [string, RegExp][] = [
      ['/api/pictures/actmax/conv1/1.png?colour=red', /unknown parameter colour/],
      ['/api/pictures/actmax/conv1/1.png?steps=99999', /steps must be an integer in 1\.\.2048/],
      ['/api/pictures/actmax/conv1/1.png?size=4096', /size must be an integer in 8\.\.512/],
      ['/api/pictures/actmax/conv1/1.png?seed=abc', /seed must be an integer/],
      ['/api/pictures/actmax/conv1/1.png?cached=yes', /cached must be 'only'/],
      ['/api/pictures/actmax/conv1/x.png', /<channel>\.png/],
      ['/api/pictures/attribution/gradcam/edges/1.png?class=1&neuron=conv1:1', /class or neuron, not both/],
      ['/api/pictures/attribution/lime/edges/1.png', /unknown method 'lime'/],
      ['/api/pictures/attribution/gradcam/edges/1.png?class=-1', /class must be an integer/],
      ['/api/pictures/attribution/gradcam/edges/1.png?neuron=conv1', /neuron must be LAYER:CHANNEL/],
      ['/api/pictures/attribution/gradcam/edges/1.png?class=1&reduce=max', /reduce applies to a neuron target/],
    ];
    for (const [p, re] of cases) {
      const e = await errorOf(await get(server, p));
      expect(e.status, p).toBe(400);
      expect(e.code, p).toBe('BAD_QUERY');
      expect(e.error, p).toMatch(re);
    }
  });

  it('unknown layer, channel out of range, unknown sample, step, dataset, model: 404', async () => {
    const cases: [string, RegExp][] = [
      ['/api/pictures/actmax/nope/1.png?steps=2&size=8', /layer 'nope' is not in the model/],
      ['/api/pictures/actmax/conv1/7.png?steps=2&size=8', /channel 7 is out of range/],
      ['/api/pictures/attribution/gradcam/edges/9999.png?class=0', /sample 9999/],
      ['/api/pictures/attribution/gradcam/edges/1.png?class=0&neuron', /./],
      ['/api/pictures/actmax/conv1/1.png?step=55', /step 55/],
      ['/api/pictures/attribution/gradcam/nope/1.png?class=0', /dataset 'nope'/],
      ['/api/pictures/actmax/conv1/1.png?model=other', /model 'other'/],
      ['/api/pictures/attribution/gradcam/edges/1.png?neuron=nope:0', /layer 'nope' is not in the model/],
    ];
    for (const [p, re] of cases) {
      const r = await get(server, p);
      if (p.endsWith('&neuron')) {
        // An empty neuron= is a bad parameter, not a missing thing.
        expect(r.status).toBe(400);
        continue;
      }
      const e = await errorOf(r);
      expect(e.status, `${p}: ${e.error}`).toBe(404);
      expect(e.code, p).toBe('NOT_FOUND');
      expect(e.error, p).toMatch(re);
    }
  });

  it('a video dataset: 400 pointing to render clip-attribution', async () => {
    const storeDir = path.join(fx.dir, 'video-store');
    await writeRun(storeDir, {
      run_id: newRunId(),
      status: 'succeeded',
      started_at: new Date().toISOString(),
      versions: {},
      spec: { file: path.join(fx.dir, 'v.yaml'), dataset: { name: 'clips', source: { kind: 'video', root: 'videos' } }, model: { name: 'c3d', checkpoints: 'c/*', input: { height: 8, width: 8 } } },
    });
    const s = await start({ store: storeDir });
    const e = await errorOf(await get(s, '/api/pictures/attribution/gradcam/clips/0.png?class=0'));
    expect(e.status).toBe(400);
    expect(e.error).toMatch(/neurolens render clip-attribution/);
  });

  it('missing token: 401', async () => {
    const r = await get(server, '/api/pictures/actmax/conv1/1.png', {});
    expect(r.status).toBe(401);
    expect((await get(server, '/api/pictures/attribution/gradcam/edges/1.json?class=0', { Authorization: 'Bearer wrong' })).status).toBe(401);
  });
});
