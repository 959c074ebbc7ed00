/**
 * Eigen-decomposition of a real symmetric matrix: Householder tridiagonalisation followed by the
 * implicit QL algorithm (Bowdler, Martin, Reinsch & Wilkinson, "The QR and QL algorithms for
 * symmetric matrices", Numer. Math. 1968; EISPACK tred2/tql2, as ported to the public-domain JAMA
 * library). O(d^3), deterministic, float64 throughout. Used by PCA on the d x d covariance.
 */

/** Eigenvalues (descending) and eigenvectors (column k of `vectors`, row-major d x d) of symmetric `a`. */
export function symmetricEigen(a: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const V: Float64Array[] = [];
  for (let i = 0; i < d; i++) V.push(Float64Array.from(a.subarray(i * d, i * d + d)));
  const val = new Float64Array(d);
  const e = new Float64Array(d);
  tred2(V, val, e, d);
  tql2(V, val, e, d);
  // tql2 sorts ascending; return descending with a sign convention (largest |component| > 0) so
  // results do not depend on rounding-order accidents.
  const values = new Float64Array(d);
  const vectors = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const src = d - 1 - k;
    values[k] = val[src];
    let big = 0;
    for (let i = 0; i < d; i++) if (Math.abs(V[i][src]) > Math.abs(big)) big = V[i][src];
    const s = big < 0 ? -1 : 1;
    for (let i = 0; i < d; i++) vectors[i * d + k] = s * V[i][src];
  }
  return { values, vectors };
}

