/**
 * Stratified sampling by label: draw `size` of n points so every class keeps its share of the
 * data (proportional allocation, Cochran 1977 "Sampling Techniques" ch. 5, with Hamilton's
 * largest-remainder rounding so the class sizes add up exactly). A class too small for a
 * non-zero quota can still get a point from the remainder; unlabelled points (label < 0) form
 * their own stratum. Within a class the points are a seeded Fisher-Yates draw (mulberry32), so a
 * seed always gives the same sample.
 */
import { NeurolensError } from '../errors.js';
import { mulberry32, shuffleInPlace } from '../train/prng.js';

/**
 * Indices (ascending) of a stratified sample of `size` points. `labels[i]` < 0 = unknown.
 * `size` >= n returns every index; `size` > n is an error (the caller asked for more than exist).
 */
export function stratifiedSample(labels: Int32Array, size: number, seed: number): Int32Array {
  const n = labels.length;
  if (!Number.isInteger(size) || size < 1) throw new NeurolensError('BAD_SPEC', `sample size must be a positive integer, got ${size}`);
  if (size > n) throw new NeurolensError('BAD_SPEC', `sample of ${size} points asked, but only ${n} samples have codes`);
  if (size === n) return Int32Array.from({ length: n }, (_, i) => i);
  const strata = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = labels[i] < 0 ? -1 : labels[i];
    let s = strata.get(key);
    if (!s) strata.set(key, (s = []));
    s.push(i);
  }
  const keys = [...strata.keys()].sort((a, b) => a - b);
  const exact = keys.map((k) => (strata.get(k)!.length * size) / n);
  const quota = exact.map(Math.floor);
  let left = size - quota.reduce((a, b) => a + b, 0);
  // Largest remainders first; ties to the larger class, then the smaller label (deterministic).
  const order = keys.map((_, i) => i).sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || strata.get(keys[b])!.length - strata.get(keys[a])!.length || keys[a] - keys[b]);
  for (const i of order) {
    if (left === 0) break;
    quota[i]++;
    left--;
  }
  const rand = mulberry32(seed);
  const out: number[] = [];
  keys.forEach((k, i) => {
    const members = shuffleInPlace(Int32Array.from(strata.get(k)!), rand);
    for (let q = 0; q < quota[i]; q++) out.push(members[q]);
  });
  return Int32Array.from(out).sort();
}
