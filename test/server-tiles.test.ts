/**
 * GET /api/layers/:layer/tiles.png over a real server and a real pipeline store (the edge-net
 * fixture: conv1 3x3 valid with a dead filter f2, fc after global pooling). Each tile is compared
 * pixel by pixel with the receptive-field crop of the top-1 sample that `top_k_activators` gives,
 * computed here with the library's crop and resize functions; dead units must be flat grey; the
 * layout header must agree with SQL; bad parameters name themselves.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode as decodePng } from 'fast-png';
import { ranPipelineFixture, fixtureImage, type PipelineFixture } from './fixtures/pipeline.js';
import { H, W } from './fixtures/models.js';
import { loadModelDir } from '../src/model/io.js';
import { receptiveField, rfBox, type ReceptiveField } from '../src/model/receptive-field.js';
import { Store } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { fitImage, type Image8 } from '../src/render/canvas.js';
import { cropWithPadding } from '../src/render/rf-mosaic.js';
import { EMPTY_TILE, type TilesLayout } from '../src/server/tiles.js';
import { startServer, type RunningServer } from '../src/server/index.js';

const N = 24;
const TOKEN = 'tiles-token-93ab';
let fx: PipelineFixture;
let server: RunningServer;
let direct: Store;

const get = (p: string) => fetch(server.url + p, { headers: { Authorization: `Bearer ${TOKEN}` } });

beforeAll(async () => {
  // ranPipelineFixture sets up the wasm backend and throws unless the run succeeded.
  fx = await ranPipelineFixture('tiles', N);
  direct = await Store.open(fx.store, { readOnly: true });
  // intervalMs 0 / settleMs 0: the generation is settled at once, so the cache test is exact.
  server = await startServer({ store: fx.store, port: 0, token: TOKEN, watch: { intervalMs: 0, settleMs: 0 } });
}, 180_000);

afterAll(async () => {
  await server?.close();
  direct?.dispose();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
});

interface Sheet {
  layout: TilesLayout;
  width: number;
  height: number;
  /** RGB of sprite pixel (x, y). */
  px(x: number, y: number): number[];
}

async function sheet(p: string): Promise<Sheet & { cache: string | null }> {
  const r = await get(p);
  if (r.status !== 200) throw new Error(`${p}: ${r.status} ${await r.text()}`);
  expect(r.headers.get('content-type')).toBe('image/png');
  const layout = JSON.parse(r.headers.get('x-neurolens-tiles')!) as TilesLayout;
  const png = decodePng(new Uint8Array(await r.arrayBuffer()));
  const ch = png.channels;
  return {
    layout,
    width: png.width,
    height: png.height,
    cache: r.headers.get('x-neurolens-cache'),
    px: (x, y) => Array.from(png.data.subarray((y * png.width + x) * ch, (y * png.width + x) * ch + 3)),
  };
}

/** The top-1 row per channel of a layer, as the named query gives it. */
async function topOne(layer: string, step: number): Promise<Map<number, Record<string, unknown>>> {
  const rows = resultRows(await runQuery(direct, await getQuery('top_k_activators'), { layer, step, k: 1 }));
  return new Map(rows.map((r) => [Number(r.channel), r]));
}

async function field(layer: string, step: number): Promise<ReceptiveField> {
  const loaded = await loadModelDir(path.join(fx.dir, 'ckpts', `ckpt-${String(step).padStart(6, '0')}`));
  try {
    return receptiveField(loaded.model, layer, { inputShape: [H, W, 1] });
  } finally {
    loaded.model.dispose();
  }
}

/** The expected tile: crop of the fixture image (the model sees it unresized: 8x8), fitted into tile x tile. */
async function expectedTile(f: ReceptiveField, row: Record<string, unknown>, tile: number): Promise<Image8> {
  const img: Image8 = { width: W, height: H, channels: 1, data: fixtureImage(Number(row.sample_id)) };
  const box = f.global ? rfBox(f, 0, 0, { height: H, width: W }) : rfBox(f, Number(row.argmax_y), Number(row.argmax_x), { height: H, width: W });
  const cell = Math.max(1, Math.round(Math.max(...f.size) / 16));
  return fitImage(cropWithPadding(img, box, cell), tile);
}

