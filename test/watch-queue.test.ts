/**
 * `neurolens watch --queue URL`: each new checkpoint goes to BullMQ workers (a real redis-server
 * and a real `neurolens worker` process started here) instead of running in the watch, and the
 * store ends equal to a one-shot local `run` of the same checkpoints.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { fashionSpec } from './fixtures/fmnist-spec.js';
import { spawnWorker, startRedis, type RedisServer, type WorkerProcess } from './fixtures/redis.js';
import { storeSnapshot } from './fixtures/pipeline.js';

let root: string;
let redis: RedisServer;
let worker: WorkerProcess;

function spec(store: string): string {
  return fashionSpec({ name: 'watch-queue', checkpoints: 'ckpts/ckpt-*', store });
}


beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-watchq-'));
  redis = await startRedis();
  worker = spawnWorker(redis.url, ['--workers', '1']);
  const t = await cli(['train-demo', '--out', path.join(root, 'ckpts'), '--limit', '128', '--test-limit', '128', '--epochs', '1', '--batch-size', '32', '--checkpoint-every', '2', '--json']);
  expect(t.status, t.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await redis?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe('watch --queue', () => {
  it('sends each checkpoint to the BullMQ workers; the store equals a one-shot local run', async () => {
    await fs.writeFile(path.join(root, 'q.yaml'), spec('store-q'));
    await fs.writeFile(path.join(root, 'l.yaml'), spec('store-l'));
    const w = await cli(['watch', path.join(root, 'q.yaml'), '--once', '--queue', redis.url, '--limit', '192', '--json']);
    expect(w.status, w.stderr).toBe(0);
    const events = w.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = events.filter((e) => e.event === 'checkpoint');
    expect(done.map((e) => e.step)).toEqual([0, 2, 4]);
    for (const e of done) expect(e).toMatchObject({ samples: 192, errors: 0 });
    expect(events.filter((e) => e.event === 'error')).toEqual([]);
    const l = await cli(['run', path.join(root, 'l.yaml'), '--limit', '192', '--workers', '1', '--json']);
    expect(l.status, l.stderr).toBe(0);
    const [a, b] = [await storeSnapshot(path.join(root, 'store-q')), await storeSnapshot(path.join(root, 'store-l'))];
    // Real content, so that the equality below cannot pass on two empty stores: neuron_stats has a
    // row per (step, layer, channel) and activations one per sample of each of them.
    expect(a.neuron_stats.length).toBeGreaterThan(0);
    expect(a.activations.length).toBe(192 * a.neuron_stats.length);
    expect(a).toEqual(b);
  });
});
