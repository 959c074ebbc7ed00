/**
 * Per-layer reduction of activations ON THE BACKEND: only [B, C] statistics leave it.
 *
 * For an activation a[b, p, c] over P positions p = t*H*W + y*W + x (pooled axes T, H, W):
 *   max, min, mean = sum_p a / P, sqMean = sum_p a^2 / P (for the dataset variance, Chan et al.),
 *   zeroFrac = #{p : a = 0} / P (TensorBoard's `zero_fraction`), argmax = first p with a = max.
 * On 'wasm' and 'cpu' all six come from one pass of the fused NeurolensChannelStats kernel
 * (channel-stats-kernel.ts: float64 sums; NaN rule: a channel with a NaN has max = min = NaN,
 * argmax = first NaN, mean and sqMean NaN, and NaN is not zero). Other backends ('tensorflow')
 * use tensor ops (float32 sums; NaN handling is the backend's), with the zero count travelling
 * as a nonzero count that is divided on the host (see unpackStats). NEUROLENS_FUSED_STATS=0 in the
 * environment forces the tensor-op path everywhere (for benchmarks: bench/pipeline.ts --ops).
 * All float statistics of all layers are packed into ONE float32 tensor and all integer ones
 * into ONE int32 tensor, so a batch costs two downloads whatever the number of layers.
 */
import { tf, tfc } from './tf.js';
import { NeurolensError } from '../errors.js';
import type { LayerBatchStats } from '../stats/types.js';
import { channelStats, hasChannelStatsKernel, registerChannelStatsKernel } from './channel-stats-kernel.js';

// Kernel registration is a registry entry (no backend needed): done once, on first import.
registerChannelStatsKernel();

export interface ReducePlan {
  name: string;
  /** Compute the full statistics (max, min, mean, sqMean, zeroFrac, argmax). */
  stats: boolean;
  /** Only the mean is needed as a CNN code; with `stats` it is shared. */
  code: boolean;
}

interface LayerSlot {
  name: string;
  stats: boolean;
  code: boolean;
  batch: number;
  channels: number;
  extent: [number, number, number];
  floatOffset: number;
  intOffset: number;
  /** Stat row 4 holds nonzero counts (tensor-op path) rather than zero fractions. */
  nonzeroCounts: boolean;
}

export interface PackedLayout {
  layers: LayerSlot[];
  /** Offsets of predictions (prob in floats, pred in ints), or -1. */
  probOffset: number;
  predOffset: number;
  /** Offset of the probability given to the true label (floats), or -1 when no labels were given. */
  labelProbOffset: number;
  batch: number;
}

export interface CodeBatch {
  layer: string;
  /** Code dimension = channels of the layer. */
  dim: number;
  /** Global-average-pooled vectors, row-major [B, dim]. */
  data: Float32Array;
}

export interface TapResult {
  layers: LayerBatchStats[];
  codes: CodeBatch[];
  predictions?: Predictions;
}

/**
 * Top-1 class and its probability per sample; with labels, also the probability the model gives
 * the true label (NaN where the label is unknown), so the cross-entropy loss -ln p(label) can be
 * averaged over any set of samples later (the overview's loss over training).
 */
export interface Predictions {
  pred: Int32Array;
  prob: Float32Array;
  labelProb?: Float32Array;
}

/** Number of float statistics per (sample, channel) when `stats` is on. */
const N_FLOAT_STATS = 5;

function extentOf(name: string, shape: number[]): [number, number, number] {
  if (shape.length === 2) return [1, 1, 1];
  if (shape.length === 4) return [1, shape[1], shape[2]];
  if (shape.length === 5) return [shape[1], shape[2], shape[3]];
  throw new NeurolensError('BAD_MODEL', `layer '${name}': output shape [${shape.join(',')}] has no channel axis to tap (need [B,C], [B,H,W,C] or [B,T,H,W,C])`);
}

/**
 * Top-1 class and probability of a [B, K] output. Rows that are already a distribution (sum 1,
 * no negatives: a softmax head) are used as they are; other rows are logits and get a softmax
 * first. K = 1 is a sigmoid head (probability of class 1; logits outside [0,1] get a sigmoid).
 */
/** p where the label names an output (0 <= label < K), NaN where it does not (unknown: -1). */
function maskUnknown(p: tfc.Tensor, labels: tfc.Tensor, K: number): tfc.Tensor {
  const known = tf.logicalAnd(tf.greaterEqual(labels, 0), tf.less(labels, K));
  return tf.where(known, p, tf.fill(p.shape, NaN));
}

