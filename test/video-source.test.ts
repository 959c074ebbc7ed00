/**
 * The video source's clip placement and decoding options on real files: uniform clip starts,
 * frame resampling (`fps`), centre-crop fitting ('cover'), manifest split selection, and the
 * ffmpeg frame selection, each compared with a whole-video ffmpeg decode done here.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipStarts, framesToRead } from '../src/video/clips.js';
import { readFrames, readFramesBatch, selectExpression } from '../src/video/ffmpeg-frames.js';
import { VideoSource } from '../src/sources/video.js';
import { decodeClips } from '../src/video/decode-clips.js';
import type { Preprocess } from '../src/sources/types.js';
import { isNeurolensError } from '../src/errors.js';
import { faststart, writeMovingSquare } from './fixtures/videos.js';

let dir: string;
const W = 32;
const H = 24;

function ffmpegFrames(file: string, filters: string, size: number): Uint8Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-vf', `${filters},format=rgb24`, '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'], { maxBuffer: 1 << 26 });
  return Array.from({ length: raw.length / size }, (_, k) => new Uint8Array(raw.buffer, raw.byteOffset + k * size, size));
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-vsrc-'));
  await writeMovingSquare(path.join(dir, 'a.mp4'), { width: W, height: H, frames: 40, dx: 0.5, colour: [250, 30, 30], seed: 1 });
  await writeMovingSquare(path.join(dir, 'b.mp4'), { width: W, height: H, frames: 30, dx: -0.5, colour: [30, 30, 250], seed: 2 });
  await fs.writeFile(path.join(dir, 'list.csv'), 'uri,label,split\na.mp4,0,train\nb.mp4,1,test\n');
});

afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('clip placement', () => {
  it('spreads clips uniformly, centres a single clip, and says why a video is too short', () => {
    const p = { frames: 4, stride: 2, extra: 1, count: 3 };
    expect(clipStarts(40, p)).toEqual({ starts: [0, 16, 31] });
    expect(clipStarts(40, { ...p, count: 1 })).toEqual({ starts: [15] });
    expect(clipStarts(9, p)).toEqual({ starts: [0, 0, 0] });
    expect(clipStarts(8, p)).toEqual({ reason: 'video too short: it has 8 frames, a clip of 4 frames (+1 after it for motion) every 2 frame(s) needs 9' });
    const r = framesToRead([0, 3], { frames: 3, stride: 2, extra: 0 });
    expect(r.frames).toEqual([0, 2, 3, 4, 5, 7]);
    expect(r.index).toEqual([[0, 1, 3], [2, 4, 5]]);
  });

  it('selects frames with one between() per evenly spaced run', () => {
    expect(selectExpression([0, 2, 4, 6, 9, 10, 11])).toBe('between(n\\,0\\,6)*not(mod(n-0\\,2))+between(n\\,9\\,11)');
    expect(selectExpression([5])).toBe('eq(n\\,5)');
  });
});

describe('decoding chosen frames', () => {
  it('returns exactly the frames a whole-video decode has at those indices', async () => {
    const all = ffmpegFrames(path.join(dir, 'a.mp4'), 'scale=16:16:flags=area', 16 * 16 * 3);
    const want = [1, 3, 5, 20, 21, 39];
    const r = await readFrames(path.join(dir, 'a.mp4'), { frames: want, width: 16, height: 16, fit: 'stretch', fps: null });
    expect(r.failure).toBeNull();
    expect(r.data.map((f) => Buffer.from(f).equals(Buffer.from(all[want[r.data.indexOf(f)]])))).toEqual(want.map(() => true));
  });

  it('decodes several videos in one ffmpeg process; a broken one fails alone', async () => {
    await writeMovingSquare(path.join(dir, 'long.mp4'), { width: W, height: H, frames: 150, dx: 0.1, colour: [0, 250, 0], seed: 9 });
    faststart(path.join(dir, 'long.mp4'), path.join(dir, 'long-fs.mp4'));
    const bytes = await fs.readFile(path.join(dir, 'long-fs.mp4'));
    await fs.writeFile(path.join(dir, 'cut.mp4'), bytes.subarray(0, Math.floor(bytes.length / 2)));
    const req = { frames: [0, 2, 4, 6], width: 16, height: 16, fit: 'stretch' as const, fps: null };
    const late = { ...req, frames: [140, 141] };
    const files = ['a.mp4', 'cut.mp4', 'b.mp4'].map((f) => path.join(dir, f));
    const batch = await readFramesBatch([{ file: files[0], req }, { file: files[1], req: late }, { file: files[2], req }]);
    const alone = await Promise.all([readFrames(files[0], req), readFrames(files[2], req)]);
    for (const [k, b] of [batch[0], batch[2]].entries()) {
      expect(b.failure).toBeNull();
      expect(b.data.map((f) => Buffer.from(f).toString('base64'))).toEqual(alone[k].data.map((f) => Buffer.from(f).toString('base64')));
    }
    expect(batch[1].failure).toMatch(/^corrupt or truncated video data/);
    expect(batch[1].data.length).toBeLessThan(2);
  });

  it('resamples to fps first, and crops the centre for fit cover', async () => {
    const fps = ffmpegFrames(path.join(dir, 'a.mp4'), 'fps=10,scale=16:16:force_original_aspect_ratio=increase:flags=area,crop=16:16', 16 * 16 * 3);
    expect(fps.length).toBe(16); // 40 frames at 25 fps = 1.6 s -> 16 frames at 10 fps
    const r = await readFrames(path.join(dir, 'a.mp4'), { frames: [0, 7, 15], width: 16, height: 16, fit: 'cover', fps: 10 });
    expect(r.data.map((f, k) => Buffer.from(f).equals(Buffer.from(fps[[0, 7, 15][k]])))).toEqual([true, true, true]);
    const pastEnd = await readFrames(path.join(dir, 'a.mp4'), { frames: [14, 15, 16], width: 16, height: 16, fit: 'cover', fps: 10 });
    expect(pastEnd.data.length).toBe(2);
  });
});

describe('VideoSource', () => {
  const pre: Preprocess = { height: 16, width: 16, channels: 3, scale: 1 / 255, mean: [0], std: [1], fit: 'cover', motion: 'none' };

  it('counts frames after fps resampling and decodes clips from the resampled stream', async () => {
    const src = await VideoSource.create({ kind: 'video', manifest: 'list.csv', frames: 3, stride: 2, fps: 10, clips_per_video: 2 }, dir);
    expect(src.size).toBe(4);
    expect(src.refs(0, 4).map((r) => [path.basename(r.uri), r.clip!.start])).toEqual([['a.mp4', 0], ['a.mp4', 11], ['b.mp4', 0], ['b.mp4', 7]]);
    const batch = await decodeClips(src.decodeTask(0, 2), pre);
    expect(batch.errors).toEqual([]);
    const fps = ffmpegFrames(path.join(dir, 'a.mp4'), 'fps=10,scale=16:16:force_original_aspect_ratio=increase:flags=area,crop=16:16', 16 * 16 * 3);
    const per = 3 * 16 * 16 * 3;
    for (const [k, start] of [0, 11].entries()) {
      for (let t = 0; t < 3; t++) {
        const f = fps[start + 2 * t];
        const got = batch.data.subarray(k * per + t * 768, k * per + (t + 1) * 768);
        expect(Array.from(got, (v) => Math.round(v * 255))).toEqual(Array.from(f));
      }
    }
  });

  it('keeps the manifest rows of the chosen splits, with clear errors for bad fields', async () => {
    const test = await VideoSource.create({ kind: 'video', manifest: 'list.csv', splits: ['test'], frames: 2, stride: 1, clips_per_video: 1 }, dir);
    expect(test.refs(0, test.size).map((r) => [path.basename(r.uri), r.label, r.split])).toEqual([['b.mp4', 1, 'test']]);
    const err = async (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (isNeurolensError(e) ? `${e.code}: ${e.message}` : String(e)));
    expect(await err(VideoSource.create({ kind: 'video', manifest: 'list.csv', splits: ['val'], frames: 2, stride: 1, clips_per_video: 1 }, dir))).toBe(
      'BAD_INPUT: video manifest list.csv: no rows with split val (splits found: train, test)',
    );
    expect(await err(VideoSource.create({ kind: 'video', frames: 2, stride: 1, clips_per_video: 1 }, dir))).toMatch(/^BAD_SPEC: field 'dataset.source': a video source needs 'root'/);
    expect(await err(VideoSource.create({ kind: 'video', root: '.', splits: ['test'], frames: 2, stride: 1, clips_per_video: 1 }, dir))).toMatch(/^BAD_SPEC: field 'dataset.source.splits'/);
  });
});
