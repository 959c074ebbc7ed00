/**
 * Per-video seeds. Each video's randomness comes from (dataset seed, split, class, index) alone,
 * so a video is the same whatever order (or concurrency) the dataset is generated in, and
 * growing --train does not change the existing videos.
 */
import { mulberry32 } from '../../train/prng.js';

export type Split = 'train' | 'test';

/** murmur3's 32-bit finaliser: full avalanche, so neighbouring indices give unrelated seeds. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function videoSeed(seed: number, split: Split, label: number, index: number): number {
  let h = fmix32((seed >>> 0) ^ 0x6e6c6163); // 'nlac': keeps seed 0 away from the all-zero state
  for (const v of [split === 'train' ? 1 : 2, label, index]) h = fmix32((h ^ Math.imul(v + 1, 0x9e3779b1)) >>> 0);
  return h;
}

/** A small random toolkit over mulberry32 (the repo's PRNG). */
export class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}
