import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decodeBatch } from '../src/stages/decode.js';
import type { DecodeTask, Preprocess } from '../src/sources/types.js';
import { badFiles, encodeWith, pattern, pngBytes, put, solid, type Pixels } from './fixtures/images.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'decode-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pre(height: number, width: number, channels: 1 | 3, extra: Partial<Preprocess> = {}): Preprocess {
  return { height, width, channels, scale: 1 / 255, mean: [0], std: [1], fit: 'stretch', ...extra };
}

function filesTask(uris: string[]): DecodeTask {
  return { kind: 'files', sampleIds: Int32Array.from(uris, (_, i) => 100 + i), uris };
}

/** The definition: (v * scale - mean[c]) / std[c], v on the 0..255 scale, c broadcast for length-1 mean/std. */
function expected(values: ArrayLike<number>, channels: number, p: Preprocess, k = 1): Float32Array {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const m = p.mean[p.mean.length === 1 ? 0 : c];
    const s = p.std[p.std.length === 1 ? 0 : c];
    out[i] = (values[i] * k * p.scale - m) / s;
  }
  return out;
}

function dropChannel(px: Pixels, keep: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < px.data.length; i += px.channels) for (let c = 0; c < keep; c++) out.push(px.data[i + c]);
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

describe('decodeBatch: files at the target size (exact values)', () => {
  it('8-bit grey PNG -> 1 channel, and replicated to 3 channels', async () => {
    const px = pattern(9, 7, 1);
    const f = await put(path.join(dir, 'grey8.png'), pngBytes(px));
    const one = await decodeBatch(filesTask([f]), pre(7, 9, 1));
    expect(Array.from(one.sampleIds)).toEqual([100]);
    expect(one.errors).toEqual([]);
    expect(one.data).toEqual(expected(px.data, 1, pre(7, 9, 1)));
    const p3 = pre(7, 9, 3, IMAGENET);
    const three = await decodeBatch(filesTask([f]), p3);
    const rep = Array.from(px.data).flatMap((v) => [v, v, v]);
    expect(three.data).toEqual(expected(rep, 3, p3));
  });

  it('RGB PNG -> 3 channels with per-channel mean/std; -> 1 channel as BT.601 luma', async () => {
    const px = pattern(8, 6, 3);
    const f = await put(path.join(dir, 'rgb8.png'), pngBytes(px));
    const p3 = pre(6, 8, 3, IMAGENET);
    expect((await decodeBatch(filesTask([f]), p3)).data).toEqual(expected(px.data, 3, p3));
    const p1 = pre(6, 8, 1, { mean: [0.5], std: [0.25] });
    const luma: number[] = [];
    for (let i = 0; i < px.data.length; i += 3) luma.push(0.299 * px.data[i] + 0.587 * px.data[i + 1] + 0.114 * px.data[i + 2]);
    expect(maxAbsDiff((await decodeBatch(filesTask([f]), p1)).data, expected(luma, 1, p1))).toBeLessThan(1e-6);
  });

  it('16-bit grey and RGB PNGs are scaled by 1/257 without rounding', async () => {
    // v16 = v8 * 257 + 128: v16 / 257 = v8 + 0.498..., which rounding to 8 bits would lose.
    for (const channels of [1, 3] as const) {
      const px = pattern(5, 4, channels, 16, 128);
      const f = await put(path.join(dir, `deep${channels}.png`), pngBytes(px));
      const p = pre(4, 5, channels, { scale: 1 });
      const got = await decodeBatch(filesTask([f]), p);
      expect(maxAbsDiff(got.data, expected(px.data, channels, p, 1 / 257))).toBeLessThan(1e-4);
      expect(got.data[0] % 1).toBeCloseTo(128 / 257, 4);
    }
  });

  it('RGBA and grey+alpha PNGs (8 and 16-bit): alpha is dropped, colour kept even where alpha is 0', async () => {
    const rgba = pattern(6, 5, 4);
    for (let i = 3; i < rgba.data.length; i += 8) rgba.data[i] = 0; // every other pixel fully transparent
    const f = await put(path.join(dir, 'rgba8.png'), pngBytes(rgba));
    const p = pre(5, 6, 3);
    expect((await decodeBatch(filesTask([f]), p)).data).toEqual(expected(dropChannel(rgba, 3), 3, p));

    const rgba16 = pattern(6, 5, 4, 16);
    for (let i = 3; i < rgba16.data.length; i += 8) rgba16.data[i] = 0;
    const f16 = await put(path.join(dir, 'rgba16.png'), pngBytes(rgba16));
    expect(maxAbsDiff((await decodeBatch(filesTask([f16]), p)).data, expected(dropChannel(rgba16, 3), 3, p, 1 / 257))).toBeLessThan(1e-6);

    const ga = pattern(6, 5, 2);
    const fga = await put(path.join(dir, 'ga8.png'), pngBytes(ga));
    const p1 = pre(5, 6, 1);
    expect((await decodeBatch(filesTask([fga]), p1)).data).toEqual(expected(dropChannel(ga, 1), 1, p1));
  });

  it('lossless WebP and TIFF decode exactly; JPEG (q100, 4:4:4) of a solid colour within 1 level', async () => {
    const px = pattern(8, 8, 3);
    const p = pre(8, 8, 3, { scale: 1 });
    for (const fmt of ['webp', 'tiff'] as const) {
      const f = await put(path.join(dir, `x.${fmt}`), await encodeWith(px, fmt));
      expect((await decodeBatch(filesTask([f]), p)).data).toEqual(expected(px.data, 3, p));
    }
    const col = solid(16, 16, [200, 100, 50]);
    const fj = await put(path.join(dir, 'solid.jpg'), await encodeWith(col, 'jpeg'));
    expect(maxAbsDiff((await decodeBatch(filesTask([fj]), pre(16, 16, 3, { scale: 1 }))).data, col.data)).toBeLessThanOrEqual(1);
    const fg = await put(path.join(dir, 'solid.gif'), await encodeWith(col, 'gif'));
    expect((await decodeBatch(filesTask([fg]), pre(16, 16, 3, { scale: 1 }))).data).toEqual(Float32Array.from(col.data));
  });
});

