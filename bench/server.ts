/**
 * Dashboard-scale latency of the named queries and throughput of `neurolens serve` (run:
 * `npx tsx bench/server.ts [--quick]`). Prints, does not assert; targets: every query < 1 s,
 * the server >= 200 req/s with p99 < 100 ms for a cached named query.
 *
 * The store is synthesized directly with the storage layer (writeTablePart + commitShard, the
 * pipeline's own commit protocol): `--samples` (70 000) samples x `--channels` (150) channels of
 * one layer at `--steps` (3) checkpoints = 31.5 M activation rows, plus neuron_stats, topk (k=32)
 * and `--dim` (64)-d codes of every sample at every step. Activations are ReLU-like with dead
 * channels (fewer at later steps) and sparsity that rises over training. It is built once in
 * `--dir` (default $TMPDIR/neurolens-bench-server) and reused (`--rebuild` to redo it).
 *
 * Query latencies are measured in-process on a read-only Store confined like the server's
 * (lockdown.ts): the first (cold) run and the median of `--reps` (3) warm runs. Throughput is
 * measured against the server in a child process (so the load generator does not share its event
 * loop) by `--connections` (16) loops of keep-alive fetch, `--requests` (4000; quick 1000) in
 * total or `--seconds` (20) at most.
 */
import { mulberry32 } from '../src/train/prng.js';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getQuery, sqlForStore, bindParams } from '../src/queries/index.js';
import { lockDownStore, startServer } from '../src/server/index.js';
import { Store, commitShard, floatList, newRunId, writeFinalPart, writeTablePart } from '../src/storage/index.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'neurolens-bench-server') },
    samples: { type: 'string' },
    channels: { type: 'string', default: '150' },
    steps: { type: 'string', default: '3' },
    dim: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    requests: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    rebuild: { type: 'boolean', default: false },
    'child-serve': { type: 'string' },
  },
});

const DATASET = 'synth';
const MODEL = 'bench-net';
const LAYER = 'conv5';
const SHARD = 1024;
const TOPK = 32;
const POSITIONS = 49; // a 7x7 output grid

const rng = mulberry32;

