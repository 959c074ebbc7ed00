/**
 * Conv2DBackpropInput (the input gradient of conv2d, alias conv2dTranspose) for the wasm backend,
 * REPLACING tfjs-backend-wasm's own kernel, which is a scalar C++ loop (Conv2DBackpropInput.cc)
 * and was the slowest step of training the demo CNN on wasm (bench/kernels.ts).
 *
 * The adjoint of a convolution is a convolution of the zero-inserted, padded dy with the filter
 * rotated by 180° and its channel axes swapped (Dumoulin & Visin 2016, "A guide to convolution
 * arithmetic for deep learning", section 4): x-row r receives dy-row i through tap kh when
 * r = i*sh + kh - top, so with u = dy spread out by sh and k' = fh - 1 - kh,
 *   dx[r, ci] = sum_{k', co} u[r + k' - (fh - 1 - top), co] * W[fh - 1 - k', ci, co],
 * a stride-1 valid correlation of u padded by fh - 1 - top on top, which runs on XNNPACK.
 */
import { tfc } from '../tf.js';
import { asTensor, padOrCrop, zeroInsert, type RefCountingBackend } from './tensors.js';
import { rotatedFilter } from './patches.js';

export function conv2dBackpropInput(
  dy: tfc.Tensor4D,
  filter: tfc.Tensor4D,
  attrs: tfc.Conv2DBackpropInputAttrs,
  backend: unknown,
): tfc.Tensor4D {
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const fmt = tfc.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  const info = tfc.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false, fmt);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inHeight: h, inWidth: w } = info;
  const dyh = fmt === 'channelsFirst' ? tfc.transpose(dy, [0, 2, 3, 1]) : dy;
  const up = zeroInsert(dyh, sh, sw);
  const padTop = fh - 1 - info.padInfo.top;
  const padLeft = fw - 1 - info.padInfo.left;
  // The valid correlation below must see h + fh - 1 rows and w + fw - 1 columns.
  const amounts: Array<[number, number]> = [[0, 0], [padTop, h + fh - 1 - padTop - up.shape[1]], [padLeft, w + fw - 1 - padLeft - up.shape[2]], [0, 0]];
  const rotated = rotatedFilter(filter, true, backend); // [fh, fw, Co, Ci]
  // Pure padding is left to the convolution (XNNPACK reads it as zeros; no padded copy of dy);
  // any crop is done first.
  const dx = amounts.every(([a, b]) => a >= 0 && b >= 0)
    ? tfc.conv2d(up, rotated, 1, amounts as tfc.backend_util.ExplicitPadding)
    : tfc.conv2d(padOrCrop(up, amounts), rotated, 1, 'valid');
  return fmt === 'channelsFirst' ? tfc.transpose(dx, [0, 3, 1, 2]) : dx;
}

export const conv2dBackpropInputConfig: tfc.KernelConfig = {
  kernelName: tfc.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const be = backend as RefCountingBackend;
    return tfc.tidy(() =>
      conv2dBackpropInput(
        asTensor(inputs, 'dy', be) as tfc.Tensor4D,
        asTensor(inputs, 'filter', be) as tfc.Tensor4D,
        attrs as unknown as tfc.Conv2DBackpropInputAttrs,
        backend,
      ),
    );
  },
};
