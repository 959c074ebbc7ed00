/**
 * Messages between the main thread and worker pools. Typed arrays in them are transferred
 * (see transfer.ts); everything else is plain structured-clone data.
 */
import type { BackendChoice } from '../model/backend.js';
import type { Predictions } from '../model/reduce.js';
import type { LayerBatchStats } from '../stats/types.js';
import type { DecodeTask, DecodedBatch, Preprocess } from '../sources/types.js';

export interface DecodeRequest {
  task: DecodeTask;
  pre: Preprocess;
}

export type DecodeResponse = DecodedBatch;

export interface InferRequest {
  /** Model directory of the checkpoint; a worker keeps one model loaded and swaps on change. */
  checkpointDir: string;
  backend: BackendChoice;
  /** Resolved layer names to tap (reduced to [B, C] statistics on the backend). */
  layers: string[];
  predictions: boolean;
  /** [H, W, C] of one image or [T, H, W, C] of one clip. */
  inputShape: number[];
  sampleIds: Int32Array;
  /** Label per sample (-1 unknown), for the probability of the true label; null = none. */
  labels?: Int32Array | null;
  /** NHWC (or NTHWC) float32 of B samples. */
  data: Float32Array;
  /** Input channels [from, to) to set to 0 first (a stream ablation), or null. */
  zero?: [number, number] | null;
}

export interface InferResponse {
  sampleIds: Int32Array;
  layers: LayerBatchStats[];
  predictions: Predictions | null;
  /** Backend the worker ran on (for the run record). */
  backend: string;
  /** Milliseconds the worker spent in the forward pass + reductions. */
  computeMs: number;
}