async function buildStore(store: string, n: number, C: number, steps: number[], dim: number): Promise<void> {
  const runId = newRunId();
  await writeTablePart(store, 'samples', { dataset: DATASET }, 'part-0.parquet', {
    sample_id: Int32Array.from({ length: n }, (_, i) => i),
    uri: Array.from({ length: n }, (_, i) => `synth://${i}`),
    label: Int32Array.from({ length: n }, (_, i) => i % 10),
    split: Array.from({ length: n }, () => 'train'),
  });
  for (const [si, step] of steps.entries()) {
    const t0 = performance.now();
    const rand = rng(1000 + si);
    const dead = Math.max(0, 12 - 4 * si); // channels [0, dead) never activate
    const maxima = new Float32Array(n * C); // [channel][sample], for topk
    const arg = new Int32Array(n * C);
    const sum = new Float64Array(C);
    const zeros = new Float64Array(C);
    const active = new Float64Array(C);
    const chMax = new Float32Array(C);
    for (let shard = 0; shard * SHARD < n; shard++) {
      const lo = shard * SHARD;
      const m = Math.min(SHARD, n - lo);
      const rows = m * C;
      const cols = {
        sample_id: new Int32Array(rows),
        channel: new Int32Array(rows),
        max: new Float32Array(rows),
        mean: new Float32Array(rows),
        zero_frac: new Float32Array(rows),
        argmax_t: new Int32Array(rows),
        argmax_y: new Int32Array(rows),
        argmax_x: new Int32Array(rows),
      };
      const code = new Float32Array(m * dim);
      for (let i = 0; i < m; i++) {
        const id = lo + i;
        for (let c = 0; c < C; c++) {
          const r = i * C + c;
          // Sum of 3 uniforms: a cheap bell curve; sparsity rises with the step.
          const g = rand() + rand() + rand() - 1.5;
          const mx = c < dead ? 0 : Math.max(0, 0.4 + 0.05 * (c % 9) + g);
          const zf = mx === 0 ? 1 : Math.min(1, 0.3 + 0.15 * si + 0.2 * rand());
          const pos = Math.floor(rand() * POSITIONS);
          cols.sample_id[r] = id;
          cols.channel[r] = c;
          cols.max[r] = mx;
          cols.mean[r] = mx * (1 - zf) * 0.4;
          cols.zero_frac[r] = zf;
          cols.argmax_y[r] = Math.floor(pos / 7);
          cols.argmax_x[r] = pos % 7;
          maxima[c * n + id] = mx;
          arg[c * n + id] = pos;
          sum[c]! += cols.mean[r]!;
          zeros[c]! += zf;
          if (mx > 0) active[c]!++;
          if (mx > chMax[c]!) chMax[c] = mx;
        }
        for (let d = 0; d < dim; d++) code[i * dim + d] = (id % 10 === d % 10 ? 1 : 0) + 0.3 * (rand() - 0.5);
      }
      const part = { dataset: DATASET, model: MODEL, step, layer: LAYER };
      const act = await writeTablePart(store, 'activations', part, shard, cols);
      const codes = await writeTablePart(store, 'codes', part, shard, { sample_id: Int32Array.from({ length: m }, (_, i) => lo + i), code: floatList(code, dim) });
      await commitShard(store, { dataset: DATASET, model: MODEL, step, shard }, [act, codes], runId);
    }
    const ch = Int32Array.from({ length: C }, (_, c) => c);
    const count = BigInt64Array.from({ length: C }, () => BigInt(n));
    const mean = Float64Array.from(sum, (s) => s / n);
    const std = Float64Array.from(mean, (x) => x * 0.8);
    await writeFinalPart(store, 'neuron_stats', { dataset: DATASET, model: MODEL, step, layer: LAYER }, {
      channel: ch,
      count,
      positions: BigInt64Array.from({ length: C }, () => BigInt(n * POSITIONS)),
      mean,
      std,
      min: new Float32Array(C),
      max: chMax,
      zero_frac: Float64Array.from(zeros, (z) => z / n),
      active_frac: Float64Array.from(active, (a) => a / n),
      dead: Array.from(chMax, (x) => x <= 0),
      m2: Float64Array.from(std, (s) => s * s * n * POSITIONS),
      zero_count: BigInt64Array.from(zeros, (z) => BigInt(Math.round(z * POSITIONS))),
      active_count: BigInt64Array.from(active, (a) => BigInt(a)),
    });
    const top = { channel: new Int32Array(C * TOPK), rank: new Int32Array(C * TOPK), value: new Float32Array(C * TOPK), sample_id: new Int32Array(C * TOPK), argmax_t: new Int32Array(C * TOPK), argmax_y: new Int32Array(C * TOPK), argmax_x: new Int32Array(C * TOPK) };
    const ids = Int32Array.from({ length: n }, (_, i) => i);
    for (let c = 0; c < C; c++) {
      const v = maxima.subarray(c * n, (c + 1) * n);
      const best = ids.slice().sort((a, b) => v[b]! - v[a]! || a - b).subarray(0, TOPK);
      best.forEach((id, k) => {
        const r = c * TOPK + k;
        top.channel[r] = c;
        top.rank[r] = k;
        top.value[r] = v[id]!;
        top.sample_id[r] = id;
        top.argmax_y[r] = Math.floor(arg[c * n + id]! / 7);
        top.argmax_x[r] = arg[c * n + id]! % 7;
      });
    }
    await writeFinalPart(store, 'topk', { dataset: DATASET, model: MODEL, step, layer: LAYER }, top);
    console.log(`  step ${step}: ${(n * C).toLocaleString()} activation rows, ${n.toLocaleString()} codes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function timeQueries(storeDir: string, reps: number): Promise<void> {
  const store = await Store.open(storeDir, { readOnly: true });
  await lockDownStore(store);
  const named: [string, string, Record<string, string>][] = [
    ['top-k, all channels of a layer (topk table)', 'top_k_activators', { layer: LAYER, k: '9' }],
    ['top-k, k=64 > stored 32 (ranks activations)', 'top_k_activators', { layer: LAYER, k: '64' }],
    ['dead filters (stored flag)', 'dead_filters', { layer: LAYER }],
    ['dead filters, eps=0.05 (over activations)', 'dead_filters', { layer: LAYER, eps: '0.05' }],
    ['sparsity over training', 'sparsity_over_training', { layer: LAYER }],
    ['kNN over codes (embedding_neighbors)', 'embedding_neighbors', { layer: LAYER, sample_id: '123', k: '10' }],
    ['layer summary', 'layer_summary', {}],
  ];
  const adhoc: [string, string][] = [['rows per shard, full scan (ad-hoc SQL)', 'SELECT step, shard, count(*) AS n FROM activations GROUP BY ALL']];
  console.log(`\nquery latency (in-process DuckDB, confined like the server; cold, then median of ${reps} warm)`);
  console.log(`${'query'.padEnd(48)} ${'rows'.padStart(6)} ${'cold ms'.padStart(9)} ${'warm ms'.padStart(9)}  < 1 s`);
  const jobs: [string, string, Record<string, unknown> | undefined][] = [];
  for (const [label, name, raw] of named) {
    const def = await getQuery(name);
    jobs.push([label, sqlForStore(def, store), bindParams(def, raw)]);
  }
  for (const [label, sql] of adhoc) jobs.push([label, sql, undefined]);
  for (const [label, sql, params] of jobs) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i <= reps; i++) {
      const t = performance.now();
      rows = (await store.queryColumns(sql, params as never)).rowCount;
      times.push(performance.now() - t);
    }
    const warm = median(times.slice(1));
    console.log(`${label.padEnd(48)} ${String(rows).padStart(6)} ${times[0]!.toFixed(0).padStart(9)} ${warm.toFixed(0).padStart(9)}  ${warm < 1000 ? 'yes' : 'NO'}`);
  }
  store.dispose();
}

async function load(url: string, connections: number, maxRequests: number, seconds: number): Promise<{ n: number; errors: number; rps: number; p50: number; p99: number; max: number }> {
  const lat: number[] = [];
  let started = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (started < maxRequests && performance.now() < deadline) {
        started++;
        const t = performance.now();
        const r = await fetch(url);
        await r.arrayBuffer();
        if (r.status !== 200) errors++;
        lat.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { n: lat.length, errors, rps: lat.length / wall, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1]! };
}

async function childServer(store: string): Promise<{ url: string; stop: () => void }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, '--child-serve', store], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, stop: () => child.kill('SIGTERM') };
}

async function main(): Promise<void> {
  if (args['child-serve']) {
    const server = await startServer({ store: args['child-serve'], port: 0 });
    process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
    process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
    return;
  }
  const n = Number(args.samples ?? (args.quick ? 10_000 : 70_000));
  const C = Number(args.channels);
  const steps = Array.from({ length: Number(args.steps) }, (_, i) => i * 1000);
  const dim = Number(args.dim);
  const dir = path.join(args.dir, `s${n}-c${C}-t${steps.length}-d${dim}`);
  const store = path.join(dir, 'store');
  const done = path.join(dir, 'COMPLETE');
  const built = await access(done).then(() => true, () => false);
  console.log(`store ${store}: ${n.toLocaleString()} samples x ${C} channels x ${steps.length} steps = ${(n * C * steps.length).toLocaleString()} activation rows; codes ${dim}-d`);
  if (!built || args.rebuild) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    console.log('building (reused by later runs) ...');
    await buildStore(store, n, C, steps, dim);
    await writeFile(done, new Date().toISOString());
  } else {
    console.log('reusing the store built earlier');
  }
  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}; node ${process.version}`);
  await timeQueries(store, Number(args.reps));

  const connections = Number(args.connections);
  const requests = Number(args.requests ?? (args.quick ? 1000 : 4000));
  const server = await childServer(store);
  try {
    const cached = `${server.url}/api/queries/top_k_activators?layer=${LAYER}&k=9&channel=7`;
    const first = await fetch(cached);
    console.log(`\nserver throughput (child process, ${connections} keep-alive loops, <= ${requests} requests or ${args.seconds} s)`);
    console.log(`first request of the named query: ${first.status}, X-Neurolens-Cache ${first.headers.get('x-neurolens-cache')}`);
    await first.arrayBuffer();
    for (const [label, url] of [
      ['GET /healthz', `${server.url}/healthz`],
      ['GET cached top_k_activators (k=9, one channel)', cached],
    ] as const) {
      await load(url, connections, Math.min(200, requests), 5); // warm-up
      const r = await load(url, connections, requests, Number(args.seconds));
      const ok = r.rps >= 200 && r.p99 < 100;
      console.log(
        `${label.padEnd(48)} ${r.n} req, ${r.errors} errors: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms  (>= 200 req/s, p99 < 100 ms: ${ok ? 'yes' : 'NO'})`,
      );
    }
  } finally {
    server.stop();
  }
}

await main();
