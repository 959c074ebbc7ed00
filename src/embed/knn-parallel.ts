/**
 * The exact self-kNN on two threads: a worker (its own tfjs wasm backend, points in shared
 * memory) takes the first half of the queries while this thread does the second half; the
 * halves are concatenated. Each half is the same blocked computation as knn.ts, so the result
 * equals the single-threaded one. Used for large n, where the worker's start-up (~2 s: tsx,
 * tfjs, wasm) is small next to the O(n^2 d) product.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { knn, type KnnGraph, type KnnOptions } from './knn.js';
import type { Points } from './validate.js';

/**
 * A worker thread running a TypeScript module. `--import tsx` in a raw Worker's execArgv does not
 * register tsx's hooks before the entry is loaded (Node 20), so the entry is a tiny eval script
 * that registers them with tsx's API first, then imports the module.
 */
export function tsWorker(entry: URL, workerData: unknown): Worker {
  const api = createRequire(import.meta.url).resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs');
  const code = `import(${JSON.stringify(pathToFileURL(api).href)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { eval: true, workerData });
}

export interface KnnWorkerResult {
  indices: Int32Array;
  distances: Float32Array;
  error?: string;
}

/** Exact kNN of `points` among themselves (self excluded), split over this thread and one worker. */
export async function knnParallel(points: Points, k: number, opts: KnnOptions = {}): Promise<KnnGraph> {
  const { n, d } = points;
  const half = Math.floor(n / 2);
  const shared = new Float32Array(new SharedArrayBuffer(4 * n * d));
  shared.set(points.data);
  const worker = tsWorker(new URL('./knn-worker.ts', import.meta.url), { data: shared, n, d, k, q0: 0, q1: half });
  const fromWorker = new Promise<KnnWorkerResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  try {
    const rest = knn(points, k, { data: points.data.subarray(half * d), n: n - half, d }, {
      ...opts,
      selfOffset: half,
      onProgress: (done, total) => opts.onProgress?.(2 * done, 2 * total), // ~both halves advance together
    });
    const first = await fromWorker;
    if (first.error) throw new Error(`knn worker failed: ${first.error}`);
    const indices = new Int32Array(n * k);
    const distances = new Float32Array(n * k);
    indices.set(first.indices);
    distances.set(first.distances);
    indices.set(rest.indices, half * k);
    distances.set(rest.distances, half * k);
    return { indices, distances, k };
  } finally {
    await worker.terminate();
  }
}

/** n at and above which the self-kNN uses the second thread. */
export const PARALLEL_KNN_MIN_N = 20000;

/** Self-kNN (self excluded): two threads for large n, else this thread. */
export async function selfKnn(points: Points, k: number, onProgress?: (done: number, total: number) => void): Promise<KnnGraph> {
  if (points.n >= PARALLEL_KNN_MIN_N) return knnParallel(points, k, { onProgress });
  return knn(points, k, undefined, { onProgress });
}
