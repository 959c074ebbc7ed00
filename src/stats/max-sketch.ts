import { DDSketch } from '@datadog/sketches-js';
import { NeurolensError } from '../errors.js';
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

const KIND = 'MaxSketch';

/**
 * A DDSketch (Masson, Rim & Lee, VLDB 2019, "DDSketch: a fast and fully-mergeable quantile
 * sketch with relative-error guarantees") of the per-sample MAX of every channel of a layer, for
 * the `summary` retention mode: quantiles of a unit's activation distribution with relative
 * error alpha, without per-sample rows.
 *
 * Values map to buckets with the LogarithmicMapping of @datadog/sketches-js (the one its DDSketch
 * uses, so keys and quantiles equal the library's): a value v > m (m = the mapping's minimal
 * indexable value, about 1.1e-308) counts in the positive bucket key(v) = ceil(log2(v) *
 * multiplier) + offset; v < -m in the negative bucket key(-v); anything else (0 and -0: float32
 * maxima have no smaller magnitude) in the zero count. Here multiplier = ln 2 / ln(gamma),
 * gamma = (1 + alpha) / (1 - alpha), offset = 0. The bins live in per-channel dense typed arrays
 * (the library keeps a JS array per sketch), and merging adds counts per key: bucket counts are
 * integers in float64, exact below 2^53, so merges in any order equal one pass bit for bit.
 * Count, min and max are exact. NaN and +-Infinity maxima are skipped (the library would count
 * NaN as a zero and cannot bucket Infinity); NeuronStats' max still shows them.
 *
 * quantile(c, q) follows DDSketch.getValueAtQuantile: rank = q (n - 1) over the values in
 * ascending order (negative buckets by descending key, then zeros, then positive buckets by
 * ascending key); the answer is the representative of the bucket holding the element of 0-based
 * index floor(rank): value(key) = 2^((key - offset) / multiplier) * 2 / (1 + gamma), negated
 * for a negative bucket, 0 for the zero bucket. It is within alpha relative of that element.
 *
 * Parquet partial, one row per non-empty bucket plus one zero row per channel (so every channel
 * is present), ordered by channel, sign, key:
 *   channel INT32, sign INT32 (-1 negative bucket, 0 zero count with key 0, +1 positive),
 *   key INT32, count DOUBLE, min FLOAT, max FLOAT (exact min/max of the channel, repeated on its
 *   rows: Parquet's RLE/dictionary encoding stores each run once).
 * In SQL, with the constants of maxSketchMapping(alpha):
 *   merge:    buckets: SELECT channel, sign, key, sum(count) AS count FROM parts GROUP BY ALL;
 *             exact min/max per CHANNEL (not per bucket: a bucket may be absent from the
 *             partial holding the extreme): SELECT channel, min(min), max(max) FROM parts GROUP BY channel
 *   value:    CASE WHEN sign = 0 THEN 0 ELSE sign * pow(2, key / $multiplier) * $value_factor END
 *             ($value_factor = 2 / (1 + gamma); the offset is 0)
 *   quantile: order buckets by (sign, sign * key), cum = sum(count) OVER (PARTITION BY channel
 *             ORDER BY sign, sign * key), n = total count; take the first bucket with
 *             cum > floor($q * (n - 1)).
 */
export interface MaxSketchOptions {
  channels: number;
  /** Relative accuracy alpha of the quantiles (default 0.01). Bins per channel ~ ln(max/min) / (2 alpha). */
  relativeAccuracy?: number;
  layer?: string;
}

/** The mapping constants a SQL query needs to turn keys back into values. */
export interface MaxSketchMapping {
  relativeAccuracy: number;
  gamma: number;
  /** key(v) = ceil(log2(v) * multiplier) + offset; multiplier = ln 2 / ln gamma. */
  multiplier: number;
  offset: number;
  /** value(key) = 2^((key - offset) / multiplier) * valueFactor; valueFactor = 2 / (1 + gamma). */
  valueFactor: number;
  /** |v| <= minIndexable goes to the zero count. */
  minIndexable: number;
  maxIndexable: number;
}

type LogMapping = DDSketch['mapping'] & { _multiplier: number; _offset: number };

