/**
 * Conv3D for the wasm backend, REPLACING tfjs-backend-wasm 4.22's kernel, a scalar C++ loop
 * (Conv3D.cc) that made the demo two-stream video network (src/video/model.ts) take seconds per
 * batch. The convolution runs as one XNNPACK Conv2D over the clip's frames folded into the batch
 * axis, the kd frames each output frame reads stacked along the channel axis (conv3d_frames.ts
 * says why this is exact and why one stacked product rather than kd products added up). A
 * temporal kernel of 1 at temporal stride 1 (the appearance stream's [1, 3, 3]) is a single
 * Conv2D on a reshape of x, with no copy.
 *
 * Cases the stacking does not cover (NCDHW data, non-float32 tensors) go to wasm's own kernel.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, viewOf, type RefCountingBackend } from './tensors.js';
import { frameTaps, gatherFrames, isPlainFrames, spatialConv, stackedFilter } from './conv3d_frames.js';

type Shape5 = [number, number, number, number, number];

/** True when the folded-frames route applies (the attrs tfjs' conv3d op can produce in NDHWC). */
export function foldsFrames(dataFormat: string | undefined, ...dtypes: string[]): boolean {
  return (dataFormat == null || dataFormat === 'NDHWC') && dtypes.every((d) => d === 'float32');
}

/** y = conv3d(x, filter) by one 2-D convolution of the stacked frames. Call inside a tidy. */
export function conv3dByFrames(x: tfc.TensorInfo, filter: tfc.Tensor, attrs: tfc.Conv3DAttrs, backend: unknown): tfc.Tensor5D {
  const info = tfc.backend_util.computeConv3DInfo(x.shape as Shape5, filter.shape as Shape5, attrs.strides, attrs.dilations ?? 1, attrs.pad);
  const taps = frameTaps(info);
  const [b, d, h, w, c] = x.shape;
  const frames = isPlainFrames(taps) ? viewOf(x, backend as RefCountingBackend, [b * d, h, w, c]) as tfc.Tensor4D : gatherFrames(x, taps, backend);
  const { strides, dilations, pad } = spatialConv(info);
  const y = tfc.conv2d(frames, stackedFilter(filter), strides, pad, 'NHWC', dilations);
  return tfc.reshape(y, info.outShape) as tfc.Tensor5D;
}

/** The Conv3D config replacing `native` (which keeps the cases foldsFrames refuses). */
export function conv3dConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const a = attrs as unknown as tfc.Conv3DAttrs;
    const x = inputInfo(inputs, 'x');
    const filter = inputInfo(inputs, 'filter');
    if (!foldsFrames(a.dataFormat, x.dtype, filter.dtype)) return native.kernelFunc(args);
    return tfc.tidy(() => conv3dByFrames(x, asTensor(inputs, 'filter', backend as RefCountingBackend), a, backend));
  };
  return { ...native, kernelFunc };
}
