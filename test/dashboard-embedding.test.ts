/**
 * The dashboard's embedding view in Chromium (playwright-core) against a real `neurolens serve`
 * over a store made by a real pipeline run with an `embed:` section: hover thumbnails, colouring
 * by label / prediction / correct vs wrong, zoom and pan, the keyboard. What the page shows is
 * compared with SQL on the store and with positions computed here from the canvas's exposed
 * data-to-pixel mapping. One extra embedding partition at step 150 (a copy of step 100's layout)
 * has no predictions of its own: the view must colour it by the predictions of step 100.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { ranPipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { openPage as open, ready, screenshot as shot, openDashboard, type Browser, type Dashboard } from './fixtures/browser.js';
import { Store, writeFinalPart } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import type { RunningServer } from '../src/server/index.js';

const N = 40;
const TOKEN = 'emb-token-31f9';
const DM = { dataset: 'edges', model: 'edge-net' };

let fx: PipelineFixture;
let server: RunningServer;
let direct: Store;
let browser: Browser;
let dash: Dashboard;
let shots: string;

type Row = Record<string, unknown>;
type Px = readonly [number, number];

const openPage = () => open(browser);
const screenshot = (page: Page, name: string, selector?: string) => shot(page, shots, name, selector);

/** Step 150: step 100's layout again, with no predictions at step 150. */
async function addStepWithoutPredictions(store: string): Promise<void> {
  const s = await Store.open(store, { readOnly: true });
  try {
    const rows = await s.query<Row>("SELECT method, params, sample_id, x, y FROM embeddings WHERE layer = 'gap' AND step = 100 ORDER BY sample_id");
    expect(rows.length).toBe(N);
    await writeFinalPart(store, 'embeddings', { ...DM, step: 150, layer: 'gap' }, {
      method: rows.map((r) => String(r.method)),
      params: rows.map((r) => String(r.params)),
      sample_id: Int32Array.from(rows, (r) => Number(r.sample_id)),
      x: Float32Array.from(rows, (r) => Number(r.x)),
      y: Float32Array.from(rows, (r) => Number(r.y)),
    });
  } finally {
    s.dispose();
  }
}

beforeAll(async () => {
  fx = await ranPipelineFixture('dash-emb', N, { extra: 'embed: [{ layer: gap, method: pca }]' });
  await addStepWithoutPredictions(fx.store);
  dash = await openDashboard(fx.store, fx.dir, { token: TOKEN });
  ({ server, direct, browser, shots } = dash);
}, 240_000);

afterAll(async () => {
  await dash?.close();
});

/** The points in the order the embedding_points query (and the plot) has them. */
async function points(step: number): Promise<Row[]> {
  return resultRows(await runQuery(direct, await getQuery('embedding_points'), { layer: 'gap', method: 'pca', step }));
}

interface Mapping {
  size: number;
  left: number;
  top: number;
  w: number;
  hgt: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  pad: number;
  zoom: number;
}

async function mapping(page: Page): Promise<Mapping> {
  const canvas = page.locator('[data-testid=embedding-canvas]');
  await canvas.scrollIntoViewIfNeeded();
  return canvas.evaluate((c: HTMLCanvasElement) => {
    const b = c.getBoundingClientRect();
    const d = c.dataset;
    return { size: c.width, left: b.left, top: b.top, w: b.width, hgt: b.height, x0: +d.x0!, x1: +d.x1!, y0: +d.y0!, y1: +d.y1!, pad: +d.pad!, zoom: +d.zoom! };
  });
}

/** Canvas pixel of each point under the mapping the page exposes. */
function pixels(m: Mapping, pts: Row[]): Px[] {
  const sx = (m.size - 2 * m.pad) / (m.x1 - m.x0);
  const sy = (m.size - 2 * m.pad) / (m.y1 - m.y0);
  return pts.map((p) => [m.pad + (Number(p.x) - m.x0) * sx, m.size - m.pad - (Number(p.y) - m.y0) * sy] as const);
}

/** Canvas pixel -> page (viewport) coordinates for the mouse. */
const onPage = (m: Mapping, [x, y]: Px): Px => [m.left + (x * m.w) / m.size, m.top + (y * m.hgt) / m.size];
const dist = (a: Px, b: Px) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** A point with no other point within `r` canvas pixels but those at its very place; its id is the first drawn there. */
function isolated(px: Px[], pts: Row[], r: number, inside: (p: Px) => boolean = () => true): { i: number; id: number } {
  const i = px.findIndex((a) => inside(a) && px.every((b) => dist(a, b) < 0.01 || dist(a, b) > r));
  expect(i, `no point of the fixture is ${r} px away from the others`).toBeGreaterThanOrEqual(0);
  return { i, id: Number(pts[px.findIndex((b) => dist(px[i]!, b) < 0.01)]!.sample_id) };
}

