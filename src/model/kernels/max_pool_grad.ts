/**
 * MaxPoolGrad for the wasm backend: one pass over the wasm heap (SIMD module, or JS loops),
 * REPLACING tfjs-backend-wasm 4.22's kernel, which is both slow (a scalar C++ loop: 30 ms for
 * the first pool of a demo CNN training step, ours 0.6 ms; bench/kernels.ts) and wrong: it
 * starts each window's scan from std::numeric_limits<float>::min(), the smallest POSITIVE float,
 * and keeps the last `>=` match (MaxPoolGrad.cc / pool3d_impl.h), so a window whose maximum is <= 0 routes its gradient
 * nowhere. That silently breaks training whenever a max pool sees non-positive values.
 *
 * Semantics are exactly the cpu backend's (tfjs-backend-cpu kernels/MaxPoolGrad.js with
 * utils/pool_utils.js maxPoolPositions): each window is scanned row-major over its in-image
 * pixels (padding is skipped, not read as a value) with `pixel > best` from best = -Infinity, so
 *  - ties go to the FIRST maximal position,
 *  - NaN pixels are never chosen, and a window of only NaN / -Infinity pixels (or only padding)
 *    routes its gradient nowhere,
 * and dx[p] is the sum of dy over the windows whose chosen position is p (windows overlap when
 * the stride is smaller than the filter).
 */
import { tfc } from '../tf.js';
import { inputInfo } from './tensors.js';
import { heapBackend, numericView } from './heap.js';
import { simdKernels } from './simd.js';

/** dx (zeroed by the caller) += dy routed to each window's first maximum, NHWC. */
export function scatterToWindowMaxima(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  dx: Float32Array,
  info: tfc.backend_util.Conv2DInfo,
): void {
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const best = new Float64Array(c);
  const at = new Int32Array(c);
  let g = 0; // flat index of dy[b, i, j, 0]
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - top;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(h, r0 + fh);
      for (let j = 0; j < ow; j++, g += c) {
        const c0 = j * sw - left;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(w, c0 + fw);
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = rLo; r < rHi; r++) {
          for (let q = cLo; q < cHi; q++) {
            const base = ((b * h + r) * w + q) * c;
            for (let d = 0; d < c; d++) {
              const v = x[base + d];
              if (v > best[d]) {
                best[d] = v;
                at[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) if (at[d] >= 0) dx[at[d]] += dy[g + d];
      }
    }
  }
}

/**
 * The common non-overlapping 2x2 pool (stride 2, every window inside the image): each window is
 * read once and every dx element written once (no zero fill, no accumulation).
 * Same first-maximum rule as the generic loop.
 */
function scatter2x2(x: ArrayLike<number>, dy: ArrayLike<number>, dx: Float32Array, info: tfc.backend_util.Conv2DInfo): void {
  const { batchSize: nb, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  // Rows/columns past the last full window (odd sizes) get no gradient.
  if (2 * oh < h || 2 * ow < w) dx.fill(0);
  const rowStep = w * c;
  let g = 0; // flat index of dy[b, i, j, 0]
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++, g += c) {
        const p = ((b * h + 2 * i) * w + 2 * j) * c;
        for (let d = 0; d < c; d++) {
          const p00 = p + d;
          const p01 = p00 + c;
          const p10 = p00 + rowStep;
          const p11 = p10 + c;
          // Strict `>` from -Infinity, row-major: the first maximum wins, NaN never does.
          let best = -Infinity;
          let k = -1;
          let v = x[p00];
          if (v > best) { best = v; k = 0; }
          v = x[p01];
          if (v > best) { best = v; k = 1; }
          v = x[p10];
          if (v > best) { best = v; k = 2; }
          v = x[p11];
          if (v > best) k = 3;
          const t = dy[g + d];
          dx[p00] = k === 0 ? t : 0;
          dx[p01] = k === 1 ? t : 0;
          dx[p10] = k === 2 ? t : 0;
          dx[p11] = k === 3 ? t : 0;
        }
      }
    }
  }
}

/**
 * MaxPoolGrad for wasm: exact cpu semantics, no temporaries, no copies of x or dy. Windows that
 * do not overlap (every pooling with stride >= filter, e.g. the 2x2/2 of most CNNs) over float32
 * data with C % 4 == 0 run in the SIMD module (simd.ts); other cases run the JS loops above.
 */
export const maxPoolGradKernel: tfc.KernelFunc = ({ inputs, backend, attrs }) => {
  const be = heapBackend(backend);
  const x = inputInfo(inputs, 'input');
  const dyInfo = inputInfo(inputs, 'dy');
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tfc.MaxPoolGradAttrs;
  const info = tfc.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const out = be.makeOutput(x.shape, 'float32');
  const { strideHeight: sh, strideWidth: sw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const disjoint = fh <= sh && fw <= sw;
  const simd = disjoint && info.inChannels % 4 === 0 && x.dtype === 'float32' && dyInfo.dtype === 'float32' ? simdKernels(backend) : null;
  const inside2x2 = fh === 2 && fw === 2 && sh === 2 && sw === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight && 2 * info.outWidth <= info.inWidth;
  const at = (t: tfc.TensorInfo) => be.getMemoryOffset(t.dataId);
  if (simd && inside2x2) {
    simd.maxPoolGrad2x2(at(x), at(dyInfo), at(out), info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth);
    return out;
  }
  if (simd) {
    simd.maxPoolGradDisjoint(
      at(x), at(dyInfo), at(out),
      info.batchSize, info.inHeight, info.inWidth, info.inChannels,
      info.outHeight, info.outWidth, sh, sw, fh, fw, info.padInfo.top, info.padInfo.left,
    );
    return out;
  }
  // Views after the allocation (see heap.ts).
  const xv = numericView(be, x);
  const dyv = numericView(be, dyInfo);
  const dx = be.typedArrayFromHeap(out) as Float32Array;
  if (inside2x2) {
    scatter2x2(xv, dyv, dx, info);
  } else {
    dx.fill(0);
    scatterToWindowMaxima(xv, dyv, dx, info);
  }
  return out;
};

export const maxPoolGradConfig: tfc.KernelConfig = {
  kernelName: tfc.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradKernel,
};
