/**
 * Every named query against the known-answer pipeline store (the hand-set edge net over
 * generated images, checkpoints 0 and 100): expected answers come from the plain-JS reference
 * (fixtures/query-reference.ts) or from the precomputed tables the query must agree with.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { LAYER_UNITS, STEPS, code, cosineDistance, label, mean, prediction, range, units, varSamp } from './fixtures/query-reference.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store, commitShard, writeFinalPart, writeTablePart, floatList } from '../src/storage/index.js';
import { bindParams, getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { NeurolensError } from '../src/errors.js';

const N = 40;
const ids = range(N);
let fx: PipelineFixture;
let store: Store;

type Row = Record<string, any>;
async function run(name: string, params: Record<string, string | number | boolean | null> = {}): Promise<Row[]> {
  return resultRows(await runQuery(store, await getQuery(name), params));
}
const maxOf = (layer: string, c: number, step: number) => Math.max(...ids.map((i) => units(layer, i, step)[c]!.max));

/** Embeddings of `gap` at step 100 as the embed stage would write them: two methods. */
const EMB = ids.map((i) => ({ x: i * 0.5, y: -i }));

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-queries-'));
  fx = await makePipelineFixture(dir, N);
  const summary = await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' });
  expect(summary.status).toBe('succeeded');
  await writeFinalPart(fx.store, 'embeddings', { dataset: 'edges', model: 'edge-net', step: 100, layer: 'gap' }, {
    method: [...ids.map(() => 'pca'), ...ids.map(() => 'tsne')],
    params: [...ids.map(() => '{}'), ...ids.map(() => '{"perplexity":5}')],
    sample_id: Int32Array.from([...ids, ...ids]),
    x: Float32Array.from([...EMB.map((e) => e.x), ...EMB.map((e) => e.y)]),
    y: Float32Array.from([...EMB.map((e) => e.y), ...EMB.map((e) => e.x)]),
  });
  store = await Store.open(fx.store, { readOnly: true });
}, 180_000);

afterAll(async () => {
  store?.dispose();
  if (fx?.dir) await fs.rm(fx.dir, { recursive: true, force: true });
});

