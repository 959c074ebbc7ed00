/**
 * Video clips in the dashboard, in Debian's Chromium (playwright-core) against a real
 * `neurolens serve` over a real store: the video store fixture (H.264 files by ffmpeg, the
 * two-stream network, the real pipeline) plus an image dataset in the same store, so the image
 * views are checked to stay as they were. What the page shows is compared with SQL on the store:
 * the clip facts with the `samples` row, the strip's size with the clip's frames, the clip links
 * with `top_k_activators`, the videos table with `top_k_videos`. No console errors, keyboard
 * works, screenshots are not blank.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import type { RunningServer } from '../src/server/index.js';
import { Store } from '../src/storage/index.js';
import { close, column, openPage, ready, screenshot, openDashboard, type Browser, type Dashboard } from './fixtures/browser.js';
import { makePipelineFixture } from './fixtures/pipeline.js';
import { makeVideoStore, type VideoStore } from './fixtures/video-store.js';

const TOKEN = 'video-dash-9f3';
let tmp: string;
let shots: string;
let vs: VideoStore;
let server: RunningServer;
let direct: Store;
let browser: Browser;
let dash: Dashboard;

type Row = Record<string, unknown>;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-dash-video-'));
  vs = await makeVideoStore(tmp);
  const fx = await makePipelineFixture(tmp, 8);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  dash = await openDashboard(vs.store, tmp, { token: TOKEN });
  ({ server, direct, browser, shots } = dash);
}, 300_000);

afterAll(async () => {
  await dash?.close();
});

async function ask(name: string, params: Record<string, string | number>): Promise<Row[]> {
  return resultRows(await runQuery(direct, await getQuery(name), params));
}

async function goto(page: Page, hash: string, view: string): Promise<void> {
  await page.goto(`${server.url}/?token=${TOKEN}#${hash}`);
  await ready(page, view);
}

/** [complete, naturalWidth, naturalHeight] of an image. */
const natural = (page: Page, testid: string) =>
  page.locator(`[data-testid=${testid}]`).evaluate((i: HTMLImageElement) => [i.complete, i.naturalWidth, i.naturalHeight] as [boolean, number, number]);

/**
 * A page whose console errors are recorded. A unit or sample of a video model must not ask the
 * image picture routes (/api/pictures/: the unit view says to use the CLI's clip renders), so a
 * failed answer there is an error like any other.
 */
async function open(): Promise<{ page: Page; errors: () => string[] }> {
  const { page, errors } = await openPage(browser);
  const pictures: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname.startsWith('/api/pictures/')) pictures.push(`picture request failed: ${r.url()}`);
  });
  return { page, errors: () => [...errors, ...pictures] };
}

const dataValue = (page: Page, testid: string) => page.locator(`[data-testid=${testid}]`).getAttribute('data-value');

