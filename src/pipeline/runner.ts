/**
 * Runs a pipeline spec: for every checkpoint, streams the dataset through the staged pools
 *   source -> decode pool -> infer pool -> sink -> finalize
 * with byte-bounded queues between stages (backpressure keeps memory flat), one commit per
 * shard (resume skips committed shards), and a finalize step that merges shard partials.
 */
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { NeurolensError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { setupBackend, defaultInferWorkers, type BackendChoice, type BackendInfo } from '../model/backend.js';
import { listCheckpoints, type Checkpoint } from '../model/checkpoints.js';
import { loadModelDir } from '../model/io.js';
import { resolveLayers } from '../model/layers.js';
import { validateModelInput } from '../model/validate.js';
import { openDatasetSource } from '../sources/open.js';
import type { Source } from '../sources/types.js';
import { Store, isShardCommitted, newRunId, writeRun, writeTablePart, type RunRecord } from '../storage/index.js';
import { withNulls } from '../storage/parquet-writer.js';
import { planRetention, type LayerRetention, type RetentionPlan } from './retention.js';
import { motionChannels } from '../video/clip-layout.js';
import { finalizeStep } from '../stages/finalize.js';
import { planShards, selectShards, type ShardPlan } from '../stages/source.js';
import type { SinkRequest, SinkResponse } from '../stages/sink.js';
import { StepPartials } from '../stages/step-partials.js';
import { embedProgressPrinter, runEmbedSection } from '../embed/run-section.js';
import { createPool, type WorkerPool } from '../workers/pool.js';
import type { DecodeRequest, DecodeResponse, InferRequest, InferResponse } from '../workers/protocol.js';
import { sampleShape, type LoadedSpec, type PipelineSpec } from './spec.js';
import { Progress, type ProgressMode } from './progress.js';
import { streamCheckpoint, type CheckpointTotals } from './stream.js';

export interface RunOptions {
  /** Overrides the spec's checkpoint glob. */
  checkpoints?: string;
  /** Only the first N samples of the dataset. */
  limit?: number;
  /** Infer workers (default: cores). */
  workers?: number;
  decodeWorkers?: number;
  backend?: BackendChoice;
  /** Skip committed shards (default true). */
  resume?: boolean;
  /** Static sharding: this process takes shards s with s mod count == index; no finalize. */
  shard?: { index: number; count: number };
  maxErrorRate?: number;
  progress?: ProgressMode;
  /** Overrides the spec's store directory. */
  store?: string;
}

export interface RunSummary {
  run_id: string;
  status: 'succeeded' | 'failed';
  store: string;
  dataset: string;
  model: string;
  backend: string;
  workers: number;
  samples: number;
  checkpoints: { step: number; dir: string; shards: number; skipped: number; samples: number; errors: number; seconds: number; images_per_s: number;
    /** CPU seconds of the whole process (all threads) over the checkpoint; busy seconds of the infer and sink workers. */
    cpu_s: number;
    busy_s: { infer: number; sink: number };
    dead: Record<string, number> | null;
  }[];
  errors: number;
  /** Layouts written by the spec's embed section. */
  embeddings: { layer: string; method: string; step: number; n: number; embedded: number; seconds: number; path: string }[];
  seconds: number;
  /** Peak resident set size of the process (all threads) so far, in MiB. */
  peak_rss_mib: number;
  /** What each tapped layer keeps (spec retention, `auto` decided by the estimate) and the estimated store bytes of the run. */
  retention: { layer: string; channels: number; mode: LayerRetention['mode']; rate?: number; bytes: number }[];
  store_estimate_bytes: number;
}

const require = createRequire(import.meta.url);
export function versions(): Record<string, string> {
  const v: Record<string, string> = { node: process.version };
  for (const p of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@duckdb/node-api', 'apache-arrow', 'parquet-wasm', 'piscina']) {
    try {
      v[p] = (require(`${p}/package.json`) as { version: string }).version;
    } catch {
      v[p] = 'missing';
    }
  }
  v.neurolens = (require('../../package.json') as { version: string }).version;
  return v;
}

/**
 * Checks every checkpoint before any work: model.json parses, weight shards exist and load,
 * the requested layers exist, and the input shape fits the preprocessing. Returns the resolved
 * layer names (taps), in model order.
 */
async function preflight(spec: PipelineSpec, checkpoints: Checkpoint[]): Promise<{ layers: string[]; codes: string[]; channels: Map<string, number> }> {
  let layers: string[] = [];
  const channels = new Map<string, number>();
  let codes: string[] = [];
  for (const [i, ck] of checkpoints.entries()) {
    const loaded = await loadModelDir(ck.dir);
    try {
      validateModelInput(loaded, sampleShape(spec));
      if (i === 0) {
        const inputShape = sampleShape(spec);
        const resolved = resolveLayers(loaded.model, spec.layers, { inputShape });
        const codeInfo = spec.codes.length ? resolveLayers(loaded.model, spec.codes, { inputShape }) : [];
        for (const l of [...resolved, ...codeInfo]) channels.set(l.name, Number(l.outputShape?.at(-1) ?? 0));
        codes = codeInfo.map((l) => l.name);
        // Codes are the mean-pooled statistics of a tapped layer, so code layers are tapped too.
        layers = [...new Set([...resolved.map((l) => l.name), ...codes])];
        // A bad embed section fails here, before any work, not after the last checkpoint.
        for (const [k, e] of spec.embed.entries()) {
          if (!codes.includes(e.layer)) {
            throw new NeurolensError('BAD_SPEC', `field 'embed.${k}.layer': '${e.layer}' is not a code layer (codes: ${codes.join(', ') || 'none; list it under codes:'})`);
          }
        }
      }
    } finally {
      loaded.model.dispose();
    }
  }
  return { layers, codes, channels };
}

/**
 * What every shard of a run needs before any work: the backend, the open dataset source, the
 * checkpoints, the tapped layers (preflight) and what each layer keeps (retention). Shared by
 * runPipeline and the queue submitter (src/queue/submit.ts), which ships the result to workers.
 */
export interface PreparedRun {
  spec: PipelineSpec;
  baseDir: string;
  storeDir: string;
  backend: BackendInfo;
  source: Source;
  size: number;
  checkpoints: Checkpoint[];
  layers: string[];
  codes: string[];
  retention: RetentionPlan;
}

export async function prepareRun(loaded: LoadedSpec, opts: RunOptions = {}): Promise<PreparedRun> {
  const { spec, baseDir } = loaded;
  const storeDir = path.resolve(opts.store ?? path.resolve(baseDir, spec.store));
  const backend = await setupBackend(opts.backend ?? 'auto');
  const source = await openDatasetSource(spec.dataset, spec.model.input, baseDir);
  const size = Math.min(source.size, opts.limit ?? Infinity);
  const checkpoints = await listCheckpoints(opts.checkpoints ?? spec.model.checkpoints, baseDir);
  const { layers, codes, channels } = await preflight(spec, checkpoints);
  // What each layer keeps, from the store-size estimate; refuses before any write when the disk cannot hold it.
  const retention = await planRetention(spec.retention, layers.map((layer) => ({ layer, channels: channels.get(layer) ?? 0 })), {
    samples: opts.shard ? Math.ceil(size / opts.shard.count) : size,
    checkpoints: checkpoints.length,
    passes: 1 + spec.ablate.length,
    shardSize: spec.shard_size,
    store: storeDir,
  });
  return { spec, baseDir, storeDir, backend, source, size, checkpoints, layers, codes, retention };
}

/** Per tapped layer, what it keeps (the form the sink takes). */
export function retentionByLayer(plan: RetentionPlan): Record<string, LayerRetention> {
  return Object.fromEntries(plan.layers.map((l) => [l.layer, l.retention]));
}

/** The staged worker pools of a run (decode, infer, sink); reusable across checkpoints and shard jobs. */
export interface RunPools {
  decodePool: WorkerPool<DecodeRequest, DecodeResponse>;
  inferPool: WorkerPool<InferRequest, InferResponse>;
  sinkPool: WorkerPool<SinkRequest, SinkResponse>;
  workers: number;
  dispose(): Promise<void>;
}

export function createRunPools(sourceKind: Source['kind'], workers: number, decodeWorkers?: number): RunPools {
  const decodePool = createPool<DecodeRequest, DecodeResponse>(new URL('../workers/decode.ts', import.meta.url), {
    threads: decodeWorkers ?? (sourceKind === 'idx' ? 1 : Math.max(1, Math.ceil(workers / 2))),
    concurrentTasksPerWorker: sourceKind === 'idx' ? 1 : 4,
  });
  const inferPool = createPool<InferRequest, InferResponse>(new URL('../workers/infer.ts', import.meta.url), { threads: workers });
  const sinkPool = createPool<SinkRequest, SinkResponse>(new URL('../workers/sink.ts', import.meta.url), { threads: 1 });
  return {
    decodePool,
    inferPool,
    sinkPool,
    workers,
    dispose: async () => {
      await Promise.all([decodePool.dispose(), inferPool.dispose(), sinkPool.dispose()]);
    },
  };
}

export interface CheckpointShardsArgs {
  source: Source;
  spec: PipelineSpec;
  checkpoint: Checkpoint;
  /** The model as specified (zero null) or a stream ablation (ablationVariants). */
  variant: { model: string; zero: [number, number] | null };
  shards: ShardPlan[];
  layers: string[];
  codes: string[];
  retention: Record<string, LayerRetention>;
  backend: BackendChoice;
  pools: RunPools;
  progress: Progress;
  runId: string;
  store: string;
  maxErrorRate: number;
  errorsSoFar?: number;
  processedSoFar?: number;
}

/**
 * Runs these shards of this checkpoint (one model variant) through the staged pools and commits
 * each shard: the unit runPipeline loops over, and what a queue worker runs per job (src/queue/).
 */
export function runCheckpointShards(a: CheckpointShardsArgs): Promise<CheckpointTotals> {
  const vspec: PipelineSpec = a.variant.zero ? { ...a.spec, model: { ...a.spec.model, name: a.variant.model } } : a.spec;
  return streamCheckpoint({
    source: a.source,
    shards: a.shards,
    checkpoint: a.checkpoint,
    spec: vspec,
    zero: a.variant.zero,
    retention: a.retention,
    layers: a.layers,
    codes: a.codes,
    backend: a.backend,
    decodePool: a.pools.decodePool,
    inferPool: a.pools.inferPool,
    sinkPool: a.pools.sinkPool,
    workers: a.pools.workers,
    progress: a.progress,
    runId: a.runId,
    store: a.store,
    maxErrorRate: a.maxErrorRate,
    errorsSoFar: a.errorsSoFar ?? 0,
    processedSoFar: a.processedSoFar ?? 0,
  });
}

export async function runPipeline(loaded: LoadedSpec, opts: RunOptions = {}): Promise<RunSummary> {
  const { spec } = loaded;
  const t0 = performance.now();
  const prep = await prepareRun(loaded, opts);
  const { storeDir, backend, source, size, checkpoints, layers, codes, retention } = prep;
  if ((opts.progress ?? 'silent') !== 'silent' && opts.progress !== 'json') for (const line of retention.lines) process.stderr.write(line + '\n');
  // --json: the estimate as an NDJSON event on stderr, with the progress events, before any work.
  if (opts.progress === 'json') {
    const layers = retention.layers.map((l) => ({ layer: l.layer, mode: l.retention.mode, ...(l.retention.mode === 'sample' ? { rate: l.retention.rate } : {}), bytes: l.bytes }));
    process.stderr.write(JSON.stringify({ event: 'retention', store_estimate_bytes: retention.bytes, budget_bytes: retention.budget, free_bytes: retention.free, layers, message: retention.lines.join('; ') }) + '\n');
  }

  await mkdir(storeDir, { recursive: true });
  const runId = newRunId();
  const workers = Math.max(1, opts.workers ?? defaultInferWorkers());
  const record: RunRecord = {
    run_id: runId,
    status: 'running',
    started_at: new Date().toISOString(),
    spec: { ...spec, file: loaded.file, options: { ...opts, progress: undefined } },
    versions: versions(),
    backend: backend.name,
    timings: {},
    counts: {},
    // The directories actually read, before the first is: readers (pictures) must not re-resolve
    // the spec's glob, which `--checkpoints` may have overridden (src/model/run-checkpoint.ts).
    checkpoints: checkpoints.map((c) => ({ step: c.step, dir: path.resolve(c.dir) })),
  };
  await writeRun(storeDir, record);
  const summary: RunSummary = {
    run_id: runId,
    status: 'failed',
    store: storeDir,
    dataset: spec.dataset.name,
    model: spec.model.name,
    backend: backend.name,
    workers,
    samples: size,
    checkpoints: [],
    errors: 0,
    embeddings: [],
    seconds: 0,
    peak_rss_mib: 0,
    retention: retention.layers.map((l) => ({ layer: l.layer, channels: l.channels, mode: l.retention.mode, ...(l.retention.mode === 'sample' ? { rate: l.retention.rate } : {}), bytes: l.bytes })),
    store_estimate_bytes: retention.bytes,
  };

  const progress = new Progress(opts.progress ?? 'silent');
  const pools = createRunPools(source.kind, workers, opts.decodeWorkers);
  const store = await Store.open(storeDir);
  try {
    await writeSamples(storeDir, spec.dataset.name, source, size);
    const shards = selectShards(planShards(size, spec.shard_size, spec.batch_size), opts.shard);
    // The model as specified, then one pass per stream ablation (spec `ablate`): the same
    // checkpoint with that stream's input channels zeroed, stored under its own model name.
    const variants = [{ model: spec.model.name, zero: null as [number, number] | null }, ...ablationVariants(spec)];
    for (const ck of checkpoints) {
      for (const variant of variants) {
        const key = { dataset: spec.dataset.name, model: variant.model, step: ck.step };
        const pending = [];
        for (const s of shards) {
          if (opts.resume === false || !(await isShardCommitted(storeDir, { ...key, shard: s.index }))) pending.push(s);
        }
        const tc = performance.now();
        const cpu0 = process.cpuUsage();
        let totals: CheckpointTotals = { samples: 0, errors: 0, processed: 0, partials: new StepPartials(spec.eps, spec.topk), busyMs: { infer: 0, sink: 0 } };
        if (pending.length) {
          totals = await runCheckpointShards({
            source,
            spec,
            checkpoint: ck,
            variant,
            shards: pending,
            layers,
            codes,
            retention: retentionByLayer(retention),
            backend: opts.backend ?? 'auto',
            pools,
            progress,
            runId,
            store: storeDir,
            maxErrorRate: opts.maxErrorRate ?? spec.max_error_rate,
            errorsSoFar: summary.errors,
            processedSoFar: summary.checkpoints.reduce((n, c) => n + c.samples + c.errors, 0),
          });
          progress.stop();
        }
        summary.errors += totals.errors;
        let dead: Record<string, number> | null = null;
        if (!opts.shard) {
          const fin = await finalizeStep(store, key, { eps: spec.eps, topk: spec.topk }, totals.partials);
          dead = Object.fromEntries(fin.layers.map((l) => [l.layer, l.dead]));
        }
        const seconds = (performance.now() - tc) / 1000;
        summary.checkpoints.push({
          ...(variant.zero ? { model: variant.model } : {}),
          step: ck.step,
          dir: ck.dir,
          shards: pending.length,
          skipped: shards.length - pending.length,
          samples: totals.samples,
          errors: totals.errors,
          seconds: round(seconds),
          images_per_s: round(totals.samples / Math.max(seconds, 1e-9)),
          cpu_s: round(cpuSeconds(process.cpuUsage(cpu0))),
          busy_s: { infer: round(totals.busyMs.infer / 1000), sink: round(totals.busyMs.sink / 1000) },
          dead,
        });
        record.timings![variant.zero ? `step_${ck.step}_${variant.model}_s` : `step_${ck.step}_s`] = round(seconds);
        record.counts = { samples: size, checkpoints: summary.checkpoints.length, errors: summary.errors };
        await writeRun(storeDir, record);
      }
    }
    // Embeddings once every checkpoint's codes are committed (a --shard run leaves them to finalize).
    if (!opts.shard && spec.embed.length > 0) {
      const te = performance.now();
      const quiet = (opts.progress ?? 'silent') === 'silent';
      const done = await runEmbedSection(
        store,
        spec.embed,
        { dataset: spec.dataset.name, model: spec.model.name, steps: summary.checkpoints.map((c) => c.step) },
        quiet ? undefined : embedProgressPrinter(opts.progress === 'json'),
      );
      summary.embeddings = done.map((r) => ({ layer: r.layer, method: r.method, step: r.step, n: r.n, embedded: r.embedded, seconds: r.seconds, path: r.path }));
      record.timings!.embed_s = round((performance.now() - te) / 1000);
    }
    summary.status = 'succeeded';
    record.status = 'succeeded';
  } catch (e) {
    record.status = 'failed';
    record.error = errorMessage(e);
    throw e;
  } finally {
    progress.stop();
    summary.seconds = round((performance.now() - t0) / 1000);
    // maxRSS is in KiB on Linux and covers the worker threads (they share the process).
    summary.peak_rss_mib = round(process.resourceUsage().maxRSS / 1024);
    record.finished_at = new Date().toISOString();
    record.timings!.total_s = summary.seconds;
    // The run's own outcome (or error) is what the caller gets; a record that cannot be written
    // is reported, not allowed to replace it.
    await writeRun(storeDir, record).catch((e: unknown) => log.error({ err: e, store: storeDir, run: runId }, 'cannot write the final run record'));
    store.dispose();
    await pools.dispose();
  }
  return summary;
}

/**
 * The stream ablations of a clip spec: model `<name>.no-<stream>` with that stream's input
 * channels (appearance [0, A), motion [A, A + M)) zeroed, in spec order.
 */
export function ablationVariants(spec: PipelineSpec): { model: string; zero: [number, number] }[] {
  const A = spec.model.input.channels;
  const M = motionChannels(spec.model.input.motion);
  return spec.ablate.map((s) => ({ model: `${spec.model.name}.no-${s}`, zero: s === 'appearance' ? [0, A] : [A, A + M] }));
}

/** The `samples` table of a dataset (sample_id, uri, label, split), replaced atomically. */
export async function writeSamples(store: string, dataset: string, source: Source, size: number): Promise<void> {
  const refs = source.refs(0, size);
  await writeTablePart(store, 'samples', { dataset }, 'part-0.parquet', {
    sample_id: Int32Array.from(refs, (r) => r.sampleId),
    uri: refs.map((r) => r.uri),
    label: Int32Array.from(refs, (r) => r.label),
    split: refs.map((r) => r.split || null),
    // Clips: where each lies in its video (null for images and unreadable videos).
    ...(source.kind === 'video'
      ? {
          video_start: withNulls(Int32Array.from(refs, (r) => r.clip?.start ?? -1), Uint8Array.from(refs, (r) => (r.clip && r.clip.start >= 0 ? 1 : 0))),
          video_frames: Int32Array.from(refs, (r) => r.clip?.frames ?? 0),
          video_stride: Int32Array.from(refs, (r) => r.clip?.stride ?? 0),
        }
      : {}),
  });
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export { NeurolensError };