describe('top_k_activators', () => {
  it('with k within the stored top-k returns exactly the rows of the topk table, with uri and label', async () => {
    for (const layer of Object.keys(LAYER_UNITS)) {
      for (const step of STEPS) {
        const rows = await run('top_k_activators', { layer, step, k: 4 });
        const topk = await store.query<Row>(
          'SELECT channel, rank, value, sample_id, argmax_t, argmax_y, argmax_x FROM topk WHERE layer = $layer AND step = $step ORDER BY channel, rank',
          { layer, step },
        );
        expect(topk.length).toBe(LAYER_UNITS[layer]! * 4);
        expect(rows.map((r) => ({ channel: r.channel, rank: r.rank, value: r.value, sample_id: r.sample_id, argmax_t: r.argmax_t, argmax_y: r.argmax_y, argmax_x: r.argmax_x }))).toEqual(topk);
        for (const r of rows) {
          expect(r.source).toBe('topk');
          expect(Number(r.step)).toBe(step);
          expect(r.label).toBe(label(r.sample_id));
          expect(r.uri).toMatch(new RegExp(`#${r.sample_id}$`));
        }
      }
    }
  });

  it('with k beyond the stored top-k ranks activations (latest step by default) in the reference order', async () => {
    const rows = await run('top_k_activators', { layer: 'conv1', k: 9 });
    expect(rows.length).toBe(3 * 9);
    const topk = await store.query<Row>("SELECT channel, sample_id FROM topk WHERE layer = 'conv1' AND step = 100 ORDER BY channel, rank");
    for (let c = 0; c < 3; c++) {
      const got = rows.filter((r) => r.channel === c);
      expect(got.every((r) => r.source === 'activations' && Number(r.step) === 100)).toBe(true);
      expect(got.map((r) => r.rank)).toEqual(range(9));
      expect(got.slice(0, 4).map((r) => r.sample_id)).toEqual(topk.filter((t) => t.channel === c).map((t) => t.sample_id));
      const ref = ids.map((i) => ({ i, v: Math.fround(units('conv1', i, 100)[c]!.max) })).sort((a, b) => b.v - a.v || a.i - b.i);
      expect(got.map((r) => r.sample_id)).toEqual(ref.slice(0, 9).map((x) => x.i));
      got.forEach((r, j) => expect(r.value).toBeCloseTo(ref[j]!.v, 4));
    }
    const one = await run('top_k_activators', { layer: 'conv1', channel: 0, step: 0, k: 2 });
    expect(one.map((r) => [r.channel, Number(r.step), r.rank])).toEqual([[0, 0, 0], [0, 0, 1]]);
  });

  it('exact=false reads only the topk table (activations are not even planned), exact=true only activations', async () => {
    const capped = await run('top_k_activators', { layer: 'conv1', k: 9, exact: false });
    const topk = await store.query<Row>("SELECT channel, rank, sample_id FROM topk WHERE layer = 'conv1' AND step = 100 ORDER BY channel, rank");
    expect(capped.map((r) => [r.channel, r.rank, r.sample_id, r.source])).toEqual(topk.map((t) => [t.channel, t.rank, t.sample_id, 'topk']));
    const ranked = await run('top_k_activators', { layer: 'conv1', k: 4, exact: true });
    expect(ranked.map((r) => [r.channel, r.rank, r.sample_id, r.source])).toEqual(topk.map((t) => [t.channel, t.rank, t.sample_id, 'activations']));
    // The activations branch is pruned when the statement is planned: with exact=false its scan
    // is an EMPTY_RESULT, so the plan reads one Parquet scan fewer than with exact=NULL.
    const def = await getQuery('top_k_activators');
    const plan = async (exact: boolean | null) =>
      (await store.query<{ explain_value: string }>(`EXPLAIN ${def.sql}`, bindParams(def, { layer: 'conv1', exact }))).map((r) => r.explain_value).join('\n');
    const scans = (p: string) => (p.match(/READ_PARQUET/g) ?? []).length;
    const [pFalse, pNull] = [await plan(false), await plan(null)];
    expect(pFalse).toMatch(/EMPTY_RESULT/);
    expect(scans(pNull)).toBeGreaterThan(scans(pFalse));
  });
});

