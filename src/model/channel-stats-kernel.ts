/**
 * NeurolensChannelStats: every per-(sample, channel) statistic of an activation in ONE pass, as a
 * custom tfjs kernel for the 'wasm' and 'cpu' backends (reduce.ts falls back to tensor ops on
 * backends without it, e.g. 'tensorflow').
 *
 * Input x: float32 [B, C], [B, H, W, C] or [B, T, H, W, C], read as [B, P, C] (P = T*H*W
 * positions p = t*H*W + y*W + x, channels innermost). Outputs:
 *   stats  float32 [5, B, C]: max, min, mean, sqMean (mean of squares), zeroFrac;
 *   argmax int32 [B, C]: the FIRST position p holding the max.
 * Definitions: mean and sqMean are sums over runs of RUN (64) positions in float32, added up in
 * float64, divided by P and rounded to float32 (channel-stats-simd.ts says why);
 * zeroFrac = #{p : a = 0} / P (TensorBoard's `zero_fraction`; -0 is zero).
 * NaN rule (numpy's max/argmax): a channel with a NaN has max = min = NaN and argmax = the first
 * NaN position; its mean and sqMean are NaN; NaN is not zero. +-Inf are ordinary values (a
 * channel holding both has mean NaN).
 *
 * On wasm the activations are read in the backend's heap where its kernels wrote them (no copy)
 * and the outputs are allocated there (`makeOutput`, written through `typedArrayFromHeap`), as the
 * backend's own JS kernels do (tfjs-backend-wasm 4.22 kernels/Concat.js). The loop over groups of
 * four channels is WebAssembly SIMD (channel-stats-simd.ts); the last C mod 4 channels and NaN
 * channels are finished in JS. On cpu the same SIMD loop runs on a copy of each sample in a
 * private wasm memory.
 */
import { tfc } from './tf.js';
import { ACC_BYTES_PER_BLOCK, RUN, statsOver, type StatsFn } from './channel-stats-simd.js';

export const CHANNEL_STATS = 'NeurolensChannelStats';
/** Rows of the `stats` output. */
export const N_CHANNEL_STATS = 5;

interface Dims {
  B: number;
  P: number;
  C: number;
}

/** The parts of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface WasmBackendLike {
  wasm: { asm?: { memory?: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void };
  makeOutput(shape: number[], dtype: tfc.DataType): tfc.TensorInfo;
  typedArrayFromHeap(info: tfc.TensorInfo): tfc.TypedArray;
  disposeData(dataId: object): boolean;
}

/** The parts of tfjs-backend-cpu's MathBackendCPU this kernel uses. */
interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tfc.DataType, values?: tfc.TypedArray): tfc.TensorInfo;
}

function inputOf(inputs: tfc.NamedTensorInfoMap): { x: tfc.TensorInfo; d: Dims } {
  const x = inputs.x;
  if (x == null) throw new Error(`${CHANNEL_STATS}: input 'x' is missing`);
  if (x.dtype !== 'float32') throw new Error(`${CHANNEL_STATS}: input must be float32, got ${x.dtype}`);
  if (x.shape.length < 2) throw new Error(`${CHANNEL_STATS}: input must be [B, ..., C], got [${x.shape.join(',')}]`);
  const P = x.shape.slice(1, -1).reduce((a, b) => a * b, 1);
  return { x, d: { B: x.shape[0], P, C: x.shape[x.shape.length - 1] } };
}

/** Accumulators of the SIMD loop (layout in channel-stats-simd.ts) and how to fill them for sample b. */
interface SimdPass {
  blocks: number;
  f32: Float32Array;
  i32: Int32Array;
  f64: Float64Array;
  run(b: number): void;
}

function accViews(buffer: ArrayBuffer, ptr: number, blocks: number): Pick<SimdPass, 'f32' | 'i32' | 'f64'> {
  const bytes = blocks * ACC_BYTES_PER_BLOCK;
  return { f32: new Float32Array(buffer, ptr, bytes / 4), i32: new Int32Array(buffer, ptr, bytes / 4), f64: new Float64Array(buffer, ptr, bytes / 8) };
}

