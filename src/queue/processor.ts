/**
 * The BullMQ sandboxed processor: `neurolens worker` runs this file in worker threads
 * (useWorkerThreads), so the shard work — pool orchestration, Arrow/Parquet building, DuckDB in
 * finalize, t-SNE in embeddings — never runs on the thread that renews the job locks. BullMQ's
 * main thread keeps extending the lock however busy this thread is (test/queue-lock.test.ts).
 *
 * A thread keeps its staged pools (decode, infer, sink) and the runs' open sources across jobs:
 * the infer workers keep their loaded checkpoints, so a job costs the shard's work, not a start-up.
 */
import os from 'node:os';
import { threadId } from 'node:worker_threads';
import { Job, Queue, type SandboxedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { NeurolensError, errorMessage } from '../errors.js';
import { Progress } from '../pipeline/progress.js';
import { createRunPools, runCheckpointShards, type RunPools } from '../pipeline/runner.js';
import { openDatasetSource } from '../sources/open.js';
import type { Source } from '../sources/types.js';
import { planShards } from '../stages/source.js';
import { finalizeStep } from '../stages/finalize.js';
import { runEmbedSection } from '../embed/run-section.js';
import { Store, readCommit, readRun, writeRun } from '../storage/index.js';
import type { WorkerPool } from '../workers/pool.js';
import type { SinkRequest, SinkResponse } from '../stages/sink.js';
import { parseQueueUrl, quietErrors, QUEUE_NAME, RUN_KEY_PREFIX } from './connection.js';
import { holdLock } from './fence.js';
import type { FinalizeManifest, JobData, RunContext, RunManifest, ShardManifest } from './jobs.js';
import { readTestHooks } from './hooks.js';

interface ThreadState {
  queue: Queue;
  redis: Redis;
  pools: Map<string, RunPools>;
  runs: Map<string, { ctx: RunContext; source: Source }>;
}

let state: Promise<ThreadState> | null = null;

function settings() {
  const url = process.env.NEUROLENS_QUEUE_URL;
  if (!url) throw new NeurolensError('INTERNAL', 'the queue processor needs NEUROLENS_QUEUE_URL (set by `neurolens worker`)');
  return {
    url,
    inferWorkers: Math.max(1, Number(process.env.NEUROLENS_QUEUE_INFER_WORKERS ?? 1)),
    lockMs: Math.max(1, Number(process.env.NEUROLENS_QUEUE_LOCK_MS ?? 30_000)),
    worker: `${process.env.NEUROLENS_WORKER_NAME ?? `${os.hostname()}:${process.pid}`}/t${threadId}`,
  };
}

function thread(): Promise<ThreadState> {
  state ??= (async () => {
    // Redis outages surface as failed commands (the job fails and is retried), not as crashes.
    const queue = quietErrors(new Queue(QUEUE_NAME, { connection: parseQueueUrl(settings().url).connection }));
    // bullmq's client is an ioredis instance (its default adapter); typed through ioredis.
    const redis = (await queue.client) as unknown as Redis;
    return { queue, redis, pools: new Map(), runs: new Map() };
  })();
  return state;
}

/**
 * The context (and open source) of a job's run. A submission stores a new context under a new
 * runId, and the context of a runId never changes, so a cached entry of the job's runId is
 * current: Redis is read (and the context parsed) only on a miss, not for every shard job.
 */
async function runOf(t: ThreadState, data: JobData): Promise<{ ctx: RunContext; source: Source }> {
  const { runKey } = data;
  const hit = t.runs.get(runKey);
  if (hit && hit.ctx.runId === data.runId) return hit;
  const text = await t.redis.get(RUN_KEY_PREFIX + runKey);
  if (!text) throw new NeurolensError('NOT_FOUND', `run ${runKey} has no context in the queue (was it removed?)`);
  const ctx = JSON.parse(text) as RunContext;
  const cached = t.runs.get(runKey);
  if (cached && cached.ctx.runId === ctx.runId) return cached;
  const source = await openDatasetSource(ctx.spec.dataset, ctx.spec.model.input, ctx.baseDir);
  const entry = { ctx, source };
  t.runs.delete(runKey);
  t.runs.set(runKey, entry);
  // Keep the sources of the few most recent runs (a Map iterates in insertion order).
  while (t.runs.size > 4) t.runs.delete(t.runs.keys().next().value!);
  return entry;
}

function poolsFor(t: ThreadState, kind: Source['kind']): RunPools {
  let p = t.pools.get(kind);
  if (!p) {
    p = createRunPools(kind, settings().inferWorkers);
    t.pools.set(kind, p);
  }
  return p;
}

/**
 * The sink pool seen through the fence: each shard's parts are written, and its commit follows,
 * only while this attempt holds the job lock (checked and extended before and after the write).
 * stream.ts commits right after the sink write returns, inside the extended lock window.
 */
function fencedSink(pool: WorkerPool<SinkRequest, SinkResponse>, fence: () => Promise<void>): WorkerPool<SinkRequest, SinkResponse> {
  const busy = readTestHooks().busyBeforeCommitMs ?? 0;
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'run') {
        return async (req: SinkRequest) => {
          await fence();
          const res = await target.run(req);
          if (busy) burnCpu(busy);
          await fence();
          return res;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Busy-waits (blocks this thread's event loop), for the test that proves locks survive CPU-bound work. */
function burnCpu(ms: number): void {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

async function shardJob(job: SandboxedJob<JobData>, data: Extract<JobData, { kind: 'shard' }>, token: string | undefined): Promise<ShardManifest> {
  const started = Date.now();
  const t = await thread();
  const s = settings();
  const { ctx, source } = await runOf(t, data);
  const plan = planShards(ctx.size, ctx.spec.shard_size, ctx.spec.batch_size)[data.shard];
  const ck = ctx.checkpoints.find((c) => c.step === data.step);
  const variant = ctx.variants.find((v) => v.model === data.model);
  if (!plan || !ck || !variant) throw new NeurolensError('INTERNAL', `job ${job.id}: shard ${data.shard} of step ${data.step} (${data.model}) is not in run ${data.runKey}`);
  const hooks = readTestHooks();
  if (hooks.failShards?.includes(data.shard) && (hooks.failSteps === undefined || hooks.failSteps.includes(data.step))) {
    throw new NeurolensError('BAD_INPUT', `shard ${data.shard}: injected bad-data failure (NEUROLENS_QUEUE_TEST_HOOKS)`);
  }
  if (hooks.busyMs) burnCpu(hooks.busyMs);
  const fence = async () => {
    // Without a token (a processor called outside a BullMQ worker) there is no lock to hold.
    if (token === undefined) return;
    if (!(await holdLock(t.redis, String(job.id), token, s.lockMs))) {
      throw new NeurolensError('INTERNAL', `job ${job.id}: this attempt lost its lock (stalled and handed to another worker); not writing shard ${data.shard}`);
    }
  };
  const pools = poolsFor(t, source.kind);
  const totals = await runCheckpointShards({
    source,
    spec: ctx.spec,
    checkpoint: { ...ck, stepFrom: 'metadata' },
    variant,
    shards: [plan],
    layers: ctx.layers,
    codes: ctx.codes,
    retention: ctx.retention,
    backend: ctx.backend,
    pools: { ...pools, sinkPool: fencedSink(pools.sinkPool, fence) },
    progress: new Progress('silent'),
    runId: ctx.runId,
    store: ctx.store,
    maxErrorRate: ctx.maxErrorRate,
  });
  // Counters for `neurolens queue status` (throughput, ETA): approximate by design (a worker
  // killed between its commit and its job's completion counts its shard twice).
  const statsKey = `${RUN_KEY_PREFIX}${data.runKey}:stats`;
  await t.redis.hsetnx(statsKey, 'first_start', String(started));
  await t.redis.hincrby(statsKey, 'shards', 1);
  await t.redis.hincrby(statsKey, 'samples', totals.samples + totals.errors);
  await t.redis.hset(statsKey, 'last_finish', String(Date.now()));
  const commit = await readCommit(ctx.store, { dataset: ctx.spec.dataset.name, model: data.model, step: data.step, shard: data.shard });
  const files = (commit?.parts ?? []).map((p) => ({ table: p.table, path: p.path, rows: p.rows, bytes: p.bytes }));
  return {
    shard: data.shard,
    step: data.step,
    model: data.model,
    samples: totals.samples,
    errors: totals.errors,
    rows: files.reduce((n, f) => n + f.rows, 0),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    files,
    worker: s.worker,
    attempt: job.attemptsMade + 1,
    started_at: started,
    finished_at: Date.now(),
  };
}

/** Shard numbers of the children of `jobId` that failed for good (ignored dependencies). */
async function failedChildren(t: ThreadState, jobId: string): Promise<{ ids: string[]; reasons: string[] }> {
  const parent = await Job.fromId(t.queue, jobId);
  if (!parent) return { ids: [], reasons: [] };
  const failures = await parent.getIgnoredChildrenFailures();
  const ids = Object.keys(failures).map((k) => k.split(':').at(-1)!);
  return { ids, reasons: Object.values(failures) };
}

async function finalizeJob(job: SandboxedJob<JobData>, data: Extract<JobData, { kind: 'finalize' }>): Promise<FinalizeManifest> {
  const t = await thread();
  const { ctx } = await runOf(t, data);
  const failed = (await failedChildren(t, String(job.id))).ids.map((id) => Number(id.split('|').at(-1))).sort((a, b) => a - b);
  const store = await Store.open(ctx.store);
  try {
    const key = { dataset: ctx.spec.dataset.name, model: data.model, step: data.step };
    let layers: FinalizeManifest['layers'] = [];
    try {
      layers = (await finalizeStep(store, key, { eps: ctx.spec.eps, topk: ctx.spec.topk })).layers;
    } catch (e) {
      // Every shard failed: nothing is committed, nothing to merge; the failures say why.
      if (!(e instanceof NeurolensError && e.code === 'NOT_FOUND' && failed.length > 0)) throw e;
    }
    return { step: data.step, model: data.model, shards: layers[0]?.shards ?? 0, failed, layers };
  } finally {
    store.dispose();
  }
}

async function runJob(job: SandboxedJob<JobData>, data: Extract<JobData, { kind: 'run' }>): Promise<RunManifest> {
  const t = await thread();
  const { ctx } = await runOf(t, data);
  const values = Object.values((await job.getChildrenValues()) as Record<string, FinalizeManifest>).sort((a, b) => a.step - b.step || (a.model < b.model ? -1 : 1));
  const lost = await failedChildren(t, String(job.id));
  const ok = lost.ids.length === 0 && values.every((v) => v.failed.length === 0);
  const manifest: RunManifest = { run_id: ctx.runId, status: ok ? 'succeeded' : 'failed', checkpoints: values, embeddings: [] };
  const store = await Store.open(ctx.store);
  const t0 = performance.now();
  try {
    // Embeddings read every checkpoint's codes: only over a complete run, as a single machine does.
    if (ok && ctx.spec.embed.length > 0) {
      const done = await runEmbedSection(store, ctx.spec.embed, { dataset: ctx.spec.dataset.name, model: ctx.spec.model.name, steps: ctx.checkpoints.map((c) => c.step) });
      manifest.embeddings = done.map((r) => ({ layer: r.layer, method: r.method, step: r.step, n: r.n, path: r.path }));
    }
  } finally {
    store.dispose();
  }
  try {
    const record = await readRun(ctx.store, ctx.runId);
    record.status = manifest.status;
    record.finished_at = new Date().toISOString();
    record.timings = { ...record.timings, total_s: Math.round((Date.now() - ctx.submittedAt) / 10) / 100, embed_s: Math.round((performance.now() - t0) / 10) / 100 };
    const failedShards = values.reduce((n, v) => n + v.failed.length, 0);
    record.counts = { ...record.counts, checkpoints: values.length, failed_shards: failedShards };
    if (!ok) record.error = `${failedShards} shard job(s) failed${lost.reasons.length ? `; ${lost.reasons[0]}` : ''}: see \`neurolens queue status\``;
    await writeRun(ctx.store, record);
  } catch (e) {
    throw new NeurolensError('IO', `run ${ctx.runId}: cannot update the run record: ${errorMessage(e)}`, { cause: e });
  }
  return manifest;
}

export default async function processor(job: SandboxedJob<JobData>, token?: string): Promise<ShardManifest | FinalizeManifest | RunManifest> {
  const data = job.data;
  switch (data.kind) {
    case 'shard':
      return shardJob(job, data, token);
    case 'finalize':
      return finalizeJob(job, data);
    case 'run':
      return runJob(job, data);
    default:
      throw new NeurolensError('INTERNAL', `job ${job.id}: unknown kind ${(data as { kind: string }).kind}`);
  }
}

/** Closes this thread's pools, sources and Redis connection (tests that call the processor in-process). */
export async function disposeProcessorState(): Promise<void> {
  const s = state;
  state = null;
  if (!s) return;
  const t = await s;
  await Promise.all([...t.pools.values()].map((p) => p.dispose()));
  await t.queue.close();
}
