/**
 * The "redirected" ReLU gradient of Lucid (Olah et al., Distill 2017, "Feature Visualization";
 * lucid.misc.redirected_relu_grad), for activation maximization. Forward: ReLU (or ReLU6).
 * Backward: the ReLU gradient, unless it is zero everywhere (every unit on the path is below 0,
 * as for a motion unit fed the flat, motionless start of an optimization); then the gradient
 * passes where it pushes the input up (x < 0 with dy > 0 would push it lower and is blocked).
 * Without it the optimization of a unit that is silent at the start never moves.
 */
import { tfc } from '../model/tf.js';
import type { ReluFn } from './forward.js';
import { customRelu, reluOpen } from './custom-relu.js';

export const redirectedRelu: ReluFn = customRelu((dy, f, maxValue) => {
  const relu = tfc.mul(dy, tfc.cast(reluOpen(f, maxValue), 'float32'));
  // Gradient descent moves the input by -dy: dy < 0 raises it.
  const raising = tfc.mul(dy, tfc.cast(tfc.logicalOr(tfc.greaterEqual(f, 0), tfc.less(dy, 0)), 'float32'));
  return tfc.where(tfc.greater(tfc.sum(tfc.abs(relu)), 0), relu, raising);
});