/** Copies the SIMD block results of sample b into the outputs. */
function readBlocks(s: SimdPass, b: number, { B, P, C }: Dims, stats: Float32Array, argmax: Int32Array): void {
  const n = B * C;
  const { f32, i32, f64 } = s;
  for (let c = 0; c < 4 * s.blocks; c++) {
    const w = (c >> 2) * (ACC_BYTES_PER_BLOCK / 4) + (c & 3); // 32-bit word of lane c in its block
    const d = (c >> 2) * (ACC_BYTES_PER_BLOCK / 8) + (c & 3); // float64 word
    const k = b * C + c;
    stats[k] = f32[w];
    stats[n + k] = f32[w + 4];
    argmax[k] = i32[w + 8];
    stats[4 * n + k] = i32[w + 12] / P;
    stats[2 * n + k] = f64[d + 8] / P;
    stats[3 * n + k] = f64[d + 12] / P;
  }
}

/** The same statistics in plain JS, for channels [c0, C) of sample b. */
function scalarChannels(x: Float32Array, b: number, c0: number, { B, P, C }: Dims, stats: Float32Array, argmax: Int32Array): void {
  const n = B * C;
  for (let c = c0; c < C; c++) {
    let mx = -Infinity;
    let mn = Infinity;
    let am = 0;
    let s = 0;
    let q = 0;
    let z = 0;
    // Float32 run sums flushed into float64 every RUN positions, exactly as the SIMD loop does.
    let rs = 0;
    let rq = 0;
    for (let p = 0, i = b * P * C + c; p < P; p++, i += C) {
      const v = x[i];
      if (v > mx) {
        mx = v;
        am = p;
      }
      if (v < mn) mn = v;
      rs = Math.fround(rs + v);
      rq = Math.fround(rq + Math.fround(v * v));
      if (v === 0) z++;
      if ((p + 1) % RUN === 0 || p + 1 === P) {
        s += rs;
        q += rq;
        rs = 0;
        rq = 0;
      }
    }
    const k = b * C + c;
    stats[k] = mx;
    stats[n + k] = mn;
    stats[2 * n + k] = s / P;
    stats[3 * n + k] = q / P;
    stats[4 * n + k] = z / P;
    argmax[k] = am;
  }
}

/**
 * The loops skip NaN in max/min/argmax; a NaN shows up in sqMean (a sum of squares is NaN only
 * through a NaN value). Such channels get max = min = NaN and argmax = first NaN.
 */
function applyNaNRule(x: Float32Array, b: number, { B, P, C }: Dims, stats: Float32Array, argmax: Int32Array): void {
  const n = B * C;
  for (let c = 0; c < C; c++) {
    const k = b * C + c;
    if (!Number.isNaN(stats[3 * n + k])) continue;
    for (let p = 0, i = b * P * C + c; p < P; p++, i += C) {
      if (Number.isNaN(x[i])) {
        stats[k] = NaN;
        stats[n + k] = NaN;
        argmax[k] = p;
        break;
      }
    }
  }
}

function reduceBatch(x: Float32Array, d: Dims, stats: Float32Array, argmax: Int32Array, simd: SimdPass | null): void {
  for (let b = 0; b < d.B; b++) {
    if (simd) {
      simd.run(b);
      readBlocks(simd, b, d, stats, argmax);
    }
    scalarChannels(x, b, simd ? 4 * simd.blocks : 0, d, stats, argmax);
    applyNaNRule(x, b, d, stats, argmax);
  }
}

let privateMemory: WebAssembly.Memory | null = null;

/** SIMD pass over copies of each sample in a private wasm memory (cpu, or a wasm heap we cannot import). */
function privatePass(x: Float32Array, { P, C }: Dims): SimdPass | null {
  const blocks = C >> 2;
  if (blocks === 0) return null;
  const xOff = blocks * ACC_BYTES_PER_BLOCK;
  const need = xOff + P * C * 4;
  privateMemory ??= new WebAssembly.Memory({ initial: Math.ceil(need / 65536) });
  const have = privateMemory.buffer.byteLength;
  if (have < need) privateMemory.grow(Math.ceil((need - have) / 65536));
  const fn = statsOver(privateMemory);
  if (!fn) return null;
  const dst = new Float32Array(privateMemory.buffer, xOff, P * C);
  return {
    blocks,
    ...accViews(privateMemory.buffer, 0, blocks),
    run: (b) => {
      dst.set(x.subarray(b * P * C, (b + 1) * P * C));
      fn(xOff, P, blocks, 4 * C, 0);
    },
  };
}

