/**
 * neurolens' WebAssembly SIMD loops (simd/kernels.wat, compiled into simd_binary.ts), instantiated
 * on tfjs-backend-wasm's OWN linear memory so they read and write tensor buffers in place.
 *
 * Why: the inner loops of a training step's gradient kernels (the window scan of MaxPoolGrad,
 * the leading-axes Sum of a bias gradient, the patch matrix and product of a filter gradient,
 * transposes, the bias add) run 5-10x slower as JS (scalar, with unpredictable branches) than as
 * wasm SIMD, and tfjs-backend-wasm has no fast kernel for them (XNNPACK's product repacks a fresh
 * right operand on every call, gemm.ts). The module imports the memory the backend's
 * Emscripten module exports (`Module.asm.memory`), so heap growth is seen by both. One instance
 * per backend memory (WeakMap). If the JS engine cannot compile SIMD or the backend exposes no
 * (unshared) memory, `simdKernels` returns null and callers use their JS loops or XNNPACK.
 */
import { SIMD_KERNELS_WASM_BASE64 } from './simd_binary.js';

export interface SimdKernels {
  maxPoolGradDisjoint(
    x: number, dy: number, dx: number,
    batch: number, inHeight: number, inWidth: number, channels: number,
    outHeight: number, outWidth: number, strideHeight: number, strideWidth: number,
    filterHeight: number, filterWidth: number, padTop: number, padLeft: number,
  ): void;
  maxPoolGrad2x2(
    x: number, dy: number, dx: number,
    batch: number, inHeight: number, inWidth: number, channels: number, outHeight: number, outWidth: number,
  ): void;
  sumRowsF64(x: number, out: number, scratch: number, rows: number, inner: number): void;
  addChannelBias(x: number, bias: number, out: number, rows: number, channels: number): void;
  gemm(a: number, b: number, c: number, m: number, k: number, n: number): void;
  transpose2d(src: number, dst: number, rows: number, cols: number): void;
  patchesTransposed(
    xc: number, out: number,
    batch: number, inHeight: number, inWidth: number, channels: number, outHeight: number, outWidth: number,
    filterHeight: number, filterWidth: number, strideHeight: number, strideWidth: number, padTop: number, padLeft: number,
  ): void;
}

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

function module(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = Buffer.from(SIMD_KERNELS_WASM_BASE64, 'base64');
    // An engine without wasm SIMD rejects the module: callers then use their JS loops.
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** The backend's wasm memory, if it is a tfjs-backend-wasm backend. */
function backendMemory(backend: unknown): WebAssembly.Memory | null {
  const mem = (backend as { wasm?: { asm?: { memory?: unknown } } } | null)?.wasm?.asm?.memory;
  // The multi-threaded wasm build has a shared memory, which this module (it declares an
  // unshared import) cannot link to: there the callers' JS loops run instead.
  if (!(mem instanceof WebAssembly.Memory)) return null;
  return typeof SharedArrayBuffer !== 'undefined' && mem.buffer instanceof SharedArrayBuffer ? null : mem;
}

/** The SIMD kernels bound to `backend`'s heap, or null where they cannot run. */
export function simdKernels(backend: unknown): SimdKernels | null {
  const memory = backendMemory(backend);
  const mod = memory && module();
  if (!memory || !mod) return null;
  let k = instances.get(memory);
  if (!k) {
    k = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, k);
  }
  return k;
}
