/**
 * The one place that runs an ffmpeg encoder fed raw frames on its stdin (Debian's ffmpeg as a
 * child process; nothing is downloaded). Used by the MP4 writer of `make-actions`
 * (synth/write-video.ts) and by the GIF/MP4 animations of the renders (render/animation.ts);
 * the callers choose ffmpeg's arguments, this module does the rest:
 *
 * - frames are written with backpressure (a full pipe waits for 'drain'), so a producer that
 *   draws frames lazily (an iterator) never holds more than a pipe's worth;
 * - every frame must have `frameBytes` bytes: a wrong one stops the encode (BAD_INPUT);
 * - ffmpeg writes to a temporary dot-name in the destination's directory that is renamed into
 *   place only when ffmpeg exits cleanly, so readers never see half a file and a failure leaves
 *   none (the store's rule for every file);
 * - a hung ffmpeg (one that stops reading frames, or does not exit after the last) is killed
 *   after `timeoutMs` without progress;
 * - failures are NeurolensError 'IO' (or 'BAD_INPUT' for the frames) whose message starts with
 *   the caller's `label` and ends with the tail of ffmpeg's stderr.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { NeurolensError, errorMessage } from '../errors.js';

export type Frames = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface EncodeOptions {
  /** ffmpeg's arguments given the path it must write (a temporary name beside the file). */
  args: (out: string) => string[];
  /** Bytes of every frame (width * height * 3 for RGB24). */
  frameBytes: number;
  /** What a frame is, for the error about a wrong one (e.g. `16x16 RGB24`). */
  frameDesc: string;
  /** Start of every error message, naming the output (e.g. `writeVideo out/a.mp4`). */
  label: string;
  /** The ffmpeg executable (default `ffmpeg` on PATH). */
  ffmpeg?: string;
  /** Longest wait for ffmpeg to take the next frame, or to exit after the last, before it is killed. */
  timeoutMs?: number;
}

export interface EncodeResult {
  path: string;
  frames: number;
  bytes: number;
}

/** Default of `timeoutMs`: far above any encode of a figure or a dataset video. */
export const ENCODE_TIMEOUT_MS = 120_000;
const STDERR_KEEP = 8192;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

const STALLED = Symbol('stalled');

/** `p`, or STALLED when it has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof STALLED> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof STALLED>((resolve) => (timer = setTimeout(() => resolve(STALLED), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An ffmpeg child with frames on stdin: how it ended (never rejects) and its stderr's tail. */
class Encoder {
  readonly exited: Promise<Exit>;
  private tail = '';
  private ended = false;
  private readonly child: ChildProcessByStdio<Writable, null, Readable>;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      this.tail = (this.tail + s).slice(-STDERR_KEEP);
    });
    // ffmpeg exiting early (bad arguments or output path) makes our writes fail with EPIPE;
    // its exit status and stderr say why.
    this.child.stdin.on('error', () => {});
    // A spawn error (no ffmpeg) is reported like a failed run.
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (error) => resolve({ code: null, signal: null, error }));
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    void this.exited.then(() => (this.ended = true));
  }

  get stderr(): string {
    return this.tail.trim();
  }

  /** Writes a frame and waits until ffmpeg can take more: false when ffmpeg has exited. */
  async write(frame: Uint8Array, timeoutMs: number): Promise<boolean | typeof STALLED> {
    if (this.ended || this.child.stdin.destroyed) return false;
    if (this.child.stdin.write(frame)) return true;
    return within(Promise.race([once(this.child.stdin, 'drain').then(() => true), this.exited.then(() => false)]), timeoutMs);
  }

  end(timeoutMs: number): Promise<Exit | typeof STALLED> {
    this.child.stdin.end();
    return within(this.exited, timeoutMs);
  }

  async kill(): Promise<void> {
    if (!this.ended) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Encodes `frames` with ffmpeg into `file` (temporary name, then rename). Resolves with the
 * number of frames written and the file's size.
 */
export async function encodeFrames(file: string, frames: Frames, o: EncodeOptions): Promise<EncodeResult> {
  const cmd = o.ffmpeg ?? 'ffmpeg';
  const timeoutMs = o.timeoutMs ?? ENCODE_TIMEOUT_MS;
  const fail = (code: 'IO' | 'BAD_INPUT', why: string, cause?: unknown) => new NeurolensError(code, `${o.label}: ${why}`, { cause });
  const it = (Symbol.asyncIterator in frames ? frames[Symbol.asyncIterator]() : frames[Symbol.iterator]()) as AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  let n = 0;
  const next = async (): Promise<IteratorResult<Uint8Array>> => {
    let r: IteratorResult<Uint8Array>;
    try {
      r = await it.next();
    } catch (e) {
      throw fail('IO', `producing frame ${n} failed: ${errorMessage(e)}`, e);
    }
    if (!r.done && r.value.length !== o.frameBytes) throw fail('BAD_INPUT', `frame ${n} has ${r.value.length} bytes, expected ${o.frameBytes} (${o.frameDesc})`);
    return r;
  };
  let r = await next();
  if (r.done) throw fail('BAD_INPUT', 'no frames to encode');

  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const stalled = () => fail('IO', `ffmpeg made no progress for ${Math.round(timeoutMs / 1000)} s after ${n} frames (hung); killed`);
  const enc = new Encoder(cmd, o.args(tmp));
  try {
    for (; !r.done; r = await next()) {
      const more = await enc.write(r.value, timeoutMs);
      if (more === STALLED) throw stalled();
      if (!more) break; // ffmpeg already exited: its status below says why
      n++;
    }
    const exit = await enc.end(timeoutMs);
    if (exit === STALLED) throw stalled();
    if (exit.error) {
      throw fail('IO', `cannot run ${cmd} (${errorMessage(exit.error)}); install ffmpeg (\`apt-get install -y ffmpeg\`) or pass its path`, exit.error);
    }
    if (exit.code !== 0) {
      const noDir = await stat(dir).then(() => '', () => `: directory ${dir} does not exist`);
      const tail = enc.stderr ? `\nffmpeg: ${enc.stderr}` : '';
      throw fail('IO', `ffmpeg exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`} after ${n} frames${noDir}${tail}`);
    }
    try {
      await rename(tmp, abs);
    } catch (e) {
      throw fail('IO', `cannot rename the encoded file into place: ${errorMessage(e)}`, e);
    }
    return { path: file, frames: n, bytes: (await stat(abs)).size };
  } catch (e) {
    await enc.kill();
    await rm(tmp, { force: true });
    throw e;
  }
}
