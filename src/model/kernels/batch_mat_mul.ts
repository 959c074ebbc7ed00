/**
 * BatchMatMul for the wasm backend, wrapping tfjs-backend-wasm's own kernel so that transposed
 * products reach XNNPACK.
 *
 * wasm sends a product to XNNPACK's fully-connected operator only when neither operand is
 * transposed and both have batch 1; anything else runs a scalar blocked loop
 * (batch_mat_mul_impl.cc, `slow_batch_matmul`). Backprop through a dense layer is exactly the
 * transposed case (dW = x^T dy, dx = dy W^T, tfjs-core BatchMatMul_grad), and it was ~10x slower
 * than the forward product. Materialising the transpose (wasm's Transpose kernel, one pass over
 * the operand) and calling the native kernel with both flags off keeps the product on XNNPACK.
 * Batched products are passed to the native kernel unchanged.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, type RefCountingBackend } from './tensors.js';

type Tensor = tfc.Tensor;

function lastTwoSwapped(t: Tensor): Tensor {
  const perm = [...t.shape.keys()];
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tfc.transpose(t, perm);
}

const batchOf = (info: tfc.TensorInfo) => tfc.util.sizeFromShape(info.shape.slice(0, -2));

/** A BatchMatMul config that untransposes 2-D-like operands, then defers to `native`. */
export function untransposingBatchMatMulConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const attrs = args.attrs as unknown as tfc.BatchMatMulAttrs;
    const a = inputInfo(args.inputs, 'a');
    const b = inputInfo(args.inputs, 'b');
    if ((!attrs.transposeA && !attrs.transposeB) || batchOf(a) !== 1 || batchOf(b) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return native.kernelFunc(args);
    }
    const be = args.backend as RefCountingBackend;
    // The native kernel reads its inputs synchronously and returns a backend-owned TensorInfo,
    // which goes to the engine as is; only the temporary transposes are disposed here.
    const temps: Tensor[] = [];
    const untransposed = (name: string, info: tfc.TensorInfo, flag: boolean): tfc.TensorInfo => {
      if (!flag) return info;
      const t = tfc.tidy(() => lastTwoSwapped(asTensor(args.inputs, name, be)));
      temps.push(t);
      return t;
    };
    try {
      return native.kernelFunc({
        inputs: { a: untransposed('a', a, attrs.transposeA), b: untransposed('b', b, attrs.transposeB) },
        backend: args.backend,
        attrs: { ...attrs, transposeA: false, transposeB: false } as unknown as tfc.NamedAttrMap,
      });
    } finally {
      tfc.dispose(temps);
    }
  };
  return { ...native, kernelFunc };
}
