/**
 * Video throughput, measured in one run (run: `npx tsx bench/video.ts [--videos N] [--size 32]
 * [--frames 8]`). Generates a small `make-actions` dataset (8 classes x --videos training videos of
 * --video-frames frames at --video-size px, real H.264 through ffmpeg) and an untrained two-stream
 * checkpoint (src/video/model.ts: --frames x --size x --size, RGB + flow, 8 classes; saved as
 * steps 0 and 1 so the pipeline has a cold and a warm checkpoint), then prints:
 *
 *   (a) the decode stage alone: the pipeline's decode worker (src/workers/decode.ts, 4 tasks per
 *       thread as runPipeline sets it) over the source's clip tasks with 1 and 2 threads: clips/s
 *       and decoded frames/s (frames ffmpeg delivers at the model's size; a clip of T frames with
 *       flow reads T + 1, and clips of one video share frames). Plus where one thread's time goes,
 *       step by step (bench/video-worker.ts 'split'): ffmpeg wall and CPU, the appearance layout,
 *       optical flow.
 *   (b) bare `model.predict` clips/s on pre-decoded clip batches (the dataset's own first batch)
 *       in a pool of 1 and 2 threads, 2 batches in flight per thread as the infer stage keeps
 *       them, and the infer stage's own work (Tapper.run on the spec's layers) in the same pool.
 *   (c) runPipeline end to end (decode pool, infer pool with taps app_conv*, mot_conv*, fusion,
 *       sink, finalize) with 1 and 2 infer workers, warm checkpoint.
 * and the ratios: decode clips/s vs pipeline clips/s (does decode keep up?), pipeline / bare
 * predict, 2 workers / 1 worker. Every figure is the best of --reps; the machine is shared, so
 * the load average is printed with the results.
 *
 * Requests are copied, not transferred (the same tasks and clip batch are sent again and again).
 *
 * Options: --videos N (per class, 6), --video-size N (64), --video-frames N (48), --size N
 * (model input, 32), --frames N (clip length, 8), --stride N (2), --clips N (clips per video, 4),
 * --batch N (16), --shard-size N (64), --reps N (2), --backend wasm|cpu (wasm), --dir DIR.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { saveModelDir } from '../src/model/io.js';
import { PipelineSpecSchema, sampleShape, type LoadedSpec, type PipelineSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { openDatasetSource } from '../src/sources/open.js';
import type { ClipDecodeTask, Preprocess } from '../src/sources/types.js';
import { buildTwoStream } from '../src/video/model.js';
import { decodedFrames } from '../src/video/clip-layout.js';
import { framesToRead } from '../src/video/clips.js';
import { clipLayoutOf } from '../src/video/decode-clips.js';
import { makeActions, MAKE_ACTIONS_DEFAULTS } from '../src/video/synth/index.js';
import { createPool } from '../src/workers/pool.js';
import type { DecodeRequest, DecodeResponse } from '../src/workers/protocol.js';
import { childCpuMs, type SplitResult, type VideoBenchRequest, type VideoBenchResponse } from './video-worker.js';

const { values: opt } = parseArgs({
  options: {
    videos: { type: 'string', default: '6' },
    'video-size': { type: 'string', default: '64' },
    'video-frames': { type: 'string', default: '48' },
    size: { type: 'string', default: '32' },
    frames: { type: 'string', default: '8' },
    stride: { type: 'string', default: '2' },
    clips: { type: 'string', default: '4' },
    batch: { type: 'string', default: '16' },
    'shard-size': { type: 'string', default: '64' },
    reps: { type: 'string', default: '2' },
    backend: { type: 'string', default: 'wasm' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'neurolens-bench-video') },
  },
});
const N = (k: keyof typeof opt) => Number(opt[k]);
const backend = opt.backend as BackendChoice;
const reps = N('reps');
const root = path.resolve(opt.dir!);
const CLASSES = 8;
const LAYERS = ['app_conv*', 'mot_conv*', 'fusion'];

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const load = () => os.loadavg().map(f2).join(' ');
const loads: string[] = [];
const note = (what: string) => loads.push(`${what}: ${load()}`);

// ---------------------------------------------------------------------------------------------
// Inputs

async function setup(): Promise<{ spec: PipelineSpec; ckptDir: string; dataDir: string }> {
  await rm(root, { recursive: true, force: true });
  const dataDir = path.join(root, 'actions');
  const t0 = performance.now();
  const made = await makeActions({
    ...MAKE_ACTIONS_DEFAULTS,
    out: dataDir,
    train: N('videos'),
    test: 0,
    size: N('video-size'),
    frames: N('video-frames'),
    overwrite: false,
  });
  console.log(`make-actions: ${made.videos} videos of ${made.frames} frames ${made.size}x${made.size} in ${f1((performance.now() - t0) / 1000)} s`);
  const model = buildTwoStream({ frames: N('frames'), height: N('size'), width: N('size'), appearance: 3, motion: 2, classes: CLASSES }, 1);
  const ckptDir = path.join(root, 'ckpts');
  try {
    for (const step of [0, 1]) await saveModelDir(model, path.join(ckptDir, `ckpt-00000${step}`), { step });
  } finally {
    model.dispose();
  }
  const spec = PipelineSpecSchema.parse({
    name: 'video-bench',
    dataset: {
      name: 'actions',
      source: { kind: 'video', manifest: path.join(dataDir, 'manifest.csv'), frames: N('frames'), stride: N('stride'), clips_per_video: N('clips') },
    },
    model: { name: 'two-stream', checkpoints: path.join(ckptDir, 'ckpt-*'), input: { height: N('size'), width: N('size'), channels: 3, motion: 'flow' } },
    layers: LAYERS,
    batch_size: N('batch'),
    shard_size: N('shard-size'),
  });
  return { spec, ckptDir, dataDir };
}

// ---------------------------------------------------------------------------------------------
// (a) decode

interface DecodeRate {
  clips: number;
  /** Frames ffmpeg delivered (scaled to the model's size). */
  frames: number;
  /** Frames ffmpeg decoded from the files: each video up to the last frame its clips read. */
  source: number;
  seconds: number;
}