/** The library's LogarithmicMapping for alpha, taken from a DDSketch so it is the one it uses. */
function libraryMapping(alpha: number): LogMapping {
  if (!(alpha >= 1e-4 && alpha < 1)) {
    throw new NeurolensError('INTERNAL', `${KIND}: relativeAccuracy must be in [1e-4, 1), got ${alpha}`);
  }
  return new DDSketch({ relativeAccuracy: alpha }).mapping as LogMapping;
}

/** The mapping constants for alpha (default 0.01), for SQL over MaxSketch parts. */
export function maxSketchMapping(relativeAccuracy = 0.01): MaxSketchMapping {
  const m = libraryMapping(relativeAccuracy);
  return {
    relativeAccuracy: m.relativeAccuracy, gamma: m.gamma, multiplier: m._multiplier, offset: m._offset,
    valueFactor: 2 / (1 + m.gamma), minIndexable: m.minPossible, maxIndexable: m.maxPossible,
  };
}

export interface MaxSketchColumns {
  channel: Int32Array;
  sign: Int32Array;
  key: Int32Array;
  count: Float64Array;
  min: Float32Array;
  max: Float32Array;
}
export type MaxSketchColumnsLike = { [K in keyof MaxSketchColumns]: ArrayLike<number> };

export interface MaxSketchJSON {
  kind: 'MaxSketch';
  version: 1;
  layer?: string;
  channels: number;
  relativeAccuracy: number;
  columns: { [K in keyof MaxSketchColumns]: JsonNumber[] };
}

export interface MaxSketchResult {
  layer: string | undefined;
  q: number[];
  channel: Int32Array;
  count: Float64Array;
  zero_count: Float64Array;
  min: Float32Array;
  max: Float32Array;
  /** quantile[j][c]: estimate of quantile q[j] of channel c (NaN when empty). */
  quantile: Float64Array[];
}

const COLS = ['channel', 'sign', 'key', 'count', 'min', 'max'] as const;
const NONE = new Float64Array(0);

/**
 * The saved state of a MaxSketch. Bin row j is channel j's positive buckets for j < channels and
 * channel (j - channels)'s negative buckets (by key of |v|) above: a dense window of counts,
 * bins[j][i] counting key lo[j] + i.
 */
export interface MaxSketchState {
  layer?: string;
  channels: number;
  relativeAccuracy: number;
  bins: Float64Array[];
  lo: Int32Array;
  /** Sum of bins[j]. */
  binTotal: Float64Array;
  /** Per channel: values with |v| <= the minimal indexable value. */
  zero: Float64Array;
  /** Per channel: exact min / max of the finite values (+Infinity / -Infinity when empty). */
  min: Float32Array;
  max: Float32Array;
}

export function emptyMaxSketchState(channels: number, relativeAccuracy = 0.01, layer?: string): MaxSketchState {
  const C = checkPositiveInt(KIND, 'channels', channels);
  libraryMapping(relativeAccuracy);
  return {
    ...(layer !== undefined ? { layer } : {}),
    channels: C, relativeAccuracy,
    bins: Array.from({ length: 2 * C }, () => NONE), lo: new Int32Array(2 * C),
    binTotal: new Float64Array(2 * C), zero: new Float64Array(C),
    min: new Float32Array(C).fill(Infinity), max: new Float32Array(C).fill(-Infinity),
  };
}

export class MaxSketch {
  private readonly s: MaxSketchState;
  private readonly mapping: LogMapping;

  /** A fresh sketch, or (with `state`) one restored from saved state, which it takes over. */
  constructor(opts: MaxSketchOptions, state?: MaxSketchState) {
    this.s = state ?? emptyMaxSketchState(opts.channels, opts.relativeAccuracy ?? 0.01, opts.layer);
    if (state) {
      checkSame(KIND, opts.layer, 'channels', opts.channels, state.channels);
      checkSame(KIND, opts.layer, 'relativeAccuracy', opts.relativeAccuracy ?? 0.01, state.relativeAccuracy);
      checkSameLayer(KIND, opts.layer, state.layer);
    }
    this.mapping = libraryMapping(this.s.relativeAccuracy);
  }

