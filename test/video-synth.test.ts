/**
 * `neurolens make-actions`: real MP4 files through real ffmpeg, checked by decoding them back.
 * The motion of every class is measured on the decoded pixels (object mask centroid, rotation,
 * area), not read from the generator's parameters; the generator only supplies the static
 * background and object colour that define the mask.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.js';
import { ACTION_CLASSES, datasetVideo, extents, makeActions, poseAt, rgbToHsv, SHAPES, writeVideo, type VideoSpec } from '../src/video/synth/index.js';
import { renderBackground } from '../src/video/synth/background.js';

// 64 px (the default size): at 32 px a small spinning square is too coarse for the rotation
// estimate below, not for a network.
const SIZE = 64;
const FRAMES = 16;

function run(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 2 ** 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} failed: ${stderr.toString()}`)) : resolve(stdout),
    ),
  );
}

async function probe(file: string): Promise<{ codec_name: string; width: number; height: number; nb_read_frames: string }> {
  const out = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height,codec_name', '-of', 'json', file]);
  return JSON.parse(out.toString()).streams[0];
}

/** Decoded frames of an MP4 as RGB24 (real ffmpeg decode). */
async function decode(file: string, size: number): Promise<Uint8Array[]> {
  const raw = await run('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-']);
  const n = size * size * 3;
  return Array.from({ length: raw.length / n }, (_, t) => new Uint8Array(raw.subarray(t * n, (t + 1) * n)));
}

/**
 * Soft object mask per pixel: how much closer the decoded colour is to the object colour than to
 * the (static, known) background at that pixel. Robust to x264's chroma subsampling at 32 px.
 */
function objectMask(frame: Uint8Array, bg: Uint8Array, obj: number[]): Float64Array {
  const m = new Float64Array(frame.length / 3);
  for (let p = 0; p < m.length; p++) {
    let db = 0, dobj = 0;
    for (let k = 0; k < 3; k++) {
      db += (frame[p * 3 + k] - bg[p * 3 + k]) ** 2;
      dobj += (frame[p * 3 + k] - obj[k]) ** 2;
    }
    const a = Math.sqrt(db) / (Math.sqrt(db) + Math.sqrt(dobj) + 1e-9);
    m[p] = a > 0.5 ? a : 0;
  }
  return m;
}

function moments(m: Float64Array, w: number): { area: number; x: number; y: number } {
  let area = 0, sx = 0, sy = 0;
  for (let p = 0; p < m.length; p++) {
    area += m[p];
    sx += m[p] * ((p % w) + 0.5);
    sy += m[p] * (Math.floor(p / w) + 0.5);
  }
  return { area, x: sx / area, y: sy / area };
}

function bilinear(m: Float64Array, w: number, x: number, y: number): number {
  const i = Math.floor(x - 0.5), j = Math.floor(y - 0.5);
  const fx = x - 0.5 - i, fy = y - 0.5 - j;
  const at = (a: number, b: number) => (a >= 0 && b >= 0 && a < w && b < w ? m[b * w + a] : 0);
  return (at(i, j) * (1 - fx) + at(i + 1, j) * fx) * (1 - fy) + (at(i, j + 1) * (1 - fx) + at(i + 1, j + 1) * fx) * fy;
}

/**
 * The rotation (degrees) that best maps mask a onto mask b about their centroids. Positive is
 * clockwise on screen: with y downwards, (1, 0) -> (cos d, sin d) turns from 3 towards 6 o'clock.
 */
