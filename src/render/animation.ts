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
 *   and is renamed into place, so a reader never sees half a file and a failure leaves none.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';
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

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Runs ffmpeg with `frames` on stdin; resolves with how it ended and the tail of its stderr. */
async function runFfmpeg(cmd: string, args: string[], frames: Uint8Array[]): Promise<{ exit: Exit; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-8000);
  });
  // Never rejects: a spawn error (no ffmpeg) is reported like a failed run.
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  // EPIPE when ffmpeg stops reading early (bad output path...): its exit status and stderr say why.
  child.stdin.on('error', () => {});
  for (const f of frames) {
    if (child.stdin.destroyed) break;
    if (!child.stdin.write(f)) {
      await new Promise<void>((resolve) => {
        child.stdin.once('drain', resolve);
        child.stdin.once('close', resolve);
      });
    }
  }
  child.stdin.end();
  return { exit: await exited, stderr: stderr.trim() };
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
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const cmd = o.ffmpeg ?? 'ffmpeg';
  const { exit, stderr } = await runFfmpeg(cmd, ffmpegArgs(o, format, tmp), frames);
  if (exit.error || exit.code !== 0) {
    await fs.rm(tmp, { force: true });
    const dirMissing = await fs.stat(dir).then(() => false, () => true);
    const why = exit.error
      ? `cannot run ${cmd} (${errorMessage(exit.error)}); install ffmpeg (\`apt-get install -y ffmpeg\`) or pass its path`
      : `ffmpeg failed (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`})${dirMissing ? `: directory ${dir} does not exist` : ''}${stderr ? `\n${stderr}` : ''}`;
    throw new NeurolensError('IO', `cannot write ${format.toUpperCase()} ${file}: ${why}`, { cause: exit.error });
  }
  try {
    await fs.rename(tmp, abs);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new NeurolensError('IO', `cannot write ${format.toUpperCase()} ${file}: ${errorMessage(e)}`, { cause: e });
  }
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
