/** Worker side of AttractiveForces (tsne-attr.ts): on each message, grid b (if any) then all rows. */
import { parentPort, workerData } from 'node:worker_threads';
import { workerStep } from './tsne-attr.js';
import type { GridGeometry, KernelCache } from './tsne-interp.js';

const kernels: KernelCache = new Map();
parentPort!.on('message', (g: GridGeometry | null) => {
  workerStep(workerData, g, kernels);
  parentPort!.postMessage('done');
});
parentPort!.postMessage('ready');
