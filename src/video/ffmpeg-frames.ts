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

/** The filter chain of one video: [fps ->] select -> scale (-> crop) -> rgb24. */
function filterChain(req: FrameRequest): string {
  const filters: string[] = [];
  if (req.fps !== null) filters.push(`fps=${req.fps}`);
  filters.push(`select='${selectExpression(req.frames)}'`);
  if (req.fit === 'cover') {
    filters.push(`scale=${req.width}:${req.height}:force_original_aspect_ratio=increase:flags=area`, `crop=${req.width}:${req.height}`);
  } else {
    filters.push(`scale=${req.width}:${req.height}:flags=area`);
  }
  // yuv -> rgb conversion after scaling (cheaper on the small frames).
  filters.push('format=rgb24');
  return filters.join(',');
}

/**
 * ffmpeg arguments decoding several videos in ONE process: input i goes through its own filter
 * chain to output i, written to file descriptor 3 + i. Starting ffmpeg costs ~55 ms of CPU here
 * (it loads ~100 shared libraries) while decoding a short 64x64 clip costs a few ms, so one
 * process per video would spend most of the decode stage on process start-up.
 */
export function ffmpegArgs(items: { file: string; req: FrameRequest }[]): string[] {
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-xerror'];
  for (const it of items) args.push('-threads', '1', '-i', it.file);
  args.push('-filter_complex', items.map((it, i) => `[${i}:v:0]${filterChain(it.req)}[o${i}]`).join(';'));
  items.forEach((it, i) => {
    args.push('-map', `[o${i}]`, '-fps_mode', 'passthrough', '-frames:v', String(it.req.frames.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', `pipe:${3 + i}`);
  });
  return args;
}

function run(items: { file: string; req: FrameRequest }[], timeoutMs: number): Promise<FrameResult[]> {
  return new Promise((resolve) => {
    const chunks = items.map(() => [] as Buffer[]);
    let stderr = '';
    let settled = false;
    const stdio: ('ignore' | 'pipe')[] = ['ignore', 'ignore', 'pipe', ...items.map(() => 'pipe' as const)];
    const child = spawn('ffmpeg', ffmpegArgs(items), { stdio });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const finish = (failure: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(
        items.map((it, i) => {
          const frameBytes = it.req.width * it.req.height * 3;
          const all = Buffer.concat(chunks[i]);
          const n = Math.min(it.req.frames.length, Math.floor(all.length / frameBytes));
          return { data: Array.from({ length: n }, (_, k) => new Uint8Array(all.buffer, all.byteOffset + k * frameBytes, frameBytes)), failure };
        }),
      );
    };
    items.forEach((_, i) => (child.stdio[3 + i] as NodeJS.ReadableStream).on('data', (c: Buffer) => chunks[i].push(c)));
    child.stderr!.on('data', (c: Buffer) => {
      if (stderr.length < 8192) stderr += c.toString('utf8');
    });
    child.on('error', (e) => finish(`cannot run ffmpeg (${e.message}); install Debian's ffmpeg package`));
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') return finish(`ffmpeg did not finish within ${Math.round(timeoutMs / 1000)} s`);
      finish(code === 0 ? null : `corrupt or truncated video data (${ffmpegReason(stderr, `ffmpeg exited with code ${code}`)})`);
    });
  });
}

/** Decodes the requested frames of one video. Never throws for a bad video: the failure is in the result. */
export async function readFrames(file: string, req: FrameRequest, timeoutMs = 300_000): Promise<FrameResult> {
  return (await run([{ file, req }], timeoutMs))[0];
}

/** Videos decoded per ffmpeg process (each output holds an open pipe). */
export const VIDEOS_PER_PROCESS = 16;

/**
 * Decodes several videos, VIDEOS_PER_PROCESS per ffmpeg process. When a process fails (one bad
 * file stops it: -xerror), its videos are decoded again one per process, so the failure stays
 * with the video that caused it and the others lose nothing.
 */
export async function readFramesBatch(items: { file: string; req: FrameRequest }[], timeoutMs = 300_000): Promise<FrameResult[]> {
  const out: FrameResult[] = [];
  for (let i = 0; i < items.length; i += VIDEOS_PER_PROCESS) {
    const group = items.slice(i, i + VIDEOS_PER_PROCESS);
    const res = await run(group, timeoutMs);
    if (group.length > 1 && res[0].failure !== null) {
      for (const it of group) out.push(await readFrames(it.file, it.req, timeoutMs));
    } else out.push(...res);
  }
  return out;
}
