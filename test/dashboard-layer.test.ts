/**
 * The Layer view's unit tiles and filters in a real browser (Debian's Chromium via playwright-core)
 * against a real server over a store made by a real pipeline run. The layer is wide (300 units, so
 * the tiles come in three sprite pages of 128 fetched as they scroll into view), with dead units
 * (bias -1000) and a spread of zero fractions and class selectivities. The tiles and the table must
 * show exactly the units the SQL predicate gives, in the SQL order; each drawn tile must equal its
 * square of the sprite; filters survive a reload; keyboard from a tile to the unit view.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode as decodePng } from 'fast-png';
import type { Page } from 'playwright-core';
import { makePipelineFixture, runModelOverFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { H, W } from './fixtures/models.js';
import { column, openPage, ready, screenshot, openDashboard, type Browser, type Dashboard } from './fixtures/browser.js';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { Store } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import type { RunningServer } from '../src/server/index.js';
import type { TilesLayout } from '../src/server/tiles.js';

const N = 40;
const UNITS = 300;
const STEP = 7;
const TOKEN = 'layer-token-41d0';

let fx: PipelineFixture;
let store: string;
let server: RunningServer;
let direct: Store;
let browser: Browser;
let dash: Dashboard;
let shots: string;

/** Deterministic weights in [-1, 1) (a linear congruential generator: no test depends on a seed library). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** wide-net: conv 3x3 valid, UNITS filters, ReLU; every 9th filter dead (bias -1000). */
async function makeWideStore(): Promise<string> {
  const m = tf.sequential({ name: 'wide_net' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [H, W, 1], filters: UNITS, kernelSize: 3, padding: 'valid', activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  const rnd = lcg(12345);
  const k = Float32Array.from({ length: 9 * UNITS }, rnd);
  const b = Float32Array.from({ length: UNITS }, (_, i) => (i % 9 === 4 ? -1000 : rnd() * 0.8));
  const ws = [tf.tensor4d(k, [3, 3, 1, UNITS]), tf.tensor1d(b)];
  m.getLayer('conv').setWeights(ws);
  tf.dispose(ws);
  try {
    return await runModelOverFixture(fx, 'wide', m, STEP, { topk: 4 });
  } finally {
    m.dispose();
  }
}

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-dash-layer-'));
  fx = await makePipelineFixture(dir, N);
  store = await makeWideStore();
  dash = await openDashboard(store, dir, { token: TOKEN });
  ({ server, direct, browser, shots } = dash);
}, 240_000);

afterAll(async () => {
  await dash?.close();
});

interface UnitRow {
  channel: number;
  dead: boolean;
  zero_frac: number;
  selectivity: number | null;
}

/** Units with their stats (SQL) and class selectivity (the named query), by channel. */
async function units(): Promise<UnitRow[]> {
  const stats = await direct.query<{ channel: number; dead: boolean; zero_frac: number }>(`SELECT channel, dead, zero_frac FROM neuron_stats WHERE layer = 'conv' AND step = ${STEP} ORDER BY channel`);
  const sel = new Map(resultRows(await runQuery(direct, await getQuery('class_selectivity'), { layer: 'conv', step: STEP })).map((r) => [Number(r.channel), r.selectivity === null ? null : Number(r.selectivity)]));
  return stats.map((s) => ({ ...s, selectivity: sel.get(s.channel) ?? null }));
}

async function channels(sqlText: string): Promise<string[]> {
  return (await direct.query<{ channel: number }>(sqlText)).map((r) => String(r.channel));
}

const tileChannels = (page: Page) => page.$$eval('[data-testid=tiles-grid] .tile', (ts) => ts.map((t) => (t as HTMLElement).dataset.channel!));
const activeChannel = (page: Page) => page.evaluate(() => (document.activeElement as HTMLElement).dataset.channel);

/** Tiles and table show `want` (channels, in order) and the count says so. */
async function expectShown(page: Page, want: string[], what: string): Promise<void> {
  await page.waitForFunction((n) => document.querySelector('[data-testid=units-count]')?.getAttribute('data-value') === String(n), want.length);
  expect(await tileChannels(page), `${what}: tiles`).toEqual(want);
  expect(await column(page, 'units-table', 'unit'), `${what}: table`).toEqual(want);
  expect(await page.locator('[data-testid=units-count]').textContent()).toBe(`${want.length} of ${UNITS} units`);
}

async function openLayer(page: Page, hash = ''): Promise<void> {
  await page.goto(`${server.url}/?token=${TOKEN}#/layer/conv${hash}`);
  await ready(page, 'layer');
}

