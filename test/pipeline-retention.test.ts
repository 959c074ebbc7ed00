/**
 * Per-layer retention: the same known-answer pipeline run twice, once keeping every per-sample
 * row and once keeping conv1 as a summary and fc as a hash sample of rows. Every named question
 * that both can answer exactly gives the same answer; the ones that need rows say which layer
 * lacks them and how to get them; sketch quantiles are within their stated bound of the exact
 * quantiles of the rows run; the summary store is smaller.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline, type RunSummary } from '../src/pipeline/runner.js';
import { keepsRow, planRetention } from '../src/pipeline/retention.js';
import { Store } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { isNeurolensError } from '../src/errors.js';

const N = 48;
const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? String(v) : v);
let rows: { fx: PipelineFixture; store: Store; summary: RunSummary };
let lean: { fx: PipelineFixture; store: Store; summary: RunSummary };

async function make(name: string, extra = ''): Promise<{ fx: PipelineFixture; store: Store; summary: RunSummary }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `nl-ret-${name}-`));
  const fx = await makePipelineFixture(dir, N, { extra });
  const summary = await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' });
  return { fx, summary, store: await Store.open(fx.store, { readOnly: true }) };
}

async function ask(s: Store, name: string, params: Record<string, string | number | boolean>): Promise<Record<string, unknown>[]> {
  return resultRows(await runQuery(s, await getQuery(name), params)) as Record<string, unknown>[];
}

async function storeBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet')) n += (await fs.stat(path.join(e.parentPath, e.name))).size;
  }
  return n;
}

beforeAll(async () => {
  await setupBackend('wasm');
  rows = await make('rows');
  lean = await make('lean', "retention: { default: summary, layers: { fc: { sample: 0.5 } } }");
}, 180_000);

afterAll(async () => {
  for (const r of [rows, lean]) {
    r?.store.dispose();
    if (r) await fs.rm(r.fx.dir, { recursive: true, force: true });
  }
});

describe('retention', () => {
  it('keeps per layer what the spec says, and records it', async () => {
    expect(rows.summary.retention.map((l) => [l.layer, l.mode])).toEqual([['conv1', 'rows'], ['fc', 'rows'], ['gap', 'rows']]);
    expect(lean.summary.retention.map((l) => [l.layer, l.mode, l.rate ?? null])).toEqual([['conv1', 'summary', null], ['fc', 'sample', 0.5], ['gap', 'summary', null]]);
    const count = async (s: Store, layer: string) => Number((await s.query<{ n: bigint }>(`SELECT count(DISTINCT sample_id) AS n FROM activations WHERE layer = '${layer}' AND step = 0`))[0].n);
    expect(await count(lean.store, 'conv1')).toBe(0);
    const kept = Array.from({ length: N }, (_, i) => i).filter((i) => keepsRow(i, 0.5));
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.length).toBeLessThan(38);
    // The same samples at every checkpoint, so sampled rows join over training.
    for (const step of [0, 100]) {
      const ids = await lean.store.query<{ sample_id: number }>(`SELECT DISTINCT sample_id FROM activations WHERE layer = 'fc' AND step = ${step} ORDER BY 1`);
      expect(ids.map((r) => r.sample_id)).toEqual(kept);
    }
    const rates = await lean.store.query<{ layer: string; r: number }>('SELECT layer, any_value(rows_rate) AS r FROM neuron_stats GROUP BY layer ORDER BY layer');
    expect(rates.map((r) => [r.layer, r.r])).toEqual([['conv1', 0], ['fc', 0.5], ['gap', 0]]);
    expect(await storeBytes(lean.fx.store)).toBeLessThan(await storeBytes(rows.fx.store));
  });

  it('answers the same questions the same way without rows', async () => {
    const same: [string, Record<string, string | number | boolean>][] = [
      ['dead_filters', {}],
      ['dead_filters', { layer: 'conv1', step: 0, eps: 4 }],
      ['sparsity_over_training', {}],
      ['dead_over_training', { layer: 'conv1', eps: 4 }],
      ['layer_summary', {}],
      ['neuron_profile', { layer: 'conv1', channel: 1 }],
      ['class_selectivity', { layer: 'conv1', step: 0 }],
      ['class_selectivity', { layer: 'fc' }],
      ['confusion_neurons', { layer: 'conv1', class_a: 0, class_b: 2, step: 0 }],
      ['top_k_activators', { layer: 'conv1', k: 4 }],
      ['confusions', {}],
    ];
    for (const [q, p] of same) {
      const a = await ask(rows.store, q, p);
      const b = await ask(lean.store, q, p);
      expect(b.length, `${q} ${JSON.stringify(p)}`).toBe(a.length);
      expect(a.length, `${q} answers something`).toBeGreaterThan(0);
      a.forEach((row, i) => {
        for (const [k, v] of Object.entries(row)) {
          const w = b[i][k];
          if (k === 'active_frac' && p.eps !== undefined) continue; // from the sketch: approximate near eps
          if (k === 'uri') continue; // the two stores' datasets live in different temp dirs
          if (typeof v === 'number' && Number.isFinite(v)) expect(w as number, `${q}.${k}`).toBeCloseTo(v, 6);
          else expect(JSON.stringify(w, big), `${q}.${k}`).toBe(JSON.stringify(v, big));
        }
      });
    }
  });

  it('says which layer lacks rows, and how to get them, when a question needs them', async () => {
    const err = async (q: string, p: Record<string, string | number | boolean>) =>
      ask(lean.store, q, p).then(
        () => 'no error',
        (e: unknown) => (isNeurolensError(e) ? `${e.code}: ${e.message}` : String(e)),
      );
    expect(await err('top_k_activators', { layer: 'conv1', k: 9 })).toMatch(
      /^BAD_QUERY: .*layer conv1 keeps no per-sample rows \(retention summary\): the topk table holds 4 samples per neuron; .*retention\.layers: \{ conv1: rows \}/,
    );
    expect(await err('top_k_activators', { layer: 'fc', exact: true })).toMatch(/layer fc keeps a sample of its per-sample rows \(retention sample 0\.5\)/);
    // Within the stored k the summary answers.
    expect((await ask(lean.store, 'top_k_activators', { layer: 'conv1', k: 4, exact: false })).length).toBeGreaterThan(0);
  });

  it('gives per-sample-max quantiles within the sketch bound of the exact ones', async () => {
    for (const q of [0, 0.1, 0.5, 0.9, 1]) {
      const est = await ask(lean.store, 'neuron_quantiles', { layer: 'conv1', step: 0, q });
      const exact = await rows.store.query<{ channel: number; v: number }>(
        `SELECT channel, list_sort(list(max))[CAST(floor(${q} * (count(*) - 1)) AS INTEGER) + 1] AS v FROM activations WHERE layer = 'conv1' AND step = 0 GROUP BY channel ORDER BY channel`,
      );
      expect(est.length).toBe(exact.length);
      est.forEach((r, c) => {
        expect(r.error_bound).toBe(0.01);
        expect(Math.abs((r.value as number) - exact[c].v)).toBeLessThanOrEqual(0.01 * Math.abs(exact[c].v) + 1e-12);
      });
    }
  });

  it('refuses before writing anything when the disk cannot hold the run', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-ret-plan-'));
    const e = await planRetention({ default: 'rows', layers: {} }, [{ layer: 'conv1', channels: 512 }], { samples: 1e12, checkpoints: 50, passes: 1, shardSize: 1024, store: path.join(dir, 'store') }).catch((x: unknown) => x);
    expect(isNeurolensError(e) && e.code).toBe('IO');
    expect((e as Error).message).toMatch(/the run needs about .* Keep summaries only \(retention: \{ default: summary \}\).*Nothing was written/);
    const auto = await planRetention({ default: 'auto', layers: {}, budget: '1MB' }, [{ layer: 'big', channels: 512 }, { layer: 'small', channels: 4 }], { samples: 1000, checkpoints: 2, passes: 1, shardSize: 100, store: dir });
    expect(auto.layers.map((l) => [l.layer, l.retention.mode])).toEqual([['big', 'summary'], ['small', 'rows']]);
    expect(auto.lines.join('\n')).toMatch(/retention auto: per-sample rows of every layer would take .*; summary only for big/);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
