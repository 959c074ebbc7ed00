/**
 * Exact k-nearest neighbours (Euclidean) by blocked brute force, the matrix-product form
 * ||q - p||^2 = ||q||^2 + (||p||^2 - 2 q.p). The bracket is ONE product of the augmented
 * matrices [q, 1] and [-2p; ||p||^2], so the heavy part runs as a tfjs matMul (XNNPACK on the
 * wasm backend, ~20 GFLOP/s here vs ~1 for a JS loop) and JS only scans each block for values
 * under each query's current k-th best. Chosen neighbours then get their distance recomputed in
 * float64 from the inputs (the float32 product form loses digits for close pairs far from the
 * origin) and are sorted by distance, ties by index: results are deterministic.
 * Without an initialised tfjs backend that is fast (wasm / tensorflow), a plain JS loop does the
 * same computation (used by tests and tiny inputs).
 */
import { NeurolensError } from '../errors.js';
import { tfc } from '../model/tf.js';
import { KnnHeaps } from './knn-heap.js';
import { validatePoints, type Points } from './validate.js';

export interface KnnGraph {
  /** n x k neighbour indices (row-major), nearest first. */
  indices: Int32Array;
  /** n x k Euclidean distances (not squared), ascending. */
  distances: Float32Array;
  k: number;
}

export interface KnnOptions {
  /** 'auto' uses tfjs when the active backend is wasm or tensorflow, else JS loops. */
  engine?: 'auto' | 'tfjs' | 'js';
  /**
   * With `queries`: they are rows [selfOffset, selfOffset + queries.n) of `points`, and each
   * query's own row is excluded (how a worker computes a slice of the self-kNN).
   */
  selfOffset?: number;
  /** Called after each block of queries. */
  onProgress?: (done: number, total: number) => void;
}

const QB = 256; // queries per block
const PB = 8192; // points per block (product block QB x PB floats = 8 MB)

/**
 * k nearest neighbours of each query among `points`. Without `queries`, the points are their own
 * queries and each point's self-match is excluded (k must then be <= n - 1).
 */
export function knn(points: Points, k: number, queries?: Points, opts: KnnOptions = {}): KnnGraph {
  validatePoints(points, 'knn points');
  if (queries) validatePoints(queries, 'knn queries');
  const offset = queries && opts.selfOffset !== undefined ? opts.selfOffset : 0;
  const self = !queries || opts.selfOffset !== undefined;
  const q = queries ?? points;
  if (q.d !== points.d) throw new NeurolensError('BAD_INPUT', `knn: queries have ${q.d} dims, points have ${points.d}`);
  const maxK = self ? points.n - 1 : points.n;
  if (queries && opts.selfOffset !== undefined && (offset < 0 || offset + queries.n > points.n)) {
    throw new NeurolensError('BAD_INPUT', `knn: selfOffset ${offset} + ${queries.n} queries exceed ${points.n} points`);
  }
  if (!Number.isInteger(k) || k < 1 || k > maxK) {
    throw new NeurolensError('BAD_INPUT', `knn: k=${k} neighbours requested but only ${maxK} ${self ? 'other ' : ''}points exist (n=${points.n})`);
  }
  const engine = opts.engine ?? 'auto';
  const be = tfc.engine().backendName as string | undefined;
  const useTf = engine === 'tfjs' || (engine === 'auto' && (be === 'wasm' || be === 'tensorflow') && points.n * q.n > 1e6);
  const heaps = new KnnHeaps(q.n, k, self, offset);
  if (useTf) scanTfjs(points, q, heaps, opts.onProgress);
  else scanJs(points, q, heaps, opts.onProgress);
  return heaps.finish(points, q);
}

function sqNorms(p: Points): Float64Array {
  const out = new Float64Array(p.n);
  for (let i = 0; i < p.n; i++) {
    let s = 0;
    for (let j = i * p.d, e = j + p.d; j < e; j++) s += p.data[j] * p.data[j];
    out[i] = s;
  }
  return out;
}

/** Plain-JS reference path: same blocking, scalar dot products. */
function scanJs(points: Points, q: Points, heaps: KnnHeaps, onProgress?: (done: number, total: number) => void): void {
  const { n, d } = points;
  const X = points.data;
  const Q = q.data;
  const pn = sqNorms(points);
  const row = new Float32Array(Math.min(PB, n));
  for (let q0 = 0; q0 < q.n; q0 += QB) {
    const qm = Math.min(QB, q.n - q0);
    for (let p0 = 0; p0 < n; p0 += PB) {
      const pm = Math.min(PB, n - p0);
      for (let a = 0; a < qm; a++) {
        const qo = (q0 + a) * d;
        for (let b = 0; b < pm; b++) {
          const po = (p0 + b) * d;
          let s = 0;
          for (let j = 0; j < d; j++) s += Q[qo + j] * X[po + j];
          row[b] = pn[p0 + b] - 2 * s;
        }
        heaps.scanRow(q0 + a, row, 0, pm, p0);
      }
    }
    onProgress?.(q0 + qm, q.n);
  }
}

/** tfjs path: persistent right operands [-2p; ||p||^2] per point block, one matMul per block pair. */
function scanTfjs(points: Points, q: Points, heaps: KnnHeaps, onProgress?: (done: number, total: number) => void): void {
  const { n, d } = points;
  const pn = sqNorms(points);
  const backend = tfc.backend() as unknown as { typedArrayFromHeap?: (info: tfc.TensorInfo) => Float32Array };
  const heapView = typeof backend.typedArrayFromHeap === 'function' ? backend.typedArrayFromHeap.bind(backend) : null;
  const rights: tfc.Tensor2D[] = [];
  try {
    for (let p0 = 0; p0 < n; p0 += PB) {
      const pm = Math.min(PB, n - p0);
      const b = new Float32Array((d + 1) * pm); // (d+1) x pm, column b = [-2 p; ||p||^2]
      for (let c = 0; c < pm; c++) {
        const po = (p0 + c) * d;
        for (let j = 0; j < d; j++) b[j * pm + c] = -2 * points.data[po + j];
        b[d * pm + c] = pn[p0 + c];
      }
      rights.push(tfc.tensor2d(b, [d + 1, pm]));
    }
    const a = new Float32Array(QB * (d + 1));
    for (let q0 = 0; q0 < q.n; q0 += QB) {
      const qm = Math.min(QB, q.n - q0);
      for (let r = 0; r < qm; r++) {
        a.set(q.data.subarray((q0 + r) * d, (q0 + r + 1) * d), r * (d + 1));
        a[r * (d + 1) + d] = 1;
      }
      const left = tfc.tensor2d(a.subarray(0, qm * (d + 1)), [qm, d + 1]);
      try {
        for (let bi = 0; bi < rights.length; bi++) {
          const p0 = bi * PB;
          const pm = rights[bi].shape[1];
          const prod = tfc.matMul(left, rights[bi]);
          try {
            // wasm: a view of the product in the heap (no copy); other backends: a download.
            const vals = heapView ? heapView(prod) : (prod.dataSync() as Float32Array);
            for (let r = 0; r < qm; r++) heaps.scanRow(q0 + r, vals, r * pm, pm, p0);
          } finally {
            prod.dispose();
          }
        }
      } finally {
        left.dispose();
      }
      onProgress?.(q0 + qm, q.n);
    }
  } finally {
    for (const t of rights) t.dispose();
  }
}
