/**
 * t-SNE (van der Maaten & Hinton 2008) with sparse kNN input similarities (van der Maaten 2014)
 * and repulsion computed exactly (small n), by Barnes-Hut (van der Maaten 2014, tsne-bh.ts) or by
 * FFT-accelerated interpolation (Linderman et al. 2019, tsne-interp.ts) for large n.
 * Optimisation as in van der Maaten's bhtsne: gradient descent with momentum
 * (0.5, then 0.8 from iteration 250), per-coordinate gains (+0.2 when the gradient changes sign
 * against the update, x0.8 otherwise, floor 0.01), early exaggeration 12 for 250 iterations,
 * layout re-centred every iteration. Gradient convention of bhtsne (no factor 4):
 *   dC/dy_i = exaggeration * sum_j p_ij w_ij (y_i - y_j) - (1/Z) sum_j w_ij^2 (y_i - y_j).
 * Learning rate default max(200, n / 12) (Belkina et al. 2019, Nat. Commun.; openTSNE's 'auto',
 * same gradient convention), so large n converges in the default iterations.
 * Initialisation: PCA (first two components, scaled to std 1e-4: Kobak & Linderman 2021,
 * Nat. Biotechnol.) or seeded Gaussian N(0, 1e-4^2) (bhtsne). Deterministic for a seed.
 */
import { mulberry32 } from '../train/prng.js';
import { AttractiveForces } from './tsne-attr.js';
import { exactRepulsion, exactZ, sparseKl } from './tsne-exact.js';
import { InterpRepulsion, type InterpOptions } from './tsne-interp.js';
import { BarnesHutRepulsion } from './tsne-bh.js';
import type { SparseP } from './tsne-p.js';

export interface TsneOptimizeOptions {
  iterations?: number;
  earlyExaggeration?: number;
  exaggerationIterations?: number;
  /** Learning rate in bhtsne's gradient convention; default max(200, n/12). */
  learningRate?: number;
  momentum?: number;
  finalMomentum?: number;
  momentumSwitch?: number;
  seed?: number;
  /** n x 2 initial layout (used as is) or how to make one. */
  init?: Float64Array | 'random';
  /** 'auto': exact for n <= 1000, Barnes-Hut for n <= 5000, else interpolation. */
  repulsion?: 'auto' | Repulsion;
  interp?: InterpOptions;
  /**
   * Barnes-Hut accuracy (bhtsne's theta: cell half-width / distance). Default 0.25, not bhtsne's
   * 0.5: measured here on Fashion-MNIST (PCA 50), 0.5 ended at a 10-12% higher exact KL than
   * exact repulsion (n = 300 and 1500; the monopole summary underestimates Z by ~3%), 0.25 at 2-3%.
   */
  theta?: number;
  /** Attractive forces (and grid b of the interpolation) on a second thread; default: n >= WORKER_MIN_N. */
  workerThread?: boolean;
  onIteration?: (iter: number, total: number) => void;
}

export interface TsneOptimizeResult {
  Y: Float64Array;
  kl: number;
  /** 1 when kl used the exact normaliser Z, 0 when the interpolated one. */
  klExact: number;
  iterations: number;
  learningRate: number;
  repulsion: Repulsion;
}

export type Repulsion = 'exact' | 'bh' | 'interp';

const DEBUG = !!process.env.NL_TSNE_DEBUG;

export const EXACT_REPULSION_MAX_N = 1000;
export const BH_REPULSION_MAX_N = 5000;
/** n from which the attractive forces (and with interpolation, half the FFT work) go to a worker thread. */
export const WORKER_MIN_N = 5000;
export const EXACT_KL_MAX_N = 20000;

