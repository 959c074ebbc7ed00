/**
 * Conv2DBackpropFilter for the wasm backend (missing from tfjs-backend-wasm 4.22).
 *
 * For y = conv2d(x, W) with stride s (no dilation: the kernel has no dilations attr),
 *   dW[kh, kw, ci, co] = sum_{b, i, j} x[b, i*sh + kh - top, j*sw + kw - left, ci] * dy[b, i, j, co]
 * (x read as 0 in the padding). Two routes:
 *
 * 1. Patches (default): the transposed patch matrix P^T [fh*fw*Ci, B*Ho*Wo] ("im2col",
 *    Chellapilla et al. 2006) is built on the heap (patches.ts) and dW = P^T · dy[B*Ho*Wo, Co]
 *    is ONE product on the SIMD module's unpacked loop (gemm.ts; needs Co % 8 == 0). Where that
 *    loop does not apply the product goes to XNNPACK, which packs its right operand anew for
 *    every new tensor (~3.5 ns per element, ~0.5 for a transpose): so when P^T has fewer rows
 *    than dy has channels (a thin first layer, Ci = 1) it is taken as dW^T = dy^T · P, packing
 *    the small P instead of dy. Demo CNN, batch 64 (bench/kernels.ts): conv1 0.9 ms, conv2 13 ms;
 *    the convolution route below took 19 and 26 ms.
 * 2. Convolution, when P^T would exceed PATCH_LIMIT floats: read with the batch axis b as the
 *    *channel* axis, dW is a valid cross-correlation of xpad^T = [Ci, Hp, Wp, B] ("batch" Ci)
 *    with the filter dy^T = [Ho, Wo, B, Co] dilated by s,
 *      out[ci, kh, kw, co] = sum_{i, j, b} xpad^T[ci, kh + i*sh, kw + j*sw, b] * dy^T[i, j, b, co],
 *    the classic way TensorFlow/cuDNN express the filter gradient; it needs only |x| + |dy|
 *    extra memory but packs dy as a convolution filter (~7 ns per element).
 */
import { tfc } from '../tf.js';
import { asTensor, padOrCrop, type RefCountingBackend } from './tensors.js';
import { patchesTransposed, transposeMatrix } from './patches.js';
import { heapMatMul } from './gemm.js';

/** Largest patch matrix (floats; 128 MB) route 1 builds; larger problems take route 2. */
export const PATCH_LIMIT = 1 << 25;

type Attrs = tfc.Conv2DBackpropFilterAttrs;

function convInfo(x: tfc.Tensor4D, attrs: Attrs) {
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const fmt = tfc.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  // Computed on the caller's layout so explicit pads are read in that layout, as cpu does.
  const info = tfc.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, fmt);
  return { fmt, info };
}

/** NHWC view of a tensor in the kernel's data format. */
const nhwc = (t: tfc.Tensor4D, fmt: string): tfc.Tensor4D => (fmt === 'channelsFirst' ? tfc.transpose(t, [0, 2, 3, 1]) : t);

/** Route 1: one product with the patch matrix (see header). Call inside a tidy. */
export function conv2dBackpropFilterByPatches(x: tfc.Tensor4D, dy: tfc.Tensor4D, attrs: Attrs, backend: unknown): tfc.Tensor4D {
  const { fmt, info } = convInfo(x, attrs);
  const pT = patchesTransposed(nhwc(x, fmt), {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  }, backend);
  const dy2 = tfc.reshape(nhwc(dy, fmt), [info.batchSize * info.outHeight * info.outWidth, info.outChannels]);
  const direct = heapMatMul(pT, dy2, backend);
  if (direct) return tfc.reshape(direct, attrs.filterShape);
  if (pT.shape[0] >= info.outChannels) return tfc.reshape(tfc.matMul(pT, dy2), attrs.filterShape);
  const dWt = tfc.matMul(transposeMatrix(dy2, backend), transposeMatrix(pT, backend)); // [Co, fh*fw*Ci]
  return tfc.reshape(transposeMatrix(dWt, backend), attrs.filterShape);
}

/** Route 2: one forward convolution with swapped axes (see header). Call inside a tidy. */
export function conv2dBackpropFilterByConv(x: tfc.Tensor4D, dy: tfc.Tensor4D, attrs: Attrs): tfc.Tensor4D {
  const { fmt, info } = convInfo(x, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const xh = nhwc(x, fmt);
  const [, h, w] = xh.shape;
  // Exactly the input rows/cols some output position reads: (o - 1) * s + f of them.
  const needH = (oh - 1) * sh + fh;
  const needW = (ow - 1) * sw + fw;
  const xp = padOrCrop(xh, [[0, 0], [top, needH - h - top], [left, needW - w - left], [0, 0]]);
  const xT = tfc.transpose(xp, [3, 1, 2, 0]); // [Ci, needH, needW, B]
  const dyT = tfc.transpose(nhwc(dy, fmt), [1, 2, 0, 3]); // [Ho, Wo, B, Co]
  const out = tfc.conv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]); // [Ci, fh, fw, Co]
  return tfc.transpose(out, [1, 2, 0, 3]);
}

/** The filter gradient by the route the header describes. Call inside a tidy. */
export function conv2dBackpropFilter(x: tfc.Tensor4D, dy: tfc.Tensor4D, attrs: Attrs, backend: unknown): tfc.Tensor4D {
  const { info } = convInfo(x, attrs);
  const patchFloats = info.filterHeight * info.filterWidth * info.inChannels * info.batchSize * info.outHeight * info.outWidth;
  return patchFloats <= PATCH_LIMIT ? conv2dBackpropFilterByPatches(x, dy, attrs, backend) : conv2dBackpropFilterByConv(x, dy, attrs);
}

export const conv2dBackpropFilterConfig: tfc.KernelConfig = {
  kernelName: tfc.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, backend, attrs }) => {
    const b = backend as RefCountingBackend;
    return tfc.tidy(() =>
      conv2dBackpropFilter(
        asTensor(inputs, 'x', b) as tfc.Tensor4D,
        asTensor(inputs, 'dy', b) as tfc.Tensor4D,
        attrs as unknown as Attrs,
        backend,
      ),
    );
  },
};
