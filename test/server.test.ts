/**
 * The HTTP API over a real store (the known-answer pipeline fixture), real DuckDB, real HTTP on
 * an ephemeral loopback port. Every answer format is decoded with a real client library and
 * compared with the same question asked of the store directly.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { parse as parseCsv } from 'csv-parse/sync';
import * as pw from 'parquet-wasm';
import { decode as decodePng } from 'fast-png';
import { makePipelineFixture, fixtureImage, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store, writeFinalPart } from '../src/storage/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';
import { neuronMosaic } from '../src/render/neuron-mosaic.js';
import { rfMosaic } from '../src/render/rf-mosaic.js';

const N = 40;
const TOKEN = 'test-token-5f1c';
let fx: PipelineFixture;
let server: RunningServer;
let direct: Store;

const auth = { Authorization: `Bearer ${TOKEN}` };
const get = (p: string, headers: Record<string, string> = {}) => fetch(server.url + p, { headers: { ...auth, ...headers } });
const post = (p: string, body: string, headers: Record<string, string> = {}) =>
  fetch(server.url + p, { method: 'POST', body, headers: { ...auth, ...headers } });

interface TopRow {
  channel: number;
  rank: number;
  value: number;
  sample_id: number;
}

/** The expected top-4 of conv1 at step 0, read from the store without the server. */
async function expectedTop(): Promise<TopRow[]> {
  return direct.query<TopRow>("SELECT channel, rank, value, sample_id FROM topk WHERE layer = 'conv1' AND step = 0 AND rank < 4 ORDER BY channel, rank");
}

function pick(rows: Record<string, unknown>[]): TopRow[] {
  return rows.map((r) => ({ channel: Number(r.channel), rank: Number(r.rank), value: Number(r.value), sample_id: Number(r.sample_id) }));
}

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-server-'));
  fx = await makePipelineFixture(dir, N);
  const summary = await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' });
  expect(summary.status).toBe('succeeded');
  direct = await Store.open(fx.store, { readOnly: true });
  // intervalMs 0: every request re-checks the store generation, so the cache test is exact.
  server = await startServer({ store: fx.store, port: 0, token: TOKEN, watch: { intervalMs: 0, settleMs: 0 } });
}, 180_000);

afterAll(async () => {
  await server?.close();
  direct?.dispose();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
});