  get layer(): string | undefined {
    return this.s.layer;
  }
  get channels(): number {
    return this.s.channels;
  }
  get relativeAccuracy(): number {
    return this.s.relativeAccuracy;
  }

  /** The mapping constants (gamma, multiplier, value factor, min indexable value) of this sketch. */
  mappingConstants(): MaxSketchMapping {
    return maxSketchMapping(this.s.relativeAccuracy);
  }

  /** Finite values counted in channel c. */
  count(c: number): number {
    const s = this.s;
    return s.binTotal[c] + s.binTotal[s.channels + c] + s.zero[c];
  }
  min(c: number): number {
    return this.count(c) > 0 ? this.s.min[c] : NaN;
  }
  max(c: number): number {
    return this.count(c) > 0 ? this.s.max[c] : NaN;
  }

  /** Adds `w` to bucket `key` of bin row j, growing the row's key window as needed. */
  private bump(j: number, key: number, w: number): void {
    const s = this.s;
    let b = s.bins[j];
    let at = key - s.lo[j];
    if (at < 0 || at >= b.length) {
      const lo = b.length === 0 ? key : Math.min(key, s.lo[j]);
      const hi = b.length === 0 ? key : Math.max(key, s.lo[j] + b.length - 1);
      // Slack on both sides (half the span): the window settles after a few batches.
      const pad = Math.max(32, (hi - lo + 1) >> 1);
      const nb = new Float64Array(hi - lo + 1 + 2 * pad);
      if (b.length > 0) nb.set(b, s.lo[j] - (lo - pad));
      s.bins[j] = b = nb;
      s.lo[j] = lo - pad;
      at = key - s.lo[j];
    }
    b[at] += w;
    s.binTotal[j] += w;
  }

  /** Count in bucket `key` of bin row j (0 outside the window). */
  private binAt(j: number, key: number): number {
    const at = key - this.s.lo[j];
    const b = this.s.bins[j];
    return at >= 0 && at < b.length ? b[at] : 0;
  }

  /**
   * Adds the per-sample max of every channel of a batch. `labels` is accepted (the shape every
   * summary statistic shares) and ignored.
   */
  add(b: LayerBatchStats, _labels?: Int32Array): this {
    const s = this.s;
    const C = s.channels;
    checkBatch(KIND, s.layer, C, b);
    const { max } = b;
    const m = this.mapping;
    const tiny = m.minPossible;
    const { lo, bins, binTotal, zero, min: lowest, max: highest } = s;
    const end = b.batch * C;
    // Channel-outer: consecutive values of a channel land in the same few bins (cache-friendly).
    for (let c = 0; c < C; c++) {
      let bp = bins[c];
      let lp = lo[c];
      let np = 0;
      let mn = lowest[c];
      let mx = highest[c];
      for (let j = c; j < end; j += C) {
        const v = max[j] + 0; // -0 is 0
        if (!(v - v === 0)) continue; // NaN, +-Infinity
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        if (v > tiny) {
          const at = m.key(v) - lp;
          if (at >= 0 && at < bp.length) {
            bp[at] += 1;
            np++;
          } else {
            this.bump(c, at + lp, 1);
            bp = bins[c];
            lp = lo[c];
          }
        } else if (v < -tiny) {
          this.bump(C + c, m.key(-v), 1);
        } else {
          zero[c] += 1;
        }
      }
      binTotal[c] += np;
      lowest[c] = mn;
      highest[c] = mx;
    }
    return this;
  }

  /** Adds another partial's counts key by key (the other is not changed; it may be this). */
  merge(other: MaxSketch): this {
    const s = this.s;
    const o = other.s;
    checkSameLayer(KIND, s.layer, o.layer);
    checkSame(KIND, s.layer, 'channels', s.channels, o.channels);
    checkSame(KIND, s.layer, 'relativeAccuracy', s.relativeAccuracy, o.relativeAccuracy);
    const C = s.channels;
    for (let j = 0; j < 2 * C; j++) {
      if (o.binTotal[j] === 0) continue;
      const src = o === s ? o.bins[j].slice() : o.bins[j];
      const olo = o.lo[j];
      let first = 0;
      let last = src.length - 1;
      while (src[first] === 0) first++;
      while (src[last] === 0) last--;
      // Grow once to cover the other's occupied keys, then add in place.
      this.bump(j, olo + first, 0);
      this.bump(j, olo + last, 0);
      const dst = s.bins[j];
      const shift = olo - s.lo[j];
      let total = 0;
      for (let i = first; i <= last; i++) {
        dst[i + shift] += src[i];
        total += src[i];
      }
      s.binTotal[j] += total;
    }
    for (let c = 0; c < C; c++) {
      s.zero[c] += o.zero[c];
      if (o.min[c] < s.min[c]) s.min[c] = o.min[c];
      if (o.max[c] > s.max[c]) s.max[c] = o.max[c];
    }
    return this;
  }

