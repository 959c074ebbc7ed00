/**
 * UMAP (McInnes, Healy & Melville 2018) fed with our exact kNN graph (no NN-descent).
 *
 * Two engines, same algorithm and numbers:
 *  - 'umap-js': the `umap-js` package, given the graph through `setPrecomputedKNN`. Its kNN
 *    convention includes the point itself as neighbour 0 at distance 0, so rows are passed as
 *    [i, nn_1 .. nn_{k-1}]. Measured at 70k Fashion-MNIST points here: 92 s to build its fuzzy
 *    graph (string-keyed Map sparse matrices) + 147 s for 200 epochs, 3.2 GB peak: it cannot
 *    meet the 120 s / 4 GB targets.
 *  - 'typed' (default): umap-graph.ts + umap-sgd.ts, the same computation operation for
 *    operation on typed arrays (layouts equal umap-js's bit for bit with the random init,
 *    tested), using umap-js's own `findABParams` for the curve parameters a, b.
 * Randomness (initial layout, negative sampling) comes from a seeded mulberry32: deterministic.
 *
 * Epochs: umap-js's schedule (500 for n <= 2500, 400 <= 5000, 300 <= 7500, else 200 -- the
 * 200 umap-learn uses for large data) unless `nEpochs` is given.
 * Init: 'random' (umap-js: uniform in [-10, 10]^2, the default), 'spectral' (umap-learn's
 * default, umap-spectral.ts) or 'pca'.
 * Small inputs: nNeighbors is lowered to n - 1 when n <= nNeighbors (stats.nNeighborsClamped).
 */
import { UMAP } from 'umap-js';
// Not re-exported by the package index; the curve fit (Levenberg-Marquardt) lives in dist/umap.js.
import { findABParams } from 'umap-js/dist/umap.js';
import { mulberry32 } from '../train/prng.js';
import type { KnnGraph } from './knn.js';
import { selfKnn } from './knn-parallel.js';
import { pca } from './pca.js';
import { fuzzySimplicialSet, type FuzzyGraph } from './umap-graph.js';
import { edgesForOptimisation, optimizeUmap } from './umap-sgd.js';
import { spectralLayout, type SparseGraph } from './umap-spectral.js';
import type { Points } from './validate.js';

export interface UmapOptions {
  nNeighbors?: number;
  minDist?: number;
  spread?: number;
  nEpochs?: number;
  seed?: number;
  init?: 'spectral' | 'random' | 'pca' | Float64Array;
  engine?: 'typed' | 'umap-js';
  /** Precomputed kNN of `points` (self excluded) with k >= nNeighbors - 1. */
  knnGraph?: KnnGraph;
  onPhase?: (phase: string, done: number, total: number) => void;
}

export interface UmapResult {
  coords: Float32Array;
  nNeighbors: number;
  nEpochs: number;
  minDist: number;
  stats: Record<string, number>;
}

/** umap-js's default epoch count for n points. */
export function defaultEpochs(n: number): number {
  return n <= 2500 ? 500 : n <= 5000 ? 400 : n <= 7500 ? 300 : 200;
}

/** First two principal components, each scaled to [-10, 10] (umap-learn's init='pca' range). */
function pcaLayout(points: Points): Float64Array {
  const r = pca(points, 2);
  const Y = new Float64Array(2 * points.n);
  for (let c = 0; c < r.d; c++) {
    let m = 0;
    for (let i = 0; i < points.n; i++) m = Math.max(m, Math.abs(r.data[i * r.d + c]));
    for (let i = 0; i < points.n; i++) Y[2 * i + c] = m > 0 ? (10 * r.data[i * r.d + c]) / m : 0;
  }
  return Y;
}

function csrAsSparse(g: FuzzyGraph): SparseGraph {
  const rows = new Int32Array(g.cols.length);
  for (let i = 0; i < g.n; i++) rows.fill(i, g.rowPtr[i], g.rowPtr[i + 1]);
  return { n: g.n, rows, cols: g.cols, vals: g.vals };
}

/** The fuzzy simplicial set umap-js built (its private `graph`, a SparseMatrix, in umap-js 1.4). */
function umapJsGraph(u: UMAP): SparseGraph {
  const g = (u as unknown as { graph?: { getRows(): number[]; getCols(): number[]; getValues(): number[]; nRows: number } }).graph;
  if (!g || typeof g.getRows !== 'function') throw new Error('umap-js internals changed: no graph after initializeFit');
  return { n: g.nRows, rows: g.getRows(), cols: g.getCols(), vals: g.getValues() };
}

