/**
 * Finalize stage: merges the per-shard mergeable partials of one (dataset, model, step) into
 * the `neuron_stats` and `topk` tables (one atomic part per layer). Only committed shards are
 * visible through the views, so a crashed or half-written shard can never leak in; the merge is
 * exact and order-independent (src/stats), which is why static sharding and BullMQ workers on
 * other machines give the same answer as one machine.
 */
import { ClassStats, MaxSketch, NeuronStats, TopK } from '../stats/index.js';
import { NeurolensError } from '../errors.js';
import { bools, committedShards, writeFinalPart, type Store } from '../storage/index.js';
import { classStateColumns, sketchColumns, toI64 } from './sink.js';
import type { StepPartials } from './step-partials.js';

export interface FinalizeKey {
  dataset: string;
  model: string;
  step: number;
}

export interface FinalizeResult {
  layers: { layer: string; shards: number; channels: number; dead: number }[];
}

const num = (a: unknown[]) => Float64Array.from(a as number[]);

/**
 * `known`: the partials this process merged in memory while writing the shards. When they are
 * exactly the committed shards, the step is finalized from them without reading any partial
 * file back; otherwise (a resumed run, shards written by other machines) every committed
 * shard's partial files are read and merged.
 */
export async function finalizeStep(store: Store, key: FinalizeKey, opts: { eps: number; topk: number }, known?: StepPartials): Promise<FinalizeResult> {
  if (known && known.layers.size > 0 && known.covers(await committedShards(store.dir, key))) {
    const out: FinalizeResult = { layers: [] };
    const layers = [...known.layers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    // Final parts of different layers are independent files: their writes (and fsyncs) overlap.
    await Promise.all(
      layers.map(async ([layer, m]) => {
        const [, H, W] = m.extent;
        const dead = await writeLayerFinal(store.dir, { ...key, layer }, m, H, W);
        out.layers.push({ layer, shards: known.shards.size, channels: m.channels, dead });
      }),
    );
    out.layers.sort((a, b) => (a.layer < b.layer ? -1 : a.layer > b.layer ? 1 : 0));
    await store.refresh();
    return out;
  }
  await store.refresh();
  const where = 'dataset = $dataset AND model = $model AND step = $step';
  const params = { dataset: key.dataset, model: key.model, step: key.step };
  const layers = (await store.query<{ layer: string }>(`SELECT DISTINCT layer FROM neuron_stats_partial WHERE ${where} ORDER BY layer`, params)).map((r) => r.layer);
  if (layers.length === 0) {
    throw new NeurolensError('NOT_FOUND', `nothing to finalize: no committed shards for dataset=${key.dataset} model=${key.model} step=${key.step} in ${store.dir}`);
  }
  const out: FinalizeResult = { layers: [] };
  for (const layer of layers) {
    const lp = { ...params, layer };
    const ns = await store.queryColumns(
      `SELECT shard, channel, count::DOUBLE AS count, positions::DOUBLE AS positions, mean, m2, min, max,
              zero_count::DOUBLE AS zero_count, active_count::DOUBLE AS active_count, rows_rate
       FROM neuron_stats_partial WHERE ${where} AND layer = $layer ORDER BY shard, channel`,
      lp,
    );
    const shardCol = ns.data.shard as number[];
    let merged: NeuronStats | null = null;
    let shards = 0;
    for (let i = 0; i < ns.rowCount; ) {
      let j = i;
      while (j < ns.rowCount && shardCol[j] === shardCol[i]) j++;
      const slice = (name: string) => num(ns.data[name].slice(i, j));
      const part = NeuronStats.fromColumns(
        {
          channel: Int32Array.from(ns.data.channel.slice(i, j) as number[]),
          count: slice('count'),
          positions: slice('positions'),
          mean: slice('mean'),
          m2: slice('m2'),
          min: slice('min'),
          max: slice('max'),
          zero_count: slice('zero_count'),
          active_count: slice('active_count'),
        },
        opts.eps,
        layer,
      );
      merged = merged ? merged.merge(part) : part;
      shards++;
      i = j;
    }
    if (!merged) {
      throw new NeurolensError('NOT_FOUND', `nothing to finalize for layer ${layer} at step ${key.step}: no committed neuron_stats_partial rows`);
    }

    // Top-k: restore each shard's partial and merge. The stored argmax is (t, y, x); any
    // row-major flattening with extents larger than the maxima keeps their lexicographic order,
    // which is all TopK's tie-break needs.
    const tk = await store.queryColumns(
      `SELECT shard, channel, rank, value, sample_id, argmax_t, argmax_y, argmax_x
       FROM topk_partial WHERE ${where} AND layer = $layer ORDER BY shard, channel, rank`,
      lp,
    );
    const ay = tk.data.argmax_y as number[];
    const ax = tk.data.argmax_x as number[];
    // A loop, not Math.max(...ay): spreading 100k+ values overflows the call stack.
    const H = ay.reduce((m, v) => (v > m ? v : m), 0) + 1;
    const W = ax.reduce((m, v) => (v > m ? v : m), 0) + 1;
    const channels = merged.channels;
    let top: TopK | null = null;
    const tshard = tk.data.shard as number[];
    for (let i = 0; i < tk.rowCount; ) {
      let j = i;
      while (j < tk.rowCount && tshard[j] === tshard[i]) j++;
      const at = tk.data.argmax_t.slice(i, j) as number[];
      const argmax = Int32Array.from({ length: j - i }, (_, q) => (at[q] * H + ay[i + q]) * W + ax[i + q]);
      const part = TopK.fromColumns(
        {
          channel: Int32Array.from(tk.data.channel.slice(i, j) as number[]),
          rank: Int32Array.from(tk.data.rank.slice(i, j) as number[]),
          value: Float32Array.from(tk.data.value.slice(i, j) as number[]),
          sample_id: Int32Array.from(tk.data.sample_id.slice(i, j) as number[]),
          argmax,
        },
        channels,
        opts.topk,
        layer,
      );
      top = top ? top.merge(part) : part;
      i = j;
    }
    const classes = await mergeShards(store, 'class_stats_partial', lp, 'channel, label', (d) =>
      ClassStats.fromColumns(
        { channel: d.channel, label: d.label, count: d.count, mean: d.mean, m2: d.m2, sum_max: d.sum_max, max: d.max, active_count: d.active_count },
        { channels, eps: opts.eps, layer },
      ),
    );
    const sketch = await mergeShards(store, 'max_sketch_partial', lp, 'channel, sign, key', (d) =>
      MaxSketch.fromColumns({ channel: d.channel, sign: d.sign, key: d.key, count: d.count, min: d.min, max: d.max }, undefined, layer),
    );
    // The first non-null rows_rate, as any_value() would give (null: a store from before retention).
    const rate = (ns.data.rows_rate as (number | null)[]).find((v) => v !== null);
    const all = {
      stats: merged,
      topk: top ?? new TopK({ channels, k: opts.topk, layer }),
      classes: classes ?? new ClassStats({ channels, eps: opts.eps, layer }),
      sketch: sketch ?? new MaxSketch({ channels, layer }),
      rowsRate: rate ?? 1,
    };
    const dead = await writeLayerFinal(store.dir, lp, all, H, W);
    out.layers.push({ layer, shards, channels, dead });
  }
  await store.refresh();
  return out;
}

/**
 * Restores each committed shard's partial of `table` (ordered by shard, then `order`) with `make`
 * and merges them in shard order; null when the layer has no rows there (a store written before
 * the table existed).
 */
async function mergeShards<S extends { merge(o: S): S }>(
  store: Store,
  table: string,
  lp: FinalizeKey & { layer: string },
  order: string,
  make: (cols: Record<string, Float64Array | Int32Array>) => S,
): Promise<S | null> {
  const r = await store.queryColumns(
    `SELECT * EXCLUDE (dataset, model, step, layer) FROM ${table} WHERE dataset = $dataset AND model = $model AND step = $step AND layer = $layer ORDER BY shard, ${order}`,
    { dataset: lp.dataset, model: lp.model, step: lp.step, layer: lp.layer },
  );
  const shard = r.data.shard as number[];
  let merged: S | null = null;
  for (let i = 0; i < r.rowCount; ) {
    let j = i;
    while (j < r.rowCount && shard[j] === shard[i]) j++;
    const cols: Record<string, Float64Array | Int32Array> = {};
    for (const c of r.columns) {
      if (c.name === 'shard') continue;
      const v = r.data[c.name].slice(i, j).map(Number);
      cols[c.name] = c.type === 'INTEGER' ? Int32Array.from(v) : Float64Array.from(v);
    }
    const part = make(cols);
    merged = merged ? merged.merge(part) : part;
    i = j;
  }
  return merged;
}

interface LayerFinal {
  stats: NeuronStats;
  topk: TopK;
  classes: ClassStats;
  sketch: MaxSketch;
  rowsRate: number;
}

/** Writes one layer's `neuron_stats`, `topk`, `class_stats` and `max_sketch` parts; returns its dead-channel count. */
async function writeLayerFinal(dir: string, lp: FinalizeKey & { layer: string }, m: LayerFinal, H: number, W: number): Promise<number> {
  const merged = m.stats;
  const top = m.topk;
  const r = merged.result();
  const state = merged.toColumns();
  const c = top.toColumns();
  const n = c.channel.length;
  const t = new Int32Array(n);
  const y = new Int32Array(n);
  const x = new Int32Array(n);
  for (let q = 0; q < n; q++) {
    const a = c.argmax[q];
    x[q] = a % W;
    y[q] = Math.floor(a / W) % H;
    t[q] = Math.floor(a / (W * H));
  }
  await Promise.all([
    writeFinalPart(dir, 'neuron_stats', lp, {
      channel: r.channel,
      count: toI64(r.count),
      positions: toI64(r.positions),
      mean: r.mean,
      std: r.std,
      min: r.min,
      max: r.max,
      zero_frac: r.zero_frac,
      active_frac: r.active_frac,
      dead: bools(r.dead),
      m2: state.m2,
      zero_count: toI64(state.zero_count),
      active_count: toI64(state.active_count),
      rows_rate: new Float64Array(r.channel.length).fill(m.rowsRate),
    }),
    writeFinalPart(dir, 'class_stats', lp, classStateColumns(m.classes.toColumns())),
    writeFinalPart(dir, 'max_sketch', lp, sketchColumns(m.sketch.toColumns())),
    writeFinalPart(dir, 'topk', lp, { channel: c.channel, rank: c.rank, value: c.value, sample_id: c.sample_id, argmax_t: t, argmax_y: y, argmax_x: x }),
  ]);
  return r.dead.filter(Boolean).length;
}
