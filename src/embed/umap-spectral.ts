/**
 * Spectral initialisation for UMAP (McInnes et al. 2018, sec. 4.2; umap-learn's default
 * `init='spectral'`): the layout is given by the eigenvectors 2..3 of the symmetric normalised
 * adjacency N = D^-1/2 W D^-1/2 of the fuzzy graph W (the smallest non-trivial eigenvectors of
 * the normalised Laplacian I - N), scaled to [-10, 10] like umap-learn. umap-js only has a
 * random start, which tears clusters into pieces placed far apart.
 *
 * Eigenvectors by block subspace iteration on (I + N) / 2 (positive semi-definite, same
 * eigenvectors) with the trivial eigenvector sqrt(d) projected out, Rayleigh-Ritz every step;
 * bounded iterations, seeded start: deterministic. Like umap-learn's fallback, an inaccurate
 * spectrum still gives a usable start, the optimisation does the rest.
 */
import { symmetricEigen } from './eigen.js';

export interface SparseGraph {
  n: number;
  rows: ArrayLike<number>;
  cols: ArrayLike<number>;
  vals: ArrayLike<number>;
}

export function spectralLayout(g: SparseGraph, rand: () => number, maxIter = 300, tol = 1e-6): Float64Array {
  const { n } = g;
  const nnz = g.vals.length;
  const deg = new Float64Array(n);
  for (let e = 0; e < nnz; e++) deg[g.rows[e]] += g.vals[e];
  const inv = new Float64Array(n);
  for (let i = 0; i < n; i++) inv[i] = deg[i] > 0 ? 1 / Math.sqrt(deg[i]) : 0;
  // N entries
  const rows = Int32Array.from(g.rows as ArrayLike<number>);
  const cols = Int32Array.from(g.cols as ArrayLike<number>);
  const w = new Float64Array(nnz);
  for (let e = 0; e < nnz; e++) w[e] = g.vals[e] * inv[rows[e]] * inv[cols[e]];
  // Trivial eigenvector of N (eigenvalue 1): sqrt(deg), normalised.
  const triv = new Float64Array(n);
  let tn = 0;
  for (let i = 0; i < n; i++) tn += deg[i];
  for (let i = 0; i < n; i++) triv[i] = Math.sqrt(deg[i] / (tn || 1));
  const L = 6; // block: 2 wanted + 4 guard vectors
  let Q: Float64Array = new Float64Array(L * n);
  for (let t = 0; t < Q.length; t++) Q[t] = rand() - 0.5;
  const Y = new Float64Array(L * n);
  const deflateOrth = (M: Float64Array) => {
    for (let c = 0; c < L; c++) {
      const o = c * n;
      let dt = 0;
      for (let i = 0; i < n; i++) dt += M[o + i] * triv[i];
      for (let i = 0; i < n; i++) M[o + i] -= dt * triv[i];
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += M[o + i] * M[p * n + i];
        for (let i = 0; i < n; i++) M[o + i] -= dot * M[p * n + i];
      }
      let nr = 0;
      for (let i = 0; i < n; i++) nr += M[o + i] ** 2;
      const s = nr > 1e-300 ? 1 / Math.sqrt(nr) : 0;
      for (let i = 0; i < n; i++) M[o + i] *= s;
    }
  };
  deflateOrth(Q);
  let prev = [NaN, NaN];
  let ritzVec: Float64Array = new Float64Array(L * L);
  for (let it = 0; it < maxIter; it++) {
    // Y = (I + N) / 2 Q
    for (let c = 0; c < L; c++) {
      const o = c * n;
      for (let i = 0; i < n; i++) Y[o + i] = 0.5 * Q[o + i];
      for (let e = 0; e < nnz; e++) Y[o + rows[e]] += 0.5 * w[e] * Q[o + cols[e]];
    }
    const B = new Float64Array(L * L);
    for (let r = 0; r < L; r++) {
      for (let c = r; c < L; c++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += Q[r * n + i] * Y[c * n + i];
        B[r * L + c] = B[c * L + r] = s;
      }
    }
    const ev = symmetricEigen(B, L);
    ritzVec = ev.vectors;
    const next = new Float64Array(L * n);
    for (let c = 0; c < L; c++) {
      for (let r = 0; r < L; r++) {
        const v = ritzVec[r * L + c];
        for (let i = 0; i < n; i++) next[c * n + i] += v * Y[r * n + i];
      }
    }
    deflateOrth(next);
    Q = next;
    const done = Math.abs(ev.values[0] - prev[0]) < tol && Math.abs(ev.values[1] - prev[1]) < tol;
    prev = [ev.values[0], ev.values[1]];
    if (done) break;
  }
  const out = new Float64Array(2 * n);
  for (let c = 0; c < 2; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(Q[c * n + i]));
    for (let i = 0; i < n; i++) out[2 * i + c] = m > 0 ? (10 * Q[c * n + i]) / m : 0;
  }
  return out;
}
