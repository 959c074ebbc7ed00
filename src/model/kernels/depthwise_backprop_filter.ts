/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend, as one depthwise convolution with
 * swapped axes (the depthwise analogue of conv2d_backprop_filter.ts).
 *
 *   dW[kh, kw, c, m] = sum_{b, i, j} xpad[b, i*sh + kh*dh, j*sw + kw*dw, c] * dy[b, i, j, c*M + m]
 * With (b, c) folded into one channel axis, xpad^T = [1, Hp, Wp, B*C] correlated depthwise with
 * dy^T = [Ho, Wo, B*C, M] at dilation s gives out[kh', kw', (b*C + c)*M + m] for every offset
 * kh' in [0, (fh - 1)*dh]; the taps are the offsets kh' = kh*dh, and summing over b gives dW.
 * Unlike the cpu backend's kernel, which indexes taps as if dilation were 1, this honours
 * `dilations` (exact adjoint of the dilated forward op; see the tests).
 */
import { tfc } from '../tf.js';
import { asTensor, padOrCrop, type RefCountingBackend } from './tensors.js';

export function depthwiseConv2dBackpropFilter(
  x: tfc.Tensor4D,
  dy: tfc.Tensor4D,
  attrs: tfc.DepthwiseConv2dNativeBackpropFilterAttrs,
): tfc.Tensor4D {
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  const info = tfc.backend_util.computeConv2DInfo(x.shape, filterShape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: fh, filterWidth: fw } = info;
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outChannels, outHeight: oh, outWidth: ow } = info;
  const m = outChannels / c;
  const spanH = (fh - 1) * dh + 1;
  const spanW = (fw - 1) * dw + 1;
  const needH = (oh - 1) * sh + spanH;
  const needW = (ow - 1) * sw + spanW;
  const { top, left } = info.padInfo;
  const xp = padOrCrop(x, [[0, 0], [top, needH - h - top], [left, needW - w - left], [0, 0]]);
  const xT = tfc.reshape(tfc.transpose(xp, [1, 2, 0, 3]), [1, needH, needW, b * c]) as tfc.Tensor4D;
  const dyT = tfc.reshape(tfc.transpose(dy, [1, 2, 0, 3]), [oh, ow, b * c, m]) as tfc.Tensor4D;
  let out: tfc.Tensor4D = tfc.depthwiseConv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]); // [1, spanH, spanW, B*C*M]
  if (dh > 1 || dw > 1) out = tfc.stridedSlice(out, [0, 0, 0, 0], [1, spanH, spanW, b * c * m], [1, dh, dw, 1]) as tfc.Tensor4D;
  return tfc.sum(tfc.reshape(out, [fh, fw, b, c, m]), 2) as tfc.Tensor4D;
}

export const depthwiseConv2dBackpropFilterConfig: tfc.KernelConfig = {
  kernelName: tfc.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const be = backend as RefCountingBackend;
    return tfc.tidy(() =>
      depthwiseConv2dBackpropFilter(
        asTensor(inputs, 'x', be) as tfc.Tensor4D,
        asTensor(inputs, 'dy', be) as tfc.Tensor4D,
        attrs as unknown as tfc.DepthwiseConv2dNativeBackpropFilterAttrs,
      ),
    );
  },
};
