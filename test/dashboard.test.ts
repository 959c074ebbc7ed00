/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (no browser
 * download) against a real `neurolens serve` (in-process startServer) over a store made by a real
 * pipeline run. Each view: no console errors, the numbers shown equal the SQL answers asked of
 * the store directly, keyboard navigation works, and a screenshot is written and is not blank.
 * Waits are on selectors and on `body[data-ready=<view>]` (set when every panel has its data),
 * with generous timeouts: never on wall-clock time.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import { makePipelineFixture, ranPipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { close, column, launchChromium, openPage as open, ready, screenshot as shot, screenshotsDir, WAIT, type Browser } from './fixtures/browser.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';

const N = 40;
/** Class names of the fixture's labels 0..3 (the spec's dataset.classes): shown instead of numbers. */
const CLASSES = ['edge', 'edge too', 'dot', 'flat'];
const TOKEN = 'dash-token-7c2e';

let fx: PipelineFixture;
let server: RunningServer;
let empty: RunningServer;
let emptyDir: string;
let direct: Store;
let browser: Browser;
let shots: string;

type Row = Record<string, unknown>;

async function ask(name: string, params: Record<string, string | number | null> = {}): Promise<Row[]> {
  return resultRows(await runQuery(direct, await getQuery(name), params));
}

const openPage = () => open(browser);
const screenshot = (page: Parameters<typeof shot>[0], name: string, selector?: string) => shot(page, shots, name, selector);

beforeAll(async () => {
  await setupBackend('wasm');
  fx = await ranPipelineFixture('dash', N, { extra: 'embed: [{ layer: gap, method: pca }]', classes: CLASSES });
  const dir = fx.dir;
  direct = await Store.open(fx.store, { readOnly: true });
  server = await startServer({ store: fx.store, port: 0, token: TOKEN });
  emptyDir = path.join(dir, 'empty-store');
  await fs.mkdir(emptyDir);
  empty = await startServer({ store: emptyDir, port: 0 });
  shots = await screenshotsDir(dir);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await empty?.close();
  direct?.dispose();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
});

describe('dashboard: served by neurolens serve', () => {
  it('serves the page and its bundle without a token, with a strict CSP; /api still needs it', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    const js = /src="(ui\/app\.js\?v=[0-9a-f]+)"/.exec(html)?.[1];
    expect(js).toBeDefined();
    const bundle = await fetch(`${server.url}/${js}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    expect(bundle.headers.get('cache-control')).toMatch(/immutable/);
    expect((await bundle.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${server.url}/api/queries`)).status).toBe(401);
    // The store's generation, polled by the page for live refresh: token required like all of /api.
    expect((await fetch(`${server.url}/api/generation`)).status).toBe(401);
    const gen = await fetch(`${server.url}/api/generation`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(gen.status).toBe(200);
    expect(typeof ((await gen.json()) as { id: unknown }).id).toBe('string');
  });
});

