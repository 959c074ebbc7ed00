/**
 * Perplexity calibration (van der Maaten & Hinton 2008, sec. 2; bhtsne `computeGaussianPerplexity`):
 * for each point i, the Gaussian conditional p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2)
 * over its k nearest neighbours, with the precision beta_i found by binary search so that the
 * Shannon entropy H_i = -sum_j p_{j|i} ln p_{j|i} equals ln(perplexity).
 *
 * Differences from bhtsne, both exact rewrites: distances are shifted by the row's smallest
 * squared distance before exponentiating (P is unchanged, but sum P can no longer underflow to 0
 * for far-apart points), and the search is bounded (`maxIter`), so identical points (all distances
 * equal: P uniform for every beta, entropy ln k) end with the uniform distribution, not a hang.
 */

export interface Calibration {
  /** n x k conditional probabilities p_{j|i}, rows sum to 1 (row-major, aligned with the kNN). */
  P: Float64Array;
  /** Precision beta_i = 1 / (2 sigma_i^2) per point. */
  beta: Float64Array;
  /** Rows whose search stopped before reaching `tol` (e.g. all-equal distances). */
  unconverged: number;
}

/** Entropy (nats) of the row distribution for precision `beta`; fills `out` with the normalised row. */
export function rowEntropy(d2: Float64Array | Float32Array, off: number, k: number, beta: number, out: Float64Array, outOff: number): number {
  let min = Infinity;
  for (let j = 0; j < k; j++) if (d2[off + j] < min) min = d2[off + j];
  let sum = 0;
  let sumDP = 0;
  for (let j = 0; j < k; j++) {
    const s = d2[off + j] - min;
    const p = Math.exp(-beta * s);
    out[outOff + j] = p;
    sum += p;
    sumDP += s * p;
  }
  // H = ln(sum) + beta * E[d^2 - min]  (the shift cancels in the normalised entropy)
  const H = Math.log(sum) + (beta * sumDP) / sum;
  for (let j = 0; j < k; j++) out[outOff + j] /= sum;
  return H;
}

/**
 * Calibrates every row of `d2` (n x k SQUARED distances to the k nearest neighbours) to
 * `perplexity`. Binary search on beta as bhtsne: start at 1, double/halve until bracketed,
 * then bisect; tolerance on |H - ln(perplexity)| of `tol`.
 */
export function calibratePerplexity(d2: Float64Array | Float32Array, n: number, k: number, perplexity: number, tol = 1e-5, maxIter = 200): Calibration {
  const P = new Float64Array(n * k);
  const beta = new Float64Array(n);
  const target = Math.log(perplexity);
  let unconverged = 0;
  for (let i = 0; i < n; i++) {
    const off = i * k;
    let b = 1;
    let lo = -Infinity;
    let hi = Infinity;
    let ok = false;
    let used = b; // the beta that produced the row now in P
    for (let it = 0; it < maxIter; it++) {
      used = b;
      const H = rowEntropy(d2, off, k, b, P, off);
      const diff = H - target;
      if (Math.abs(diff) < tol) {
        ok = true;
        break;
      }
      if (diff > 0) {
        // entropy too high: distribution too flat, sharpen (increase beta)
        lo = b;
        b = hi === Infinity ? b * 2 : (b + hi) / 2;
      } else {
        hi = b;
        b = lo === -Infinity ? b / 2 : (b + lo) / 2;
      }
      if (!Number.isFinite(b) || b === 0) break;
    }
    if (!ok) {
      unconverged++;
      // The last evaluated row (already in P) stands; make sure it is a valid distribution.
      let s = 0;
      for (let j = 0; j < k; j++) s += P[off + j];
      if (!(s > 0) || !Number.isFinite(s)) for (let j = 0; j < k; j++) P[off + j] = 1 / k;
    }
    beta[i] = used;
  }
  return { P, beta, unconverged };
}
