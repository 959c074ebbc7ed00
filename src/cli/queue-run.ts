/**
 * `neurolens run SPEC --queue URL [--detach] [--json]`: submits the run as a BullMQ flow
 * (src/queue/submit.ts), then waits for it, printing per-checkpoint completed / failed shards,
 * unless --detach. Exit code: 0 when the run succeeded (or was enqueued with --detach),
 * TOO_MANY_ERRORS (7) when shard jobs failed for good.
 */
import { NeurolensError } from '../errors.js';
import type { BackendChoice } from '../model/backend.js';
import type { LoadedSpec } from '../pipeline/spec.js';
import { submitRun } from '../queue/submit.js';
import { formatRunStatus, watchRun, type RunQueueStatus } from '../queue/status.js';

export interface QueuedRunOptions {
  queue: string;
  detach?: boolean;
  json?: boolean;
  attempts?: number;
  checkpoints?: string;
  limit?: number;
  backend: BackendChoice;
  store?: string;
  resume: boolean;
  shard?: { index: number; count: number };
  maxErrorRate?: number;
}

export async function runQueued(loaded: LoadedSpec, o: QueuedRunOptions): Promise<void> {
  const sub = await submitRun(loaded, {
    queue: o.queue,
    attempts: o.attempts,
    checkpoints: o.checkpoints,
    limit: o.limit,
    backend: o.backend,
    store: o.store,
    resume: o.resume,
    shard: o.shard,
    maxErrorRate: o.maxErrorRate,
  });
  const say = (line: string) => process.stderr.write(line + '\n');
  if (o.json) process.stderr.write(JSON.stringify({ event: 'submitted', ...sub }) + '\n');
  else if (sub.nothing_to_do) say(`nothing to do: every shard is committed and every checkpoint finalized in ${sub.store}`);
  else if (sub.attached) say(`run ${sub.run_id} (${sub.run_key}) is already in the queue: attached, nothing added`);
  else {
    say(`run ${sub.run_id} enqueued on ${o.queue} as ${sub.jobs} job(s) (${sub.run_key}); store ${sub.store}`);
    for (const c of sub.checkpoints) say(`  ${c.model} step ${c.step}: ${c.pending} shard job(s), ${c.skipped} already committed${c.finalize ? '' : ', finalized'}`);
  }
  if (o.detach || sub.nothing_to_do) {
    if (o.json) process.stdout.write(JSON.stringify({ ...sub, detached: !!o.detach }) + '\n');
    return;
  }
  let lastLine = '';
  let lastStates = '';
  let lastAt = 0;
  const final: RunQueueStatus = await watchRun(o.queue, sub.run_key, (r) => {
    if (o.json) {
      process.stderr.write(JSON.stringify({ event: 'progress', state: r.state, totals: r.totals, checkpoints: r.checkpoints.map((c) => ({ model: c.model, step: c.step, completed: c.completed, failed: c.failed, jobs: c.jobs })), eta_s: r.eta_s }) + '\n');
      return;
    }
    // A block when a checkpoint's finalize or the run changes state, else at most every 5 s.
    const states = [r.state, ...r.checkpoints.map((c) => c.finalize)].join(',');
    const line = formatRunStatus(r).filter((l) => !l.includes(' holds ')).join('\n');
    if (line !== lastLine && (states !== lastStates || Date.now() - lastAt >= 5000)) {
      say(line);
      lastLine = line;
      lastStates = states;
      lastAt = Date.now();
    }
  });
  if (o.json) process.stdout.write(JSON.stringify({ ...sub, status: final }) + '\n');
  const result = final.result as { status?: string } | undefined;
  if (final.state !== 'completed' || result?.status !== 'succeeded') {
    throw new NeurolensError('TOO_MANY_ERRORS', `run ${sub.run_id} ended ${final.state === 'completed' ? 'with failed shard jobs' : final.state}: ${final.totals.failed} failed (see \`neurolens queue status ${o.queue}\`)`);
  }
}
