/**
 * The job types of a queued run and their deterministic ids. BullMQ ignores an add whose job id
 * exists, so re-submitting a run cannot create a second job for the same (checkpoint, shard).
 * BullMQ refuses ':' in custom ids, so the parts are joined with '|':
 *   shard     <dataset>|<model>|<store hash>|<step>|<shard>
 *   finalize  <dataset>|<model>|<store hash>|<step>|finalize
 *   run       <dataset>|<model>|<store hash>|run
 * (model is the variant's model name: stream ablations are finalized under their own name.)
 */
import type { LayerRetention } from '../pipeline/retention.js';
import type { PipelineSpec } from '../pipeline/spec.js';
import type { BackendChoice } from '../model/backend.js';
import { shortHash } from './connection.js';

/** Everything a worker needs to run any job of a run; stored once in Redis, not in every job. */
export interface RunContext {
  runKey: string;
  runId: string;
  specFile: string;
  spec: PipelineSpec;
  baseDir: string;
  /** Absolute store directory: must be the same path on every worker (shared filesystem). */
  store: string;
  size: number;
  layers: string[];
  codes: string[];
  retention: Record<string, LayerRetention>;
  backend: BackendChoice;
  maxErrorRate: number;
  checkpoints: { step: number; dir: string; name: string }[];
  variants: { model: string; zero: [number, number] | null }[];
  /** Planned shards per finalize job (model|step -> shard indices), for status and failures. */
  shards: Record<string, number[]>;
  submittedAt: number;
}

export type JobData =
  | { kind: 'shard'; runKey: string; runId: string; model: string; step: number; shard: number }
  | { kind: 'finalize'; runKey: string; runId: string; model: string; step: number }
  | { kind: 'run'; runKey: string; runId: string };

/** What a shard job returns: a small manifest of what it committed, never data. */
export interface ShardManifest {
  shard: number;
  step: number;
  model: string;
  samples: number;
  errors: number;
  rows: number;
  bytes: number;
  files: { table: string; path: string; rows: number; bytes: number }[];
  worker: string;
  attempt: number;
  started_at: number;
  finished_at: number;
}

export interface FinalizeManifest {
  step: number;
  model: string;
  shards: number;
  failed: number[];
  layers: { layer: string; shards: number; channels: number; dead: number }[];
}

export interface RunManifest {
  run_id: string;
  status: 'succeeded' | 'failed';
  checkpoints: FinalizeManifest[];
  embeddings: { layer: string; method: string; step: number; n: number; path: string }[];
}

export function runKeyOf(dataset: string, model: string, store: string): string {
  return `${dataset}|${model}|${shortHash(store)}`;
}
export const shardJobId = (runKey: string, model: string, baseModel: string, step: number, shard: number) => `${variantKey(runKey, model, baseModel)}|${step}|${shard}`;
export const finalizeJobId = (runKey: string, model: string, baseModel: string, step: number) => `${variantKey(runKey, model, baseModel)}|${step}|finalize`;
export const runJobId = (runKey: string) => `${runKey}|run`;
/** Key of one (variant, step) inside RunContext.shards. */
export const stepKey = (model: string, step: number) => `${model}|${step}`;

/** The run key with the model part replaced by an ablation variant's name. */
function variantKey(runKey: string, model: string, baseModel: string): string {
  if (model === baseModel) return runKey;
  const [dataset, , hash] = runKey.split('|');
  return `${dataset}|${model}|${hash}`;
}
