/**
 * The frames of one clip sample read back for pictures (not for the model: decode-clips.ts makes
 * the model's tensors). The clip's place in its video comes from the video source's own task
 * (the same starts, stride and fps resampling the pipeline used), its frames are decoded by
 * ffmpeg (ffmpeg-frames.ts `readFrames`) at the size asked for, or at the video's own size.
 * Errors name the sample, the video and the reason (NeurolensError 'BAD_INPUT').
 */
import { NeurolensError } from '../errors.js';
import type { Image8 } from '../render/canvas.js';
import type { ClipDecodeTask, Source } from '../sources/types.js';
import { readFrames } from './ffmpeg-frames.js';
import { probeVideo, type VideoInfo } from './probe.js';
import { VideoSource } from '../sources/video.js';

export interface ClipFrameOptions {
  width: number;
  height: number;
  /** How the frame fits width x height (default 'stretch'), as the pipeline's `model.input.fit`. */
  fit?: 'stretch' | 'cover';
  /** Also the frame after the clip (T + 1 frames: what motion channels are computed from). */
  next?: boolean;
}

export interface ClipFrames {
  frames: Image8[];
  uri: string;
  /** First frame of the clip and the step between its frames, in the (resampled) stream. */
  start: number;
  stride: number;
  /** Frame numbers of `frames` in that stream. */
  numbers: number[];
}

function clipTask(source: Source, sampleId: number): ClipDecodeTask {
  const task = source.decodeTask(sampleId, sampleId + 1);
  if (task.kind !== 'clips') throw new NeurolensError('BAD_SPEC', `sample ${sampleId} is an image of a ${source.kind} dataset, not a clip`);
  const why = task.failures[0] ?? (task.starts[0]! < 0 ? 'video could not be read' : null);
  if (why) throw new NeurolensError('BAD_INPUT', `sample ${sampleId} (${task.uris[0]}): ${why}`);
  return task;
}

async function read(task: ClipDecodeTask, sampleId: number, numbers: number[], o: Required<Pick<ClipFrameOptions, 'width' | 'height' | 'fit'>>): Promise<Image8[]> {
  const uri = task.uris[0]!;
  const r = await readFrames(uri, { frames: numbers, width: o.width, height: o.height, fit: o.fit, fps: task.fps });
  if (r.data.length < numbers.length) {
    const why = r.failure ?? `video ended early: got ${r.data.length} of frames ${numbers[0]}..${numbers[numbers.length - 1]}`;
    throw new NeurolensError('BAD_INPUT', `sample ${sampleId} (${uri}): ${why}`);
  }
  return r.data.map((data) => ({ width: o.width, height: o.height, channels: 3, data: data.slice() }));
}

/** The T (or T + 1 with `next`) RGB frames of clip sample `sampleId` at width x height. */
export async function loadClipFrames(source: Source, sampleId: number, o: ClipFrameOptions): Promise<ClipFrames> {
  const task = clipTask(source, sampleId);
  const start = task.starts[0]!;
  const n = task.frames + (o.next ? 1 : 0);
  const numbers = Array.from({ length: n }, (_, i) => start + i * task.stride);
  const frames = await read(task, sampleId, numbers, { width: o.width, height: o.height, fit: o.fit ?? 'stretch' });
  return { frames, uri: task.uris[0]!, start, stride: task.stride, numbers };
}

/** The video's size: from the source's probe when it kept one (VideoSource), else ffprobe. */
async function videoSize(source: Source, sampleId: number, uri: string): Promise<VideoInfo> {
  const kept = source instanceof VideoSource ? source.videos[Math.floor(sampleId / source.plan.count)]?.probe : undefined;
  if (kept?.ok) return kept.info;
  const p = await probeVideo(uri);
  if (!p.ok) throw new NeurolensError('BAD_INPUT', `sample ${sampleId} (${uri}): ${p.reason}`);
  return p.info;
}

/**
 * The middle input frame of a clip (frame start + floor(T / 2) * stride) at the video's own
 * size: the one picture of a clip that mosaics, t-SNE grids and the server's sample PNGs show.
 */
export async function loadClipMiddleFrame(source: Source, sampleId: number): Promise<Image8> {
  const task = clipTask(source, sampleId);
  const uri = task.uris[0]!;
  const { width, height } = await videoSize(source, sampleId, uri);
  const frame = task.starts[0]! + Math.floor(task.frames / 2) * task.stride;
  const [img] = await read(task, sampleId, [frame], { width, height, fit: 'stretch' });
  return img!;
}
