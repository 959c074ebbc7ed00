/**
 * MaxPool3D for the wasm backend: one JS pass over the wasm heap, REPLACING tfjs-backend-wasm
 * 4.22's kernel, which is wrong: like its MaxPool3DGrad (max_pool3d_grad.ts) it starts each
 * window from std::numeric_limits<float>::min(), the smallest POSITIVE normal float, so every
 * window whose values are all <= 0 outputs 1.18e-38 instead of its maximum (a window of -3s
 * pools to 1.18e-38). After a ReLU such windows are everywhere, and the next convolution then
 * multiplies 1e-38 by its weights: products in the subnormal range, which x86 computes by
 * microcode assists, made the demo two-stream network's mot_conv2 ~60x slower than on clean
 * input (1.9 s instead of 30 ms per batch; bench/conv3d.ts).
 *
 * Semantics are the cpu backend's (tfjs-backend-cpu utils/pool_utils.js pool3d): the maximum
 * over each window's in-clip positions (padding skipped), `pixel > best` from -Infinity, so NaN
 * is ignored and a window of only padding gives -Infinity.
 */
import { tfc } from '../tf.js';
import { heapBackend, numericView } from './heap.js';

type Shape5 = [number, number, number, number, number];

/** out[b, t, i, j, c] = max of x over the window of (t, i, j), NDHWC. */
export function maxPool3dInto(x: ArrayLike<number>, out: Float32Array, info: tfc.backend_util.Conv3DInfo): void {
  const { batchSize: nb, inDepth: id, inHeight: ih, inWidth: iw, inChannels: c, outDepth: od, outHeight: oh, outWidth: ow } = info;
  const { strideDepth: sd, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterDepth: fd, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationDepth: dd, dilationHeight: dh, dilationWidth: dw } = info;
  const { front, top, left } = info.padInfo;
  const best = new Float32Array(c);
  let g = 0; // flat index of out[b, t, i, j, 0]
  // The first in-clip tap of a window starting at `corner` (dilated windows skip the padding in steps).
  const first = (corner: number, step: number) => (corner >= 0 ? corner : corner + Math.ceil(-corner / step) * step);
  for (let b = 0; b < nb; b++) {
    for (let t = 0; t < od; t++) {
      const d0 = t * sd - front;
      const dLo = first(d0, dd);
      const dHi = Math.min(id, d0 + fd);
      for (let i = 0; i < oh; i++) {
        const r0 = i * sh - top;
        const rLo = first(r0, dh);
        const rHi = Math.min(ih, r0 + fh);
        for (let j = 0; j < ow; j++, g += c) {
          const c0 = j * sw - left;
          const cLo = first(c0, dw);
          const cHi = Math.min(iw, c0 + fw);
          best.fill(-Infinity);
          for (let z = dLo; z < dHi; z += dd) {
            for (let r = rLo; r < rHi; r += dh) {
              for (let q = cLo; q < cHi; q += dw) {
                const base = (((b * id + z) * ih + r) * iw + q) * c;
                for (let ch = 0; ch < c; ch++) {
                  const v = x[base + ch];
                  if (v > best[ch]) best[ch] = v;
                }
              }
            }
          }
          out.set(best, g);
        }
      }
    }
  }
}

export const maxPool3dKernel: tfc.KernelFunc = ({ inputs, backend, attrs }) => {
  const be = heapBackend(backend);
  const { filterSize, strides, pad, dimRoundingMode, dataFormat } = attrs as unknown as tfc.MaxPool3DAttrs;
  const x = inputs.x;
  if (x == null) throw new Error("MaxPool3D: input 'x' is required");
  if (dataFormat != null && dataFormat !== 'NDHWC') throw new Error(`MaxPool3D on wasm: data format ${dataFormat} is not supported (NDHWC only)`);
  const info = tfc.backend_util.computePool3DInfo(x.shape as Shape5, filterSize, strides, 1, pad, dimRoundingMode);
  const out = be.makeOutput(info.outShape, 'float32');
  // Views after the allocation (heap.ts).
  maxPool3dInto(numericView(be, x), be.typedArrayFromHeap(out) as Float32Array, info);
  return out;
};

export const maxPool3dConfig: tfc.KernelConfig = {
  kernelName: tfc.MaxPool3D,
  backendName: 'wasm',
  kernelFunc: maxPool3dKernel,
};
