/** Messages between the picture service (pictures.ts) and its workers (picture-worker.ts). */
import type { MethodName } from '../explain/explain.js';
import type { AttributionTarget } from './picture-params.js';

interface JobBase {
  /** Store directory (absolute): run record, preprocessing, statistics, samples. */
  store: string;
  /** The checkpoint directory the main thread resolved (it is part of the cache key). */
  modelDir: string;
  /** Model name of the run. */
  model: string;
}

export interface ActmaxJob extends JobBase {
  kind: 'actmax';
  step: number;
  dataset?: string;
  layer: string;
  channel: number;
  steps: number;
  seed: number;
  upscale: number;
}

export interface AttributionJob extends JobBase {
  kind: 'attribution';
  /** Worker model cache key: checkpoint directory, its file fingerprint and the run. */
  modelKey: string;
  method: MethodName;
  dataset: string;
  sample: number;
  target: AttributionTarget;
  size: number;
}

export type PictureJob = ActmaxJob | AttributionJob;

export interface PictureResult {
  png: Uint8Array;
  info: Record<string, unknown>;
  headers: Record<string, string>;
  /** Time the worker spent rendering (no queue wait). */
  renderMs: number;
}