  /** First key (ascending) of bin row j whose running count passes the test, as DenseStore.keyAtRank. */
  private keyAtRank(j: number, rank: number, lower: boolean): number {
    const b = this.s.bins[j];
    let run = 0;
    let last = 0;
    for (let i = 0; i < b.length; i++) {
      if (b[i] === 0) continue;
      run += b[i];
      last = i;
      if (lower ? run > rank : run >= rank + 1) return i + this.s.lo[j];
    }
    return last + this.s.lo[j];
  }

  /**
   * The DDSketch estimate of quantile q of channel c, with DDSketch.getValueAtQuantile's rank
   * rule and arithmetic (so the same values give the same answer); NaN when empty or q not in [0, 1].
   */
  quantile(c: number, q: number): number {
    const C = this.s.channels;
    const neg = this.s.binTotal[C + c];
    const zero = this.s.zero[c];
    const n = this.count(c);
    if (!(q >= 0 && q <= 1) || n === 0) return NaN;
    const rank = q * (n - 1);
    if (rank < neg) return -this.mapping.value(this.keyAtRank(C + c, neg - rank - 1, false));
    if (rank < zero + neg) return 0;
    return this.mapping.value(this.keyAtRank(c, rank - zero - neg, true));
  }

  result(q: number[] = [0.01, 0.1, 0.5, 0.9, 0.99]): MaxSketchResult {
    const s = this.s;
    const C = s.channels;
    const r: MaxSketchResult = {
      layer: s.layer, q: q.slice(), channel: Int32Array.from({ length: C }, (_, c) => c),
      count: new Float64Array(C), zero_count: s.zero.slice(), min: new Float32Array(C),
      max: new Float32Array(C), quantile: q.map(() => new Float64Array(C)),
    };
    for (let c = 0; c < C; c++) {
      r.count[c] = this.count(c);
      r.min[c] = this.min(c);
      r.max[c] = this.max(c);
      q.forEach((x, i) => (r.quantile[i][c] = this.quantile(c, x)));
    }
    return r;
  }

  toColumns(): MaxSketchColumns {
    const s = this.s;
    const C = s.channels;
    let R = C;
    for (const b of s.bins) for (let i = 0; i < b.length; i++) if (b[i] !== 0) R++;
    const cols: MaxSketchColumns = {
      channel: new Int32Array(R), sign: new Int32Array(R), key: new Int32Array(R),
      count: new Float64Array(R), min: new Float32Array(R), max: new Float32Array(R),
    };
    let r = 0;
    const put = (c: number, sign: number, key: number, n: number) => {
      cols.channel[r] = c;
      cols.sign[r] = sign;
      cols.key[r] = key;
      cols.count[r] = n;
      cols.min[r] = s.min[c];
      cols.max[r] = s.max[c];
      r++;
    };
    for (let c = 0; c < C; c++) {
      // Ascending value order: sign, then sign * key.
      const nb = s.bins[C + c];
      for (let i = nb.length - 1; i >= 0; i--) if (nb[i] !== 0) put(c, -1, i + s.lo[C + c], nb[i]);
      put(c, 0, 0, s.zero[c]);
      const pb = s.bins[c];
      for (let i = 0; i < pb.length; i++) if (pb[i] !== 0) put(c, 1, i + s.lo[c], pb[i]);
    }
    return cols;
  }

