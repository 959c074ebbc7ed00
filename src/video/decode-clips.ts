/**
 * Decode stage for clips: each video of a task is decoded once by ffmpeg (only the frames its
 * clips in the task read, already scaled to the model's size; ffmpeg-frames.ts), then every clip
 * is laid out as [T, H, W, A + M] float32 (clip-layout.ts): the appearance channels normalised as
 * images are ((v * scale - mean[c]) / std[c], grey = BT.601 luma), the motion channels from the
 * clip's T + 1 frames (optical flow or a frame difference; flow.ts).
 *
 * A clip whose video cannot be read, is too short, or ends (truncated, corrupt) before the
 * clip's last frame becomes an error record naming the video, the clip and the reason; the
 * other clips of the task are unaffected. Never throws for bad data.
 */
import { NeurolensError } from '../errors.js';
import type { ClipDecodeTask, DecodedBatch, Preprocess, SampleError } from '../sources/types.js';
import { clipChannels, clipSize, decodedFrames, type ClipLayout } from './clip-layout.js';
import { framesToRead } from './clips.js';
import { readFramesBatch } from './ffmpeg-frames.js';
import { OpticalFlow, clipMotion, rgbToLuma } from './flow.js';

/** One OpticalFlow (its scratch buffers) per size, kept for the life of the worker thread. */
const flows = new Map<string, OpticalFlow>();
function flowFor(w: number, h: number): OpticalFlow {
  const key = `${w}x${h}`;
  let f = flows.get(key);
  if (!f) flows.set(key, (f = new OpticalFlow(w, h)));
  return f;
}

/** Luma scratch of one clip's decoded frames, grown on demand and reused across clips. */
let lumaScratch = new Float32Array(0);

export function clipLayoutOf(task: Pick<ClipDecodeTask, 'frames'>, pre: Preprocess): ClipLayout {
  return { frames: task.frames, height: pre.height, width: pre.width, appearance: pre.channels, motion: pre.motion ?? 'none', motionScale: pre.motion_scale ?? 1 };
}

/** Writes the appearance channels of T RGB24 frames into a clip at `offset`. */
function writeAppearance(frames: Uint8Array[], pre: Preprocess, layout: ClipLayout, out: Float32Array, offset: number): void {
  const A = layout.appearance;
  const stride = clipChannels(layout);
  const n = layout.height * layout.width;
  const mean = Array.from({ length: A }, (_, c) => pre.mean[pre.mean.length === 1 ? 0 : c]);
  const std = Array.from({ length: A }, (_, c) => pre.std[pre.std.length === 1 ? 0 : c]);
  for (let t = 0; t < layout.frames; t++) {
    const d = frames[t];
    let o = offset + t * n * stride;
    for (let p = 0; p < n; p++, o += stride) {
      if (A === 3) {
        for (let c = 0; c < 3; c++) out[o + c] = (d[p * 3 + c] * pre.scale - mean[c]) / std[c];
      } else {
        const v = 0.299 * d[p * 3] + 0.587 * d[p * 3 + 1] + 0.114 * d[p * 3 + 2];
        out[o] = (v * pre.scale - mean[0]) / std[0];
      }
    }
  }
}

/** Fills one clip (appearance + motion) from its decoded frames (T, or T + 1 with motion). */
export function layoutClip(frames: Uint8Array[], pre: Preprocess, layout: ClipLayout, out: Float32Array, offset: number): void {
  writeAppearance(frames, pre, layout, out, offset);
  if (layout.motion === 'none') return;
  const n = layout.height * layout.width;
  if (lumaScratch.length < (layout.frames + 1) * n) lumaScratch = new Float32Array((layout.frames + 1) * n);
  const luma = lumaScratch.subarray(0, (layout.frames + 1) * n);
  for (let t = 0; t <= layout.frames; t++) rgbToLuma(frames[t], luma.subarray(t * n, (t + 1) * n));
  const flow = layout.motion === 'flow' ? flowFor(layout.width, layout.height) : undefined;
  clipMotion(luma, layout.frames, layout.width, layout.height, layout.motion, layout.motionScale, out, { offset, channel: layout.appearance, stride: clipChannels(layout) }, flow);
}

export async function decodeClips(task: ClipDecodeTask, pre: Preprocess): Promise<DecodedBatch> {
  const n = task.sampleIds.length;
  if (task.uris.length !== n || task.starts.length !== n || task.failures.length !== n) {
    throw new NeurolensError('INTERNAL', `clip decode task has ${n} sample ids, ${task.uris.length} uris, ${task.starts.length} starts`);
  }
  const layout = clipLayoutOf(task, pre);
  const per = clipSize(layout);
  const extra = decodedFrames(layout) - layout.frames;
  const data = new Float32Array(n * per);
  const failed = new Map<number, SampleError>();
  const fail = (i: number, reason: string) =>
    failed.set(i, { sampleId: task.sampleIds[i], uri: task.uris[i], stage: 'decode', reason: `clip at frame ${task.starts[i]}: ${reason}` });

  // Clips of one video are adjacent: one ffmpeg run per video.
  const groups: number[][] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && task.uris[i] === task.uris[i - 1]) groups[groups.length - 1].push(i);
    else groups.push([i]);
  }
  // Clips known to fail (unreadable or too short video) get their error now; the others' videos
  // are decoded together (readFramesBatch: several videos per ffmpeg process).
  const plan = { frames: layout.frames, stride: task.stride, extra };
  const jobs = groups
    .map((g) => {
      const ok = g.filter((i) => {
        const f = task.failures[i];
        if (f !== null || task.starts[i] < 0) failed.set(i, { sampleId: task.sampleIds[i], uri: task.uris[i], stage: 'decode', reason: f ?? 'video could not be read' });
        return f === null && task.starts[i] >= 0;
      });
      return { ok, ...framesToRead(ok.map((i) => task.starts[i]), plan) };
    })
    .filter((j) => j.ok.length > 0);
  const results = await readFramesBatch(jobs.map((j) => ({ file: task.uris[j.ok[0]], req: { frames: j.frames, width: pre.width, height: pre.height, fit: pre.fit, fps: task.fps } })));
  jobs.forEach(({ ok, frames, index }, g) => {
    const r = results[g];
    ok.forEach((i, k) => {
      const pos = index[k];
      const last = pos[pos.length - 1];
      if (last >= r.data.length) {
        const got = r.data.length ? `decoding stopped after frame ${frames[r.data.length - 1]}` : 'no frame could be decoded';
        fail(i, r.failure ?? `video ended early: ${got}, the clip needs frames ${frames[pos[0]]}..${frames[last]} (truncated, or shorter than its header says)`);
        return;
      }
      layoutClip(pos.map((p) => r.data[p]), pre, layout, data, i * per);
    });
  });
  if (failed.size === 0) return { sampleIds: task.sampleIds.slice(), data, errors: [] };
  const keep = [...Array(n).keys()].filter((i) => !failed.has(i));
  const packed = new Float32Array(keep.length * per);
  keep.forEach((i, j) => packed.set(data.subarray(i * per, (i + 1) * per), j * per));
  return {
    sampleIds: Int32Array.from(keep, (i) => task.sampleIds[i]),
    data: packed,
    errors: [...failed.keys()].sort((a, b) => a - b).map((i) => failed.get(i)!),
  };
}
