/**
 * Decode stage: files or raw pixels -> NHWC float32 the model takes.
 *
 * Per sample: decode (sharp/libvips: JPEG, PNG 8/16-bit, WebP, GIF first frame, TIFF, AVIF), drop
 * alpha (PIL's convert('RGB') semantics: colour kept, alpha discarded, no compositing), resize to
 * pre.height x pre.width ('stretch' = sharp fit 'fill', 'cover' = scale then centre crop), convert
 * channels (grey -> RGB replicates; RGB -> grey is ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B,
 * the PIL 'L' and tf.image.rgb_to_grayscale weights), then (v * scale - mean[c]) / std[c] with v
 * on the 0..255 scale (16-bit samples are v16 / 257, kept as a fraction, not rounded).
 * EXIF orientation is not applied: pixels are used in stored order, as tf.node.decodeImage does.
 *
 * A sample that cannot be read or decoded is recorded in `errors` and left out; it never throws.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type ResizeOptions, type Sharp } from 'sharp';
import { NeurolensError, errorMessage } from '../errors.js';
import { decodeClips } from '../video/decode-clips.js';
import { loadClipMiddleFrame } from '../video/sample-frames.js';
import type { DecodeTask, DecodedBatch, Preprocess, SampleError, Source } from '../sources/types.js';

/** Decoded pixels, 1 (grey) or 3 (RGB) interleaved channels, 8 or 16 bits. */
export interface Raster {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

type Fit = Pick<Preprocess, 'height' | 'width' | 'fit'>;

/** Files decoded at once within one task (libvips runs each on its own thread pool anyway). */
const FILE_CONCURRENCY = 4;

/** Reads a file, turning the usual failures into short reasons for the error record. */
async function readImageFile(uri: string): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await readFile(uri);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error('file not found');
    if (code === 'EISDIR') throw new Error('is a directory, not a file');
    if (code === 'EACCES') throw new Error('permission denied');
    throw new Error(`cannot read file (${errorMessage(e)})`);
  }
  if (buf.length === 0) throw new Error('file is empty (0 bytes)');
  return buf;
}