function topOne(out: tfc.Tensor, labelsIn: Int32Array | null): { prob: tfc.Tensor; pred: tfc.Tensor; labelProb: tfc.Tensor | null } {
  if (out.rank !== 2) {
    throw new NeurolensError('BAD_MODEL', `predictions need a [B, classes] model output; it is [${out.shape.join(',')}]`);
  }
  const x = tf.cast(out, 'float32');
  const labels = labelsIn ? tf.tensor1d(labelsIn, 'int32') : null;
  if (out.shape[1] === 1) {
    const inUnit = tf.logicalAnd(tf.greaterEqual(x, 0), tf.lessEqual(x, 1));
    const p = tf.reshape(tf.where(inUnit, x, tf.sigmoid(x)), [-1]);
    const isOne = tf.greaterEqual(p, 0.5);
    // p is the probability of class 1: the label's is p for label 1, 1 - p otherwise.
    const labelProb = labels ? maskUnknown(tf.where(tf.equal(labels, 1), p, tf.sub(1, p)), labels, 2) : null;
    return { pred: tf.cast(isOne, 'int32'), prob: tf.where(isOne, p, tf.sub(1, p)), labelProb };
  }
  const isDist = tf.logicalAnd(tf.less(tf.abs(tf.sub(tf.sum(x, 1), 1)), 1e-3), tf.greaterEqual(tf.min(x, 1), 0));
  const probs = tf.where(tf.broadcastTo(tf.expandDims(isDist, 1), x.shape), x, tf.softmax(x));
  const K = out.shape[1]!;
  const labelProb = labels ? maskUnknown(tf.sum(tf.mul(probs, tf.oneHot(labels, K)), 1), labels, K) : null;
  return { pred: tf.argMax(probs, 1), prob: tf.max(probs, 1), labelProb };
}

interface LayerReduction {
  /** Statistics as rows of [rows, B, C]. */
  block: tfc.Tensor;
  argmax: tfc.Tensor | null;
  /** Row of `block` that holds the mean. */
  meanRow: number;
}

/** [5, B, C] (max, min, mean, sqMean, zeroFrac) and argmax [B, C] from the fused kernel. */
function fusedStats(a: tfc.Tensor): LayerReduction {
  const { stats, argmax } = channelStats(a.dtype === 'float32' ? a : tf.cast(a, 'float32'));
  return { block: stats, argmax, meanRow: 2 };
}

/**
 * The tensor-op reduction for backends without the fused kernel: [5, B, C] (max, min, mean,
 * sqMean, NONZERO COUNT) and argmax [B, C]; with `stats` false only the mean, as [1, B, C].
 */
function tensorOpStats(a: tfc.Tensor, extent: [number, number, number], stats: boolean): LayerReduction {
  const [B, C] = [a.shape[0], a.shape[a.rank - 1]];
  const P = extent[0] * extent[1] * extent[2];
  // [B, C, P]: positions innermost, so every reduction runs over the last axis (one transpose
  // per layer instead of one per statistic).
  const bpc = tf.cast(tf.reshape(a, [B, P, C]), 'float32');
  const x = P === 1 ? tf.reshape(bpc, [B, C, 1]) : tf.transpose(bpc, [0, 2, 1]);
  const mean = tf.mean(x, 2);
  if (!stats) return { block: tf.expandDims(mean, 0), argmax: null, meanRow: 0 };
  // Nonzero count as sum(step(|x|)) (step: 1 where > 0, else 0): exact for P < 2^24 and ~10x
  // faster on wasm than equal+cast. unpackStats turns it into zeroFrac = (P - count) / P.
  const nonzero = tf.sum(tf.step(tf.abs(x)), 2);
  // tf.argMax returns the first index of the max on cpu and wasm (tested).
  const block = tf.stack([tf.max(x, 2), tf.min(x, 2), mean, tf.mean(tf.square(x), 2), nonzero]);
  return { block, argmax: tf.argMax(x, 2), meanRow: 2 };
}

/**
 * Builds the packed statistics from activations (call inside tf.tidy). `acts[i]` is the output of
 * `plan[i]`; `finalOut` is the model output when predictions are wanted. `opts.fused` picks the
 * fused kernel (default: where the active backend has it) or the tensor-op path.
 */
