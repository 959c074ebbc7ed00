/**
 * ReLU / ReLU6 ops with a replaced gradient, for the methods that re-run a model layer by layer
 * (forward.ts) with their own backward rule at every ReLU: guided backprop (guided-backprop.ts)
 * and Lucid's redirected ReLU for activation maximization (redirected-relu.ts). The forward value
 * is always the activation itself; a `tf.customGrad` op per maxValue carries the rule, so tfjs'
 * global kernel registry (and every other user of ReLU in the process) is not touched.
 */
import { tfc } from '../model/tf.js';
import type { ReluFn } from './forward.js';

type Tensor = tfc.Tensor;

/** The input gradient from the output gradient dy and the forward input f (inside the backward pass). */
export type ReluGradRule = (dy: Tensor, f: Tensor, maxValue: number | null) => Tensor;

/** Where the activation's own gradient is 1: 0 < f (< maxValue for ReLU6), as a boolean tensor. */
export function reluOpen(f: Tensor, maxValue: number | null): Tensor {
  const open = tfc.greater(f, 0);
  return maxValue === null ? open : tfc.logicalAnd(open, tfc.less(f, maxValue));
}

function customReluOp(maxValue: number | null, rule: ReluGradRule): (x: Tensor) => Tensor {
  return tfc.customGrad((...args: (Tensor | tfc.GradSaveFunc)[]) => {
    const x = args[0] as Tensor;
    (args[1] as tfc.GradSaveFunc)([x]);
    const value = maxValue === null ? tfc.relu(x) : tfc.clipByValue(x, 0, maxValue);
    return { value, gradFunc: (dy: Tensor, saved: Tensor[]) => rule(dy, saved[0]!, maxValue) };
  }) as (x: Tensor) => Tensor;
}

/** A ReluFn computing relu(x) / min(relu(x), maxValue) whose gradient is `rule`; one op per maxValue, made once. */
export function customRelu(rule: ReluGradRule): ReluFn {
  const ops = new Map<number | null, (x: Tensor) => Tensor>();
  return (x, maxValue) => {
    let op = ops.get(maxValue);
    if (!op) ops.set(maxValue, (op = customReluOp(maxValue, rule)));
    return op(x);
  };
}