describe('decodeBatch: resizing', () => {
  it("'stretch' equals sharp's own fit 'fill' resize", async () => {
    const px = pattern(31, 17, 3);
    const f = await put(path.join(dir, 'big.png'), pngBytes(px));
    const ref = await sharp(f).resize(12, 10, { fit: 'fill' }).raw().toBuffer();
    const p = pre(10, 12, 3, { scale: 1 });
    expect((await decodeBatch(filesTask([f]), p)).data).toEqual(Float32Array.from(ref));
  });

  it("'cover' keeps the centre: red | wide green | blue becomes all green", async () => {
    const w = 60;
    const h = 20;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data.set(x < 10 ? [255, 0, 0] : x < 50 ? [0, 160, 0] : [0, 0, 255], (y * w + x) * 3);
    }
    const f = await put(path.join(dir, 'bands.png'), pngBytes({ width: w, height: h, channels: 3, data }));
    const p = pre(10, 10, 3, { scale: 1, fit: 'cover' });
    const cover = (await decodeBatch(filesTask([f]), p)).data;
    for (let i = 0; i < cover.length; i += 3) expect([cover[i], cover[i + 1], cover[i + 2]]).toEqual([0, 160, 0]);
    const stretch = (await decodeBatch(filesTask([f]), { ...p, fit: 'stretch' })).data;
    expect(stretch[0]).toBeGreaterThan(100); // the red band survives at the left edge
  });

  it('an RGBA image is resized as its RGB pixels (alpha dropped first, not premultiplied)', async () => {
    const rgba = pattern(20, 14, 4);
    const f = await put(path.join(dir, 'rgba-big.png'), pngBytes(rgba));
    const rgb = Uint8Array.from(dropChannel(rgba, 3));
    const ref = await sharp(rgb, { raw: { width: 20, height: 14, channels: 3 } }).resize(7, 5, { fit: 'fill' }).raw().toBuffer();
    expect((await decodeBatch(filesTask([f]), pre(5, 7, 3, { scale: 1 }))).data).toEqual(Float32Array.from(ref));
  });

  it('16-bit images are resized at 16 bits', async () => {
    const px = pattern(20, 14, 1, 16, 100);
    const f = await put(path.join(dir, 'deep-big.png'), pngBytes(px));
    const ref = await sharp(f).resize(7, 5, { fit: 'fill' }).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
    const ref16 = new Uint16Array(ref.buffer, ref.byteOffset, ref.length / 2);
    const got = (await decodeBatch(filesTask([f]), pre(5, 7, 1, { scale: 1 }))).data;
    expect(maxAbsDiff(got, Array.from(ref16, (v) => v / 257))).toBeLessThan(1e-4);
  });
});

