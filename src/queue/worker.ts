/**
 * `neurolens worker`: a BullMQ Worker on the `neurolens` queue whose processor is sandboxed in
 * worker threads (processor.ts). `concurrency` jobs run at once, each in its own processor
 * thread with `inferWorkers` infer threads. The main thread only talks to Redis: it renews the
 * locks of the running jobs every lockDuration/2, whatever the processors do, so a long shard
 * is never mistaken for a dead one; a killed process stops renewing, its jobs stall after
 * lockDuration and another worker's stalled-job check hands them out again.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { tsxExecArgv } from '../workers/pool.js';
import { parseQueueUrl, QUEUE_NAME } from './connection.js';
import type { JobData } from './jobs.js';

export interface QueueWorkerOptions {
  queue: string;
  /** Jobs processed at once (processor threads). Default 1. */
  concurrency?: number;
  /** Infer worker threads per running job. Default: cores / concurrency. */
  inferWorkers?: number;
  /** BullMQ lock duration in ms (default 30 s); a dead worker's job is re-run after about this long. */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs, ms (default: lockDuration). */
  stalledInterval?: number;
  /** Times a job may stall before it is failed (default 2). */
  maxStalledCount?: number;
  name?: string;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { event: 'ready'; worker: string; concurrency: number; infer_workers: number }
  | { event: 'active' | 'completed'; worker: string; job: string; kind: string; step?: number; shard?: number }
  | { event: 'failed'; worker: string; job: string; kind: string; step?: number; shard?: number; attempts: number; reason: string }
  | { event: 'stalled'; worker: string; job: string }
  | { event: 'error'; worker: string; reason: string };

export const PROCESSOR_FILE = fileURLToPath(new URL('./processor-entry.mjs', import.meta.url));

export async function startQueueWorker(o: QueueWorkerOptions): Promise<Worker<JobData>> {
  const target = parseQueueUrl(o.queue);
  const concurrency = Math.max(1, o.concurrency ?? 1);
  const inferWorkers = Math.max(1, o.inferWorkers ?? Math.floor(os.availableParallelism() / concurrency));
  const lockDuration = o.lockDuration ?? 30_000;
  const name = o.name ?? `${os.hostname()}:${process.pid}`;
  const emit = o.onEvent ?? (() => undefined);
  const worker = new Worker<JobData>(QUEUE_NAME, PROCESSOR_FILE, {
    connection: target.connection,
    concurrency,
    name,
    lockDuration,
    stalledInterval: o.stalledInterval ?? lockDuration,
    maxStalledCount: o.maxStalledCount ?? 2,
    useWorkerThreads: true,
    workerThreadsOptions: {
      // The processor is TypeScript: its thread imports through tsx (as the pools' threads do).
      execArgv: tsxExecArgv(),
      env: {
        ...process.env,
        NEUROLENS_QUEUE_URL: o.queue,
        NEUROLENS_QUEUE_INFER_WORKERS: String(inferWorkers),
        NEUROLENS_QUEUE_LOCK_MS: String(lockDuration),
        NEUROLENS_WORKER_NAME: name,
      },
    },
  });
  const info = (job: Job<JobData> | undefined) => ({
    job: String(job?.id ?? '?'),
    kind: job?.data?.kind ?? '?',
    ...(job?.data && 'step' in job.data ? { step: job.data.step } : {}),
    ...(job?.data && 'shard' in job.data ? { shard: job.data.shard } : {}),
  });
  worker.on('active', (job) => emit({ event: 'active', worker: name, ...info(job) }));
  worker.on('completed', (job) => emit({ event: 'completed', worker: name, ...info(job) }));
  worker.on('failed', (job, err) => emit({ event: 'failed', worker: name, ...info(job), attempts: job?.attemptsMade ?? 0, reason: err.message }));
  worker.on('stalled', (jobId) => emit({ event: 'stalled', worker: name, job: jobId }));
  worker.on('error', (err) => emit({ event: 'error', worker: name, reason: err.message }));
  await worker.waitUntilReady();
  emit({ event: 'ready', worker: name, concurrency, infer_workers: inferWorkers });
  return worker;
}
