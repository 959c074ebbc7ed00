/**
 * MaxPoolGrad for the wasm backend: tfjs-backend-wasm 4.22's own kernel with its window-scan bug
 * worked around.
 *
 * The native kernel starts each window's scan from std::numeric_limits<float>::min(), the
 * smallest POSITIVE float, and keeps the last `>=` match (MaxPoolGrad.cc / pool3d_impl.h), so a
 * window whose maximum is <= 0 routes its gradient nowhere: a 2x2 pool over [[-1, -2], [0, 0]]
 * gets a zero gradient on wasm, while cpu and TensorFlow give it to the first 0. That silently
 * breaks training whenever a max pool sees non-positive values (no ReLU before it, tanh, batch
 * norm, raw inputs).
 *
 * Fix: when some window maximum (a value of the forward output y) is <= 0, the kernel is run on
 * x + (1 - min y) instead, a monotone shift that makes every window maximum >= 1, so each window
 * routes dy to a position holding its maximum. Composites that scan the windows with element-wise
 * ops are exact but were 4-8x slower than this on wasm (element-wise kernels there are scalar).
 * Differences from cpu, both valid subgradients: exact ties go to the LAST maximal position
 * (cpu: the first), and after a shift values within float rounding of the maximum count as ties.
 */
import { tfc } from '../tf.js';
import { inputInfo, asTensor, type RefCountingBackend } from './tensors.js';

type Tensor = tfc.Tensor;

/** A MaxPoolGrad config that shifts the input when needed, then defers to `native`. */
export function shiftingMaxPoolGradConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const be = args.backend as RefCountingBackend;
    const y = asTensor(args.inputs, 'output', be);
    const lowest = tfc.tidy(() => tfc.min(y).dataSync()[0]);
    if (y !== inputInfo(args.inputs, 'output')) y.dispose();
    // (Infinite or NaN maxima: no shift can help; the native kernel's result stands.)
    if (lowest > 0 || !Number.isFinite(lowest)) return native.kernelFunc(args);
    // Window maxima are real pixels, so the shifted maxima are >= 1 (padding is skipped).
    const shifted: Tensor = tfc.tidy(() => tfc.add(asTensor(args.inputs, 'input', be), 1 - lowest));
    try {
      return native.kernelFunc({ ...args, inputs: { ...args.inputs, input: shifted } });
    } finally {
      shifted.dispose();
    }
  };
  return { ...native, kernelFunc };
}
