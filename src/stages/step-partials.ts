/**
 * The mergeable partials of the shards one process wrote for one (dataset, model, step), merged
 * in memory as the sink workers return them. When they cover every committed shard, finalize
 * writes the step's `neuron_stats` and `topk` from them instead of reading every shard's partial
 * files back (the merge is exact and order-independent, src/stats, so the result is the same).
 */
import { NeurolensError } from '../errors.js';
import { NeuronStats, TopK } from '../stats/index.js';
import type { SinkResponse } from './sink.js';

export interface LayerMerge {
  channels: number;
  /** [T, H, W] the top-k argmax is flattened over. */
  extent: [number, number, number];
  stats: NeuronStats;
  topk: TopK;
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
      const have = this.layers.get(p.layer);
      if (!have) {
        this.layers.set(p.layer, { channels: p.channels, extent: p.extent, stats, topk });
        continue;
      }
      if (have.channels !== p.channels || have.extent.join() !== p.extent.join()) {
        throw new NeurolensError('INTERNAL', `layer ${p.layer}: shard ${resp.shard} has ${p.channels} channels over ${p.extent.join('x')}, earlier shards ${have.channels} over ${have.extent.join('x')}`);
      }
      have.stats.merge(stats);
      have.topk.merge(topk);
    }
  }

  /** True when these partials are exactly the committed shards (no shard from elsewhere). */
  covers(committed: number[]): boolean {
    return committed.length === this.shards.size && committed.every((s) => this.shards.has(s));
  }
}