/** A canvas pixel with no point within `r` pixels. */
function emptySpot(px: Px[], size: number, r: number): Px {
  for (let y = 20; y < size - 20; y += 7) for (let x = 20; x < size - 20; x += 7) if (px.every((p) => dist(p, [x, y]) > r)) return [x, y];
  throw new Error('no empty spot on the canvas');
}

const tip = (id: number) => `[data-testid=embedding-tip][data-sample="${id}"]:not([hidden])`;

async function expectTipWithThumb(page: Page, id: number): Promise<void> {
  await page.waitForSelector(tip(id));
  const img = page.locator(`${tip(id)} img[data-for="${id}"][data-loaded]`);
  await img.waitFor();
  expect(await img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0)).toBe(true);
}

async function legend(page: Page, mode: string): Promise<Map<string, number>> {
  await page.waitForSelector(`[data-testid=embedding-legend][data-colour=${mode}]`);
  const items = await page.$$eval('[data-testid=embedding-legend] li', (ls) => ls.map((l) => [(l as HTMLElement).dataset.label!, Number((l as HTMLElement).dataset.count)] as const));
  return new Map(items);
}

describe('dashboard: embedding view in Chromium', () => {
  it('hover: the nearest point (from the canvas mapping and SQL) shows its thumbnail, label and prediction; moving away hides it', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/embedding/gap?method=pca&step=100`);
    await ready(page, 'embedding');
    const pts = await points(100);
    expect(Number(await page.getAttribute('[data-testid=embedding-canvas]', 'data-points'))).toBe(N);
    const m = await mapping(page);
    expect(m.zoom).toBe(1);
    const px = pixels(m, pts);
    const { i, id } = isolated(px, pts, 12);
    // Two pixels off the point: still the nearest within the hover radius.
    await page.mouse.move(...onPage(m, [px[i]![0] + 2, px[i]![1] - 1]));
    await expectTipWithThumb(page, id);
    const [want] = await direct.query<Row>(`SELECT s.label, p.pred FROM samples s LEFT JOIN predictions p ON p.dataset = s.dataset AND p.sample_id = s.sample_id AND p.step = 100 WHERE s.dataset = 'edges' AND s.sample_id = ${id}`);
    const text = await page.locator(tip(id)).textContent();
    expect(text).toContain(`sample ${id}`);
    expect(text).toContain(`label: class ${want!.label}`);
    expect(text).toContain(`predicted: class ${want!.pred}`);
    expect(await page.locator('[data-testid=embedding-status]').textContent()).toContain(`sample ${id}`);
    await screenshot(page, 'embedding-hover', '.scatter');

    // A spot with no point within 12 px: no tip.
    await page.mouse.move(...onPage(m, emptySpot(px, m.size, 12)));
    await page.waitForSelector('[data-testid=embedding-tip]', { state: 'hidden' });
    // Back on the point, then off the canvas: hidden again.
    await page.mouse.move(...onPage(m, px[i]!));
    await page.waitForSelector(tip(id));
    await page.mouse.move(5, 5);
    await page.waitForSelector('[data-testid=embedding-tip]', { state: 'hidden' });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('colour by prediction and by correct vs wrong: legend counts equal SQL; the choice is in the address; a step without predictions uses the latest before it', async () => {
    const { page, errors } = await openPage();
    // The default step is the latest (150), which has no predictions of its own.
    await page.goto(`${server.url}/?token=${TOKEN}#/embedding/gap?method=pca`);
    await ready(page, 'embedding');
    expect(await page.getAttribute('[data-testid=embedding-pred-step]', 'data-value')).toBe('100');
    expect(await page.locator('[data-testid=embedding-pred-step]').textContent()).toContain('latest at or before');
    const byLabel = await direct.query<Row>("SELECT coalesce(s.label, -1) AS k, count(*) AS n FROM embeddings e LEFT JOIN samples s USING (dataset, sample_id) WHERE e.layer = 'gap' AND e.method = 'pca' AND e.step = 150 GROUP BY ALL");
    expect(await legend(page, 'label')).toEqual(new Map(byLabel.map((r) => [String(r.k), Number(r.n)])));

    const predAt = `(SELECT max(step) FROM predictions WHERE dataset = 'edges' AND step <= 150)`;
    const joined = `FROM embeddings e LEFT JOIN samples s USING (dataset, sample_id)
      LEFT JOIN predictions p ON p.dataset = e.dataset AND p.model = e.model AND p.sample_id = e.sample_id AND p.step = ${predAt}
      WHERE e.layer = 'gap' AND e.method = 'pca' AND e.step = 150`;
    expect(Number((await direct.query<Row>(`SELECT ${predAt} AS s`))[0]!.s)).toBe(100);
    const byPred = await direct.query<Row>(`SELECT coalesce(p.pred, -1) AS k, count(*) AS n ${joined} GROUP BY ALL`);
    expect(byPred.every((r) => Number(r.k) >= 0)).toBe(true);
    await page.selectOption('[data-testid=embedding-colour]', 'pred');
    expect(await legend(page, 'pred')).toEqual(new Map(byPred.map((r) => [String(r.k), Number(r.n)])));
    expect(decodeURIComponent(page.url())).toContain('colour=pred');
    await screenshot(page, 'embedding-by-pred', '[data-testid=embedding-canvas]');

    const [cw] = await direct.query<Row>(`SELECT count(*) FILTER (p.pred = s.label) AS correct, count(*) FILTER (p.pred <> s.label) AS wrong, count(*) AS n ${joined}`);
    expect(Number(cw!.correct) + Number(cw!.wrong)).toBe(N);
    // Keyboard: the select changes with the arrow keys too.
    await page.locator('[data-testid=embedding-colour]').focus();
    await page.keyboard.press('ArrowDown');
    const want = new Map<string, number>();
    if (Number(cw!.correct) > 0) want.set('correct', Number(cw!.correct));
    if (Number(cw!.wrong) > 0) want.set('wrong', Number(cw!.wrong));
    expect(await legend(page, 'correct')).toEqual(want);
    expect(decodeURIComponent(page.url())).toContain('colour=correct');
    // The address alone restores the choice.
    await page.reload();
    await ready(page, 'embedding');
    expect(await legend(page, 'correct')).toEqual(want);
    expect(await page.locator('[data-testid=embedding-colour]').inputValue()).toBe('correct');

    // At step 100 the predictions are the embedding's own step's.
    await page.goto(`${server.url}/#/embedding/gap?method=pca&step=100&colour=pred`);
    await ready(page, 'embedding');
    expect(await page.getAttribute('[data-testid=embedding-pred-step]', 'data-value')).toBe('100');
    expect(await page.locator('[data-testid=embedding-pred-step]').textContent()).toContain("the embedding's step");
    await screenshot(page, 'embedding-colour');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('zoom and pan: hover and click hit the right point under the new mapping; reset restores the mapping', async () => {
    const { page, errors } = await openPage();
    const url = `${server.url}/?token=${TOKEN}#/embedding/gap?method=pca&step=100`;
    await page.goto(url);
    await ready(page, 'embedding');
    const pts = await points(100);
    const m0 = await mapping(page);
    const px0 = pixels(m0, pts);
    const mid = m0.size / 2;
    // A point away from the edges; the wheel 30 px beside it, towards the middle: zoomed about
    // the pointer, the point moves outwards by the zoom factor but stays on the canvas.
    const { i, id } = isolated(px0, pts, 12, ([x, y]) => Math.min(x, y, m0.size - x, m0.size - y) > 120);
    const o: Px = [px0[i]![0] < mid ? 30 : -30, px0[i]![1] < mid ? 30 : -30];
    const cursor: Px = [px0[i]![0] + o[0], px0[i]![1] + o[1]];
    await page.mouse.move(...onPage(m0, cursor));
    await page.mouse.wheel(0, -400);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid=embedding-canvas]')!.dataset.zoom) > 1);
    const m1 = await mapping(page);
    expect(m1.zoom).toBeGreaterThan(1.5);
    const px1 = pixels(m1, pts);
    // Zoom about the pointer: a point moves away from it by the zoom factor (the browser rounds
    // the pointer to whole CSS pixels: half a pixel, times the zoom).
    const slack = (0.5 * m1.zoom * m1.size) / m1.w + 0.5;
    expect(Math.abs(px1[i]![0] - (cursor[0] + (px0[i]![0] - cursor[0]) * m1.zoom))).toBeLessThan(slack);
    expect(Math.abs(px1[i]![1] - (cursor[1] + (px0[i]![1] - cursor[1]) * m1.zoom))).toBeLessThan(slack);
    expect(dist(px1[i]!, cursor)).toBeGreaterThan(40);
    await page.mouse.move(...onPage(m1, px1[i]!));
    await expectTipWithThumb(page, id);

    // Drag to pan: the mapping shifts by the drag, the drag is not a click, hover follows.
    const from = emptySpot(px1, m1.size, 15);
    await page.mouse.move(...onPage(m1, from));
    await page.mouse.down();
    await page.mouse.move(...onPage(m1, [from[0] + 25, from[1] + 15]), { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((x0) => Number(document.querySelector<HTMLElement>('[data-testid=embedding-canvas]')!.dataset.x0) !== x0, m1.x0);
    const m2 = await mapping(page);
    const sx = (m1.size - 2 * m1.pad) / (m1.x1 - m1.x0);
    const sy = (m1.size - 2 * m1.pad) / (m1.y1 - m1.y0);
    expect(Math.abs((m1.x0 - m2.x0) * sx - (25 * m1.size) / m1.w)).toBeLessThan(1);
    expect(Math.abs((m2.y0 - m1.y0) * sy - (15 * m1.size) / m1.hgt)).toBeLessThan(1);
    expect(m2.zoom).toBeCloseTo(m1.zoom, 9);
    expect(await page.evaluate(() => document.body.dataset.ready)).toBe('embedding');
    const px2 = pixels(m2, pts);
    await page.mouse.move(...onPage(m2, px2[i]!));
    await expectTipWithThumb(page, id);
    await screenshot(page, 'embedding-zoomed', '.scatter');

    // Reset: exactly the first mapping again; hover at the first position finds the point.
    await page.click('[data-testid=embedding-reset]');
    await page.waitForFunction(() => document.querySelector<HTMLElement>('[data-testid=embedding-canvas]')!.dataset.zoom === '1');
    const m3 = await mapping(page);
    expect([m3.x0, m3.x1, m3.y0, m3.y1, m3.pad]).toEqual([m0.x0, m0.x1, m0.y0, m0.y1, m0.pad]);
    await page.mouse.move(...onPage(m3, px0[i]!));
    await page.waitForSelector(tip(id));

    // Zoomed again, a click on the point's new place opens its sample.
    await page.mouse.move(...onPage(m3, cursor));
    await page.mouse.wheel(0, -400);
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('[data-testid=embedding-canvas]')!.dataset.zoom) > 1);
    const m4 = await mapping(page);
    const at = pixels(m4, pts)[i]!;
    await page.mouse.click(...onPage(m4, at));
    await ready(page, 'sample');
    expect(decodeURIComponent(page.url())).toContain(`#/sample/edges/${id}?layer=gap`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('keyboard: the plot takes focus, arrows move to the nearest point on screen in that direction, Enter opens it', async () => {
    const { page, errors } = await openPage();
    await page.goto(`${server.url}/?token=${TOKEN}#/embedding/gap?method=pca&step=100`);
    await ready(page, 'embedding');
    const pts = await points(100);
    const m = await mapping(page);
    const px = pixels(m, pts);
    // The same rules computed here: first key = nearest the middle; then the nearest in the
    // 90-degree cone around the arrow's direction (ties: the first point).
    const nearest = (q: Px, ok: (j: number) => boolean) => {
      let best = -1;
      let bestD = Infinity;
      px.forEach((p, j) => {
        const d = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2;
        if (ok(j) && d < bestD - 1e-6) [best, bestD] = [j, d];
      });
      return best;
    };
    const toward = (from: number, [dx, dy]: Px) =>
      nearest(px[from]!, (j) => {
        const vx = px[j]![0] - px[from]![0], vy = px[j]![1] - px[from]![1];
        const along = vx * dx + vy * dy;
        return along > 1e-4 && Math.abs(vx * dy - vy * dx) <= along;
      });
    await page.locator('[data-testid=embedding-canvas]').focus();
    await page.keyboard.press('ArrowRight');
    let cur = nearest([m.size / 2, m.size / 2], () => true);
    await page.waitForSelector(tip(Number(pts[cur]!.sample_id)));
    for (const [key, dir] of [['ArrowRight', [1, 0]], ['ArrowUp', [0, -1]], ['ArrowLeft', [-1, 0]], ['ArrowDown', [0, 1]]] as const) {
      const next = toward(cur, dir);
      await page.keyboard.press(key);
      if (next >= 0) cur = next;
      await page.waitForSelector(tip(Number(pts[cur]!.sample_id)));
    }
    const id = Number(pts[cur]!.sample_id);
    expect(await page.locator('[data-testid=embedding-status]').textContent()).toContain(`sample ${id}`);
    await page.keyboard.press('Enter');
    await ready(page, 'sample');
    expect(decodeURIComponent(page.url())).toContain(`#/sample/edges/${id}?layer=gap`);
    expect(errors).toEqual([]);
    await page.close();
  });
});
