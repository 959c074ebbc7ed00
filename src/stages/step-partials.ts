/**
 * The mergeable partials of the shards one process wrote for one (dataset, model, step), merged
 * in memory as the sink workers return them. When they cover every committed shard, finalize
 * writes the step's `neuron_stats` and `topk` from them instead of reading every shard's partial
 * files back (the merge is exact and order-independent, src/stats, so the result is the same).
 */
import { NeurolensError } from '../errors.js';
import { ClassStats, MaxSketch, NeuronStats, TopK } from '../stats/index.js';
import type { SinkResponse } from './sink.js';

export interface LayerMerge {
  channels: number;
  /** [T, H, W] the top-k argmax is flattened over. */
  extent: [number, number, number];
  stats: NeuronStats;
  topk: TopK;
  classes: ClassStats;
  sketch: MaxSketch;
  /** Share of samples with per-sample rows (the layer's retention). */
  rowsRate: number;
}

export class StepPartials {
  readonly shards = new Set<number>();
  readonly layers = new Map<string, LayerMerge>();

  constructor(
    readonly eps: number,
    readonly k: number,
  ) {}

  add(resp: SinkResponse): void {
    if (this.shards.has(resp.shard)) throw new NeurolensError('INTERNAL', `shard ${resp.shard} merged twice`);
    this.shards.add(resp.shard);
    for (const p of resp.partials) {
      const stats = NeuronStats.fromColumns(p.stats, this.eps, p.layer);
      const topk = TopK.fromColumns(p.topk, p.channels, this.k, p.layer);
      const classes = ClassStats.fromColumns(p.classes, { channels: p.channels, eps: this.eps, layer: p.layer });
      const sketch = MaxSketch.fromColumns(p.sketch, undefined, p.layer);
      const have = this.layers.get(p.layer);
      if (!have) {
        this.layers.set(p.layer, { channels: p.channels, extent: p.extent, stats, topk, classes, sketch, rowsRate: p.rowsRate });
        continue;
      }
      if (have.channels !== p.channels || have.extent.join() !== p.extent.join()) {
        throw new NeurolensError('INTERNAL', `layer ${p.layer}: shard ${resp.shard} has ${p.channels} channels over ${p.extent.join('x')}, earlier shards ${have.channels} over ${have.extent.join('x')}`);
      }
      have.stats.merge(stats);
      have.topk.merge(topk);
      have.classes.merge(classes);
      have.sketch.merge(sketch);
    }
  }

  /** True when these partials are exactly the committed shards (no shard from elsewhere). */
  covers(committed: number[]): boolean {
    return committed.length === this.shards.size && committed.every((s) => this.shards.has(s));
  }
}
