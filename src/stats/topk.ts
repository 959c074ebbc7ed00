import type { LayerBatchStats } from './types.js';
import { checkBatch, checkSame, checkSameLayer } from './check.js';
import {
  emptyTopKState,
  precedes,
  topKStateFromColumns,
  topKStateFromJSON,
  topKStateToColumns,
  topKStateToJSON,
  type TopKColumns,
  type TopKColumnsLike,
  type TopKJSON,
  type TopKState,
} from './topk-state.js';

const KIND = 'TopK';

export interface TopKOptions {
  channels: number;
  /** Samples kept per channel (default 32). */
  k?: number;
  layer?: string;
}

/** The top samples of one channel, best first. */
export interface TopKChannel {
  value: Float32Array;
  sampleId: Int32Array;
  /** Flat t*H*W + y*W + x index of the max position (see unflattenArgmax). */
  argmax: Int32Array;
}

/**
 * Per channel, the k samples with the highest per-sample max (the "top activators" of a unit,
 * as in Zeiler & Fergus 2014 and Network Dissection), with the argmax position.
 *
 * Entries are ranked by the total order of `precedes`: value descending, then sampleId ascending,
 * then argmax ascending. The k first elements of a multiset under a total order are unique, so one
 * pass and any tree of merges of any partition give bit-identical results. NaN maxima have no
 * order and are skipped (NeuronStats' mean shows them as NaN); -0 is stored as +0. A sample seen
 * twice is kept twice, as NeuronStats counts it twice.
 *
 * Storage: per channel a sorted array of k slots in flat typed arrays; a candidate first meets
 * one comparison with the channel's current k-th value, so most updates cost a few ns.
 */
export class TopK {
  private readonly s: TopKState;
  /** k-th value of a full channel, -Infinity until full: candidates below it are rejected. */
  private readonly floor: Float32Array;

  /** A fresh statistic, or (with `state`) one restored from saved state, which it takes over. */
  constructor(opts: TopKOptions, state?: TopKState) {
    this.s = state ?? emptyTopKState(opts.channels, opts.k ?? 32, opts.layer);
    if (state) {
      checkSame(KIND, opts.layer, 'channels', opts.channels, state.channels);
      checkSame(KIND, opts.layer, 'k', opts.k ?? 32, state.k);
      checkSameLayer(KIND, opts.layer, state.layer);
    }
    this.floor = new Float32Array(this.s.channels).fill(-Infinity);
    for (let c = 0; c < this.s.channels; c++) this.updateFloor(c);
  }

  get layer(): string | undefined {
    return this.s.layer;
  }
  get channels(): number {
    return this.s.channels;
  }
  get k(): number {
    return this.s.k;
  }

  private updateFloor(c: number): void {
    const { k, size, value } = this.s;
    this.floor[c] = size[c] === k ? value[c * k + k - 1] : -Infinity;
  }

  add(b: LayerBatchStats): this {
    const C = this.s.channels;
    checkBatch(KIND, this.s.layer, C, b);
    const { max, argmax, sampleIds } = b;
    const floor = this.floor;
    for (let i = 0; i < b.batch; i++) {
      const id = sampleIds[i];
      const row = i * C;
      for (let c = 0; c < C; c++) {
        const v = max[row + c];
        // Also false for NaN, which is never kept. + 0 stores -0 as +0 (they tie; keeping
        // either sign would make the bits depend on arrival order).
        if (v >= floor[c]) this.offer(c, v + 0, id, argmax[row + c]);
      }
    }
    return this;
  }

  /** Inserts (v, id, a) into channel c if it ranks among the k best. */
  private offer(c: number, v: number, id: number, a: number): void {
    const { k, value, sampleId, argmax, size } = this.s;
    const base = c * k;
    const n = size[c];
    let p: number;
    if (n === k) {
      p = base + k - 1;
      if (!precedes(v, id, a, value[p], sampleId[p], argmax[p])) return;
    } else {
      p = base + n;
      size[c] = n + 1;
    }
    // Shift worse entries down one slot; equal entries stay ahead (they are indistinguishable).
    while (p > base) {
      const q = p - 1;
      if (!precedes(v, id, a, value[q], sampleId[q], argmax[q])) break;
      value[p] = value[q];
      sampleId[p] = sampleId[q];
      argmax[p] = argmax[q];
      p = q;
    }
    value[p] = v;
    sampleId[p] = id;
    argmax[p] = a;
    if (size[c] === k) this.floor[c] = value[base + k - 1];
  }

  /** Merges another partial into this one (the other is not changed). O(k) per channel. */
  merge(other: TopK): this {
    const s = this.s;
    const o = other.s;
    checkSameLayer(KIND, s.layer, o.layer);
    checkSame(KIND, s.layer, 'channels', s.channels, o.channels);
    checkSame(KIND, s.layer, 'k', s.k, o.k);
    const k = s.k;
    // Merged into scratch first: other may be this.
    const tv = new Float32Array(k);
    const ti = new Int32Array(k);
    const ta = new Int32Array(k);
    for (let c = 0; c < s.channels; c++) {
      const base = c * k;
      const na = base + s.size[c];
      const nb = base + o.size[c];
      let x = base;
      let y = base;
      let n = 0;
      for (; n < k && (x < na || y < nb); n++) {
        // Take from this unless other's head strictly precedes this one's.
        const takeOther = x >= na || (y < nb &&
          precedes(o.value[y], o.sampleId[y], o.argmax[y], s.value[x], s.sampleId[x], s.argmax[x]));
        const src = takeOther ? o : s;
        const p = takeOther ? y++ : x++;
        tv[n] = src.value[p];
        ti[n] = src.sampleId[p];
        ta[n] = src.argmax[p];
      }
      s.value.set(tv.subarray(0, n), base);
      s.sampleId.set(ti.subarray(0, n), base);
      s.argmax.set(ta.subarray(0, n), base);
      s.size[c] = n;
      this.updateFloor(c);
    }
    return this;
  }

  /** For each channel, its entries best first (fewer than k if fewer samples were seen). */
  result(): TopKChannel[] {
    const { k, size, value, sampleId, argmax } = this.s;
    const out: TopKChannel[] = [];
    for (let c = 0; c < this.s.channels; c++) {
      const a = c * k;
      const e = a + size[c];
      out.push({ value: value.slice(a, e), sampleId: sampleId.slice(a, e), argmax: argmax.slice(a, e) });
    }
    return out;
  }

  toColumns(): TopKColumns {
    return topKStateToColumns(this.s);
  }

  /** Restores a partial from its rows (any row order); channels and k are not in the rows. */
  static fromColumns(cols: TopKColumnsLike, channels: number, k = 32, layer?: string): TopK {
    const state = topKStateFromColumns(cols, channels, k, layer);
    return new TopK(state, state);
  }

  toJSON(): TopKJSON {
    return topKStateToJSON(this.s);
  }

  static fromJSON(json: unknown): TopK {
    const state = topKStateFromJSON(json);
    return new TopK(state, state);
  }
}
