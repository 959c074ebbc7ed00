/**
 * Hand-set-weight models for the attribution tests.
 *
 * quadrant net (16x16x1): a model that only looks at the top-left quadrant.
 *   conv    Conv2D 3x3 valid, 4 filters (box, vertical edge, horizontal edge, centre-surround), ReLU -> [14,14,4]
 *   crop    Cropping2D keeps output rows/cols 0..5, whose receptive fields are input rows/cols 0..7
 *   masked  ZeroPadding2D back to [14,14,4]: the conv maps with everything outside the quadrant zeroed
 *   gap     GlobalAveragePooling2D -> [4]
 *   fc      Dense 4 -> 3 with a fused softmax (so 'logit' is the pre-activation of fc)
 * Every input pixel outside rows/cols 0..7 has no path to the output: its gradient is exactly 0
 * and occluding it changes nothing.
 *
 * linear net (HxWxC): flatten -> dense 1 (no activation): f(x) = sum w * x + b, so occluding a
 * patch with fill v drops f by sum over the patch of w * (x - v).
 */
import { tf, tfl } from '../src/model/tf.js';
import { mulberry32 } from '../src/train/prng.js';

export const Q = 16;

export function quadrantKernel(): Float32Array {
  const k = new Float32Array(3 * 3 * 1 * 4);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      const b = (r * 3 + c) * 4;
      k[b] = 1 / 9;
      k[b + 1] = [-1, 0, 1][c]!;
      k[b + 2] = [-1, 0, 1][r]!;
      k[b + 3] = (r === 1 && c === 1 ? 1 : 0) - 1 / 9;
    }
  }
  return k;
}

export const QUADRANT_FC = [
  [2, -1, 0.5],
  [1, 0.5, -1],
  [-1, 1, 0.3],
  [0.5, 0.2, 1],
];

export function quadrantNet(): tfl.Sequential {
  const m = tf.sequential({ name: 'quadrant_net' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [Q, Q, 1], filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu' }));
  m.add(tf.layers.cropping2D({ name: 'crop', cropping: [[0, 8], [0, 8]] }));
  m.add(tf.layers.zeroPadding2d({ name: 'masked', padding: [[0, 8], [0, 8]] }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  m.add(tf.layers.dense({ name: 'fc', units: 3, activation: 'softmax' }));
  m.getLayer('conv').setWeights([tf.tensor4d(quadrantKernel(), [3, 3, 1, 4]), tf.tensor1d([0.05, 0, 0, 0])]);
  m.getLayer('fc').setWeights([tf.tensor2d(QUADRANT_FC), tf.tensor1d([0, 0.1, -0.1])]);
  return m;
}

/** Seeded uniform noise in [lo, hi). */
export function noiseImage(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

export function linearNet(h: number, w: number, c: number, seed: number): { model: tfl.Sequential; weights: Float32Array; bias: number } {
  const m = tf.sequential({ name: 'linear_net' });
  m.add(tf.layers.flatten({ name: 'flat', inputShape: [h, w, c] }));
  m.add(tf.layers.dense({ name: 'out', units: 1 }));
  const weights = noiseImage(h * w * c, seed, -1, 1);
  const bias = 0.25;
  m.getLayer('out').setWeights([tf.tensor2d(weights, [h * w * c, 1]), tf.tensor1d([bias])]);
  return { model: m, weights, bias };
}

/** Share of sum |map| that lies in the top-left quadrant of an h x w map. */
export function topLeftShare(map: Float32Array, h: number, w: number): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.abs(map[y * w + x]!);
      total += v;
      if (y < h / 2 && x < w / 2) inside += v;
    }
  }
  return total === 0 ? 0 : inside / total;
}
