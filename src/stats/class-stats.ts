import { NeurolensError } from '../errors.js';
import { chanCombine } from './chan.js';
import type { LayerBatchStats } from './types.js';
import {
  badState,
  checkBatch,
  checkColumn,
  checkPositiveInt,
  checkSame,
  checkSameLayer,
  numbersFromJSON,
  numbersToJSON,
  type JsonNumber,
} from './check.js';

const KIND = 'ClassStats';
const MAX_CLASSES = 1 << 16;

/**
 * Per (channel, class label) statistics of one layer, for the `summary` retention mode (no
 * per-sample rows): exact to float64 rounding and mergeable. Over the samples of class k only
 * (label < 0 = unknown, skipped), for every channel:
 *   - n, and mean / M2 of the per-sample MEAN activation, combined with the pairwise update of
 *     Chan, Golub & LeVeque (1979) as in NeuronStats: delta = mean_b - mean_a,
 *     mean = mean_a + delta n_b / n, M2 = M2_a + M2_b + delta^2 n_a n_b / n;
 *   - sum of the per-sample MAX, max of the per-sample max, and the number of samples whose
 *     max > eps (active).
 * That answers without per-sample rows: the class selectivity index of Morcos et al. (ICLR 2018,
 * "On the importance of single directions for generalization") on class means of the mean
 * activation; class means and sample variances var_samp = M2 / (n - 1) for Cohen's d between
 * two classes (the confusions query); dead units (max <= eps) and active fraction per class.
 *
 * Parquet partial, one row per (channel, label) with n > 0, ordered by channel then label:
 *   channel INT32, label INT32, count DOUBLE, mean DOUBLE, m2 DOUBLE, sum_max DOUBLE,
 *   max FLOAT, active_count DOUBLE.
 * Counts are integers held in float64 (exact below 2^53), max is exact, so those merge bit for
 * bit. Partials merge in SQL too (the k-partial form of Chan's update):
 *   WITH g AS (SELECT channel, label, sum(count) AS n, sum(count * mean) / sum(count) AS mu
 *              FROM parts GROUP BY ALL)
 *   SELECT channel, label, g.n AS count, g.mu AS mean,
 *          sum(p.m2 + p.count * (p.mean - g.mu) ^ 2) AS m2, sum(sum_max) AS sum_max,
 *          max(max) AS max, sum(active_count) AS active_count
 *   FROM parts p JOIN g USING (channel, label) GROUP BY channel, label, g.n, g.mu;
 */
export interface ClassStatsOptions {
  channels: number;
  /** A sample is active for a channel when its max > eps; dead per class when max <= eps. */
  eps?: number;
  layer?: string;
  /** Classes known up front (labels 0..classes-1); more are added as labels appear. */
  classes?: number;
  /** Labels must be below this (default 65536): a wild label would allocate label x channels. */
  maxClasses?: number;
}

/** Label-major state: entry k * channels + c is (class k, channel c). */
export interface ClassStatsState {
  layer?: string;
  channels: number;
  eps: number;
  /** 1 + the largest label seen or given (classes with no sample have count 0). */
  classes: number;
  maxClasses: number;
  /** Samples per class (the same for every channel), length >= classes (capacity). */
  count: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
  sumMax: Float64Array;
  max: Float32Array;
  activeCount: Float64Array;
}

export interface ClassStatsColumns {
  channel: Int32Array;
  label: Int32Array;
  count: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
  sum_max: Float64Array;
  max: Float32Array;
  active_count: Float64Array;
}
export type ClassStatsColumnsLike = { [K in keyof ClassStatsColumns]: ArrayLike<number> };

export interface ClassStatsJSON {
  kind: 'ClassStats';
  version: 1;
  layer?: string;
  channels: number;
  eps: number;
  classes: number;
  columns: { [K in keyof ClassStatsColumns]: JsonNumber[] };
}

