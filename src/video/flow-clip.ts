/**
 * Writes the motion channels of one clip into its NTHWC buffer (layout: src/video/clip-layout.ts).
 * The decode worker fills the appearance channels; this fills only the motion slots, so the two
 * can run in either order on the same buffer.
 */
import type { OpticalFlow } from './flow.js';

/** Where the motion channels of a clip live in the output buffer. */
export interface MotionSlots {
  /** Index in `out` of the clip's first value (frame 0, pixel 0, channel 0). Default 0. */
  offset?: number;
  /** Channel index of the first motion channel within a pixel (= appearance channels A). */
  channel: number;
  /** Channels per pixel (A + M). */
  stride: number;
}

/**
 * ITU-R BT.601 luma, Y' = 0.299 R + 0.587 G + 0.114 B, scaled from 0..255 to 0..1.
 * `rgb` holds pixels of `channels` values (3 for RGB, 4 for RGBA; extra channels are ignored);
 * writes one float per pixel into `out` (allocated when not given) and returns it.
 */
export function rgbToLuma(rgb: ArrayLike<number>, out?: Float32Array, channels = 3): Float32Array {
  const n = Math.floor(rgb.length / channels);
  const dst = out ?? new Float32Array(n);
  if (dst.length < n) throw new RangeError(`rgbToLuma: out holds ${dst.length} values, need ${n}`);
  const kr = 0.299 / 255;
  const kg = 0.587 / 255;
  const kb = 0.114 / 255;
  for (let i = 0, j = 0; i < n; i++, j += channels) dst[i] = kr * rgb[j] + kg * rgb[j + 1] + kb * rgb[j + 2];
  return dst;
}

/**
 * Motion channels of a clip of T input frames from its T + 1 decoded luma frames.
 * `frames` holds (T + 1) frames of width * height luma values (0..1), frame t at t * H * W.
 * - `flow`: channels (channel, channel + 1) of frame t = optical flow (u, v) from frame t to
 *   t + 1 times `scale`; `flow` must be an OpticalFlow for (width, height).
 * - `diff`: channel `channel` of frame t = (luma(t + 1) - luma(t)) * scale.
 * Values are interleaved at `stride` per pixel; no other slot of `out` is written.
 */
export function clipMotion(
  frames: Float32Array,
  T: number,
  width: number,
  height: number,
  kind: 'flow' | 'diff',
  scale: number,
  out: Float32Array,
  slots: MotionSlots,
  flow?: OpticalFlow,
): void {
  const n = width * height;
  const { channel, stride } = slots;
  const offset = slots.offset ?? 0;
  const m = kind === 'flow' ? 2 : 1;
  if (frames.length < (T + 1) * n) throw new RangeError(`clipMotion: ${T} frames need ${(T + 1) * n} luma values, got ${frames.length}`);
  if (channel < 0 || channel + m > stride) throw new RangeError(`clipMotion: ${m} motion channel(s) at ${channel} do not fit a stride of ${stride}`);
  if (offset + T * n * stride > out.length) throw new RangeError(`clipMotion: out holds ${out.length} values, clip needs ${offset + T * n * stride}`);
  if (kind === 'diff') {
    for (let t = 0; t < T; t++) {
      const a = t * n;
      const b = a + n;
      let o = offset + t * n * stride + channel;
      for (let i = 0; i < n; i++, o += stride) out[o] = (frames[b + i] - frames[a + i]) * scale;
    }
    return;
  }
  if (!flow || flow.width !== width || flow.height !== height) {
    throw new RangeError(`clipMotion: flow needs an OpticalFlow for ${width}x${height}`);
  }
  for (let t = 0; t < T; t++) {
    flow.compute(frames.subarray(t * n, (t + 1) * n), frames.subarray((t + 1) * n, (t + 2) * n));
    const u = flow.u;
    const v = flow.v;
    let o = offset + t * n * stride + channel;
    for (let i = 0; i < n; i++, o += stride) {
      out[o] = u[i] * scale;
      out[o + 1] = v[i] * scale;
    }
  }
}
