/**
 * Encodes RGB24 frames to an H.264 MP4 through an ffmpeg child process (Debian's ffmpeg with
 * libx264; nothing is downloaded). Frames are piped as rawvideo with backpressure, the file is
 * written under a temporary name in the same directory and renamed when ffmpeg succeeds, so a
 * failed or interrupted encode never leaves a partial file under the final name.
 * Reusable for any animated output (e.g. an MP4 of pictures over training).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NeurolensError } from '../../errors.js';

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
}

export interface VideoWriteResult {
  path: string;
  frames: number;
  bytes: number;
}

type Frames = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

let tmpCounter = 0;
const STDERR_KEEP = 8192;

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
  const frameBytes = o.width * o.height * 3;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${tmpCounter++}.partial`);
  const child = spawn(o.ffmpeg ?? 'ffmpeg', ffmpegArgs(o, tmp), { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-STDERR_KEEP);
  });
  // ffmpeg dying mid-stream makes our writes fail with EPIPE; the exit status tells why.
  child.stdin.on('error', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => (done = true));
  const fail = async (code: 'IO' | 'BAD_INPUT', why: string, cause?: unknown): Promise<never> => {
    if (!done) child.kill('SIGKILL');
    await exited;
    await rm(tmp, { force: true });
    const tail = stderr.trim() ? `\nffmpeg: ${stderr.trim()}` : '';
    throw new NeurolensError(code, `writeVideo ${path}: ${why}${tail}`, { cause });
  };

  let n = 0;
  const it = (Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : frames[Symbol.iterator]()) as AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await it.next();
    } catch (e) {
      return fail('IO', `producing frame ${n} failed: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    if (next.done) break;
    const f = next.value;
    if (f.length !== frameBytes) return fail('BAD_INPUT', `frame ${n} has ${f.length} bytes, expected ${frameBytes} (${o.width}x${o.height} RGB24)`);
    if (done) break; // ffmpeg already exited: its status below says why
    if (!child.stdin.write(f)) await Promise.race([once(child.stdin, 'drain'), exited]);
    n++;
  }
  child.stdin.end();
  const r = await exited;
  if (r.error) {
    await rm(tmp, { force: true });
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NeurolensError(
      missing ? 'BACKEND' : 'IO',
      missing ? `writeVideo ${path}: ffmpeg not found (${o.ffmpeg ?? 'ffmpeg'}); install it, e.g. apt-get install -y ffmpeg` : `writeVideo ${path}: cannot run ffmpeg: ${r.error.message}`,
      { cause: r.error },
    );
  }
  if (r.code !== 0) return fail('IO', `ffmpeg exited with ${r.signal ?? `code ${r.code}`} after ${n} frames`);
  if (n === 0) return fail('BAD_INPUT', 'no frames to encode');
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new NeurolensError('IO', `writeVideo ${path}: cannot rename the encoded file into place: ${(e as Error).message}`, { cause: e });
  }
  return { path, frames: n, bytes: (await stat(path)).size };
}