const wasmKernel: tfc.KernelFunc = ({ inputs, backend }) => {
  const be = backend as unknown as WasmBackendLike;
  const { x, d } = inputOf(inputs);
  const stats = be.makeOutput([N_CHANNEL_STATS, d.B, d.C], 'float32');
  const argmax = be.makeOutput([d.B, d.C], 'int32');
  const memory = be.wasm.asm?.memory;
  const fn: StatsFn | null = memory instanceof WebAssembly.Memory ? statsOver(memory) : null;
  const blocks = d.C >> 2;
  const acc = fn && blocks > 0 ? be.wasm._malloc(blocks * ACC_BYTES_PER_BLOCK) : 0;
  try {
    // Views only after the last allocation: a malloc may grow the heap and detach older views.
    const xv = be.typedArrayFromHeap(x) as Float32Array;
    const sv = be.typedArrayFromHeap(stats) as Float32Array;
    const av = be.typedArrayFromHeap(argmax) as Int32Array;
    let simd: SimdPass | null = null;
    if (fn && memory && acc) {
      const rowBytes = 4 * d.C;
      const sampleBytes = d.P * rowBytes;
      simd = { blocks, ...accViews(memory.buffer, acc, blocks), run: (b) => fn(xv.byteOffset + b * sampleBytes, d.P, blocks, rowBytes, acc) };
    } else {
      simd = privatePass(xv, d);
    }
    reduceBatch(xv, d, sv, av, simd);
  } catch (e) {
    // The outputs are not owned by the engine yet: free them before passing the error on.
    be.disposeData(stats.dataId);
    be.disposeData(argmax.dataId);
    throw e;
  } finally {
    if (acc) be.wasm._free(acc);
  }
  return [stats, argmax];
};

const cpuKernel: tfc.KernelFunc = ({ inputs, backend }) => {
  const be = backend as unknown as CpuBackendLike;
  const { x, d } = inputOf(inputs);
  const raw = be.data.get(x.dataId).values;
  if (!ArrayBuffer.isView(raw) || raw instanceof DataView) throw new Error(`${CHANNEL_STATS}: cpu tensor data is not a typed array`);
  // The cpu backend's int32 -> float32 cast keeps the Int32Array (no encoding loss): convert here.
  const values = raw instanceof Float32Array ? raw : Float32Array.from(raw as unknown as ArrayLike<number>);
  const stats = new Float32Array(N_CHANNEL_STATS * d.B * d.C);
  const argmax = new Int32Array(d.B * d.C);
  reduceBatch(values, d, stats, argmax, privatePass(values, d));
  return [be.makeTensorInfo([N_CHANNEL_STATS, d.B, d.C], 'float32', stats), be.makeTensorInfo([d.B, d.C], 'int32', argmax)];
};

/** Registers the kernel for 'wasm' and 'cpu' (where not yet registered). Idempotent; safe before any backend exists. */
export function registerChannelStatsKernel(): void {
  for (const [backendName, kernelFunc] of [
    ['wasm', wasmKernel],
    ['cpu', cpuKernel],
  ] as const) {
    if (tfc.getKernel(CHANNEL_STATS, backendName) == null) tfc.registerKernel({ kernelName: CHANNEL_STATS, backendName, kernelFunc });
  }
}

/** Whether the fused kernel runs on `backendName` (default: the active backend). */
export function hasChannelStatsKernel(backendName: string = tfc.getBackend()): boolean {
  return tfc.getKernel(CHANNEL_STATS, backendName) != null;
}

/** Runs the kernel on a float32 [B, ..., C] tensor (see the file comment for the outputs). */
export function channelStats(x: tfc.Tensor): { stats: tfc.Tensor; argmax: tfc.Tensor } {
  const [stats, argmax] = tfc.engine().runKernel(CHANNEL_STATS, { x }, {}) as tfc.Tensor[];
  return { stats, argmax };
}
