/**
 * `neurolens run SPEC --queue URL`: plans the run on the submitting machine (preflight of every
 * checkpoint, retention, samples table, run record) and enqueues it as one BullMQ flow:
 *
 *   run job (embeddings, final run record)
 *     └─ finalize job per (checkpoint, model variant)   merges the committed shard partials
 *          └─ shard job per pending shard                 runs the staged pools, commits
 *
 * A parent runs once all its children are done; shard jobs are `ignoreDependencyOnFailure`, so a
 * shard that fails for good (after its retries with exponential backoff) is recorded as failed
 * and does not block its checkpoint's finalize, nor any other checkpoint. Committed shards are
 * not enqueued (resume), and ids are deterministic (jobs.ts): while a run's flow is in progress a
 * second submission attaches to it instead of adding work.
 */
import { stat, mkdir } from 'node:fs/promises';
import { FlowProducer, Job, Queue, type FlowJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { NeurolensError } from '../errors.js';
import { ablationVariants, prepareRun, retentionByLayer, versions, writeSamples, type RunOptions } from '../pipeline/runner.js';
import type { LoadedSpec } from '../pipeline/spec.js';
import { planShards } from '../stages/source.js';
import { committedShards, finalPartPath, newRunId, writeRun, type RunRecord } from '../storage/index.js';
import { closeClient, ensureReachable, parseQueueUrl, quietErrors, QUEUE_NAME, RUN_KEY_PREFIX, RUNS_SET } from './connection.js';
import { finalizeJobId, runJobId, runKeyOf, shardJobId, stepKey, type JobData, type RunContext } from './jobs.js';

export interface SubmitOptions extends RunOptions {
  queue: string;
  /** Attempts per shard job (default 3), with exponential backoff from `backoffMs` (default 2000). */
  attempts?: number;
  backoffMs?: number;
}

export interface SubmitResult {
  run_key: string;
  run_id: string;
  store: string;
  /** True when the run's flow was already in progress: nothing was added. */
  attached: boolean;
  /** True when every shard was committed and every checkpoint finalized: nothing to do. */
  nothing_to_do: boolean;
  jobs: number;
  checkpoints: { model: string; step: number; shards: number; pending: number; skipped: number; finalize: boolean }[];
}

const IN_PROGRESS = new Set(['waiting', 'waiting-children', 'active', 'delayed', 'prioritized']);

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export async function submitRun(loaded: LoadedSpec, o: SubmitOptions): Promise<SubmitResult> {
  if (o.shard) throw new NeurolensError('BAD_SPEC', '--shard and --queue do not go together: the queue hands shards to workers itself');
  const target = parseQueueUrl(o.queue);
  const { spec } = loaded;
  const queue = quietErrors(new Queue<JobData>(QUEUE_NAME, { connection: target.connection }));
  const flows = quietErrors(new FlowProducer({ connection: target.connection }));
  try {
    await ensureReachable(queue, o.queue);
    const prep = await prepareRun(loaded, o);
    const runKey = runKeyOf(spec.dataset.name, spec.model.name, prep.storeDir);
    const redis = (await queue.client) as unknown as Redis;

    const previous = await Job.fromId(queue, runJobId(runKey));
    const previousState = previous ? await previous.getState() : 'none';
    if (previous) {
      const state = previousState;
      if (IN_PROGRESS.has(state)) {
        const ctx = JSON.parse((await redis.get(RUN_KEY_PREFIX + runKey)) ?? 'null') as RunContext | null;
        return { run_key: runKey, run_id: ctx?.runId ?? (previous.data as { runId: string }).runId, store: prep.storeDir, attached: true, nothing_to_do: false, jobs: 0, checkpoints: [] };
      }
    }

    const shards = planShards(prep.size, spec.shard_size, spec.batch_size);
    const variants = [{ model: spec.model.name, zero: null as [number, number] | null }, ...ablationVariants(spec)];
    const runId = newRunId();
    const plan: SubmitResult['checkpoints'] = [];
    const ctxShards: Record<string, number[]> = {};
    const children: FlowJob[] = [];
    const ids: string[] = [];
    const retry = { attempts: o.attempts ?? 3, backoff: { type: 'exponential', delay: o.backoffMs ?? 2000 } };
    for (const ck of prep.checkpoints) {
      for (const v of variants) {
        // One listing of the (variant, step)'s commit directory, not a stat per shard.
        const committed = o.resume === false ? new Set<number>() : new Set(await committedShards(prep.storeDir, { dataset: spec.dataset.name, model: v.model, step: ck.step }));
        const pending = shards.map((s) => s.index).filter((i) => !committed.has(i));
        let finalized = true;
        for (const layer of prep.layers) {
          if (!(await exists(finalPartPath(prep.storeDir, 'neuron_stats', { dataset: spec.dataset.name, model: v.model, step: ck.step, layer }).abs))) finalized = false;
        }
        const finalize = pending.length > 0 || !finalized;
        plan.push({ model: v.model, step: ck.step, shards: shards.length, pending: pending.length, skipped: shards.length - pending.length, finalize });
        ctxShards[stepKey(v.model, ck.step)] = shards.map((s) => s.index);
        if (!finalize) continue;
        const fid = finalizeJobId(runKey, v.model, spec.model.name, ck.step);
        ids.push(fid);
        children.push({
          name: 'finalize',
          queueName: QUEUE_NAME,
          data: { kind: 'finalize', runKey, runId, model: v.model, step: ck.step } satisfies JobData,
          opts: { jobId: fid, ignoreDependencyOnFailure: true, ...retry },
          children: pending.map((shard) => {
            const id = shardJobId(runKey, v.model, spec.model.name, ck.step, shard);
            ids.push(id);
            return {
              name: 'shard',
              queueName: QUEUE_NAME,
              data: { kind: 'shard', runKey, runId, model: v.model, step: ck.step, shard } satisfies JobData,
              opts: { jobId: id, ignoreDependencyOnFailure: true, ...retry },
            };
          }),
        });
      }
    }
    // All committed and finalized: nothing to do, unless the last run job itself failed (its
    // embeddings or run record): then a run job alone is enqueued again.
    if (children.length === 0 && previousState !== 'failed') {
      return { run_key: runKey, run_id: runId, store: prep.storeDir, attached: false, nothing_to_do: true, jobs: 0, checkpoints: plan };
    }

    await mkdir(prep.storeDir, { recursive: true });
    await writeSamples(prep.storeDir, spec.dataset.name, prep.source, prep.size);
    const ctx: RunContext = {
      runKey,
      runId,
      specFile: loaded.file,
      spec,
      baseDir: loaded.baseDir,
      store: prep.storeDir,
      size: prep.size,
      layers: prep.layers,
      codes: prep.codes,
      retention: retentionByLayer(prep.retention),
      backend: o.backend ?? 'auto',
      maxErrorRate: o.maxErrorRate ?? spec.max_error_rate,
      checkpoints: prep.checkpoints.map((c) => ({ step: c.step, dir: c.dir, name: c.name })),
      variants,
      shards: ctxShards,
      submittedAt: Date.now(),
    };
    const record: RunRecord = {
      run_id: runId,
      status: 'running',
      started_at: new Date().toISOString(),
      // The queue URL without its password: run records are readable by every store reader.
      spec: { ...spec, file: loaded.file, options: { ...o, progress: undefined, queue: redactUrl(o.queue) } },
      versions: versions(),
      backend: prep.backend.name,
      timings: {},
      counts: { samples: prep.size, shards: ids.length - children.length },
      checkpoints: prep.checkpoints.map((c) => ({ step: c.step, dir: c.dir })),
    };
    await writeRun(prep.storeDir, record);

    // A finished flow of this run (completed, or with failed shards) holds the ids we are about
    // to add; BullMQ would ignore the new jobs, so its records go first.
    if (previous) await queue.remove(runJobId(runKey), { removeChildren: true });
    for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => queue.remove(id).catch(() => 0)));

    await redis.set(RUN_KEY_PREFIX + runKey, JSON.stringify(ctx));
    await redis.del(`${RUN_KEY_PREFIX}${runKey}:stats`);
    await redis.sadd(RUNS_SET, runKey);
    await flows.add({
      name: 'run',
      queueName: QUEUE_NAME,
      data: { kind: 'run', runKey, runId } satisfies JobData,
      opts: { jobId: runJobId(runKey) },
      children,
    });
    return { run_key: runKey, run_id: runId, store: prep.storeDir, attached: false, nothing_to_do: false, jobs: ids.length + 1, checkpoints: plan };
  } finally {
    await Promise.all([closeClient(flows), closeClient(queue)]);
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
