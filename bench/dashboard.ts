/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core) against `neurolens serve`
 * (in-process) over a synthesized store (dashboard-store.ts: `--units` units at `--steps`
 * checkpoints, a 2-D embedding of `--points` samples with predictions and real 16x16 images):
 * - time to first render of the layer view and of the embedding view: navigation to
 *   `body[data-ready=<view>]` (every panel has its data and is drawn) and, for the embedding, to
 *   the first frame after the points were drawn (`scatter:painted` mark). Times are the page's
 *   own (performance.now() from navigation start). Cold = the first visit (the server bundles
 *   the page then), warm = median of `--reps` further visits in fresh tabs.
 * - hover: time from a mouse move to the tooltip, and to its thumbnail decoded (each hover a new
 *   sample, so every thumbnail is fetched), median and p95 of `--hovers`.
 * - smoothness: requestAnimationFrame intervals while dragging (pan: a blit per frame) and
 *   while wheel-zooming (every point drawn again per frame), median and p95; and the cost of
 *   one full draw of every point (`scatter:draw` measures).
 * Prints numbers measured in this one run; asserts nothing.
 *
 *   npx tsx bench/dashboard.ts [--units 512] [--steps 20] [--points 70000] [--reps 5] [--hovers 50]
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer } from '../src/server/index.js';
import { BENCH_LAYER, buildDashboardStore } from './dashboard-store.js';

const { values: args } = parseArgs({
  options: {
    units: { type: 'string', default: '512' },
    steps: { type: 'string', default: '20' },
    points: { type: 'string', default: '70000' },
    reps: { type: 'string', default: '5' },
    hovers: { type: 'string', default: '50' },
    chromium: { type: 'string', default: process.env.NEUROLENS_CHROMIUM ?? '/usr/bin/chromium' },
  },
});
const N = Number(args.points);
const REPS = Number(args.reps);
const HOVERS = Number(args.hovers);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)] ?? NaN;
const p95 = (xs: number[]) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))] ?? NaN;
const ms = (v: number) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;

