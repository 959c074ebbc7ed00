/**
 * t-SNE attractive forces A_i = sum_j p_ij w_ij (y_i - y_j) over the sparse P (CSR), either on
 * this thread or on one worker thread (worker_threads, shared memory) so that they run while this
 * thread computes the repulsive forces: the two halves of a gradient are independent given Y.
 * With interpolated repulsion the worker also takes the convolution of the second charge grid
 * (InterpRepulsion step 3, over shared buffers), which balances the two threads at large n.
 * Same arithmetic in the same order either way, so results do not depend on the choice.
 */
import type { Worker } from 'node:worker_threads';
import { tsWorker } from './knn-parallel.js';
import type { SparseP } from './tsne-p.js';
import { convolveB, kernelSpectra, type GridGeometry, type InterpRepulsion, type KernelCache } from './tsne-interp.js';

/** Rows [lo, hi) of the attractive forces into `out`. */
export function attractiveRows(rowPtr: Int32Array, cols: Int32Array, vals: Float32Array, Y: Float64Array, out: Float64Array, lo: number, hi: number): void {
  for (let i = lo; i < hi; i++) {
    const xi = Y[2 * i], yi = Y[2 * i + 1];
    let fx = 0, fy = 0;
    for (let e = rowPtr[i], end = rowPtr[i + 1]; e < end; e++) {
      const j = cols[e];
      const dx = xi - Y[2 * j], dy = yi - Y[2 * j + 1];
      const pw = vals[e] / (1 + dx * dx + dy * dy);
      fx += pw * dx;
      fy += pw * dy;
    }
    out[2 * i] = fx;
    out[2 * i + 1] = fy;
  }
}

function shared<T extends Int32Array | Float32Array | Float64Array>(src: T, make: (b: SharedArrayBuffer) => T): T {
  const t = make(new SharedArrayBuffer(src.byteLength));
  t.set(src as never);
  return t;
}

export class AttractiveForces {

  private constructor(
    private readonly P: SparseP,
    private readonly out: Float64Array,
    private readonly worker: Worker | null,
    private readonly yShared: Float64Array | null,
    private readonly interp: InterpRepulsion | null,
  ) {}

  /**
   * `interp`: when given with a worker, its grid b is moved to shared memory and `start(Y, g)`
   * convolves it on the worker.
   */
  static async create(P: SparseP, useWorker: boolean, interp: InterpRepulsion | null = null): Promise<AttractiveForces> {
    const n = P.n;
    if (!useWorker) return new AttractiveForces(P, new Float64Array(2 * n), null, null, interp);
    const rowPtr = shared(P.rowPtr, (b) => new Int32Array(b));
    const cols = shared(P.cols, (b) => new Int32Array(b));
    const vals = shared(P.vals, (b) => new Float32Array(b));
    const yShared = new Float64Array(new SharedArrayBuffer(16 * n));
    const out = new Float64Array(new SharedArrayBuffer(16 * n));
    let bRe: SharedArrayBuffer | null = null;
    let bIm: SharedArrayBuffer | null = null;
    if (interp) {
      bRe = new SharedArrayBuffer(8 * interp.maxFft * interp.maxFft);
      bIm = new SharedArrayBuffer(8 * interp.maxFft * interp.maxFft);
      interp.useSharedB(bRe, bIm);
    }
    const worker = tsWorker(new URL('./tsne-attr-worker.ts', import.meta.url), { n, rowPtr, cols, vals, y: yShared, out, bRe, bIm });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new AttractiveForces(P, out, worker, yShared, interp);
  }

  /** True when start(Y, g) convolves grid b (so the caller must not). */
  get convolvesB(): boolean {
    return this.worker !== null && this.interp !== null;
  }

  /**
   * Starts computing forces for layout Y (and, on the worker, grid b's convolution for geometry
   * `g`); the promise gives the n x 2 attractive forces (valid until the next start).
   */
  start(Y: Float64Array, g?: GridGeometry): Promise<Float64Array> {
    if (!this.worker || !this.yShared) {
      attractiveRows(this.P.rowPtr, this.P.cols, this.P.vals, Y, this.out, 0, this.P.n);
      return Promise.resolve(this.out);
    }
    this.yShared.set(Y);
    const w = this.worker;
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      w.once('error', onError);
      w.once('message', () => {
        w.off('error', onError);
        resolve(this.out);
      });
      w.postMessage(g && this.interp ? g : null);
    });
  }

  async close(): Promise<void> {
    if (this.worker) await this.worker.terminate();
  }
}

/** The worker's step: grid b convolution (if asked) then all attractive forces. */
export function workerStep(
  d: { n: number; rowPtr: Int32Array; cols: Int32Array; vals: Float32Array; y: Float64Array; out: Float64Array; bRe: SharedArrayBuffer | null; bIm: SharedArrayBuffer | null },
  g: GridGeometry | null,
  kernels: KernelCache,
): void {
  if (g && d.bRe && d.bIm) {
    const s = g.p * g.p;
    convolveB(g, new Float64Array(d.bRe, 0, s), new Float64Array(d.bIm, 0, s), kernelSpectra(kernels, g.p, g.h).k2);
  }
  attractiveRows(d.rowPtr, d.cols, d.vals, d.y, d.out, 0, d.n);
}