async function toRaster(pipeline: Sharp, grey: boolean, deep: boolean): Promise<Raster> {
  const space = grey ? (deep ? 'grey16' : 'b-w') : deep ? 'rgb16' : 'srgb';
  const { data, info } = await pipeline
    .toColourspace(space)
    .raw({ depth: deep ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 && info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 1 or 3`);
  const pixels = deep
    ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2)
    : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { data: pixels, width: info.width, height: info.height, channels: info.channels };
}

function resizeOptions(fit: Fit): ResizeOptions {
  return { fit: fit.fit === 'cover' ? 'cover' : 'fill', position: 'centre' };
}

/** Resizes decoded pixels (sharp reads the bit depth from the typed array's type). */
export async function resizeRaster(r: Raster, fit: Fit): Promise<Raster> {
  if (r.width === fit.width && r.height === fit.height) return r;
  const input = sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
  return toRaster(input.resize(fit.width, fit.height, resizeOptions(fit)), r.channels === 1, r.data instanceof Uint16Array);
}

/** Decodes an encoded image; with `fit`, also resizes it. Throws (plain Error) with the reason. */
export async function decodeImage(buf: Buffer, fit?: Fit): Promise<Raster> {
  // 'truncated' rejects cut-off files but tolerates the benign warnings common in scraped JPEGs.
  const input = sharp(buf, { failOn: 'truncated' });
  let meta: Metadata;
  try {
    meta = await input.metadata();
  } catch (e) {
    throw new Error(`not a decodable image (${errorMessage(e)})`);
  }
  const bands = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  const grey = bands === 1;
  const deep = meta.depth === 'ushort';
  const needsResize = fit !== undefined && (meta.width !== fit.width || meta.height !== fit.height);
  try {
    // sharp applies removeAlpha after resizing (with premultiplied alpha), which changes colours
    // of translucent pixels; dropping alpha first needs a second pass over the raw pixels.
    if (meta.hasAlpha && needsResize) return await resizeRaster(await toRaster(input.removeAlpha(), grey, deep), fit);
    const pipeline = needsResize ? input.resize(fit.width, fit.height, resizeOptions(fit)) : input;
    const r = await toRaster(pipeline.removeAlpha(), grey, deep);
    // Header sizes can disagree with the decoded frame (multi-page files): check what came out.
    return fit ? await resizeRaster(r, fit) : r;
  } catch (e) {
    // The header parsed, so the file is an image whose pixel data is bad.
    throw new Error(`corrupt or truncated ${meta.format ?? 'image'} data (${errorMessage(e)})`);
  }
}

/** Raw task pixels of sample i as a 1- or 3-channel raster (alpha, if any, dropped). */
function pixelRaster(task: Extract<DecodeTask, { kind: 'pixels' }>, i: number): Raster {
  const { height, width, channels } = task;
  const per = height * width * channels;
  const src = task.pixels.subarray(i * per, (i + 1) * per);
  if (channels === 1 || channels === 3) return { data: src, width, height, channels };
  const keep = channels === 2 ? 1 : 3;
  const out = new Uint8Array(height * width * keep);
  for (let p = 0, q = 0; p < src.length; p += channels) for (let c = 0; c < keep; c++) out[q++] = src[p + c];
  return { data: out, width, height, channels: keep };
}

/** Writes one raster (already pre.height x pre.width) into `out` at `offset` as normalised float32. */
function normalise(r: Raster, pre: Preprocess, out: Float32Array, offset: number): void {
  if (r.width !== pre.width || r.height !== pre.height) {
    throw new Error(`internal: resized to ${r.width}x${r.height}, expected ${pre.width}x${pre.height}`);
  }
  const k = r.data instanceof Uint16Array ? 1 / 257 : 1;
  const C = pre.channels;
  const mean = Array.from({ length: C }, (_, c) => pre.mean[pre.mean.length === 1 ? 0 : c]);
  const std = Array.from({ length: C }, (_, c) => pre.std[pre.std.length === 1 ? 0 : c]);
  const n = pre.height * pre.width;
  const d = r.data;
  for (let p = 0; p < n; p++) {
    const o = offset + p * C;
    if (r.channels === 1) {
      const v = d[p] * k;
      for (let c = 0; c < C; c++) out[o + c] = (v * pre.scale - mean[c]) / std[c];
    } else if (C === 3) {
      for (let c = 0; c < 3; c++) out[o + c] = (d[p * 3 + c] * k * pre.scale - mean[c]) / std[c];
    } else {
      const v = (0.299 * d[p * 3] + 0.587 * d[p * 3 + 1] + 0.114 * d[p * 3 + 2]) * k;
      out[o] = (v * pre.scale - mean[0]) / std[0];
    }
  }
}

/** Decodes one task into a batch; the arrays are fresh (their buffers can be transferred). */
export async function decodeBatch(task: DecodeTask, pre: Preprocess): Promise<DecodedBatch> {
  if (task.kind === 'clips') return decodeClips(task, pre);
  const n = task.sampleIds.length;
  if (task.uris.length !== n) {
    throw new NeurolensError('INTERNAL', `decode task has ${n} sample ids but ${task.uris.length} uris`);
  }
  if (task.kind === 'pixels' && task.pixels.length !== n * task.height * task.width * task.channels) {
    throw new NeurolensError(
      'INTERNAL',
      `decode task pixels: ${task.pixels.length} bytes, expected ${n} x ${task.height} x ${task.width} x ${task.channels}`,
    );
  }
  const per = pre.height * pre.width * pre.channels;
  const data = new Float32Array(n * per);
  const failed = new Map<number, SampleError>();

  const one = async (i: number): Promise<void> => {
    try {
      const r =
        task.kind === 'pixels'
          ? await resizeRaster(pixelRaster(task, i), pre)
          : await decodeImage(await readImageFile(task.uris[i]), pre);
      normalise(r, pre, data, i * per);
    } catch (e) {
      failed.set(i, { sampleId: task.sampleIds[i], uri: task.uris[i], stage: 'decode', reason: errorMessage(e) });
    }
  };
  let next = 0;
  const lanes = Math.min(n, task.kind === 'pixels' ? 1 : FILE_CONCURRENCY);
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < n) await one(next++);
    }),
  );

  if (failed.size === 0) return { sampleIds: task.sampleIds.slice(), data, errors: [] };
  const ok = n - failed.size;
  const sampleIds = new Int32Array(ok);
  const packed = new Float32Array(ok * per);
  for (let i = 0, j = 0; i < n; i++) {
    if (failed.has(i)) continue;
    sampleIds[j] = task.sampleIds[i];
    packed.set(data.subarray(i * per, (i + 1) * per), j * per);
    j++;
  }
  return { sampleIds, data: packed, errors: [...failed.keys()].sort((a, b) => a - b).map((i) => failed.get(i)!) };
}

/**
 * The original pixels of one sample as 8-bit grey or RGB (alpha dropped, 16-bit rounded to
 * 8-bit), for mosaics and overlays; for a clip, its middle input frame at the video's own size
 * (src/video/sample-frames.ts). Throws NeurolensError('BAD_INPUT') naming the file.
 */
export async function loadSampleImage(
  source: Source,
  sampleId: number,
): Promise<{ width: number; height: number; channels: 1 | 3; data: Uint8Array }> {
  const task = source.decodeTask(sampleId, sampleId + 1);
  if (task.kind === 'clips') return loadClipMiddleFrame(source, sampleId);
  let r: Raster;
  if (task.kind === 'pixels') {
    r = pixelRaster(task, 0);
  } else {
    try {
      r = await decodeImage(await readImageFile(task.uris[0]));
    } catch (e) {
      throw new NeurolensError('BAD_INPUT', `sample ${sampleId} (${task.uris[0]}): ${errorMessage(e)}`, { cause: e });
    }
  }
  let data: Uint8Array;
  if (r.data instanceof Uint16Array) {
    data = new Uint8Array(r.data.length);
    for (let i = 0; i < data.length; i++) data[i] = Math.round(r.data[i] / 257);
  } else {
    data = r.data.byteLength === r.data.buffer.byteLength ? r.data : r.data.slice();
  }
  return { width: r.width, height: r.height, channels: r.channels, data };
}
