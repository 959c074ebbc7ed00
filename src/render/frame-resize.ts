/**
 * Synchronous resizing of small 8-bit frames for clip figures (clip-strip.ts, clip-grid.ts):
 * every frame of every clip is scaled to the same cell, many times per figure, so this stays a
 * plain loop instead of a sharp round trip per frame. Bilinear uses half-pixel centres, the
 * convention of heatmap.ts `resizeBilinear` (and sharp / OpenCV / tf.image halfPixelCenters), so
 * a frame and its heat map upsampled to the same cell line up pixel for pixel.
 */
import type { Image8 } from './canvas.js';

export type ResizeKernel = 'nearest' | 'bilinear';

export interface Size {
  width: number;
  height: number;
}

/** The largest size with the aspect ratio of `src` that fits in `box` (at least 1 x 1). */
export function fitSize(src: Size, box: Size): Size {
  const s = Math.min(box.width / src.width, box.height / src.height);
  return { width: Math.max(1, Math.min(box.width, Math.round(src.width * s))), height: Math.max(1, Math.min(box.height, Math.round(src.height * s))) };
}

/** Source index and weight pairs of each output coordinate along one axis. */
function axis(n: number, m: number, kernel: ResizeKernel): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const f = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    if (kernel === 'nearest') {
      // Centre of output pixel i in input coordinates, then the input pixel that contains it.
      i0[i] = i1[i] = Math.min(n - 1, Math.floor(((i + 0.5) * n) / m));
      continue;
    }
    const c = Math.min(n - 1, Math.max(0, ((i + 0.5) * n) / m - 0.5));
    i0[i] = Math.floor(c);
    i1[i] = Math.min(n - 1, i0[i]! + 1);
    f[i] = c - i0[i]!;
  }
  return { i0, i1, f };
}

/** `img` resized to width x height with the given kernel; the channel count is kept. */
export function resizeImage8(img: Image8, width: number, height: number, kernel: ResizeKernel = 'bilinear'): Image8 {
  if (img.data.length !== img.width * img.height * img.channels) throw new Error(`image data has ${img.data.length} bytes for ${img.width}x${img.height}x${img.channels}`);
  if (width === img.width && height === img.height) return img;
  const ch = img.channels;
  const xs = axis(img.width, width, kernel);
  const ys = axis(img.height, height, kernel);
  const out = new Uint8Array(width * height * ch);
  const src = img.data;
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y]! * img.width;
    const r1 = ys.i1[y]! * img.width;
    const fy = ys.f[y]!;
    for (let x = 0; x < width; x++) {
      const a = (r0 + xs.i0[x]!) * ch;
      const b = (r0 + xs.i1[x]!) * ch;
      const c = (r1 + xs.i0[x]!) * ch;
      const d = (r1 + xs.i1[x]!) * ch;
      const fx = xs.f[x]!;
      const o = (y * width + x) * ch;
      for (let k = 0; k < ch; k++) {
        const top = src[a + k]! + (src[b + k]! - src[a + k]!) * fx;
        const bottom = src[c + k]! + (src[d + k]! - src[c + k]!) * fx;
        out[o + k] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return { width, height, channels: ch, data: out };
}
