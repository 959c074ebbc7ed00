/**
 * Identity for the wasm backend: shares the input's buffer (one more reference) instead of
 * copying it, as the cpu and webgl backends do (tfjs-backend-cpu kernels/Identity.js).
 *
 * tfjs-backend-wasm 4.22's Identity mallocs and copies the whole tensor. The engine calls it for
 * every tf.clone, and under a gradient tape for the copies of kernel inputs/outputs it keeps for
 * backprop (engine.saveTensorsForBackwardMode), so a training step of the demo CNN copied each
 * large activation several times. Sharing is safe because tfjs tensors are immutable: no wasm
 * kernel writes into an input, and Variable.assign swaps data ids rather than writing in place.
 * It also covers complex64 (wasm's copy goes through a float view it has no complex64 case for).
 * Strings keep the native kernel (their bytes live in JS, not in the heap).
 */
import { tfc } from '../tf.js';
import { inputInfo, type RefCountingBackend } from './tensors.js';

export function sharingIdentityConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const x = inputInfo(args.inputs, 'x');
    if (x.dtype === 'string') return native.kernelFunc(args);
    (args.backend as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { ...native, kernelFunc };
}

/**
 * Cast for the wasm backend: a cast to the tensor's own dtype shares the buffer (as cpu's Cast
 * does for casts without encoding loss), everything else goes to `native`. wasm's Cast copies
 * even then, and the ReLU gradient (tfjs-core Relu_grad: mul(dy, cast(step(x), 'float32')))
 * makes exactly that cast of a whole activation every training step.
 */
export function sharingCastConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const x = inputInfo(args.inputs, 'x');
    const { dtype } = args.attrs as unknown as tfc.CastAttrs;
    if (dtype !== x.dtype || x.dtype === 'string') return native.kernelFunc(args);
    (args.backend as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { ...native, kernelFunc };
}
