/**
 * Data movement on the wasm heap for the gradient kernels: a 2-D transpose, the TRANSPOSED
 * im2col matrix ("patch matrix", Chellapilla et al. 2006, "High performance convolutional neural
 * networks for document processing") and a rotated filter. The SIMD module (simd.ts) does the
 * large ones; the JS loops here are its fallback and the reference the tests compare it with.
 *
 * Why not tfjs ops: on tfjs-backend-wasm 4.22 they cost more than the products that follow.
 * wasm's Transpose takes ~12 ms for a [50176, 32] matrix (SIMD here: 0.7 ms), its Slice copies
 * the WHOLE input per call (kernels/Slice.js readSync), and its Reverse takes 0.6 ms for a
 * 3x3x32x64 filter. Outputs are fresh heap buffers wrapped as Tensors (owned by the caller's tidy).
 */
import { tfc } from '../tf.js';
import { heapBackend, numericView } from './heap.js';
import { simdKernels } from './simd.js';

/** Rows per block: a block of source rows stays in L1 while its columns are written out. */
const BLOCK = 32;

/** src [rows, cols] -> dst [cols, rows], both row-major. */
export function transpose2dInto(src: ArrayLike<number>, dst: Float32Array, rows: number, cols: number): void {
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c = 0; c < cols; c++) {
      let d = c * rows + r0;
      for (let r = r0, s = r0 * cols + c; r < r1; r++, s += cols) dst[d++] = src[s];
    }
  }
}

/** The transpose of a float32 matrix [rows, cols] -> [cols, rows], through the heap. */
export function transposeMatrix(m: tfc.TensorInfo, backend: unknown): tfc.Tensor2D {
  const be = heapBackend(backend);
  if (m.shape.length !== 2) throw new Error(`transposeMatrix: expected a matrix, got shape [${m.shape}]`);
  const [rows, cols] = m.shape;
  const out = be.makeOutput([cols, rows], 'float32');
  const simd = m.dtype === 'float32' ? simdKernels(backend) : null;
  if (simd) simd.transpose2d(be.getMemoryOffset(m.dataId), be.getMemoryOffset(out.dataId), rows, cols);
  else transpose2dInto(numericView(be, m), be.typedArrayFromHeap(out) as Float32Array, rows, cols);
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor2D;
}

/**
 * A filter [fh, fw, A, B] rotated by 180 degrees in space, its two channel axes swapped when
 * `swapChannels` ([fh, fw, B, A]): out[kh, kw, ...] = filter[fh - 1 - kh, fw - 1 - kw, ...].
 * The filter of a transposed convolution (conv2d_backprop_input.ts). One pass in JS: filters
 * are small, and wasm's Reverse kernel alone took ~0.6 ms for a 3x3x32x64 filter.
 */
export function rotatedFilter(filter: tfc.TensorInfo, swapChannels: boolean, backend: unknown): tfc.Tensor4D {
  const be = heapBackend(backend);
  const [fh, fw, a, b] = filter.shape;
  const out = be.makeOutput(swapChannels ? [fh, fw, b, a] : [fh, fw, a, b], 'float32');
  const src = numericView(be, filter);
  const dst = be.typedArrayFromHeap(out) as Float32Array;
  const tap = a * b;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const s0 = ((fh - 1 - kh) * fw + (fw - 1 - kw)) * tap;
      const d0 = (kh * fw + kw) * tap;
      if (swapChannels) transpose2dInto(src.subarray(s0, s0 + tap), dst.subarray(d0, d0 + tap), a, b);
      else dst.set(src.subarray(s0, s0 + tap), d0);
    }
  }
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor4D;
}

/** Geometry of a 2-D convolution over NHWC input, as in tfc.backend_util.Conv2DInfo. */
export interface PatchGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/**
 * P^T [fh*fw*Ci, B*Ho*Wo] of NHWC `x`: row (kh, kw, ci), column (b, i, j) holds
 * x[b, i*sh + kh - top, j*sw + kw - left, ci], or 0 where that pixel is padding. Then
 * P^T · dy[B*Ho*Wo, Co] is the filter gradient dW[kh, kw, ci, co] (the derivative of
 * y[b, i, j, co] = sum_{kh, kw, ci} x[...] W[kh, kw, ci, co] with respect to W).
 * Reads x through a channel-major copy so that every row is built from contiguous planes.
 */
export function patchesTransposed(x: tfc.TensorInfo, g: PatchGeometry, backend: unknown): tfc.Tensor2D {
  const be = heapBackend(backend);
  const { batch: nb, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = g;
  const cols = nb * oh * ow;
  const plane = h * w;
  const out = be.makeOutput([g.filterHeight * g.filterWidth * ci, cols], 'float32');
  // Channel-major planes xc[c][b][r][q]; for one channel, x itself already is.
  const planes = ci === 1 ? null : be.makeOutput([ci, nb * plane], 'float32');
  const simd = x.dtype === 'float32' ? simdKernels(backend) : null;
  if (simd) {
    const at = (t: tfc.TensorInfo) => be.getMemoryOffset(t.dataId);
    if (planes != null) simd.transpose2d(at(x), at(planes), nb * plane, ci);
    simd.patchesTransposed(
      at(planes ?? x), at(out), nb, h, w, ci, oh, ow,
      g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft,
    );
    if (planes != null) be.disposeData(planes.dataId);
    return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor2D;
  }
  // Views after every allocation (heap.ts).
  const xv = numericView(be, x);
  const p = be.typedArrayFromHeap(out) as Float32Array;
  let xc: ArrayLike<number> = xv;
  if (planes != null) {
    const t = be.typedArrayFromHeap(planes) as Float32Array;
    transpose2dInto(xv, t, nb * plane, ci);
    xc = t;
  }
  fillPatchesTransposed(xc, p, g);
  if (planes != null) be.disposeData(planes.dataId);
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor2D;
}

/** The loop of patchesTransposed over channel-major planes `xc` [Ci, B, H, W]. */
function fillPatchesTransposed(xc: ArrayLike<number>, p: Float32Array, g: PatchGeometry): void {
  const { batch: nb, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = g;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, padTop: top, padLeft: left } = g;
  let o = 0;
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      // Output columns j whose input column q = j*sw + kw - left is inside [0, w).
      const jLo = Math.min(ow, Math.max(0, Math.ceil((left - kw) / sw)));
      const jHi = Math.max(jLo, Math.min(ow, Math.ceil((w + left - kw) / sw)));
      const q0 = kw - left;
      for (let c = 0; c < ci; c++) {
        for (let b = 0; b < nb; b++) {
          const base = (c * nb + b) * h * w;
          for (let i = 0; i < oh; i++) {
            const r = i * sh + kh - top;
            if (r < 0 || r >= h) {
              p.fill(0, o, o + ow);
              o += ow;
              continue;
            }
            const row = base + r * w + q0;
            let j = 0;
            for (; j < jLo; j++) p[o++] = 0;
            if (sw === 1) for (; j < jHi; j++) p[o++] = xc[row + j];
            else for (; j < jHi; j++) p[o++] = xc[row + j * sw];
            for (; j < ow; j++) p[o++] = 0;
          }
        }
      }
    }
  }
}
