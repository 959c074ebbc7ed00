import type { LayerBatchStats } from './types.js';
import { chanCombine } from './chan.js';
import { checkBatch, checkSame, checkSameLayer } from './check.js';
import {
  emptyNeuronState,
  neuronStateFromColumns,
  neuronStateFromJSON,
  neuronStateToColumns,
  neuronStateToJSON,
  type NeuronStatsColumns,
  type NeuronStatsColumnsLike,
  type NeuronStatsJSON,
  type NeuronStatsState,
} from './neuron-stats-state.js';

const KIND = 'NeuronStats';

export interface NeuronStatsOptions {
  channels: number;
  /** A sample is "active" for a channel when its max > eps; a channel is dead when max <= eps. */
  eps?: number;
  /** Layer name, checked against batches and partials and used in error messages. */
  layer?: string;
}

/** The `neuron_stats` rows of one layer: one entry per channel (column-major). */
export interface NeuronStatsResult {
  layer: string | undefined;
  channel: Int32Array;
  /** Samples seen (the same for every channel). */
  count: Float64Array;
  /** Positions seen = sum over samples of T*H*W. */
  positions: Float64Array;
  /** Mean over all positions of all samples. */
  mean: Float64Array;
  /** Population standard deviation over all positions of all samples. */
  std: Float64Array;
  min: Float32Array;
  max: Float32Array;
  /** Zero positions / positions (TensorBoard's zero_fraction, over the dataset). */
  zero_frac: Float64Array;
  /** Samples whose max > eps / samples. */
  active_frac: Float64Array;
  /** max <= eps over the whole dataset: the unit never activates (CS231n). False when empty. */
  dead: boolean[];
}

/**
 * Per-neuron statistics of one layer over a dataset, exact to float64 rounding and mergeable.
 *
 * Mean and variance over all positions use the pairwise update of Chan, Golub & LeVeque
 * ("Updating formulae and a pairwise algorithm for computing sample variances", 1979): each
 * partial keeps (n, mean, M2 = sum of squared deviations) and two partials combine as
 *   delta = mean_b - mean_a,  mean = mean_a + delta * n_b / n,  M2 = M2_a + M2_b + delta^2 n_a n_b / n.
 * Counts (samples, positions, zero positions, active samples) are integers held in float64, exact
 * below 2^53, and min/max are exact, so those merge bit-for-bit in any order.
 */
export class NeuronStats {
  private readonly s: NeuronStatsState;
  /** Scratch for one batch's per-channel mean and M2. */
  private readonly bMean: Float64Array;
  private readonly bM2: Float64Array;

  /** A fresh statistic, or (with `state`) one restored from saved state, which it takes over. */
  constructor(opts: NeuronStatsOptions, state?: NeuronStatsState) {
    this.s = state ?? emptyNeuronState(opts.channels, opts.eps ?? 0, opts.layer);
    if (state) {
      checkSame(KIND, opts.layer, 'channels', opts.channels, state.channels);
      checkSame(KIND, opts.layer, 'eps', opts.eps ?? 0, state.eps);
      checkSameLayer(KIND, opts.layer, state.layer);
    }
    this.bMean = new Float64Array(this.s.channels);
    this.bM2 = new Float64Array(this.s.channels);
  }

  get layer(): string | undefined {
    return this.s.layer;
  }
  get channels(): number {
    return this.s.channels;
  }
  get eps(): number {
    return this.s.eps;
  }
  /** Samples seen so far. */
  get count(): number {
    return this.s.count;
  }
  /** Positions seen so far (samples x T*H*W). */
  get positions(): number {
    return this.s.positions;
  }

