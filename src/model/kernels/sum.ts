/**
 * Sum for the wasm backend, wrapping tfjs-backend-wasm 4.22's kernel for the reduction a bias
 * gradient needs: sum over the LEADING axes of a float32 tensor (tfjs-core BiasAdd_grad / the
 * broadcast Add_grad sum dy over [0, 1, 2] of NHWC activations).
 *
 * The native kernel can only reduce innermost axes, so it first transposes the tensor (wasm's
 * slow Transpose) and then reduces: 4 ms for the conv1 bias gradient ([64, 28, 28, 32]) of a
 * demo CNN training step. Summing the rows of the [outer, inner] view in one pass over the heap
 * (SIMD module, or JS) needs no copy: 0.4 ms. Accumulation is in float64, row by row, which is exactly
 * the cpu backend's order and precision (kernels/Sum.js: a JS number accumulator over the
 * reduced elements in row-major order), so results equal cpu's bit for bit.
 * Every other case (other axes, int32, bool) goes to the native kernel unchanged.
 */
import { tfc } from '../tf.js';
import { inputInfo } from './tensors.js';
import { heapBackend, withScratch } from './heap.js';
import { simdKernels } from './simd.js';

/** k if `axes` are exactly [0, 1, ..., k - 1] with k < rank, else 0. */
function leadingAxesCount(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return 0;
  return sorted.every((a, i) => a === i) ? sorted.length : 0;
}

/** out[c] = sum_r x[r * inner + c], accumulated in float64. */
export function sumRowsInto(x: Float32Array, out: Float32Array, rows: number, inner: number): void {
  const acc = new Float64Array(inner);
  for (let r = 0, o = 0; r < rows; r++) for (let c = 0; c < inner; c++) acc[c] += x[o++];
  out.set(acc);
}

/** A Sum config that reduces leading axes of float32 tensors on the heap, else defers to `native`. */
export function leadingAxesSumConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const x = inputInfo(args.inputs, 'x');
    const { axis, keepDims } = args.attrs as unknown as tfc.SumAttrs;
    const axes = tfc.util.parseAxisParam(axis, x.shape);
    const k = leadingAxesCount(axes, x.shape.length);
    if (x.dtype !== 'float32' || k === 0) return native.kernelFunc(args);
    const be = heapBackend(args.backend);
    const kept = x.shape.slice(k);
    const out = be.makeOutput(keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept, 'float32');
    const inner = tfc.util.sizeFromShape(kept);
    const rows = tfc.util.sizeFromShape(x.shape.slice(0, k));
    const simd = inner % 4 === 0 ? simdKernels(args.backend) : null;
    if (simd) {
      // float64 scratch: `inner` doubles = 2 * inner float32 slots (malloc aligns to 8 bytes).
      withScratch(be, 2 * inner, (scratch) =>
        simd.sumRowsF64(be.getMemoryOffset(x.dataId), be.getMemoryOffset(out.dataId), be.getMemoryOffset(scratch.dataId), rows, inner),
      );
      return out;
    }
    // Views after the allocation (heap.ts).
    sumRowsInto(be.typedArrayFromHeap(x) as Float32Array, be.typedArrayFromHeap(out) as Float32Array, rows, inner);
    return out;
  };
  return { ...native, kernelFunc };
}
