/**
 * `--shard auto`: the static shard from a Kubernetes Indexed Job (JOB_COMPLETION_INDEX) or a
 * Slurm array (SLURM_ARRAY_TASK_ID / _MIN / _COUNT), and a real run that takes exactly its
 * shards, then `neurolens finalize` over the parts equals a single-process run.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from './helpers/cli.js';
import { makePipelineFixture, storeSnapshot, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { resolveAutoShard } from '../src/queue/shard-auto.js';
import { committedShards } from '../src/storage/index.js';

describe('resolveAutoShard', () => {
  it('reads Kubernetes and Slurm indices, with the count from the flag or the environment', () => {
    expect(resolveAutoShard({ JOB_COMPLETION_INDEX: '2' }, 4)).toEqual({ index: 2, count: 4, from: 'JOB_COMPLETION_INDEX' });
    expect(resolveAutoShard({ JOB_COMPLETION_INDEX: '0', NEUROLENS_SHARD_COUNT: '3' })).toMatchObject({ index: 0, count: 3 });
    expect(resolveAutoShard({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 3, count: 4 });
    expect(resolveAutoShard({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' })).toMatchObject({ index: 0, count: 4 });
    expect(resolveAutoShard({ SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '4' }, 8)).toMatchObject({ index: 5, count: 8 });
  });

  it('refuses a missing index, a missing count and an index out of range', () => {
    expect(() => resolveAutoShard({})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => resolveAutoShard({ JOB_COMPLETION_INDEX: '1' })).toThrow(/--shard-count/);
    expect(() => resolveAutoShard({ JOB_COMPLETION_INDEX: '4' }, 4)).toThrow(/not in \[0, 4\)/);
    expect(() => resolveAutoShard({ JOB_COMPLETION_INDEX: 'x' }, 4)).toThrow(/not a non-negative integer/);
  });
});

describe('run --shard auto', () => {
  let fx: PipelineFixture;
  beforeAll(async () => {
    await setupBackend('wasm');
    fx = await makePipelineFixture(await fs.mkdtemp(path.join(os.tmpdir(), 'nl-shard-auto-')), 100, { shardSize: 20, batchSize: 10 });
  });

  it('two indexed-job pods (JOB_COMPLETION_INDEX 0 and 1) then finalize equal a single-process run', async () => {
    const store = path.join(fx.dir, 'indexed');
    for (const index of ['0', '1']) {
      const r = await cli(['run', fx.specFile, '--workers', '1', '--backend', 'wasm', '--store', store, '--shard', 'auto', '--shard-count', '2', '--json'], {
        env: { ...process.env, JOB_COMPLETION_INDEX: index },
      });
      expect(r.status, r.stderr).toBe(0);
      const mine = await committedShards(store, { dataset: 'edges', model: 'edge-net', step: 0 });
      expect(mine).toEqual(index === '0' ? [0, 2, 4] : [0, 1, 2, 3, 4]);
    }
    const f = await cli(['finalize', fx.specFile, '--store', store, '--json']);
    expect(f.status, f.stderr).toBe(0);
    const ref = await cli(['run', fx.specFile, '--workers', '1', '--backend', 'wasm', '--store', path.join(fx.dir, 'reference'), '--json']);
    expect(ref.status, ref.stderr).toBe(0);
    expect(await storeSnapshot(store)).toEqual(await storeSnapshot(path.join(fx.dir, 'reference')));
  });

  it('--shard auto outside a scheduler is a usage error naming the variables', async () => {
    const env = { ...process.env };
    delete env.JOB_COMPLETION_INDEX;
    delete env.SLURM_ARRAY_TASK_ID;
    const r = await cli(['run', fx.specFile, '--shard', 'auto', '--shard-count', '2'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('JOB_COMPLETION_INDEX');
  });
});
