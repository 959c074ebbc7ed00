/**
 * End-to-end pipeline throughput against bare model.predict, measured in one run on one backend
 * (run: `npx tsx bench/pipeline.ts [--quick]`). Prints, for
 *   (a) the demo CNN (src/train/cnn.ts, untrained weights) over the Fashion-MNIST test IDX files,
 *   (b) nsfwjs' MobileNetV2 with all 52 conv / depthwise conv layers tapped, over a generated
 *       folder of 224x224 JPEGs,
 * the bare `model.predict` images/s (bench/predict-worker.ts in a pool of the same size as the
 * infer pool), the pipeline's images/s (runPipeline: decode pool, infer pool with taps and
 * on-backend reduction, sink with Parquet parts, finalize) and their ratio; the pipeline with one
 * infer worker against N workers; and Parquet ingest rows/s (writeTablePart, activations table).
 * Figures that locate the gap: "infer stage" = the infer workers' own work (Tapper.run: tapped
 * forward pass + on-backend reduction) in the same pool; CPU milliseconds per image of bare
 * predict and of the pipeline (process.cpuUsage over all threads; least perturbed by other load
 * on a shared machine); busy seconds of the infer and sink workers.
 *
 * The pipeline runs two checkpoints (the same weights saved as steps 0 and 1): the first
 * ("cold") includes starting the worker threads and loading tfjs in them; the second ("warm") is
 * the steady state, which the ratios use. Each figure is measured --reps times back to back, bare
 * and pipeline interleaved, and the best rep is kept (the machine may be shared). Nothing is
 * written outside the bench directory (default $TMPDIR/neurolens-bench; inputs are reused).
 *
 * --ops also runs the infer stage and the pipeline with the tensor-op reduction that the fused
 * NeurolensChannelStats kernel replaced (NEUROLENS_FUSED_STATS=0 in the workers): before/after.
 *
 * --retention rows,summary (default both) runs the pipeline once per mode in each rep, interleaved
 * with bare predict, at 1 and N infer workers: spec `retention: { default: rows }` (per-sample
 * `activations` rows for every tapped layer) and `{ default: summary }` (mergeable partials only).
 * Per mode it prints img/s, pipeline / bare, N w / 1 w, CPU ms per image (process, infer busy, sink
 * busy) and the store bytes per image the warm checkpoint wrote (its Parquet files / its images).
 * After the first rows-mode run at N workers, neuron_quantiles (the DDSketch of per-sample maxima)
 * is compared with the exact quantiles from the rows on the first, middle and last tapped layer
 * (--quantile-layers a,b,c to choose).
 *
 * Options: --quick, --ops, --backend wasm|cpu (wasm), --workers N (cores), --reps N (2; quick 1),
 * --cnn-limit N (10000; quick 2048), --cnn-batch N (128), --mobilenet-limit N (768; quick 64),
 * --mobilenet-batch N (16), --ingest-rows N (1000000; quick 200000), --only cnn,mobilenet,ingest,
 * --retention rows,summary (both), --quantile-layers a,b,c (first, middle, last tapped layer),
 * --shard-size N (the spec's shard_size for both models; default 1024 for the demo CNN, 256 for
 * MobileNetV2, whose 768 images are then 3 shards: see pipeline-inputs.ts), --dir DIR.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { PipelineSpecSchema, type LoadedSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { writeTablePart } from '../src/storage/index.js';
import { createPool } from '../src/workers/pool.js';
import type { PredictRequest, PredictResponse } from './predict-worker.js';
import { demoCnnBench, mobilenetBench, type Bench } from './pipeline-inputs.js';
import { sketchVsExact, stepParquetBytes, type QuantileCheck } from './pipeline-retention.js';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    ops: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string' },
    reps: { type: 'string' },
    'cnn-limit': { type: 'string' },
    'cnn-batch': { type: 'string', default: '128' },
    'mobilenet-limit': { type: 'string' },
    'mobilenet-batch': { type: 'string', default: '16' },
    'ingest-rows': { type: 'string' },
    'shard-size': { type: 'string' },
    only: { type: 'string', default: 'cnn,mobilenet,ingest' },
    retention: { type: 'string', default: 'rows,summary' },
    'quantile-layers': { type: 'string' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'neurolens-bench') },
  },
});
const quick = opt.quick ?? false;
const num = (v: string | undefined, full: number, short: number) => Number(v ?? (quick ? short : full));
const backend = opt.backend as BackendChoice;
const workers = num(opt.workers, os.availableParallelism(), os.availableParallelism());
const reps = num(opt.reps, 2, 1);
const only = new Set(opt.only!.split(','));
const root = path.resolve(opt.dir!);
type Mode = 'rows' | 'summary';
const modes = opt.retention!.split(',').map((m) => {
  if (m !== 'rows' && m !== 'summary') throw new Error(`--retention: '${m}' is not rows or summary`);
  return m as Mode;
});
const QS = [0.01, 0.1, 0.5, 0.9, 0.99];

// ---------------------------------------------------------------------------------------------
// Measurements

type ComputeMode = 'predict' | 'tap' | 'tap-ops';

/**
 * Images/s of the worker pool's compute alone, per mode: 'predict' = bare model.predict, 'tap' =
 * the infer stage's work (Tapper.run on the spec's layers: upload, tapped forward pass, fused
 * reduction, downloads), 'tap-ops' = the same with the tensor-op reduction. The modes run in
 * interleaved rounds of 2 batches per worker (as many in flight as the pipeline keeps), so slow
 * drifts of a shared machine hit them alike; each mode processes about `limit` images.
 */
