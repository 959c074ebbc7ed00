/**
 * Scale-out on BullMQ, end to end with real processes: a real redis-server, three real
 * `neurolens worker` processes, the known-answer fixture run as a queued flow (many small
 * shards, two checkpoints), one worker SIGKILLed in the middle of a shard. The killed shard's
 * job stalls and another worker re-runs it, and the store equals a single-process run table by
 * table. Then: re-submitting adds nothing; a shard that fails for bad data is retried, recorded
 * as failed, and does not block the other checkpoint.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makePipelineFixture, storeSnapshot, type PipelineFixture } from './fixtures/pipeline.js';
import { spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './fixtures/redis.js';
import { setupBackend } from '../src/model/backend.js';
import { badFiles, pattern, pngBytes, put } from './fixtures/images.js';
import { committedShards, isShardCommitted, shardPartPath } from '../src/storage/index.js';

const N = 600; // 30 shards of 20 per checkpoint, 60 shard jobs
let fx: PipelineFixture;
let redis: RedisServer;
const workers: WorkerProcess[] = [];
// Short locks so a killed worker's job is handed out again within seconds.
const LOCK = ['--lock-duration', '3000', '--stalled-interval', '1000', '--workers', '1'];

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-queue-'));
  // With an embed section: the run job computes the PCA layouts after the last checkpoint.
  fx = await makePipelineFixture(dir, N, { shardSize: 20, batchSize: 10, extra: 'embed: [{ layer: gap, method: pca, steps: all }]' });
  redis = await startRedis();
  const r = await cli(['run', fx.specFile, '--workers', '1', '--backend', 'wasm', '--store', path.join(dir, 'reference'), '--json']);
  expect(r.status, r.stderr).toBe(0);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
});

describe('queued run on three worker processes', () => {
  it('SIGKILL of a worker mid-shard (parts written, not committed): the job is re-run elsewhere and the store equals a single-process run', async () => {
    const store = path.join(fx.dir, 'queued');
    // The victim stops for a while between writing a shard's parts and committing it: it is
    // killed in that window, the worst moment (parts on disk, no commit).
    const victim = spawnWorker(redis.url, LOCK, { NEUROLENS_QUEUE_TEST_HOOKS: JSON.stringify({ busyBeforeCommitMs: 4000 }) });
    const others = [spawnWorker(redis.url, LOCK), spawnWorker(redis.url, LOCK)];
    workers.push(victim, ...others);
    await Promise.all([victim, ...others].map((w) => w.waitFor((e) => e.event === 'ready')));

    const submit = cli(['run', fx.specFile, '--queue', redis.url, '--backend', 'wasm', '--store', store, '--json']);
    const held = await victim.waitFor((e) => e.event === 'active' && e.kind === 'shard');
    const key = { dataset: 'edges', model: 'edge-net', step: held.step!, shard: held.shard! };
    const part = shardPartPath(store, 'activations', { dataset: 'edges', model: 'edge-net', step: held.step!, layer: 'conv1' }, held.shard!).abs;
    for (let i = 0; i < 6000 && !(await fs.stat(part).then(() => true, () => false)); i++) await new Promise((res) => setTimeout(res, 20));
    expect(await isShardCommitted(store, key)).toBe(false);
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    expect(await isShardCommitted(store, key)).toBe(false);

    const r = await submit;
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.status.state).toBe('completed');
    expect(out.status.result.status).toBe('succeeded');
    expect(out.status.totals).toMatchObject({ jobs: 60, completed: 60, failed: 0 });
    // The job the victim held was completed by another worker (whose event line may trail a moment).
    await Promise.any(others.map((w) => w.waitFor((e) => e.event === 'completed' && e.job === held.job, 30_000))).catch(() => undefined);
    const rerun = others.flatMap((w) => w.events).filter((e) => e.event === 'completed' && e.job === held.job);
    expect(rerun.length).toBe(1);
    expect(victim.events.some((e) => e.event === 'completed' && e.job === held.job)).toBe(false);
    // Progress went to stderr as NDJSON, per checkpoint.
    expect(r.stderr).toContain('"event":"progress"');

    const snap = await storeSnapshot(store);
    expect(snap.embeddings.length).toBe(2 * N);
    expect(snap).toEqual(await storeSnapshot(path.join(fx.dir, 'reference')));

    // Re-submitting the finished run adds no work: every shard is committed and finalized.
    const again = await cli(['run', fx.specFile, '--queue', redis.url, '--backend', 'wasm', '--store', store, '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ nothing_to_do: true, jobs: 0 });

    // queue status knows the run and its per-checkpoint counts.
    const st = await cli(['queue', 'status', redis.url, '--json']);
    expect(st.status, st.stderr).toBe(0);
    const run = JSON.parse(st.stdout).runs.find((x: { store: string }) => x.store === store);
    expect(run.checkpoints.map((c: { step: number; completed: number }) => [c.step, c.completed])).toEqual([
      [0, 30],
      [100, 30],
    ]);
    expect(run.samples_per_s).toBeGreaterThan(0);
  });

  it('a second submission while the flow is pending attaches to it instead of adding jobs', async () => {
    // No worker takes jobs from this database (redis db 3): the flow stays pending.
    const url = `${redis.url}/3`;
    const store = path.join(fx.dir, 'pending');
    const a = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--limit', '100', '--detach', '--json']);
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ attached: false, jobs: 2 * 5 + 2 + 1 });
    const b = await cli(['run', fx.specFile, '--queue', url, '--backend', 'wasm', '--store', store, '--limit', '100', '--detach', '--json']);
    expect(b.status, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ attached: true, jobs: 0 });
    const st = JSON.parse((await cli(['queue', 'status', url, '--json'])).stdout);
    expect(st.runs).toHaveLength(1);
    expect(st.runs[0].totals).toMatchObject({ jobs: 10, waiting: 10, active: 0, completed: 0 });
  });

  it('a shard with bad data is retried with backoff, then recorded as failed without blocking the other checkpoint', async () => {
    for (const w of workers) await w.stop();
    const bad = spawnWorker(redis.url, LOCK, { NEUROLENS_QUEUE_TEST_HOOKS: JSON.stringify({ failShards: [2], failSteps: [0] }) });
    workers.push(bad);
    const store = path.join(fx.dir, 'bad');
    const r = await cli(['run', fx.specFile, '--queue', redis.url, '--backend', 'wasm', '--store', store, '--limit', '100', '--attempts', '2', '--json']);
    expect(r.status).toBe(7);
    const out = JSON.parse(r.stdout);
    const [s0, s100] = out.status.checkpoints;
    expect(s0).toMatchObject({ step: 0, jobs: 5, completed: 4, failed: 1, finalize: 'completed' });
    expect(s100).toMatchObject({ step: 100, jobs: 5, completed: 5, failed: 0, finalize: 'completed' });
    expect(out.status.failures[0].reason).toContain('injected bad-data failure');
    expect(out.status.result.status).toBe('failed');
    // Two attempts of the bad shard, then no more.
    await bad.waitFor((e) => e.event === 'failed' && e.shard === 2 && e.attempts === 2, 30_000).catch(() => undefined);
    expect(bad.events.filter((e) => e.event === 'failed' && e.kind === 'shard' && e.shard === 2).map((e) => e.attempts)).toEqual([1, 2]);
    const fin0 = out.status.result.checkpoints.find((c: { step: number }) => c.step === 0);
    expect(fin0.failed).toEqual([2]);
    expect(fin0.layers[0].shards).toBe(4);
  });

  it('real bad data: a shard over max_error_rate fails its attempts, the rest of the checkpoint is committed and finalized', async () => {
    for (const w of workers) await w.stop();
    const w = spawnWorker(redis.url, LOCK);
    workers.push(w);
    // 30 good PNGs and 3 broken files; in sorted path order a/empty.png is in shard 0 (1 of 8
    // fails) and a/text.jpg, a/truncated.png in shard 2 (2 of 8): both over 10%.
    const root = path.join(fx.dir, 'folder');
    for (let i = 0; i < 30; i++) await put(path.join(root, i % 2 ? 'b' : 'a', `img${String(i).padStart(2, '0')}.png`), pngBytes(pattern(12, 10, 3)));
    await badFiles(path.join(root, 'a'));
    const spec = path.join(fx.dir, 'folder.yaml');
    await fs.writeFile(
      spec,
      `name: folder
store: store-folder
dataset: { name: pics, source: { kind: folder, root: folder } }
model: { name: edge-net, checkpoints: ckpts/ckpt-000000, input: { height: 8, width: 8, channels: 1 } }
layers: [conv1]
shard_size: 8
batch_size: 4
max_error_rate: 0.1
`,
    );
    const r = await cli(['run', spec, '--queue', redis.url, '--backend', 'wasm', '--attempts', '2', '--json']);
    expect(r.status).toBe(7);
    const out = JSON.parse(r.stdout);
    expect(out.status.checkpoints[0]).toMatchObject({ step: 0, jobs: 5, completed: 3, failed: 2, finalize: 'completed' });
    expect(out.status.failures.map((f: { job: string }) => f.job.split('|').at(-1)).sort()).toEqual(['0', '2']);
    for (const f of out.status.failures) expect(f.reason).toMatch(/max-error-rate/);
    await w.waitFor((e) => e.event === 'failed' && e.attempts === 2 && w.events.filter((x) => x.event === 'failed').length >= 4, 30_000).catch(() => undefined);
    const failed = w.events.filter((e) => e.event === 'failed' && e.kind === 'shard').map((e) => `${e.shard}:${e.attempts}`);
    expect(failed.sort()).toEqual(['0:1', '0:2', '2:1', '2:2']);
    // As in a single-machine run, what a shard committed before its budget check stays committed;
    // every other shard is committed and the checkpoint is finalized over all of them.
    expect(await committedShards(path.join(fx.dir, 'store-folder'), { dataset: 'pics', model: 'edge-net', step: 0 })).toEqual([0, 1, 2, 3, 4]);
    expect(out.status.result.checkpoints[0].failed).toEqual([0, 2]);
    expect(out.status.result.checkpoints[0].layers[0].shards).toBe(5);
  });
});
