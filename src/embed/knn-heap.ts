/**
 * The selection half of the exact kNN: one bounded max-heap per query holding its k best
 * candidates (key = ||p||^2 - 2 q.p, i.e. squared distance minus the constant ||q||^2), then
 * exact float64 distances for the winners, sorted by (distance, index).
 */
import type { KnnGraph } from './knn.js';
import type { Points } from './validate.js';

export class KnnHeaps {
  private readonly key: Float64Array;
  private readonly idx: Int32Array;
  private readonly size: Int32Array;
  /** Current k-th best key per query (Infinity until the heap is full): the scan's filter. */
  private readonly worst: Float64Array;

  /** `offset`: query qi is point qi + offset (for the self-match exclusion when `self`). */
  constructor(readonly nq: number, readonly k: number, readonly self: boolean, readonly offset = 0) {
    this.key = new Float64Array(nq * k);
    this.idx = new Int32Array(nq * k);
    this.size = new Int32Array(nq);
    this.worst = new Float64Array(nq).fill(Infinity);
  }

  /** Offers `vals[off .. off+len)` (keys of points p0 .. p0+len) to query `qi`'s heap. */
  scanRow(qi: number, vals: Float32Array, off: number, len: number, p0: number): void {
    let thr = this.worst[qi];
    const selfIdx = this.self ? qi + this.offset : -1;
    for (let j = 0; j < len; j++) {
      const v = vals[off + j];
      // Strict <: points arrive in index order, so an equal key with a larger index loses (ties by index).
      if (v < thr) {
        const pi = p0 + j;
        if (pi === selfIdx) continue;
        thr = this.push(qi, v, pi);
      }
    }
    this.worst[qi] = thr;
  }

  /** Inserts, returns the new filter threshold. */
  private push(qi: number, v: number, pi: number): number {
    const k = this.k;
    const base = qi * k;
    const key = this.key;
    const idx = this.idx;
    let s = this.size[qi];
    if (s < k) {
      let i = s++;
      this.size[qi] = s;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!(v > key[base + p] || (v === key[base + p] && pi > idx[base + p]))) break;
        key[base + i] = key[base + p];
        idx[base + i] = idx[base + p];
        i = p;
      }
      key[base + i] = v;
      idx[base + i] = pi;
      return s === k ? key[base] : Infinity;
    }
    // Full: replace the root (current worst) and sift down.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) break;
      let m = l;
      const r = l + 1;
      if (r < k && (key[base + r] > key[base + l] || (key[base + r] === key[base + l] && idx[base + r] > idx[base + l]))) m = r;
      if (!(key[base + m] > v || (key[base + m] === v && idx[base + m] > pi))) break;
      key[base + i] = key[base + m];
      idx[base + i] = idx[base + m];
      i = m;
    }
    key[base + i] = v;
    idx[base + i] = pi;
    return key[base];
  }

  /** Exact distances (float64 from the inputs) and (distance, index) order. */
  finish(points: Points, q: Points): KnnGraph {
    const { k } = this;
    const d = points.d;
    const indices = new Int32Array(this.nq * k);
    const distances = new Float32Array(this.nq * k);
    const dist = new Float64Array(k);
    const order: number[] = new Array(k);
    for (let qi = 0; qi < this.nq; qi++) {
      const base = qi * k;
      const qo = qi * d;
      for (let t = 0; t < k; t++) {
        const po = this.idx[base + t] * d;
        let s = 0;
        for (let j = 0; j < d; j++) {
          const diff = q.data[qo + j] - points.data[po + j];
          s += diff * diff;
        }
        dist[t] = Math.sqrt(s);
        order[t] = t;
      }
      order.sort((x, y) => dist[x] - dist[y] || this.idx[base + x] - this.idx[base + y]);
      for (let t = 0; t < k; t++) {
        indices[base + t] = this.idx[base + order[t]];
        distances[base + t] = dist[order[t]];
      }
    }
    return { indices, distances, k };
  }
}
