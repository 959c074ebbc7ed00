/**
 * Sink stage: collects the infer results of one shard (ShardAccumulator, main thread), then a
 * sink worker (src/workers/sink.ts) writes the shard's Parquet parts (activations and codes per
 * layer, mergeable neuron_stats and top-k partials per layer, predictions, errors); the main
 * thread commits the shard last. Encoding Parquet is the heaviest CPU work after inference, so it
 * runs off the main thread and overlaps the next shard's inference. Rows are ordered by sample
 * id whatever the order batches arrived in, so a resumed run writes byte-identical parts.
 */
import { ClassStats, MaxSketch, NeuronStats, TopK, unflattenArgmax, type ClassStatsColumns, type LayerBatchStats, type MaxSketchColumns, type NeuronStatsColumns, type TopKColumns } from '../stats/index.js';
import type { SampleError } from '../sources/types.js';
import type { InferResponse } from '../workers/protocol.js';
import { floatList, withNulls, writeTablePart, type PartRecord } from '../storage/index.js';
import type { ShardPlan } from './source.js';
import { keepsRow, type LayerRetention } from '../pipeline/retention.js';

export interface SinkConfig {
  store: string;
  dataset: string;
  model: string;
  step: number;
  topk: number;
  eps: number;
  /** Layers whose per-sample mean vector is stored in `codes`. */
  codes: string[];
  /** Per layer: per-sample rows, none (summary), or a hash sample of rows; absent = rows. */
  retention?: Record<string, LayerRetention>;
}

/** One shard's results, handed to a sink worker (typed arrays are transferred). */
export interface SinkRequest {
  cfg: SinkConfig;
  shard: number;
  results: InferResponse[];
  errors: SampleError[];
  /** Label of sample `labelStart + i` at index i (the shard's contiguous range); -1 when unknown. */
  labelStart: number;
  labels: Int32Array;
}

/** The shard's mergeable partials of one layer, for the in-memory finalize of a run. */
export interface LayerPartial {
  layer: string;
  channels: number;
  extent: [number, number, number];
  /** Mergeable state as typed-array columns (exact; transferred, not serialized). */
  stats: NeuronStatsColumns;
  /** Argmax flattened over `extent`. */
  topk: TopKColumns;
  classes: ClassStatsColumns;
  sketch: MaxSketchColumns;
  /** Share of samples with per-sample rows (1 rows, 0 summary, else sampled). */
  rowsRate: number;
}

export interface SinkResponse {
  shard: number;
  parts: PartRecord[];
  samples: number;
  errors: number;
  partials: LayerPartial[];
}

export class ShardAccumulator {
  private results: InferResponse[] = [];
  private errors: SampleError[] = [];
  private seen = 0;

  constructor(readonly plan: ShardPlan) {}

  get expected(): number {
    return this.plan.end - this.plan.start;
  }

  get complete(): boolean {
    return this.seen >= this.expected;
  }

  addResult(r: InferResponse): void {
    this.results.push(r);
    this.seen += r.sampleIds.length;
  }

  addErrors(errs: SampleError[]): void {
    this.errors.push(...errs);
    this.seen += errs.length;
  }

  get errorCount(): number {
    return this.errors.length;
  }

  /** The request for a sink worker; `labels` holds the labels of the shard's sample range. */
  request(cfg: SinkConfig, labels: Int32Array): SinkRequest {
    return { cfg, shard: this.plan.index, results: this.results, errors: this.errors, labelStart: this.plan.start, labels };
  }
}

/** Runs `fn` over `items` with at most `limit` in flight (file writes overlap their fsyncs). */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

/**
 * Writes every part of one shard (not its commit, which the caller writes after this returns)
 * and returns the part records and the shard's per-layer partials.
 */
