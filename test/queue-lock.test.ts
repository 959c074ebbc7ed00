/**
 * The lock and fencing guarantees of queued shard jobs, with a real redis-server:
 * - a shard job whose processor thread is busy for 5x the lock duration is neither stalled nor
 *   run twice (the sandboxed processor leaves the lock renewal on an idle main thread);
 * - an attempt that no longer holds its job's lock (an old attempt finishing late) cannot write
 *   or commit its shard, while the lock holder can;
 * - with AOF, a Redis killed with SIGKILL and restarted still has every job, and the run finishes.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type SandboxedJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { cli } from './helpers/cli.js';
import { makePipelineFixture, storeSnapshot, type PipelineFixture } from './fixtures/pipeline.js';
import { spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './fixtures/redis.js';
import { setupBackend } from '../src/model/backend.js';
import { isShardCommitted } from '../src/storage/index.js';
import { holdLock, lockKey } from '../src/queue/fence.js';
import { QUEUE_NAME, RUN_KEY_PREFIX, parseQueueUrl } from '../src/queue/connection.js';
import { runKeyOf, shardJobId, type JobData, type ShardManifest } from '../src/queue/jobs.js';

let fx: PipelineFixture;
let redis: RedisServer;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-queue-lock-'));
  fx = await makePipelineFixture(dir, 40, { shardSize: 20, batchSize: 10 });
  redis = await startRedis({ appendonly: true });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
});

describe('queue locks', () => {
  it('a job running 5x longer than the lock duration is not stalled nor duplicated', async () => {
    const url = `${redis.url}/1`;
    const slow = spawnWorker(url, ['--lock-duration', '2000', '--stalled-interval', '1000', '--workers', '1'], { NEUROLENS_QUEUE_TEST_HOOKS: JSON.stringify({ busyMs: 10_000 }) });
    workers.push(slow);
    await slow.waitFor((e) => e.event === 'ready');
    const store = path.join(fx.dir, 'slow');
    const sub = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--detach', '--json']);
    expect(sub.status, sub.stderr).toBe(0);
    const held = await slow.waitFor((e) => e.event === 'active' && e.kind === 'shard');
    // A second worker that would pick the job up the moment it stalled.
    const fast = spawnWorker(url, ['--lock-duration', '2000', '--stalled-interval', '1000', '--workers', '1']);
    workers.push(fast);
    const done = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--json']);
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ attached: true, status: { state: 'completed', result: { status: 'succeeded' } } });
    // The event line may trail the job's completion in Redis by a moment.
    await slow.waitFor((e) => e.job === held.job && e.event !== 'active', 30_000).catch(() => undefined);
    const trace = JSON.stringify({ slow: slow.events, fast: fast.events });
    expect(slow.events.filter((e) => e.job === held.job).map((e) => e.event), trace).toEqual(['active', 'completed']);
    expect(fast.events.filter((e) => e.job === held.job)).toEqual([]);
    expect([...slow.events, ...fast.events].filter((e) => e.event === 'stalled' || e.event === 'failed' || e.event === 'error'), trace).toEqual([]);
    await Promise.all([slow.stop(), fast.stop()]);
  });

  it('an attempt without the lock cannot commit its shard; the lock holder can', async () => {
    const url = `${redis.url}/2`;
    const store = path.join(fx.dir, 'fenced');
    const sub = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--detach', '--json']);
    expect(sub.status, sub.stderr).toBe(0);
    const queue = new Queue(QUEUE_NAME, { connection: parseQueueUrl(url).connection });
    const client = (await queue.client) as unknown as Redis;
    process.env.NEUROLENS_QUEUE_URL = url;
    process.env.NEUROLENS_QUEUE_LOCK_MS = '5000';
    const { default: processor, disposeProcessorState } = await import('../src/queue/processor.js');
    try {
      const runKey = runKeyOf('edges', 'edge-net', store);
      expect(await client.get(RUN_KEY_PREFIX + runKey)).toBeTruthy();
      const id = shardJobId(runKey, 'edge-net', 'edge-net', 0, 1);
      const job = { id, data: { kind: 'shard', runKey, runId: JSON.parse(sub.stdout).run_id, model: 'edge-net', step: 0, shard: 1 }, attemptsMade: 0 } as unknown as SandboxedJob<JobData>;
      const key = { dataset: 'edges', model: 'edge-net', step: 0, shard: 1 };

      // The fence itself: only the token in the lock key holds it, and holding extends it.
      await client.set(lockKey(id), 'attempt-B', 'PX', 200);
      expect(await holdLock(client, id, 'attempt-A', 5000)).toBe(false);
      expect(await holdLock(client, id, 'attempt-B', 5000)).toBe(true);
      expect(await client.pttl(lockKey(id))).toBeGreaterThan(1000);

      // Attempt A lost the lock to B (A stalled, B took the job): A's shard never becomes visible.
      await expect(processor(job, 'attempt-A')).rejects.toThrow(/lost its lock/);
      expect(await isShardCommitted(store, key)).toBe(false);

      // B holds it: B commits, and returns a small manifest of what it wrote.
      const m = (await processor(job, 'attempt-B')) as ShardManifest;
      expect(await isShardCommitted(store, key)).toBe(true);
      expect(m).toMatchObject({ shard: 1, step: 0, samples: 20, errors: 0 });
      expect(m.files.length).toBeGreaterThan(0);
      expect(m.rows).toBeGreaterThan(0);
      expect(JSON.stringify(m).length).toBeLessThan(8192);
    } finally {
      await disposeProcessorState();
      await queue.close();
      delete process.env.NEUROLENS_QUEUE_URL;
    }
  });

  it('Redis killed and restarted with AOF loses no job; the run then completes like a single-process run', async () => {
    const url = `${redis.url}/4`;
    const store = path.join(fx.dir, 'aof');
    const sub = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--detach', '--json']);
    expect(sub.status, sub.stderr).toBe(0);
    const before = JSON.parse((await cli(['queue', 'status', url, '--json'])).stdout).runs[0].totals;
    expect(before).toMatchObject({ jobs: 4, waiting: 4 });
    await redis.restart({ hard: true });
    const after = JSON.parse((await cli(['queue', 'status', url, '--json'])).stdout).runs[0].totals;
    expect(after).toEqual(before);

    const w = spawnWorker(url, ['--workers', '1']);
    workers.push(w);
    const done = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--json']);
    expect(done.status, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ attached: true, status: { state: 'completed' } });
    await w.stop();
    const ref = await cli(['run', fx.specFile, '--workers', '1', '--backend', 'wasm', '--store', path.join(fx.dir, 'reference'), '--json']);
    expect(ref.status, ref.stderr).toBe(0);
    expect(await storeSnapshot(store)).toEqual(await storeSnapshot(path.join(fx.dir, 'reference')));
  });
});
