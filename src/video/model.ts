/**
 * The demo two-stream video network (Simonyan & Zisserman 2014 two streams; fusion by a
 * convolution over both streams' feature maps as in Feichtenhofer, Pinz & Zisserman, CVPR 2016,
 * and the visualized models of Feichtenhofer et al., CVPR 2018).
 *
 * One clip input [T, H, W, A + M] (NTHWC): A appearance channels (RGB or grey, normalised like
 * images), then M motion channels (optical flow u, v, or a frame difference; see
 * src/video/clip-layout.ts). Two fixed 1x1x1 convolutions (`rgb`, `motion`, not trainable) split
 * the channels, so the model stays a plain single-input LayersModel that any TF.js loader reads.
 *
 * - Appearance stream: per-frame spatial convolutions (temporal kernel 1), then the average over
 *   time. It sees what is in the clip but cannot tell a clip from its time reversal, so classes
 *   that differ only in motion direction (left/right, cw/ccw, in/out) need the motion stream.
 * - Motion stream: spatiotemporal 3x3x3 convolutions over the motion channels.
 * - Fusion: a convolution over the concatenated streams (`fusion`), global average pool, softmax.
 *
 * Layer names are stable: specs, queries and the stream-driver analysis refer to them.
 */
import { tf, tfl } from '../model/tf.js';

export interface TwoStreamConfig {
  frames: number;
  height: number;
  width: number;
  /** Appearance channels (3 RGB or 1 grey). */
  appearance: 1 | 3;
  /** Motion channels (2 for flow u, v; 1 for a frame difference). */
  motion: 1 | 2;
  classes: number;
  /** Width of the streams' first convolution; later layers are multiples. */
  width0?: number;
}

export const TWO_STREAM_LAYERS = {
  appearance: ['app_conv1', 'app_conv2'],
  motion: ['mot_conv1', 'mot_conv2', 'mot_conv3'],
  fusion: ['fusion'],
  output: 'logits',
} as const;

/** A fixed 1x1x1 convolution that copies input channels [from, from + n) to its n outputs. */
function channelSelect(name: string, total: number, from: number, n: number): tfl.layers.Layer {
  const k = new Float32Array(total * n);
  for (let i = 0; i < n; i++) k[(from + i) * n + i] = 1;
  return tfl.layers.conv3d({
    name,
    filters: n,
    kernelSize: 1,
    useBias: false,
    trainable: false,
    weights: [tf.tensor5d(k, [1, 1, 1, total, n])],
  });
}

/** Builds the network with seeded initial weights (same seed => same weights). */
export function buildTwoStream(cfg: TwoStreamConfig, seed: number): tfl.LayersModel {
  const { frames: T, height: H, width: W, appearance: A, motion: M } = cfg;
  if (H % 4 !== 0 || W % 4 !== 0 || T % 2 !== 0) throw new Error(`two-stream input ${T}x${H}x${W}: frames must be even, height and width multiples of 4`);
  const c0 = cfg.width0 ?? 16;
  let k = 0;
  const he = () => tfl.initializers.heNormal({ seed: seed * 64 + ++k });
  const conv = (name: string, filters: number, kernelSize: [number, number, number]) =>
    tfl.layers.conv3d({ name, filters, kernelSize, padding: 'same', activation: 'relu', kernelInitializer: he(), biasInitializer: 'zeros' });
  type S = tfl.SymbolicTensor;
  const input = tfl.input({ name: 'clip', shape: [T, H, W, A + M] });
  const rgb = channelSelect('rgb', A + M, 0, A).apply(input) as S;
  const mot = channelSelect('motion', A + M, A, M).apply(input) as S;

  let a = conv('app_conv1', c0, [1, 3, 3]).apply(rgb) as S;
  a = tfl.layers.maxPooling3d({ name: 'app_pool1', poolSize: [1, 2, 2] }).apply(a) as S;
  a = conv('app_conv2', 2 * c0, [1, 3, 3]).apply(a) as S;
  a = tfl.layers.maxPooling3d({ name: 'app_pool2', poolSize: [1, 2, 2] }).apply(a) as S;
  a = tfl.layers.averagePooling3d({ name: 'app_time', poolSize: [T, 1, 1] }).apply(a) as S;

  let m = conv('mot_conv1', c0, [3, 3, 3]).apply(mot) as S;
  m = tfl.layers.maxPooling3d({ name: 'mot_pool1', poolSize: [1, 2, 2] }).apply(m) as S;
  m = conv('mot_conv2', 2 * c0, [3, 3, 3]).apply(m) as S;
  m = tfl.layers.maxPooling3d({ name: 'mot_pool2', poolSize: [2, 2, 2] }).apply(m) as S;
  m = conv('mot_conv3', 2 * c0, [3, 3, 3]).apply(m) as S;
  m = tfl.layers.averagePooling3d({ name: 'mot_time', poolSize: [T / 2, 1, 1] }).apply(m) as S;

  let f = tfl.layers.concatenate({ name: 'fuse_concat' }).apply([a, m]) as S;
  f = conv('fusion', 4 * c0, [1, 3, 3]).apply(f) as S;
  f = tfl.layers.averagePooling3d({ name: 'fusion_pool', poolSize: [1, H / 4, W / 4] }).apply(f) as S;
  f = tfl.layers.flatten({ name: 'flatten' }).apply(f) as S;
  const out = tfl.layers
    .dense({ name: 'logits', units: cfg.classes, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 64 + ++k }) })
    .apply(f) as S;
  return tfl.model({ name: 'two_stream', inputs: input, outputs: out });
}