describe('dead neurons and sparsity', () => {
  it('dead_filters equals the stored dead flags (max <= 0 in the reference), and eps recomputes from activations', async () => {
    const rows = await run('dead_filters');
    const stored = await store.query<Row>('SELECT layer, channel FROM neuron_stats WHERE dead AND step = 100 ORDER BY layer, channel');
    expect(rows.map((r) => [r.layer, r.channel])).toEqual(stored.map((r) => [r.layer, r.channel]));
    const expected = Object.entries(LAYER_UNITS).flatMap(([layer, n]) => range(n).filter((c) => maxOf(layer, c, 100) <= 0).map((c) => [layer, c]));
    expect(rows.map((r) => [r.layer, r.channel])).toEqual(expected);
    expect(expected).toEqual([['conv1', 2], ['fc', 0], ['gap', 2]]);
    // eps = 0 recomputed from per-sample maxima gives the stored answer (the spec's eps is 0).
    const recomputed = await run('dead_filters', { eps: 0 });
    expect(recomputed.map((r) => [r.layer, r.channel])).toEqual(expected);
    recomputed.forEach((r, i) => {
      expect(r.max).toBeCloseTo(rows[i]!.max, 5);
      expect(r.active_frac).toBeCloseTo(rows[i]!.active_frac, 9);
    });
    const eps4 = await run('dead_filters', { layer: 'conv1', step: 0, eps: 4 });
    expect(eps4.map((r) => r.channel)).toEqual(range(3).filter((c) => maxOf('conv1', c, 0) <= 4));
    expect(eps4.map((r) => r.channel)).toEqual([0, 2]);
    for (const r of eps4) {
      expect(r.active_frac).toBe(0);
      expect(r.mean).toBeCloseTo(mean(ids.map((i) => units('conv1', i, 0)[r.channel]!.mean)), 4);
      expect(r.zero_frac).toBeCloseTo(mean(ids.map((i) => units('conv1', i, 0)[r.channel]!.zeroFrac)), 6);
    }
  });

  it('dead_over_training gives the first dead step and the revival step', async () => {
    const rows = await run('dead_over_training');
    expect(rows.map((r) => [r.layer, r.channel, Number(r.first_dead_step), r.revived_step, r.revives, r.dead_at_last, Number(r.dead_checkpoints), Number(r.checkpoints)])).toEqual([
      ['conv1', 2, 0, null, false, true, 2, 2],
      ['fc', 0, 0, null, false, true, 2, 2],
      ['gap', 2, 0, null, false, true, 2, 2],
    ]);
    // At eps = 4 conv1 channel 0 (max 3 at step 0, 6 at step 100) dies at 0 and revives at 100.
    const eps4 = await run('dead_over_training', { layer: 'conv1', eps: 4 });
    const expected = range(3)
      .filter((c) => STEPS.some((s) => maxOf('conv1', c, s) <= 4))
      .map((c) => {
        const dead = STEPS.map((s) => maxOf('conv1', c, s) <= 4);
        const first = STEPS[dead.indexOf(true)]!;
        const revived = STEPS.find((s, j) => s > first && !dead[j]) ?? null;
        return [c, first, revived, revived !== null, dead[dead.length - 1]];
      });
    expect(eps4.map((r) => [r.channel, Number(r.first_dead_step), r.revived_step === null ? null : Number(r.revived_step), r.revives, r.dead_at_last])).toEqual(expected);
    expect(expected).toEqual([[0, 0, 100, true, false], [2, 0, null, false, true]]);
  });

  it('sparsity_over_training weights zero fractions and means by positions', async () => {
    const rows = await run('sparsity_over_training');
    expect(rows.map((r) => [r.layer, Number(r.step)])).toEqual(Object.keys(LAYER_UNITS).flatMap((l) => STEPS.map((s) => [l, s])));
    for (const r of rows) {
      const step = Number(r.step);
      const all = ids.flatMap((i) => units(r.layer, i, step));
      const positions = all.reduce((s, u) => s + u.positions, 0);
      const dead = range(LAYER_UNITS[r.layer]!).filter((c) => maxOf(r.layer, c, step) <= 0).length;
      expect(Number(r.units)).toBe(LAYER_UNITS[r.layer]);
      expect(Number(r.dead)).toBe(dead);
      expect(r.dead_frac).toBeCloseTo(dead / LAYER_UNITS[r.layer]!, 9);
      expect(r.zero_frac).toBeCloseTo(all.reduce((s, u) => s + u.zeros, 0) / positions, 9);
      expect(r.mean).toBeCloseTo(all.reduce((s, u) => s + u.mean * u.positions, 0) / positions, 4);
      expect(r.max).toBeCloseTo(Math.max(...all.map((u) => u.max)), 4);
    }
  });

  it('layer_summary at the latest step and at a given step', async () => {
    for (const step of [undefined, 0]) {
      const rows = await run('layer_summary', step === undefined ? {} : { step });
      const s = step ?? 100;
      expect(rows.map((r) => r.layer)).toEqual(Object.keys(LAYER_UNITS));
      for (const r of rows) {
        const n = LAYER_UNITS[r.layer]!;
        const per = range(n).map((c) => ids.map((i) => units(r.layer, i, s)[c]!));
        expect(Number(r.step)).toBe(s);
        expect(Number(r.units)).toBe(n);
        expect(Number(r.dead)).toBe(range(n).filter((c) => maxOf(r.layer, c, s) <= 0).length);
        expect(r.mean_zero_frac).toBeCloseTo(mean(per.map((u) => mean(u.map((x) => x.zeroFrac)))), 6);
        expect(r.mean_activation).toBeCloseTo(mean(per.map((u) => mean(u.map((x) => x.mean)))), 4);
        expect(r.max_activation).toBeCloseTo(Math.max(...per.flat().map((x) => x.max)), 4);
        expect(Number(r.samples)).toBe(N);
      }
    }
  });
});

