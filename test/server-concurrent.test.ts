/**
 * Serving while a run writes the same store: a second pipeline run (another model and dataset)
 * commits shards into the store the server reads, while a client hammers the SQL endpoint with
 * per-shard row counts. Every shard the server shows must be whole (all its samples x all the
 * layer's channels): a reader never sees a partially written or uncommitted shard. The run's
 * shards must also appear while the server keeps running (no restart, no file lock).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { startServer, type RunningServer } from '../src/server/index.js';

const SHARD = 16;
const N_A = 24;
const N_B = 320;
let a: PipelineFixture;
let b: PipelineFixture;
let server: RunningServer;
/** A second server whose store-watch never fires during the test: only per-query commit following keeps it current. */
let slow: RunningServer;
let root: string;

interface ShardRow {
  model: string;
  step: number;
  layer: string;
  shard: number;
  n: number;
}

async function shardCounts(srv: RunningServer = server): Promise<ShardRow[]> {
  const r = await fetch(`${srv.url}/api/sql`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain' },
    body: 'SELECT model, step, layer, shard, count(*) AS n FROM activations GROUP BY ALL ORDER BY ALL',
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as ShardRow[]).map((x) => ({ ...x, step: Number(x.step), n: Number(x.n) }));
}

function samplesInShard(n: number, shard: number): number {
  return Math.max(0, Math.min(SHARD, n - shard * SHARD));
}

beforeAll(async () => {
  await setupBackend('wasm');
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-server-conc-'));
  a = await makePipelineFixture(path.join(root, 'a'), N_A, { shardSize: SHARD });
  expect((await runPipeline(await loadSpec(a.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  b = await makePipelineFixture(path.join(root, 'b'), N_B, { shardSize: SHARD, batchSize: 8 });
  // Another dataset and model, so none of its shards is already committed in a's store.
  const spec = (await fs.readFile(b.specFile, 'utf8')).replace('name: edges', 'name: edges-b').replace('name: edge-net', 'name: edge-net-b');
  await fs.writeFile(b.specFile, spec);
  server = await startServer({ store: a.store, port: 0, watch: { intervalMs: 100 } });
  slow = await startServer({ store: a.store, port: 0, watch: { intervalMs: 3_600_000 } });
}, 180_000);

afterAll(async () => {
  await server?.close();
  await slow?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe('server: serving while a run commits', () => {
  it('shows only whole shards while new shards are committed', async () => {
    const before = await shardCounts();
    const channels = new Map<string, number>();
    for (const r of before) if (r.model === 'edge-net' && r.step === 0 && r.shard === 0) channels.set(r.layer, r.n / samplesInShard(N_A, 0));
    expect([...channels.keys()].sort()).toEqual(['conv1', 'fc', 'gap']);
    const whole = (r: ShardRow): number => samplesInShard(r.model === 'edge-net' ? N_A : N_B, r.shard) * channels.get(r.layer)!;

    // A shard is whole when each layer has all its rows and no layer is missing: the commit lists
    // the parts of every layer, written one after the other.
    const checkWhole = (rows: ShardRow[]): void => {
      const layers = new Map<string, string[]>();
      for (const r of rows) {
        const key = `${r.model} step ${r.step} shard ${r.shard}`;
        expect(r.n, `${key} ${r.layer}`).toBe(whole(r));
        layers.set(key, [...(layers.get(key) ?? []), r.layer]);
      }
      for (const [key, ls] of layers) expect(ls.sort(), key).toEqual(['conv1', 'fc', 'gap']);
    };
    let done = false;
    const run = runPipeline(await loadSpec(b.specFile), { workers: 1, backend: 'wasm', store: a.store }).finally(() => (done = true));
    const seen = new Set<number>();
    let polls = 0;
    while (!done || polls === 0) {
      const rows = await shardCounts();
      polls++;
      checkWhole(rows);
      seen.add(rows.filter((r) => r.model === 'edge-net-b').length);
    }
    expect((await run).status).toBe('succeeded');

    const after = await shardCounts();
    checkWhole(after);
    const shardsB = N_B / SHARD;
    expect(after.filter((r) => r.model === 'edge-net-b').length).toBe(shardsB * 2 * 3); // shards x steps x layers
    // A reader that has not polled the store since it started sees every commit at its next query.
    expect(await shardCounts(slow)).toEqual(after);
    // The hammering overlapped the run: it saw the run's shards appear, not only before/after.
    expect([...seen].some((n) => n > 0 && n < shardsB * 2 * 3), `partial states seen: ${[...seen].join(', ')} in ${polls} polls`).toBe(true);
    // The earlier model is untouched.
    expect(after.filter((r) => r.model === 'edge-net')).toEqual(before.filter((r) => r.model === 'edge-net'));
  });

  it('named queries see the new run without a restart', async () => {
    const r = await fetch(`${server.url}/api/queries/layer_summary?model=edge-net-b&step=100`);
    expect(r.status).toBe(200);
    const rows = (await r.json()) as { layer: string; samples: number }[];
    expect(rows.map((x) => x.layer).sort()).toEqual(['conv1', 'fc', 'gap']);
    for (const x of rows) expect(Number(x.samples)).toBe(N_B);
  });
});
