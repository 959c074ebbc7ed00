/**
 * neurolens' extra kernels for @tensorflow/tfjs-backend-wasm 4.22, which lacks the gradient and
 * spectral kernels the cpu backend has (compare tf.getKernelsForBackend('wasm') and 'cpu'), whose
 * Conv2DBackpropInput and transposed BatchMatMul are scalar loops, and whose MaxPoolGrad is wrong
 * for windows with a maximum <= 0. All are composites of kernels wasm runs fast (XNNPACK
 * convolution and fully-connected); see each file. The differentiable real-valued DFT helpers
 * for Fourier image parameterizations are in ./dft.ts (import them from there).
 */
import { tfc } from '../tf.js';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input.js';
import { untransposingBatchMatMulConfig } from './batch_mat_mul.js';
import { shiftingMaxPoolGradConfig } from './max_pool_grad.js';
import { depthwiseConv2dBackpropInputConfig } from './depthwise_backprop_input.js';
import { depthwiseConv2dBackpropFilterConfig } from './depthwise_backprop_filter.js';
import { complexAwareIdentityConfig, complexConfigs } from './complex.js';
import { fftConfigs } from './fft.js';

/** Kernels wasm does not have: added only where missing (a later wasm release keeps its own). */
const MISSING: tfc.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseConv2dBackpropInputConfig,
  depthwiseConv2dBackpropFilterConfig,
  ...complexConfigs,
  ...fftConfigs,
];

/** Kernel functions registered by this module, so a second call recognises them. */
const ours = new WeakSet<tfc.KernelFunc>();

function isOurs(name: string): boolean {
  const k = tfc.getKernel(name, 'wasm');
  return k != null && ours.has(k.kernelFunc);
}

/** Replaces wasm's kernel `name` with `make(native)` (native may be undefined). */
function replace(name: string, make: (native: tfc.KernelConfig | undefined) => tfc.KernelConfig | undefined): void {
  if (isOurs(name)) return;
  const native = tfc.getKernel(name, 'wasm');
  const config = make(native);
  if (config == null) return;
  if (native != null) tfc.unregisterKernel(name, 'wasm');
  ours.add(config.kernelFunc);
  tfc.registerKernel(config);
}

/**
 * Registers the kernels for 'wasm'. Idempotent; safe to call before the backend exists.
 * Replaces wasm's Conv2DBackpropInput (scalar loop, ~8x slower than the composite) and wraps its
 * MaxPoolGrad (which drops the gradient of windows whose maximum is <= 0; see max_pool_grad.ts),
 * BatchMatMul (transposed operands are materialised so XNNPACK runs the product) and Identity (so
 * complex64 tensors can be cloned).
 */
export function registerWasmGradientKernels(): void {
  for (const k of MISSING) {
    if (tfc.getKernel(k.kernelName, 'wasm') == null) {
      ours.add(k.kernelFunc);
      tfc.registerKernel(k);
    }
  }
  replace(tfc.Conv2DBackpropInput, () => conv2dBackpropInputConfig);
  replace(tfc.MaxPoolGrad, (native) => (native ? shiftingMaxPoolGradConfig(native) : undefined));
  replace(tfc.BatchMatMul, (native) => (native ? untransposingBatchMatMulConfig(native) : undefined));
  replace(tfc.Identity, (native) => (native ? complexAwareIdentityConfig(native) : undefined));
}