describe('one neuron over training', () => {
  it('neuron_profile: statistics per step and the top-k overlap with the previous checkpoint', async () => {
    for (const [layer, channel] of [['conv1', 0], ['conv1', 1], ['fc', 0]] as const) {
      for (const k of [null, 2]) {
        const rows = await run('neuron_profile', { layer, channel, k });
        expect(rows.map((r) => Number(r.step))).toEqual(STEPS);
        const ns = await store.query<Row>('SELECT mean, std, max, zero_frac, active_frac, dead FROM neuron_stats WHERE layer = $layer AND channel = $channel ORDER BY step', { layer, channel });
        rows.forEach((r, j) => expect({ mean: r.mean, std: r.std, max: r.max, zero_frac: r.zero_frac, active_frac: r.active_frac, dead: r.dead }).toEqual(ns[j]));
        expect(rows[0]!.topk_overlap).toBeNull();
        const kk = k ?? 4;
        const top = (s: number) =>
          ids.map((i) => ({ i, v: Math.fround(units(layer, i, s)[channel]!.max) })).sort((a, b) => b.v - a.v || a.i - b.i).slice(0, kk).map((x) => x.i);
        const common = top(100).filter((i) => top(0).includes(i)).length;
        expect(rows[1]!.topk_overlap).toBeCloseTo(common / kk, 12);
        expect(rows[1]!.overlap_k).toBe(kk);
        expect(Number(rows[1]!.previous_step)).toBe(0);
        rows.forEach((r, j) => expect(r.max).toBeCloseTo(maxOf(layer, channel, STEPS[j]!), 4));
      }
    }
  });

  it('neuron_profile: the overlap counts the samples shared by the two top-k sets', async () => {
    // A store copy whose step-100 top-k of conv1 channel 0 shares samples 0 and 4 with step 0's.
    const copy = `${fx.store}-overlap`;
    await fs.cp(fx.store, copy, { recursive: true });
    const step0 = (await store.query<Row>("SELECT sample_id FROM topk WHERE layer = 'conv1' AND channel = 0 AND step = 0 ORDER BY rank")).map((r) => r.sample_id);
    expect(step0).toEqual([0, 1, 4, 5]);
    const later = [0, 7, 4, 9];
    await writeFinalPart(copy, 'topk', { dataset: 'edges', model: 'edge-net', step: 100, layer: 'conv1' }, {
      channel: new Int32Array(4),
      rank: Int32Array.from([0, 1, 2, 3]),
      value: Float32Array.from([6, 6, 6, 6]),
      sample_id: Int32Array.from(later),
      argmax_t: new Int32Array(4),
      argmax_y: new Int32Array(4),
      argmax_x: new Int32Array(4),
    });
    const s2 = await Store.open(copy, { readOnly: true });
    try {
      const def = await getQuery('neuron_profile');
      for (const k of [null, 1, 2, 3, 4, 10]) {
        const rows = resultRows(await runQuery(s2, def, { layer: 'conv1', channel: 0, k }));
        const kk = Math.min(k ?? 4, 4);
        const common = later.slice(0, kk).filter((i) => step0.slice(0, kk).includes(i)).length;
        expect([rows[1]!.topk_overlap, rows[1]!.overlap_k]).toEqual([common / kk, kk]);
      }
    } finally {
      s2.dispose();
    }
  });
});