/** Householder reduction to tridiagonal form (JAMA EigenvalueDecomposition.tred2). */
function tred2(V: Float64Array[], dd: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) dd[j] = V[n - 1][j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(dd[k]);
    if (scale === 0) {
      e[i] = dd[i - 1];
      for (let j = 0; j < i; j++) {
        dd[j] = V[i - 1][j];
        V[i][j] = 0;
        V[j][i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        dd[k] /= scale;
        h += dd[k] * dd[k];
      }
      let f = dd[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      dd[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = dd[j];
        V[j][i] = f;
        g = e[j] + V[j][j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k][j] * dd[k];
          e[k] += V[k][j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * dd[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * dd[j];
      for (let j = 0; j < i; j++) {
        f = dd[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k][j] -= f * e[k] + g * dd[k];
        dd[j] = V[i - 1][j];
        V[i][j] = 0;
      }
    }
    dd[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[n - 1][i] = V[i][i];
    V[i][i] = 1;
    const h = dd[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) dd[k] = V[k][i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k][i + 1] * V[k][j];
        for (let k = 0; k <= i; k++) V[k][j] -= g * dd[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k][i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    dd[j] = V[n - 1][j];
    V[n - 1][j] = 0;
  }
  V[n - 1][n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL iterations on the tridiagonal form (JAMA EigenvalueDecomposition.tql2). */
function tql2(V: Float64Array[], d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      // Bounded: each eigenvalue converges in a few iterations; 60 is far beyond what is needed.
      for (let iter = 0; iter < 60; iter++) {
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            h = V[k][i + 1];
            V[k][i + 1] = s * V[k][i] + c * h;
            V[k][i] = c * V[k][i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    d[l] = d[l] + f;
    e[l] = 0;
  }
  // Sort ascending (selection sort, as JAMA).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[j][i];
        V[j][i] = V[j][k];
        V[j][k] = t;
      }
    }
  }
}

/**
 * Leading `k` eigenpairs of a symmetric positive semi-definite d x d matrix by subspace (block
 * power) iteration with Rayleigh-Ritz (Saad, "Numerical Methods for Large Eigenvalue Problems",
 * 2011, ch. 5), for k << d where the full O(d^3) decomposition is needlessly slow. Block of
 * L = k + 16 vectors from a seeded Gaussian start; stops when the top-k Ritz values change by
 * < `tol` relative to the largest (1e-10 for float64 products; a float32 `mul` needs ~1e-6, its
 * rounding noise being ~1e-7), at most `maxIter` iterations.
 * The block is stored vector-major (L x d) so every inner loop is contiguous.
 */
export type BlockMultiply = (Q: Float64Array, out: Float64Array, L: number) => void;

export function topEigen(
  a: Float64Array,
  d: number,
  k: number,
  rand: () => number,
  maxIter = 300,
  mul: BlockMultiply = (Q, out, L) => multiply(a, Q, out, d, L),
  tol = 1e-10,
): { values: Float64Array; vectors: Float64Array } {
  const L = Math.min(d, k + 16);
  let Q = new Float64Array(L * d); // row r = r-th basis vector
  for (let t = 0; t < Q.length; t++) Q[t] = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-300))) * Math.cos(2 * Math.PI * rand());
  orthonormalize(Q, d, L);
  const Y = new Float64Array(L * d);
  let prev: Float64Array = new Float64Array(L).fill(NaN);
  let ritz: { values: Float64Array; vectors: Float64Array } = { values: new Float64Array(L), vectors: new Float64Array(L * L) };
  const B = new Float64Array(L * L);
  for (let it = 0; it < maxIter; it++) {
    mul(Q, Y, L); // Y_r = A Q_r
    // Rayleigh-Ritz on span(Q): B = Q^T A Q, its eigenvectors rotate the block.
    for (let r = 0; r < L; r++) {
      for (let c = r; c < L; c++) {
        let s = 0;
        for (let i = 0, qo = r * d, yo = c * d; i < d; i++) s += Q[qo + i] * Y[yo + i];
        let s2 = 0;
        for (let i = 0, qo = c * d, yo = r * d; i < d; i++) s2 += Q[qo + i] * Y[yo + i];
        B[r * L + c] = B[c * L + r] = (s + s2) / 2;
      }
    }
    ritz = symmetricEigen(B, L);
    let done = it > 2;
    for (let j = 0; j < k && done; j++) if (Math.abs(ritz.values[j] - prev[j]) > tol * Math.abs(ritz.values[0])) done = false;
    prev = ritz.values;
    // Next block: (converged ? Q : A Q) rotated by the Ritz vectors.
    const src = done ? Q : Y;
    const next = new Float64Array(L * d);
    for (let c = 0; c < L; c++) {
      const no = c * d;
      for (let r = 0; r < L; r++) {
        const v = ritz.vectors[r * L + c];
        if (v === 0) continue;
        for (let i = 0, so = r * d; i < d; i++) next[no + i] += v * src[so + i];
      }
    }
    if (!done) orthonormalize(next, d, L);
    Q = next;
    if (done) break;
  }
  const values = ritz.values.slice(0, k);
  const vectors = new Float64Array(d * k); // row-major d x k, column c = c-th eigenvector
  for (let c = 0; c < k; c++) {
    let big = 0;
    for (let i = 0; i < d; i++) if (Math.abs(Q[c * d + i]) > Math.abs(big)) big = Q[c * d + i];
    const s = big < 0 ? -1 : 1; // same sign convention as symmetricEigen
    for (let i = 0; i < d; i++) vectors[i * k + c] = s * Q[c * d + i];
  }
  return { values, vectors };
}

/** out_r = A Q_r for the L vectors (rows) of Q. */
export function multiply(a: Float64Array, Q: Float64Array, out: Float64Array, d: number, L: number): void {
  for (let r = 0; r < L; r++) {
    const qo = r * d;
    for (let i = 0; i < d; i++) {
      let s = 0;
      const ao = i * d;
      for (let j = 0; j < d; j++) s += a[ao + j] * Q[qo + j];
      out[qo + i] = s;
    }
  }
}

/** Modified Gram-Schmidt on the rows of an L x d matrix (twice, for stability). */
function orthonormalize(Q: Float64Array, d: number, L: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let c = 0; c < L; c++) {
      const co = c * d;
      for (let p = 0; p < c; p++) {
        const po = p * d;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += Q[co + i] * Q[po + i];
        for (let i = 0; i < d; i++) Q[co + i] -= dot * Q[po + i];
      }
      let norm = 0;
      for (let i = 0; i < d; i++) norm += Q[co + i] ** 2;
      norm = Math.sqrt(norm);
      // A rank-deficient block (data of rank < L) gives a zero vector: keep it zero.
      const inv = norm > 1e-300 ? 1 / norm : 0;
      for (let i = 0; i < d; i++) Q[co + i] *= inv;
    }
  }
}
