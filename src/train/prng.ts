/**
 * Seeded randomness for reproducible training runs: the data order of every epoch depends only
 * on the seed, so two runs with the same seed see the same batches.
 */

/** mulberry32 (Tommy Ettinger, public domain): 32-bit state, period 2^32, returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place (Knuth, TAOCP vol. 2, Algorithm P). */
export function shuffleInPlace(a: Int32Array, rand: () => number): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/** The sample order of epoch `epoch` (0-based) for a run seeded with `seed`. */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Mix the epoch into the seed so epochs differ but each one is reproducible on its own.
  return shuffleInPlace(order, mulberry32((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0));
}