export async function writeShardParts(req: SinkRequest): Promise<SinkResponse> {
  const { cfg } = req;
  const shard = req.shard;
  const results = [...req.results].sort((a, b) => (a.sampleIds[0] ?? 0) - (b.sampleIds[0] ?? 0));
  const base = { dataset: cfg.dataset, model: cfg.model, step: cfg.step };
  const codes = new Set(cfg.codes);
  const layerNames = results.length ? results[0].layers.map((l) => l.layer) : [];
  const jobs: (() => Promise<PartRecord>)[] = [];
  const partials: LayerPartial[] = [];
  // Labels of each result's samples, once per shard (every layer and the predictions use them).
  const labelsOf = results.map((r) => Int32Array.from(r.sampleIds, (id) => req.labels[id - req.labelStart] ?? -1));
  for (let li = 0; li < layerNames.length; li++) {
    const layer = layerNames[li];
    const batches = results.map((r) => r.layers[li]);
    const part = { ...base, layer };
    const channels = batches[0].channels;
    const extent = batches[0].extent;
    const stats = new NeuronStats({ channels, eps: cfg.eps, layer });
    const topk = new TopK({ channels, k: cfg.topk, layer });
    const classes = new ClassStats({ channels, eps: cfg.eps, layer });
    const sketch = new MaxSketch({ channels, layer });
    batches.forEach((b, k) => {
      stats.add(b);
      topk.add(b);
      classes.add(b, labelsOf[k]);
      sketch.add(b);
    });
    const keep = cfg.retention?.[layer] ?? { mode: 'rows' };
    const rowsRate = keep.mode === 'rows' ? 1 : keep.mode === 'summary' ? 0 : keep.rate;
    const cc = classes.toColumns();
    const sc = sketch.toColumns();
    partials.push({ layer, channels, extent, stats: stats.toColumns(), topk: topk.toColumns(), classes: cc, sketch: sc, rowsRate });
    if (keep.mode !== 'summary') {
      const rows = activationColumns(keep.mode === 'sample' ? batches.map((b) => keptSamples(b, keep.rate)) : batches);
      jobs.push(() => writeTablePart(cfg.store, 'activations', part, shard, rows));
    }
    if (codes.has(layer)) jobs.push(() => writeTablePart(cfg.store, 'codes', part, shard, codeColumns(batches)));
    jobs.push(() => writeTablePart(cfg.store, 'neuron_stats_partial', part, shard, { ...neuronStateColumns(stats), rows_rate: new Float64Array(channels).fill(rowsRate) }));
    jobs.push(() => writeTablePart(cfg.store, 'class_stats_partial', part, shard, classStateColumns(cc)));
    jobs.push(() => writeTablePart(cfg.store, 'max_sketch_partial', part, shard, sketchColumns(sc)));
    jobs.push(() => writeTablePart(cfg.store, 'topk_partial', part, shard, topkColumns(topk, extent)));
  }
  const samples = results.reduce((n, r) => n + r.sampleIds.length, 0);
  if (results.length && results[0].predictions) {
    const ids = new Int32Array(samples);
    const label = new Int32Array(samples);
    const pred = new Int32Array(samples);
    const prob = new Float32Array(samples);
    // The true label's probability: NULL where unknown (no label, or a model without it).
    const labelProb = new Float32Array(samples);
    const labelProbValid = new Uint8Array(samples);
    let o = 0;
    for (const [k, r] of results.entries()) {
      ids.set(r.sampleIds, o);
      pred.set(r.predictions!.pred, o);
      prob.set(r.predictions!.prob, o);
      const lp = r.predictions!.labelProb;
      if (lp) {
        labelProb.set(lp, o);
        for (let i = 0; i < lp.length; i++) labelProbValid[o + i] = Number.isNaN(lp[i]!) ? 0 : 1;
      }
      label.set(labelsOf[k], o);
      o += r.sampleIds.length;
    }
    jobs.push(() => writeTablePart(cfg.store, 'predictions', base, shard, { sample_id: ids, label, pred, prob, label_prob: withNulls(labelProb, labelProbValid) }));
  }
  if (req.errors.length) {
    const errs = [...req.errors].sort((a, b) => a.sampleId - b.sampleId);
    jobs.push(() =>
      writeTablePart(cfg.store, 'errors', base, shard, {
        sample_id: Int32Array.from(errs, (e) => e.sampleId),
        uri: errs.map((e) => e.uri),
        stage: errs.map((e) => e.stage),
        reason: errs.map((e) => e.reason),
      }),
    );
  }
  // Encoding is synchronous; only the file writes and fsyncs overlap. Parts are listed in a
  // fixed order whatever order they finish in, so commits are deterministic.
  const parts: PartRecord[] = new Array(jobs.length);
  await forEachLimited(
    jobs.map((job, i) => ({ job, i })),
    8,
    async ({ job, i }) => {
      parts[i] = await job();
    },
  );
  return { shard, parts, samples, errors: req.errors.length, partials };
}

