/**
 * Priors for spatiotemporal activation maximization (Feichtenhofer, Pinz, Wildes & Zisserman,
 * CVPR 2018 §3 / IJCV 2020 §3, extending Mahendran & Vedaldi 2015/2016 from images to clips),
 * on one stream's values u [1, T, H, W, K] (appearance centred at grey, or flow), each term a
 * MEAN over positions so weights do not depend on the clip size (the papers divide the sums by
 * H W T), with the stream's value range B normalizing the values:
 *
 *   R_alpha(u) = mean |u / B|^alpha                                         (alpha-norm)
 *   R_ST(u)    = mean ( ((D_x u)^2 + (D_y u)^2) / B^2 )^(beta / 2)          (spatial TV, exponent beta)
 *              + kappa * mean ( (D_t u)^2 / B^2 )                           (temporal variation)
 *
 * with D_x, D_y differences of horizontally / vertically neighbouring pixels of the same frame
 * and D_t the difference of the same pixel in consecutive frames (t, t + 1), no wrap-around.
 * kappa weights the temporal part on its own: a small kappa lets fast-changing patterns (fast
 * motion) emerge, a large one leaves only slowly changing ones ("slow" vs "fast" motion,
 * Feichtenhofer et al. Figs. "fast/slow").
 *
 * SOURCE NOTE: the stored copies of the papers we could search held only their abstracts, so the
 * equations above are the form we recall (objective eq. 1: activation / max over the training
 * set minus lambda_alpha R_alpha minus lambda_TV R_ST; eq. 2 the alpha-norm; eq. 3 the
 * spatiotemporal variation), not a transcription; the separate normalization of appearance and
 * motion is kept as one range B per stream (Mahendran & Vedaldi use V = B / 6.5 for the
 * variation; a different constant only rescales lambda_TV). Check against the paper before
 * quoting equation numbers.
 */
import { tfc } from '../model/tf.js';

type Tensor = tfc.Tensor;

/** Keeps the gradient of s^(beta/2) finite at s = 0 when beta < 2. */
const TV_EPS = 1e-8;

/** mean |u / B|^alpha. */
export function clipAlphaNorm(u: Tensor, range: number, alpha: number): Tensor {
  const z = tfc.abs(tfc.div(u, range));
  return alpha === 2 ? tfc.mean(tfc.square(z)) : tfc.mean(tfc.pow(z, alpha));
}

/** The spatial part of R_ST: mean over frames and pixels of ((D_x u)^2 + (D_y u)^2)/B^2 to the beta/2. */
export function spatialVariation(u: Tensor, range: number, beta: number): Tensor {
  const [, t, h, w, k] = u.shape as [number, number, number, number, number];
  if (h < 2 && w < 2) return tfc.scalar(0);
  // Isotropic form on the (H-1) x (W-1) pixels that have both neighbours (Mahendran & Vedaldi);
  // a clip one pixel high or wide has only one direction.
  const hh = h > 1 ? h - 1 : 1;
  const ww = w > 1 ? w - 1 : 1;
  const base = tfc.slice(u, [0, 0, 0, 0, 0], [1, t, hh, ww, k]);
  let s: Tensor = tfc.zerosLike(base);
  if (w > 1) s = tfc.add(s, tfc.square(tfc.sub(tfc.slice(u, [0, 0, 0, 1, 0], [1, t, hh, ww, k]), base)));
  if (h > 1) s = tfc.add(s, tfc.square(tfc.sub(tfc.slice(u, [0, 0, 1, 0, 0], [1, t, hh, ww, k]), base)));
  s = tfc.div(s, range * range);
  return beta === 2 ? tfc.mean(s) : tfc.mean(tfc.pow(tfc.add(s, TV_EPS), beta / 2));
}

/** The temporal part of R_ST without kappa: mean over consecutive frame pairs of (D_t u)^2 / B^2. */
export function temporalVariation(u: Tensor, range: number): Tensor {
  const [, t, h, w, k] = u.shape as [number, number, number, number, number];
  if (t < 2) return tfc.scalar(0);
  const d = tfc.sub(tfc.slice(u, [0, 1, 0, 0, 0], [1, t - 1, h, w, k]), tfc.slice(u, [0, 0, 0, 0, 0], [1, t - 1, h, w, k]));
  return tfc.mean(tfc.div(tfc.square(d), range * range));
}

/** Channel range [from, from + count) of a flat clip [T, H, W, C]. */
export interface ChannelRange {
  from: number;
  count: number;
}

/**
 * Mean squared difference of consecutive frames over the channels `ch` of a flat clip
 * [T, H, W, C] (plain JavaScript, for reports and tests; no normalization).
 */
export function temporalVariationOf(clip: ArrayLike<number>, shape: { frames: number; height: number; width: number; channels: number }, ch: ChannelRange): number {
  const { frames: T, height: H, width: W, channels: C } = shape;
  if (T < 2 || ch.count === 0) return 0;
  const plane = H * W * C;
  let sum = 0;
  for (let t = 0; t + 1 < T; t++) {
    for (let p = 0; p < H * W; p++) {
      for (let c = ch.from; c < ch.from + ch.count; c++) {
        const d = clip[(t + 1) * plane + p * C + c]! - clip[t * plane + p * C + c]!;
        sum += d * d;
      }
    }
  }
  return sum / ((T - 1) * H * W * ch.count);
}

/**
 * Mean temporal frequency of channels `ch` of a flat clip [T, H, W, C], in cycles per frame
 * (0 .. 0.5): the DFT along time of each pixel's mean-removed signal, frequencies |f| weighted by
 * their power, summed over pixels and channels. 0 for a clip that does not change over time
 * (no temporal power); 0.5 for a pattern that flips every frame. A "slow" unit's optimum sits
 * low, a "fast" one's high.
 */
export function meanTemporalFrequency(clip: ArrayLike<number>, shape: { frames: number; height: number; width: number; channels: number }, ch: ChannelRange): number {
  const { frames: T, height: H, width: W, channels: C } = shape;
  if (T < 2 || ch.count === 0) return 0;
  const plane = H * W * C;
  let power = 0;
  let weighted = 0;
  const sig = new Float64Array(T);
  for (let p = 0; p < H * W; p++) {
    for (let c = ch.from; c < ch.from + ch.count; c++) {
      let mean = 0;
      for (let t = 0; t < T; t++) mean += sig[t] = clip[t * plane + p * C + c]!;
      mean /= T;
      for (let f = 1; f < T; f++) {
        let re = 0;
        let im = 0;
        for (let t = 0; t < T; t++) {
          const a = (-2 * Math.PI * f * t) / T;
          re += (sig[t]! - mean) * Math.cos(a);
          im += (sig[t]! - mean) * Math.sin(a);
        }
        const pw = re * re + im * im;
        power += pw;
        weighted += pw * (Math.min(f, T - f) / T);
      }
    }
  }
  return power > 1e-20 ? weighted / power : 0;
}
