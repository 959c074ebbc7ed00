/**
 * Bench worker for bench/video.ts (piscina, started through src/workers/pool.ts like the
 * pipeline's workers). Two jobs:
 *
 * - 'split': one clip decode task done the way decodeClips does it (src/video/decode-clips.ts),
 *   but one step at a time so each step can be timed: ffmpeg (readFramesBatch over the task's videos, as decodeClips: wall time,
 *   and the CPU of the ffmpeg children from /proc/self/stat cutime + cstime, so run it alone in
 *   a one-thread pool), then the clip layout without motion (appearance channels only) and with
 *   the spec's motion (appearance + optical flow). Flow time = the difference.
 * - 'predict' / 'tap': bare `model.predict` (one download of the output) or the infer stage's
 *   work (Tapper.run: upload, tapped forward pass, on-backend reduction, downloads) on a batch of
 *   pre-decoded clips sent with the request (the same values every time).
 */
import { readFileSync } from 'node:fs';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { loadModelDir, type LoadedModel } from '../src/model/io.js';
import { Tapper } from '../src/model/taps.js';
import { tf, type tfc } from '../src/model/tf.js';
import type { ClipDecodeTask, Preprocess } from '../src/sources/types.js';
import { clipChannels, decodedFrames } from '../src/video/clip-layout.js';
import { framesToRead } from '../src/video/clips.js';
import { clipLayoutOf, layoutClip } from '../src/video/decode-clips.js';
import { readFramesBatch } from '../src/video/ffmpeg-frames.js';
import { workerEntry } from '../src/workers/pool.js';

export type VideoBenchRequest =
  | { kind: 'split'; task: ClipDecodeTask; pre: Preprocess }
  | { kind: 'predict' | 'tap'; modelDir: string; backend: BackendChoice; batch: number; inputShape: number[]; values: Float32Array; layers?: string[] };

export interface SplitResult {
  clips: number;
  /** Frames ffmpeg delivered (each video's distinct frames its clips read). */
  frames: number;
  ffmpegMs: number;
  /** CPU of the ffmpeg child processes (user + system). */
  ffmpegCpuMs: number;
  appearanceMs: number;
  /** Appearance + motion channels (the full layout). */
  layoutMs: number;
}

export type VideoBenchResponse = SplitResult | { clips: number; ms: number };

/** CPU milliseconds of this process' reaped children (cutime + cstime of /proc/self/stat). */
export function childCpuMs(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat(5) are index 13, 14 after the ')' of the command name.
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100; // USER_HZ is 100 on Linux
}

async function split(task: ClipDecodeTask, pre: Preprocess): Promise<SplitResult> {
  const layout = clipLayoutOf(task, pre);
  const flat = { ...layout, motion: 'none' as const };
  const per = layout.frames * layout.height * layout.width * clipChannels(layout);
  const out = new Float32Array(per);
  const flatOut = new Float32Array(layout.frames * layout.height * layout.width * clipChannels(flat));
  const r: SplitResult = { clips: 0, frames: 0, ffmpegMs: 0, ffmpegCpuMs: 0, appearanceMs: 0, layoutMs: 0 };
  const n = task.sampleIds.length;
  // The videos of the task, decoded together as decodeClips does (readFramesBatch).
  // The extra frames as decodeClips counts them (decode-clips.ts), so the split cannot drift from it.
  const plan = { frames: layout.frames, stride: task.stride, extra: decodedFrames(layout) - layout.frames };
  const videos: { uri: string; frames: number[]; index: number[][] }[] = [];
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && task.uris[j] === task.uris[i]) j++;
    videos.push({ uri: task.uris[i], ...framesToRead(Array.from(task.starts.subarray(i, j)), plan) });
    i = j;
  }
  const c0 = childCpuMs();
  const t0 = performance.now();
  const got = await readFramesBatch(videos.map((v) => ({ file: v.uri, req: { frames: v.frames, width: pre.width, height: pre.height, fit: pre.fit, fps: task.fps } })));
  r.ffmpegMs += performance.now() - t0;
  r.ffmpegCpuMs += childCpuMs() - c0;
  videos.forEach((v, k) => {
    const g = got[k];
    if (g.failure || g.data.length < v.frames.length) throw new Error(`bench video ${v.uri}: ${g.failure ?? 'short read'}`);
    r.frames += g.data.length;
    for (const pos of v.index) {
      const fr = pos.map((p) => g.data[p]);
      const t1 = performance.now();
      layoutClip(fr, pre, flat, flatOut, 0);
      const t2 = performance.now();
      layoutClip(fr, pre, layout, out, 0);
      r.layoutMs += performance.now() - t2;
      r.appearanceMs += t2 - t1;
      r.clips++;
    }
  });
  return r;
}

let current: { dir: string; loaded: LoadedModel; tapper?: { key: string; t: Tapper } } | null = null;

async function run(req: VideoBenchRequest): Promise<VideoBenchResponse> {
  if (req.kind === 'split') return split(req.task, req.pre);
  await setupBackend(req.backend);
  if (current?.dir !== req.modelDir) {
    current?.loaded.model.dispose();
    current = { dir: req.modelDir, loaded: await loadModelDir(req.modelDir) };
  }
  if (req.kind === 'tap') {
    const key = (req.layers ?? []).join(',');
    if (current.tapper?.key !== key) current.tapper = { key, t: await Tapper.create(current.loaded, req.layers ?? [], { predictions: true }) };
    const t0 = performance.now();
    current.tapper.t.run(req.values, req.batch);
    return { clips: req.batch, ms: performance.now() - t0 };
  }
  const model = current.loaded.model;
  const t0 = performance.now();
  tf.tidy(() => {
    const x = tf.tensor(req.values, [req.batch, ...req.inputShape], 'float32');
    const y = model.predict(x) as tfc.Tensor | tfc.Tensor[];
    (Array.isArray(y) ? y[0] : y).dataSync();
  });
  return { clips: req.batch, ms: performance.now() - t0 };
}

export default workerEntry(run);
