/**
 * Guided backpropagation (Springenberg, Dosovitskiy, Brox & Riedmiller 2015, "Striving for
 * Simplicity: The All Convolutional Net", §3.4 and Figure 1): the gradient of the score w.r.t.
 * the input, except that at every ReLU the backward signal is gated both by the forward input
 * (as in backprop, f > 0) and by its own sign (as in the "deconvnet", R > 0):
 *     R_in = (f_in > 0) * (R_out > 0) * R_out
 * For ReLU6 (MobileNetV2) the forward gate is 0 < f_in < 6, the region where ReLU6 passes
 * gradient at all.
 *
 * How: the model is re-run layer by layer (forward.ts) with every ReLU-family activation - ReLU
 * layers, Activation('relu') layers and relu/relu6 fused into Conv/Dense layers - computed by a
 * `tf.customGrad` op whose forward value is the ReLU and whose gradient is the rule above. The
 * model and tfjs' global kernel registry are not touched, so other code using tfjs in the same
 * process (other renders, pipeline workers) keeps ordinary ReLU gradients.
 */
import { tfc } from '../model/tf.js';
import type { ReluFn } from './forward.js';
import { customRelu, reluOpen } from './custom-relu.js';
import { gradientAt, type GradientResult } from './saliency.js';
import { perPixel, type Objective } from './target.js';

/** The ReLU replacement of guided backprop (forward: ReLU / ReLU6; backward: the guided rule). */
export const guidedRelu: ReluFn = customRelu((dy, f, maxValue) => tfc.mul(dy, tfc.cast(tfc.logicalAnd(reluOpen(f, maxValue), tfc.greater(dy, 0)), 'float32')));

/** Guided backprop of the target at x [H * W * C]; the map is max over channels of |R|. */
export function guidedBackprop(obj: Objective, x: Float32Array): GradientResult {
  const { height: H, width: W, channels: C } = obj.input;
  const { score, gradient } = gradientAt(obj, x, guidedRelu);
  return { method: 'guided-backprop', score, gradient, map: perPixel(gradient, H * W, C, 'maxabs'), height: H, width: W, channels: C };
}
