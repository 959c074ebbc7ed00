/**
 * Attribution over time for one clip [T, H, W, A + M] (src/video/clip-layout.ts), for a class
 * score or a unit (actmax-clip-target.ts):
 *
 * - Saliency (Simonyan, Vedaldi & Zisserman 2014, §3.1, per frame): g = d score / d x; two maps
 *   per frame, max over the appearance channels of |g| and, separately, max over the motion
 *   channels of |g| (appearance and flow are different quantities: one max over all channels
 *   would let the stream with larger gradients hide the other).
 * - Grad-CAM (Selvaraju et al. 2017, eq. 1-2) on a 5-D feature map A [1, T', H', W', K]:
 *   w_k = mean over (t, y, x) of d score / d A^k, cam[t, y, x] = ReLU(sum_k w_k A^k[t, y, x]),
 *   then trilinearly upsampled to T x H x W (half-pixel centres in each axis, like
 *   tf.image.resizeBilinear with halfPixelCenters; render/heatmap.ts resizeBilinear per frame,
 *   linear between frames). The layer's temporal resolution is the map's: a layer after
 *   temporal pooling localizes in time only as finely as its T'.
 *
 * d score / d A comes from re-running only the layers downstream of A (forward.ts `resume`).
 */
import { tf, tfc, type tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { closeMatches, listLayers, shapeText } from '../model/layers.js';
import { resizeBilinear } from '../render/heatmap.js';
import { ClipObjective, clipStreams, type ClipShape, type ClipStreams, type ClipTarget } from './actmax-clip-target.js';

type Tensor = tfc.Tensor;

export interface ClipSaliencyResult {
  method: 'clip-saliency';
  score: number;
  shape: ClipShape;
  streams: ClipStreams;
  /** d score / d x, [T * H * W * C]. */
  gradient: Float32Array;
  /** Per frame, max over the appearance channels of |gradient|, [H * W] each (empty when A = 0). */
  appearance: Float32Array[];
  /** Per frame, max over the motion channels of |gradient|, [H * W] each (empty when M = 0). */
  motion: Float32Array[];
}

export interface ClipGradCamResult {
  method: 'clip-gradcam';
  layer: string;
  score: number;
  /** ReLU(sum_k w_k A^k) at the layer's resolution, [camT * camH * camW]. */
  cam: Float32Array;
  camT: number;
  camH: number;
  camW: number;
  /** w_k per channel of the layer. */
  weights: Float32Array;
  /** The CAM upsampled to the clip: one [H * W] map per input frame. */
  frames: Float32Array[];
  height: number;
  width: number;
}

function objectiveOf(model: tfl.LayersModel | ClipObjective, target?: ClipTarget): ClipObjective {
  if (model instanceof ClipObjective) return model;
  if (!target) throw new NeurolensError('BAD_SPEC', 'clip attribution needs a target (a class or a neuron)');
  return ClipObjective.create(model, target);
}

/** Max over channels [from, from + count) of |g|, one [H * W] map per frame. */
function perFrameMaxAbs(g: Float32Array, s: ClipShape, from: number, count: number): Float32Array[] {
  if (count === 0) return [];
  const hw = s.height * s.width;
  const C = s.channels;
  return Array.from({ length: s.frames }, (_, t) => {
    const out = new Float32Array(hw);
    for (let p = 0; p < hw; p++) {
      let m = 0;
      const base = (t * hw + p) * C;
      for (let c = from; c < from + count; c++) m = Math.max(m, Math.abs(g[base + c]!));
      out[p] = m;
    }
    return out;
  });
}

/**
 * Gradient saliency of a clip: two maps per frame (appearance, motion). `model` is a LayersModel
 * (then `target` is required) or a ready ClipObjective; `appearanceChannels` as in clipStreams.
 */
export function clipSaliency(model: tfl.LayersModel | ClipObjective, clip: Float32Array, target?: ClipTarget, o: { appearanceChannels?: number } = {}): ClipSaliencyResult {
  const obj = objectiveOf(model, target);
  obj.checkClip(clip);
  const shape = obj.input;
  const streams = clipStreams(shape.channels, o.appearanceChannels);
  const { score, gradient } = tf.tidy(() => {
    const x = tf.tensor5d(clip, [1, shape.frames, shape.height, shape.width, shape.channels]);
    const { value, grad } = tf.valueAndGrad((v: Tensor) => tfc.sum(obj.score(v)))(x);
    return { score: value.dataSync()[0]!, gradient: Float32Array.from(grad.dataSync()) };
  });
  return {
    method: 'clip-saliency',
    score,
    shape,
    streams,
    gradient,
    appearance: perFrameMaxAbs(gradient, shape, 0, streams.appearance),
    motion: perFrameMaxAbs(gradient, shape, streams.appearance, streams.motion),
  };
}

/** 5-D layers [B, T', H', W', K] with T' * H' * W' > 1 upstream of the objective, in model order. */
function clipFeatureLayers(obj: ClipObjective): { name: string; id: number; shape: (number | null)[] }[] {
  const out: { name: string; id: number; shape: (number | null)[] }[] = [];
  for (const l of listLayers(obj.model)) {
    const s = l.outputShape;
    if (!s || s.length !== 5 || l.kind === 'InputLayer' || s.slice(1, 4).some((d) => typeof d !== 'number')) continue;
    if ((s[1] as number) * (s[2] as number) * (s[3] as number) <= 1) continue;
    const id = obj.plan.valueOf.get(l.name);
    if (id !== undefined && id !== obj.plan.inputId) out.push({ name: l.name, id, shape: s });
  }
  return out;
}

/** The layer clip Grad-CAM uses: `layer` checked, or the last 5-D feature map upstream of the target. */
export function clipGradCamLayer(obj: ClipObjective, layer?: string): { name: string; id: number } {
  const candidates = clipFeatureLayers(obj);
  if (layer === undefined) {
    const usable = candidates.filter((c) => c.id !== obj.valueId && obj.plan.dependsOn(obj.valueId, c.id));
    const last = usable[usable.length - 1];
    if (!last) throw new NeurolensError('BAD_MODEL', 'the model has no spatiotemporal layer [B, T, H, W, K] upstream of the target; clip Grad-CAM needs Conv3D feature maps');
    return last;
  }
  const all = listLayers(obj.model);
  const info = all.find((l) => l.name === layer);
  if (!info) throw new NeurolensError('NOT_FOUND', `layer '${layer}' is not in the model; did you mean: ${closeMatches(layer, all.map((l) => l.name)).join(', ')}?`);
  const hit = candidates.find((c) => c.name === layer);
  if (!hit) throw new NeurolensError('BAD_SPEC', `layer '${layer}' (${info.kind}, output ${shapeText(info.outputShape)}) has no spatiotemporal feature maps [B, T, H, W, K]; clip Grad-CAM needs one`);
  if (!obj.plan.dependsOn(obj.valueId, hit.id)) throw new NeurolensError('BAD_SPEC', `layer '${layer}' is not upstream of the target, so the target's gradient w.r.t. it is zero`);
  return hit;
}

/**
 * Trilinear upsampling of a [t * h * w] map to `to.frames` maps of to.height x to.width (half-pixel
 * centres in every axis, clamped at the borders).
 */
export function upsampleClipMap(map: Float32Array, from: { frames: number; height: number; width: number }, to: { frames: number; height: number; width: number }): Float32Array[] {
  const hw = from.height * from.width;
  if (map.length !== from.frames * hw) throw new Error(`upsample: ${map.length} values for a ${from.frames}x${from.height}x${from.width} map`);
  const frames = Array.from({ length: from.frames }, (_, t) => {
    const f = map.subarray(t * hw, (t + 1) * hw);
    return from.height === to.height && from.width === to.width ? Float32Array.from(f) : resizeBilinear(f, from, to);
  });
  return Array.from({ length: to.frames }, (_, t) => {
    const c = Math.min(from.frames - 1, Math.max(0, ((t + 0.5) * from.frames) / to.frames - 0.5));
    const t0 = Math.floor(c);
    const t1 = Math.min(from.frames - 1, t0 + 1);
    const a = c - t0;
    const f0 = frames[t0]!;
    const f1 = frames[t1]!;
    if (a === 0) return Float32Array.from(f0);
    return f0.map((v, i) => (1 - a) * v + a * f1[i]!);
  });
}

/** Grad-CAM of a clip on a Conv3D feature map (default: the last one upstream of the target). */
export function clipGradCam(model: tfl.LayersModel | ClipObjective, clip: Float32Array, target?: ClipTarget, o: { layer?: string } = {}): ClipGradCamResult {
  const obj = objectiveOf(model, target);
  obj.checkClip(clip);
  const { frames: T, height: H, width: W, channels: C } = obj.input;
  const { name, id } = clipGradCamLayer(obj, o.layer);
  const r = tf.tidy(() => {
    const x = tf.tensor5d(clip, [1, T, H, W, C]);
    const run = obj.run(x);
    const score = obj.scoreOf(run);
    const A = run.values[id]!;
    const grads = tf.grad((a: Tensor) => tfc.sum(obj.scoreResumed(run, id, a)))(A);
    const w = tfc.mean(grads, [0, 1, 2, 3]); // [K]
    const cam = tfc.relu(tfc.sum(tfc.mul(A, w), -1)); // [1, T', H', W']
    return { score: score.dataSync()[0]!, cam: Float32Array.from(cam.dataSync()), weights: Float32Array.from(w.dataSync()), shape: A.shape };
  });
  const [, camT, camH, camW] = r.shape as [number, number, number, number, number];
  return {
    method: 'clip-gradcam',
    layer: name,
    score: r.score,
    cam: r.cam,
    camT,
    camH,
    camW,
    weights: r.weights,
    frames: upsampleClipMap(r.cam, { frames: camT, height: camH, width: camW }, { frames: T, height: H, width: W }),
    height: H,
    width: W,
  };
}
