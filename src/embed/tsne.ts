/**
 * t-SNE of a point set end to end: exact kNN with k = min(n - 1, 3 * perplexity) (van der Maaten
 * 2014: neighbours beyond 3 sigma carry negligible probability), perplexity calibration
 * (perplexity.ts), symmetric sparse P (tsne-p.ts), PCA or seeded random initialisation, and the
 * bhtsne-style gradient descent (tsne-optimize.ts).
 *
 * Small inputs: when 3 * perplexity > n - 1 the perplexity is lowered to (n - 1) / 3 (at least 1)
 * and stats.perplexityClamped says so (openTSNE does the same; bhtsne would refuse).
 */
import type { KnnGraph } from './knn.js';
import { selfKnn } from './knn-parallel.js';
import { calibratePerplexity } from './perplexity.js';
import { pca } from './pca.js';
import { optimizeTsne, randomInit, type TsneOptimizeOptions } from './tsne-optimize.js';
import { symmetrize } from './tsne-p.js';
import type { Points } from './validate.js';

export interface TsneOptions extends Omit<TsneOptimizeOptions, 'init'> {
  perplexity?: number;
  /** 'pca' (default) or 'random'. */
  init?: 'pca' | 'random';
  /** A precomputed kNN graph of `points` (self excluded) with at least the needed k. */
  knnGraph?: KnnGraph;
  onPhase?: (phase: string, done: number, total: number) => void;
}

export interface TsneResult {
  coords: Float32Array;
  stats: Record<string, number>;
  perplexity: number;
  k: number;
  learningRate: number;
  repulsion: string;
  init: string;
}

/** Neighbour count and perplexity actually used for n points. */
export function tsneNeighbours(n: number, perplexity: number): { k: number; perplexity: number; clamped: boolean } {
  const k = Math.min(n - 1, Math.floor(3 * perplexity));
  if (3 * perplexity <= n - 1) return { k, perplexity, clamped: false };
  return { k, perplexity: Math.max(1, (n - 1) / 3), clamped: true };
}

/** PCA initialisation: first two principal components scaled to std 1e-4 along the first. */
export function pcaInit(points: Points): Float64Array {
  const r = pca(points, 2);
  const Y = new Float64Array(2 * points.n);
  let s = 0;
  for (let i = 0; i < points.n; i++) s += r.data[i * r.d] ** 2;
  const std = Math.sqrt(s / Math.max(1, points.n));
  const scale = std > 0 ? 1e-4 / std : 0;
  for (let i = 0; i < points.n; i++) for (let c = 0; c < r.d; c++) Y[2 * i + c] = r.data[i * r.d + c] * scale;
  return Y;
}

export async function tsne(points: Points, opts: TsneOptions = {}): Promise<TsneResult> {
  const n = points.n;
  const seed = opts.seed ?? 0;
  const nb = tsneNeighbours(n, opts.perplexity ?? 30);
  const t0 = performance.now();
  opts.onPhase?.('knn', 0, n);
  const graph = opts.knnGraph && opts.knnGraph.k >= nb.k ? opts.knnGraph : await selfKnn(points, nb.k, (d, t) => opts.onPhase?.('knn', d, t));
  const tKnn = performance.now();
  // Squared distances to the first k neighbours (a precomputed graph may hold more).
  const d2 = new Float64Array(n * nb.k);
  const idx = new Int32Array(n * nb.k);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < nb.k; t++) {
      const dist = graph.distances[i * graph.k + t];
      d2[i * nb.k + t] = dist * dist;
      idx[i * nb.k + t] = graph.indices[i * graph.k + t];
    }
  }
  opts.onPhase?.('perplexity', 0, n);
  const cal = calibratePerplexity(d2, n, nb.k, nb.perplexity);
  const P = symmetrize(idx, cal.P, n, nb.k);
  const tP = performance.now();
  const init = opts.init ?? 'pca';
  const Y0 = init === 'pca' ? pcaInit(points) : randomInit(n, seed);
  const iterations = opts.iterations ?? 1000;
  const res = await optimizeTsne(P, {
    ...opts,
    init: Y0,
    onIteration: (it, total) => {
      opts.onIteration?.(it, total);
      opts.onPhase?.('optimize', it, total);
    },
  });
  const tEnd = performance.now();
  const coords = Float32Array.from(res.Y);
  return {
    coords,
    perplexity: nb.perplexity,
    k: nb.k,
    learningRate: res.learningRate,
    repulsion: res.repulsion,
    init,
    stats: {
      kl: res.kl,
      klExact: res.klExact,
      iterations,
      knnSeconds: (tKnn - t0) / 1000,
      affinitySeconds: (tP - tKnn) / 1000,
      optimizeSeconds: (tEnd - tP) / 1000,
      perplexityClamped: nb.clamped ? 1 : 0,
      unconvergedRows: cal.unconverged,
      nnzP: P.cols.length,
    },
  };
}
