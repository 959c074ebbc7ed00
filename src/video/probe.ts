/**
 * What a video holds, from Debian's `ffprobe` (a child process, JSON output): frame count, frame
 * rate, duration and size of the first video stream. A file ffprobe cannot read gets the reason
 * (ffprobe's own message, without its "[demuxer @ 0x...]" prefixes) instead of throwing, so one
 * bad video becomes error rows, not a failed run.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { errorMessage } from '../errors.js';

export interface VideoInfo {
  /** Frames of the first video stream (container count, else duration x frame rate). */
  frames: number;
  /** Average frame rate (frames per second). */
  fps: number;
  /** Seconds. */
  duration: number;
  width: number;
  height: number;
}

export type ProbeResult = { ok: true; info: VideoInfo } | { ok: false; reason: string };

/** ffmpeg/ffprobe stderr as one short reason: lines without "[xyz @ 0x..]" prefixes, deduplicated. */
export function ffmpegReason(stderr: string, fallback: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/\[[^\]]*@ 0x[0-9a-f]+\]\s*/g, '').trim())
    .filter(Boolean);
  const uniq = [...new Set(lines)];
  return uniq.length ? uniq.slice(0, 3).join('; ').slice(0, 400) : fallback;
}

function rate(text: string | undefined): number {
  if (!text) return NaN;
  const [a, b] = text.split('/').map(Number);
  return b === undefined ? a : b === 0 ? NaN : a / b;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? ((error as NodeJS.ErrnoException & { code?: unknown }).code === 'ENOENT' ? null : ((error as { code?: number }).code ?? 1)) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr, error: error ?? undefined });
    });
  });
}

/** Probes one file. `fps` (a resampling rate) makes `frames` the count after resampling. */
export async function probeVideo(file: string, fps?: number): Promise<ProbeResult> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    if (st.size === 0) return { ok: false, reason: 'file is empty (0 bytes)' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'file not found' : `cannot read file (${errorMessage(e)})` };
  }
  const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=nb_frames,avg_frame_rate,r_frame_rate,duration,width,height:format=duration', '-of', 'json', file];
  const r = await run('ffprobe', args, 60_000);
  if (r.code === null) return { ok: false, reason: `cannot run ffprobe (${r.error ? errorMessage(r.error) : 'not found'}); install Debian's ffmpeg package` };
  if (r.code !== 0) return { ok: false, reason: `not a readable video (${ffmpegReason(r.stderr, `ffprobe exited with ${r.code}`)})` };
  let parsed: { streams?: Record<string, string | number>[]; format?: { duration?: string } };
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    return { ok: false, reason: 'ffprobe printed no readable JSON' };
  }
  const s = parsed.streams?.[0];
  if (!s) return { ok: false, reason: 'no video stream' };
  const avg = rate(String(s.avg_frame_rate ?? ''));
  const fpsNative = Number.isFinite(avg) && avg > 0 ? avg : rate(String(s.r_frame_rate ?? ''));
  const duration = Number(s.duration ?? parsed.format?.duration);
  const counted = Number(s.nb_frames);
  let frames = Number.isInteger(counted) && counted > 0 ? counted : Math.floor(duration * fpsNative + 1e-6);
  if (fps !== undefined) frames = Math.floor(((Number.isFinite(duration) ? duration : frames / fpsNative) * fps) + 1e-6);
  if (!Number.isFinite(frames) || frames <= 0) return { ok: false, reason: 'the video stream has no frames (no frame count or duration in its header)' };
  return { ok: true, info: { frames, fps: fpsNative, duration, width: Number(s.width), height: Number(s.height) } };
}

/** Probes files with at most `concurrency` ffprobe processes at once; results in input order. */
export async function probeVideos(files: string[], fps?: number, concurrency = 4, onProgress?: (done: number) => void): Promise<ProbeResult[]> {
  const out: ProbeResult[] = new Array(files.length);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, files.length) }, async () => {
      while (next < files.length) {
        const i = next++;
        out[i] = await probeVideo(files[i], fps);
        onProgress?.(++done);
      }
    }),
  );
  return out;
}
