/**
 * Scale-out on BullMQ, measured in one run (`npx tsx bench/queue.ts [--n 6000] [--shard-size 100]`):
 * the known-answer fixture (test/fixtures/pipeline.ts, two checkpoints) run
 *   (a) in one process (`neurolens run --workers 1`),
 *   (b) through the queue on 1 worker process, then (c) on 2 worker processes (`--workers 1` each),
 * against a real redis-server started here. Workers are warmed up with a small run first (thread
 * start, tsx, tfjs in the infer threads), so (b) and (c) are steady state. Prints the wall times,
 * the speed-up 2 workers / 1 worker (a ratio measured in this run; on a 2-core machine shared with
 * other jobs it cannot approach 2 when each worker already uses decode + infer + sink threads), and the
 * queue overhead per shard job: (shard phase of (b) - the summed in-processor time of its shard
 * jobs) / shard jobs, where the shard phase runs from the first shard job's start to the last's
 * end (manifests' started_at / finished_at): BullMQ dispatch, lock, completion and flow
 * bookkeeping between jobs, with one worker so no two jobs overlap. Also (b - a) / jobs: the
 * whole cost against the in-process run (submit, finalize jobs, status polling included).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { cli } from '../test/helpers/cli.js';
import { makePipelineFixture } from '../test/fixtures/pipeline.js';
import { spawnWorker, startRedis, type WorkerProcess } from '../test/fixtures/redis.js';
import { setupBackend } from '../src/model/backend.js';
import { QUEUE_NAME, parseQueueUrl } from '../src/queue/connection.js';
import type { ShardManifest } from '../src/queue/jobs.js';

const { values: o } = parseArgs({ options: { n: { type: 'string', default: '6000' }, 'shard-size': { type: 'string', default: '100' } } });
const N = Number(o.n);
const SHARD = Number(o['shard-size']);

async function timed(label: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await cli(args);
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${label} failed: ${r.stderr}`);
  return s;
}

async function shardJobSeconds(url: string, since: number): Promise<{ jobs: number; busy: number; span: number }> {
  const q = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url).connection });
  try {
    const done = await q.getJobs(['completed'], 0, -1);
    const ms = done.map((j) => j.returnvalue as ShardManifest).filter((m) => m && typeof m.shard === 'number' && m.started_at >= since);
    const first = Math.min(...ms.map((m) => m.started_at));
    const last = Math.max(...ms.map((m) => m.finished_at));
    return { jobs: ms.length, busy: ms.reduce((s, m) => s + (m.finished_at - m.started_at) / 1000, 0), span: (last - first) / 1000 };
  } finally {
    await q.close();
  }
}

await setupBackend('wasm');
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-bench-queue-'));
const fx = await makePipelineFixture(dir, N, { shardSize: SHARD, batchSize: 50 });
const redis = await startRedis();
const workers: WorkerProcess[] = [];
try {
  const base = ['--backend', 'wasm', '--json'];
  const single = await timed('single process', ['run', fx.specFile, '--workers', '1', '--store', path.join(dir, 'single'), ...base]);

  const queued = async (n: number): Promise<{ wall: number; jobs: number; busy: number; span: number }> => {
    const url = `${redis.url}/${n}`;
    const ws = Array.from({ length: n }, () => spawnWorker(url, ['--workers', '1']));
    workers.push(...ws);
    await Promise.all(ws.map((w) => w.waitFor((e) => e.event === 'ready')));
    // Warm-up: every worker's processor thread and infer thread start and load both checkpoints.
    await timed('warm-up', ['run', fx.specFile, '--queue', url, '--store', path.join(dir, `warm-${n}`), '--limit', String(SHARD * 2 * n), ...base]);
    const since = Date.now();
    const wall = await timed(`queue x${n}`, ['run', fx.specFile, '--queue', url, '--store', path.join(dir, `queue-${n}`), ...base]);
    const { jobs, busy, span } = await shardJobSeconds(url, since);
    await Promise.all(ws.map((w) => w.stop()));
    return { wall, jobs, busy, span };
  };
  const one = await queued(1);
  const two = await queued(2);
  const f = (x: number) => x.toFixed(2);
  console.log(`fixture: ${N} samples x 2 checkpoints, shard_size ${SHARD} -> ${one.jobs} shard jobs; ${os.availableParallelism()} cores`);
  console.log(`single process (1 infer worker):       ${f(single)} s`);
  console.log(`queue, 1 worker process:               ${f(one.wall)} s wall; shard phase ${f(one.span)} s, of which in the processor ${f(one.busy)} s`);
  console.log(`queue, 2 worker processes:             ${f(two.wall)} s wall; shard phase ${f(two.span)} s`);
  console.log(`speed-up 2 workers / 1 worker:         ${f(one.wall / two.wall)}x wall, ${f(one.span / two.span)}x shard phase`);
  console.log(`queue overhead per shard job:          ${f((1000 * (one.span - one.busy)) / one.jobs)} ms (shard phase - in-processor time, 1 worker, jobs back to back)`);
  console.log(`queue vs in-process, per shard job:    ${f((1000 * (one.wall - single)) / one.jobs)} ms (wall incl. submit, finalize jobs, 1 s status polling)`);
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await redis.stop();
  await fs.rm(dir, { recursive: true, force: true });
}