describe('classes', () => {
  it('class_selectivity: per-class means and (mu_max - mu_rest) / (mu_max + mu_rest) (Morcos et al. 2018)', async () => {
    const rows = await run('class_selectivity', { layer: 'conv1', step: 0 });
    expect(rows.length).toBe(3);
    const expected = range(3).map((c) => {
      const mus = range(4).map((l) => mean(ids.filter((i) => label(i) === l).map((i) => units('conv1', i, 0)[c]!.mean)));
      const muMax = Math.max(...mus);
      const muRest = (mus.reduce((s, x) => s + x, 0) - muMax) / 3;
      return { c, mus, muMax, muRest, top: mus.indexOf(muMax), sel: muMax + muRest === 0 ? null : (muMax - muRest) / (muMax + muRest) };
    });
    // Most selective first, NULL (dead channel 2) last.
    const order = [...expected].sort((a, b) => (b.sel ?? -Infinity) - (a.sel ?? -Infinity) || a.c - b.c);
    expect(rows.map((r) => r.channel)).toEqual(order.map((e) => e.c));
    for (const r of rows) {
      const e = expected[r.channel]!;
      expect(r.labels).toEqual([0, 1, 2, 3]);
      r.class_means.forEach((m: number, l: number) => expect(m).toBeCloseTo(e.mus[l]!, 4));
      expect(r.top_class).toBe(e.top);
      expect(r.mu_max).toBeCloseTo(e.muMax, 4);
      expect(r.mu_rest).toBeCloseTo(e.muRest, 4);
      if (e.sel === null) expect(r.selectivity).toBeNull();
      else expect(r.selectivity).toBeCloseTo(e.sel, 4);
    }
    expect(expected[2]!.sel).toBeNull();
    const one = await run('class_selectivity', { layer: 'conv1', channel: 1 });
    expect(one.map((r) => [r.channel, Number(r.step)])).toEqual([[1, 100]]);
  });

  it('confusions: (label, pred) pairs with counts and rates from the reference predictions', async () => {
    for (const step of STEPS) {
      const rows = await run('confusions', { step, k: 100 });
      const counts = new Map<string, number>();
      for (const i of ids) if (prediction(i, step) !== label(i)) counts.set(`${label(i)},${prediction(i, step)}`, (counts.get(`${label(i)},${prediction(i, step)}`) ?? 0) + 1);
      const expected = [...counts]
        .map(([key, n]) => {
          const [l, p] = key.split(',').map(Number) as [number, number];
          return [l, p, n, n / ids.filter((i) => label(i) === l).length, counts.get(`${p},${l}`) ?? 0];
        })
        .sort((a, b) => b[2]! - a[2]! || a[0]! - b[0]! || a[1]! - b[1]!);
      expect(expected.length).toBeGreaterThan(0);
      expect(rows.map((r) => [r.label, r.pred, Number(r.n), r.rate, Number(r.reverse_n)])).toEqual(expected);
      expect((await run('confusions', { step, k: 1 })).length).toBe(1);
    }
  });

  it('confusion_neurons: neurons ordered by the class-mean difference, with Cohen d', async () => {
    const rows = await run('confusion_neurons', { layer: 'conv1', class_a: 0, class_b: 2, step: 0 });
    const expected = range(3)
      .map((c) => {
        const a = ids.filter((i) => label(i) === 0).map((i) => units('conv1', i, 0)[c]!.mean);
        const b = ids.filter((i) => label(i) === 2).map((i) => units('conv1', i, 0)[c]!.mean);
        const pooled = Math.sqrt((varSamp(a) + varSamp(b)) / 2);
        return { c, diff: mean(a) - mean(b), d: pooled === 0 ? null : (mean(a) - mean(b)) / pooled };
      })
      .sort((x, y) => Math.abs(y.diff) - Math.abs(x.diff) || x.c - y.c);
    expect(rows.map((r) => r.channel)).toEqual(expected.map((e) => e.c));
    rows.forEach((r, j) => {
      expect(r.diff).toBeCloseTo(expected[j]!.diff, 4);
      if (expected[j]!.d === null) expect(r.effect).toBeNull();
      else expect(r.effect).toBeCloseTo(expected[j]!.d!, 3);
      expect([Number(r.n_a), Number(r.n_b)]).toEqual([10, 10]);
    });
    expect((await run('confusion_neurons', { layer: 'conv1', class_a: 0, class_b: 2, k: 1 })).length).toBe(1);
  });
});

