/**
 * The stage loops of one checkpoint: source -> [decode queue] -> decode pool -> [infer queue]
 * -> infer pool -> [sink queue] -> sink. Each queue is bounded in bytes; a full queue makes the
 * stage before it wait (backpressure). Decode and infer keep a bounded number of tasks in flight
 * (about two batches per infer worker, so a worker never idles while the next batch crosses).
 */
import { NeurolensError } from '../errors.js';
import type { BackendChoice } from '../model/backend.js';
import type { Checkpoint } from '../model/checkpoints.js';
import type { DecodedBatch, DecodeTask, SampleError, Source } from '../sources/types.js';
import { ShardAccumulator, type SinkRequest, type SinkResponse } from '../stages/sink.js';
import { StepPartials } from '../stages/step-partials.js';
import { commitShard, uncommitShard } from '../storage/index.js';
import type { ShardPlan } from '../stages/source.js';
import type { WorkerPool } from '../workers/pool.js';
import type { DecodeRequest, DecodeResponse, InferRequest, InferResponse } from '../workers/protocol.js';
import type { Progress, StageCounter } from './progress.js';
import { BoundedQueue } from './queue.js';
import { Semaphore } from './semaphore.js';
import { sampleShape, type PipelineSpec } from './spec.js';
import type { LayerRetention } from './retention.js';

/**
 * Labels of each shard's contiguous range (-1 unknown), read once per shard with one refs() call:
 * the infer stage takes its batches' labels from it (the probability of the true label) and the
 * sink the whole shard's (class statistics, predictions); dropped when the shard is committed.
 */
class ShardLabels {
  private readonly byShard = new Map<number, Int32Array>();

  constructor(private readonly source: Pick<Source, 'refs'>) {}

  of(plan: ShardPlan): Int32Array {
    let l = this.byShard.get(plan.index);
    if (!l) this.byShard.set(plan.index, (l = Int32Array.from(this.source.refs(plan.start, plan.end), (r) => r.label)));
    return l;
  }

  batch(plan: ShardPlan, ids: Int32Array): Int32Array {
    const l = this.of(plan);
    return Int32Array.from(ids, (id) => l[id - plan.start] ?? -1);
  }

  drop(plan: ShardPlan): void {
    this.byShard.delete(plan.index);
  }
}

export interface StreamArgs {
  source: Source;
  shards: ShardPlan[];
  checkpoint: Checkpoint;
  spec: PipelineSpec;
  /** Input channels [from, to) set to 0 before the forward pass (stream ablation), or null. */
  zero?: [number, number] | null;
  /** Per tapped layer: rows, summary or a sample of rows (src/pipeline/retention.ts). */
  retention: Record<string, LayerRetention>;
  layers: string[];
  codes: string[];
  backend: BackendChoice;
  decodePool: WorkerPool<DecodeRequest, DecodeResponse>;
  inferPool: WorkerPool<InferRequest, InferResponse>;
  sinkPool: WorkerPool<SinkRequest, SinkResponse>;
  workers: number;
  progress: Progress;
  runId: string;
  store: string;
  maxErrorRate: number;
  /** Errors and samples of earlier checkpoints of this run (the error rate is per run). */
  errorsSoFar: number;
  processedSoFar: number;
}

export interface CheckpointTotals {
  samples: number;
  errors: number;
  processed: number;
  /** The merged partials of the shards committed by this call (for finalize). */
  partials: StepPartials;
  /** Busy milliseconds summed over the workers of a stage (where the time goes). */
  busyMs: { infer: number; sink: number };
}

type SinkItem = { shard: number; result?: InferResponse; errors?: SampleError[] };

const MiB = 2 ** 20;
/** Byte capacity of each stage queue (soft: one item larger than a queue still passes alone). */
export const QUEUE_BYTES = { decode: 8 * MiB, infer: 32 * MiB, sink: 32 * MiB } as const;

function taskBytes(t: DecodeTask): number {
  return t.kind === 'pixels' ? t.pixels.byteLength + t.sampleIds.byteLength : t.uris.reduce((n, u) => n + u.length * 2, 0) + t.sampleIds.byteLength;
}