describe('dashboard: video clips', () => {
  it('sample view of a clip: the animation, the frame strip (with a motion row on demand) and the clip facts of the samples row', async () => {
    const [s] = await direct.query<Row>(`SELECT * FROM samples WHERE dataset = 'squares' AND video_start > 0 ORDER BY sample_id LIMIT 1`);
    const id = Number(s!.sample_id);
    const { page, errors } = await open();
    await goto(page, `/sample/squares/${id}`, 'sample');
    await page.waitForSelector('[data-testid=clip]');
    const [animDone, animW, animH] = await natural(page, 'clip-anim');
    expect(animDone).toBe(true);
    expect([animW, animH]).toEqual([vs.size, vs.size]);
    expect(await natural(page, 'clip-strip')).toEqual([true, Number(s!.video_frames) * vs.size, vs.size]);
    expect(await page.locator('[data-testid=clip-uri]').getAttribute('data-value')).toBe(String(s!.uri));
    expect(await dataValue(page, 'clip-start')).toBe(String(s!.video_start));
    expect(await dataValue(page, 'clip-frames')).toBe(String(s!.video_frames));
    expect(await dataValue(page, 'clip-stride')).toBe(String(s!.video_stride));
    // The image panel keeps the clip's middle frame, as for every sample.
    expect(await page.locator('[data-testid=sample-img]').evaluate((i: HTMLImageElement) => i.naturalWidth > 0)).toBe(true);
    await screenshot(page, shots, 'video-sample', '[data-testid=clip]');

    // Keyboard: Enter on "Pause" shows the still strip in place of the animation, again plays it.
    await page.locator('[data-testid=clip-play]').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (document.querySelector('[data-testid=clip-anim]') as HTMLImageElement).naturalWidth > 16);
    expect(await page.locator('[data-testid=clip-play]').getAttribute('aria-pressed')).toBe('false');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => (document.querySelector('[data-testid=clip-anim]') as HTMLImageElement).naturalWidth === 16);

    // The motion row doubles the strip's height (the fixture model takes optical flow).
    await page.locator('[data-testid=clip-motion]').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=clip-motion][aria-pressed=true]');
    expect(await natural(page, 'clip-strip')).toEqual([true, Number(s!.video_frames) * vs.size, 2 * vs.size]);
    expect(await page.locator('[data-testid=clip] [data-testid=error]').count()).toBe(0);
    await screenshot(page, shots, 'video-sample-motion', '[data-testid=clip]');
    expect(errors()).toEqual([]);
  });

  it('unit view of a video layer: top-k clip strips (the top_k_activators clips) and the top_k_videos table, linked to the clips', async () => {
    const layer = 'fusion';
    const channel = 1;
    const { page, errors } = await open();
    await goto(page, `/unit/${layer}/${channel}`, 'unit');
    await page.waitForSelector('[data-testid=top-clips]');
    const [done, w, hgt] = await natural(page, 'clips-img');
    expect(done).toBe(true);
    expect(w).toBeGreaterThan(vs.frames * 64);
    expect(hgt).toBeGreaterThan(64);

    const topk = await ask('top_k_activators', { layer, channel, k: 8 });
    const shown = await page.locator('[data-testid=clip-links] a').evaluateAll((as) => as.map((a) => (a as HTMLElement).dataset.sample));
    expect(shown).toEqual(topk.map((r) => String(r.sample_id)));

    const videos = await ask('top_k_videos', { layer, channel, k: 8 });
    expect(videos.length).toBeGreaterThan(1);
    expect(await column(page, 'topk-videos', 'uri')).toEqual(videos.map((v) => String(v.uri)));
    close(await column(page, 'topk-videos', 'value'), videos.map((v) => v.value));
    close(await column(page, 'topk-videos', 'mean_of_clip_max'), videos.map((v) => v.mean_of_clip_max));
    close(await column(page, 'topk-videos', 'best_sample_id'), videos.map((v) => v.best_sample_id));
    close(await column(page, 'topk-videos', 'best_start'), videos.map((v) => v.best_start));
    // Pictures of a clip unit are the CLI's: the panels say which command draws them.
    expect(await page.locator('[data-testid=actmax-video]').textContent()).toContain(`render actmax-clip --store STORE --layer ${layer} --channel ${channel}`);
    expect(await page.locator('[data-testid=attribution-video]').textContent()).toContain(`render clip-attribution gradcam`);
    // The image mosaic of the unit is still there.
    expect(await page.locator('[data-testid=mosaic-img]').evaluate((i: HTMLImageElement) => i.naturalWidth > 0)).toBe(true);
    await screenshot(page, shots, 'video-unit', '[data-testid=top-clips]');

    // Keyboard: the best clip of the top video opens its sample view, which plays it.
    const best = Number(videos[0]!.best_sample_id);
    await page.locator('[data-testid=topk-videos] tbody tr').first().locator('a').focus();
    await page.keyboard.press('Enter');
    await ready(page, 'sample');
    expect(page.url()).toContain(`#/sample/squares/${best}`);
    await page.waitForSelector('[data-testid=clip-strip]');
    expect((await natural(page, 'clip-strip'))[1]).toBe(vs.frames * vs.size);
    expect(errors()).toEqual([]);
  });

  it("a clip of a broken video keeps its facts and shows the server's reason in place of the pictures", async () => {
    const [s] = await direct.query<Row>(`SELECT * FROM samples WHERE dataset = 'squares' AND uri LIKE '%/empty.mp4' ORDER BY sample_id LIMIT 1`);
    const { page, errors } = await open();
    await goto(page, `/sample/squares/${Number(s!.sample_id)}`, 'sample');
    expect(await dataValue(page, 'clip-uri')).toBe(String(s!.uri));
    expect(await dataValue(page, 'clip-frames')).toBe(String(s!.video_frames));
    await expect(page.locator('[data-testid=clip] [data-testid=error]').first().textContent()).resolves.toMatch(/empty\.mp4.*empty/);
    expect(await page.locator('[data-testid=clip-anim]').count()).toBe(0);
    // The broken clip's own failed load (the server's 422) is the only console error.
    expect(errors().filter((e) => !/Failed to load resource: the server responded with a status of 422/.test(e))).toEqual([]);
  });

  it('image datasets in the same store keep their image views: no clip panels', async () => {
    const { page, errors } = await open();
    await goto(page, '/unit/conv1/0?dataset=edges', 'unit');
    expect(await page.locator('[data-testid=mosaic-img]').evaluate((i: HTMLImageElement) => i.naturalWidth > 0)).toBe(true);
    expect(await page.locator('[data-testid=top-clips]').count()).toBe(0);
    await goto(page, '/sample/edges/1', 'sample');
    expect(await page.locator('[data-testid=sample-img]').evaluate((i: HTMLImageElement) => i.naturalWidth > 0)).toBe(true);
    expect(await page.locator('[data-testid=clip]').count()).toBe(0);
    expect(errors()).toEqual([]);
  });
});
