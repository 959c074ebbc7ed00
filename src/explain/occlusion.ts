/**
 * Occlusion sensitivity (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional
 * Networks", §4.2): slide a square patch over the input, replace the pixels under it by a fill
 * value, and record how much the score drops: drop = f(x) - f(x with the patch occluded).
 * Positive: the region supports the class / unit; negative: hiding it raises the score.
 *
 * Patch positions are y0 = 0, stride, ... while y0 + patch <= H (the same for x), so the grid is
 * floor((H - patch) / stride) + 1 cells high; with (H - patch) % stride != 0 the last rows and
 * columns are only covered by the patches that reach them. The fill is in model-input units
 * (after preprocessing): 0 is black for [0, 1] inputs and the mean for standardized inputs.
 * Occluded copies are built on the backend from one mask batch and scored `batch` at a time.
 * The per-pixel map averages the drops of all patches covering a pixel (0 where none does).
 */
import { tf, tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { defaultBatch, type Objective } from './target.js';

export interface OcclusionOptions {
  /** Side of the square patch in input pixels (default 8). */
  patch?: number;
  /** Step between patch positions (default 4). */
  stride?: number;
  /** Value the occluded input takes, in model-input units (default 0). */
  fill?: number;
  /** Occluded copies scored per forward pass (default: defaultBatch 'forward', 32 up to 362x362x3). */
  batch?: number;
}

export interface OcclusionResult {
  method: 'occlusion';
  /** f(x), the unoccluded score. */
  score: number;
  patch: number;
  stride: number;
  fill: number;
  gridH: number;
  gridW: number;
  /** Drop per patch position, [gridH * gridW] row-major. */
  grid: Float32Array;
  /** Mean drop of the patches covering each pixel, [H * W]. */
  map: Float32Array;
  height: number;
  width: number;
}

export const OCCLUSION_DEFAULTS = { patch: 8, stride: 4, fill: 0 };

/** Grid size of a patch/stride over an H x W input; throws when the patch does not fit. */
export function occlusionGrid(height: number, width: number, patch: number, stride: number): { gridH: number; gridW: number } {
  if (!Number.isInteger(patch) || patch < 1) throw new NeurolensError('BAD_SPEC', `--patch must be an integer >= 1, got ${patch}`);
  if (!Number.isInteger(stride) || stride < 1) throw new NeurolensError('BAD_SPEC', `--stride must be an integer >= 1, got ${stride}`);
  if (patch > height || patch > width) throw new NeurolensError('BAD_SPEC', `--patch ${patch} is larger than the ${height}x${width} input`);
  return { gridH: Math.floor((height - patch) / stride) + 1, gridW: Math.floor((width - patch) / stride) + 1 };
}

/** Scores [B, K] of K targets for inputs [B, H, W, C] (a forward pass; called inside a tidy). */
export type MultiScore = (x: tfc.Tensor) => tfc.Tensor;

export interface OcclusionGrids {
  /** Unoccluded score of each target, [K]. */
  scores: Float32Array;
  gridH: number;
  gridW: number;
  /** Drop per patch position for each target, K arrays of [gridH * gridW]. */
  grids: Float32Array[];
}

/**
 * Occlusion grids of K targets at once: every occluded copy is scored once and gives the drop of
 * all K targets (the classes of one softmax cost no more than one class).
 */
export function occlusionGrids(score: MultiScore, k: number, x: Float32Array, shape: { height: number; width: number; channels: number }, o: Required<OcclusionOptions>): OcclusionGrids {
  const { patch, stride, fill, batch } = o;
  if (!Number.isFinite(fill)) throw new NeurolensError('BAD_SPEC', `--fill must be a number, got ${fill}`);
  if (!Number.isInteger(batch) || batch < 1) throw new NeurolensError('BAD_SPEC', `--batch must be an integer >= 1, got ${batch}`);
  const { height: H, width: W, channels: C } = shape;
  const { gridH, gridW } = occlusionGrid(H, W, patch, stride);
  const cells = gridH * gridW;
  const grids = Array.from({ length: k }, () => new Float32Array(cells));
  const xt = tf.tensor4d(x, [1, H, W, C]);
  try {
    const scores = tf.tidy(() => score(xt).dataSync() as Float32Array);
    const mask = new Float32Array(Math.min(batch, cells) * H * W);
    for (let first = 0; first < cells; first += batch) {
      const n = Math.min(batch, cells - first);
      const m = mask.subarray(0, n * H * W).fill(1);
      for (let j = 0; j < n; j++) {
        const cell = first + j;
        const y0 = Math.floor(cell / gridW) * stride;
        const x0 = (cell % gridW) * stride;
        for (let y = y0; y < y0 + patch; y++) m.fill(0, j * H * W + y * W + x0, j * H * W + y * W + x0 + patch);
      }
      const occ = tf.tidy(() => {
        const keep = tf.tensor4d(m, [n, H, W, 1]);
        // x * keep + fill * (1 - keep): the mask broadcasts over channels.
        const occluded = tfc.add(tfc.mul(xt, keep), tfc.mul(tfc.sub(1, keep), fill));
        return score(occluded).dataSync() as Float32Array;
      });
      for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) grids[t]![first + j] = scores[t]! - occ[j * k + t]!;
    }
    return { scores, gridH, gridW, grids };
  } finally {
    xt.dispose();
  }
}

/** Occlusion map of one input x [H * W * C] (model-input units) for one objective. */
export function occlusion(obj: Objective, x: Float32Array, o: OcclusionOptions = {}): OcclusionResult {
  const opts = {
    patch: o.patch ?? OCCLUSION_DEFAULTS.patch,
    stride: o.stride ?? OCCLUSION_DEFAULTS.stride,
    fill: o.fill ?? OCCLUSION_DEFAULTS.fill,
    batch: o.batch ?? defaultBatch(obj.input, 'forward'),
  };
  obj.checkInput(x);
  const { height: H, width: W } = obj.input;
  const r = occlusionGrids((t) => tfc.reshape(obj.predict(t), [-1, 1]), 1, x, obj.input, opts);
  const grid = r.grids[0]!;
  return {
    method: 'occlusion',
    score: r.scores[0]!,
    ...opts,
    gridH: r.gridH,
    gridW: r.gridW,
    grid,
    map: occlusionPixels(grid, r.gridH, r.gridW, opts.patch, opts.stride, H, W),
    height: H,
    width: W,
  };
}

/** Per-pixel mean of the drops of the patches covering each pixel. */
export function occlusionPixels(grid: Float32Array, gridH: number, gridW: number, patch: number, stride: number, H: number, W: number): Float32Array {
  const sum = new Float64Array(H * W);
  const count = new Uint32Array(H * W);
  for (let gy = 0; gy < gridH; gy++) {
    for (let gx = 0; gx < gridW; gx++) {
      const d = grid[gy * gridW + gx]!;
      for (let y = gy * stride; y < gy * stride + patch; y++) {
        for (let x = gx * stride; x < gx * stride + patch; x++) {
          sum[y * W + x] += d;
          count[y * W + x]++;
        }
      }
    }
  }
  const out = new Float32Array(H * W);
  for (let i = 0; i < out.length; i++) out[i] = count[i] ? sum[i]! / count[i]! : 0;
  return out;
}
