/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend: the adjoint of a depthwise
 * convolution is a depthwise convolution of the zero-inserted, padded dy with the 180°-rotated
 * filter (the transposed convolution of Dumoulin & Visin 2016, section 4).
 *
 * Forward, per channel c and multiplier m (filter [fh, fw, C, M], dy channel c*M + m):
 *   y[b, i, j, cM+m] = sum_{kh, kw} x[b, i*sh + kh*dh - top, j*sw + kw*dw - left, c] * w[kh, kw, c, m].
 * So x-row r receives dy-row i through tap kh when r = i*sh + kh*dh - top. With u the dy rows
 * spread out by sh (zero insertion) and k' = fh - 1 - kh,
 *   dx[r] = sum_{k'} u[r + k'*dh - ((fh - 1)*dh - top)] * w[fh - 1 - k'],
 * a stride-1 correlation with dilation dh of u padded by (fh - 1)*dh - top on top.
 * Unlike the cpu backend's kernel, which indexes taps as if dilation were 1, this honours
 * `dilations` (the result is the exact adjoint of the dilated forward op; see the tests).
 */
import { tfc } from '../tf.js';
import { asTensor, padOrCrop, zeroInsert, type RefCountingBackend } from './tensors.js';

export function depthwiseConv2dBackpropInput(
  dy: tfc.Tensor4D,
  filter: tfc.Tensor4D,
  attrs: tfc.DepthwiseConv2dNativeBackpropInputAttrs,
): tfc.Tensor4D {
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  const info = tfc.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, dilations ?? 1, pad, dimRoundingMode, true);
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: fh, filterWidth: fw } = info;
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outChannels } = info;
  const m = outChannels / c;
  const up = zeroInsert(dy, sh, sw); // [B, Ho*sh, Wo*sw, C*M]
  const padTop = (fh - 1) * dh - info.padInfo.top;
  const padLeft = (fw - 1) * dw - info.padInfo.left;
  // The valid correlation below must see h + (fh - 1) * dh rows.
  const padBottom = h + (fh - 1) * dh - padTop - up.shape[1];
  const padRight = w + (fw - 1) * dw - padLeft - up.shape[2];
  const p = padOrCrop(up, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]]);
  // Each of the C*M dy channels is convolved with its own rotated tap set: multiplier 1.
  const rotated = tfc.reshape(tfc.reverse(filter, [0, 1]), [fh, fw, c * m, 1]) as tfc.Tensor4D;
  const dx = tfc.depthwiseConv2d(p, rotated, 1, 'valid', 'NHWC', [dh, dw]); // [B, H, W, C*M]
  if (m === 1) return dx;
  return tfc.sum(tfc.reshape(dx, [b, h, w, c, m]), 4) as tfc.Tensor4D;
}

export const depthwiseConv2dBackpropInputConfig: tfc.KernelConfig = {
  kernelName: tfc.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const be = backend as RefCountingBackend;
    return tfc.tidy(() =>
      depthwiseConv2dBackpropInput(
        asTensor(inputs, 'dy', be) as tfc.Tensor4D,
        asTensor(inputs, 'filter', be) as tfc.Tensor4D,
        attrs as unknown as tfc.DepthwiseConv2dNativeBackpropInputAttrs,
      ),
    );
  },
};
