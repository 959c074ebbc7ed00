/**
 * On-demand pictures in the dashboard (views/pictures.ts), in Debian's Chromium against a real
 * `neurolens serve` (in-process startServer, picture workers, a fresh picture cache) over the
 * edge-net store made by a real pipeline run. What the page shows is compared with the server's
 * JSON fetched directly, with SQL on the store, and with `renderActmax` called in this process.
 * Waits are on selectors, on `body[data-ready=<view>]` and on the image decoding; never on time.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ranPipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { openPage as open, ready, screenshot as shot, openDashboard, type Browser, type Dashboard } from './fixtures/browser.js';
import { Store } from '../src/storage/index.js';
import { renderActmax } from '../src/explain/actmax-render.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import type { RunningServer } from '../src/server/index.js';

const N = 40;
const TOKEN = 'pict-token-41d9';
/** conv1 channel 1 of the edge net: a 3x3 box sum, active on most samples. */
const UNIT = { layer: 'conv1', channel: 1 };

let fx: PipelineFixture;
let server: RunningServer;
let direct: Store;
let browser: Browser;
let dash: Dashboard;
let shots: string;

type Row = Record<string, unknown>;

const openPage = () => open(browser);
const screenshot = (page: Page, name: string, selector?: string) => shot(page, shots, name, selector);

