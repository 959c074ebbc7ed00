/**
 * neurolens' extra kernels for @tensorflow/tfjs-backend-wasm 4.22, which lacks the gradient and
 * spectral kernels the cpu backend has (compare tf.getKernelsForBackend('wasm') and 'cpu'), whose
 * Conv2DBackpropInput and transposed BatchMatMul are scalar loops, and whose MaxPoolGrad is slow
 * and wrong for windows with a maximum <= 0. They are built from kernels wasm runs fast (XNNPACK
 * convolution), from JS loops over the wasm heap (heap.ts, patches.ts) and from a small module of
 * hand-written WebAssembly SIMD loops that works on the backend's own heap (simd.ts,
 * simd/kernels.wat): a register-tiled product (gemm.ts), the max-pool window scan, the patch
 * matrix, transposes and a float64 row sum. Every kernel equals the cpu backend's within 1e-4
 * (test/kernels*.test.ts); bench/kernels.ts times each against wasm's own. The differentiable
 * real-valued DFT helpers for Fourier image parameterizations are in ./dft.ts (import them from
 * there).
 */
import { tfc } from '../tf.js';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input.js';
import { untransposingBatchMatMulConfig } from './batch_mat_mul.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { depthwiseConv2dBackpropInputConfig } from './depthwise_backprop_input.js';
import { depthwiseConv2dBackpropFilterConfig } from './depthwise_backprop_filter.js';
import { complexConfigs } from './complex.js';
import { sharingCastConfig, sharingIdentityConfig } from './identity.js';
import { leadingAxesSumConfig } from './sum.js';
import { channelBiasAddConfig } from './bias_add.js';
import { fftConfigs } from './fft.js';
import { conv3dConfig } from './conv3d.js';
import { conv3dBackpropFilterConfig } from './conv3d_backprop_filter.js';
import { conv3dBackpropInputConfig } from './conv3d_backprop_input.js';
import { maxPool3dGradConfig } from './max_pool3d_grad.js';
import { maxPool3dConfig } from './max_pool3d.js';
import { rankReducingSliceConfig, rankReducingSplitConfigs } from './slice.js';

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
 * Replaces wasm's Conv2DBackpropInput (scalar loop) and MaxPoolGrad (scalar loop that drops the
 * gradient of windows whose maximum is <= 0; see max_pool_grad.ts), and wraps BatchMatMul
 * (batch-1 products run unpacked on the SIMD loop, transposed ones without the scalar path),
 * Identity and same-dtype Cast (share the buffer instead of copying; also clones complex64),
 * Sum over leading axes and the Add of a channel bias (the bias gradient and bias add of a
 * training step). The wrappers pass every other case to wasm's own kernel.
 */
export function registerWasmGradientKernels(): void {
  for (const k of MISSING) {
    if (tfc.getKernel(k.kernelName, 'wasm') == null) {
      ours.add(k.kernelFunc);
      tfc.registerKernel(k);
    }
  }
  replace(tfc.Conv2DBackpropInput, () => conv2dBackpropInputConfig);
  replace(tfc.MaxPoolGrad, () => maxPoolGradConfig);
  replace(tfc.BatchMatMul, (native) => (native ? untransposingBatchMatMulConfig(native) : undefined));
  replace(tfc.Identity, (native) => (native ? sharingIdentityConfig(native) : undefined));
  replace(tfc.Cast, (native) => (native ? sharingCastConfig(native) : undefined));
  replace(tfc.Sum, (native) => (native ? leadingAxesSumConfig(native) : undefined));
  replace(tfc.Add, (native) => (native ? channelBiasAddConfig(native) : undefined));
  // Video (3-D) training: the convolutions as XNNPACK Conv2D over folded frames (conv3d_frames.ts),
  // MaxPool3D / MaxPool3DGrad with cpu's semantics (wasm's start each window at +1.18e-38).
  replace(tfc.Conv3D, (native) => (native ? conv3dConfig(native) : undefined));
  replace(tfc.Conv3DBackpropFilterV2, (native) => (native ? conv3dBackpropFilterConfig(native) : undefined));
  replace(tfc.Conv3DBackpropInputV2, (native) => (native ? conv3dBackpropInputConfig(native) : undefined));
  replace(tfc.MaxPool3D, () => maxPool3dConfig);
  replace(tfc.MaxPool3DGrad, () => maxPool3dGradConfig);
  // Rank-5 slices (clips) as rank <= 4 slices of a merged view: wasm's own rank-5 path is per element.
  const nativeSlice = isOurs(tfc.Slice) ? null : tfc.getKernel(tfc.Slice, 'wasm');
  replace(tfc.Slice, (native) => (native ? rankReducingSliceConfig(native) : undefined));
  if (nativeSlice) {
    const natives = { splitV: tfc.getKernel(tfc.SplitV, 'wasm'), unpack: tfc.getKernel(tfc.Unpack, 'wasm') };
    for (const config of rankReducingSplitConfigs(nativeSlice, natives)) replace(config.kernelName, () => config);
  }
}