describe('server: routes and auth', () => {
  it('binds loopback on an ephemeral port; /healthz needs no token', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    const r = await fetch(`${server.url}/healthz`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('refuses /api routes without the right bearer token (401, JSON error)', async () => {
    const bad: Record<string, string>[] = [{}, { Authorization: 'Bearer wrong' }, { Authorization: `Basic ${TOKEN}` }, { Authorization: `Bearer ${TOKEN}x` }];
    for (const headers of bad) {
      const r = await fetch(`${server.url}/api/queries`, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await r.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    const sql = await fetch(`${server.url}/api/sql`, { method: 'POST', body: 'SELECT 1' });
    expect(sql.status).toBe(401);
    const img = await fetch(`${server.url}/api/samples/edges/1.png`);
    expect(img.status).toBe(401);
  });

  it('lists the named queries with their parameters', async () => {
    const r = await get('/api/queries');
    expect(r.status).toBe(200);
    const { queries } = (await r.json()) as { queries: { name: string; params: { name: string; type: string; required: boolean }[] }[] };
    const top = queries.find((q) => q.name === 'top_k_activators');
    expect(top?.params.find((p) => p.name === 'layer')).toMatchObject({ type: 'VARCHAR', required: true });
    expect(queries.map((q) => q.name)).toContain('dead_filters');
  });

  it('lists the datasets of the run records with class names, source kind and models', async () => {
    const r = await get('/api/datasets');
    expect(r.status).toBe(200);
    // The edge fixture's spec names no classes: null, and the dashboard shows numbers.
    expect(((await r.json()) as { datasets: unknown[] }).datasets).toEqual([{ name: 'edges', classes: null, kind: 'idx', models: ['edge-net'], run_id: expect.any(String) }]);
    expect((await fetch(`${server.url}/api/datasets`)).status).toBe(401);
  });

  it('maps errors to HTTP status with {error, code}', async () => {
    const cases: [string, number, string][] = [
      ['/api/queries/no_such_query', 404, 'NOT_FOUND'],
      ['/api/queries/top_k_activators', 400, 'BAD_QUERY'], // layer is required
      ['/api/queries/top_k_activators?layer=conv1&k=abc', 400, 'BAD_QUERY'],
      ['/api/queries/top_k_activators?layer=conv1&bogus=1', 400, 'BAD_QUERY'],
      ['/api/queries/top_k_activators?layer=conv1&format=xml', 400, 'BAD_QUERY'],
      ['/api/samples/no-such-dataset/1.png', 404, 'NOT_FOUND'],
      [`/api/samples/edges/${N + 5}.png`, 404, 'NOT_FOUND'],
      ['/api/samples/edges/abc.png', 404, 'NOT_FOUND'],
      ['/api/nothing', 404, 'NOT_FOUND'],
    ];
    for (const [p, status, code] of cases) {
      const r = await get(p);
      expect(r.status, p).toBe(status);
      const body = (await r.json()) as { error: string; code: string };
      expect(body.code, p).toBe(code);
      expect(body.error.length, p).toBeGreaterThan(5);
    }
    const r = await get('/api/queries/top_k_activators?layer=conv1', { Accept: 'image/gif' });
    expect(r.status).toBe(406);
  });

  it("draws a neuron's top-k mosaic like the renderer does, with bounded parameters", async () => {
    const r = await get('/api/neurons/conv1/1/mosaic.png?k=4&step=100&tile=32');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/png');
    const got = decodePng(new Uint8Array(await r.arrayBuffer()));
    const want = decodePng(new Uint8Array((await neuronMosaic(direct, { layer: 'conv1', channel: 1, k: 4, step: 100, tileSize: 32 })).png));
    expect([got.width, got.height, got.channels]).toEqual([want.width, want.height, want.channels]);
    expect(Buffer.from(got.data as Uint8Array).equals(Buffer.from(want.data as Uint8Array))).toBe(true);
    // crop=box / rf: the receptive-field mosaics of `neurolens render mosaic --crop box|rf`.
    for (const crop of ['box', 'rf'] as const) {
      const b = await get(`/api/neurons/conv1/1/mosaic.png?k=4&step=100&tile=32&crop=${crop}`);
      expect(b.status, crop).toBe(200);
      expect(b.headers.get('X-Neurolens-Receptive-Field')).toBe('3x3');
      const wantRf = decodePng(new Uint8Array((await rfMosaic(direct, { layer: 'conv1', channel: 1, k: 4, step: 100, tileSize: 32, crop })).png));
      expect(Buffer.from(decodePng(new Uint8Array(await b.arrayBuffer())).data as Uint8Array).equals(Buffer.from(wantRf.data as Uint8Array)), crop).toBe(true);
    }
    for (const [p, status] of [
      ['/api/neurons/conv1/1/mosaic.png?crop=square', 400],
      ['/api/neurons/conv1/1/mosaic.png?k=1000', 400],
      ['/api/neurons/conv1/x/mosaic.png', 400],
      ['/api/neurons/conv1/1/mosaic.png?colour=red', 400],
      ['/api/neurons/no_such_layer/0/mosaic.png', 404],
    ] as const) {
      const e = await get(p);
      expect(e.status, p).toBe(status);
      expect(((await e.json()) as { error: string }).error, p).toMatch(/mosaic|top-k|layer/);
    }
  });
});

describe('server: formats decode with real clients', () => {
  const q = '/api/queries/top_k_activators?layer=conv1&step=0&k=4';

  it('JSON (by Accept and by ?format=)', async () => {
    const want = await expectedTop();
    expect(want.length).toBe(3 * 4);
    for (const [p, h] of [[q, { Accept: 'application/json' }], [`${q}&format=json`, {}], [q, {}]] as const) {
      const r = await get(p, h);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(pick(JSON.parse(await r.text()))).toEqual(want);
    }
  });

  it('CSV (csv-parse)', async () => {
    const r = await get(q, { Accept: 'text/csv' });
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parseCsv(await r.text(), { columns: true }) as Record<string, string>[];
    const got = pick(rows);
    const want = await expectedTop();
    expect(got.map((x) => [x.channel, x.rank, x.sample_id])).toEqual(want.map((x) => [x.channel, x.rank, x.sample_id]));
    got.forEach((x, i) => expect(x.value).toBeCloseTo(want[i]!.value, 5));
  });

  it('Arrow IPC stream (apache-arrow tableFromIPC)', async () => {
    const r = await get(q, { Accept: 'application/vnd.apache.arrow.stream' });
    expect(r.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    const t = tableFromIPC(new Uint8Array(await r.arrayBuffer()));
    expect(t.numRows).toBe(12);
    expect(pick(t.toArray().map((row) => row.toJSON()))).toEqual(await expectedTop());
  });

  it('NDJSON and Parquet (parquet-wasm)', async () => {
    const nd = await (await get(`${q}&format=ndjson`)).text();
    expect(pick(nd.trim().split('\n').map((l) => JSON.parse(l)))).toEqual(await expectedTop());
    const pq = await get(q, { Accept: 'application/vnd.apache.parquet' });
    expect(pq.status).toBe(200);
    const t = tableFromIPC(pw.readParquet(new Uint8Array(await pq.arrayBuffer())).intoIPCStream());
    expect(pick(t.toArray().map((row) => row.toJSON()))).toEqual(await expectedTop());
  });

  it('POST /api/sql takes JSON {sql} or text/plain and answers like the store', async () => {
    const sql = 'SELECT layer, step, count(*) AS n, sum(sample_id) AS s FROM activations GROUP BY ALL ORDER BY ALL';
    const want = (await direct.query<{ layer: string; step: bigint; n: bigint; s: bigint }>(sql)).map((r) => [r.layer, Number(r.step), Number(r.n), Number(r.s)]);
    expect(want.length).toBe(6); // conv1, fc and gap (the codes layer) x steps 0, 100
    const a = await post('/api/sql', JSON.stringify({ sql }), { 'Content-Type': 'application/json' });
    expect(a.status).toBe(200);
    expect(((await a.json()) as Record<string, unknown>[]).map((r) => [r.layer, Number(r.step), Number(r.n), Number(r.s)])).toEqual(want);
    const b = await post('/api/sql', sql, { 'Content-Type': 'text/plain', Accept: 'application/vnd.apache.arrow.stream' });
    const t = tableFromIPC(new Uint8Array(await b.arrayBuffer()));
    expect(t.toArray().map((r) => [r.layer, Number(r.step), Number(r.n), Number(r.s)])).toEqual(want);
    const c = await post('/api/sql?format=csv', sql);
    expect((parseCsv(await c.text(), { columns: true }) as Record<string, string>[]).map((r) => [r.layer, Number(r.step), Number(r.n), Number(r.s)])).toEqual(want);
  });
});

describe('server: samples and cache', () => {
  it('serves a sample as PNG with its original pixels', async () => {
    for (const id of [0, 5, 22]) {
      const r = await get(`/api/samples/edges/${id}.png`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
      const png = decodePng(new Uint8Array(await r.arrayBuffer()));
      expect([png.width, png.height, png.channels, png.depth]).toEqual([8, 8, 1, 8]);
      expect(Array.from(png.data)).toEqual(Array.from(fixtureImage(id)));
    }
  });

  it('caches named answers per store generation and never serves one from before a commit', async () => {
    const q = '/api/queries/top_k_activators?layer=conv1&k=2&channel=0';
    const first = await get(q);
    expect(first.headers.get('x-neurolens-cache')).toBe('miss');
    const body1 = await first.json();
    const again = await get(q);
    expect(again.headers.get('x-neurolens-cache')).toBe('hit');
    expect(await again.json()).toEqual(body1);
    // A newer checkpoint's finalized topk appears: the latest step (the default) is now 200.
    await writeFinalPart(fx.store, 'topk', { dataset: 'edges', model: 'edge-net', step: 200, layer: 'conv1' }, {
      channel: Int32Array.from([0, 0]),
      rank: Int32Array.from([0, 1]),
      value: Float32Array.from([9, 8]),
      sample_id: Int32Array.from([7, 3]),
      argmax_t: Int32Array.from([0, 0]),
      argmax_y: Int32Array.from([1, 2]),
      argmax_x: Int32Array.from([3, 4]),
    });
    const after = await get(q);
    expect(after.headers.get('x-neurolens-cache')).toBe('miss');
    const rows = (await after.json()) as { step: number; sample_id: number; value: number }[];
    expect(rows.map((r) => [r.step, r.sample_id, r.value])).toEqual([
      [200, 7, 9],
      [200, 3, 8],
    ]);
  });
});
