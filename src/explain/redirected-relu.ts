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

type Tensor = tfc.Tensor;

function redirectedOp(maxValue: number | null): (x: Tensor) => Tensor {
  return tfc.customGrad((...args: (Tensor | tfc.GradSaveFunc)[]) => {
    const x = args[0] as Tensor;
    (args[1] as tfc.GradSaveFunc)([x]);
    const value = maxValue === null ? tfc.relu(x) : tfc.clipByValue(x, 0, maxValue);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const f = saved[0]!;
        let open = tfc.greater(f, 0);
        if (maxValue !== null) open = tfc.logicalAnd(open, tfc.less(f, maxValue));
        const relu = tfc.mul(dy, tfc.cast(open, 'float32'));
        // Gradient descent moves the input by -dy: dy < 0 raises it.
        const raising = tfc.mul(dy, tfc.cast(tfc.logicalOr(tfc.greaterEqual(f, 0), tfc.less(dy, 0)), 'float32'));
        return tfc.where(tfc.greater(tfc.sum(tfc.abs(relu)), 0), relu, raising);
      },
    };
  }) as (x: Tensor) => Tensor;
}

const ops = new Map<number | null, (x: Tensor) => Tensor>();

export const redirectedRelu: ReluFn = (x, maxValue) => {
  let op = ops.get(maxValue);
  if (!op) ops.set(maxValue, (op = redirectedOp(maxValue)));
  return op(x);
};
