/**
 * `neurolens queue status URL`: for every run in the queue, per checkpoint the shard jobs
 * waiting / active / completed / failed (exact, from each finalize job's dependencies), the
 * throughput and ETA (from the processors' counters), and which worker holds which job.
 */
import { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeClient, ensureReachable, parseQueueUrl, quietErrors, QUEUE_NAME, RUN_KEY_PREFIX, RUNS_SET } from './connection.js';
import { finalizeJobId, runJobId, type JobData, type RunContext } from './jobs.js';

export interface CheckpointStatus {
  model: string;
  step: number;
  /** Shard jobs of this submission (committed shards skipped at submit are not jobs). */
  jobs: number;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  /** State of the checkpoint's finalize job ('none' when nothing was enqueued for it). */
  finalize: string;
}

export interface RunQueueStatus {
  run_key: string;
  run_id: string;
  store: string;
  spec: string;
  /** State of the run's top job: waiting-children while shards run, then active, completed or failed. */
  state: string;
  submitted_at: string;
  checkpoints: CheckpointStatus[];
  totals: { jobs: number; waiting: number; active: number; completed: number; failed: number };
  samples_per_s: number | null;
  shards_per_s: number | null;
  eta_s: number | null;
  holders: { worker: string; job: string; kind: string; step?: number; shard?: number; since: string }[];
  failures: { job: string; reason: string }[];
  /** The run job's manifest once it completed. */
  result?: unknown;
}

export interface QueueStatus {
  queue: string;
  workers: { name: string; addr?: string }[];
  runs: RunQueueStatus[];
}

/** Status of every run (or of `runKey`). */
export async function queueStatus(url: string, runKey?: string): Promise<QueueStatus> {
  const target = parseQueueUrl(url);
  const queue = quietErrors(new Queue<JobData>(QUEUE_NAME, { connection: target.connection }));
  try {
    await ensureReachable(queue, url);
    const redis = (await queue.client) as unknown as Redis;
    const keys = runKey ? [runKey] : (await redis.smembers(RUNS_SET)).sort();
    const active = await queue.getActive();
    // One entry per named worker (a worker holds several connections; BullMQ names them <queue>:w:<name>).
    const named = new Map<string, { name: string; addr?: string }>();
    for (const c of await queue.getWorkers().catch(() => [] as Record<string, string>[])) {
      const raw = String(c.rawname ?? '');
      const i = raw.indexOf(':w:');
      const name = i >= 0 ? raw.slice(i + 3) : raw;
      if (name && !named.has(name)) named.set(name, { name, addr: c.addr });
    }
    const workers = [...named.values()];
    const runs: RunQueueStatus[] = [];
    for (const key of keys) {
      const text = await redis.get(RUN_KEY_PREFIX + key);
      if (!text) continue;
      runs.push(await runStatus(queue, redis, JSON.parse(text) as RunContext, active));
    }
    return { queue: url, workers, runs };
  } finally {
    await closeClient(queue);
  }
}

