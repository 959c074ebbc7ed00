/**
 * Animations (GIF or MP4) through the system ffmpeg, run as a child process with raw RGB24
 * frames on its stdin (nothing is downloaded; `neurolens doctor` reports whether ffmpeg is there).
 *
 * - GIF: one filter graph makes a palette from all frames and maps them onto it
 *   (`split[a][b];[a]palettegen[p];[b][p]paletteuse`, the two-pass palette recipe in one pass),
 *   which keeps flat figure colours exact where the default 256-colour GIF palette would not;
 *   loops forever.
 * - MP4: H.264 (libx264) in yuv420p so every player opens it; 4:2:0 needs an even width and
 *   height, so odd sizes are padded with one white row / column (the figures' background).
 * - Like every file the store writes, the output goes to a temporary name in the same directory
 *   and is renamed into place, so a reader never sees half a file and a failure leaves none
 *   (src/video/ffmpeg-encode.ts runs the encoder for this and for `make-actions`' videos).
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { encodeFrames } from '../video/ffmpeg-encode.js';
import type { ClipItem } from './clip-cells.js';
import { clipGridFrames, type ClipGridLayout, type ClipGridOptions } from './clip-grid.js';

export type AnimationFormat = 'gif' | 'mp4';

export interface AnimationOptions {
  width: number;
  height: number;
  /** Frames per second (> 0). */
  fps: number;
  /** Default: from the file extension (.mp4, else GIF). */
  format?: AnimationFormat;
  /** The ffmpeg executable (default `ffmpeg` on PATH). */
  ffmpeg?: string;
  /** x264 constant rate factor for MP4 (default 18: figures have thin lines and small text). */
  crf?: number;
  /** Kill ffmpeg after this long without progress (default ENCODE_TIMEOUT_MS, src/video/ffmpeg-encode.ts). */
  timeoutMs?: number;
}

export function animationFormat(file: string, format?: AnimationFormat): AnimationFormat {
  return format ?? (path.extname(file).toLowerCase() === '.mp4' ? 'mp4' : 'gif');
}

function ffmpegArgs(o: AnimationOptions, format: AnimationFormat, out: string): string[] {
  const input = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.width}x${o.height}`, '-framerate', String(o.fps), '-i', 'pipe:0'];
  if (format === 'gif') {
    return [...input, '-filter_complex', '[0:v]split[a][b];[a]palettegen[p];[b][p]paletteuse', '-loop', '0', '-f', 'gif', out];
  }
  return [
    ...input,
    '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0:color=white',
    '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-crf', String(o.crf ?? 18),
    '-movflags', '+faststart', '-f', 'mp4', out,
  ];
}

/**
 * Writes RGB24 frames (width x height x 3 bytes each) as a GIF or MP4 at `file`. Failures are
 * NeurolensError 'IO' naming the file, with ffmpeg's own message.
 */
export async function writeAnimation(file: string, frames: Uint8Array[], o: AnimationOptions): Promise<void> {
  if (!Number.isInteger(o.width) || !Number.isInteger(o.height) || o.width < 1 || o.height < 1) throw new Error(`animation size must be positive integers, got ${o.width}x${o.height}`);
  if (!(o.fps > 0 && Number.isFinite(o.fps))) throw new NeurolensError('BAD_SPEC', `animation fps must be a positive number, got ${o.fps}`);
  if (frames.length === 0) throw new NeurolensError('BAD_SPEC', `animation ${file}: no frames to write`);
  const bytes = o.width * o.height * 3;
  const bad = frames.findIndex((f) => f.length !== bytes);
  if (bad >= 0) throw new Error(`animation frame ${bad} has ${frames[bad]!.length} bytes, expected ${bytes} (${o.width}x${o.height} RGB24)`);
  const format = animationFormat(file, o.format);
  await encodeFrames(file, frames, {
    args: (out) => ffmpegArgs(o, format, out),
    frameBytes: bytes,
    frameDesc: `${o.width}x${o.height} RGB24`,
    label: `cannot write ${format.toUpperCase()} ${file}`,
    ffmpeg: o.ffmpeg,
    timeoutMs: o.timeoutMs,
  });
}

export interface AnimateClipsOptions extends ClipGridOptions {
  /** Default 4: clips of 8 to 16 frames play slowly enough to follow the box. */
  fps?: number;
  format?: AnimationFormat;
  ffmpeg?: string;
}

/**
 * The top-k clips of a unit as one animation: a grid of clips playing together, each with its
 * caption, its receptive-field box on every frame and a border while it shows its argmax frame
 * (clip-grid.ts). Returns the grid layout.
 */
export async function animateClips(file: string, clips: ClipItem[], o: AnimateClipsOptions = {}): Promise<ClipGridLayout> {
  const { frames, layout } = clipGridFrames(clips, o);
  await writeAnimation(
    file,
    frames.map((f) => f.data),
    { width: layout.width, height: layout.height, fps: o.fps ?? 4, format: o.format, ffmpeg: o.ffmpeg },
  );
  return layout;
}
