/**
 * Principal component analysis (Pearson 1901; Hotelling 1933), exact: centre the data, form the
 * d x d covariance in float64, eigen-decompose it (eigen.ts) and project onto the leading
 * eigenvectors. Standard preprocessing before t-SNE/UMAP (van der Maaten & Hinton 2008 reduce to
 * 50 dims first): it removes noise dimensions and makes the O(n^2 d) exact kNN affordable.
 * Deterministic: for d > 256 and dims <= d/2 the leading eigenvectors come from subspace
 * iteration (eigen.ts topEigen) started from a Gaussian block seeded by `seed`.
 * The two O(n d^2) / O(n d k) products run as tfjs matMul blocks (XNNPACK on wasm) when a fast
 * backend is active -- float32 within a block of rows, blocks summed in float64 -- else as JS loops.
 */
import { tfc } from '../model/tf.js';
import { mulberry32 } from '../train/prng.js';
import { symmetricEigen, topEigen } from './eigen.js';
import { validatePoints, type Points } from './validate.js';

export interface PcaResult extends Points {
  /** Variance along each kept component (eigenvalues of the covariance, descending). */
  explainedVariance: Float64Array;
  /** Fraction of total variance kept by each component. */
  explainedVarianceRatio: Float64Array;
  /** Column means that were subtracted. */
  mean: Float64Array;
  /** Components, row-major dims x d (row k = k-th principal axis). */
  components: Float32Array;
}

/** Column means, float64. */
function columnMeans(p: Points): Float64Array {
  const { data, n, d } = p;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let j = 0; j < d; j++) mean[j] += data[o + j];
  }
  for (let j = 0; j < d; j++) mean[j] /= Math.max(1, n);
  return mean;
}

/**
 * Upper triangle of X^T X for centred X, accumulated over blocks of 4 rows so each covariance
 * entry is loaded/stored once per 4 multiply-adds (the loop is memory-bound otherwise).
 */
function covariance(p: Points, mean: Float64Array): Float64Array {
  const { data, n, d } = p;
  const c = new Float64Array(d * d);
  const r0 = new Float64Array(d);
  const r1 = new Float64Array(d);
  const r2 = new Float64Array(d);
  const r3 = new Float64Array(d);
  const rows = [r0, r1, r2, r3];
  for (let i = 0; i < n; i += 4) {
    const m = Math.min(4, n - i);
    for (let t = 0; t < 4; t++) {
      const r = rows[t];
      if (t < m) for (let j = 0; j < d; j++) r[j] = data[(i + t) * d + j] - mean[j];
      else r.fill(0);
    }
    for (let a = 0; a < d; a++) {
      const a0 = r0[a];
      const a1 = r1[a];
      const a2 = r2[a];
      const a3 = r3[a];
      const o = a * d;
      for (let b = a; b < d; b++) c[o + b] += a0 * r0[b] + a1 * r1[b] + a2 * r2[b] + a3 * r3[b];
    }
  }
  const denom = Math.max(1, n - 1);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = c[a * d + b] / denom;
      c[a * d + b] = v;
      c[b * d + a] = v;
    }
  }
  return c;
}

const ROWS = 4096;

function fastBackend(): boolean {
  const be = tfc.engine().backendName as string | undefined;
  return be === 'wasm' || be === 'tensorflow';
}

/** Centred rows [r0, r0 + m) as float32. */
function centredBlock(p: Points, mean: Float64Array, r0: number, m: number): Float32Array {
  const { data, d } = p;
  const b = new Float32Array(m * d);
  for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) b[i * d + j] = data[(r0 + i) * d + j] - mean[j];
  return b;
}

/** Covariance by blocks X_b^T X_b on tfjs. */
function covarianceTf(p: Points, mean: Float64Array): Float64Array {
  const { n, d } = p;
  const c = new Float64Array(d * d);
  for (let r0 = 0; r0 < n; r0 += ROWS) {
    const m = Math.min(ROWS, n - r0);
    const part = tfc.tidy(() => {
      const x = tfc.tensor2d(centredBlock(p, mean, r0, m), [m, d]);
      return tfc.matMul(x, x, true, false);
    });
    const v = part.dataSync();
    part.dispose();
    for (let t = 0; t < d * d; t++) c[t] += v[t];
  }
  const denom = Math.max(1, n - 1);
  for (let t = 0; t < d * d; t++) c[t] /= denom;
  return c;
}