/** CPU milliseconds per image (whole process, all threads) of the last computeRates per mode. */
const cpuPerImage: Partial<Record<ComputeMode, number>> = {};

async function computeRates(b: Bench, threads: number, modes: ComputeMode[]): Promise<Record<ComputeMode, number>> {
  const pool = createPool<PredictRequest, PredictResponse>(new URL('./predict-worker.ts', import.meta.url), { threads });
  const base: PredictRequest = { modelDir: path.join(b.ckptRoot, 'ckpt-000000'), backend, batch: b.batch, inputShape: b.inputShape };
  const reqOf = (m: ComputeMode): PredictRequest =>
    m === 'predict' ? base : { ...base, mode: 'tap', layers: b.spec.layers as string[], fused: m === 'tap' };
  const round = (m: ComputeMode) => Promise.all(Array.from({ length: 2 * threads }, () => pool.run(reqOf(m))));
  const time: Record<string, number> = {};
  const images: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  try {
    for (const m of modes) await round(m); // warm-up: tfjs, model and taps loaded in every worker
    const rounds = Math.max(1, Math.round(b.limit / (2 * threads * b.batch)));
    for (let r = 0; r < rounds; r++) {
      for (const m of modes) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await round(m);
        time[m] = (time[m] ?? 0) + (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        cpu[m] = (cpu[m] ?? 0) + (c.user + c.system) / 1000;
        images[m] = (images[m] ?? 0) + 2 * threads * b.batch;
      }
    }
  } finally {
    await pool.dispose();
  }
  for (const m of modes) cpuPerImage[m] = cpu[m] / images[m];
  return Object.fromEntries(modes.map((m) => [m, images[m] / time[m]])) as Record<ComputeMode, number>;
}

/** --shard-size, else the bench's own. */
const shardSizeOf = (b: Bench): number => (opt['shard-size'] ? Number(opt['shard-size']) : b.shardSize);

interface PipelineRate {
  cold: number;
  warm: number;
  /** CPU milliseconds per image of the warm checkpoint (whole process, all threads). */
  cpuPerImage: number;
  /** Busy seconds of the infer and sink workers in the warm checkpoint. */
  busy: { infer: number; sink: number };
  samples: number;
  /** Parquet bytes the warm checkpoint wrote, per table. */
  bytes: Record<string, number>;
}

/** The quantile check, once per bench (after its first rows-mode run at `workers`). */
const quantileChecks = new Map<string, QuantileCheck[]>();