export async function umap(points: Points, opts: UmapOptions = {}): Promise<UmapResult> {
  const n = points.n;
  const want = opts.nNeighbors ?? 15;
  const nNeighbors = Math.max(2, Math.min(want, n - 1));
  const minDist = opts.minDist ?? 0.1;
  const spread = opts.spread ?? 1;
  const seed = opts.seed ?? 0;
  const init = opts.init ?? 'random';
  const t0 = performance.now();
  const k = nNeighbors - 1;
  const graph = opts.knnGraph && opts.knnGraph.k >= k ? opts.knnGraph : await selfKnn(points, k, (d, t) => opts.onPhase?.('knn', d, t));
  const tKnn = performance.now();
  const random = mulberry32(seed);
  const spectralRand = () => mulberry32((seed ^ 0x5eed) >>> 0);
  opts.onPhase?.('graph', 0, 1);
  let coords: Float32Array;
  let nEpochs: number;
  let tGraph: number;
  if ((opts.engine ?? 'typed') === 'typed') {
    const fg = fuzzySimplicialSet(graph, n, nNeighbors);
    nEpochs = opts.nEpochs && opts.nEpochs > 0 ? opts.nEpochs : defaultEpochs(n);
    const { head, tail, weights } = edgesForOptimisation(fg.rowPtr, fg.cols, fg.vals, n, nEpochs);
    const Y0 = init === 'random' ? undefined : init === 'pca' ? pcaLayout(points) : init === 'spectral' ? spectralLayout(csrAsSparse(fg), spectralRand()) : init;
    const { a, b } = findABParams(spread, minDist);
    tGraph = performance.now();
    const Y = await optimizeUmap(n, head, tail, weights, {
      nEpochs,
      a,
      b,
      random,
      init: Y0,
      onEpoch: async (e, total) => {
        if (e % 10 === 0 || e === total) {
          opts.onPhase?.('optimize', e, total);
          await new Promise((r) => setImmediate(r));
        }
      },
    });
    coords = Float32Array.from(Y);
  } else {
    ({ coords, nEpochs, tGraph } = await viaUmapJs(points, graph, nNeighbors, minDist, spread, opts.nEpochs, init, random, spectralRand, opts.onPhase));
  }
  const tEnd = performance.now();
  return {
    coords,
    nNeighbors,
    nEpochs,
    minDist,
    stats: {
      knnSeconds: (tKnn - t0) / 1000,
      graphSeconds: (tGraph - tKnn) / 1000,
      optimizeSeconds: (tEnd - tGraph) / 1000,
      nEpochs,
      nNeighborsClamped: nNeighbors !== want ? 1 : 0,
    },
  };
}

async function viaUmapJs(
  points: Points,
  graph: KnnGraph,
  nNeighbors: number,
  minDist: number,
  spread: number,
  wantEpochs: number | undefined,
  init: NonNullable<UmapOptions['init']>,
  random: () => number,
  spectralRand: () => () => number,
  onPhase: UmapOptions['onPhase'],
): Promise<{ coords: Float32Array; nEpochs: number; tGraph: number }> {
  const n = points.n;
  const k = nNeighbors - 1;
  const knnIndices: number[][] = new Array(n);
  const knnDistances: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const ri = [i];
    const rd = [0];
    for (let t = 0; t < k; t++) {
      ri.push(graph.indices[i * graph.k + t]);
      rd.push(graph.distances[i * graph.k + t]);
    }
    knnIndices[i] = ri;
    knnDistances[i] = rd;
  }
  const u = new UMAP({ nComponents: 2, nNeighbors, minDist, spread, nEpochs: wantEpochs, random });
  u.setPrecomputedKNN(knnIndices, knnDistances);
  // umap-js reads only X.length once the kNN is given (X is kept for its transform()).
  const X: number[][] = new Array(n);
  for (let i = 0; i < n; i++) X[i] = Array.from(points.data.subarray(i * points.d, (i + 1) * points.d));
  const nEpochs = u.initializeFit(X);
  if (init !== 'random') {
    // getEmbedding() returns the very arrays the optimiser moves: overwrite them in place.
    const Y0 = init === 'pca' ? pcaLayout(points) : init === 'spectral' ? spectralLayout(umapJsGraph(u), spectralRand()) : init;
    const emb = u.getEmbedding();
    for (let i = 0; i < n; i++) {
      emb[i][0] = Y0[2 * i];
      emb[i][1] = Y0[2 * i + 1];
    }
  }
  const tGraph = performance.now();
  for (let e = 0; e < nEpochs; e++) {
    u.step();
    if (e % 10 === 9 || e === nEpochs - 1) {
      onPhase?.('optimize', e + 1, nEpochs);
      await new Promise((r) => setImmediate(r));
    }
  }
  const emb = u.getEmbedding();
  const coords = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    coords[2 * i] = emb[i][0];
    coords[2 * i + 1] = emb[i][1];
  }
  return { coords, nEpochs, tGraph };
}
