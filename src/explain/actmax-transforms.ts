/**
 * Random transformations applied to the image before each gradient step of activation
 * maximization ("transformation robustness", Olah et al. 2017, Distill; lucid
 * `optvis/transform.py` standard_transforms: jitter, random scale, random rotation). An image
 * that still excites the unit after small shifts, zooms and turns cannot rely on pixel-exact
 * high-frequency patterns, which is what makes the result look like a feature, not noise.
 *
 * The image keeps its size (models here have a fixed input size):
 * - jitter is a circular shift (roll) by up to `jitter` px in y and x: slice + concat, whose
 *   gradients tfjs-core has on every backend;
 * - scale and rotation are one bilinear warp about the image centre with mirrored borders. tfjs
 *   has no gradient for tf.image.transform, and tf.gather's gradient needs UnsortedSegmentSum,
 *   which the wasm backend lacks, so the warp is a custom op: forward gathers the 4 bilinear
 *   neighbours (GatherV2), backward scatters weighted gradients back (ScatterNd, which sums
 *   duplicate indices on wasm and cpu).
 */
import { tfc } from '../model/tf.js';

type Tensor = tfc.Tensor;

export interface TransformSettings {
  /** Largest shift in pixels (each axis, uniform integer in [-jitter, jitter]). */
  jitter: number;
  /** Scale factors; each step picks one uniformly (lucid random_scale). */
  scale: number[];
  /** Largest rotation in degrees (uniform in [-rotate, rotate]). */
  rotate: number;
}

/** One step's draw. */
export interface StepTransform {
  dy: number;
  dx: number;
  scale: number;
  /** Degrees, counter-clockwise. */
  angle: number;
}

/** Draws the transformation of one step from `rand` (a fixed number of draws per step). */
export function drawTransform(rand: () => number, s: TransformSettings): StepTransform {
  const int = (m: number) => Math.min(m, Math.floor(rand() * (2 * m + 1)) - m);
  const dy = int(s.jitter);
  const dx = int(s.jitter);
  const scale = s.scale.length ? s.scale[Math.min(s.scale.length - 1, Math.floor(rand() * s.scale.length))]! : 1;
  const angle = (2 * rand() - 1) * s.rotate;
  return { dy, dx, scale, angle };
}

/** Circular shift of x [1, H, W, C] by (dy, dx) pixels (numpy.roll over axes 1 and 2). */
export function roll(x: Tensor, dy: number, dx: number): Tensor {
  const [, h, w] = x.shape as number[] as [number, number, number, number];
  let out = x;
  const sy = ((dy % h) + h) % h;
  const sx = ((dx % w) + w) % w;
  if (sy) out = tfc.concat([tfc.slice(out, [0, h - sy, 0, 0], [-1, sy, -1, -1]), tfc.slice(out, [0, 0, 0, 0], [-1, h - sy, -1, -1])], 1);
  if (sx) out = tfc.concat([tfc.slice(out, [0, 0, w - sx, 0], [-1, -1, sx, -1]), tfc.slice(out, [0, 0, 0, 0], [-1, -1, w - sx, -1])], 2);
  return out;
}

/** Mirror a coordinate into [0, n-1] (reflect without repeating the edge, like numpy 'reflect'). */
function reflect(v: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = Math.abs(v) % period;
  if (m > n - 1) m = period - m;
  return m;
}

/** Bilinear sampling plan: 4 source indices and weights per output pixel, [4 * H * W]. */
export interface WarpPlan {
  index: Int32Array;
  weight: Float32Array;
}

/**
 * The plan of zooming by `scale` and rotating by `angle` degrees about the centre: output pixel q
 * samples the input at c + R(-angle) (q - c) / scale, mirrored into the image.
 */
export function warpPlan(h: number, w: number, scale: number, angle: number): WarpPlan {
  const n = h * w;
  const index = new Int32Array(4 * n);
  const weight = new Float32Array(4 * n);
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const t = (angle * Math.PI) / 180;
  const cos = Math.cos(t) / scale;
  const sin = Math.sin(t) / scale;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const qy = y - cy;
      const qx = x - cx;
      // Image y points down, so a counter-clockwise turn on screen is (x, y) -> (x cos + y sin, -x sin + y cos).
      const sy = reflect(cy + qy * cos + qx * sin, h);
      const sx = reflect(cx - qy * sin + qx * cos, w);
      const y0 = Math.floor(sy);
      const x0 = Math.floor(sx);
      const fy = sy - y0;
      const fx = sx - x0;
      const y1 = Math.min(y0 + 1, h - 1);
      const x1 = Math.min(x0 + 1, w - 1);
      const p = y * w + x;
      const corners: [number, number][] = [
        [y0 * w + x0, (1 - fy) * (1 - fx)],
        [y0 * w + x1, (1 - fy) * fx],
        [y1 * w + x0, fy * (1 - fx)],
        [y1 * w + x1, fy * fx],
      ];
      corners.forEach(([i, wt], k) => {
        index[k * n + p] = i;
        weight[k * n + p] = wt;
      });
    }
  }
  return { index, weight };
}

/** Applies a warp plan to x [1, H, W, C]; differentiable on wasm and cpu (see the header). */
export function warp(x: Tensor, plan: WarpPlan): Tensor {
  const [, h, w, c] = x.shape as [number, number, number, number];
  const n = h * w;
  const f = tfc.customGrad((...args: Array<Tensor | tfc.GradSaveFunc>) => {
    const input = args[0] as Tensor;
    const gathered = tfc.gather(tfc.reshape(input, [n, c]), tfc.tensor1d(plan.index, 'int32')); // [4n, c]
    const weighted = tfc.mul(gathered, tfc.tensor2d(plan.weight, [4 * n, 1]));
    const value = tfc.reshape(tfc.sum(tfc.reshape(weighted, [4, n, c]), 0), [1, h, w, c]);
    const gradFunc = (dy: Tensor) => {
      const upd = tfc.mul(tfc.reshape(tfc.tile(tfc.reshape(dy, [1, n, c]), [4, 1, 1]), [4 * n, c]), tfc.tensor2d(plan.weight, [4 * n, 1]));
      return tfc.reshape(tfc.scatterND(tfc.tensor2d(plan.index, [4 * n, 1], 'int32'), upd, [n, c]), [1, h, w, c]);
    };
    return { value, gradFunc };
  });
  return f(x);
}

/** The step's transformation of x [1, H, W, C]: roll, then zoom + rotation when not identity. */
export function applyTransform(x: Tensor, t: StepTransform): Tensor {
  const [, h, w] = x.shape as number[] as [number, number, number];
  const rolled = roll(x, t.dy, t.dx);
  if (t.scale === 1 && t.angle === 0) return rolled;
  return warp(rolled, warpPlan(h, w, t.scale, t.angle));
}
