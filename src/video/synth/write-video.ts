/**
 * Encodes RGB24 frames to an H.264 MP4 through an ffmpeg child process (Debian's ffmpeg with
 * libx264; nothing is downloaded). The encoder plumbing (frames piped as rawvideo with
 * backpressure, a temporary name in the same directory renamed when ffmpeg succeeds, stderr in
 * the errors, a timeout for a hung ffmpeg) is ../ffmpeg-encode.ts, shared with the renders'
 * animations; this file chooses the MP4 arguments and checks the options.
 */
import { NeurolensError } from '../../errors.js';
import { encodeFrames, type Frames } from '../ffmpeg-encode.js';

export interface VideoWriteOptions {
  width: number;
  height: number;
  fps: number;
  /** x264 constant rate factor: 0 lossless .. 51 worst; 18-23 is visually clean. */
  crf?: number;
  /** x264 preset (speed/size trade-off). */
  preset?: string;
  /** Encoder threads; 1 when several encoders run side by side. */
  threads?: number;
  /** The ffmpeg binary. */
  ffmpeg?: string;
  /** Kill ffmpeg after this long without progress (default ENCODE_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface VideoWriteResult {
  path: string;
  frames: number;
  bytes: number;
}

export function ffmpegArgs(o: VideoWriteOptions, out: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.width}x${o.height}`, '-r', String(o.fps), '-i', '-',
    '-c:v', 'libx264', '-preset', o.preset ?? 'medium', '-pix_fmt', 'yuv420p', '-crf', String(o.crf ?? 20),
    ...(o.threads ? ['-threads', String(o.threads)] : []),
    '-an', '-f', 'mp4', '-y', out,
  ];
}

function validate(path: string, o: VideoWriteOptions): void {
  const bad = (why: string) => new NeurolensError('BAD_SPEC', `writeVideo ${path}: ${why}`);
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 2 || o[k] % 2 !== 0) throw bad(`${k} must be an even integer >= 2 (yuv420p halves the chroma planes), got ${o[k]}`);
  }
  if (!(o.fps > 0)) throw bad(`fps must be positive, got ${o.fps}`);
  if (o.crf !== undefined && !(Number.isInteger(o.crf) && o.crf >= 0 && o.crf <= 51)) throw bad(`crf must be an integer in 0..51, got ${o.crf}`);
}

/** Writes `frames` (RGB24, width*height*3 bytes each) to `path` as H.264/yuv420p MP4. */
export async function writeVideo(path: string, frames: Frames, o: VideoWriteOptions): Promise<VideoWriteResult> {
  validate(path, o);
  return encodeFrames(path, frames, {
    args: (out) => ffmpegArgs(o, out),
    frameBytes: o.width * o.height * 3,
    frameDesc: `${o.width}x${o.height} RGB24`,
    label: `writeVideo ${path}`,
    ffmpeg: o.ffmpeg,
    timeoutMs: o.timeoutMs,
  });
}