describe('decodeBatch: raw pixel tasks (IDX)', () => {
  const n = 3;
  const task = (h: number, w: number, c: number): Extract<DecodeTask, { kind: 'pixels' }> => {
    const pixels = new Uint8Array(n * h * w * c).map((_, i) => (i * 31) % 256);
    return { kind: 'pixels', sampleIds: Int32Array.from([5, 6, 7]), uris: ['a', 'b', 'c'], pixels, height: h, width: w, channels: c };
  };

  it('same size: exact, grey and RGB, alpha dropped', async () => {
    const t = task(4, 5, 1);
    const p = pre(4, 5, 1);
    const out = await decodeBatch(t, p);
    expect(Array.from(out.sampleIds)).toEqual([5, 6, 7]);
    expect(out.data).toEqual(expected(t.pixels, 1, p));
    const t4 = task(4, 5, 4);
    const p3 = pre(4, 5, 3, IMAGENET);
    const rgb = dropChannel({ width: 5, height: 4 * n, channels: 4, data: t4.pixels }, 3);
    expect((await decodeBatch(t4, p3)).data).toEqual(expected(rgb, 3, p3));
  });

  it("other size: each sample resized like sharp's raw resize", async () => {
    const t = task(8, 8, 1);
    const out = await decodeBatch(t, pre(5, 6, 1, { scale: 1 }));
    for (let i = 0; i < n; i++) {
      const one = t.pixels.subarray(i * 64, (i + 1) * 64);
      const ref = await sharp(one, { raw: { width: 8, height: 8, channels: 1 } }).resize(6, 5, { fit: 'fill' }).toColourspace('b-w').raw().toBuffer();
      expect(out.data.subarray(i * 30, (i + 1) * 30)).toEqual(Float32Array.from(ref));
    }
  });

  it('a task whose pixel count does not match its shape is an internal error', async () => {
    const t = { ...task(4, 5, 1), height: 5 };
    await expect(decodeBatch(t, pre(4, 5, 1))).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

describe('decodeBatch: bad files are recorded, not thrown', () => {
  it('zero-byte, truncated, text-as-jpg, missing and directory entries go to errors; the rest decode', async () => {
    const sub = path.join(dir, 'bad');
    const bad = await badFiles(sub);
    const good1 = pattern(6, 6, 3);
    const good2 = solid(6, 6, [1, 2, 3]);
    const g1 = await put(path.join(sub, 'good1.png'), pngBytes(good1));
    const g2 = await put(path.join(sub, 'good2.png'), pngBytes(good2));
    const missing = await put(path.join(sub, 'gone.png'), pngBytes(good2));
    await rm(missing); // enumerated, then deleted
    const aDir = path.join(sub, 'adir.png');
    await mkdir(aDir);
    const uris = [g1, bad.empty, bad.truncated, bad.text, missing, aDir, g2];
    const p = pre(6, 6, 3, { scale: 1 });
    const out = await decodeBatch(filesTask(uris), p);
    expect(Array.from(out.sampleIds)).toEqual([100, 106]);
    expect(out.data.length).toBe(2 * 6 * 6 * 3);
    expect(out.data.subarray(0, 108)).toEqual(Float32Array.from(good1.data));
    expect(out.data.subarray(108)).toEqual(Float32Array.from(good2.data));
    expect(out.errors.map((e) => [e.sampleId, e.uri, e.stage])).toEqual([
      [101, bad.empty, 'decode'],
      [102, bad.truncated, 'decode'],
      [103, bad.text, 'decode'],
      [104, missing, 'decode'],
      [105, aDir, 'decode'],
    ]);
    const reasons = out.errors.map((e) => e.reason);
    expect(reasons[0]).toMatch(/empty \(0 bytes\)/);
    expect(reasons[1]).toMatch(/^corrupt or truncated png data/);
    expect(reasons[2]).toMatch(/not a decodable image.*unsupported image format/);
    expect(reasons[3]).toBe('file not found');
    expect(reasons[4]).toMatch(/directory/);
  });

  it('a batch where every file fails gives empty arrays', async () => {
    const out = await decodeBatch(filesTask([path.join(dir, 'nope.png')]), pre(2, 2, 1));
    expect(out.sampleIds.length).toBe(0);
    expect(out.data.length).toBe(0);
    expect(out.errors).toHaveLength(1);
  });
});

describe('decodeBatch: output buffers', () => {
  it('are fresh, exactly sized, and not the task arrays (so they can be transferred)', async () => {
    const f = await put(path.join(dir, 'fresh.png'), pngBytes(pattern(4, 4, 1)));
    const t = filesTask([f, f]);
    const out = await decodeBatch(t, pre(4, 4, 1));
    expect(out.sampleIds).not.toBe(t.sampleIds);
    expect(out.sampleIds.buffer).not.toBe(t.sampleIds.buffer);
    expect(out.data.buffer.byteLength).toBe(out.data.byteLength);
    expect(out.sampleIds.buffer.byteLength).toBe(out.sampleIds.byteLength);
  });
});
