/**
 * MaxPool3DGrad for the wasm backend: one JS pass over the wasm heap, REPLACING
 * tfjs-backend-wasm 4.22's kernel, a scalar C++ loop (pool3d_impl.h) that is slow (~30 ms per
 * pool of the demo two-stream network's training step, bench/conv3d.ts) and, like its 2-D
 * MaxPoolGrad (max_pool_grad.ts), starts each window's scan from the smallest POSITIVE float, so a
 * window whose maximum is <= 0 (all zeros after a ReLU, common) routes its gradient nowhere.
 *
 * Semantics are exactly the cpu backend's (tfjs-backend-cpu kernels/MaxPool3DGrad.js with
 * utils/pool_utils.js maxPool3dPositions), which for 3-D differ from its 2-D rule: each window
 * is scanned depth, row, column over its in-clip positions (padding skipped) with
 * `pixel >= best` from best = -Infinity, so
 *  - ties go to the LAST maximal position (2-D max pooling takes the first),
 *  - NaN is never chosen, a window of only NaN (or only padding) routes its gradient nowhere,
 * and dx[p] sums dy over the windows whose chosen position is p.
 * (The cpu forward pass stores the position as wRow * filterHeight + wCol, which is its own
 * position only for square spatial windows; we route by the true position, so non-square pools
 * agree with cpu's definition, not with that slip.)
 */
import { tfc } from '../tf.js';
import { heapBackend, numericView } from './heap.js';

type Shape5 = [number, number, number, number, number];

/** dx (zeroed here) += dy routed to each window's last maximum, NDHWC. */
export function scatterToWindowMaxima3d(x: ArrayLike<number>, dy: ArrayLike<number>, dx: Float32Array, info: tfc.backend_util.Conv3DInfo): void {
  const { batchSize: nb, inDepth: id, inHeight: ih, inWidth: iw, inChannels: c, outDepth: od, outHeight: oh, outWidth: ow } = info;
  const { strideDepth: sd, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterDepth: fd, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { front, top, left } = info.padInfo;
  const best = new Float64Array(c);
  const at = new Int32Array(c);
  dx.fill(0);
  let g = 0; // flat index of dy[b, t, i, j, 0]
  for (let b = 0; b < nb; b++) {
    for (let t = 0; t < od; t++) {
      const d0 = t * sd - front;
      const dLo = Math.max(0, d0);
      const dHi = Math.min(id, d0 + fd);
      for (let i = 0; i < oh; i++) {
        const r0 = i * sh - top;
        const rLo = Math.max(0, r0);
        const rHi = Math.min(ih, r0 + fh);
        for (let j = 0; j < ow; j++, g += c) {
          const c0 = j * sw - left;
          const cLo = Math.max(0, c0);
          const cHi = Math.min(iw, c0 + fw);
          best.fill(-Infinity);
          at.fill(-1);
          for (let dd = dLo; dd < dHi; dd++) {
            for (let r = rLo; r < rHi; r++) {
              for (let q = cLo; q < cHi; q++) {
                const base = (((b * id + dd) * ih + r) * iw + q) * c;
                for (let ch = 0; ch < c; ch++) {
                  const v = x[base + ch];
                  if (v >= best[ch]) {
                    best[ch] = v;
                    at[ch] = base + ch;
                  }
                }
              }
            }
          }
          for (let ch = 0; ch < c; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[g + ch];
        }
      }
    }
  }
}

export const maxPool3dGradKernel: tfc.KernelFunc = ({ inputs, backend, attrs }) => {
  const be = heapBackend(backend);
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tfc.MaxPool3DGradAttrs;
  const x = inputs.input;
  const dy = inputs.dy;
  if (x == null || dy == null) throw new Error("MaxPool3DGrad: inputs 'input' and 'dy' are required");
  const info = tfc.backend_util.computePool3DInfo(x.shape as Shape5, filterSize, strides, 1, pad, dimRoundingMode);
  const out = be.makeOutput(x.shape, 'float32');
  // Views after the allocation (heap.ts).
  scatterToWindowMaxima3d(numericView(be, x), numericView(be, dy), be.typedArrayFromHeap(out) as Float32Array, info);
  return out;
};

export const maxPool3dGradConfig: tfc.KernelConfig = {
  kernelName: tfc.MaxPool3DGrad,
  backendName: 'wasm',
  kernelFunc: maxPool3dGradKernel,
};