/** Seeded N(0, s^2) layout (Box-Muller on mulberry32). */
export function randomInit(n: number, seed: number, s = 1e-4): Float64Array {
  const rand = mulberry32(seed);
  const Y = new Float64Array(2 * n);
  for (let i = 0; i < 2 * n; i += 2) {
    const u = Math.max(rand(), 1e-300), v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * s;
    Y[i] = r * Math.cos(2 * Math.PI * v);
    Y[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return Y;
}

/** Runs the gradient descent on joint probabilities `P`. */
export async function optimizeTsne(P: SparseP, opts: TsneOptimizeOptions = {}): Promise<TsneOptimizeResult> {
  const n = P.n;
  const iterations = opts.iterations ?? 1000;
  const exag0 = opts.earlyExaggeration ?? 12;
  const exagIters = opts.exaggerationIterations ?? 250;
  const lr = opts.learningRate ?? Math.max(200, n / 12);
  const mom0 = opts.momentum ?? 0.5;
  const mom1 = opts.finalMomentum ?? 0.8;
  const momSwitch = opts.momentumSwitch ?? 250;
  const seed = opts.seed ?? 0;
  const Y = opts.init instanceof Float64Array ? Float64Array.from(opts.init) : randomInit(n, seed);
  const repulsion: Repulsion =
    opts.repulsion && opts.repulsion !== 'auto' ? opts.repulsion : n <= EXACT_REPULSION_MAX_N ? 'exact' : n <= BH_REPULSION_MAX_N ? 'bh' : 'interp';
  const approx = repulsion === 'interp' ? new InterpRepulsion(n, opts.interp) : repulsion === 'bh' ? new BarnesHutRepulsion(n, opts.theta ?? 0.25) : null;
  const attr = await AttractiveForces.create(P, opts.workerThread ?? n >= WORKER_MIN_N, approx instanceof InterpRepulsion ? approx : null);
  const uY = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const rep = new Float64Array(2 * n);
  let z = 0;
  let tDebug = performance.now();
  try {
    for (let it = 0; it < iterations; it++) {
      const exag = it < exagIters ? exag0 : 1;
      const mom = it < momSwitch ? mom0 : mom1;
      // Attractive forces run on the worker (if any) while this thread computes repulsion.
      let att: Float64Array;
      if (attr.convolvesB && approx instanceof InterpRepulsion) {
        // Split: this thread convolves grid a, the worker grid b and the attractive forces.
        const g = approx.prepare(Y);
        const pending = attr.start(Y, g);
        approx.convolveA(g);
        att = await pending;
        z = approx.gather(Y, rep, g);
      } else {
        const pending = attr.start(Y);
        z = approx ? approx.compute(Y, rep) : exactRepulsion(Y, n, rep);
        att = await pending;
      }
      const invZ = 1 / z;
      for (let c = 0; c < 2 * n; c++) {
        const g = exag * att[c] - rep[c] * invZ;
        const gain = Math.sign(g) !== Math.sign(uY[c]) ? gains[c] + 0.2 : Math.max(gains[c] * 0.8, 0.01);
        gains[c] = gain;
        uY[c] = mom * uY[c] - lr * gain * g;
        Y[c] += uY[c];
      }
      // Re-centre (bhtsne zeroMean): the objective is translation invariant, the grid is not.
      let mx = 0, my = 0;
      for (let i = 0; i < n; i++) {
        mx += Y[2 * i];
        my += Y[2 * i + 1];
      }
      mx /= n;
      my /= n;
      for (let i = 0; i < n; i++) {
        Y[2 * i] -= mx;
        Y[2 * i + 1] -= my;
      }
      if (DEBUG && it % 100 === 99) {
        const t = performance.now();
        const g = approx instanceof InterpRepulsion ? ` fft ${approx.lastFft} h ${approx.lastSpacing.toFixed(3)}` : '';
        console.error(`[tsne] iter ${it + 1} Z ${z.toExponential(3)}${g} ms/iter ${((t - tDebug) / 100).toFixed(1)}`);
        tDebug = t;
      }
      if (opts.onIteration && (it % 10 === 9 || it === iterations - 1)) opts.onIteration(it + 1, iterations);
      if (it % 50 === 49) await new Promise((r) => setImmediate(r)); // let progress/IO through
    }
  } finally {
    await attr.close();
  }
  const klExact = n <= EXACT_KL_MAX_N ? 1 : 0;
  const zFinal = klExact ? exactZ(Y, n) : approx ? approx.compute(Y, rep) : z;
  return { Y, kl: sparseKl(P, Y, zFinal), klExact, iterations, learningRate: lr, repulsion };
}