/** Frames of a task: per video, the distinct frames its clips read, and the frames up to the last. */
function taskFrames(t: ClipDecodeTask, extra: number): { frames: number; source: number } {
  const n = { frames: 0, source: 0 };
  for (let i = 0; i < t.uris.length; ) {
    let j = i;
    while (j < t.uris.length && t.uris[j] === t.uris[i]) j++;
    const { frames } = framesToRead(Array.from(t.starts.subarray(i, j)), { frames: t.frames, stride: t.stride, extra });
    n.frames += frames.length;
    n.source += frames[frames.length - 1] + 1;
    i = j;
  }
  return n;
}

async function decodeRate(tasks: ClipDecodeTask[], pre: Preprocess, threads: number, extra: number): Promise<DecodeRate> {
  const pool = createPool<DecodeRequest, DecodeResponse>(new URL('../src/workers/decode.ts', import.meta.url), { threads, concurrentTasksPerWorker: 4 });
  try {
    // Warm-up: worker threads started, OpticalFlow scratch made in each.
    await Promise.all(Array.from({ length: 2 * threads }, (_, i) => pool.run({ task: tasks[i % tasks.length], pre }, { transfer: false })));
    let next = 0;
    let clips = 0;
    const t0 = performance.now();
    // As many tasks in flight as the pipeline's decode pump keeps (2 per thread, at least 2).
    await Promise.all(
      Array.from({ length: Math.max(2, 2 * threads) }, async () => {
        while (next < tasks.length) {
          const r = await pool.run({ task: tasks[next++], pre }, { transfer: false });
          if (r.errors.length) throw new Error(`decode errors: ${r.errors[0].reason}`);
          clips += r.sampleIds.length;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const counts = tasks.map((t) => taskFrames(t, extra));
    return { clips, frames: counts.reduce((n, c) => n + c.frames, 0), source: counts.reduce((n, c) => n + c.source, 0), seconds };
  } finally {
    await pool.dispose();
  }
}

async function decodeSplit(tasks: ClipDecodeTask[], pre: Preprocess): Promise<SplitResult> {
  const pool = createPool<VideoBenchRequest, VideoBenchResponse>(new URL('./video-worker.ts', import.meta.url), { threads: 1 });
  const sum: SplitResult = { clips: 0, frames: 0, ffmpegMs: 0, ffmpegCpuMs: 0, appearanceMs: 0, layoutMs: 0 };
  try {
    await pool.run({ kind: 'split', task: tasks[0], pre }, { transfer: false });
    for (const task of tasks) {
      const r = (await pool.run({ kind: 'split', task, pre }, { transfer: false })) as SplitResult;
      for (const k of Object.keys(sum) as (keyof SplitResult)[]) sum[k] += r[k];
    }
  } finally {
    await pool.dispose();
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// (b) bare predict and the infer stage's work

async function computeRates(modelDir: string, clips: Float32Array, batch: number, inputShape: number[], threads: number): Promise<{ predict: number; tap: number }> {
  const pool = createPool<VideoBenchRequest, VideoBenchResponse>(new URL('./video-worker.ts', import.meta.url), { threads });
  const req = (kind: 'predict' | 'tap'): VideoBenchRequest => ({ kind, modelDir, backend, batch, inputShape, values: clips, layers: LAYERS });
  const round = (kind: 'predict' | 'tap') => Promise.all(Array.from({ length: 2 * threads }, () => pool.run(req(kind), { transfer: false })));
  const time = { predict: 0, tap: 0 };
  const done = { predict: 0, tap: 0 };
  try {
    for (const k of ['predict', 'tap'] as const) await round(k); // warm-up in every worker
    // Interleaved rounds, so a drift of the shared machine hits both alike; ~ the dataset's clips.
    const rounds = Math.max(2, Math.round(clipsTotal / (2 * threads * batch)));
    for (let r = 0; r < rounds; r++) {
      for (const k of ['predict', 'tap'] as const) {
        const t0 = performance.now();
        await round(k);
        time[k] += (performance.now() - t0) / 1000;
        done[k] += 2 * threads * batch;
      }
    }
  } finally {
    await pool.dispose();
  }
  return { predict: done.predict / time.predict, tap: done.tap / time.tap };
}

// ---------------------------------------------------------------------------------------------
// (c) pipeline

interface PipelineRate {
  cold: number;
  warm: number;
  /** CPU ms per clip of the warm checkpoint: the process (all threads), and its ffmpeg children. */
  cpuMsPerClip: number;
  ffmpegCpuMsPerClip: number;
  busy: { infer: number; sink: number };
}

async function pipeline(spec: PipelineSpec, workers: number): Promise<PipelineRate> {
  const dir = path.join(root, 'run');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const loaded: LoadedSpec = { spec, file: path.join(dir, 'spec.yaml'), baseDir: dir };
  const c0 = childCpuMs();
  const s = await runPipeline(loaded, { backend, workers, resume: false, store: path.join(dir, 'store'), progress: 'silent' });
  // Both checkpoints decode the same clips: half the children's CPU is the warm one's.
  const ffmpegCpu = (childCpuMs() - c0) / 2;
  if (s.status !== 'succeeded' || s.checkpoints.length !== 2 || s.errors > 0) throw new Error(`pipeline: ${s.status}, ${s.checkpoints.length} checkpoints, ${s.errors} errors`);
  const w = s.checkpoints[1];
  return { cold: s.checkpoints[0].images_per_s, warm: w.images_per_s, cpuMsPerClip: (1000 * w.cpu_s) / w.samples, ffmpegCpuMsPerClip: ffmpegCpu / w.samples, busy: w.busy_s };
}

// ---------------------------------------------------------------------------------------------

const info = await setupBackend(backend);
console.log(`backend ${info.name}${info.simd ? ' (simd)' : ''}, ${os.availableParallelism()} cores, reps ${reps}, load average at start ${load()}`);
const { spec, ckptDir } = await setup();
const pre = spec.model.input as Preprocess;
const source = await openDatasetSource(spec.dataset, spec.model.input, root);
const clipsTotal = source.size;
const batch = spec.batch_size;
const tasks: ClipDecodeTask[] = [];
for (let s = 0; s < clipsTotal; s += batch) tasks.push(source.decodeTask(s, Math.min(clipsTotal, s + batch)) as ClipDecodeTask);
// The extra frames the motion channels read, counted as decodeClips counts them (decode-clips.ts),
// so the bench cannot drift from the decoder. Every task of the source has the same clip length.
const layout0 = clipLayoutOf(tasks[0]!, pre);
const extra = decodedFrames(layout0) - layout0.frames;
const inputShape = sampleShape(spec);
console.log(`${clipsTotal} clips of ${inputShape.join('x')} (${N('clips')} per video, stride ${N('stride')}), ${tasks.length} decode tasks of ${batch}; taps ${LAYERS.join(', ')}`);

// (a)
const dec: Record<number, DecodeRate> = {};
for (const threads of [1, 2]) {
  for (let r = 0; r < reps; r++) {
    const d = await decodeRate(tasks, pre, threads, extra);
    console.log(`  decode ${threads} thread(s), rep ${r + 1}: ${f1(d.clips / d.seconds)} clips/s, ${f1(d.frames / d.seconds)} frames/s`);
    if (!dec[threads] || d.seconds < dec[threads].seconds) dec[threads] = d;
  }
}
note('after decode');
const sp = await decodeSplit(tasks, pre);
const perClip = (ms: number) => ms / sp.clips;
console.log(
  `  one thread, step by step, ms per clip: ffmpeg ${f2(perClip(sp.ffmpegMs))} wall (${f2(perClip(sp.ffmpegCpuMs))} CPU in ffmpeg), ` +
    `appearance ${f2(perClip(sp.appearanceMs))}, optical flow ${f2(perClip(sp.layoutMs - sp.appearanceMs))} (${sp.frames} frames for ${sp.clips} clips)`,
);
note('after decode split');

// (b): the dataset's first decoded batch as the input of every predict.
const first = await (async () => {
  const pool = createPool<DecodeRequest, DecodeResponse>(new URL('../src/workers/decode.ts', import.meta.url), { threads: 1 });
  try {
    return await pool.run({ task: tasks[0], pre }, { transfer: false });
  } finally {
    await pool.dispose();
  }
})();
if (first.sampleIds.length !== batch) throw new Error(`first batch decoded ${first.sampleIds.length} of ${batch} clips`);
const modelDir = path.join(ckptDir, 'ckpt-000000');
const bare: Record<number, { predict: number; tap: number }> = {};
const pipe: Record<number, PipelineRate> = {};
for (const w of [2, 1]) {
  for (let r = 0; r < reps; r++) {
    const c = await computeRates(modelDir, first.data, batch, inputShape, w);
    const p = await pipeline(spec, w);
    console.log(
      `  ${w} worker(s), rep ${r + 1}: bare predict ${f1(c.predict)} clips/s, infer stage ${f1(c.tap)} clips/s; ` +
        `pipeline cold ${f1(p.cold)}, warm ${f1(p.warm)} clips/s (CPU ${f1(p.cpuMsPerClip)} + ffmpeg ${f1(p.ffmpegCpuMsPerClip)} ms/clip, infer busy ${f1(p.busy.infer)} s, sink busy ${f1(p.busy.sink)} s)`,
    );
    if (!bare[w] || c.predict > bare[w].predict) bare[w] = { predict: c.predict, tap: Math.max(c.tap, bare[w]?.tap ?? 0) };
    else bare[w].tap = Math.max(bare[w].tap, c.tap);
    if (!pipe[w] || p.warm > pipe[w].warm) pipe[w] = p;
  }
  note(`after ${w} worker(s)`);
}
await rm(root, { recursive: true, force: true });

const rows: string[][] = [];
const row = (...c: string[]) => rows.push(c);
const rate = (d: DecodeRate) => `${f1(d.clips / d.seconds)} clips/s, ${f1(d.frames / d.seconds)} frames/s (${f1(d.source / d.seconds)} decoded from the files)`;
row('decode stage, 1 thread', rate(dec[1]), '');
row('decode stage, 2 threads', rate(dec[2]), f2(dec[2].seconds > 0 ? dec[1].seconds / dec[2].seconds : 0) + ' (2t / 1t)');
const split = `ffmpeg ${f2(perClip(sp.ffmpegMs))} (CPU ${f2(perClip(sp.ffmpegCpuMs))}), appearance ${f2(perClip(sp.appearanceMs))}, flow ${f2(perClip(sp.layoutMs - sp.appearanceMs))}`;
row('  one thread, ms per clip', split, `flow share ${f2((sp.layoutMs - sp.appearanceMs) / (sp.ffmpegMs + sp.layoutMs))}`);
for (const w of [1, 2]) {
  row(`bare predict, ${w}w`, `${f1(bare[w].predict)} clips/s`, '');
  row(`infer stage (Tapper.run), ${w}w`, `${f1(bare[w].tap)} clips/s`, f2(bare[w].tap / bare[w].predict) + ' of bare');
  row(`pipeline warm, ${w}w`, `${f1(pipe[w].warm)} clips/s`, f2(pipe[w].warm / bare[w].predict) + ' of bare');
  row(`  CPU ms/clip, pipeline ${w}w`, `${f1(pipe[w].cpuMsPerClip)} + ffmpeg ${f1(pipe[w].ffmpegCpuMsPerClip)}`, '');
}
// runPipeline gives ceil(workers / 2) decode threads: 1 for both 1 and 2 infer workers.
const decodeClipsPerS = dec[1].clips / dec[1].seconds;
// Does decode keep up with inference? Decode alone vs bare predict; the pipeline vs decode alone.
row('decode (1 thread) / bare predict 2w', `${f1(decodeClipsPerS)} / ${f1(bare[2].predict)} clips/s`, f2(decodeClipsPerS / bare[2].predict) + (decodeClipsPerS >= bare[2].predict ? ' (decode keeps up)' : ' (decode is the limit)'));
row('pipeline 2w / decode (1 thread)', `${f1(pipe[2].warm)} / ${f1(decodeClipsPerS)} clips/s`, f2(pipe[2].warm / decodeClipsPerS));
row('pipeline 2w / 1w', `${f1(pipe[2].warm)} / ${f1(pipe[1].warm)}`, f2(pipe[2].warm / pipe[1].warm));
row('bare predict 2w / 1w', `${f1(bare[2].predict)} / ${f1(bare[1].predict)}`, f2(bare[2].predict / bare[1].predict));

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`\n${rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n')}`);
console.log(`\nload average (1, 5, 15 min): ${loads.join('; ')}; at end ${load()}`);
