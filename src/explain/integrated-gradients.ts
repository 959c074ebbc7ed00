/**
 * Integrated gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep
 * Networks", eq. 1): for an input x and a baseline x',
 *     IG_i = (x_i - x'_i) * integral_0^1 d f(x' + a (x - x')) / d x_i da
 * The integral is the trapezoid rule over a = k/m, k = 0..m (end weights 1/(2m), inner 1/m),
 * which is exact for a piecewise linear path function between the grid points and converges as
 * O(1/m^2) for smooth ones. Completeness (§3, Proposition 1): sum_i IG_i = f(x) - f(x'); the
 * result reports the gap, `delta`, as a check on m (the paper suggests 20-300 steps and
 * checking the sum within 5%). The path points are scored `batch` at a time. The two end points
 * are evaluated at a = 1e-3/m and 1 - 1e-3/m, the one-sided limits of the gradient: at a kink
 * exactly on the baseline - the all-zero input of a bias-free ReLU net puts every unit at 0, where
 * tfjs' ReLU gradient is 0 - the gradient at a = 0 itself would be wrong for the whole first
 * interval (a relative error of exactly 1/(2m) for a positively homogeneous net).
 *
 * Baselines (model-input units, built from pixels with the run's preprocessing): black (all
 * pixels 0, the paper's choice for images), white (255), blur (a Gaussian blur of the image with
 * sigma = max(H, W) / 8 px; Sturmfels, Lundberg & Lee 2020, "Visualizing the Impact of Feature
 * Attribution Baselines"), or an image file resized to the input.
 */
import sharp from 'sharp';
import { tf, tfc } from '../model/tf.js';
import { NeurolensError, errorMessage } from '../errors.js';
import type { Image8 } from '../render/canvas.js';
import type { Preprocess } from '../sources/types.js';
import { loadImageInput, pixelsToInput, type ExplainInput } from './input.js';
import { inputGradient } from './saliency.js';
import { defaultBatch, perPixel, type Objective } from './target.js';

export interface IgOptions {
  /** Baseline x' [H * W * C] in model-input units (default: all zeros). */
  baseline?: Float32Array;
  /** Trapezoid intervals m (default 50): m + 1 gradient evaluations. */
  steps?: number;
  /** Path points per backward pass (default: defaultBatch 'gradient', 16 for small inputs, 3 at 224x224x3). */
  batch?: number;
}

export interface IgResult {
  method: 'integrated-gradients';
  /** f(x) and f(x'). */
  score: number;
  baselineScore: number;
  steps: number;
  /** IG per input value, [H * W * C]. */
  attributions: Float32Array;
  /** Sum over channels (signed), [H * W]. */
  map: Float32Array;
  /** sum of attributions, and its gap to f(x) - f(x'). */
  sum: number;
  delta: number;
  height: number;
  width: number;
  channels: number;
}

export const IG_DEFAULTS = { steps: 50 };

export function integratedGradients(obj: Objective, x: Float32Array, o: IgOptions = {}): IgResult {
  obj.checkInput(x);
  const { height: H, width: W, channels: C } = obj.input;
  const per = H * W * C;
  const steps = o.steps ?? IG_DEFAULTS.steps;
  const batch = o.batch ?? defaultBatch(obj.input, 'gradient');
  if (!Number.isInteger(steps) || steps < 1) throw new NeurolensError('BAD_SPEC', `--steps must be an integer >= 1, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 1) throw new NeurolensError('BAD_SPEC', `--batch must be an integer >= 1, got ${batch}`);
  const baseline = o.baseline ?? new Float32Array(per);
  if (baseline.length !== per) throw new NeurolensError('BAD_INPUT', `baseline has ${baseline.length} values; the input has ${per}`);

  // End points a hair inside the path: the one-sided limits of the gradient (see the header).
  const nudge = 1e-3 / steps;
  const total = new Float64Array(per);
  const xt = tf.tensor4d(x, [1, H, W, C]);
  const bt = tf.tensor4d(baseline, [1, H, W, C]);
  let score = NaN;
  let baselineScore = NaN;
  try {
    const diff = tf.tidy(() => tfc.sub(xt, bt));
    try {
      for (let first = 0; first <= steps; first += batch) {
        const n = Math.min(batch, steps + 1 - first);
        const alphas = Float32Array.from({ length: n }, (_, k) => Math.min(1 - nudge, Math.max(nudge, (first + k) / steps)));
        const weights = Float32Array.from({ length: n }, (_, k) => (first + k === 0 || first + k === steps ? 0.5 : 1) / steps);
        const g = tf.tidy(() => {
          const path = tfc.add(bt, tfc.mul(tf.tensor4d(alphas, [n, 1, 1, 1]), diff));
          return tfc.sum(tfc.mul(inputGradient(obj, path), tf.tensor4d(weights, [n, 1, 1, 1])), 0).dataSync() as Float32Array;
        });
        for (let i = 0; i < per; i++) total[i] += g[i]!;
      }
      [score, baselineScore] = tf.tidy(() => Array.from(obj.predict(tfc.concat([xt, bt], 0)).dataSync()));
    } finally {
      diff.dispose();
    }
  } finally {
    xt.dispose();
    bt.dispose();
  }
  const attributions = new Float32Array(per);
  let sum = 0;
  for (let i = 0; i < per; i++) {
    const a = (x[i]! - baseline[i]!) * total[i]!;
    attributions[i] = a;
    sum += a;
  }
  return {
    method: 'integrated-gradients',
    score: score!,
    baselineScore: baselineScore!,
    steps,
    attributions,
    map: perPixel(attributions, H * W, C, 'sum'),
    sum,
    delta: sum - (score! - baselineScore!),
    height: H,
    width: W,
    channels: C,
  };
}

export type BaselineKind = 'black' | 'white' | 'blur';

/** A baseline for `input`: black, white, blur, or an image file (anything else is a path). */
export async function baselineFor(kind: BaselineKind | string, input: ExplainInput, pre: Preprocess): Promise<Float32Array> {
  const { width, height } = input.image;
  if (kind === 'black' || kind === 'white') {
    const img: Image8 = { width, height, channels: 1, data: new Uint8Array(width * height).fill(kind === 'black' ? 0 : 255) };
    return pixelsToInput(img, pre);
  }
  if (kind === 'blur') {
    const sigma = Math.max(0.3, Math.max(width, height) / 8);
    let data: Buffer;
    try {
      data = await sharp(input.image.data, { raw: { width, height, channels: input.image.channels as 1 | 3 } }).blur(sigma).raw().toBuffer();
    } catch (e) {
      throw new NeurolensError('INTERNAL', `blur baseline: ${errorMessage(e)}`, { cause: e });
    }
    return pixelsToInput({ width, height, channels: input.image.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }, pre);
  }
  return (await loadImageInput(kind, { pre })).data;
}
