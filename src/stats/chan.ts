/**
 * Chan, Golub & LeVeque's pairwise combination of (count, mean, M2) summaries: folds
 * (nb, meanB[bAt..bAt+len), m2B[bAt..]) into (na, mean[aAt..aAt+len), m2[aAt..]) in place:
 *   d = meanB - mean;  mean += d * nb / n;  M2 += M2B + d^2 * na * nb / n,  n = na + nb.
 * One implementation for every statistic that merges means (NeuronStats over positions,
 * ClassStats per class), so partials merge to the same bits whichever class they belong to.
 * The caller updates its count (n) itself.
 */
export function chanCombine(na: number, mean: Float64Array, m2: Float64Array, aAt: number, nb: number, meanB: Float64Array, m2B: Float64Array, bAt: number, len: number): void {
  if (na === 0) {
    mean.set(meanB.subarray(bAt, bAt + len), aAt);
    m2.set(m2B.subarray(bAt, bAt + len), aAt);
    return;
  }
  const fb = nb / (na + nb);
  const fab = na * fb;
  for (let c = 0; c < len; c++) {
    const d = meanB[bAt + c]! - mean[aAt + c]!;
    const next = m2[aAt + c]! + m2B[bAt + c]! + d * d * fab;
    mean[aAt + c]! += d * fb;
    m2[aAt + c] = next;
  }
}