/** Marks `ready:<view>` when main.ts sets body[data-ready] (the page's own clock). */
function markReady(): void {
  new MutationObserver(() => {
    const v = document.body?.dataset.ready;
    if (v && performance.getEntriesByName(`ready:${v}`).length === 0) performance.mark(`ready:${v}`);
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-ready'] });
}

async function mark(page: Page, name: string): Promise<number> {
  await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, name, { timeout: 300_000, polling: 50 });
  return page.evaluate((n) => performance.getEntriesByName(n)[0]!.startTime, name);
}

async function firstRender(context: BrowserContext, url: string, view: string, painted?: string): Promise<{ ready: number; painted?: number }[]> {
  const out: { ready: number; painted?: number }[] = [];
  for (let r = 0; r <= REPS; r++) {
    const page = await context.newPage();
    await page.goto(url);
    const ready = await mark(page, `ready:${view}`);
    out.push({ ready, painted: painted ? await mark(page, painted) : undefined });
    const errors = await page.locator('[data-testid=error]').count();
    if (errors) console.log(`  ${view}: ${errors} error panel(s): ${await page.locator('[data-testid=error]').first().textContent()}`);
    await page.close();
  }
  return out;
}

function report(name: string, what: string, times: number[]): void {
  const [cold, ...warm] = times;
  console.log(`${name.padEnd(16)} ${what.padEnd(22)} cold ${ms(cold!).padStart(8)}, warm median ${ms(median(warm)).padStart(8)} over ${warm.length}`);
}

interface Mapping {
  size: number;
  left: number;
  top: number;
  w: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  pad: number;
}

async function mapping(page: Page): Promise<Mapping> {
  return page.$eval('[data-testid=embedding-canvas]', (c) => {
    const cv = c as HTMLCanvasElement;
    const b = cv.getBoundingClientRect();
    const d = cv.dataset;
    return { size: cv.width, left: b.left, top: b.top, w: b.width, x0: +d.x0!, x1: +d.x1!, y0: +d.y0!, y1: +d.y1!, pad: +d.pad! };
  });
}

/** Page coordinates of data point (x, y). */
function toPage(m: Mapping, x: number, y: number): [number, number] {
  const inner = m.size - 2 * m.pad;
  const cx = m.pad + ((x - m.x0) * inner) / (m.x1 - m.x0);
  const cy = m.size - m.pad - ((y - m.y0) * inner) / (m.y1 - m.y0);
  return [m.left + (cx * m.w) / m.size, m.top + (cy * m.w) / m.size];
}

// Page-side scripts are strings: tsx wraps named functions in a `__name` helper that does not
// exist in the page.

/**
 * Arms the timer: from the next mousemove on the canvas to the tip of a new sample shown, and to
 * its thumbnail decoded; the result lands in window.__hover (a promise). Armed before the mouse
 * moves (a separate evaluate that returns at once), so the move can never come first; a move
 * that shows no new sample resolves null after 5 s.
 */
const ARM_HOVER = `(() => {
  const canvas = document.querySelector('[data-testid=embedding-canvas]');
  const tip = document.querySelector('[data-testid=embedding-tip]');
  const before = tip.dataset.sample;
  window.__hover = new Promise((resolve) => {
    canvas.addEventListener('mousemove', () => {
      const t0 = performance.now();
      let tipAt = 0;
      const obs = new MutationObserver(() => {
        const img = tip.querySelector('img');
        if (!tipAt && !tip.hidden && tip.dataset.sample && tip.dataset.sample !== before) tipAt = performance.now() - t0;
        if (tipAt && img.dataset.loaded && img.dataset.for === tip.dataset.sample) {
          obs.disconnect();
          resolve({ tip: tipAt, thumb: performance.now() - t0 });
        }
      });
      obs.observe(tip, { attributes: true, subtree: true });
      setTimeout(() => { obs.disconnect(); resolve(null); }, 5000);
    }, { once: true });
  });
  return true;
})()`;

/** Records requestAnimationFrame intervals in window.__frames until window.__on is false. */
const START_FRAMES = `(() => {
  window.__frames = [];
  window.__on = true;
  let last = 0;
  const tick = (t) => {
    window.__frames.push(t - last);
    last = t;
    if (window.__on) requestAnimationFrame(tick);
  };
  requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
})()`;

/** requestAnimationFrame intervals while `act` runs. */
async function frameTimes(page: Page, act: () => Promise<void>): Promise<number[]> {
  await page.evaluate(START_FRAMES);
  await act();
  return page.evaluate('(() => { window.__on = false; return window.__frames; })()');
}

async function interact(context: BrowserContext, url: string, pts: { x: Float32Array; y: Float32Array }): Promise<void> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
  await page.goto(url);
  await mark(page, 'scatter:painted');
  const m = await mapping(page);
  // Hovers over distinct random samples: every thumbnail is a fetch (the cache holds 64).
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const tips: number[] = [];
  const thumbs: number[] = [];
  let missed = 0;
  for (let k = 0; k < HOVERS; k++) {
    const i = Math.floor(rand() * N);
    await page.evaluate(ARM_HOVER);
    await page.mouse.move(...toPage(m, pts.x[i]!, pts.y[i]!));
    const t = (await page.evaluate('window.__hover')) as { tip: number; thumb: number } | null;
    if (t) {
      tips.push(t.tip);
      thumbs.push(t.thumb);
    } else missed++;
  }
  console.log(`hover -> tip          median ${ms(median(tips))}, p95 ${ms(p95(tips))} over ${tips.length}${missed ? ` (${missed} hovers landed on the same sample)` : ''}`);
  console.log(`hover -> thumbnail    median ${ms(median(thumbs))}, p95 ${ms(p95(thumbs))} (fetch with the token + decode)`);

  // Pan: 60 pointer moves over ~1 s, a human drag's pace; the plot blits once per frame.
  const [cx, cy] = [m.left + m.w / 2, m.top + m.w / 2];
  const pan = await frameTimes(page, async () => {
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let k = 1; k <= 60; k++) {
      await page.mouse.move(cx + 3 * k, cy + 2 * k);
      await sleep(16);
    }
    await page.mouse.up();
  });
  console.log(`pan frames            median ${ms(median(pan))}, p95 ${ms(p95(pan))}, max ${ms(Math.max(...pan))} over ${pan.length} frames`);
  // Wheel zoom: every frame draws all the points again at the new scale.
  const zoom = await frameTimes(page, async () => {
    for (let k = 0; k < 40; k++) {
      await page.mouse.wheel(0, k < 20 ? -60 : 60);
      await sleep(16);
    }
  });
  const draws: number[] = await page.evaluate("performance.getEntriesByName('scatter:draw').map((e) => e.duration)");
  console.log(`zoom frames           median ${ms(median(zoom))}, p95 ${ms(p95(zoom))}, max ${ms(Math.max(...zoom))} over ${zoom.length} frames`);
  console.log(`one draw of ${N.toLocaleString()} points  median ${ms(median(draws))}, p95 ${ms(p95(draws))} over ${draws.length} draws`);
  await page.close();
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-bench-dash-'));
const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-bench-chromium-'));
try {
  const t0 = performance.now();
  const pts = await buildDashboardStore(path.join(dir, 'store'), { units: Number(args.units), steps: Number(args.steps), points: N });
  console.log(`store: ${args.units} units x ${args.steps} steps, ${N.toLocaleString()} embedding points with predictions and images (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(`load before: ${(await fs.readFile('/proc/loadavg', 'utf8').catch(() => 'n/a')).trim()}; ${os.cpus().length} cores`);
  const server = await startServer({ store: path.join(dir, 'store'), port: 0, rowLimit: Math.max(100_000, N) });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  try {
    await context.addInitScript(markReady);
    const layer = await firstRender(context, `${server.url}/#/layer/${BENCH_LAYER}`, 'layer');
    report('layer view', 'to data-ready', layer.map((t) => t.ready));
    const embUrl = `${server.url}/#/embedding/${BENCH_LAYER}?method=pca`;
    const emb = await firstRender(context, embUrl, 'embedding', 'scatter:painted');
    report('embedding view', 'to data-ready', emb.map((t) => t.ready));
    report('embedding view', 'to first painted frame', emb.map((t) => t.painted!));
    await interact(context, embUrl, pts);
  } finally {
    await context.close();
    await server.close();
  }
  console.log(`load after: ${(await fs.readFile('/proc/loadavg', 'utf8').catch(() => 'n/a')).trim()}`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(profile, { recursive: true, force: true });
}
