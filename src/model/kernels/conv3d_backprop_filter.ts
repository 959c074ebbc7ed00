/**
 * Conv3DBackpropFilterV2 (the filter gradient of conv3d) for the wasm backend, REPLACING
 * tfjs-backend-wasm 4.22's scalar C++ loop. With the input frames stacked as in the forward pass
 * (conv3d_frames.ts: S [B*Do, H, W, kd*Ci], and y = conv2d(S, Ws)), the gradient of the stacked
 * filter Ws is the 2-D filter gradient of S and dy, which neurolens computes as one SIMD product
 * with the patch matrix (conv2d_backprop_filter.ts); dW is Ws read back as [kd, kh, kw, Ci, Co].
 * NCDHW and non-float32 cases go to wasm's own kernel.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, viewOf, type RefCountingBackend } from './tensors.js';
import { frameTaps, gatherFrames, isPlainFrames, spatialConv, unstackedFilter } from './conv3d_frames.js';
import { conv2dBackpropFilter } from './conv2d_backprop_filter.js';
import { foldsFrames } from './conv3d.js';

type Shape5 = [number, number, number, number, number];
type Attrs = tfc.Conv3DBackpropFilterV2Attrs & { dataFormat?: string };

/** dW for y = conv3d(x, W). Call inside a tidy. */
export function conv3dBackpropFilterByFrames(x: tfc.TensorInfo, dy: tfc.Tensor, attrs: Attrs, backend: unknown): tfc.Tensor5D {
  const filterShape = attrs.filterShape as Shape5;
  // The V2 kernels have no dilations (tfjs-core conv3d gradients require dilations 1).
  const info = tfc.backend_util.computeConv3DInfo(x.shape as Shape5, filterShape, attrs.strides, 1, attrs.pad);
  const taps = frameTaps(info);
  const [b, d, h, w, c] = x.shape;
  const frames = isPlainFrames(taps) ? viewOf(x, backend as RefCountingBackend, [b * d, h, w, c]) as tfc.Tensor4D : gatherFrames(x, taps, backend);
  const { strides, pad } = spatialConv(info);
  const dy2 = tfc.reshape(dy, [b * info.outDepth, info.outHeight, info.outWidth, info.outChannels]) as tfc.Tensor4D;
  const [kd, kh, kw, ci, co] = filterShape;
  const dWs = conv2dBackpropFilter(frames, dy2, { strides, pad, dataFormat: 'NHWC', filterShape: [kh, kw, kd * ci, co] }, backend);
  return unstackedFilter(dWs, filterShape);
}

export function conv3dBackpropFilterConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const a = attrs as unknown as Attrs;
    const x = inputInfo(inputs, 'x');
    const dy = inputInfo(inputs, 'dy');
    if (!foldsFrames(a.dataFormat, x.dtype, dy.dtype)) return native.kernelFunc(args);
    return tfc.tidy(() => conv3dBackpropFilterByFrames(x, asTensor(inputs, 'dy', backend as RefCountingBackend), a, backend));
  };
  return { ...native, kernelFunc };
}