function resultBytes(r: InferResponse): number {
  return r.layers.reduce((n, l) => n + l.max.byteLength * 6, 0) + r.sampleIds.byteLength;
}

export async function streamCheckpoint(a: StreamArgs): Promise<CheckpointTotals> {
  const pre = a.spec.model.input;
  const labels = new ShardLabels(a.source);
  const planOf = new Map(a.shards.map((s) => [s.index, s]));
  const total = a.shards.reduce((n, s) => n + (s.end - s.start), 0);
  // Small on purpose: a queue only has to keep the next stage fed (a few batches per worker).
  // A deep queue is memory that grows with the dataset until it fills (the 60k-image run
  // would hold every decoded image while the 6k-image run holds a fraction of that).
  const decodeQ = new BoundedQueue<{ shard: number; task: DecodeTask }>('decode', QUEUE_BYTES.decode);
  const inferQ = new BoundedQueue<{ shard: number; batch: DecodedBatch }>('infer', QUEUE_BYTES.infer);
  const sinkQ = new BoundedQueue<SinkItem>('sink', QUEUE_BYTES.sink);
  const queues = [decodeQ, inferQ, sinkQ];
  const counters: Record<'decode' | 'infer' | 'sink', StageCounter> = {
    decode: { name: 'decode', done: 0, total, queue: () => decodeQ.depth },
    infer: { name: 'infer', done: 0, total, queue: () => inferQ.depth },
    sink: { name: 'sink', done: 0, total, queue: () => sinkQ.depth },
  };
  a.progress.start(`step ${a.checkpoint.step} (${a.checkpoint.name}): ${total} samples in ${a.shards.length} shard(s)`, Object.values(counters));
  const fail = (e: unknown) => queues.forEach((q) => q.fail(e));

  const produce = async () => {
    for (const s of a.shards) {
      for (const b of s.batches) {
        const task = a.source.decodeTask(b.start, b.end);
        await decodeQ.push({ shard: s.index, task }, taskBytes(task));
      }
    }
    decodeQ.close();
  };

  const decode = () =>
    pump(decodeQ, Math.max(2, a.decodePool.threads * 2), fail, async ({ shard, task }) => {
      const batch = await a.decodePool.run({ task, pre });
      counters.decode.done += batch.sampleIds.length + batch.errors.length;
      await inferQ.push({ shard, batch }, batch.data.byteLength);
    }).then(() => inferQ.close());

  const infer = () =>
    pump(inferQ, a.workers * 2, fail, async ({ shard, batch }) => {
      if (batch.errors.length) await sinkQ.push({ shard, errors: batch.errors }, 1024);
      if (batch.sampleIds.length === 0) return;
      const result = await a.inferPool.run({
        checkpointDir: a.checkpoint.dir,
        backend: a.backend,
        layers: a.layers,
        predictions: a.spec.predictions,
        inputShape: sampleShape(a.spec) as InferRequest['inputShape'],
        sampleIds: batch.sampleIds,
        labels: a.spec.predictions ? labels.batch(planOf.get(shard)!, batch.sampleIds) : null,
        data: batch.data,
        zero: a.zero ?? null,
      });
      counters.infer.done += result.sampleIds.length + batch.errors.length;
      totals.busyMs.infer += result.computeMs;
      await sinkQ.push({ shard, result }, resultBytes(result));
    }).then(() => sinkQ.close());

  const totals: CheckpointTotals = { samples: 0, errors: 0, processed: 0, partials: new StepPartials(a.spec.eps, a.spec.topk), busyMs: { infer: 0, sink: 0 } };
  const sink = async () => {
    const acc = new Map(a.shards.map((s) => [s.index, new ShardAccumulator(s)]));
    const cfg = {
      store: a.store,
      dataset: a.spec.dataset.name,
      model: a.spec.model.name,
      step: a.checkpoint.step,
      topk: a.spec.topk,
      eps: a.spec.eps,
      codes: a.codes,
      retention: a.retention,
    };
    // A completed shard goes to a sink worker (Parquet encoding off the main thread) while the
    // next shard's batches keep arriving; its commit is written here once all its parts are.
    const writing = pumpInto(a.sinkPool.threads, fail);
    const commit = async (sh: ShardAccumulator) => {
      const key = { dataset: cfg.dataset, model: cfg.model, step: cfg.step, shard: sh.plan.index };
      // A re-run of a committed shard (e.g. --no-resume) first hides it from readers.
      await uncommitShard(cfg.store, key);
      const req = sh.request(cfg, labels.of(sh.plan));
      labels.drop(sh.plan);
      const t0 = performance.now();
      const written = await a.sinkPool.run(req);
      totals.busyMs.sink += performance.now() - t0;
      await commitShard(cfg.store, key, written.parts, a.runId);
      totals.partials.add(written);
      counters.sink.done += sh.expected;
      totals.samples += written.samples;
      totals.errors += written.errors;
      totals.processed += sh.expected;
      const errors = a.errorsSoFar + totals.errors;
      const processed = a.processedSoFar + totals.processed;
      // The error budget is checked at each commit: what is committed stays committed.
      if (errors > 0 && errors / processed > a.maxErrorRate) {
        throw new NeurolensError(
          'TOO_MANY_ERRORS',
          `${errors} of ${processed} samples failed (${((100 * errors) / processed).toFixed(2)}% > --max-error-rate ${(100 * a.maxErrorRate).toFixed(2)}%); ` +
            `stopped after committing shard ${sh.plan.index}. The failures are in the errors table (sample_id, uri, stage, reason); committed shards are kept and --resume continues.`,
        );
      }
    };
    for (let item = await sinkQ.shift(); item; item = await sinkQ.shift()) {
      const sh = acc.get(item.shard)!;
      if (item.result) sh.addResult(item.result);
      if (item.errors) sh.addErrors(item.errors);
      if (!sh.complete) continue;
      acc.delete(item.shard);
      await writing.start(() => commit(sh));
    }
    await writing.drain();
    if (acc.size) throw new NeurolensError('INTERNAL', `shards ${[...acc.keys()].join(', ')} did not receive all their samples`);
  };

  const tasks = [produce(), decode(), infer(), sink()].map((p) =>
    p.catch((e) => {
      fail(e);
      throw e;
    }),
  );
  const settled = await Promise.allSettled(tasks);
  a.progress.stop();
  const firstError = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
  if (firstError) throw firstError.reason;
  return totals;
}

