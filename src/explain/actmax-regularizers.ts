/**
 * Image priors for activation maximization, each a penalty on the image x [1, H, W, C] in [0, 1]
 * (or, for the blur, an operation applied every k steps):
 * - total variation (Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by
 *   Inverting Them", eq. 7 with beta = 1; tf.image.total_variation): the mean absolute
 *   difference of vertically and horizontally adjacent pixels. Penalises high frequencies.
 * - alpha-norm (Mahendran & Vedaldi 2015, eq. 6; alpha = 2 is the L2 decay of Simonyan et al.
 *   2014): mean |x - 0.5|^alpha, which keeps values away from the extremes.
 * - Gaussian blur (Yosinski et al. 2015, "Understanding Neural Networks Through Deep
 *   Visualization", regularizer "Gaussian blur" every few steps).
 * Penalties are means, not sums, so their weights do not depend on the image size.
 */
import { tfc } from '../model/tf.js';

type Tensor = tfc.Tensor;

/** Mean absolute difference of neighbours along y plus along x (anisotropic TV, beta = 1). */
export function totalVariation(x: Tensor): Tensor {
  const [, h, w, c] = x.shape as [number, number, number, number];
  let tv: Tensor = tfc.scalar(0);
  if (h > 1) tv = tfc.add(tv, tfc.mean(tfc.abs(tfc.sub(tfc.slice(x, [0, 1, 0, 0], [1, h - 1, w, c]), tfc.slice(x, [0, 0, 0, 0], [1, h - 1, w, c])))));
  if (w > 1) tv = tfc.add(tv, tfc.mean(tfc.abs(tfc.sub(tfc.slice(x, [0, 0, 1, 0], [1, h, w - 1, c]), tfc.slice(x, [0, 0, 0, 0], [1, h, w - 1, c])))));
  return tv;
}

/** The same total variation in plain JavaScript, for reports and tests (x is HWC row-major). */
export function totalVariationOf(x: ArrayLike<number>, h: number, w: number, c: number): number {
  let sy = 0;
  let sx = 0;
  for (let y = 0; y < h; y++) {
    for (let i = 0; i < w; i++) {
      for (let k = 0; k < c; k++) {
        const v = x[(y * w + i) * c + k]!;
        if (y + 1 < h) sy += Math.abs(x[((y + 1) * w + i) * c + k]! - v);
        if (i + 1 < w) sx += Math.abs(x[(y * w + i + 1) * c + k]! - v);
      }
    }
  }
  return (h > 1 ? sy / ((h - 1) * w * c) : 0) + (w > 1 ? sx / (h * (w - 1) * c) : 0);
}

/** Mean |x - 0.5|^alpha: the alpha-norm prior of Mahendran & Vedaldi on an image centred at grey. */
export function alphaNorm(x: Tensor, alpha: number): Tensor {
  const d = tfc.sub(x, 0.5);
  if (alpha === 2) return tfc.mean(tfc.square(d));
  return tfc.mean(tfc.pow(tfc.abs(d), alpha));
}

/** Normalized 1-D Gaussian taps of std `sigma`, radius ceil(3 sigma) clipped to `maxRadius`. */
export function gaussianTaps(sigma: number, maxRadius: number): Float32Array {
  const r = Math.max(0, Math.min(Math.ceil(3 * sigma), maxRadius));
  const taps = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += taps[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < taps.length; i++) taps[i] = taps[i]! / sum;
  return taps;
}

/** Separable Gaussian blur of x [1, H, W, C] per channel, borders reflected (no dark frame). */
export function gaussianBlur(x: Tensor, sigma: number): Tensor {
  const [, h, w, c] = x.shape as [number, number, number, number];
  if (!(sigma > 0)) return tfc.clone(x);
  return tfc.tidy(() => {
    let out = x as tfc.Tensor4D;
    for (const axis of [1, 2] as const) {
      const n = axis === 1 ? h : w;
      const taps = gaussianTaps(sigma, n - 1);
      const r = (taps.length - 1) / 2;
      if (r === 0) continue;
      const pad: [number, number][] = [[0, 0], axis === 1 ? [r, r] : [0, 0], axis === 2 ? [r, r] : [0, 0], [0, 0]];
      const shape: [number, number, number, number] = axis === 1 ? [taps.length, 1, c, 1] : [1, taps.length, c, 1];
      const kernel = tfc.tile(tfc.reshape(tfc.tensor1d(taps), [shape[0], shape[1], 1, 1]), [1, 1, c, 1]) as tfc.Tensor4D;
      out = tfc.depthwiseConv2d(tfc.mirrorPad(out, pad, 'reflect'), kernel, 1, 'valid');
    }
    return out;
  });
}
