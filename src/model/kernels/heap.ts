/**
 * Direct access to tfjs-backend-wasm tensor buffers, for kernels written as JS loops and for the
 * SIMD module (simd.ts), which takes buffers as byte offsets (getMemoryOffset).
 *
 * A wasm tensor's data lives in the module's linear memory; `typedArrayFromHeap` returns a typed
 * array VIEW of it (no copy) and `makeOutput` mallocs an output buffer registered with the
 * backend (refcount 1, owned by whoever receives the returned TensorInfo). Both are public
 * methods of BackendWasm 4.22 that wasm's own JS-side kernels use (kernels/Identity.js,
 * Slice.js, Concat.js). Two rules follow from the memory model:
 *  - Views are taken AFTER every allocation of the kernel: malloc can grow the memory, which
 *    detaches the ArrayBuffer under every older view (they then read as length 0).
 *  - makeOutput memory is uninitialised (malloc, not calloc): a kernel writes every element.
 */
import { tfc } from '../tf.js';

export type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The part of BackendWasm these kernels use. */
export interface HeapBackend {
  makeOutput(shape: number[], dtype: tfc.DataType): tfc.TensorInfo;
  typedArrayFromHeap(info: tfc.TensorInfo): HeapArray;
  /** Byte offset of a tensor's buffer in the heap (for the SIMD module, simd.ts). */
  getMemoryOffset(dataId: object): number;
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** `backend` as a HeapBackend; throws if it is not one (the kernels are registered for wasm only). */
export function heapBackend(backend: unknown): HeapBackend {
  const b = backend as Partial<HeapBackend> | null;
  if (b == null || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.getMemoryOffset !== 'function') {
    throw new Error('this kernel needs the wasm backend (makeOutput / typedArrayFromHeap)');
  }
  return b as HeapBackend;
}

/** A scratch float32 buffer of `size` elements for the duration of `use` (freed after, also on throws). */
export function withScratch<T>(backend: HeapBackend, size: number, use: (scratch: tfc.TensorInfo) => T): T {
  const scratch = backend.makeOutput([size], 'float32');
  try {
    return use(scratch);
  } finally {
    backend.disposeData(scratch.dataId);
  }
}

/** A float32 or int32 view of `info` (bool and other dtypes are refused: kernels read numbers). */
export function numericView(backend: HeapBackend, info: tfc.TensorInfo): Float32Array | Int32Array {
  if (info.dtype !== 'float32' && info.dtype !== 'int32') throw new Error(`expected a float32 or int32 tensor, got ${info.dtype}`);
  return backend.typedArrayFromHeap(info) as Float32Array | Int32Array;
}
