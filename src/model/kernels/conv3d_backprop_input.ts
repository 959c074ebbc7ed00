/**
 * Conv3DBackpropInputV2 (the input gradient of conv3d) for the wasm backend, REPLACING
 * tfjs-backend-wasm 4.22's scalar C++ loop. With y = conv2d(S, Ws) over the stacked frames
 * (conv3d_frames.ts), dS = Conv2DBackpropInput(dy, Ws), which neurolens runs as an XNNPACK
 * convolution (conv2d_backprop_input.ts), and dx is the adjoint of the stacking applied to dS:
 * each input frame sums the gradient of every (output frame, tap) that read it. For a temporal
 * kernel of 1 at temporal stride 1, dS is dx (a reshape). NCDHW and non-float32 cases go to
 * wasm's own kernel.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, type RefCountingBackend } from './tensors.js';
import { frameTaps, isPlainFrames, scatterFrames, spatialConv, stackedFilter } from './conv3d_frames.js';
import { conv2dBackpropInput } from './conv2d_backprop_input.js';
import { foldsFrames } from './conv3d.js';

type Shape5 = [number, number, number, number, number];
type Attrs = tfc.Conv3DBackpropInputV2Attrs & { dataFormat?: string };

/** dx for y = conv3d(x, W), x of shape attrs.inputShape. Call inside a tidy. */
export function conv3dBackpropInputByFrames(dy: tfc.Tensor, filter: tfc.Tensor, attrs: Attrs, backend: unknown): tfc.Tensor5D {
  const inputShape = attrs.inputShape as Shape5;
  const info = tfc.backend_util.computeConv3DInfo(inputShape, filter.shape as Shape5, attrs.strides, 1, attrs.pad);
  const taps = frameTaps(info);
  const [b, , h, w, c] = inputShape;
  const { strides, pad } = spatialConv(info);
  const dy2 = tfc.reshape(dy, [b * info.outDepth, info.outHeight, info.outWidth, info.outChannels]) as tfc.Tensor4D;
  const framesShape: [number, number, number, number] = [b * info.outDepth, h, w, taps.taps * c];
  const dS = conv2dBackpropInput(dy2, stackedFilter(filter), { strides, pad, dataFormat: 'NHWC', inputShape: framesShape }, backend);
  return isPlainFrames(taps) ? tfc.reshape(dS, inputShape) as tfc.Tensor5D : scatterFrames(dS, taps, backend);
}

export function conv3dBackpropInputConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const a = attrs as unknown as Attrs;
    const dy = inputInfo(inputs, 'dy');
    const filter = inputInfo(inputs, 'filter');
    if (!foldsFrames(a.dataFormat, dy.dtype, filter.dtype)) return native.kernelFunc(args);
    const be = backend as RefCountingBackend;
    return tfc.tidy(() => conv3dBackpropInputByFrames(asTensor(inputs, 'dy', be), asTensor(inputs, 'filter', be), a, backend));
  };
  return { ...native, kernelFunc };
}
