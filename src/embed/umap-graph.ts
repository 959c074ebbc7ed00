/**
 * UMAP's fuzzy simplicial set (McInnes, Healy & Melville 2018, sec. 3; umap-js 1.4
 * `smoothKNNDistance`, `computeMembershipStrengths`, `fuzzySimplicialSet`) on typed arrays.
 * umap-js builds it with string-keyed Map sparse matrices: 92 s and ~3 GB at 70k points here;
 * this is the same arithmetic, operation for operation (so layouts match umap-js bit for bit,
 * tested), in O(nnz) time and memory.
 *
 *   rho_i   = distance to the first neighbour at distance > 0 (local connectivity 1)
 *   sigma_i : sum_{j >= 1} exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k), 64 bisection steps
 *   a_ij    = exp(-(d_ij - rho_i) / sigma_i)  (1 when d_ij <= rho_i)
 *   w_ij    = a_ij + a_ji - a_ij a_ji         (fuzzy union, set_op_mix_ratio 1)
 */
import type { KnnGraph } from './knn.js';

const SMOOTH_K_TOLERANCE = 1e-5;
const MIN_K_DIST_SCALE = 1e-3;

export interface FuzzyGraph {
  n: number;
  /** CSR, columns ascending within a row; symmetric. */
  rowPtr: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

/**
 * `graph`: kNN without self (k = nNeighbors - 1 columns used); umap-js's rows are [self, ...].
 */
export function fuzzySimplicialSet(graph: KnnGraph, n: number, nNeighbors: number): FuzzyGraph {
  const k = nNeighbors; // columns per row including self at column 0
  const dist = (i: number, j: number) => (j === 0 ? 0 : graph.distances[i * graph.k + j - 1]);
  const idx = (i: number, j: number) => (j === 0 ? i : graph.indices[i * graph.k + j - 1]);
  const target = (Math.log(k) / Math.log(2)) * 1.0;
  // umap-js recomputes this mean of row means for every row with rho = 0; it is a constant.
  let meanOfMeans = NaN;
  const rowMean = (i: number) => {
    let s = dist(i, 0);
    for (let j = 1; j < k; j++) s += dist(i, j);
    return s / k;
  };
  const a = new Float64Array(n * k); // membership strengths, row-major with the self column
  for (let i = 0; i < n; i++) {
    let rho = 0;
    let firstNonZero = -1;
    let nonZero = 0;
    let maxNonZero = 0;
    for (let j = 0; j < k; j++) {
      const d = dist(i, j);
      if (d > 0) {
        if (firstNonZero < 0) firstNonZero = j;
        nonZero++;
        if (d > maxNonZero) maxNonZero = d;
      }
    }
    if (nonZero >= 1) rho = dist(i, firstNonZero); // local connectivity 1: index 1, interpolation 0
    else if (nonZero > 0) rho = maxNonZero;
    let lo = 0;
    let hi = Infinity;
    let mid = 1.0;
    for (let it = 0; it < 64; it++) {
      let psum = 0.0;
      for (let j = 1; j < k; j++) {
        const d = dist(i, j) - rho;
        if (d > 0) psum += Math.exp(-(d / mid));
        else psum += 1.0;
      }
      if (Math.abs(psum - target) < SMOOTH_K_TOLERANCE) break;
      if (psum > target) {
        hi = mid;
        mid = (lo + hi) / 2.0;
      } else {
        lo = mid;
        if (hi === Infinity) mid *= 2;
        else mid = (lo + hi) / 2.0;
      }
    }
    let sigma = mid;
    if (rho > 0.0) {
      const m = rowMean(i);
      if (sigma < MIN_K_DIST_SCALE * m) sigma = MIN_K_DIST_SCALE * m;
    } else {
      if (Number.isNaN(meanOfMeans)) {
        let s = 0;
        for (let r = 0; r < n; r++) s += rowMean(r);
        meanOfMeans = s / n;
      }
      if (sigma < MIN_K_DIST_SCALE * meanOfMeans) sigma = MIN_K_DIST_SCALE * meanOfMeans;
    }
    for (let j = 0; j < k; j++) {
      let val = 0;
      if (idx(i, j) === i) val = 0.0;
      else if (dist(i, j) - rho <= 0.0) val = 1.0;
      else val = Math.exp(-((dist(i, j) - rho) / sigma));
      a[i * k + j] = val;
    }
  }
  return union(a, graph, n, k, idx);
}

/** w_ij = (a_ij + a_ji) - a_ij * a_ji over the union of both directions; CSR sorted by column. */
function union(a: Float64Array, _g: KnnGraph, n: number, k: number, idx: (i: number, j: number) => number): FuzzyGraph {
  // Bucket directed entries by row: own (i -> j, a_ij) and transposed (j -> i, a_ij).
  const count = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = idx(i, t);
      if (j === i) continue;
      count[i]++;
      count[j]++;
    }
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + count[i];
  const fill = start.slice(0, n);
  const col = new Int32Array(start[n]);
  const own = new Float64Array(start[n]).fill(NaN); // a_ij (row's own kNN), NaN = absent
  const tr = new Float64Array(start[n]).fill(NaN); // a_ji
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = idx(i, t);
      if (j === i) continue;
      const v = a[i * k + t];
      col[fill[i]] = j;
      own[fill[i]++] = v;
      col[fill[j]] = i;
      tr[fill[j]++] = v;
    }
  }
  const rowPtr = new Int32Array(n + 1);
  const cols = new Int32Array(start[n]);
  const vals = new Float64Array(start[n]);
  const where = new Int32Array(n).fill(-1);
  const ownV = new Float64Array(start[n]);
  const trV = new Float64Array(start[n]);
  let nnz = 0;
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const rs = nnz;
    for (let e = start[i]; e < start[i + 1]; e++) {
      const j = col[e];
      let w = where[j];
      if (w < rs) {
        w = nnz++;
        where[j] = w;
        cols[w] = j;
        ownV[w] = 0;
        trV[w] = 0;
      }
      if (!Number.isNaN(own[e])) ownV[w] = own[e];
      if (!Number.isNaN(tr[e])) trV[w] = tr[e];
    }
    // columns ascending (umap-js walks its entries ordered by (row, col))
    order.length = 0;
    for (let w = rs; w < nnz; w++) order.push(w);
    order.sort((x, y) => cols[x] - cols[y]);
    const c2 = order.map((w) => cols[w]);
    const v2 = order.map((w) => ownV[w] + trV[w] - ownV[w] * trV[w]);
    for (let t = 0; t < order.length; t++) {
      cols[rs + t] = c2[t];
      vals[rs + t] = v2[t];
    }
    rowPtr[i + 1] = nnz;
  }
  return { n, rowPtr, cols: cols.slice(0, nnz), vals: vals.slice(0, nnz) };
}
