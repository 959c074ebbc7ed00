/**
 * PCA against known answers (data on a rotated plane; anisotropic Gaussian) and exact kNN
 * against a brute-force reference, on both kNN engines (tfjs matMul on wasm, plain JS).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { tfc } from '../src/model/tf.js';
import { isNeurolensError } from '../src/errors.js';
import { knn, pca, validatePoints, type Points } from '../src/embed/index.js';
import { mulberry32 } from '../src/train/prng.js';
import { symmetricEigen } from '../src/embed/eigen.js';

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-300))) * Math.cos(2 * Math.PI * rand());
}

/** n points a*u + b*v + c0 on a plane spanned by orthonormal u, v in R^d. */
function planeData(n: number, d: number, seed: number) {
  const rand = mulberry32(seed);
  // Orthonormal u, v by Gram-Schmidt on random vectors.
  const u = Array.from({ length: d }, () => gauss(rand));
  const nu = Math.hypot(...u);
  for (let j = 0; j < d; j++) u[j] /= nu;
  const v = Array.from({ length: d }, () => gauss(rand));
  const dot = v.reduce((s, x, j) => s + x * u[j], 0);
  for (let j = 0; j < d; j++) v[j] -= dot * u[j];
  const nv = Math.hypot(...v);
  for (let j = 0; j < d; j++) v[j] /= nv;
  const data = new Float32Array(n * d);
  const ab: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const a = 3 * gauss(rand), b = 1 * gauss(rand);
    ab.push([a, b]);
    for (let j = 0; j < d; j++) data[i * d + j] = 5 + a * u[j] + b * v[j];
  }
  return { points: { data, n, d }, u, v, ab };
}

function bruteKnn(p: Points, k: number, q?: Points) {
  const Q = q ?? p;
  const out: number[][] = [];
  for (let i = 0; i < Q.n; i++) {
    const cand: [number, number][] = [];
    for (let j = 0; j < p.n; j++) {
      if (!q && j === i) continue;
      let s = 0;
      for (let c = 0; c < p.d; c++) s += (Q.data[i * p.d + c] - p.data[j * p.d + c]) ** 2;
      cand.push([Math.sqrt(s), j]);
    }
    cand.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    out.push(cand.slice(0, k).map((c) => c[1]));
  }
  return out;
}

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('pca', () => {
  it('recovers a rotated plane: 2 components carry all variance, reconstruction is exact', () => {
    const { points, u, v } = planeData(400, 20, 1);
    const r = pca(points, 5);
    expect(r.d).toBe(5);
    expect(r.explainedVarianceRatio[0] + r.explainedVarianceRatio[1]).toBeGreaterThan(1 - 1e-6);
    expect(r.explainedVariance[2]).toBeLessThan(1e-6 * r.explainedVariance[0]);
    // Variances near 9 and 1 (sample estimates).
    expect(r.explainedVariance[0] / r.explainedVariance[1]).toBeGreaterThan(5);
    // The first two components span the plane: |<pc, u>|^2 + |<pc, v>|^2 = 1.
    for (let c = 0; c < 2; c++) {
      let pu = 0, pv = 0;
      for (let j = 0; j < points.d; j++) {
        pu += r.components[c * points.d + j] * u[j];
        pv += r.components[c * points.d + j] * v[j];
      }
      expect(pu * pu + pv * pv).toBeCloseTo(1, 5);
    }
    // Reconstruction from 2 components: mean + scores * components == data.
    let maxErr = 0;
    for (let i = 0; i < points.n; i++) {
      for (let j = 0; j < points.d; j++) {
        const rec = r.mean[j] + r.data[i * 5] * r.components[j] + r.data[i * 5 + 1] * r.components[points.d + j];
        maxErr = Math.max(maxErr, Math.abs(rec - points.data[i * points.d + j]));
      }
    }
    expect(maxErr).toBeLessThan(1e-3);
  });

  it('leading components of a diagonal covariance, also on the subspace-iteration path (d > 256)', () => {
    const n = 3000, d = 300;
    const rand = mulberry32(7);
    const data = new Float32Array(n * d);
    // Columns 0..3 have std 40, 20, 10, 5, the rest 0.5: the components are the axes (well
    // separated variances keep the sample eigenvectors within ~0.01 rad of them).
    const sd = (j: number) => (j < 4 ? 40 / 2 ** j : 0.5);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = gauss(rand) * sd(j);
    const r = pca({ data, n, d }, 4, 3);
    for (let c = 0; c < 4; c++) {
      // component c is (up to sign convention: positive largest entry) axis c
      expect(Math.abs(r.components[c * d + c])).toBeGreaterThan(0.998); // sampling noise of the 296 noise dims
      expect(r.explainedVariance[c]).toBeGreaterThan(sd(c) ** 2 * 0.9);
      expect(r.explainedVariance[c]).toBeLessThan(sd(c) ** 2 * 1.1);
    }
    // Against the full (Householder + QL) decomposition of the same sample covariance.
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += data[i * d + j] / n;
    const cov = new Float64Array(d * d);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) row[j] = data[i * d + j] - mean[j];
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] += (row[a] * row[b]) / (n - 1);
    }
    const full = symmetricEigen(cov, d);
    for (let c = 0; c < 4; c++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += r.components[c * d + j] * full.vectors[j * d + c];
      expect(Math.abs(dot)).toBeGreaterThan(1 - 1e-4);
      expect(r.explainedVariance[c]).toBeCloseTo(full.values[c], 1);
    }
    // deterministic
    const again = pca({ data, n, d }, 4, 3);
    expect(Array.from(again.data.subarray(0, 100))).toEqual(Array.from(r.data.subarray(0, 100)));
  });
});

