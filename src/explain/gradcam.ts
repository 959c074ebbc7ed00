/**
 * Grad-CAM and Guided Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep
 * Networks via Gradient-based Localization", §3, eq. 1-2):
 *     alpha_k = mean over positions (i, j) of d y / d A^k_ij
 *     L = ReLU(sum_k alpha_k A^k)
 * for the feature maps A of a convolutional layer (h' x w' x K) and the score y (the class
 * logit, as in the paper, or a neuron). The map has the layer's resolution; it is upsampled
 * bilinearly to the input to be drawn. Guided Grad-CAM (§3.1) multiplies the guided-backprop
 * gradient pointwise by the upsampled map: high resolution and class-discriminative.
 *
 * Default layer: the last layer whose output is spatial ([B, h', w', K] with h' * w' > 1) and on
 * which the score depends - the final feature maps of the last convolutional stage (after its
 * activation / pooling): `out_relu` in MobileNetV2, `pool2` in the demo CNN. The paper uses the
 * last convolutional layer because its maps are the most semantic that still keep space.
 *
 * d y / d A is taken by re-running only the layers downstream of A with A as the variable
 * (forward.ts `resume`); the upstream values come from one ordinary forward pass.
 */
import { tf, tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { closeMatches, listLayers, shapeText } from '../model/layers.js';
import { resizeBilinear } from '../render/heatmap.js';
import { guidedBackprop } from './guided-backprop.js';
import { perPixel, type Objective } from './target.js';

type Tensor = tfc.Tensor;

export interface GradCamOptions {
  /** Layer whose feature maps are weighted (default: see above). */
  layer?: string;
  /** Also compute Guided Grad-CAM. */
  guided?: boolean;
}

export interface GradCamResult {
  method: 'gradcam' | 'guided-gradcam';
  layer: string;
  score: number;
  /** ReLU(sum_k alpha_k A^k), [camH * camW]. */
  cam: Float32Array;
  camH: number;
  camW: number;
  /** alpha_k per channel of the layer. */
  weights: Float32Array;
  /** What to draw: the CAM (camH x camW), or for Guided Grad-CAM max_c |guided * cam| (H x W). */
  map: Float32Array;
  mapH: number;
  mapW: number;
  /** Guided Grad-CAM: guided backprop times the upsampled CAM, [H * W * C]. */
  guided?: Float32Array;
}

function spatialLayers(obj: Objective): { name: string; id: number; shape: (number | null)[] }[] {
  const { height, width, channels } = obj.input;
  const out: { name: string; id: number; shape: (number | null)[] }[] = [];
  for (const l of listLayers(obj.model, { inputShape: [height, width, channels] })) {
    const s = l.outputShape;
    if (!s || s.length !== 4 || l.kind === 'InputLayer' || typeof s[1] !== 'number' || typeof s[2] !== 'number' || s[1] * s[2] <= 1) continue;
    const id = obj.plan.valueOf.get(l.name);
    if (id !== undefined) out.push({ name: l.name, id, shape: s });
  }
  return out;
}

/** The layer Grad-CAM uses for this objective: `layer` checked, or the default. */
export function gradCamLayer(obj: Objective, layer?: string): { name: string; id: number } {
  const candidates = spatialLayers(obj);
  if (layer === undefined) {
    const usable = candidates.filter((c) => obj.plan.dependsOn(obj.valueId, c.id));
    const last = usable[usable.length - 1];
    if (!last) throw new NeurolensError('BAD_MODEL', 'the model has no spatial layer [B, h, w, K] upstream of the target; Grad-CAM needs convolutional feature maps');
    return last;
  }
  const all = listLayers(obj.model, { inputShape: [obj.input.height, obj.input.width, obj.input.channels] });
  const info = all.find((l) => l.name === layer);
  if (!info) throw new NeurolensError('NOT_FOUND', `--layer '${layer}' is not in the model; did you mean: ${closeMatches(layer, all.map((l) => l.name)).join(', ')}?`);
  const hit = candidates.find((c) => c.name === layer);
  if (!hit) throw new NeurolensError('BAD_SPEC', `--layer '${layer}' (${info.kind}, output ${shapeText(info.outputShape)}) has no spatial feature maps [B, h, w, K] with h*w > 1; Grad-CAM needs a convolutional layer`);
  if (!obj.plan.dependsOn(obj.valueId, hit.id)) throw new NeurolensError('BAD_SPEC', `--layer '${layer}' is not upstream of the target, so the target's gradient w.r.t. it is zero`);
  return hit;
}

/** Grad-CAM (and optionally Guided Grad-CAM) of the target at x [H * W * C]. */
export function gradCam(obj: Objective, x: Float32Array, o: GradCamOptions = {}): GradCamResult {
  obj.checkInput(x);
  const { height: H, width: W, channels: C } = obj.input;
  const { name, id } = gradCamLayer(obj, o.layer);
  const r = tf.tidy(() => {
    const xt = tf.tensor4d(x, [1, H, W, C]);
    const run = obj.run(xt);
    const score = obj.scoreOf(run);
    const A = run.values[id]!;
    const grads = tf.grad((a: Tensor) => tfc.sum(obj.scoreResumed(run, id, a)))(A);
    const alpha = tfc.mean(grads, [0, 1, 2]); // [K]
    const cam = tfc.relu(tfc.sum(tfc.mul(A, alpha), -1)); // [1, h, w]
    return { score: score.dataSync()[0]!, cam: cam.dataSync() as Float32Array, weights: alpha.dataSync() as Float32Array, shape: A.shape };
  });
  const camH = r.shape[1]!;
  const camW = r.shape[2]!;
  const base = { layer: name, score: r.score, cam: r.cam, camH, camW, weights: r.weights };
  if (!o.guided) return { method: 'gradcam', ...base, map: r.cam, mapH: camH, mapW: camW };
  const gb = guidedBackprop(obj, x);
  const up = camH === H && camW === W ? r.cam : resizeBilinear(r.cam, { height: camH, width: camW }, { height: H, width: W });
  const guided = new Float32Array(H * W * C);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) guided[p * C + c] = gb.gradient[p * C + c]! * up[p]!;
  return { method: 'guided-gradcam', ...base, map: perPixel(guided, H * W, C, 'maxabs'), mapH: H, mapW: W, guided };
}