  /**
   * Restores a partial from its rows (any order). Channels are the sign-0 rows (0..C-1 once
   * each); a bucket may appear once; min/max must agree on every row of a channel. The
   * relative accuracy is not in the rows (it is a setting of the run, like NeuronStats' eps).
   */
  static fromColumns(cols: MaxSketchColumnsLike, relativeAccuracy = 0.01, layer?: string): MaxSketch {
    const R = cols.channel?.length ?? 0;
    for (const name of COLS) checkColumn(KIND, name, cols[name], R);
    let C = 0;
    for (let r = 0; r < R; r++) if (cols.sign[r] === 0) C++;
    if (C === 0) throw badState(KIND, 'no zero row (sign 0, key 0): every channel has one');
    const st = emptyMaxSketchState(C, relativeAccuracy, layer);
    const sk = new MaxSketch(st, st);
    const seenZero = new Uint8Array(C);
    for (let r = 0; r < R; r++) {
      const c = cols.channel[r];
      const sign = cols.sign[r];
      const key = cols.key[r];
      const n = cols.count[r];
      if (!(Number.isInteger(c) && c >= 0 && c < C)) throw badState(KIND, `row ${r}: channel ${c} not in 0..${C - 1}`);
      if (sign !== -1 && sign !== 0 && sign !== 1) throw badState(KIND, `row ${r}: sign ${sign} not -1, 0 or 1`);
      if ((key | 0) !== key || (sign === 0 && key !== 0)) throw badState(KIND, `row ${r}: key ${key} is not an int32 (0 for sign 0)`);
      if (!(Number.isInteger(n) && (n > 0 || (n === 0 && sign === 0)))) throw badState(KIND, `row ${r}: count ${n} is not a positive integer`);
      if (sign === 0) {
        if (seenZero[c]) throw badState(KIND, `row ${r}: channel ${c} has two zero rows`);
        seenZero[c] = 1;
        st.zero[c] = n;
        st.min[c] = cols.min[r] + 0;
        st.max[c] = cols.max[r] + 0;
      } else {
        const j = sign > 0 ? c : C + c;
        if (sk.binAt(j, key) !== 0) throw badState(KIND, `row ${r}: channel ${c} sign ${sign} key ${key} appears twice`);
        sk.bump(j, key, n);
      }
    }
    for (let r = 0; r < R; r++) {
      const c = cols.channel[r];
      if (!Object.is(cols.min[r] + 0, st.min[c]) || !Object.is(cols.max[r] + 0, st.max[c])) {
        throw badState(KIND, `row ${r}: min/max differ from channel ${c}'s zero row`);
      }
    }
    for (let c = 0; c < C; c++) {
      if (sk.count(c) > 0 && !(st.min[c] <= st.max[c])) throw badState(KIND, `channel ${c}: min > max`);
    }
    return sk;
  }

  toJSON(): MaxSketchJSON {
    const s = this.s;
    const cols = this.toColumns();
    const columns = Object.fromEntries(COLS.map((n) => [n, numbersToJSON(cols[n])])) as MaxSketchJSON['columns'];
    return {
      kind: KIND, version: 1, ...(s.layer !== undefined ? { layer: s.layer } : {}),
      channels: s.channels, relativeAccuracy: s.relativeAccuracy, columns,
    };
  }

  static fromJSON(json: unknown): MaxSketch {
    const j = json as Partial<MaxSketchJSON> | null;
    if (!j || typeof j !== 'object' || j.kind !== KIND) throw badState(KIND, 'not a MaxSketch state');
    if (j.version !== 1) throw badState(KIND, `unsupported version ${String(j.version)}`);
    if (typeof j.relativeAccuracy !== 'number') throw badState(KIND, 'relativeAccuracy is not a number');
    if (j.layer !== undefined && typeof j.layer !== 'string') throw badState(KIND, 'layer is not a string');
    if (!j.columns || typeof j.columns !== 'object') throw badState(KIND, 'columns missing');
    const rows = Array.isArray(j.columns.channel) ? j.columns.channel.length : -1;
    const cols = Object.fromEntries(COLS.map((n) => [n, numbersFromJSON(KIND, n, j.columns![n], rows)]));
    const sk = MaxSketch.fromColumns(cols as unknown as MaxSketchColumnsLike, j.relativeAccuracy, j.layer);
    if (sk.channels !== j.channels) throw badState(KIND, `channels ${String(j.channels)} but ${sk.channels} zero rows`);
    return sk;
  }
}
