/**
 * Gradient saliency.
 *
 * - Vanilla gradient (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks",
 *   §3.1): w = d score / d x at the input; the map is max over channels of |w|.
 * - SmoothGrad (Smilkov et al. 2017): the mean gradient over N copies of the input with
 *   Gaussian noise of std sigma = noise * (max(x) - min(x)) (their "noise level", 10-20%
 *   recommended), map = max over channels of |mean gradient|. The noise is drawn from a seeded
 *   mulberry32 stream in JavaScript, so a seed gives the same map on every backend.
 * Gradients of a batch are taken of the sum of per-sample scores: samples do not interact in
 * inference, so each sample's gradient is its own.
 */
import { tf, tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { mulberry32 } from '../train/prng.js';
import type { ReluFn } from './forward.js';
import { defaultBatch, perPixel, type Objective } from './target.js';

type Tensor = tfc.Tensor;

export interface GradientResult {
  method: 'saliency' | 'smoothgrad' | 'guided-backprop';
  /** f(x). */
  score: number;
  /** d score / d x (SmoothGrad: averaged over the noisy copies), [H * W * C]. */
  gradient: Float32Array;
  /** max over channels of |gradient|, [H * W]. */
  map: Float32Array;
  height: number;
  width: number;
  channels: number;
  /** SmoothGrad: copies and noise std used. */
  smooth?: { samples: number; noise: number; sigma: number; seed: number };
}

/** Gradient of the summed per-sample scores w.r.t. inputs xs [B, H, W, C] (inside a tidy). */
export function inputGradient(obj: Objective, xs: Tensor, relu?: ReluFn): Tensor {
  return tf.grad((x: Tensor) => tfc.sum(obj.score(x, relu)))(xs);
}

/** Score and gradient at x, one forward/backward pass; returns typed arrays. */
export function gradientAt(obj: Objective, x: Float32Array, relu?: ReluFn): { score: number; gradient: Float32Array } {
  obj.checkInput(x);
  const { height: H, width: W, channels: C } = obj.input;
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, [1, H, W, C]);
    const { value, grad } = tf.valueAndGrad((v: Tensor) => tfc.sum(obj.score(v, relu)))(xt);
    return { score: value.dataSync()[0]!, gradient: grad.dataSync() as Float32Array };
  });
}

export interface SaliencyOptions {
  /** SmoothGrad copies; 0 or undefined: the vanilla gradient. */
  smooth?: number;
  /** SmoothGrad noise level (fraction of the input's value range), default 0.15. */
  noise?: number;
  seed?: number;
  /** Noisy copies per backward pass (default: defaultBatch 'gradient'). */
  batch?: number;
}

/** Standard normal deviates (Box-Muller over a mulberry32 stream). */
export function gaussian(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Vanilla gradient or SmoothGrad of the target at x [H * W * C]. */
export function saliency(obj: Objective, x: Float32Array, o: SaliencyOptions = {}): GradientResult {
  const { height: H, width: W, channels: C } = obj.input;
  const samples = o.smooth ?? 0;
  if (!Number.isInteger(samples) || samples < 0) throw new NeurolensError('BAD_SPEC', `--smooth must be an integer >= 0, got ${samples}`);
  const base = gradientAt(obj, x);
  if (samples === 0) {
    return { method: 'saliency', score: base.score, gradient: base.gradient, map: perPixel(base.gradient, H * W, C, 'maxabs'), height: H, width: W, channels: C };
  }
  const noise = o.noise ?? 0.15;
  const seed = o.seed ?? 0;
  const batch = o.batch ?? defaultBatch(obj.input, 'gradient');
  if (!(noise >= 0) || !Number.isFinite(noise)) throw new NeurolensError('BAD_SPEC', `--noise must be a number >= 0, got ${noise}`);
  if (!Number.isInteger(batch) || batch < 1) throw new NeurolensError('BAD_SPEC', `--batch must be an integer >= 1, got ${batch}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const sigma = noise * (hi - lo);
  const per = H * W * C;
  const eps = gaussian(samples * per, seed);
  const total = new Float64Array(per);
  const xt = tf.tensor4d(x, [1, H, W, C]);
  try {
    for (let first = 0; first < samples; first += batch) {
      const n = Math.min(batch, samples - first);
      const g = tf.tidy(() => {
        const noisy = tfc.add(xt, tfc.mul(tf.tensor4d(eps.subarray(first * per, (first + n) * per), [n, H, W, C]), sigma));
        return tfc.sum(inputGradient(obj, noisy), 0).dataSync() as Float32Array;
      });
      for (let i = 0; i < per; i++) total[i] += g[i]!;
    }
  } finally {
    xt.dispose();
  }
  const gradient = new Float32Array(per);
  for (let i = 0; i < per; i++) gradient[i] = total[i]! / samples;
  return {
    method: 'smoothgrad',
    score: base.score,
    gradient,
    map: perPixel(gradient, H * W, C, 'maxabs'),
    height: H,
    width: W,
    channels: C,
    smooth: { samples, noise, sigma, seed },
  };
}