/** GET on the server with the token: status, headers and the JSON body (when there is one). */
async function get(p: string): Promise<{ status: number; headers: Headers; json: Row | null }> {
  const r = await fetch(`${server.url}/${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const isJson = r.headers.get('content-type')?.includes('json') ?? false;
  const json = isJson ? ((await r.json()) as Row) : (await r.arrayBuffer(), null);
  return { status: r.status, headers: r.headers, json };
}

/** data-value of every fact of a facts list, by key. */
async function facts(page: Page, testid: string): Promise<Record<string, string>> {
  return page.$eval(`[data-testid="${testid}"]`, (dl) => Object.fromEntries([...dl.querySelectorAll('dd')].map((d) => [(d as HTMLElement).dataset.fact!, (d as HTMLElement).dataset.value!])));
}

/** The image is decoded and has pixels. */
async function loaded(page: Page, selector: string): Promise<string> {
  const img = page.locator(selector);
  await img.waitFor();
  expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
  return (await img.getAttribute('src'))!;
}

/** Records every text the element ever shows (a status can come and go between two looks). */
async function watchTexts(page: Page, selector: string): Promise<void> {
  await page.$eval(selector, (el) => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    new MutationObserver(() => seen.push(el.textContent ?? '')).observe(el, { childList: true, subtree: true, characterData: true });
  });
}

const seenTexts = (page: Page) => page.evaluate(() => (window as unknown as { seen: string[] }).seen);

/** Console errors other than the browser's own note of an answer with one of `statuses`. */
const unexpected = (errors: string[], statuses: number[]) => errors.filter((e) => !statuses.some((s) => new RegExp(`Failed to load resource.*${s}`).test(e)));

const latestStep = async () => Number((await direct.query<Row>('SELECT max(step) AS s FROM predictions'))[0]!.s);

beforeAll(async () => {
  fx = await ranPipelineFixture('pict', N);
  // A cache of this test only (outside the store): the first look at a picture must be a miss.
  dash = await openDashboard(fx.store, fx.dir, { token: TOKEN, pictureCacheDir: path.join(fx.dir, 'picture-cache') });
  ({ server, direct, browser, shots } = dash);
}, 240_000);

afterAll(async () => {
  await dash?.close();
});

describe('dashboard pictures: unit view', () => {
  it('activation maximization: not cached -> Render (keyboard) -> the picture with the facts of its JSON; after a reload it comes from the cache', async () => {
    const actmax = `api/pictures/actmax/${UNIT.layer}/${UNIT.channel}`;
    expect((await get(`${actmax}.png?cached=only`)).status).toBe(204);

    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/unit/${UNIT.layer}/${UNIT.channel}`);
    await ready(page, 'unit');
    const button = page.locator('[data-testid=actmax] [data-testid=actmax-render]');
    await button.waitFor();
    expect(await page.locator('[data-testid=actmax-img]').count()).toBe(0);
    // The panel shows the request it made: the cache look-up, which never renders.
    expect(await page.locator('[data-testid=actmax] [data-testid=http]').textContent()).toContain(`GET /${actmax}.png?cached=only`);

    // Keyboard: the button takes focus and Enter starts the render; a status shows meanwhile.
    await watchTexts(page, '[data-testid=actmax] .picture-slot');
    await button.focus();
    await page.keyboard.press('Enter');
    await loaded(page, '[data-testid=actmax-img]');
    expect((await seenTexts(page)).some((t) => t.includes('rendering on the server'))).toBe(true);
    expect(await page.getAttribute('[data-testid=actmax-figure]', 'data-cache')).toBe('miss');

    // The facts shown are those of the JSON, fetched here over HTTP (the same cache entry).
    const j = (await get(`${actmax}.json`)).json as {
      activation: { raw: { mean: number; max: number }; normalized: { mean: number; max: number } | null; datasetMax: number | null; ratioToNoise: number | null };
      settings: { steps: number };
      seed: number;
      model: { step: number };
    };
    const shown = await facts(page, 'actmax-facts');
    const a = j.activation;
    expect(a.normalized).not.toBeNull();
    const want: Record<string, number | null> = {
      'raw-mean': a.raw.mean,
      'raw-max': a.raw.max,
      'normalized-mean': a.normalized!.mean,
      'normalized-max': a.normalized!.max,
      'dataset-max': a.datasetMax,
      'ratio-to-noise': a.ratioToNoise,
      steps: j.settings.steps,
      seed: j.seed,
      step: j.model.step,
    };
    for (const [k, v] of Object.entries(want)) expect(Number(shown[k]), k).toBe(v);
    // The latest checkpoint, normalized by the unit's max over the dataset at that step (SQL).
    expect(j.model.step).toBe(await latestStep());
    const max = await direct.query<Row>(`SELECT max FROM neuron_stats WHERE layer = 'conv1' AND channel = 1 AND step = ${j.model.step}`);
    expect(a.datasetMax).toBeCloseTo(Number(max[0]!.max), 5);
    expect(a.normalized!.max).toBeCloseTo(a.raw.max / Number(max[0]!.max), 6);

    // The same picture made in this process by the library: same activations (same seed).
    const lib = await renderActmax({ store: fx.store, layer: UNIT.layer, channel: UNIT.channel, step: j.model.step, steps: j.settings.steps, seed: j.seed });
    expect(a.raw.mean).toBeCloseTo(lib.sidecar.activation.raw.mean, 3);
    expect(a.raw.max).toBeCloseTo(lib.sidecar.activation.raw.max, 3);
    await screenshot(page, 'actmax', '[data-testid=actmax]');

    // A reload shows the picture at once, from the server's cache, without the button.
    await page.reload();
    await ready(page, 'unit');
    await loaded(page, '[data-testid=actmax-img]');
    expect(await page.locator('[data-testid=actmax-render]').count()).toBe(0);
    expect(await page.getAttribute('[data-testid=actmax-figure]', 'data-cache')).toMatch(/^(memory|disk)$/);
    expect(await page.locator('[data-testid=actmax] [data-testid=http]').textContent()).toContain(`GET /${actmax}.json`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('explain a top-k sample: the hash names it, the map and its score equal the server JSON for neuron conv1:1; the method can be switched', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/unit/${UNIT.layer}/${UNIT.channel}`);
    await ready(page, 'unit');
    expect(await page.locator('[data-testid=attribution-empty]').count()).toBe(1);
    const first = page.locator('[data-testid=topk-table] [data-testid=explain]').first();
    const sample = Number(await first.getAttribute('data-sample'));
    // The table's first row: the highest max of the unit at the latest step (the named query, run here).
    const topk = resultRows(await runQuery(direct, await getQuery('top_k_activators'), { layer: UNIT.layer, channel: UNIT.channel, k: 16 }));
    expect(sample).toBe(Number(topk[0]!.sample_id));
    const step = Number(topk[0]!.step);

    // Keyboard: focus the row's explain button, Enter.
    await first.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => location.hash.includes(`explain=${id}`) && location.hash.includes('method=gradcam'), sample);
    const gradcamSrc = await loaded(page, '[data-testid=attribution-map-img]');
    expect(await first.getAttribute('aria-pressed')).toBe('true');

    const base = `api/pictures/attribution/gradcam/edges/${sample}`;
    const j = (await get(`${base}.json?neuron=conv1%3A1&step=${step}&model=edge-net`)).json as { method: string; target: string; score: number; range: { min: number; max: number }; model: { step: number } };
    expect(j.target).toMatch(/^conv1:1/);
    const shown = await facts(page, 'attribution-map-facts');
    expect(Number(shown.score)).toBe(j.score);
    expect(Number(shown['range-min'])).toBe(j.range.min);
    expect(Number(shown['range-max'])).toBe(j.range.max);
    expect(shown.method).toBe(j.method);
    expect(Number(shown.step)).toBe(step);
    // Which pixels drive the unit's mean over positions: the score is that mean (SQL: activations).
    const act = await direct.query<Row>(`SELECT mean FROM activations WHERE layer = 'conv1' AND channel = 1 AND step = ${step} AND sample_id = ${sample}`);
    expect(j.score).toBeCloseTo(Number(act[0]!.mean), 4);
    expect(await page.locator('[data-testid=attribution] [data-testid=http]').textContent()).toContain(`GET /${base}.png?neuron=conv1%3A1`);
    expect(await page.getAttribute('[data-testid=explain-sample]', 'href')).toBe(`#/sample/edges/${sample}`);
    await screenshot(page, 'attribution', '[data-testid=attribution]');
    await screenshot(page, 'unit-pictures');

    // Another method, by keyboard (the next one in the list): the address and the picture follow,
    // and the focus stays on the selector.
    await page.locator('[data-testid=attribution] [data-testid=method]').focus();
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(() => location.hash.includes('method=occlusion'));
    await page.waitForSelector('[data-testid=attribution-map][data-method=occlusion]');
    const occSrc = await loaded(page, '[data-testid=attribution-map-img]');
    expect(occSrc).not.toBe(gradcamSrc);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid)).toBe('method');
    const occ = (await get(`api/pictures/attribution/occlusion/edges/${sample}.json?neuron=conv1%3A1&step=${step}&model=edge-net`)).json as { score: number };
    expect(Number((await facts(page, 'attribution-map-facts')).score)).toBe(occ.score);

    // The address is shareable: opened afresh it shows the same sample and method.
    const shared = page.url();
    const other = await openPage();
    await other.page.goto(shared.replace('#', `?token=${TOKEN}#`));
    await ready(other.page, 'unit');
    await loaded(other.page, '[data-testid=attribution-map-img]');
    expect(await other.page.getAttribute('[data-testid=attribution-map]', 'data-method')).toBe('occlusion');
    expect(Number((await facts(other.page, 'attribution-map-facts')).score)).toBe(occ.score);
    expect(other.errors).toEqual([]);
    await other.page.close();
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('dashboard pictures: sample view', () => {
  it('Grad-CAM and occlusion for the predicted class at the latest step; another class re-renders; a failing class shows the server message', async () => {
    const step = await latestStep();
    const predictionOf = async (id: number) => (await direct.query<Row>(`SELECT pred, label FROM predictions WHERE dataset = 'edges' AND sample_id = ${id} AND step = ${step}`))[0]!;
    // Sample 5: a vertical edge (fixtureImage), so the maps are not flat.
    let id = 5;
    const predicted = Number((await predictionOf(id)).pred);

    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/sample/edges/${id}`);
    await ready(page, 'sample');
    for (const m of ['gradcam', 'occlusion']) {
      await loaded(page, `[data-testid=map-${m}-img]`);
      expect(Number(await page.getAttribute(`[data-testid=map-${m}]`, 'data-target-class')), m).toBe(predicted);
      const j = (await get(`api/pictures/attribution/${m}/edges/${id}.json`)).json as { score: number; target_class: number; model: { step: number } };
      expect(j.target_class).toBe(predicted);
      expect(j.model.step).toBe(step);
      const shown = await facts(page, `map-${m}-facts`);
      expect(Number(shown.score), m).toBe(j.score);
      expect(Number(shown['target-class'])).toBe(predicted);
    }
    await screenshot(page, 'maps', '[data-testid=maps]');
    await screenshot(page, 'sample-pictures');

    // Another class: the address and both maps follow.
    const otherClass = 1 - predicted;
    await page.selectOption('[data-testid=maps] [data-testid=class]', String(otherClass));
    await page.waitForFunction((c) => location.hash.includes(`class=${c}`), otherClass);
    for (const m of ['gradcam', 'occlusion']) {
      await page.waitForSelector(`[data-testid=map-${m}][data-target-class="${otherClass}"] img[data-testid=map-${m}-img]`);
      await loaded(page, `[data-testid=map-${m}-img]`);
      const j = (await get(`api/pictures/attribution/${m}/edges/${id}.json?class=${otherClass}`)).json as { score: number };
      expect(Number((await facts(page, `map-${m}-facts`)).score), m).toBe(j.score);
    }

    // Sample 7 is labelled 3, not an output of the model (labels 0..3, 2 classes): the server's message is shown.
    id = 7;
    expect(Number((await predictionOf(id)).label)).toBe(3);
    await page.goto(`${server.url}/#/sample/edges/${id}`);
    await page.waitForFunction((want) => document.querySelector('h1 code')?.textContent === want && document.body.dataset.ready === 'sample', `edges:${id}`);
    const bad = await get(`api/pictures/attribution/gradcam/edges/${id}.png?class=3`);
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.status).toBeLessThan(500);
    const message = String(bad.json!.error);
    expect(message).toMatch(/out of range/);
    await page.selectOption('[data-testid=maps] [data-testid=class]', 'label');
    await page.waitForFunction(() => location.hash.includes('class=label'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=maps] [data-testid=render-error]').length === 2);
    for (const t of await page.locator('[data-testid=maps] [data-testid=render-error] [data-testid=error]').allTextContents()) expect(t).toContain(message);
    // Asking again would be refused again: no retry offered.
    expect(await page.locator('[data-testid=maps] [data-testid=retry]').count()).toBe(0);
    await screenshot(page, 'maps-error', '[data-testid=maps]');

    // The page keeps working: back to the prediction, both maps again.
    await page.selectOption('[data-testid=maps] [data-testid=class]', '');
    await page.waitForFunction(() => !location.hash.includes('class='));
    for (const m of ['gradcam', 'occlusion']) await loaded(page, `[data-testid=map-${m}-img]`);
    expect(Number(await page.getAttribute('[data-testid=map-gradcam]', 'data-target-class'))).toBe(Number((await predictionOf(id)).pred));
    // The only console errors: the browser's own note of the refused renders.
    expect(unexpected(errors, [400, 404, 422])).toEqual([]);
    await page.close();
  });
});