describe('dashboard: views in Chromium', () => {
  it('overview: runs, checkpoints, accuracy and sparsity over training equal the SQL answers', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/overview`);
    await ready(page, 'overview');
    // The token left the address bar (links stay shareable without it) but is used.
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);

    const runs = await direct.query<{ run_id: string }>('SELECT run_id FROM runs ORDER BY started_at DESC');
    expect(await column(page, 'runs-table', 'run_id')).toEqual(runs.map((r) => r.run_id));

    const ck = await direct.query<Row>('SELECT dataset, model, step, count(*) AS units FROM neuron_stats GROUP BY ALL ORDER BY ALL');
    close(await column(page, 'checkpoints-table', 'step'), ck.map((r) => r.step));
    close(await column(page, 'checkpoints-table', 'units'), ck.map((r) => r.units));

    // Loss: mean -ln p(label) over the samples whose label the model has an output for (NULL otherwise).
    const acc = await direct.query<Row>(
      'SELECT step, avg(CAST(pred = label AS DOUBLE)) AS accuracy, count(*) AS n, avg(-ln(greatest(label_prob, 1e-7))) AS loss FROM predictions WHERE label IS NOT NULL AND label >= 0 GROUP BY step ORDER BY step',
    );
    expect(acc.length).toBe(2);
    close(await column(page, 'accuracy-table', 'step'), acc.map((r) => r.step));
    close(await column(page, 'accuracy-table', 'accuracy'), acc.map((r) => r.accuracy));
    close(await column(page, 'accuracy-table', 'samples'), acc.map((r) => r.n));
    expect(acc.every((r) => Number(r.loss) > 0)).toBe(true);
    close(await column(page, 'accuracy-table', 'loss'), acc.map((r) => r.loss));

    const sp = await ask('sparsity_over_training');
    expect(await column(page, 'sparsity-table', 'layer')).toEqual(sp.map((r) => String(r.layer)));
    close(await column(page, 'sparsity-table', 'step'), sp.map((r) => r.step));
    close(await column(page, 'sparsity-table', 'dead'), sp.map((r) => r.dead));
    close(await column(page, 'sparsity-table', 'zero_frac'), sp.map((r) => r.zero_frac));
    // One line per layer in both charts, drawn on canvas by uPlot.
    const layers = new Set(sp.map((r) => r.layer)).size;
    for (const id of ['dead-chart', 'zero-chart']) {
      await page.waitForSelector(`[data-testid=${id}] canvas`);
      expect(Number(await page.getAttribute(`[data-testid=${id}]`, 'data-series'))).toBe(layers);
    }
    // Accuracy and loss: one line per model x dataset/split (one here).
    for (const id of ['accuracy-chart', 'loss-chart']) {
      await page.waitForSelector(`[data-testid=${id}] canvas`);
      expect(Number(await page.getAttribute(`[data-testid=${id}]`, 'data-series'))).toBe(1);
    }
    // Each panel shows the SQL that produced it.
    expect(await page.locator('[data-testid=sparsity] pre[data-testid=sql]').textContent()).toContain('sparsity_over_training');
    await screenshot(page, 'overview');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('layer view: every unit with its stats and selectivity, sortable, keyboard to a unit; zero-fraction heat map', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/overview`);
    await ready(page, 'overview');
    // Keyboard from the overview: focus the layer link and follow it with Enter.
    await page.locator('a[data-layer=conv1]').focus();
    await page.keyboard.press('Enter');
    await ready(page, 'layer');
    expect(page.url()).toContain('#/layer/conv1');

    const want = await direct.query<Row>("SELECT channel, dead, zero_frac, max FROM neuron_stats WHERE layer = 'conv1' AND step = 100 ORDER BY channel");
    expect(want.length).toBe(3);
    close(await column(page, 'units-table', 'unit'), want.map((r) => r.channel));
    close(await column(page, 'units-table', 'zero fraction'), want.map((r) => r.zero_frac));
    close(await column(page, 'units-table', 'max'), want.map((r) => r.max));
    close(await column(page, 'units-table', 'dead'), want.map((r) => r.dead));
    const sel = new Map((await ask('class_selectivity', { layer: 'conv1', step: 100 })).map((r) => [Number(r.channel), r.selectivity]));
    close(await column(page, 'units-table', 'class selectivity'), want.map((r) => sel.get(Number(r.channel)) ?? null));

    // Sort by zero fraction (descending first), the order is in the shareable address.
    await page.click('[data-sort=zero_frac]');
    await page.waitForFunction(() => location.hash.includes('sort=zero_frac'));
    const sorted = [...want].sort((a, b) => Number(b.zero_frac) - Number(a.zero_frac) || Number(a.channel) - Number(b.channel));
    close(await column(page, 'units-table', 'unit'), sorted.map((r) => r.channel));

    // Heat map: one row per unit, one column per step, drawn on a canvas.
    const canvas = page.locator('[data-testid=heatmap-canvas]');
    await canvas.waitFor();
    const { w, hgt } = await canvas.evaluate((c: HTMLCanvasElement) => ({ w: c.width, hgt: c.height }));
    expect(w % 2).toBe(0); // two steps, equal column widths
    expect(hgt % 3).toBe(0); // three units, equal row heights
    await screenshot(page, 'layer-heatmap', '[data-testid=heatmap]');
    await screenshot(page, 'layer');

    // Keyboard: Tab from the last column header reaches the first unit row; arrows move; Enter opens.
    await page.locator('[data-sort=top_class]').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.channel)).toBe(String(sorted[0]!.channel));
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.channel)).toBe(String(sorted[1]!.channel));
    await page.keyboard.press('Enter');
    await ready(page, 'unit');
    expect(decodeURIComponent(page.url())).toContain(`#/unit/conv1/${sorted[1]!.channel}`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('unit view: mosaic, stats over training and class selectivity equal the SQL answers, with their SQL', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/unit/conv1/1?step=100`);
    await ready(page, 'unit');
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    const img = page.locator('[data-testid=mosaic-img]');
    await img.waitFor();
    expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
    const top = await ask('top_k_activators', { layer: 'conv1', channel: 1, step: 100, k: 16 });
    close(await column(page, 'topk-table', 'sample_id'), top.map((r) => r.sample_id));

    const prof = await ask('neuron_profile', { layer: 'conv1', channel: 1 });
    expect(prof.length).toBe(2);
    close(await column(page, 'profile-table', 'step'), prof.map((r) => r.step));
    close(await column(page, 'profile-table', 'max'), prof.map((r) => r.max));
    close(await column(page, 'profile-table', 'zero_frac'), prof.map((r) => r.zero_frac));
    await page.waitForSelector('[data-testid=profile-chart] canvas');

    const [sel] = await ask('class_selectivity', { layer: 'conv1', channel: 1, step: 100 });
    close([(await page.getAttribute('[data-testid=selectivity-index]', 'data-value'))!], [sel!.selectivity]);
    const barValues = await page.$$eval('[data-testid=selectivity-bars] .bar', (bs) => bs.map((b) => (b as HTMLElement).dataset.value!));
    // Bars are named by the dataset's class names (GET /api/datasets).
    const barText = await page.locator('[data-testid=selectivity-bars]').textContent();
    for (const l of Array.from(sel!.labels as ArrayLike<number>)) expect(barText).toContain(`${l} ${CLASSES[Number(l)]}`);
    close(barValues, Array.from(sel!.class_means as ArrayLike<number>));

    const sqls = await page.locator('pre[data-testid=sql]').allTextContents();
    expect(sqls.some((s) => s.includes('neuron_profile'))).toBe(true);
    expect(sqls.some((s) => s.includes('class_selectivity'))).toBe(true);
    // The mosaic outlines each argmax position's receptive field unless the address says otherwise.
    expect(sqls.some((s) => s.includes('mosaic.png') && s.includes('crop=box'))).toBe(true);
    await screenshot(page, 'unit');
    await screenshot(page, 'unit-mosaic', '[data-testid=mosaic-img]');
    // Receptive-field crops instead: chosen from the keyboard, kept in the address.
    await page.locator('[data-testid=mosaic-crop]').focus();
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(() => location.hash.includes('crop=rf'));
    await ready(page, 'unit');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=mosaic] pre[data-testid=sql]')].some((p) => p.textContent!.includes('crop=rf')));
    expect(await page.locator('[data-testid=mosaic-img]').evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('SQL console: a named query as a form, free SQL, downloads, and a clear message for a failed query', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/sql`);
    await ready(page, 'sql');
    await page.selectOption('#query', 'layer_summary');
    await page.fill('[data-param=step]', '100');
    await page.locator('[data-param=step]').press('Enter'); // the form submits from the keyboard
    await page.waitForSelector('[data-testid=named-result] [data-testid=result-table]');
    const ls = await ask('layer_summary', { step: 100 });
    expect(await column(page, 'result-table', 'layer')).toEqual(ls.map((r) => String(r.layer)));
    close(await column(page, 'result-table', 'units'), ls.map((r) => r.units));
    close(await column(page, 'result-table', 'mean_zero_frac'), ls.map((r) => r.mean_zero_frac));
    // The form is in the address: a shared link runs it again.
    const hash = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
    expect([hash.get('q'), hash.get('p.step')]).toEqual(['layer_summary', '100']);

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=named-result] [data-format=csv]')]);
    const csv = parseCsv(await fs.readFile((await dl.path())!, 'utf8'), { columns: true }) as Row[];
    expect(csv.map((r) => r.layer)).toEqual(ls.map((r) => String(r.layer)));
    const [pq] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=named-result] [data-format=parquet]')]);
    expect((await fs.readFile((await pq.path())!)).subarray(0, 4).toString()).toBe('PAR1');

    const free = "SELECT layer, count(*) AS n, sum(zero_count) AS z FROM neuron_stats WHERE step = 0 GROUP BY layer ORDER BY layer";
    await page.fill('#free-sql', free);
    await page.locator('#free-sql').press('Control+Enter');
    const freeTable = page.locator('[data-testid=free-result] [data-testid=result-table]');
    await freeTable.waitFor();
    const want = await direct.query<Row>(free);
    const got = await freeTable.evaluate((t) => [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => (td as HTMLElement).dataset.value)));
    expect(got).toEqual(want.map((r) => [String(r.layer), String(r.n), String(r.z)]));
    await screenshot(page, 'sql');
    expect(errors).toEqual([]);

    // A failing query: the server's message is shown, the page keeps working.
    await page.fill('#free-sql', 'SELECT * FROM no_such_table');
    await page.click('[data-testid=free-form] button[type=submit]');
    const err = page.locator('[data-testid=free-result] [data-testid=error]');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/no_such_table/);
    // The only console errors: the browser's own note of the 400 answer.
    expect(errors.every((e) => /Failed to load resource.*400/.test(e))).toBe(true);
    await page.close();
  });

  it('embedding view: one point per sample, coloured by label; a click opens the sample with its nearest neighbours', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/embedding`);
    await ready(page, 'embedding');
    const pts = await ask('embedding_points', { layer: 'gap', method: 'pca' });
    expect(pts.length).toBe(N);
    expect(Number(await page.getAttribute('[data-testid=embedding-canvas]', 'data-points'))).toBe(N);
    const counts = new Map<string, number>();
    for (const p of pts) counts.set(String(p.label), (counts.get(String(p.label)) ?? 0) + 1);
    const legend = await page.$$eval('[data-testid=embedding-legend] li', (ls) => ls.map((l) => [(l as HTMLElement).dataset.label!, Number((l as HTMLElement).dataset.count)] as const));
    expect(new Map(legend)).toEqual(counts);
    await screenshot(page, 'embedding-canvas', '[data-testid=embedding-canvas]');
    await screenshot(page, 'embedding');

    // A click on a point opens its sample: the point's pixel position from the canvas's mapping.
    const canvas = page.locator('[data-testid=embedding-canvas]');
    const m = await canvas.evaluate((c: HTMLCanvasElement) => {
      const b = c.getBoundingClientRect();
      const d = c.dataset;
      return { size: c.width, w: b.width, hgt: b.height, x0: Number(d.x0), x1: Number(d.x1), y0: Number(d.y0), y1: Number(d.y1), pad: Number(d.pad) };
    });
    const sx = (m.size - 2 * m.pad) / (m.x1 - m.x0 || 1);
    const sy = (m.size - 2 * m.pad) / (m.y1 - m.y0 || 1);
    const px = pts.map((p) => [m.pad + (Number(p.x) - m.x0) * sx, m.size - m.pad - (Number(p.y) - m.y0) * sy] as const);
    const dist = (a: readonly [number, number], b: readonly [number, number]) => Math.hypot(a[0] - b[0], a[1] - b[1]);
    // A point with no other point drawn within 10 px but those at its very place (identical images).
    const i = px.findIndex((a) => px.every((b) => dist(a, b) < 0.01 || dist(a, b) > 10));
    expect(i).toBeGreaterThanOrEqual(0);
    const want = Number(pts[px.findIndex((b) => dist(px[i]!, b) < 0.01)]!.sample_id); // the first drawn there
    await canvas.click({ position: { x: (px[i]![0] * m.w) / m.size, y: (px[i]![1] * m.hgt) / m.size } });
    await ready(page, 'sample');
    expect(decodeURIComponent(page.url())).toContain(`#/sample/edges/${want}?layer=gap`);
    // Its nearest neighbours in the embedded layer's codes, as the embedding_neighbors query gives them.
    const nb = await ask('embedding_neighbors', { layer: 'gap', sample_id: want, k: 10, dataset: 'edges' });
    expect(nb.length).toBe(10);
    const shown = await page.$$eval('[data-testid=neighbour-list] li', (ls) => ls.map((l) => [Number((l as HTMLElement).dataset.sample), Number((l as HTMLElement).dataset.distance)] as const));
    expect(shown.map((x) => x[0])).toEqual(nb.map((r) => Number(r.sample_id)));
    close(shown.map((x) => String(x[1])), nb.map((r) => r.distance));
    // Thumbnails are loaded, and each is a link to the neighbour's view.
    expect(await page.$$eval('[data-testid=neighbour-list] img', (is) => is.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0))).toBe(true);
    await page.click(`[data-testid=neighbour-list] li[data-sample="${nb[0]!.sample_id}"] a`);
    await page.waitForFunction((id) => decodeURIComponent(location.hash).startsWith(`#/sample/edges/${id}`), Number(nb[0]!.sample_id));
    await ready(page, 'sample');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sample view: image, uri, label, the prediction at the latest step and the most active units per layer equal the SQL answers', async () => {
    const { page, errors } = await openPage();
    const id = 6;
    await page.goto(`${server.url}/?token=${TOKEN}#/sample/edges/${id}`);
    await ready(page, 'sample');
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    const img = page.locator('[data-testid=sample-img]');
    expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
    const [s] = await direct.query<Row>(`SELECT uri, label FROM samples WHERE dataset = 'edges' AND sample_id = ${id}`);
    expect(await page.locator('[data-testid=sample-uri]').textContent()).toBe(String(s!.uri));
    expect(await page.getAttribute('[data-testid=sample-label]', 'data-value')).toBe(String(s!.label));
    expect(await page.locator('[data-testid=sample-label]').textContent()).toBe(`${s!.label} ${CLASSES[Number(s!.label)]}`);

    const pred = await direct.query<Row>(
      `SELECT step, pred, prob FROM predictions WHERE dataset = 'edges' AND sample_id = ${id} AND step = (SELECT max(step) FROM predictions WHERE dataset = 'edges')`,
    );
    expect(pred.length).toBe(1);
    const li = page.locator('[data-testid=prediction]');
    expect(await li.count()).toBe(1);
    expect(Number(await li.getAttribute('data-step'))).toBe(Number(pred[0]!.step));
    expect(Number(await li.getAttribute('data-pred'))).toBe(Number(pred[0]!.pred));
    close([(await li.getAttribute('data-prob'))!], [pred[0]!.prob]);

    // Top 10 units by max per layer at the layer's latest step, from the per-sample rows.
    const layers = await direct.query<Row>("SELECT layer, max(step) AS step FROM neuron_stats WHERE dataset = 'edges' GROUP BY layer ORDER BY layer");
    expect(layers.length).toBeGreaterThan(1);
    for (const l of layers) {
      const top = await direct.query<Row>(
        `SELECT channel, max FROM activations WHERE dataset = 'edges' AND sample_id = ${id} AND layer = '${l.layer}' AND step = ${l.step} ORDER BY max DESC, channel LIMIT 10`,
      );
      expect(top.length).toBeGreaterThan(0);
      close(await column(page, `units-${l.layer}`, 'unit'), top.map((r) => r.channel));
      close(await column(page, `units-${l.layer}`, 'max'), top.map((r) => r.max));
    }
    // A unit is a link to its view.
    const first = page.locator('[data-testid=units-conv1] tbody a').first();
    const ch = await first.textContent();
    await first.click();
    await ready(page, 'unit');
    expect(decodeURIComponent(page.url())).toContain(`#/unit/conv1/${ch}`);
    expect(errors).toEqual([]);
    await page.goBack();
    await ready(page, 'sample');
    await screenshot(page, 'sample');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says so when the token is wrong, and when the store is empty', async () => {
    const bad = await openPage();
    await bad.page.goto(`${server.url}/?token=wrong#/overview`);
    await ready(bad.page, 'overview');
    expect(await bad.page.locator('[data-testid=error]').first().textContent()).toMatch(/invalid bearer token/);
    expect(bad.errors.every((e) => /Failed to load resource.*401/.test(e))).toBe(true);
    await bad.page.close();

    const { page, errors } = await openPage();
    await page.goto(`${empty.url}/#/overview`);
    await ready(page, 'overview');
    expect(await page.locator('[data-testid=empty-store]').textContent()).toMatch(/store is empty/);
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    await screenshot(page, 'empty-store');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('sample view: says so when a layer keeps no per-sample rows (retention summary)', async () => {
    const lean = await makePipelineFixture(path.join(fx.dir, 'lean'), 8, { extra: 'retention: { layers: { fc: summary } }' });
    expect((await runPipeline(await loadSpec(lean.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
    const leanServer = await startServer({ store: lean.store, port: 0 });
    try {
      const { page, errors } = await openPage();
      await page.goto(`${leanServer.url}/#/sample/edges/3`);
      await ready(page, 'sample');
      expect(await page.locator('[data-testid=no-rows-fc]').textContent()).toMatch(/keeps no per-sample rows/);
      expect(await page.locator('[data-testid=units-fc]').count()).toBe(0);
      expect((await column(page, 'units-conv1', 'unit')).length).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await leanServer.close();
    }
  });

  // Last: it changes the store the other tests compare against.
  it('live refresh: a new run committed to the store shows on the open overview without a reload', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/overview?dataset=edges`);
    await ready(page, 'overview');
    await page.waitForSelector('body[data-generation]');
    const before = await column(page, 'runs-table', 'run_id');
    await page.evaluate(() => ((window as unknown as { loaded: string }).loaded = 'same page'));
    // A second run of the same spec (resume: its shards are committed already) adds a run record.
    const again = await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' });
    expect(again.status).toBe('succeeded');
    await page.waitForFunction(
      (id) => [...document.querySelectorAll('[data-testid=runs-table] tbody tr td:first-child')].some((td) => (td as HTMLElement).dataset.value === id) && document.body.dataset.ready === 'overview',
      again.run_id,
      { timeout: WAIT },
    );
    const after = await column(page, 'runs-table', 'run_id');
    expect(after.length).toBe(before.length + 1);
    expect(after).toContain(again.run_id);
    // Not reloaded, and the address (the view's state) is kept.
    expect(await page.evaluate(() => (window as unknown as { loaded?: string }).loaded)).toBe('same page');
    expect(decodeURIComponent(page.url())).toContain('#/overview?dataset=edges');
    expect(errors).toEqual([]);
    await page.close();
  });
});
