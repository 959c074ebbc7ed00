/**
 * Sink stage: collects the infer results of one shard, then writes the shard's Parquet parts
 * (activations and codes per layer, mergeable neuron_stats and top-k partials per layer,
 * predictions, errors) and commits the shard last. Rows are ordered by sample id whatever the
 * order batches arrived in, so a resumed run writes byte-identical parts.
 */
import { NeuronStats, TopK, unflattenArgmax, type LayerBatchStats } from '../stats/index.js';
import type { SampleError } from '../sources/types.js';
import type { InferResponse } from '../workers/protocol.js';
import { commitShard, floatList, uncommitShard, writeTablePart, type PartRecord, type ShardKey } from '../storage/index.js';
import type { ShardPlan } from './source.js';

export interface SinkConfig {
  store: string;
  dataset: string;
  model: string;
  step: number;
  runId: string;
  topk: number;
  eps: number;
  /** Layers whose per-sample mean vector is stored in `codes`. */
  codes: Set<string>;
  /** Label of each sample id (for predictions), -1 when unknown. */
  labelOf: (sampleId: number) => number;
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

  /** Writes every part of the shard, then its commit. Returns the rows written per table. */
  async write(cfg: SinkConfig): Promise<{ parts: PartRecord[]; samples: number; errors: number }> {
    const key: ShardKey = { dataset: cfg.dataset, model: cfg.model, step: cfg.step, shard: this.plan.index };
    // A re-run of a committed shard (e.g. --no-resume) first hides it from readers.
    await uncommitShard(cfg.store, key);
    const results = [...this.results].sort((a, b) => (a.sampleIds[0] ?? 0) - (b.sampleIds[0] ?? 0));
    const parts: PartRecord[] = [];
    const base = { dataset: cfg.dataset, model: cfg.model, step: cfg.step };
    const layerNames = results.length ? results[0].layers.map((l) => l.layer) : [];
    for (let li = 0; li < layerNames.length; li++) {
      const layer = layerNames[li];
      const batches = results.map((r) => r.layers[li]);
      const part = { ...base, layer };
      parts.push(await writeTablePart(cfg.store, 'activations', part, this.plan.index, activationColumns(batches)));
      if (cfg.codes.has(layer)) parts.push(await writeTablePart(cfg.store, 'codes', part, this.plan.index, codeColumns(batches)));
      const channels = batches[0].channels;
      const stats = new NeuronStats({ channels, eps: cfg.eps, layer });
      const topk = new TopK({ channels, k: cfg.topk, layer });
      for (const b of batches) {
        stats.add(b);
        topk.add(b);
      }
      parts.push(await writeTablePart(cfg.store, 'neuron_stats_partial', part, this.plan.index, neuronStateColumns(stats)));
      parts.push(await writeTablePart(cfg.store, 'topk_partial', part, this.plan.index, topkColumns(topk, batches[0].extent)));
    }
    const samples = results.reduce((n, r) => n + r.sampleIds.length, 0);
    if (results.length && results[0].predictions) {
      const ids = new Int32Array(samples);
      const label = new Int32Array(samples);
      const pred = new Int32Array(samples);
      const prob = new Float32Array(samples);
      let o = 0;
      for (const r of results) {
        ids.set(r.sampleIds, o);
        pred.set(r.predictions!.pred, o);
        prob.set(r.predictions!.prob, o);
        for (let i = 0; i < r.sampleIds.length; i++) label[o + i] = cfg.labelOf(r.sampleIds[i]);
        o += r.sampleIds.length;
      }
      parts.push(await writeTablePart(cfg.store, 'predictions', base, this.plan.index, { sample_id: ids, label, pred, prob }));
    }
    if (this.errors.length) {
      const errs = [...this.errors].sort((a, b) => a.sampleId - b.sampleId);
      parts.push(
        await writeTablePart(cfg.store, 'errors', base, this.plan.index, {
          sample_id: Int32Array.from(errs, (e) => e.sampleId),
          uri: errs.map((e) => e.uri),
          stage: errs.map((e) => e.stage),
          reason: errs.map((e) => e.reason),
        }),
      );
    }
    await commitShard(cfg.store, key, parts, cfg.runId);
    return { parts, samples, errors: this.errors.length };
  }
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
  let o = 0;
  for (const b of batches) {
    const [, H, W] = b.extent;
    cols.max.set(b.max, o);
    cols.mean.set(b.mean, o);
    cols.zero_frac.set(b.zeroFrac, o);
    for (let i = 0; i < b.batch; i++) {
      const id = b.sampleIds[i];
      for (let c = 0; c < C; c++) {
        const r = o + i * C + c;
        cols.sample_id[r] = id;
        cols.channel[r] = c;
        const a = b.argmax[i * C + c];
        const t = Math.floor(a / (H * W));
        const rem = a - t * H * W;
        cols.argmax_t[r] = t;
        cols.argmax_y[r] = Math.floor(rem / W);
        cols.argmax_x[r] = rem % W;
      }
    }
    o += b.batch * C;
  }
  return cols;
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

export function topkColumns(t: TopK, extent: [number, number, number]) {
  const c = t.toColumns();
  const n = c.channel.length;
  const at = new Int32Array(n);
  const ay = new Int32Array(n);
  const ax = new Int32Array(n);
  for (let i = 0; i < n; i++) [at[i], ay[i], ax[i]] = unflattenArgmax(c.argmax[i], extent);
  return { channel: c.channel, rank: c.rank, value: c.value, sample_id: c.sample_id, argmax_t: at, argmax_y: ay, argmax_x: ax };
}
