/**
 * Small helpers shared by the composite wasm kernels.
 *
 * The kernels here are "composite": their kernelFunc runs ordinary tfjs ops while the engine's
 * active backend is wasm, so every op dispatches to a fast wasm/XNNPACK kernel. This works
 * because the engine only bumps `kernelDepth` around a kernelFunc (which turns the tape off) and
 * does not open a scope of its own (tfjs-core engine.ts, runKernelFunc). Each kernelFunc wraps its
 * work in `tfc.tidy` and returns a `Tensor`: the engine keeps a returned Tensor as is (it checks
 * `outInfo.rank != null`) instead of wrapping a bare TensorInfo, so the result is owned once, by
 * the caller's scope, and every intermediate is disposed by the tidy.
 */
import { tfc } from '../tf.js';

type Tensor = tfc.Tensor;

/** Backend surface the helpers need (KernelBackend has both methods). */
export interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * A Tensor over `info`'s data with the given shape and dtype, without copying.
 * The wrapper holds its own reference (backend.incRef), so disposing it, which the enclosing
 * tidy does, leaves the original alive. Used for kernel inputs that arrive as bare TensorInfos
 * and to reinterpret complex64 data as interleaved float32 (see complex.ts).
 */
export function viewOf(info: tfc.TensorInfo, backend: RefCountingBackend, shape = info.shape, dtype = info.dtype): Tensor {
  backend.incRef(info.dataId);
  return tfc.engine().makeTensorFromTensorInfo({ dataId: info.dataId, shape, dtype });
}

/** The kernel input `name` (a TensorInfo) as a Tensor; engine-invoked kernels already get Tensors. */
export function inputInfo(inputs: tfc.NamedTensorInfoMap, name: string): tfc.TensorInfo {
  const info = inputs[name];
  if (info == null) throw new Error(`kernel input '${name}' is missing`);
  return info;
}

/** The kernel input `name` as a Tensor (ops need Tensors); engine-invoked kernels already get Tensors. */
export function asTensor(inputs: tfc.NamedTensorInfoMap, name: string, backend: RefCountingBackend): Tensor {
  const info = inputInfo(inputs, name);
  return info instanceof tfc.Tensor ? info : viewOf(info, backend);
}

/**
 * Pads (positive amounts) or crops (negative amounts) each axis: `amounts[i] = [before, after]`.
 * Crops first, so no padding is ever written and then thrown away.
 */
export function padOrCrop<T extends Tensor>(x: T, amounts: Array<[number, number]>): T {
  let y: Tensor = x;
  if (amounts.some(([a, b]) => a < 0 || b < 0)) {
    const begin = amounts.map(([a]) => Math.max(0, -a));
    const size = amounts.map(([a, b], i) => x.shape[i] - Math.max(0, -a) - Math.max(0, -b));
    y = tfc.slice(y, begin, size);
  }
  if (amounts.some(([a, b]) => a > 0 || b > 0)) {
    y = tfc.pad(y, amounts.map(([a, b]) => [Math.max(0, a), Math.max(0, b)] as [number, number]));
  }
  return y as T;
}

/**
 * Inserts `sh - 1` zero rows after every row and `sw - 1` zero columns after every column of an
 * NHWC tensor: [B, H, W, C] -> [B, H*sh, W*sw, C] (the trailing zeros are kept; callers crop).
 * This is the "fractionally strided" input of a transposed convolution (Dumoulin & Visin 2016,
 * "A guide to convolution arithmetic for deep learning", section 4.5).
 */
export function zeroInsert(x: tfc.Tensor4D, sh: number, sw: number): tfc.Tensor4D {
  const [b, h, w, c] = x.shape;
  let y: tfc.Tensor4D = x;
  if (sw > 1) {
    const cols = tfc.pad(tfc.reshape(y, [b * h, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
    y = tfc.reshape(cols, [b, h, w * sw, c]);
  }
  if (sh > 1) {
    const rows = tfc.pad(tfc.reshape(y, [b, h, 1, y.shape[2] * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
    y = tfc.reshape(rows, [b, h * sh, y.shape[2], c]);
  }
  return y;
}