/**
 * Takes items from `input` until it is closed and drained, running `work` on each with at most
 * `limit` in flight; resolves when every started item has finished. A failing item is handed to
 * `fail` (which aborts all queues), so the error reaches every stage.
 */
async function pump<T>(input: BoundedQueue<T>, limit: number, fail: (e: unknown) => void, work: (item: T) => Promise<void>): Promise<void> {
  const lanes = pumpInto(limit, fail);
  for (let item = await input.shift(); item; item = await input.shift()) await lanes.start(() => work(item));
  await lanes.drain();
}

/**
 * At most `limit` jobs in flight: `start` waits for a free lane, `drain` for every started job.
 * A failing job is handed to `fail` (which aborts all queues); `drain` then rethrows it.
 */
function pumpInto(limit: number, fail: (e: unknown) => void) {
  const sem = new Semaphore(limit);
  const inflight = new Set<Promise<void>>();
  let failure: { e: unknown } | null = null;
  return {
    async start(job: () => Promise<void>): Promise<void> {
      await sem.acquire();
      if (failure) {
        sem.release();
        throw failure.e;
      }
      const p: Promise<void> = job()
        .catch((e) => {
          failure ??= { e };
          fail(e);
        })
        .finally(() => {
          sem.release();
          inflight.delete(p);
        });
      inflight.add(p);
    },
    async drain(): Promise<void> {
      await Promise.all(inflight);
      if (failure) throw failure.e;
    },
  };
}
