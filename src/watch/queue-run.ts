/**
 * One checkpoint of a watch through BullMQ (`neurolens watch --queue URL`): the same flow as
 * `run --queue` (src/queue/submit.ts: a job per shard, finalize and the spec's embeddings as
 * parent jobs), awaited until the run job ends, so watch runs still never overlap. Shard jobs that
 * failed for good make it a TOO_MANY_ERRORS error, as a local run over the error budget is.
 */
import { NeurolensError } from '../errors.js';
import type { RunOptions } from '../pipeline/runner.js';
import type { LoadedSpec } from '../pipeline/spec.js';
import { submitRun } from '../queue/submit.js';
import { watchRun } from '../queue/status.js';
import { readRun } from '../storage/index.js';

/** What a watch reports of one checkpoint's run, local (a RunSummary has these fields) or queued. */
export interface RunOutcome {
  run_id: string;
  samples: number;
  errors: number;
  seconds: number;
  checkpoints: { shards: number; skipped: number }[];
  embeddings: unknown[];
}

export async function runOnQueue(loaded: LoadedSpec, queue: string, o: RunOptions): Promise<RunOutcome> {
  const t0 = performance.now();
  const sub = await submitRun(loaded, { ...o, queue });
  const final = sub.nothing_to_do ? null : await watchRun(queue, sub.run_key, () => {});
  if (final && (final.state === 'failed' || final.failures.length > 0)) {
    const f = final.failures[0];
    throw new NeurolensError('TOO_MANY_ERRORS', `run ${sub.run_id} on ${queue}: ${final.failures.length} job(s) failed for good${f ? ` (${f.job}: ${f.reason})` : ''}; committed shards are kept`);
  }
  // The run record (written by the submitter, completed by the run job) holds the sample count.
  const record = await readRun(sub.store, sub.run_id).catch(() => null);
  const counts = (record?.counts ?? {}) as { samples?: number; errors?: number };
  return {
    run_id: sub.run_id,
    samples: counts.samples ?? 0,
    errors: counts.errors ?? 0,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
    checkpoints: sub.checkpoints.map((c) => ({ shards: c.pending, skipped: c.skipped })),
    embeddings: [],
  };
}
