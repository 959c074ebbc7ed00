/** Worker side of knnParallel: self-kNN of query rows [q0, q1) on this thread's own wasm backend. */
import { parentPort, workerData } from 'node:worker_threads';
import { setupBackend } from '../model/backend.js';
import { knn } from './knn.js';
import type { KnnWorkerResult } from './knn-parallel.js';

const { data, n, d, k, q0, q1 } = workerData as { data: Float32Array; n: number; d: number; k: number; q0: number; q1: number };
try {
  await setupBackend('wasm');
  const g = knn({ data, n, d }, k, { data: data.subarray(q0 * d, q1 * d), n: q1 - q0, d }, { selfOffset: q0, engine: 'tfjs' });
  const res: KnnWorkerResult = { indices: g.indices, distances: g.distances };
  parentPort!.postMessage(res, [g.indices.buffer as ArrayBuffer, g.distances.buffer as ArrayBuffer]);
} catch (e) {
  parentPort!.postMessage({ indices: new Int32Array(0), distances: new Float32Array(0), error: e instanceof Error ? e.message : String(e) });
}
