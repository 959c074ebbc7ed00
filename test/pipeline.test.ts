/**
 * End-to-end pipeline on a known-answer model: the hand-set edge net over generated 8x8
 * images, two checkpoints. Every stored statistic is compared with a plain-JS reference.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, fixtureImage, referenceConv1, CHECKPOINT_SCALES, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';

const N = 40;
let fx: PipelineFixture;
let store: Store;

interface Ref {
  max: number;
  mean: number;
  min: number;
  zeroFrac: number;
  argmax: [number, number];
  sq: number;
}

function reference(i: number, scale: number): Ref[] {
  const out = referenceConv1(fixtureImage(i), scale);
  const refs: Ref[] = [];
  for (let f = 0; f < 3; f++) {
    let max = -Infinity;
    let min = Infinity;
    let sum = 0;
    let sq = 0;
    let zeros = 0;
    let arg: [number, number] = [0, 0];
    for (let p = 0; p < 36; p++) {
      const v = out[p * 3 + f];
      if (v > max) {
        max = v;
        arg = [Math.floor(p / 6), p % 6];
      }
      min = Math.min(min, v);
      sum += v;
      sq += v * v;
      if (v === 0) zeros++;
    }
    refs.push({ max, mean: sum / 36, min, zeroFrac: zeros / 36, argmax: arg, sq: sq / 36 });
  }
  return refs;
}

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-pipe-'));
  fx = await makePipelineFixture(dir, N);
  const summary = await runPipeline(await loadSpec(fx.specFile), { workers: 2, backend: 'wasm' });
  expect(summary.status).toBe('succeeded');
  expect(summary.checkpoints.map((c) => c.step)).toEqual([0, 100]);
  store = await Store.open(fx.store, { readOnly: true });
}, 120_000);

afterAll(() => store?.dispose());

describe('pipeline known answers', () => {
  it('stores per-sample max, mean, zero_frac and argmax of conv1 exactly', async () => {
    const rows = await store.query<{ step: bigint; sample_id: number; channel: number; max: number; mean: number; zero_frac: number; argmax_y: number; argmax_x: number }>(
      "SELECT step, sample_id, channel, max, mean, zero_frac, argmax_y, argmax_x FROM activations WHERE layer = 'conv1' ORDER BY step, sample_id, channel",
    );
    expect(rows.length).toBe(2 * N * 3);
    for (const r of rows) {
      const ref = reference(r.sample_id, CHECKPOINT_SCALES[Number(r.step)])[r.channel];
      expect(r.max).toBeCloseTo(ref.max, 4);
      expect(r.mean).toBeCloseTo(ref.mean, 4);
      expect(r.zero_frac).toBeCloseTo(ref.zeroFrac, 6);
      if (ref.max > 0) {
        // First maximum in row-major order, as the reference scans.
        expect([r.argmax_y, r.argmax_x]).toEqual(ref.argmax);
      }
    }
  });

  it('neuron_stats match a single pass over the reference, with the killed filter dead', async () => {
    for (const step of [0, 100]) {
      const scale = CHECKPOINT_SCALES[step];
      const ns = await store.query<{ channel: number; count: bigint; positions: bigint; mean: number; std: number; min: number; max: number; zero_frac: number; active_frac: number; dead: boolean }>(
        "SELECT * FROM neuron_stats WHERE layer = 'conv1' AND step = $step ORDER BY channel",
        { step },
      );
      expect(ns.length).toBe(3);
      for (const r of ns) {
        const refs = Array.from({ length: N }, (_, i) => reference(i, scale)[r.channel]);
        const mean = refs.reduce((s, x) => s + x.mean, 0) / N;
        const sq = refs.reduce((s, x) => s + x.sq, 0) / N;
        expect(Number(r.count)).toBe(N);
        expect(Number(r.positions)).toBe(N * 36);
        expect(r.mean).toBeCloseTo(mean, 4);
        expect(r.std).toBeCloseTo(Math.sqrt(Math.max(0, sq - mean * mean)), 3);
        expect(r.max).toBeCloseTo(Math.max(...refs.map((x) => x.max)), 4);
        expect(r.min).toBeCloseTo(Math.min(...refs.map((x) => x.min)), 4);
        expect(r.zero_frac).toBeCloseTo(refs.reduce((s, x) => s + x.zeroFrac, 0) / N, 6);
        expect(r.active_frac).toBeCloseTo(refs.filter((x) => x.max > 0).length / N, 6);
        expect(r.dead).toBe(r.channel === 2);
      }
    }
  });

  it('topk holds the k highest samples per channel with sample-id tie-break, equal to SQL over activations', async () => {
    const topk = await store.query<{ channel: number; rank: number; value: number; sample_id: number }>(
      "SELECT channel, rank, value, sample_id FROM topk WHERE layer = 'conv1' AND step = 0 ORDER BY channel, rank",
    );
    expect(topk.length).toBe(3 * 4);
    for (let c = 0; c < 3; c++) {
      const ref = Array.from({ length: N }, (_, i) => ({ id: i, v: Math.fround(reference(i, 1)[c].max) }))
        .sort((a, b) => b.v - a.v || a.id - b.id)
        .slice(0, 4);
      const got = topk.filter((r) => r.channel === c);
      expect(got.map((r) => r.sample_id)).toEqual(ref.map((r) => r.id));
    }
    const sqlTop = await store.query<{ channel: number; sample_id: number }>(
      `SELECT channel, sample_id FROM (SELECT channel, sample_id, row_number() OVER (PARTITION BY channel ORDER BY max DESC, sample_id) AS r
       FROM activations WHERE layer = 'conv1' AND step = 0) WHERE r <= 4 ORDER BY channel, r`,
    );
    expect(sqlTop.map((r) => [r.channel, r.sample_id])).toEqual(topk.map((r) => [r.channel, r.sample_id]));
  });

  it('stores codes (global average pooling), predictions with labels, and the samples table', async () => {
    const codes = await store.query<{ sample_id: number; code: number[] }>("SELECT sample_id, code FROM codes WHERE layer = 'gap' AND step = 100 ORDER BY sample_id");
    expect(codes.length).toBe(N);
    for (const r of codes.slice(0, 8)) {
      const refs = reference(r.sample_id, 2);
      expect(r.code.length).toBe(3);
      r.code.forEach((v, c) => expect(v).toBeCloseTo(refs[c].mean, 4));
    }
    const preds = await store.query<{ n: bigint; labels: bigint }>('SELECT count(*) AS n, count(DISTINCT label) AS labels FROM predictions WHERE step = 0');
    expect(Number(preds[0].n)).toBe(N);
    expect(Number(preds[0].labels)).toBe(4);
    // The true label's probability: a probability, and the top-1's own when the prediction is right.
    const lp = await store.query<Record<string, unknown>>(
      'SELECT count(label_prob) AS n, min(label_prob) AS lo, max(label_prob) AS hi, max(abs(label_prob - prob)) FILTER (WHERE pred = label) AS right_diff, max(label_prob - prob) AS over FROM predictions WHERE step = 0',
    );
    // The edge net has 2 outputs and the labels are 0..3: labels 2 and 3 name no output (NULL).
    expect(Number(lp[0]!.n)).toBe(Array.from({ length: N }, (_, i) => i % 4).filter((l) => l < 2).length);
    expect(Number(lp[0]!.lo)).toBeGreaterThanOrEqual(0);
    expect(Number(lp[0]!.hi)).toBeLessThanOrEqual(1);
    expect(Number(lp[0]!.over)).toBeLessThanOrEqual(1e-6);
    // NULL would mean no right prediction at step 0, and the bound would check nothing.
    expect(lp[0]!.right_diff, 'fixture: some step-0 predictions are right').not.toBeNull();
    expect(Number(lp[0]!.right_diff)).toBeLessThan(1e-6);
    const samples = await store.query<{ n: bigint }>("SELECT count(*) AS n FROM samples WHERE dataset = 'edges' AND split = 'test'");
    expect(Number(samples[0].n)).toBe(N);
  });

  it('resume skips committed shards and a --no-resume re-run replaces rows without duplicates', async () => {
    const loaded = await loadSpec(fx.specFile);
    const again = await runPipeline(loaded, { workers: 1, backend: 'wasm' });
    expect(again.checkpoints.every((c) => c.shards === 0 && c.skipped === 3)).toBe(true);
    const before = await store.query("SELECT * FROM neuron_stats WHERE layer = 'conv1' ORDER BY step, channel");
    await runPipeline(loaded, { workers: 1, backend: 'wasm', resume: false, checkpoints: 'ckpts/ckpt-000100' });
    const n = await store.query<{ n: bigint; d: bigint }>("SELECT count(*) AS n, count(DISTINCT (step, sample_id, channel)) AS d FROM activations WHERE layer = 'conv1'");
    expect(Number(n[0].n)).toBe(2 * N * 3);
    expect(Number(n[0].d)).toBe(2 * N * 3);
    const after = await store.query("SELECT * FROM neuron_stats WHERE layer = 'conv1' ORDER BY step, channel");
    expect(after).toEqual(before);
  });
});
