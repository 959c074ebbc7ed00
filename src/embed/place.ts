/**
 * Placing the points left out of a sampled embedding: each gets the weighted mean of the 2-D
 * coordinates of its k nearest sampled neighbours in code space, with inverse-distance weights
 * 1 / (dist + eps) (Shepard 1968 interpolation; the "kNN interpolation" out-of-sample extension
 * of t-SNE layouts, e.g. Kobak & Berens 2019, Nat. Commun. 10:5416, who place new points at the
 * median/mean of their neighbours' positions). A point that coincides with a sampled point takes
 * its position. Neighbours come from `knn(sampled, k, queries)` (exact, src/embed/knn.ts).
 */
import { NeurolensError } from '../errors.js';
import { knn, type Points } from './index.js';

export interface Placement {
  /** n x 2 coordinates of every point (sampled ones keep theirs). */
  coords: Float32Array;
  /** Neighbours used per placed point. */
  k: number;
}

/** Rows `idx` of `p` as their own Points. */
export function selectRows(p: Points, idx: Int32Array): Points {
  const data = new Float32Array(idx.length * p.d);
  for (let r = 0; r < idx.length; r++) data.set(p.data.subarray(idx[r] * p.d, (idx[r] + 1) * p.d), r * p.d);
  return { data, n: idx.length, d: p.d };
}

/**
 * `sampled` (ascending indices into `all`) were embedded at `sampledCoords` (sampled.length x 2).
 * Returns coordinates for all n points.
 */
export function placeByKnn(all: Points, sampled: Int32Array, sampledCoords: Float32Array, k = 10): Placement {
  if (sampledCoords.length !== sampled.length * 2) {
    throw new NeurolensError('INTERNAL', `placeByKnn: ${sampledCoords.length / 2} coordinates for ${sampled.length} sampled points`);
  }
  const coords = new Float32Array(all.n * 2);
  const isSampled = new Uint8Array(all.n);
  sampled.forEach((i, r) => {
    isSampled[i] = 1;
    coords[i * 2] = sampledCoords[r * 2];
    coords[i * 2 + 1] = sampledCoords[r * 2 + 1];
  });
  const rest = Int32Array.from({ length: all.n - sampled.length });
  let q = 0;
  for (let i = 0; i < all.n; i++) if (!isSampled[i]) rest[q++] = i;
  if (rest.length === 0) return { coords, k: 0 };
  const kk = Math.min(k, sampled.length);
  const g = knn(selectRows(all, sampled), kk, selectRows(all, rest));
  // eps relative to the typical neighbour distance keeps the weights finite and scale-free.
  let meanDist = 0;
  for (let t = 0; t < g.distances.length; t++) meanDist += g.distances[t];
  const eps = Math.max(1e-12, (meanDist / Math.max(1, g.distances.length)) * 1e-6);
  for (let r = 0; r < rest.length; r++) {
    let sw = 0;
    let sx = 0;
    let sy = 0;
    for (let t = 0; t < kk; t++) {
      const j = sampled[g.indices[r * kk + t]];
      const w = 1 / (g.distances[r * kk + t] + eps);
      sw += w;
      sx += w * coords[j * 2];
      sy += w * coords[j * 2 + 1];
    }
    coords[rest[r] * 2] = sx / sw;
    coords[rest[r] * 2 + 1] = sy / sw;
  }
  return { coords, k: kk };
}
