/**
 * BatchMatMul for the wasm backend, wrapping tfjs-backend-wasm's own kernel so that transposed
 * products reach XNNPACK.
 *
 * wasm sends a product to XNNPACK's fully-connected operator only when neither operand is
 * transposed and both have batch 1; anything else runs a scalar blocked loop
 * (batch_mat_mul_impl.cc, `slow_batch_matmul`). Backprop through a dense layer is exactly the
 * transposed case (dW = x^T dy, dx = dy W^T, tfjs-core BatchMatMul_grad), and it was ~10x slower
 * than the forward product. Materialising transposes (one SIMD pass over the operand,
 * patches.ts; wasm's own Transpose is up to 15x slower on tall matrices) and multiplying with
 * both flags off keeps the product on XNNPACK (see the config below for which operands).
 * Batched products are passed to the native kernel unchanged.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, type RefCountingBackend } from './tensors.js';
import { transposeMatrix } from './patches.js';
import { heapMatMul } from './gemm.js';
import { simdKernels } from './simd.js';

type Tensor = tfc.Tensor;

const batchOf = (info: tfc.TensorInfo) => tfc.util.sizeFromShape(info.shape.slice(0, -2));

/**
 * Relative costs per element measured on tfjs-backend-wasm 4.22 (demo CNN shapes): XNNPACK packs
 * the right operand of every product anew for each new tensor (~3.5 ns), a heap transpose is
 * ~0.5 ns. A gradient product sees fresh tensors every step, so which operand gets packed decides.
 */
const PACK_COST = 7;

/** `a` as a matrix [rows, cols] (its last two axes; batch 1), transposed when `flag` is set. */
function operand(t: Tensor, flag: boolean, backend: unknown): Tensor {
  const [r, c] = t.shape.slice(-2);
  const m = tfc.reshape(t, [r, c]);
  return flag ? transposeMatrix(m, backend) : m;
}

/** An untransposed product: the SIMD loop where it applies (gemm.ts), else XNNPACK via matMul. */
function product(x: Tensor, y: Tensor, backend: unknown): Tensor {
  return heapMatMul(x, y, backend) ?? tfc.matMul(x, y);
}

/**
 * A BatchMatMul config for batch-1 float32 products, deferring everything else to `native`.
 * Untransposed products run on the SIMD loop of gemm.ts when it applies. With transposes,
 * out = op(a) · op(b) runs as ONE untransposed product, either directly (materialising
 * op(a) and op(b)) or as out = (op(b)^T · op(a)^T)^T, whichever moves fewer elements, counting
 * XNNPACK's packing of the right operand where the product falls back to it. For the input
 * gradient of a dense layer, dx = dy · W^T, the second form avoids transposing (and packing) the
 * whole kernel W. The products use the unpacked SIMD loop of gemm.ts when it applies.
 */
export function untransposingBatchMatMulConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const attrs = args.attrs as unknown as tfc.BatchMatMulAttrs;
    const a = inputInfo(args.inputs, 'a');
    const b = inputInfo(args.inputs, 'b');
    const tA = attrs.transposeA ?? false;
    const tB = attrs.transposeB ?? false;
    if (batchOf(a) !== 1 || batchOf(b) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return native.kernelFunc(args);
    }
    const be = args.backend as RefCountingBackend;
    const m = tA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
    const n = tB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const simd = simdKernels(args.backend) != null;
    const outShape = [...tfc.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
    if (!tA && !tB) {
      // A plain product: the SIMD loop where it applies (it is no slower than XNNPACK even when
      // XNNPACK has the weights packed already, see gemm.ts), else the native kernel.
      if (!simd || n % 8 !== 0) return native.kernelFunc(args);
      return tfc.tidy(() => {
        const x = operand(asTensor(args.inputs, 'a', be), false, args.backend);
        return tfc.reshape(product(x, operand(asTensor(args.inputs, 'b', be), false, args.backend), args.backend), outShape);
      });
    }
    const sa = tfc.util.sizeFromShape(a.shape);
    const sb = tfc.util.sizeFromShape(b.shape);
    // Packing cost of a right operand with `cols` columns (none for the SIMD loop: cols % 8 == 0).
    const pack = (size: number, cols: number) => (simd && cols % 8 === 0 ? 0 : PACK_COST * size);
    const direct = (tA ? sa : 0) + (tB ? sb : 0) + pack(sb, n);
    const swapped = (tB ? 0 : sb) + (tA ? 0 : sa) + pack(sa, m) + m * n;
    return tfc.tidy(() => {
      const ta = asTensor(args.inputs, 'a', be);
      const tb = asTensor(args.inputs, 'b', be);
      if (swapped < direct) {
        const outT = product(operand(tb, !tB, args.backend), operand(ta, !tA, args.backend), args.backend); // [n, m]
        return tfc.reshape(transposeMatrix(outT, args.backend), outShape);
      }
      return tfc.reshape(product(operand(ta, tA, args.backend), operand(tb, tB, args.backend), args.backend), outShape);
    });
  };
  return { ...native, kernelFunc };
}
