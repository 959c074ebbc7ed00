/**
 * Reads chosen frames of one video as RGB24 at a target size, with Debian's `ffmpeg` as a child
 * process: raw frames come back on a pipe (no temporary files). The frames are picked inside
 * ffmpeg by a `select` filter over the frame number n (after an optional `fps` resampling), then
 * scaled (area averaging) and, for 'cover', centre-cropped; `-frames:v` stops the decode after
 * the last wanted frame. `-xerror` turns a decoding error (corrupt or truncated data) into a
 * failure instead of garbage pixels; `-fps_mode passthrough` keeps ffmpeg from duplicating or
 * dropping frames by timestamp.
 */
import { spawn } from 'node:child_process';
import { ffmpegReason } from './probe.js';

export interface FrameRequest {
  /** Sorted distinct frame numbers (in the sampled stream). */
  frames: number[];
  width: number;
  height: number;
  fit: 'stretch' | 'cover';
  /** Resample to this rate before numbering frames, or null. */
  fps: number | null;
}

export interface FrameResult {
  /** The frames that arrived, in request order (a short read means the video ended early). */
  data: Uint8Array[];
  /** null when ffmpeg exited cleanly; else why it failed (its stderr, shortened). */
  failure: string | null;
}

/** The select expression: one between() term per run of frames with a constant step. */
export function selectExpression(frames: number[]): string {
  const terms: string[] = [];
  let i = 0;
  while (i < frames.length) {
    const a = frames[i];
    if (i + 1 === frames.length) {
      terms.push(`eq(n\\,${a})`);
      break;
    }
    const step = frames[i + 1] - a;
    let j = i + 1;
    while (j + 1 < frames.length && frames[j + 1] - frames[j] === step) j++;
    const b = frames[j];
    terms.push(step === 1 ? `between(n\\,${a}\\,${b})` : `between(n\\,${a}\\,${b})*not(mod(n-${a}\\,${step}))`);
    i = j + 1;
  }
  return terms.join('+');
}

export function ffmpegArgs(file: string, req: FrameRequest): string[] {
  const filters: string[] = [];
  if (req.fps !== null) filters.push(`fps=${req.fps}`);
  filters.push(`select='${selectExpression(req.frames)}'`);
  if (req.fit === 'cover') {
    filters.push(`scale=${req.width}:${req.height}:force_original_aspect_ratio=increase:flags=area`, `crop=${req.width}:${req.height}`);
  } else {
    filters.push(`scale=${req.width}:${req.height}:flags=area`);
  }
  // yuv -> rgb conversion at full range, after scaling (cheaper on the small frames).
  filters.push('format=rgb24');
  return [
    '-hide_banner', '-nostdin', '-v', 'error', '-xerror',
    '-i', file,
    '-an', '-sn', '-dn',
    '-vf', filters.join(','),
    '-fps_mode', 'passthrough',
    '-frames:v', String(req.frames.length),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
}

/** Decodes the requested frames. Never throws for a bad video: the failure is in the result. */
export function readFrames(file: string, req: FrameRequest, timeoutMs = 300_000): Promise<FrameResult> {
  const frameBytes = req.width * req.height * 3;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    let settled = false;
    const child = spawn('ffmpeg', ffmpegArgs(file, req), { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (failure: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const all = Buffer.concat(chunks, bytes);
      const n = Math.min(req.frames.length, Math.floor(all.length / frameBytes));
      const data = Array.from({ length: n }, (_, k) => new Uint8Array(all.buffer, all.byteOffset + k * frameBytes, frameBytes));
      resolve({ data, failure });
    };
    child.stdout.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 8192) stderr += c.toString('utf8');
    });
    child.on('error', (e) => finish(`cannot run ffmpeg (${e.message}); install Debian's ffmpeg package`));
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') return finish(`ffmpeg did not finish within ${Math.round(timeoutMs / 1000)} s`);
      finish(code === 0 ? null : `corrupt or truncated video data (${ffmpegReason(stderr, `ffmpeg exited with code ${code}`)})`);
    });
  });
}