/** Compares the tile of unit index i of the sheet with an image centred in it (or a flat grey tile). */
function checkTile(s: Sheet, i: number, want: Image8 | null, what: string): void {
  const { tile, columns } = s.layout;
  const x0 = (i % columns) * tile;
  const y0 = Math.floor(i / columns) * tile;
  const ox = want ? Math.floor((tile - want.width) / 2) : 0;
  const oy = want ? Math.floor((tile - want.height) / 2) : 0;
  let diff = 0;
  for (let y = 0; y < tile; y++) {
    for (let x = 0; x < tile; x++) {
      const inImage = want && x >= ox && x < ox + want.width && y >= oy && y < oy + want.height;
      const v = inImage ? want.data[((y - oy) * want.width + (x - ox)) * want.channels]! : null;
      const exp = v === null ? [...EMPTY_TILE] : [v, v, v];
      const got = s.px(x0 + x, y0 + y);
      if (got.some((g, k) => g !== exp[k])) diff++;
    }
  }
  expect(diff, `${what}: pixels differing from the expected tile`).toBe(0);
}

describe('GET /api/layers/:layer/tiles.png', () => {
  it('conv1: each tile is the receptive-field crop of the SQL top-1 sample; the dead unit is flat grey', async () => {
    const s = await sheet('/api/layers/conv1/tiles.png?step=100');
    const top = await topOne('conv1', 100);
    const stats = await direct.query<{ channel: number; dead: boolean }>("SELECT channel, dead FROM neuron_stats WHERE layer = 'conv1' AND step = 100 ORDER BY channel");
    expect(stats.map((r) => r.channel)).toEqual([0, 1, 2]);
    expect(stats.find((r) => r.channel === 2)!.dead, 'fixture: f2 is dead').toBe(true);
    expect(s.layout).toMatchObject({ tile: 64, columns: 3, from: 0, to: 2, step: 100, dataset: 'edges', model: 'edge-net' });
    expect([s.width, s.height]).toEqual([3 * 64, 64]);
    const f = await field('conv1', 100);
    expect(f.size).toEqual([3, 3]);
    for (const [i, u] of s.layout.units.entries()) {
      const want = top.get(u.channel)!;
      const dead = stats.find((r) => r.channel === u.channel)!.dead;
      expect(u.channel).toBe(i);
      expect(u.value).toBeCloseTo(Number(want.value), 5);
      if (dead) {
        expect(u.sample_id).toBeNull();
        checkTile(s, i, null, `dead unit ${u.channel}`);
      } else {
        expect(u.sample_id).toBe(Number(want.sample_id));
        checkTile(s, i, await expectedTile(f, want, 64), `unit ${u.channel} (sample ${u.sample_id})`);
      }
    }
  });

  it('fc (after global pooling): the whole input; tile size, from..to and the default step are honoured', async () => {
    const s = await sheet('/api/layers/fc/tiles.png?tile=40&from=1&to=1');
    expect(s.layout).toMatchObject({ tile: 40, columns: 1, from: 1, to: 1, step: 100 });
    expect([s.width, s.height]).toEqual([40, 40]);
    const f = await field('fc', 100);
    expect(f.global).toBe(true);
    const want = (await topOne('fc', 100)).get(1)!;
    expect(Number(want.value)).toBeGreaterThan(0); // fc1 = gap1 + 0.5
    expect(s.layout.units).toEqual([{ channel: 1, sample_id: Number(want.sample_id), value: expect.any(Number) }]);
    const img = await expectedTile(f, want, 40);
    expect([img.width, img.height]).toEqual([40, 40]);
    checkTile(s, 0, img, 'fc unit 1');
  });

  it('step 0: the tiles follow that checkpoint\'s SQL top-1', async () => {
    const s = await sheet('/api/layers/conv1/tiles.png?step=0&tile=16');
    const top = await topOne('conv1', 0);
    const stats = await direct.query<{ channel: number; dead: boolean }>("SELECT channel, dead FROM neuron_stats WHERE layer = 'conv1' AND step = 0 ORDER BY channel");
    expect(stats.map((r) => r.channel)).toEqual([0, 1, 2]);
    // Both branches below run: f2 is dead at every step (bias -1000), the edge filters are not.
    expect(stats.map((r) => r.dead), 'fixture: only f2 is dead at step 0').toEqual([false, false, true]);
    expect(s.layout).toMatchObject({ tile: 16, columns: 3, from: 0, to: 2, step: 0 });
    // Every unit is listed, so no tile can be skipped unchecked.
    expect(s.layout.units.map((u) => u.channel)).toEqual([0, 1, 2]);
    const f = await field('conv1', 0);
    for (const [i, u] of s.layout.units.entries()) {
      const want = top.get(u.channel)!;
      const dead = stats.find((r) => r.channel === u.channel)!.dead;
      expect(u.value).toBeCloseTo(Number(want.value), 5);
      if (dead) {
        expect(u.sample_id).toBeNull();
        checkTile(s, i, null, `step 0 dead unit ${u.channel}`);
      } else {
        expect(u.sample_id).toBe(Number(want.sample_id));
        checkTile(s, i, await expectedTile(f, want, 16), `step 0 unit ${u.channel}`);
      }
    }
  });

  it('a second request is a cache hit with the same bytes and layout', async () => {
    const p = '/api/layers/conv1/tiles.png?step=100&tile=32';
    const a = await get(p);
    expect(a.headers.get('x-neurolens-cache')).toBe('miss');
    const b = await get(p);
    expect(b.headers.get('x-neurolens-cache')).toBe('hit');
    expect(b.headers.get('x-neurolens-tiles')).toBe(a.headers.get('x-neurolens-tiles'));
    expect(Buffer.from(await b.arrayBuffer()).equals(Buffer.from(await a.arrayBuffer()))).toBe(true);
  });

  it('bad parameters: 400 naming the parameter; unknown layer or step: 404', async () => {
    const cases: [string, number, RegExp][] = [
      ['/api/layers/conv1/tiles.png?from=2&to=1', 400, /from \(2\) is after to \(1\)/],
      ['/api/layers/conv1/tiles.png?from=0&to=256', 400, /257 units, more than 256/],
      ['/api/layers/conv1/tiles.png?to=3', 400, /to \(3\) is past the last unit .*0\.\.2/],
      ['/api/layers/conv1/tiles.png?from=3', 400, /from \(3\) is past the last unit/],
      ['/api/layers/conv1/tiles.png?tile=8', 400, /tile must be an integer in 16\.\.256, got '8'/],
      ['/api/layers/conv1/tiles.png?tile=512', 400, /tile must be an integer in 16\.\.256/],
      ['/api/layers/conv1/tiles.png?from=-1', 400, /from must be an integer/],
      ['/api/layers/conv1/tiles.png?step=x', 400, /step must be an integer/],
      ['/api/layers/conv1/tiles.png?colour=red', 400, /unknown parameter colour/],
      ['/api/layers/conv9/tiles.png', 404, /layer 'conv9' has no neuron statistics; did you mean: conv1/],
      ['/api/layers/conv1/tiles.png?step=50', 404, /no statistics at step 50 \(steps: 0, 100\)/],
      ['/api/layers/conv1/tiles.png?dataset=other', 404, /dataset 'other'/],
    ];
    for (const [p, status, message] of cases) {
      const r = await get(p);
      const body = (await r.json()) as { error: string; code: string };
      expect(r.status, p).toBe(status);
      expect(body.error, p).toMatch(message);
    }
    // Like every /api route, the token is required.
    expect((await fetch(`${server.url}/api/layers/conv1/tiles.png`)).status).toBe(401);
  });
});