function bestRotation(a: Float64Array, b: Float64Array, w: number): number {
  const ca = moments(a, w), cb = moments(b, w);
  let best = 0, bestScore = -Infinity;
  for (let d = -30; d <= 30; d++) {
    const c = Math.cos((d * Math.PI) / 180), s = Math.sin((d * Math.PI) / 180);
    let score = 0;
    for (let p = 0; p < b.length; p++) {
      if (b[p] === 0) continue;
      const x = (p % w) + 0.5 - cb.x, y = Math.floor(p / w) + 0.5 - cb.y;
      score += b[p] * bilinear(a, w, c * x + s * y + ca.x, -s * x + c * y + ca.y);
    }
    if (score > bestScore) [best, bestScore] = [d, score];
  }
  return best;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

let root: string;
let out: string;
let specs: Map<string, VideoSpec>;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nl-actions-'));
  out = join(root, 'ds');
  const r = await cli(['make-actions', '--out', out, '--train', '1', '--test', '1', '--frames', String(FRAMES), '--size', String(SIZE), '--seed', '7', '--json']);
  expect(r.stderr).toContain('"type":"video"');
  expect(r.status).toBe(0);
  const lines = (await readFile(join(out, 'videos.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  specs = new Map(lines.map((l) => [l.uri, l as VideoSpec]));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('neurolens make-actions', () => {
  it('writes one H.264 MP4 per (split, class, index) with the requested frames and size, plus manifest and classes', async () => {
    const manifest = (await readFile(join(out, 'manifest.csv'), 'utf8')).trim().split('\n');
    expect(manifest[0]).toBe('uri,label,split');
    expect(manifest).toHaveLength(1 + 2 * ACTION_CLASSES.length);
    expect(manifest[1]).toBe('train/slide-left/slide-left-0000.mp4,0,train');
    expect(manifest.at(-1)).toBe('test/cello/cello-0000.mp4,7,test');
    const classes = JSON.parse(await readFile(join(out, 'classes.json'), 'utf8'));
    expect(classes.classes.map((c: { name: string }) => c.name)).toEqual(['slide-left', 'slide-right', 'spin-cw', 'spin-ccw', 'zoom-in', 'zoom-out', 'violin', 'cello']);
    expect(classes.classes[6]).toMatchObject({ pair: 'instrument', pair_with: 'cello', pair_differs_in: 'appearance' });
    expect(classes.settings).toMatchObject({ seed: 7, size: SIZE, frames: FRAMES, crf: 20 });
    for (const row of manifest.slice(1)) {
      const uri = row.split(',')[0];
      expect(await probe(join(out, uri))).toEqual({ codec_name: 'h264', width: SIZE, height: SIZE, nb_read_frames: String(FRAMES) });
    }
    // No temporary encoder outputs are left next to the videos.
    const names = (await readdir(out, { recursive: true })).map(String);
    expect(names.filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  it('the decoded pixels move the way each class says', async () => {
    for (const uri of specs.keys()) {
      const v = specs.get(uri)!;
      const bg = renderBackground(v.background, SIZE, SIZE);
      const masks = (await decode(join(out, uri), SIZE)).map((f) => objectMask(f, bg, v.colour));
      const m = masks.map((k) => moments(k, SIZE));
      const x = m.map((q) => q.x), y = m.map((q) => q.y), area = m.map((q) => q.area);
      const dx = mean(x.slice(-4)) - mean(x.slice(0, 4));
      const name = v.className;
      const at = uri;
      if (name === 'slide-left') expect(dx, at).toBeLessThan(-10);
      if (name === 'slide-right') expect(dx, at).toBeGreaterThan(10);
      if (name.startsWith('slide')) expect(Math.max(...y) - Math.min(...y), at).toBeLessThan(1.5);
      if (name.startsWith('spin')) {
        // 6 deg/frame +-15%: 15.3..20.7 deg over three frames, clockwise positive on screen.
        const turns = masks.slice(0, -3).map((k, t) => bestRotation(k, masks[t + 3], SIZE) * (name === 'spin-cw' ? 1 : -1));
        // A near-square mask sometimes aligns at 0 deg on one pair (4-fold symmetry): a majority vote.
        expect(turns.filter((d) => d > 0).length / turns.length, `${at} ${turns}`).toBeGreaterThanOrEqual(0.75);
        expect(mean(turns), `${at} ${turns}`).toBeGreaterThan(12);
        expect(mean(turns), `${at} ${turns}`).toBeLessThan(23);
        expect(Math.hypot(Math.max(...x) - Math.min(...x), Math.max(...y) - Math.min(...y)), at).toBeLessThan(2.5);
      }
      if (name === 'zoom-in') expect(area.at(-1)! / area[0], at).toBeGreaterThan(4);
      if (name === 'zoom-out') expect(area.at(-1)! / area[0], at).toBeLessThan(1 / 4);
      if (name === 'violin' || name === 'cello') {
        // Oscillates: the centroid goes both ways, by several pixels, and stays at one height.
        const steps = x.slice(1).map((xi, t) => xi - x[t]);
        expect(Math.max(...x) - Math.min(...x), at).toBeGreaterThan(8);
        expect(steps.some((s) => s > 0.5) && steps.some((s) => s < -0.5), at).toBe(true);
        expect(Math.max(...y) - Math.min(...y), at).toBeLessThan(1.5);
      }
    }
  });

  it('violin and cello differ in the hue of the decoded object (orange-red vs brown-orange)', async () => {
    const hue = async (uri: string) => {
      const v = specs.get(uri)!;
      const bg = renderBackground(v.background, SIZE, SIZE);
      const hs: number[] = [];
      for (const f of await decode(join(out, uri), SIZE)) {
        const k = objectMask(f, bg, v.colour);
        for (let p = 0; p < k.length; p++) if (k[p] > 0.8) hs.push(rgbToHsv(f[p * 3], f[p * 3 + 1], f[p * 3 + 2]).h);
      }
      return mean(hs.map((h) => (h > 180 ? h - 360 : h)));
    };
    for (const split of ['train', 'test']) {
      const violin = await hue(`${split}/violin/violin-0000.mp4`);
      const cello = await hue(`${split}/cello/cello-0000.mp4`);
      expect(violin).toBeLessThan(22);
      expect(cello).toBeGreaterThan(20);
      expect(cello - violin).toBeGreaterThan(5);
    }
  });

  it('same seed gives identical decoded frames; another seed does not', async () => {
    const again = join(root, 'again');
    const other = join(root, 'other');
    const o = { train: 1, test: 1, size: SIZE, frames: FRAMES, fps: 25, crf: 20, overwrite: false, concurrency: 2 };
    await makeActions({ ...o, out: again, seed: 7 });
    await makeActions({ ...o, out: other, seed: 8 });
    for (const uri of ['train/spin-cw/spin-cw-0000.mp4', 'test/violin/violin-0000.mp4']) {
      const a = Buffer.concat(await decode(join(out, uri), SIZE));
      expect(Buffer.concat(await decode(join(again, uri), SIZE)).equals(a)).toBe(true);
      expect(Buffer.concat(await decode(join(other, uri), SIZE)).equals(a)).toBe(false);
    }
  });

  it('a video depends on (seed, split, class, index) only, and every object stays inside the frame', () => {
    const o = { seed: 3, size: 64, frames: 48 };
    expect(datasetVideo(o, 'train', 2, 5)).toEqual(datasetVideo({ ...o }, 'train', 2, 5));
    expect(datasetVideo(o, 'train', 2, 5)).not.toEqual(datasetVideo(o, 'test', 2, 5));
    for (const size of [16, 32, 64, 128])
      for (const frames of [2, 16, 48, 120])
        for (let label = 0; label < ACTION_CLASSES.length; label++)
          for (let i = 0; i < 40; i++) {
            const v = datasetVideo({ seed: 1, size, frames }, 'train', label, i);
            for (let t = 0; t < frames; t++) {
              const p = poseAt(v, t);
              const e = extents(SHAPES[v.shape], p.angle, p.scale);
              const inside = p.x - e.left >= 0 && p.x + e.right <= size && p.y - e.top >= 0 && p.y + e.bottom <= size;
              if (!inside) expect.fail(`${v.className} #${i} size ${size} frames ${frames}: frame ${t} leaves the frame`);
            }
          }
  });

  it('refuses a non-empty --out without --overwrite (exit 2, names the dir); --overwrite keeps foreign files', async () => {
    const r = await cli(['make-actions', '--out', out, '--train', '1', '--test', '0', '--frames', '4', '--size', '16']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(out);
    expect(r.stderr).toMatch(/not empty.*--overwrite/);
    const dir = join(root, 'mixed');
    await makeActions({ out: dir, train: 1, test: 0, size: 16, frames: 4, fps: 25, seed: 1, crf: 20, overwrite: false, concurrency: 2 });
    await writeFile(join(dir, 'NOTES.txt'), 'mine');
    await makeActions({ out: dir, train: 0, test: 1, size: 16, frames: 4, fps: 25, seed: 1, crf: 20, overwrite: true, concurrency: 2 });
    expect((await readdir(dir)).sort()).toEqual(['NOTES.txt', 'classes.json', 'manifest.csv', 'test', 'train', 'videos.jsonl']);
    expect(await readdir(join(dir, 'train', 'violin'))).toEqual([]);
  });

  it('writeVideo: odd sizes and wrong frame lengths are refused, ffmpeg errors carry its stderr, no partial file is left', async () => {
    const dir = join(root, 'writer');
    await rm(dir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    const f = new Uint8Array(16 * 16 * 3).fill(128);
    await expect(writeVideo(join(dir, 'a.mp4'), [f], { width: 15, height: 16, fps: 25 })).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringContaining('even') });
    await expect(writeVideo(join(dir, 'b.mp4'), [f, f.subarray(3)], { width: 16, height: 16, fps: 25 })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('frame 1') });
    await expect(writeVideo(join(dir, 'c.mp4'), [f, f], { width: 16, height: 16, fps: 25, preset: 'no-such-preset' })).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringMatching(/c\.mp4.*\n?.*ffmpeg: .*preset/is),
    });
    const ok = await writeVideo(join(dir, 'd.mp4'), (function* () { for (let t = 0; t < 5; t++) yield f; })(), { width: 16, height: 16, fps: 10 });
    expect(ok.frames).toBe(5);
    expect(await readdir(dir)).toEqual(['d.mp4']);
  });
});