  /**
   * Adds one batch. Sample i contributes P positions with mean m_i and mean square q_i, so its
   * own M2 is P (q_i - m_i^2); the batch M2 adds the spread of the sample means around the batch
   * mean, P (m_i - mean_b)^2 (computed in two passes, not as sum of squares minus square of sum).
   */
  add(b: LayerBatchStats): this {
    const s = this.s;
    const p = checkBatch(KIND, s.layer, s.channels, b);
    const nb = b.batch;
    if (nb === 0) return this;
    const C = s.channels;
    const { mean, sqMean, max, min, zeroFrac } = b;
    const bMean = this.bMean.fill(0);
    const bM2 = this.bM2.fill(0);
    const { min: lo, max: hi, zeroCount, activeCount, eps } = s;
    for (let i = 0; i < nb; i++) {
      const row = i * C;
      for (let c = 0; c < C; c++) {
        const j = row + c;
        bMean[c] += mean[j];
        // + 0 turns -0 into +0: -0 === 0, so otherwise whichever came first would be kept and
        // min/max would depend on the merge order bit-wise.
        const mx = max[j] + 0;
        if (mx > hi[c]) hi[c] = mx;
        if (mx > eps) activeCount[c] += 1;
        const mn = min[j] + 0;
        if (mn < lo[c]) lo[c] = mn;
        // zeroFrac is k/P rounded to float32; P * zeroFrac is within far less than 0.5 of k.
        zeroCount[c] += Math.round(zeroFrac[j] * p);
      }
    }
    for (let c = 0; c < C; c++) bMean[c] /= nb;
    for (let i = 0; i < nb; i++) {
      const row = i * C;
      for (let c = 0; c < C; c++) {
        const m = mean[row + c];
        const d = m - bMean[c];
        // The within-sample variance q - m^2 can come out slightly negative in float32.
        const w = sqMean[row + c] - m * m;
        bM2[c] += (w > 0 ? w : 0) + d * d;
      }
    }
    for (let c = 0; c < C; c++) bM2[c] *= p;
    this.combine(nb * p, bMean, bM2);
    s.count += nb;
    return this;
  }

  /** Adds another partial of the same layer into this one (the other is not changed). */
  merge(other: NeuronStats): this {
    const s = this.s;
    const o = other.s;
    checkSameLayer(KIND, s.layer, o.layer);
    checkSame(KIND, s.layer, 'channels', s.channels, o.channels);
    checkSame(KIND, s.layer, 'eps', s.eps, o.eps);
    if (o.count === 0) return this;
    const samples = o.count; // read before combine: other may be this
    this.combine(o.positions, o.mean, o.m2);
    for (let c = 0; c < s.channels; c++) {
      if (o.max[c] > s.max[c]) s.max[c] = o.max[c];
      if (o.min[c] < s.min[c]) s.min[c] = o.min[c];
      s.zeroCount[c] += o.zeroCount[c];
      s.activeCount[c] += o.activeCount[c];
    }
    s.count += samples;
    return this;
  }

  /** Chan et al.'s pairwise combination of this partial's (n, mean, M2) with (nb, meanB, m2B). */
  private combine(nb: number, meanB: Float64Array, m2B: Float64Array): void {
    const s = this.s;
    if (nb === 0) return;
    chanCombine(s.positions, s.mean, s.m2, 0, nb, meanB, m2B, 0, s.channels);
    s.positions += nb;
  }

  result(): NeuronStatsResult {
    const s = this.s;
    const C = s.channels;
    const empty = s.count === 0;
    const r: NeuronStatsResult = {
      layer: s.layer,
      channel: Int32Array.from({ length: C }, (_, c) => c),
      count: new Float64Array(C).fill(s.count),
      positions: new Float64Array(C).fill(s.positions),
      mean: new Float64Array(C),
      std: new Float64Array(C),
      min: new Float32Array(C),
      max: new Float32Array(C),
      zero_frac: new Float64Array(C),
      active_frac: new Float64Array(C),
      dead: new Array<boolean>(C),
    };
    for (let c = 0; c < C; c++) {
      r.mean[c] = empty ? NaN : s.mean[c];
      r.std[c] = empty ? NaN : Math.sqrt(Math.max(0, s.m2[c]) / s.positions);
      r.min[c] = empty ? NaN : s.min[c];
      r.max[c] = empty ? NaN : s.max[c];
      r.zero_frac[c] = empty ? NaN : s.zeroCount[c] / s.positions;
      r.active_frac[c] = empty ? NaN : s.activeCount[c] / s.count;
      r.dead[c] = !empty && !(s.max[c] > s.eps);
    }
    return r;
  }

  toColumns(): NeuronStatsColumns {
    return neuronStateToColumns(this.s);
  }

  /** Restores a partial from its columns (any row order); eps and layer are not in the columns. */
  static fromColumns(cols: NeuronStatsColumnsLike, eps = 0, layer?: string): NeuronStats {
    const state = neuronStateFromColumns(cols, eps, layer);
    return new NeuronStats(state, state);
  }

  toJSON(): NeuronStatsJSON {
    return neuronStateToJSON(this.s);
  }

  static fromJSON(json: unknown): NeuronStats {
    const state = neuronStateFromJSON(json);
    return new NeuronStats(state, state);
  }
}