describe('layer view: unit tiles', () => {
  it('tiles in the order of the sort, fetched in sprite pages as they scroll into view, each the square of its sprite', async () => {
    const { page, errors } = await openPage(browser);
    const asked: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/tiles.png')) asked.push(new URL(r.url()).search);
    });
    await openLayer(page);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    const all = Array.from({ length: UNITS }, (_, i) => String(i));
    await expectShown(page, all, 'no filter');
    await page.waitForSelector('[data-testid=tiles-grid] .tile[data-channel="0"][data-drawn=true]');
    // Only the first page is on screen: one request, for units 0..127.
    expect(asked).toEqual([`?step=${STEP}&tile=64&from=0&to=127`]);

    // Each drawn tile is its square of the sprite, and names the SQL top-1 sample (none when dead).
    const r = await fetch(`${server.url}/api/layers/conv/tiles.png?step=${STEP}&tile=64&from=0&to=127`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const layout = JSON.parse(r.headers.get('x-neurolens-tiles')!) as TilesLayout;
    const png = decodePng(new Uint8Array(await r.arrayBuffer()));
    const top = new Map((await direct.query<{ channel: number; sample_id: number }>(`SELECT channel, sample_id FROM topk WHERE layer = 'conv' AND step = ${STEP} AND rank = 0`)).map((x) => [x.channel, x.sample_id]));
    const dead = new Set((await units()).filter((u) => u.dead).map((u) => u.channel));
    expect(dead.size).toBeGreaterThan(0);
    for (const ch of [0, 1, 2, 3, 4, 13]) {
      const sel = `[data-testid=tiles-grid] .tile[data-channel="${ch}"]`;
      await page.waitForSelector(`${sel}[data-drawn=true]`);
      expect(await page.getAttribute(sel, 'data-sample')).toBe(dead.has(ch) ? '' : String(top.get(ch)));
      expect(await page.getAttribute(sel, 'data-dead')).toBe(String(dead.has(ch)));
      const shown = await page.$eval(`${sel} canvas`, (c: HTMLCanvasElement) => Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data));
      const x0 = (ch % layout.columns) * 64;
      const y0 = Math.floor(ch / layout.columns) * 64;
      let diff = 0;
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          for (let k = 0; k < 3; k++) if (Math.abs(shown[(y * 64 + x) * 4 + k]! - png.data[((y0 + y) * png.width + x0 + x) * png.channels + k]!) > 1) diff++;
        }
      }
      expect(diff, `unit ${ch}: canvas differs from its sprite square`).toBe(0);
    }

    // Scrolling to the end fetches the last page (256..299), which was not asked before.
    await page.locator('.tiles-scroll').evaluate((e) => e.scrollTo(0, e.scrollHeight));
    await page.waitForSelector(`[data-testid=tiles-grid] .tile[data-channel="${UNITS - 1}"][data-drawn=true]`);
    expect(asked).toContain(`?step=${STEP}&tile=64&from=256&to=299`);
    expect(new Set(asked).size, 'each page is fetched once').toBe(asked.length);
    // The panel shows the requests that drew it and the query its rows equal.
    const http = await page.locator('[data-testid=tiles] pre[data-testid=sql]').textContent();
    expect(http).toContain(`-- GET /api/layers/conv/tiles.png?step=${STEP}&tile=64&from=256&to=299`);
    expect(http).toContain('top_k_activators --param layer=conv');
    // The largest page the server allows: its layout header (256 units) still fits a client's header limit.
    const big = await fetch(`${server.url}/api/layers/conv/tiles.png?step=${STEP}&tile=16&from=0&to=255`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(big.status).toBe(200);
    expect((JSON.parse(big.headers.get('x-neurolens-tiles')!) as TilesLayout).units.length).toBe(256);

    // The table's sort orders the tiles too: zero fraction descending, then ascending; selectivity.
    await page.click('[data-sort=zero_frac]');
    await page.waitForFunction(() => location.hash.includes('sort=zero_frac'));
    await expectShown(page, await channels(`SELECT channel FROM neuron_stats WHERE layer = 'conv' AND step = ${STEP} ORDER BY zero_frac DESC, channel`), 'zero_frac desc');
    await page.click('[data-sort=zero_frac]');
    await page.waitForFunction(() => !location.hash.includes('desc=1'));
    await expectShown(page, await channels(`SELECT channel FROM neuron_stats WHERE layer = 'conv' AND step = ${STEP} ORDER BY zero_frac, channel`), 'zero_frac asc');
    await page.click('[data-sort=selectivity]');
    await page.waitForFunction(() => location.hash.includes('sort=selectivity'));
    const bySel = (await units()).sort((a, b) => (a.selectivity === null ? 1 : 0) - (b.selectivity === null ? 1 : 0) || (b.selectivity ?? 0) - (a.selectivity ?? 0) || a.channel - b.channel);
    await expectShown(page, bySel.map((u) => String(u.channel)), 'selectivity desc');
    await page.locator('[data-testid=tiles-grid] .tile[data-drawn=true]').first().waitFor();
    await screenshot(page, shots, 'layer-tiles', '[data-testid=tiles]');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('filters show exactly the units of the SQL predicate in tiles and table, and survive a reload', async () => {
    const { page, errors } = await openPage(browser);
    await openLayer(page);
    const all = await units();
    const where = `layer = 'conv' AND step = ${STEP}`;

    await page.selectOption('[data-testid=filter-dead]', 'dead');
    await expectShown(page, await channels(`SELECT channel FROM neuron_stats WHERE ${where} AND dead ORDER BY channel`), 'dead');
    expect(await page.$$eval('[data-testid=tiles-grid] .tile .dead-mark', (m) => m.length)).toBe(all.filter((u) => u.dead).length);

    // Alive units with a zero fraction between two of the values present (inclusive bounds).
    const zs = [...new Set(all.filter((u) => !u.dead).map((u) => u.zero_frac))].sort((a, b) => a - b);
    const [lo, hi] = [zs[Math.floor(zs.length / 4)]!, zs[Math.floor((3 * zs.length) / 4)]!];
    await page.selectOption('[data-testid=filter-dead]', 'alive');
    await page.fill('[data-testid=filter-zmin]', String(lo));
    await page.fill('[data-testid=filter-zmax]', String(hi));
    const ranged = await channels(`SELECT channel FROM neuron_stats WHERE ${where} AND NOT dead AND zero_frac BETWEEN ${lo} AND ${hi} ORDER BY channel`);
    expect(ranged.length).toBeGreaterThan(0);
    expect(ranged.length).toBeLessThan(UNITS - all.filter((u) => u.dead).length);
    await expectShown(page, ranged, 'alive, zero fraction range');
    expect(await page.locator('[data-testid=filters] pre[data-testid=sql]').textContent()).toBe(
      `SELECT channel FROM neuron_stats WHERE layer = 'conv' AND step = ${STEP} AND NOT dead AND zero_frac >= ${lo} AND zero_frac <= ${hi} ORDER BY channel`,
    );
    // The SQL the panel shows gives the units it shows.
    expect(await channels((await page.locator('[data-testid=filters] pre[data-testid=sql]').textContent())!)).toEqual(ranged);
    await page.waitForFunction(() => /dead=alive/.test(location.hash) && /zmin=/.test(location.hash) && /zmax=/.test(location.hash));

    // The same view from its address, in a fresh load.
    await page.reload();
    await ready(page, 'layer');
    await expectShown(page, ranged, 'after reload');
    expect(await page.inputValue('[data-testid=filter-dead]')).toBe('alive');
    expect(Number(await page.inputValue('[data-testid=filter-zmin]'))).toBe(lo);
    expect(Number(await page.inputValue('[data-testid=filter-zmax]'))).toBe(hi);
    await page.locator('[data-testid=tiles-grid] .tile[data-drawn=true]').first().waitFor();
    await screenshot(page, shots, 'layer-filtered');

    // Class selectivity at least the median of the values present (NULL selectivity never passes).
    await page.click('[data-testid=filter-clear]');
    await expectShown(page, all.map((u) => String(u.channel)), 'cleared');
    const ss = all.map((u) => u.selectivity).filter((s): s is number => s !== null).sort((a, b) => a - b);
    const x = ss[Math.floor(ss.length / 2)]!;
    await page.fill('[data-testid=filter-selmin]', String(x));
    const selective = resultRows(await runQuery(direct, await getQuery('class_selectivity'), { layer: 'conv', step: STEP }))
      .filter((r) => r.selectivity !== null && Number(r.selectivity) >= x)
      .map((r) => Number(r.channel))
      .sort((a, b) => a - b)
      .map(String);
    expect(selective.length).toBeGreaterThan(0);
    await expectShown(page, selective, 'selectivity >= median');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keyboard: Tab reaches the tiles, arrows move, Enter opens the unit view', async () => {
    const { page, errors } = await openPage(browser);
    await openLayer(page, `?dead=alive`);
    const shown = await tileChannels(page);
    // The filter panel's last stop is its SQL; the next Tab enters the tiles (one stop for all of them).
    await page.locator('[data-testid=filters] details.sql summary').focus();
    await page.keyboard.press('Tab');
    expect(await activeChannel(page)).toBe(shown[0]);
    await page.keyboard.press('ArrowRight');
    expect(await activeChannel(page)).toBe(shown[1]);
    const perRow = await page.$$eval('[data-testid=tiles-grid] .tile', (ts) => ts.filter((t) => (t as HTMLElement).offsetTop === (ts[0] as HTMLElement).offsetTop).length);
    expect(perRow).toBeGreaterThan(2);
    await page.keyboard.press('ArrowDown');
    expect(await activeChannel(page)).toBe(shown[1 + perRow]);
    await page.keyboard.press('ArrowLeft');
    expect(await activeChannel(page)).toBe(shown[perRow]);
    // One Tab stop for the grid: Tab leaves it, Shift+Tab comes back to the tile last moved to.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement!.closest('[data-testid=tiles-grid]') === null)).toBe(true);
    await page.keyboard.press('Shift+Tab');
    expect(await activeChannel(page)).toBe(shown[perRow]);
    await page.keyboard.press('Enter');
    await ready(page, 'unit');
    expect(decodeURIComponent(page.url())).toContain(`#/unit/conv/${shown[perRow]}`);
    expect(errors).toEqual([]);
    await page.close();
  });
});