describe('embeddings', () => {
  it('embedding_points returns the stored points with labels, per method', async () => {
    const all = await run('embedding_points', { layer: 'gap' });
    expect(all.length).toBe(2 * N);
    const pca = await run('embedding_points', { layer: 'gap', method: 'pca' });
    expect(pca.map((r) => [r.sample_id, r.x, r.y, r.label, Number(r.step), r.params])).toEqual(ids.map((i) => [i, EMB[i]!.x, EMB[i]!.y, label(i), 100, '{}']));
    expect(await run('embedding_points', { layer: 'gap', step: 0 })).toEqual([]);
  });

  it('embedding_neighbors: nearest codes by cosine distance, nearest first', async () => {
    for (const [q, step] of [[2, 100], [7, 0], [0, 100]] as const) {
      const rows = await run('embedding_neighbors', { layer: 'gap', sample_id: q, k: 6, step });
      const ref = ids.filter((i) => i !== q).map((i) => ({ i, d: cosineDistance(code(i, step), code(q, step)) })).sort((a, b) => a.d - b.d || a.i - b.i);
      expect(rows.map((r) => r.rank)).toEqual(range(6));
      rows.forEach((r, j) => {
        // Same distances rank by rank; the sample at each rank really is at that distance.
        expect(r.distance).toBeCloseTo(ref[j]!.d, 5);
        expect(cosineDistance(code(r.sample_id, step), code(q, step))).toBeCloseTo(r.distance, 5);
        expect(r.label).toBe(label(r.sample_id));
        expect(r.sample_id).not.toBe(q);
      });
    }
    // Samples 0, 5, 20, 25 are the same image: distance 0, ties by sample id.
    expect((await run('embedding_neighbors', { layer: 'gap', sample_id: 0, k: 3 })).map((r) => r.sample_id)).toEqual([5, 20, 25]);
  });

  it('embedding_neighbors also runs when codes of several widths make code FLOAT[] (list functions)', async () => {
    const copy = `${fx.store}-mixed`;
    await fs.cp(fx.store, copy, { recursive: true });
    const part = await writeTablePart(copy, 'codes', { dataset: 'edges', model: 'other-net', step: 5, layer: 'head' }, 0, {
      sample_id: Int32Array.from([0, 1]),
      code: floatList(Float32Array.from([1, 0, 0, 1]), 2),
    });
    await commitShard(copy, { dataset: 'edges', model: 'other-net', step: 5, shard: 0 }, [part], 'test');
    const mixed = await Store.open(copy, { readOnly: true });
    try {
      expect(mixed.info.codeDims).toEqual([2, 3]);
      const def = await getQuery('embedding_neighbors');
      // The file as written needs FLOAT[D]: DuckDB refuses array_cosine_distance on FLOAT[].
      await expect(mixed.query(def.sql, { layer: 'gap', sample_id: 2, k: 6, step: 100, dataset: null, model: null })).rejects.toThrow(/array_cosine_distance/);
      const got = resultRows(await runQuery(mixed, def, { layer: 'gap', sample_id: 2, k: 6, step: 100 }));
      expect(got).toEqual(await run('embedding_neighbors', { layer: 'gap', sample_id: 2, k: 6, step: 100 }));
      const head = resultRows(await runQuery(mixed, def, { layer: 'head', sample_id: 0, step: 5 }));
      expect(head.map((r) => [r.sample_id, r.distance])).toEqual([[1, 1]]);
    } finally {
      mixed.dispose();
    }
  });
});

describe('bad parameters', () => {
  it('names every unknown, missing and mistyped parameter in one BAD_QUERY error', async () => {
    const def = await getQuery('top_k_activators');
    const err = await runQuery(store, def, { kk: 3, channel: 'two', step: '1.5' }).catch((e) => e);
    expect(err).toBeInstanceOf(NeurolensError);
    expect(err.code).toBe('BAD_QUERY');
    expect(err.message).toMatch(/unknown parameter kk \(did you mean k\?\)/);
    expect(err.message).toMatch(/missing required parameter layer/);
    expect(err.message).toMatch(/parameter channel must be an INTEGER.*'two'/);
    expect(err.message).toMatch(/parameter step must be a BIGINT.*'1.5'/);
    await expect(getQuery('top_k_activator')).rejects.toThrow(/unknown query 'top_k_activator': did you mean top_k_activators\?/);
  });

  it('a layer that is not in the store gives no rows, not an error', async () => {
    expect(await run('top_k_activators', { layer: 'nope' })).toEqual([]);
  });
});