describe('knn', () => {
  const rand = mulberry32(11);
  const n = 700, d = 13;
  const data = new Float32Array(n * d).map(() => gauss(rand));
  // A few exact duplicates to exercise ties (broken by index).
  data.copyWithin(5 * d, 3 * d, 4 * d);
  data.copyWithin(9 * d, 3 * d, 4 * d);
  const points = { data, n, d };

  it('tfjs (wasm matMul) and JS engines equal the brute-force neighbours, self excluded', () => {
    const ref = bruteKnn(points, 12);
    const start = tfc.memory().numTensors;
    for (const engine of ['tfjs', 'js'] as const) {
      const g = knn(points, 12, undefined, { engine });
      expect(g.k).toBe(12);
      for (let i = 0; i < n; i++) expect(Array.from(g.indices.subarray(i * 12, i * 12 + 12))).toEqual(ref[i]);
      for (let t = 1; t < g.distances.length; t++) if (t % 12) expect(g.distances[t]).toBeGreaterThanOrEqual(g.distances[t - 1]);
    }
    expect(tfc.memory().numTensors).toBe(start);
    // Ties: point 3's twin copies (5 and 9) are at distance 0, nearest first by index.
    const g = knn(points, 3);
    expect(Array.from(g.indices.subarray(3 * 3, 3 * 3 + 2))).toEqual([5, 9]);
    expect(g.distances[3 * 3]).toBe(0);
  });

  it('separate queries include exact matches', () => {
    const q = { data: data.slice(0, 10 * d), n: 10, d };
    const ref = bruteKnn(points, 5, q);
    const g = knn(points, 5, q, { engine: 'tfjs' });
    for (let i = 0; i < 10; i++) expect(Array.from(g.indices.subarray(i * 5, i * 5 + 5))).toEqual(ref[i]);
    expect(g.distances[0]).toBe(0);
  });

  it('refuses k >= n and mismatched dims with BAD_INPUT', () => {
    const small = { data: new Float32Array(4 * 2), n: 4, d: 2 };
    expect(() => knn(small, 4)).toThrow(/k=4 neighbours requested but only 3 other points/);
    try {
      knn(small, 2, { data: new Float32Array(3), n: 1, d: 3 });
      throw new Error('no throw');
    } catch (e) {
      expect(isNeurolensError(e) && e.code).toBe('BAD_INPUT');
    }
  });
});

describe('validatePoints', () => {
  it('names the row and column of a NaN / Inf', () => {
    const data = new Float32Array(12);
    data[7] = NaN; // row 2, col 1 of a 4 x 3
    expect(() => validatePoints({ data, n: 4, d: 3 }, 'codes of layer fc')).toThrow(/codes of layer fc: row 2 column 1 is NaN/);
    data[7] = 0;
    data[11] = -Infinity;
    expect(() => validatePoints({ data, n: 4, d: 3 }, 'x')).toThrow(/row 3 column 2 is -Infinity/);
    expect(() => validatePoints({ data: new Float32Array(5), n: 2, d: 3 }, 'x')).toThrow(/expected n\*d/);
  });
});
