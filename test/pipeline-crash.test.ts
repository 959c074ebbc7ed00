/**
 * Crash and resume: a real `neurolens run` child process is killed with SIGKILL in the middle of
 * a run, then resumed. Readers never see a partial shard, and the resumed store answers every
 * query exactly like an uninterrupted run. Static sharding (--shard i/N + finalize) too.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { cli, NEUROLENS_BIN as BIN } from './helpers/cli.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, storeSnapshot, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { Store } from '../src/storage/index.js';

const N = 3000;
let fx: PipelineFixture;


async function countCommits(store: string): Promise<number> {
  const files = await fs.readdir(path.join(store, '_commits'), { recursive: true }).catch(() => [] as string[]);
  return files.filter((f) => String(f).endsWith('.json')).length;
}

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-crash-'));
  fx = await makePipelineFixture(dir, N, { shardSize: 100, batchSize: 50 });
  const r = await cli(['run', fx.specFile, '--workers', '1', '--store', path.join(dir, 'reference'), '--json']);
  expect(r.status, r.stderr).toBe(0);
});

describe('crash and resume', () => {
  it('SIGKILL mid-run, then --resume, equals an uninterrupted run; no partial shard is ever visible', async () => {
    const store = path.join(fx.dir, 'crashed');
    const child = spawn(process.execPath, [BIN, 'run', fx.specFile, '--workers', '1', '--store', store], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, sig) => res(sig)));
    // Kill once a few shards of the first checkpoint are committed, well before the end (60 shards).
    for (let i = 0; i < 3000 && (await countCommits(store)) < 5; i++) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const committed = await countCommits(store);
    expect(committed).toBeGreaterThanOrEqual(5);
    expect(committed).toBeLessThan(60);

    // Between crash and resume: only whole committed shards are visible.
    const s = await Store.open(store, { readOnly: true });
    try {
      const rows = await s.query<{ shard: number; n: bigint }>("SELECT shard, count(*) AS n FROM activations WHERE layer = 'conv1' GROUP BY shard");
      expect(rows.length).toBe(committed);
      for (const r of rows) expect(Number(r.n)).toBe(100 * 3);
      const tmp = (await fs.readdir(store, { recursive: true })).filter((f) => /\.tmp/.test(String(f)) && !String(f).split('/').pop()!.startsWith('.'));
      expect(tmp).toEqual([]);
    } finally {
      s.dispose();
    }

    const r = await cli(['run', fx.specFile, '--workers', '2', '--store', store, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.checkpoints[0].skipped).toBe(committed);
    expect(await storeSnapshot(store)).toEqual(await storeSnapshot(path.join(fx.dir, 'reference')));
  });

  it('static sharding --shard 0/2 and 1/2 then finalize equals a single-machine run', async () => {
    const store = path.join(fx.dir, 'sharded');
    for (const part of ['0/2', '1/2']) {
      const r = await cli(['run', fx.specFile, '--workers', '1', '--store', store, '--shard', part, '--json']);
      expect(r.status, r.stderr).toBe(0);
    }
    const f = await cli(['finalize', fx.specFile, '--store', store, '--json']);
    expect(f.status, f.stderr).toBe(0);
    expect(await storeSnapshot(store)).toEqual(await storeSnapshot(path.join(fx.dir, 'reference')));
  });
});
