/**
 * Time to first render of the dashboard's layer view and embedding view in a real browser
 * (Debian's Chromium via playwright-core) against `neurolens serve` (in-process) over a
 * synthesized store: one layer of `--units` (512) units at `--steps` (20) checkpoints (neuron_stats
 * and class_stats over 10 classes) and a 2-D embedding of `--points` (100 000) samples.
 * "Rendered" = `body[data-ready=<view>]`: every panel has its data and is drawn. Cold = the first
 * visit (the bundle is built by the server then; the server caches named answers after), warm =
 * median of `--reps` (5) further visits in fresh tabs. Prints, does not assert.
 *
 *   npx tsx bench/dashboard.ts [--units 512] [--steps 20] [--points 100000] [--reps 5]
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startServer } from '../src/server/index.js';
import { writeFinalPart, writeTablePart } from '../src/storage/index.js';
import { mulberry32 } from '../src/train/prng.js';

const { values: args } = parseArgs({
  options: {
    units: { type: 'string', default: '512' },
    steps: { type: 'string', default: '20' },
    points: { type: 'string', default: '100000' },
    reps: { type: 'string', default: '5' },
    chromium: { type: 'string', default: process.env.NEUROLENS_CHROMIUM ?? '/usr/bin/chromium' },
  },
});
const C = Number(args.units);
const S = Number(args.steps);
const N = Number(args.points);
const REPS = Number(args.reps);
const DM = { dataset: 'synth', model: 'bench-net' };
const LAYER = 'conv5';
const CLASSES = 10;

async function buildStore(store: string): Promise<void> {
  const rand = mulberry32(7);
  await writeTablePart(store, 'samples', { dataset: DM.dataset }, 'part-0.parquet', {
    sample_id: Int32Array.from({ length: N }, (_, i) => i),
    uri: Array.from({ length: N }, (_, i) => `synth://${i}`),
    label: Int32Array.from({ length: N }, (_, i) => i % CLASSES),
    split: Array.from({ length: N }, () => 'test'),
  });
  for (let s = 0; s < S; s++) {
    const step = s * 100;
    const part = { ...DM, step, layer: LAYER };
    const zf = Float64Array.from({ length: C }, (_, c) => Math.min(1, 0.2 + (0.6 * s) / S + 0.2 * rand() + (c % 7 === 0 ? 0.3 : 0)));
    const max = Float32Array.from(zf, (z) => (z >= 1 ? 0 : 1 + 5 * rand()));
    const mean = Float64Array.from(max, (m) => m * 0.3);
    await writeFinalPart(store, 'neuron_stats', part, {
      channel: Int32Array.from({ length: C }, (_, c) => c),
      count: BigInt64Array.from({ length: C }, () => BigInt(N)),
      positions: BigInt64Array.from({ length: C }, () => BigInt(N * 49)),
      mean,
      std: Float64Array.from(mean, (m) => m * 0.5),
      min: new Float32Array(C),
      max,
      zero_frac: zf,
      active_frac: Float64Array.from(zf, (z) => 1 - z),
      dead: Array.from(max, (m) => m <= 0),
      m2: new Float64Array(C),
      zero_count: BigInt64Array.from(zf, (z) => BigInt(Math.round(z * N * 49))),
      active_count: BigInt64Array.from(zf, (z) => BigInt(Math.round((1 - z) * N))),
    });
    const rows = C * CLASSES;
    await writeFinalPart(store, 'class_stats', part, {
      channel: Int32Array.from({ length: rows }, (_, r) => Math.floor(r / CLASSES)),
      label: Int32Array.from({ length: rows }, (_, r) => r % CLASSES),
      count: BigInt64Array.from({ length: rows }, () => BigInt(N / CLASSES)),
      mean: Float64Array.from({ length: rows }, () => rand()),
      m2: new Float64Array(rows),
      sum_max: new Float64Array(rows),
      max: new Float32Array(rows),
      active_count: new BigInt64Array(rows),
    });
  }
  const x = new Float32Array(N);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const a = (2 * Math.PI * (i % CLASSES)) / CLASSES;
    x[i] = 5 * Math.cos(a) + rand() * 2;
    y[i] = 5 * Math.sin(a) + rand() * 2;
  }
  await writeFinalPart(store, 'embeddings', { ...DM, step: (S - 1) * 100, layer: LAYER }, {
    method: Array.from({ length: N }, () => 'pca'),
    params: Array.from({ length: N }, () => '{}'),
    sample_id: Int32Array.from({ length: N }, (_, i) => i),
    x,
    y,
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-bench-dash-'));
const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-bench-chromium-'));
try {
  const t0 = performance.now();
  await buildStore(path.join(dir, 'store'));
  console.log(`store: ${C} units x ${S} steps, ${N.toLocaleString()} embedding points (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const server = await startServer({ store: path.join(dir, 'store'), port: 0, rowLimit: Math.max(100_000, N) });
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const views: [string, string, string][] = [
      ['layer view', `#/layer/${LAYER}`, 'layer'],
      ['embedding view', `#/embedding/${LAYER}?method=pca`, 'embedding'],
    ];
    for (const [name, hash, ready] of views) {
      const times: number[] = [];
      for (let r = 0; r <= REPS; r++) {
        const page = await browser.newPage();
        const start = performance.now();
        await page.goto(`${server.url}/${hash}`);
        await page.waitForSelector(`body[data-ready="${ready}"]`, { timeout: 300_000 });
        times.push(performance.now() - start);
        const errors = await page.locator('[data-testid=error]').count();
        if (errors) console.log(`  ${name}: ${errors} error panel(s): ${await page.locator('[data-testid=error]').first().textContent()}`);
        await page.close();
      }
      const [cold, ...warm] = times;
      console.log(`${name.padEnd(15)} first render: cold ${cold!.toFixed(0)} ms (bundle + queries), warm median ${median(warm).toFixed(0)} ms over ${warm.length}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(profile, { recursive: true, force: true });
}
