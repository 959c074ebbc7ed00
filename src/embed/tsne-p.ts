/**
 * Symmetric joint probabilities of t-SNE (van der Maaten & Hinton 2008, eq. 2 with the sparse kNN
 * input of van der Maaten 2014, "Accelerating t-SNE using tree-based algorithms", sec. 4.1):
 * P_ij = (p_{j|i} + p_{i|j}) / (2n), stored as CSR (rows unsorted, one entry per unordered
 * neighbour relation and direction). Sum over all entries is 1.
 */

export interface SparseP {
  n: number;
  rowPtr: Int32Array; // n + 1
  cols: Int32Array;
  vals: Float32Array;
}

/** Builds P from kNN `indices` (n x k) and conditional probabilities `cond` (n x k, rows sum to 1). */
export function symmetrize(indices: Int32Array, cond: Float64Array, n: number, k: number): SparseP {
  // 1) bucket raw entries (i -> j, p_{j|i}) and (j -> i, p_{j|i}) by row.
  const count = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    count[i] += k;
    for (let t = 0; t < k; t++) count[indices[i * k + t]]++;
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + count[i];
  const fill = start.slice(0, n);
  const rawC = new Int32Array(start[n]);
  const rawV = new Float64Array(start[n]);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = indices[i * k + t];
      const p = cond[i * k + t];
      rawC[fill[i]] = j;
      rawV[fill[i]++] = p;
      rawC[fill[j]] = i;
      rawV[fill[j]++] = p;
    }
  }
  // 2) merge duplicate columns within each row (marker array: O(nnz), no sorting).
  const where = new Int32Array(n).fill(-1);
  const rowPtr = new Int32Array(n + 1);
  const cols = new Int32Array(start[n]);
  const vals = new Float64Array(start[n]);
  let nnz = 0;
  for (let i = 0; i < n; i++) {
    const rowStart = nnz;
    for (let e = start[i]; e < start[i + 1]; e++) {
      const j = rawC[e];
      if (j === i) continue; // never produced by kNN without self, kept for safety
      const w = where[j];
      if (w >= rowStart) vals[w] += rawV[e];
      else {
        where[j] = nnz;
        cols[nnz] = j;
        vals[nnz++] = rawV[e];
      }
    }
    rowPtr[i + 1] = nnz;
  }
  const norm = 1 / (2 * n);
  const out = new Float32Array(nnz);
  for (let e = 0; e < nnz; e++) out[e] = vals[e] * norm;
  return { n, rowPtr, cols: cols.slice(0, nnz), vals: out };
}