/** [B, C] statistics of batches -> long rows (sample_id, channel, ...), sample-major. */
export function activationColumns(batches: LayerBatchStats[]) {
  const C = batches[0].channels;
  const n = batches.reduce((s, b) => s + b.batch, 0) * C;
  const cols = {
    sample_id: new Int32Array(n),
    channel: new Int32Array(n),
    max: new Float32Array(n),
    mean: new Float32Array(n),
    zero_frac: new Float32Array(n),
    argmax_t: new Int32Array(n),
    argmax_y: new Int32Array(n),
    argmax_x: new Int32Array(n),
  };
  // Channel numbers of one sample, copied per sample; new typed arrays are zero-filled, so
  // argmax_t (and argmax_y/x of a dense layer) need no writes when the extent is 1 there.
  const channelIds = Int32Array.from({ length: C }, (_, c) => c);
  let o = 0;
  for (const b of batches) {
    const [T, H, W] = b.extent;
    const HW = H * W;
    cols.max.set(b.max, o);
    cols.mean.set(b.mean, o);
    cols.zero_frac.set(b.zeroFrac, o);
    const rows = b.batch * C;
    for (let i = 0; i < b.batch; i++) {
      cols.sample_id.fill(b.sampleIds[i], o + i * C, o + (i + 1) * C);
      cols.channel.set(channelIds, o + i * C);
    }
    const am = b.argmax;
    const { argmax_t: at, argmax_y: ay, argmax_x: ax } = cols;
    if (T > 1) {
      for (let j = 0; j < rows; j++) {
        const a = am[j];
        const t = Math.floor(a / HW);
        const rem = a - t * HW;
        const y = Math.floor(rem / W);
        at[o + j] = t;
        ay[o + j] = y;
        ax[o + j] = rem - y * W;
      }
    } else if (HW > 1) {
      for (let j = 0; j < rows; j++) {
        const a = am[j];
        const y = Math.floor(a / W);
        ay[o + j] = y;
        ax[o + j] = a - y * W;
      }
    }
    o += rows;
  }
  return cols;
}

/** The samples of a batch that `keepsRow` selects (every channel of a kept sample), before any row is built. */
function keptSamples(b: LayerBatchStats, rate: number): LayerBatchStats {
  const C = b.channels;
  const kept: number[] = [];
  for (let i = 0; i < b.batch; i++) if (keepsRow(b.sampleIds[i], rate)) kept.push(i);
  const pick = <A extends Int32Array | Float32Array>(a: A): A => {
    const out = new (a.constructor as new (n: number) => A)(kept.length * C);
    kept.forEach((i, k) => out.set(a.subarray(i * C, (i + 1) * C), k * C));
    return out;
  };
  return {
    ...b,
    batch: kept.length,
    sampleIds: Int32Array.from(kept, (i) => b.sampleIds[i]),
    max: pick(b.max),
    min: pick(b.min),
    mean: pick(b.mean),
    sqMean: pick(b.sqMean),
    zeroFrac: pick(b.zeroFrac),
    argmax: pick(b.argmax),
  };
}

/** Codes = the per-sample mean over positions (global average pooling), one FLOAT[C] per sample. */
function codeColumns(batches: LayerBatchStats[]) {
  const C = batches[0].channels;
  const n = batches.reduce((s, b) => s + b.batch, 0);
  const ids = new Int32Array(n);
  const values = new Float32Array(n * C);
  let o = 0;
  for (const b of batches) {
    ids.set(b.sampleIds, o);
    values.set(b.mean, o * C);
    o += b.batch;
  }
  return { sample_id: ids, code: floatList(values, C) };
}

/** Integer-valued float64 counts -> BIGINT column. */
export const toI64 = (a: ArrayLike<number>) => BigInt64Array.from(Array.from(a, (v) => BigInt(Math.round(v))));

export function neuronStateColumns(s: NeuronStats) {
  const c = s.toColumns();
  return {
    channel: c.channel,
    count: toI64(c.count),
    positions: toI64(c.positions),
    mean: c.mean,
    m2: c.m2,
    min: c.min,
    max: c.max,
    zero_count: toI64(c.zero_count),
    active_count: toI64(c.active_count),
  };
}

export function classStateColumns(c: ClassStatsColumns) {
  return { channel: c.channel, label: c.label, count: toI64(c.count), mean: c.mean, m2: c.m2, sum_max: c.sum_max, max: c.max, active_count: toI64(c.active_count) };
}

export function sketchColumns(c: MaxSketchColumns) {
  return { channel: c.channel, sign: c.sign, key: c.key, count: toI64(c.count), min: c.min, max: c.max };
}

export function topkColumns(t: TopK, extent: [number, number, number]) {
  const c = t.toColumns();
  const n = c.channel.length;
  const at = new Int32Array(n);
  const ay = new Int32Array(n);
  const ax = new Int32Array(n);
  for (let i = 0; i < n; i++) [at[i], ay[i], ax[i]] = unflattenArgmax(c.argmax[i], extent);
  return { channel: c.channel, rank: c.rank, value: c.value, sample_id: c.sample_id, argmax_t: at, argmax_y: ay, argmax_x: ax };
}
