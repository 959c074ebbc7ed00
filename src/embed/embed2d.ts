/**
 * One entry point for 2-D embeddings of per-sample codes. Pipeline: validate -> PCA to
 * `pcaDims` (default 50) when the codes have more dims (van der Maaten & Hinton 2008 do the
 * same before t-SNE) -> exact kNN -> t-SNE or UMAP. `params` is canonical (fixed keys, numbers
 * as used after clamping) for the `embeddings.params` column.
 *
 * Degenerate inputs (documented, tested fallbacks):
 *  - n = 0: empty layout; n = 1: the origin; n = 2: (-1, 0) and (1, 0) unless identical.
 *  - all points identical: every point at the origin (no neighbourhood structure exists),
 *    stats.degenerate = 1.
 *  - too few points for the perplexity / nNeighbors: clamped to n - 1 (stats.*Clamped = 1).
 */
import { tfc } from '../model/tf.js';
import { setupBackend } from '../model/backend.js';
import { NeurolensError } from '../errors.js';
import { pca } from './pca.js';
import { tsne } from './tsne.js';
import { umap } from './umap.js';
import { validatePoints, type Points } from './validate.js';

export interface EmbedProgress {
  phase: string;
  done: number;
  total: number;
}

export interface EmbedOptions {
  method: 'tsne' | 'umap' | 'pca';
  seed?: number;
  /** t-SNE perplexity (default 30). */
  perplexity?: number;
  /** UMAP neighbours including the point itself (default 15). */
  nNeighbors?: number;
  /** t-SNE iterations (default 1000) / UMAP epochs (default: umap-js schedule, 200 for n > 7500). */
  iterations?: number;
  /** PCA to this many dims before kNN (t-SNE/UMAP); default 50; 0 disables. */
  pcaDims?: number;
  /** UMAP min_dist (default 0.1). */
  minDist?: number;
  /** t-SNE learning rate (default max(200, n/12)). */
  learningRate?: number;
  /** Initialisation. t-SNE: 'pca' (default) | 'random'; UMAP: 'random' (default, umap-js) | 'spectral' | 'pca'. */
  init?: 'pca' | 'random' | 'spectral';
  onProgress?: (p: EmbedProgress) => void;
}

export interface Embedding {
  /** n x 2, row-major. */
  coords: Float32Array;
  method: string;
  /** Canonical parameters, for the `params` column. */
  params: Record<string, number | string>;
  /** Diagnostics: kl, iterations, seconds, clamping flags... */
  stats: Record<string, number>;
}

function allIdentical(p: Points): boolean {
  const { data, n, d } = p;
  for (let i = 1; i < n; i++) for (let j = 0; j < d; j++) if (data[i * d + j] !== data[j]) return false;
  return true;
}

export async function embed2d(points: Points, opts: EmbedOptions): Promise<Embedding> {
  const t0 = performance.now();
  validatePoints(points, 'embedding input');
  if (!['tsne', 'umap', 'pca'].includes(opts.method)) {
    throw new NeurolensError('BAD_SPEC', `embedding method '${opts.method}' is unknown (use tsne|umap|pca)`);
  }
  const seed = opts.seed ?? 0;
  const n = points.n;
  const progress = (phase: string, done: number, total: number) => opts.onProgress?.({ phase, done, total });
  const seconds = () => (performance.now() - t0) / 1000;
  if (n <= 2 || allIdentical(points)) {
    const coords = new Float32Array(2 * n);
    const degenerate = n >= 2 && allIdentical(points) ? 1 : 0;
    if (n === 2 && !degenerate) {
      coords[0] = -1;
      coords[2] = 1;
    }
    return { coords, method: opts.method, params: { method: opts.method, seed }, stats: { seconds: seconds(), degenerate } };
  }
  if (opts.method === 'pca') {
    progress('pca', 0, 1);
    const r = pca(points, 2, seed);
    const coords = new Float32Array(n * 2);
    // d = 1 gives one component: the second coordinate stays 0.
    for (let i = 0; i < n; i++) for (let c = 0; c < r.d; c++) coords[i * 2 + c] = r.data[i * r.d + c];
    progress('pca', 1, 1);
    const stats: Record<string, number> = { seconds: seconds() };
    for (let c = 0; c < r.d; c++) stats[`explainedVarianceRatio${c}`] = r.explainedVarianceRatio[c];
    return { coords, method: 'pca', params: { method: 'pca' }, stats };
  }
  // Exact kNN uses tfjs matrix products when a fast backend is up.
  if (!tfc.engine().backendName) await setupBackend('auto');
  const pcaDims = opts.pcaDims ?? 50;
  let x = points;
  if (pcaDims > 0 && points.d > pcaDims) {
    progress('pca', 0, 1);
    x = pca(points, pcaDims, seed);
    progress('pca', 1, 1);
  }
  const usedPca = x !== points ? pcaDims : 0;
  if (opts.method === 'tsne') {
    const r = await tsne(x, {
      perplexity: opts.perplexity,
      iterations: opts.iterations,
      learningRate: opts.learningRate,
      init: opts.init === 'spectral' ? undefined : opts.init,
      seed,
      onPhase: progress,
    });
    return {
      coords: r.coords,
      method: 'tsne',
      params: {
        method: 'tsne',
        perplexity: r.perplexity,
        k: r.k,
        iterations: r.stats.iterations,
        learningRate: r.learningRate,
        earlyExaggeration: 12,
        exaggerationIterations: 250,
        init: r.init,
        repulsion: r.repulsion,
        pcaDims: usedPca,
        seed,
      },
      stats: { ...r.stats, seconds: seconds() },
    };
  }
  const init = opts.init ?? 'random';
  const r = await umap(x, { nNeighbors: opts.nNeighbors, nEpochs: opts.iterations, minDist: opts.minDist, init, seed, onPhase: progress });
  return {
    coords: r.coords,
    method: 'umap',
    params: { method: 'umap', nNeighbors: r.nNeighbors, minDist: r.minDist, nEpochs: r.nEpochs, pcaDims: usedPca, seed, init },
    stats: { ...r.stats, seconds: seconds() },
  };
}
