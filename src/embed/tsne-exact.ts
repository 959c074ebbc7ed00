/**
 * Exact O(n^2) t-SNE repulsion and the exact KL divergence objective (van der Maaten & Hinton
 * 2008, eq. 2-5), for small n and as the reference the approximations and tests are checked
 * against. w_ij = 1 / (1 + |y_i - y_j|^2), Z = sum_{i != j} w_ij, q_ij = w_ij / Z.
 */
import { calibratePerplexity } from './perplexity.js';
import type { SparseP } from './tsne-p.js';
import type { Points } from './validate.js';

/** Fills `out` (n x 2) with F_i = sum_j w_ij^2 (y_i - y_j); returns Z. */
export function exactRepulsion(Y: Float64Array, n: number, out: Float64Array): number {
  out.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = Y[2 * i], yi = Y[2 * i + 1];
    let fx = 0, fy = 0;
    for (let j = i + 1; j < n; j++) {
      const dx = xi - Y[2 * j], dy = yi - Y[2 * j + 1];
      const w = 1 / (1 + dx * dx + dy * dy);
      z += w;
      const w2 = w * w;
      fx += w2 * dx;
      fy += w2 * dy;
      out[2 * j] -= w2 * dx;
      out[2 * j + 1] -= w2 * dy;
    }
    out[2 * i] += fx;
    out[2 * i + 1] += fy;
  }
  return 2 * z;
}

/** Z = sum_{i != j} w_ij, exactly. */
export function exactZ(Y: Float64Array | Float32Array, n: number): number {
  let z = 0;
  for (let i = 0; i < n; i++) {
    const xi = Y[2 * i], yi = Y[2 * i + 1];
    for (let j = i + 1; j < n; j++) {
      const dx = xi - Y[2 * j], dy = yi - Y[2 * j + 1];
      z += 1 / (1 + dx * dx + dy * dy);
    }
  }
  return 2 * z;
}

/** KL(P || Q) for sparse P; Q from `Y` with normaliser `z` (exact O(n^2) when omitted). */
export function sparseKl(P: SparseP, Y: Float64Array | Float32Array, z?: number): number {
  const Z = z ?? exactZ(Y, P.n);
  let kl = 0;
  for (let i = 0; i < P.n; i++) {
    const xi = Y[2 * i], yi = Y[2 * i + 1];
    for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) {
      const p = P.vals[e];
      if (!(p > 0)) continue;
      const j = P.cols[e];
      const dx = xi - Y[2 * j], dy = yi - Y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy) / Z;
      kl += p * Math.log(p / q);
    }
  }
  return kl;
}

/**
 * The exact t-SNE objective of a layout: dense P from ALL pairs of `points` (each row calibrated
 * to `perplexity` over its n - 1 others, symmetrised), dense Q from `coords` (n x 2).
 * O(n^2) memory and time: for evaluation on small n (tests compare layouts of different
 * implementations with this one function).
 */
export function exactKl(points: Points, coords: Float32Array | Float64Array, perplexity: number): number {
  const { n, d, data } = points;
  const m = n - 1;
  const d2 = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    let t = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let c = 0; c < d; c++) {
        const diff = data[i * d + c] - data[j * d + c];
        s += diff * diff;
      }
      d2[i * m + t++] = s;
    }
  }
  const { P: cond } = calibratePerplexity(d2, n, m, Math.min(perplexity, m));
  const col = (i: number, t: number) => (t < i ? t : t + 1);
  const pij = (i: number, j: number) => cond[i * m + (j < i ? j : j - 1)];
  const Z = exactZ(coords, n);
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < m; t++) {
      const j = col(i, t);
      const p = (pij(i, j) + pij(j, i)) / (2 * n);
      if (!(p > 0)) continue;
      const dx = coords[2 * i] - coords[2 * j], dy = coords[2 * i + 1] - coords[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy) / Z;
      kl += p * Math.log(p / q);
    }
  }
  return kl;
}