async function runStatus(queue: Queue<JobData>, redis: Redis, ctx: RunContext, active: Job<JobData>[]): Promise<RunQueueStatus> {
  const mine = active.filter((j) => j.data?.runKey === ctx.runKey);
  const checkpoints: CheckpointStatus[] = [];
  const failures: RunQueueStatus['failures'] = [];
  for (const ck of ctx.checkpoints) {
    for (const v of ctx.variants) {
      const fin = await Job.fromId(queue, finalizeJobId(ctx.runKey, v.model, ctx.spec.model.name, ck.step));
      if (!fin) {
        checkpoints.push({ model: v.model, step: ck.step, jobs: 0, waiting: 0, active: 0, completed: 0, failed: 0, finalize: 'none' });
        continue;
      }
      const c = await fin.getDependenciesCount();
      const failed = (c.failed ?? 0) + (c.ignored ?? 0);
      for (const [k, reason] of Object.entries(await fin.getIgnoredChildrenFailures())) failures.push({ job: k.split(':').at(-1)!, reason });
      const act = mine.filter((j) => j.data.kind === 'shard' && j.data.step === ck.step && j.data.model === v.model).length;
      const unprocessed = c.unprocessed ?? 0;
      checkpoints.push({
        model: v.model,
        step: ck.step,
        jobs: unprocessed + (c.processed ?? 0) + failed,
        waiting: Math.max(0, unprocessed - act),
        active: act,
        completed: c.processed ?? 0,
        failed,
        finalize: await fin.getState(),
      });
    }
  }
  const totals = { jobs: 0, waiting: 0, active: 0, completed: 0, failed: 0 };
  for (const c of checkpoints) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += c[k];
  const stats = await redis.hgetall(`${RUN_KEY_PREFIX}${ctx.runKey}:stats`);
  const first = Number(stats.first_start ?? NaN);
  const last = Number(stats.last_finish ?? NaN);
  const span = (last - first) / 1000;
  const shardsPerS = span > 0 ? Number(stats.shards) / span : null;
  const samplesPerS = span > 0 ? Number(stats.samples) / span : null;
  const remaining = totals.waiting + totals.active;
  const runJob = await Job.fromId(queue, runJobId(ctx.runKey));
  const state = runJob ? await runJob.getState() : 'removed';
  return {
    run_key: ctx.runKey,
    run_id: ctx.runId,
    store: ctx.store,
    spec: ctx.specFile,
    state,
    submitted_at: new Date(ctx.submittedAt).toISOString(),
    checkpoints,
    totals,
    samples_per_s: samplesPerS === null ? null : round(samplesPerS),
    shards_per_s: shardsPerS === null ? null : round(shardsPerS),
    eta_s: remaining === 0 ? 0 : shardsPerS ? round(remaining / shardsPerS) : null,
    holders: mine.map((j) => ({
      worker: j.processedBy ?? '?',
      job: String(j.id),
      kind: j.data.kind,
      ...('step' in j.data ? { step: j.data.step } : {}),
      ...('shard' in j.data ? { shard: j.data.shard } : {}),
      since: new Date(j.processedOn ?? Date.now()).toISOString(),
    })),
    failures,
    ...(state === 'completed' ? { result: runJob?.returnvalue } : state === 'failed' ? { result: { error: runJob?.failedReason } } : {}),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Human-readable lines of a status. */
export function formatQueueStatus(s: QueueStatus): string {
  const lines = [`queue ${s.queue}: ${s.workers.length} worker(s)${s.workers.length ? ' (' + s.workers.map((w) => w.name).join(', ') + ')' : ''}`];
  if (s.runs.length === 0) lines.push('  no runs');
  for (const r of s.runs) lines.push(...formatRunStatus(r).map((l) => '  ' + l));
  return lines.join('\n');
}

export function formatRunStatus(r: RunQueueStatus): string[] {
  const eta = r.eta_s === null ? '?' : `${Math.round(r.eta_s)}s`;
  const lines = [
    `run ${r.run_id} (${r.run_key}) ${r.state}: ${r.totals.completed}/${r.totals.jobs} shard jobs done, ${r.totals.active} active, ${r.totals.waiting} waiting, ${r.totals.failed} failed; ` +
      `${r.samples_per_s ?? '?'} samples/s, ETA ${eta}; store ${r.store}`,
  ];
  for (const c of r.checkpoints) {
    lines.push(`  ${c.model} step ${c.step}: ${c.completed}/${c.jobs} completed, ${c.active} active, ${c.waiting} waiting, ${c.failed} failed; finalize ${c.finalize}`);
  }
  for (const h of r.holders) lines.push(`  ${h.worker} holds ${h.job} since ${h.since}`);
  for (const f of r.failures) lines.push(`  failed ${f.job}: ${f.reason}`);
  return lines;
}

/**
 * Polls a run's status until its top job is completed or failed; `onUpdate` sees every poll.
 * Resolves with the last status.
 */
export async function watchRun(url: string, runKey: string, onUpdate: (r: RunQueueStatus) => void, intervalMs = 1000): Promise<RunQueueStatus> {
  for (;;) {
    const s = await queueStatus(url, runKey);
    const r = s.runs[0];
    if (!r) throw new Error(`run ${runKey} is not in the queue`);
    onUpdate(r);
    if (r.state === 'completed' || r.state === 'failed' || r.state === 'removed') return r;
    await new Promise((res) => setTimeout(res, intervalMs));
  }
}
