/**
 * C = A · B for float32 matrices on the wasm heap by the SIMD module's `gemm` (simd.ts), for
 * the products whose right operand is a fresh, large tensor: XNNPACK (wasm's BatchMatMul) packs
 * the right operand on every call for a new tensor, ~3.5 ns per element, and for the large-K
 * shape of a filter gradient ([288, 12544] · [12544, 64] in the demo CNN) it is no faster than
 * the unpacked register-tiled loop (measured here: 17 ms fresh / 13 ms cached vs 10.4 ms).
 */
import { tfc } from '../tf.js';
import { heapBackend } from './heap.js';
import { simdKernels } from './simd.js';

/** A · B for a [m, k] and b [k, n], or null where the SIMD loop does not apply (n % 8 != 0). */
export function heapMatMul(a: tfc.TensorInfo, b: tfc.TensorInfo, backend: unknown): tfc.Tensor2D | null {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new Error(`heapMatMul: shapes [${a.shape}] and [${b.shape}] do not chain`);
  }
  const [m, k] = a.shape;
  const n = b.shape[1];
  const simd = a.dtype === 'float32' && b.dtype === 'float32' && n % 8 === 0 ? simdKernels(backend) : null;
  if (!simd) return null;
  const be = heapBackend(backend);
  const out = be.makeOutput([m, n], 'float32');
  simd.gemm(be.getMemoryOffset(a.dataId), be.getMemoryOffset(b.dataId), be.getMemoryOffset(out.dataId), m, k, n);
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor2D;
}