/** Rows of the columns plus derived values, one per (channel, label) with count > 0. */
export interface ClassStatsResult {
  layer: string | undefined;
  classes: number;
  channel: Int32Array;
  label: Int32Array;
  count: Float64Array;
  /** Class mean of the per-sample mean activation. */
  mean: Float64Array;
  /** Sample variance M2 / (n - 1) of the per-sample mean; NaN when n < 2. */
  var_samp: Float64Array;
  /** Class mean of the per-sample max. */
  mean_max: Float64Array;
  max: Float32Array;
  active_frac: Float64Array;
  /** max <= eps over every sample of the class. */
  dead: boolean[];
}

const COLS = ['channel', 'label', 'count', 'mean', 'm2', 'sum_max', 'max', 'active_count'] as const;

function emptyState(o: ClassStatsOptions): ClassStatsState {
  const C = checkPositiveInt(KIND, 'channels', o.channels);
  const maxClasses = checkPositiveInt(KIND, 'maxClasses', o.maxClasses ?? MAX_CLASSES);
  const classes = o.classes ?? 0;
  if (!(Number.isInteger(classes) && classes >= 0 && classes <= maxClasses)) {
    throw new NeurolensError('INTERNAL', `${KIND}: classes must be an integer in 0..${maxClasses}, got ${classes}`);
  }
  const cap = Math.max(classes, 1);
  return {
    ...(o.layer !== undefined ? { layer: o.layer } : {}),
    channels: C, eps: o.eps ?? 0, classes, maxClasses,
    count: new Float64Array(cap), mean: new Float64Array(cap * C), m2: new Float64Array(cap * C),
    sumMax: new Float64Array(cap * C), max: new Float32Array(cap * C).fill(-Infinity),
    activeCount: new Float64Array(cap * C),
  };
}

function grown<T extends Float64Array | Float32Array>(a: T, len: number, fill: number): T {
  const b = new (a.constructor as new (n: number) => T)(len);
  if (fill !== 0) b.fill(fill, a.length);
  b.set(a);
  return b;
}

export class ClassStats {
  private readonly s: ClassStatsState;
  /** Per batch: slot of each class present (-1 else), the classes present, and their sums. */
  private slotOf = new Int32Array(0);
  private readonly present: number[] = [];
  private bSum = new Float64Array(0);
  private bM2 = new Float64Array(0);