export function packStats(
  acts: tfc.Tensor[],
  plan: ReducePlan[],
  finalOut: tfc.Tensor | null,
  opts: { fused?: boolean; labels?: Int32Array | null } = {},
): {
  floats: tfc.Tensor;
  ints: tfc.Tensor | null;
  layout: PackedLayout;
} {
  const floats: tfc.Tensor[] = [];
  const ints: tfc.Tensor[] = [];
  let fOff = 0;
  let iOff = 0;
  const layers: LayerSlot[] = [];
  const batch = acts[0]?.shape[0] ?? finalOut?.shape[0] ?? 0;
  const fused = opts.fused ?? (hasChannelStatsKernel() && process.env.NEUROLENS_FUSED_STATS !== '0');
  acts.forEach((a, i) => {
    const { name, stats, code } = plan[i];
    const extent = extentOf(name, a.shape);
    const [B, C] = [a.shape[0], a.shape[a.rank - 1]];
    layers.push({ name, stats, code, batch: B, channels: C, extent, floatOffset: fOff, intOffset: iOff, nonzeroCounts: !fused });
    const { block, argmax, meanRow } = fused ? fusedStats(a) : tensorOpStats(a, extent, stats);
    if (stats) {
      floats.push(tf.reshape(block, [-1]));
      fOff += N_FLOAT_STATS * B * C;
      ints.push(tf.reshape(argmax as tfc.Tensor, [-1]));
      iOff += B * C;
    } else {
      // Only the mean is kept, as the code.
      floats.push(tf.reshape(tf.slice(block, [meanRow, 0, 0], [1, B, C]), [-1]));
      fOff += B * C;
    }
  });
  let probOffset = -1;
  let predOffset = -1;
  let labelProbOffset = -1;
  if (finalOut) {
    const { prob, pred, labelProb } = topOne(finalOut, opts.labels ?? null);
    probOffset = fOff;
    predOffset = iOff;
    floats.push(tf.reshape(prob, [-1]));
    fOff += batch;
    ints.push(tf.reshape(pred, [-1]));
    if (labelProb) {
      labelProbOffset = fOff;
      floats.push(tf.reshape(labelProb, [-1]));
      fOff += batch;
    }
  }
  return {
    floats: floats.length === 1 ? floats[0] : tf.concat(floats),
    ints: ints.length === 0 ? null : ints.length === 1 ? ints[0] : tf.concat(ints),
    layout: { layers, probOffset, predOffset, labelProbOffset, batch },
  };
}

/** TensorBoard's zero_fraction from nonzero counts: (P - count) / P, divided in float64. */
function zeroFraction(nonzero: Float32Array, extent: [number, number, number]): Float32Array {
  const P = extent[0] * extent[1] * extent[2];
  for (let i = 0; i < nonzero.length; i++) nonzero[i] = (P - nonzero[i]) / P;
  return nonzero;
}

/**
 * Splits the two downloaded arrays into per-layer results. Arrays are copied (`slice`) so each
 * owns its buffer and can be transferred to another thread on its own.
 */
export function unpackStats(floats: Float32Array, ints: Int32Array | null, layout: PackedLayout, sampleIds: Int32Array): TapResult {
  const result: TapResult = { layers: [], codes: [] };
  for (const s of layout.layers) {
    const n = s.batch * s.channels;
    const f = (k: number) => floats.slice(s.floatOffset + k * n, s.floatOffset + (k + 1) * n);
    if (s.stats) {
      const mean = f(2);
      result.layers.push({
        layer: s.name,
        batch: s.batch,
        channels: s.channels,
        extent: s.extent,
        sampleIds: sampleIds.slice(),
        max: f(0),
        min: f(1),
        mean,
        sqMean: f(3),
        zeroFrac: s.nonzeroCounts ? zeroFraction(f(4), s.extent) : f(4),
        argmax: (ints as Int32Array).slice(s.intOffset, s.intOffset + n),
      });
      if (s.code) result.codes.push({ layer: s.name, dim: s.channels, data: mean });
    } else {
      result.codes.push({ layer: s.name, dim: s.channels, data: f(0) });
    }
  }
  if (layout.probOffset >= 0 && ints) {
    result.predictions = {
      prob: floats.slice(layout.probOffset, layout.probOffset + layout.batch),
      pred: ints.slice(layout.predOffset, layout.predOffset + layout.batch),
    };
    if (layout.labelProbOffset >= 0) result.predictions.labelProb = floats.slice(layout.labelProbOffset, layout.labelProbOffset + layout.batch);
  }
  return result;
}