/** Projection of centred rows onto `w` (d x k, float32) on tfjs. */
function projectTf(p: Points, mean: Float64Array, wdk: Float32Array, k: number): Float32Array {
  const { n, d } = p;
  const out = new Float32Array(n * k);
  const w = tfc.tensor2d(wdk, [d, k]);
  try {
    for (let r0 = 0; r0 < n; r0 += ROWS) {
      const m = Math.min(ROWS, n - r0);
      const part = tfc.tidy(() => tfc.matMul(tfc.tensor2d(centredBlock(p, mean, r0, m), [m, d]), w));
      out.set(part.dataSync() as Float32Array, r0 * k);
      part.dispose();
    }
  } finally {
    w.dispose();
  }
  return out;
}

/** C Q as a tfjs product (the subspace iteration's only O(d^2) step). */
function tfMultiply(cov: Float64Array, d: number): (Q: Float64Array, out: Float64Array, L: number) => void {
  const c = Float32Array.from(cov);
  return (Q, out, L) => {
    // Q is L x d (one vector per row); C symmetric: (C Q^T)^T = Q C.
    const r = tfc.tidy(() => tfc.matMul(tfc.tensor2d(Float32Array.from(Q), [L, d]), tfc.tensor2d(c, [d, d])));
    out.set(r.dataSync());
    r.dispose();
  };
}

/** Projects `points` onto their first min(dims, d) principal components (n x dims, float32). */
export function pca(points: Points, dims: number, seed = 0): PcaResult {
  validatePoints(points, 'pca input');
  const { data, n, d } = points;
  const k = Math.max(1, Math.min(Math.floor(dims), d));
  const mean = columnMeans(points);
  const fast = fastBackend() && n * d * d > 1e8;
  const cov = fast ? covarianceTf(points, mean) : covariance(points, mean);
  let total = 0;
  for (let j = 0; j < d; j++) total += cov[j * d + j]; // trace = total variance
  // Full decomposition for small d; leading-k subspace iteration when k << d (O(d^2 k) per step).
  const partial = d > 256 && k <= d / 2;
  const eig = partial ? topEigen(cov, d, k, mulberry32(seed), 300, fast ? tfMultiply(cov, d) : undefined, fast ? 1e-6 : 1e-10) : symmetricEigen(cov, d);
  const values = eig.values;
  const stride = partial ? k : d; // column stride of eig.vectors
  const vectors = eig.vectors;
  const explainedVariance = new Float64Array(k);
  const explainedVarianceRatio = new Float64Array(k);
  const components = new Float32Array(k * d);
  const w = new Float64Array(k * d); // component-major, float64 for the projection
  for (let c = 0; c < k; c++) {
    explainedVariance[c] = Math.max(0, values[c]);
    explainedVarianceRatio[c] = total > 0 ? explainedVariance[c] / total : 0;
    for (let j = 0; j < d; j++) {
      w[c * d + j] = vectors[j * stride + c];
      components[c * d + j] = vectors[j * stride + c];
    }
  }
  if (fast) {
    const wdk = new Float32Array(d * k);
    for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) wdk[j * k + c] = vectors[j * stride + c];
    const out = projectTf(points, mean, wdk, k);
    return { data: out, n, d: k, explainedVariance, explainedVarianceRatio, mean, components };
  }
  const out = new Float32Array(n * k);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = data[i * d + j] - mean[j];
    for (let c = 0; c < k; c++) {
      let s = 0;
      const o = c * d;
      for (let j = 0; j < d; j++) s += row[j] * w[o + j];
      out[i * k + c] = s;
    }
  }
  return { data: out, n, d: k, explainedVariance, explainedVarianceRatio, mean, components };
}