  constructor(opts: ClassStatsOptions, state?: ClassStatsState) {
    this.s = state ?? emptyState(opts);
    if (state) {
      checkSame(KIND, opts.layer, 'channels', opts.channels, state.channels);
      checkSame(KIND, opts.layer, 'eps', opts.eps ?? 0, state.eps);
      checkSameLayer(KIND, opts.layer, state.layer);
    }
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
  get classes(): number {
    return this.s.classes;
  }
  /** Labelled samples seen per class 0..classes-1. */
  classCounts(): Float64Array {
    return this.s.count.slice(0, this.s.classes);
  }

  /** Makes room for labels 0..k-1 (capacity doubles: labels often appear one by one). */
  private ensureClasses(k: number): void {
    const s = this.s;
    if (k <= s.classes) return;
    if (k > s.maxClasses) {
      throw new NeurolensError('BAD_INPUT', `${KIND}${s.layer ? ` (layer ${s.layer})` : ''}: label ${k - 1} >= maxClasses ${s.maxClasses}`);
    }
    if (k > s.count.length) {
      const cap = Math.min(s.maxClasses, Math.max(k, 2 * s.count.length));
      const n = cap * s.channels;
      s.count = grown(s.count, cap, 0);
      s.mean = grown(s.mean, n, 0);
      s.m2 = grown(s.m2, n, 0);
      s.sumMax = grown(s.sumMax, n, 0);
      s.max = grown(s.max, n, -Infinity);
      s.activeCount = grown(s.activeCount, n, 0);
    }
    s.classes = k;
  }

  /**
   * Adds one batch; labels[i] is the class of sample i (< 0: unknown, skipped). Per class present
   * in the batch, its samples' mean and M2 are computed in two passes, then combined (Chan).
   */
  add(b: LayerBatchStats, labels: Int32Array): this {
    const s = this.s;
    const C = s.channels;
    checkBatch(KIND, s.layer, C, b);
    if (labels.length !== b.batch) {
      throw new NeurolensError('INTERNAL', `${KIND}: ${labels.length} labels for a batch of ${b.batch}`);
    }
    let top = -1;
    for (let i = 0; i < b.batch; i++) if (labels[i] > top) top = labels[i];
    if (top < 0) return this;
    this.ensureClasses(top + 1);
    if (this.slotOf.length < s.classes) this.slotOf = new Int32Array(s.count.length).fill(-1);
    const slotOf = this.slotOf;
    const present = this.present;
    present.length = 0;
    for (let i = 0; i < b.batch; i++) {
      const k = labels[i];
      if (k >= 0 && slotOf[k] < 0) {
        slotOf[k] = present.length;
        present.push(k);
      }
    }
    const L = present.length;
    if (this.bSum.length < L * C) {
      this.bSum = new Float64Array(b.batch * C);
      this.bM2 = new Float64Array(b.batch * C);
    }
    const bSum = this.bSum.fill(0, 0, L * C);
    const bM2 = this.bM2.fill(0, 0, L * C);
    const nIn = new Float64Array(L);
    const { mean, max } = b;
    const { sumMax, max: hi, activeCount, eps } = s;
    for (let i = 0; i < b.batch; i++) {
      const k = labels[i];
      if (k < 0) continue;
      const slot = slotOf[k];
      nIn[slot] += 1;
      const row = i * C;
      const sb = slot * C;
      const kb = k * C;
      for (let c = 0; c < C; c++) {
        bSum[sb + c] += mean[row + c];
        // + 0 stores -0 as +0, so the max bits do not depend on arrival order.
        const mx = max[row + c] + 0;
        sumMax[kb + c] += mx;
        if (mx > hi[kb + c]) hi[kb + c] = mx;
        if (mx > eps) activeCount[kb + c] += 1;
      }
    }
    for (let slot = 0; slot < L; slot++) {
      const f = 1 / nIn[slot];
      for (let j = slot * C, e = j + C; j < e; j++) bSum[j] *= f;
    }
    for (let i = 0; i < b.batch; i++) {
      const k = labels[i];
      if (k < 0) continue;
      const row = i * C;
      const sb = slotOf[k] * C;
      for (let c = 0; c < C; c++) {
        const d = mean[row + c] - bSum[sb + c];
        bM2[sb + c] += d * d;
      }
    }
    for (let slot = 0; slot < L; slot++) {
      const k = present[slot];
      this.combine(k, nIn[slot], bSum, bM2, slot * C);
      slotOf[k] = -1;
    }
    return this;
  }

  /** Chan's combination of class k's (n, mean, M2) with (nb, meanB, m2B) read at offset `at`. */
  private combine(k: number, nb: number, meanB: Float64Array, m2B: Float64Array, at: number): void {
    const s = this.s;
    chanCombine(s.count[k]!, s.mean, s.m2, k * s.channels, nb, meanB, m2B, at, s.channels);
    s.count[k] += nb;
  }

  /** Adds another partial of the same layer into this one (the other is not changed). */
  merge(other: ClassStats): this {
    const s = this.s;
    const o = other.s;
    checkSameLayer(KIND, s.layer, o.layer);
    checkSame(KIND, s.layer, 'channels', s.channels, o.channels);
    checkSame(KIND, s.layer, 'eps', s.eps, o.eps);
    this.ensureClasses(o.classes);
    const C = s.channels;
    for (let k = 0; k < o.classes; k++) {
      const nb = o.count[k];
      if (nb === 0) continue;
      const kb = k * C;
      for (let j = kb; j < kb + C; j++) {
        s.sumMax[j] += o.sumMax[j];
        if (o.max[j] > s.max[j]) s.max[j] = o.max[j];
        s.activeCount[j] += o.activeCount[j];
      }
      this.combine(k, nb, o.mean, o.m2, kb); // reads o before writing s: other may be this
    }
    return this;
  }

  result(): ClassStatsResult {
    const s = this.s;
    const cols = this.toColumns();
    const R = cols.channel.length;
    const r: ClassStatsResult = {
      layer: s.layer, classes: s.classes, channel: cols.channel, label: cols.label, count: cols.count,
      mean: cols.mean, var_samp: new Float64Array(R), mean_max: new Float64Array(R), max: cols.max,
      active_frac: new Float64Array(R), dead: new Array<boolean>(R),
    };
    for (let i = 0; i < R; i++) {
      const n = cols.count[i];
      r.var_samp[i] = n > 1 ? Math.max(0, cols.m2[i]) / (n - 1) : NaN;
      r.mean_max[i] = cols.sum_max[i] / n;
      r.active_frac[i] = cols.active_count[i] / n;
      r.dead[i] = !(cols.max[i] > s.eps);
    }
    return r;
  }

  /** The classes with at least one sample, ascending. */
  private nonEmptyClasses(): number[] {
    const ks: number[] = [];
    for (let k = 0; k < this.s.classes; k++) if (this.s.count[k] > 0) ks.push(k);
    return ks;
  }

  /**
   * Morcos et al.'s class selectivity index per channel, on class means mu_k of the per-sample
   * mean activation over the classes with samples: (mu_max - mu_rest) / (mu_max + mu_rest), where
   * mu_rest is the average of the other classes' means. 0 = no preference, 1 = one class only
   * (for non-negative activations). NaN with fewer than two classes or a zero denominator.
   */
  selectivity(): Float64Array {
    const s = this.s;
    const C = s.channels;
    const out = new Float64Array(C).fill(NaN);
    const ks = this.nonEmptyClasses();
    if (ks.length < 2) return out;
    for (let c = 0; c < C; c++) {
      let best = -Infinity;
      let total = 0;
      for (const k of ks) {
        const m = s.mean[k * C + c];
        total += m;
        if (m > best) best = m;
      }
      const rest = (total - best) / (ks.length - 1);
      const den = best + rest;
      out[c] = den !== 0 ? (best - rest) / den : NaN;
    }
    return out;
  }

  /**
   * Cohen's d per channel between classes a and b on the per-sample mean activation:
   * (mean_a - mean_b) / pooled sd, pooled variance (M2_a + M2_b) / (n_a + n_b - 2).
   */
  cohensD(a: number, b: number): Float64Array {
    const s = this.s;
    const C = s.channels;
    const out = new Float64Array(C).fill(NaN);
    const na = a >= 0 && a < s.classes ? s.count[a] : 0;
    const nb = b >= 0 && b < s.classes ? s.count[b] : 0;
    if (na === 0 || nb === 0 || na + nb < 3) return out;
    for (let c = 0; c < C; c++) {
      const pooled = (s.m2[a * C + c] + s.m2[b * C + c]) / (na + nb - 2);
      out[c] = (s.mean[a * C + c] - s.mean[b * C + c]) / Math.sqrt(pooled);
    }
    return out;
  }

  toColumns(): ClassStatsColumns {
    const s = this.s;
    const C = s.channels;
    const ks = this.nonEmptyClasses();
    const R = ks.length * C;
    const cols: ClassStatsColumns = {
      channel: new Int32Array(R), label: new Int32Array(R), count: new Float64Array(R),
      mean: new Float64Array(R), m2: new Float64Array(R), sum_max: new Float64Array(R),
      max: new Float32Array(R), active_count: new Float64Array(R),
    };
    let r = 0;
    for (let c = 0; c < C; c++) {
      for (const k of ks) {
        const j = k * C + c;
        cols.channel[r] = c;
        cols.label[r] = k;
        cols.count[r] = s.count[k];
        cols.mean[r] = s.mean[j];
        cols.m2[r] = s.m2[j];
        cols.sum_max[r] = s.sumMax[j];
        cols.max[r] = s.max[j];
        cols.active_count[r] = s.activeCount[j];
        r++;
      }
    }
    return cols;
  }

  /**
   * Restores a partial from its rows (any order). A label present must have a row for every
   * channel, all with the same count > 0; `classes` (default 1 + largest label) may add empty ones.
   */
  static fromColumns(cols: ClassStatsColumnsLike, opts: ClassStatsOptions): ClassStats {
    const R = cols.channel?.length ?? 0;
    for (const name of COLS) checkColumn(KIND, name, cols[name], R);
    const C = opts.channels;
    let top = -1;
    for (let r = 0; r < R; r++) {
      const k = cols.label[r];
      if (!(Number.isInteger(k) && k >= 0 && k < (opts.maxClasses ?? MAX_CLASSES))) throw badState(KIND, `row ${r}: label ${k} is not a class index`);
      if (k > top) top = k;
    }
    const st = new ClassStats({ ...opts, classes: Math.max(opts.classes ?? 0, top + 1) });
    const s = st.s;
    const seen = new Uint8Array(s.classes * C);
    const rows = new Float64Array(s.classes);
    for (let r = 0; r < R; r++) {
      const c = cols.channel[r];
      const k = cols.label[r];
      const n = cols.count[r];
      if (!(Number.isInteger(c) && c >= 0 && c < C)) throw badState(KIND, `row ${r}: channel ${c} not in 0..${C - 1}`);
      if (!(Number.isInteger(n) && n > 0)) throw badState(KIND, `row ${r}: count ${n} is not a positive integer`);
      const j = k * C + c;
      if (seen[j]) throw badState(KIND, `row ${r}: channel ${c} label ${k} appears twice`);
      if (rows[k] > 0 && s.count[k] !== n) throw badState(KIND, `row ${r}: label ${k} count ${n} differs from ${s.count[k]}`);
      seen[j] = 1;
      rows[k] += 1;
      s.count[k] = n;
      s.mean[j] = cols.mean[r];
      s.m2[j] = cols.m2[r];
      s.sumMax[j] = cols.sum_max[r];
      s.max[j] = cols.max[r] + 0;
      s.activeCount[j] = cols.active_count[r];
    }
    for (let k = 0; k < s.classes; k++) {
      if (rows[k] !== 0 && rows[k] !== C) throw badState(KIND, `label ${k} has ${rows[k]} channel rows, expected ${C}`);
    }
    return st;
  }

  toJSON(): ClassStatsJSON {
    const s = this.s;
    const cols = this.toColumns();
    const columns = Object.fromEntries(COLS.map((n) => [n, numbersToJSON(cols[n])])) as ClassStatsJSON['columns'];
    return {
      kind: KIND, version: 1, ...(s.layer !== undefined ? { layer: s.layer } : {}),
      channels: s.channels, eps: s.eps, classes: s.classes, columns,
    };
  }

  static fromJSON(json: unknown): ClassStats {
    const j = json as Partial<ClassStatsJSON> | null;
    if (!j || typeof j !== 'object' || j.kind !== KIND) throw badState(KIND, 'not a ClassStats state');
    if (j.version !== 1) throw badState(KIND, `unsupported version ${String(j.version)}`);
    if (typeof j.eps !== 'number') throw badState(KIND, 'eps is not a number');
    if (j.layer !== undefined && typeof j.layer !== 'string') throw badState(KIND, 'layer is not a string');
    const C = j.channels;
    const K = j.classes;
    if (!(typeof C === 'number' && Number.isInteger(C) && C > 0)) throw badState(KIND, `bad channels ${String(C)}`);
    if (!(typeof K === 'number' && Number.isInteger(K) && K >= 0)) throw badState(KIND, `bad classes ${String(K)}`);
    if (!j.columns || typeof j.columns !== 'object') throw badState(KIND, 'columns missing');
    const rows = Array.isArray(j.columns.channel) ? j.columns.channel.length : -1;
    const cols = Object.fromEntries(COLS.map((n) => [n, numbersFromJSON(KIND, n, j.columns![n], rows)]));
    return ClassStats.fromColumns(cols as unknown as ClassStatsColumnsLike, {
      channels: C, eps: j.eps, classes: K, ...(j.layer !== undefined ? { layer: j.layer } : {}),
    });
  }
}