async function pipeline(b: Bench, threads: number, mode: Mode, tensorOps = false): Promise<PipelineRate> {
  // Worker threads copy the environment when they start (runPipeline starts its pools).
  if (tensorOps) process.env.NEUROLENS_FUSED_STATS = '0';
  else delete process.env.NEUROLENS_FUSED_STATS;
  const dir = path.join(root, `run-${b.spec.name as string}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const raw = { ...b.spec, shard_size: shardSizeOf(b), retention: { default: mode } };
  const loaded: LoadedSpec = { spec: PipelineSpecSchema.parse(raw), file: path.join(dir, 'spec.yaml'), baseDir: dir };
  const s = await runPipeline(loaded, { backend, workers: threads, limit: b.limit, resume: false, store: path.join(dir, 'store'), progress: 'silent' });
  if (s.status !== 'succeeded' || s.checkpoints.length !== 2) throw new Error(`pipeline ${b.name}: ${s.status}, ${s.checkpoints.length} checkpoints`);
  const w = s.checkpoints[1];
  if (s.retention.some((l) => l.mode !== mode)) throw new Error(`pipeline ${b.name}: retention ${mode} asked, got ${[...new Set(s.retention.map((l) => l.mode))].join(', ')}`);
  const bytes = await stepParquetBytes(s.store, w.step);
  if (mode === 'rows' && threads === workers && !tensorOps && !quantileChecks.has(b.name)) {
    const all = s.retention.map((l) => l.layer);
    const picks = opt['quantile-layers'] ? opt['quantile-layers'].split(',') : [...new Set([all[0], all[Math.floor((all.length - 1) / 2)], all[all.length - 1]])];
    quantileChecks.set(b.name, await sketchVsExact(s.store, picks, w.step, QS));
  }
  await rm(dir, { recursive: true, force: true });
  return { cold: s.checkpoints[0].images_per_s, warm: w.images_per_s, cpuPerImage: (1000 * w.cpu_s) / w.samples, busy: w.busy_s, samples: w.samples, bytes };
}

async function best<T>(n: number, f: () => Promise<T>, key: (t: T) => number): Promise<{ best: T; all: T[] }> {
  const all: T[] = [];
  for (let i = 0; i < n; i++) all.push(await f());
  return { best: all.reduce((a, c) => (key(c) > key(a) ? c : a)), all };
}

async function ingestRowsPerS(rows: number): Promise<number> {
  const dir = path.join(root, 'ingest');
  await rm(dir, { recursive: true, force: true });
  const cols = {
    sample_id: Int32Array.from({ length: rows }, (_, i) => Math.floor(i / 64)),
    channel: Int32Array.from({ length: rows }, (_, i) => i % 64),
    max: Float32Array.from({ length: rows }, (_, i) => (i % 97) / 7),
    mean: Float32Array.from({ length: rows }, (_, i) => (i % 89) / 11),
    zero_frac: Float32Array.from({ length: rows }, (_, i) => (i % 13) / 13),
    argmax_t: new Int32Array(rows),
    argmax_y: Int32Array.from({ length: rows }, (_, i) => i % 28),
    argmax_x: Int32Array.from({ length: rows }, (_, i) => (i * 7) % 28),
  };
  const t0 = performance.now();
  await writeTablePart(dir, 'activations', { dataset: 'd', model: 'm', step: 0, layer: 'l' }, 0, cols);
  const s = (performance.now() - t0) / 1000;
  await rm(dir, { recursive: true, force: true });
  return rows / s;
}

// ---------------------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const rows: string[][] = [];
const row = (...cells: string[]) => rows.push(cells);

const info = await setupBackend(backend);
console.log(`backend ${info.name}${info.simd ? ' (simd)' : ''}, ${workers} infer worker(s), ${os.availableParallelism()} cores, reps ${reps}${quick ? ', quick' : ''}`);

const benches: Bench[] = [];
if (only.has('cnn')) benches.push(await demoCnnBench(root, num(opt['cnn-limit'], 10000, 2048), Number(opt['cnn-batch'])));
if (only.has('mobilenet')) benches.push(await mobilenetBench(root, num(opt['mobilenet-limit'], 768, 64), Number(opt['mobilenet-batch'])));

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, c) => a + c, 0);
const perImg = (p: PipelineRate) => sum(p.bytes) / p.samples;
const stageText = (p: PipelineRate) =>
  `CPU ${f2(p.cpuPerImage)} ms/img (infer busy ${f2((1000 * p.busy.infer) / p.samples)}, sink busy ${f2((1000 * p.busy.sink) / p.samples)}); ${Math.round(perImg(p))} B/img`;

for (const b of benches) {
  const target = b.name === 'MobileNetV2' ? 0.85 : 0.6;
  console.log(`\n${b.name}: ${b.limit} images, batch ${b.batch}, shard_size ${shardSizeOf(b)}, ${b.layers} tapped layer pattern(s), retention ${modes.join(' and ')}`);
  const bare: number[] = [];
  const bareOne: number[] = [];
  const bareCpu: number[] = [];
  const pipe: Record<Mode, PipelineRate[]> = { rows: [], summary: [] };
  const one: Record<Mode, PipelineRate[]> = { rows: [], summary: [] };
  const ops: PipelineRate[] = [];
  const tapped: number[] = [];
  const tappedOps: number[] = [];
  const tapCpu: number[] = [];
  const load = () => `load ${os.loadavg().map(f2).join(' ')}`;
  for (let r = 0; r < reps; r++) {
    const rates = await computeRates(b, workers, opt.ops ? ['predict', 'tap', 'tap-ops'] : ['predict', 'tap']);
    bare.push(rates.predict);
    bareCpu.push(cpuPerImage.predict!);
    tapped.push(rates.tap);
    tapCpu.push(cpuPerImage.tap!);
    if (opt.ops) tappedOps.push(rates['tap-ops']);
    const tapText = `infer stage (Tapper.run) ${f1(tapped[r])}${opt.ops ? `, with tensor ops ${f1(tappedOps[r])}` : ''} img/s`;
    console.log(`  rep ${r + 1} (${load()}): bare predict ${f1(bare[r])} img/s (CPU ${f2(bareCpu[r])} ms/img); ${tapText} (CPU ${f2(tapCpu[r])} ms/img)`);
    for (const m of modes) {
      const p = await pipeline(b, workers, m);
      pipe[m].push(p);
      console.log(`    ${workers}w ${m.padEnd(7)} pipeline cold ${f1(p.cold)}, warm ${f1(p.warm)} img/s, ${f2(p.warm / bare[r])} of bare; ${stageText(p)} (${load()})`);
    }
    if (opt.ops) {
      ops.push(await pipeline(b, workers, modes[0], true));
      console.log(`    with tensor-op reduction (${modes[0]}): cold ${f1(ops[r].cold)}, warm ${f1(ops[r].warm)}`);
    }
    if (workers > 1) {
      bareOne.push((await computeRates(b, 1, ['predict'])).predict);
      console.log(`    1w bare predict ${f1(bareOne[r])} img/s`);
      for (const m of modes) {
        const p = await pipeline(b, 1, m);
        one[m].push(p);
        console.log(`    1w ${m.padEnd(7)} pipeline cold ${f1(p.cold)}, warm ${f1(p.warm)} img/s, ${f2(p.warm / bareOne[r])} of bare 1w; ${stageText(p)} (${load()})`);
      }
    }
  }
  const bareBest = Math.max(...bare);
  const tapBest = Math.max(...tapped);
  row(b.name, `infer stage / bare predict (${workers}w)`, `${f1(tapBest)} / ${f1(bareBest)}`, f2(tapBest / bareBest), '(info)', '');
  if (opt.ops) {
    const t = Math.max(...tappedOps);
    row(b.name, `  same, tensor-op reduction`, `${f1(t)} / ${f1(bareBest)}`, f2(t / bareBest), '(before)', '');
  }
  const bareCpuBest = Math.min(...bareCpu);
  row(b.name, `  CPU ms/img: bare / infer stage`, `${f2(bareCpuBest)} / ${f2(Math.min(...tapCpu))}`, f2(bareCpuBest / Math.min(...tapCpu)), '(info)', '');
  const fastest = (ps: PipelineRate[]) => ps.reduce((a, c) => (c.warm > a.warm ? c : a));
  for (const m of modes) {
    const top = fastest(pipe[m]);
    const pipeBest = top.warm;
    row(b.name, `${m}: pipeline / bare predict (${workers}w)`, `${f1(pipeBest)} / ${f1(bareBest)}`, f2(pipeBest / bareBest), `>= ${target}`, pipeBest / bareBest >= target ? 'ok' : 'MISS');
    // CPU per image is what a shared machine perturbs least: bare CPU / pipeline CPU is the
    // throughput ratio the pipeline reaches when both keep every core busy.
    const cpuTop = pipe[m].reduce((a, c) => (c.cpuPerImage < a.cpuPerImage ? c : a));
    row(b.name, `  CPU ms/img: bare / pipeline`, `${f2(bareCpuBest)} / ${f2(cpuTop.cpuPerImage)}`, f2(bareCpuBest / cpuTop.cpuPerImage), '(info)', '');
    row(b.name, `  ms/img: infer busy / sink busy`, `${f2((1000 * cpuTop.busy.infer) / cpuTop.samples)} / ${f2((1000 * cpuTop.busy.sink) / cpuTop.samples)}`, '', '(info)', '');
    if (workers > 1) {
      const o = fastest(one[m]).warm;
      const scale = pipeBest / o;
      row(b.name, `  pipeline ${workers}w / 1w`, `${f1(pipeBest)} / ${f1(o)}`, f2(scale), `>= ${0.9 * workers}`, scale >= 0.9 * workers ? 'ok' : 'MISS');
    }
    const bytes = pipe[m][0].bytes;
    const tables = Object.entries(bytes).sort((x, y) => y[1] - x[1]).map(([t, n]) => `${t} ${Math.round(n / top.samples)}`).join(', ');
    row(b.name, `  store bytes/img per checkpoint`, `${Math.round(perImg(pipe[m][0]))}`, '', '(info)', '');
    console.log(`  ${m}: warm checkpoint Parquet bytes per image by table: ${tables}`);
  }
  if (modes.length === 2) {
    const [r, s] = [fastest(pipe.rows).warm, fastest(pipe.summary).warm];
    row(b.name, `summary / rows pipeline (${workers}w)`, `${f1(s)} / ${f1(r)}`, f2(s / r), '(info)', '');
  }
  if (opt.ops) {
    const opsBest = Math.max(...ops.map((p) => p.warm));
    row(b.name, `  ${modes[0]}, tensor-op reduction`, `${f1(opsBest)} / ${f1(bareBest)}`, f2(opsBest / bareBest), '(before)', '');
  }
  if (workers > 1) row(b.name, `bare predict ${workers}w / 1w`, `${f1(bareBest)} / ${f1(Math.max(...bareOne))}`, f2(bareBest / Math.max(...bareOne)), '(machine)', '');
  for (const c of quantileChecks.get(b.name) ?? []) {
    const ok = c.worst <= c.bound;
    console.log(
      `  sketch vs exact, ${c.layer} (${c.channels} channels x ${c.n} samples, q ${QS.join(' ')}): worst relative error ${c.worst.toExponential(4)} ` +
        `(channel ${c.at.channel}, q ${c.at.q}: sketch ${c.at.sketch.toPrecision(6)}, exact ${c.at.exact.toPrecision(6)}); ${c.beyond} of ${c.compared} beyond ${c.bound}`,
    );
    row(b.name, `sketch quantile rel. error, ${c.layer}`, c.worst.toExponential(4), '', `<= ${c.bound}`, ok ? 'ok' : 'MISS');
  }
}

if (only.has('ingest')) {
  const n = num(opt['ingest-rows'], 1_000_000, 200_000);
  const r = await best(reps, () => ingestRowsPerS(n), (x) => x);
  console.log(`\nParquet ingest (activations, ${n} rows): ${r.all.map((x) => `${(x / 1e6).toFixed(2)}M`).join(', ')} rows/s`);
  row('Parquet', `writeTablePart activations, ${n} rows`, `${(r.best / 1e6).toFixed(2)}M rows/s`, '', '', '');
}

const header = ['model', 'measure', 'img/s (or rows/s)', 'ratio', 'target', ''];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
console.log(`\nload average at the end: ${os.loadavg().map(f2).join(' ')}`);
console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}`);
