/**
 * Slice for the wasm backend on tensors of rank > 4 (clips: [B, T, H, W, C]).
 *
 * tfjs-backend-wasm 4.22 slices ranks 1-4 in C++ but falls back to the cpu backend's generic
 * sliceImpl (a TensorBuffer get/set per element) for rank 5: the spatiotemporal actmax, whose
 * jitter, regularizers and unit selection slice [1, T, H, W, C] tensors, spent ~90% of each step
 * there (~650 ms a step against 18 ms for the model's gradient). Adjacent axes merge when the
 * inner one is taken whole (the slice is then the same bytes in the merged layout), so most
 * rank-5 slices become rank-2..4 slices of a reshaped view, which wasm does natively. No copy:
 * the view shares the input's buffer and the output is the native output with the final shape.
 */
import { tfc } from '../tf.js';
import { inputInfo } from './tensors.js';

/** Axes merged as described above; null when more than 4 remain. */
export function mergedSlice(shape: number[], begin: number[], size: number[]): { shape: number[]; begin: number[]; size: number[] } | null {
  const g: { dim: number; begin: number; size: number }[] = [];
  shape.forEach((d, i) => {
    const last = g[g.length - 1];
    if (last && begin[i] === 0 && size[i] === d) {
      last.dim *= d;
      last.begin *= d;
      last.size *= d;
    } else g.push({ dim: d, begin: begin[i], size: size[i] });
  });
  return g.length > 4 ? null : { shape: g.map((x) => x.dim), begin: g.map((x) => x.begin), size: g.map((x) => x.size) };
}

export function rankReducingSliceConfig(native: tfc.KernelConfig): tfc.KernelConfig {
  const kernelFunc: tfc.KernelFunc = (args) => {
    const x = inputInfo(args.inputs, 'x');
    if (x.shape.length <= 4 || x.dtype === 'string') return native.kernelFunc(args);
    const attrs = args.attrs as unknown as tfc.SliceAttrs;
    const [begin, size] = tfc.slice_util.parseSliceParams(x as tfc.TensorInfo as tfc.Tensor, attrs.begin, attrs.size);
    const m = mergedSlice(x.shape, begin, size);
    if (!m) return native.kernelFunc(args);
    const view: tfc.TensorInfo = { dataId: x.dataId, shape: m.shape, dtype: x.dtype };
    const out = native.kernelFunc({ inputs: { x: view }, backend: args.backend, attrs: { begin: m.begin, size: m.size } as unknown as tfc.NamedAttrMap }) as tfc.TensorInfo;
    return { dataId: out.dataId, shape: size, dtype: out.dtype };
  };
  return { ...native, kernelFunc };
}

/**
 * SplitV and Unpack for the wasm backend on rank > 4: wasm's own versions call its slice function
 * directly (not through the kernel registry), so they would keep the per-element path; these do
 * the same cuts through `slice` above. The gradient of a concat (the actmax jitter) is a SplitV.
 */
export function rankReducingSplitConfigs(nativeSlice: tfc.KernelConfig, natives: { splitV?: tfc.KernelConfig; unpack?: tfc.KernelConfig }): tfc.KernelConfig[] {
  const slice = rankReducingSliceConfig(nativeSlice).kernelFunc;
  const cut = (args: Parameters<tfc.KernelFunc>[0], x: tfc.TensorInfo, begin: number[], size: number[]) =>
    slice({ inputs: { x }, backend: args.backend, attrs: { begin, size } as unknown as tfc.NamedAttrMap }) as tfc.TensorInfo;
  const out: tfc.KernelConfig[] = [];
  if (natives.splitV) {
    const native = natives.splitV;
    out.push({
      ...native,
      kernelFunc: (args) => {
        const x = inputInfo(args.inputs, 'x');
        if (x.shape.length <= 4) return native.kernelFunc(args);
        const { numOrSizeSplits, axis } = args.attrs as unknown as tfc.SplitVAttrs;
        const a = tfc.util.parseAxisParam(axis, x.shape)[0];
        const sizes = tfc.backend_util.prepareSplitSize(x as tfc.TensorInfo as tfc.Tensor, numOrSizeSplits, a);
        const begin = new Array<number>(x.shape.length).fill(0);
        return sizes.map((s) => {
          const size = x.shape.slice();
          size[a] = s;
          const r = cut(args, x, begin.slice(), size);
          begin[a] += s;
          return r;
        });
      },
    });
  }
  if (natives.unpack) {
    const native = natives.unpack;
    out.push({
      ...native,
      kernelFunc: (args) => {
        const x = inputInfo(args.inputs, 'value');
        if (x.shape.length <= 4) return native.kernelFunc(args);
        const { axis } = args.attrs as unknown as tfc.UnpackAttrs;
        const a = tfc.util.parseAxisParam(axis, x.shape)[0];
        const outShape = x.shape.filter((_, i) => i !== a);
        return Array.from({ length: x.shape[a] }, (_, i) => {
          const begin = x.shape.map((_, k) => (k === a ? i : 0));
          const size = x.shape.map((d, k) => (k === a ? 1 : d));
          const r = cut(args, x, begin, size);
          return { dataId: r.dataId, shape: outShape, dtype: r.dtype };
        });
      },
    });
  }
  return out;
}
