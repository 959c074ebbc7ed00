/**
 * Add for the wasm backend, wrapping tfjs-backend-wasm 4.22's kernel for the broadcast a bias add
 * is: x [..., C] + b [C] (tfjs-layers adds a conv/dense bias this way while training, when
 * the fused kernels are off because a gradient is recorded). wasm's broadcasting Add takes ~3x
 * as long as a same-shape Add (0.85 ms for [64, 28, 28, 32] + [32]); the SIMD loop (simd.ts)
 * streams x once. Each element is one float32 addition, so results are bit-identical to the
 * native kernel's. Every other case goes to the native kernel unchanged.
 */
import { tfc } from '../tf.js';
import { inputInfo } from './tensors.js';
import { heapBackend } from './heap.js';
import { simdKernels } from './simd.js';

/** Which input is the [C] bias of the other ('a' + 'b' commute), or null. */
function biasSide(a: tfc.TensorInfo, b: tfc.TensorInfo): { x: tfc.TensorInfo; bias: tfc.TensorInfo } | null {
  for (const [x, bias] of [[a, b], [b, a]]) {
    const c = x.shape[x.shape.length - 1];
    const biasSize = tfc.util.sizeFromShape(bias.shape);
    const onesThenC = bias.shape.length > 0 && bias.shape[bias.shape.length - 1] === c && biasSize === c;
    if (x.shape.length >= 2 && bias.shape.length <= x.shape.length && onesThenC && c % 4 === 0 && tfc.util.sizeFromShape(x.shape) > c) {
      return { x, bias };
    }
  }
  return null;
}

export function channelBiasAddConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const a = inputInfo(args.inputs, 'a');
    const b = inputInfo(args.inputs, 'b');
    const sides = a.dtype === 'float32' && b.dtype === 'float32' ? biasSide(a, b) : null;
    const simd = sides ? simdKernels(args.backend) : null;
    if (!sides || !simd) return native.kernelFunc(args);
    const be = heapBackend(args.backend);
    const { x, bias } = sides;
    const c = x.shape[x.shape.length - 1];
    const out = be.makeOutput(x.shape, 'float32');
    const at = (t: tfc.TensorInfo) => be.getMemoryOffset(t.dataId);
    simd.addChannelBias(at(x), at(bias), at(out), tfc.util.sizeFromShape(x.shape) / c, c);
    return out;
  };
  return { ...native, kernelFunc };
}
