/**
 * The heap-level pieces of neurolens' wasm kernels (src/model/kernels): the SIMD module
 * (simd/kernels.wat) and the JS loops it replaces, the sharing Identity, the leading-axes Sum,
 * both routes of the filter gradient, and the demo CNN's gradients end to end. References are
 * the cpu backend's kernels or plain loops written here from the definitions.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { tfc } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { TOL, randomArray, rng, size } from './helpers/backend-compare.js';
import { simdKernels } from '../src/model/kernels/simd.js';
import { SIMD_KERNELS_WASM_BASE64 } from '../src/model/kernels/simd_binary.js';
import { patchesTransposed, transposeMatrix, transpose2dInto, type PatchGeometry } from '../src/model/kernels/patches.js';
import { scatterToWindowMaxima } from '../src/model/kernels/max_pool_grad.js';
import { sumRowsInto } from '../src/model/kernels/sum.js';
import { conv2dBackpropFilterByConv, conv2dBackpropFilterByPatches } from '../src/model/kernels/conv2d_backprop_filter.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { compileWat } from '../scripts/build-simd-kernels.js';

type Tensor = tfc.Tensor;
/** max|a - b| / max|b| over finite entries; NaN / infinite entries must sit at the same places. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(b[i])) {
      expect(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])), `entry ${i}: ${a[i]} vs ${b[i]}`).toBe(true);
      continue;
    }
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

/** Index of the first entry where a and b differ (NaN equals NaN, 0 equals -0), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

const footprint = (): [number, number] => [tfc.memory().numTensors, tfc.engine().backend.numDataIds()];

/** Runs `f` on `backend` inside a tidy and downloads every returned tensor. */
function on(backend: string, f: () => Tensor[]): Float32Array[] {
  tfc.setBackend(backend);
  return tfc.tidy(() => f().map((t) => t.dataSync() as Float32Array));
}

beforeAll(async () => {
  registerWasmGradientKernels();
  expect(await tfc.setBackend('cpu')).toBe(true);
  expect(await tfc.setBackend('wasm')).toBe(true);
});

describe('SIMD module', () => {
  it('is the compiled simd/kernels.wat (run scripts/build-simd-kernels.ts after editing it)', async () => {
    const wat = readFileSync(new URL('../src/model/kernels/simd/kernels.wat', import.meta.url), 'utf8');
    expect(Buffer.from(await compileWat(wat)).toString('base64')).toBe(SIMD_KERNELS_WASM_BASE64);
  });

  it('runs on the wasm backend in this Node (so the SIMD paths below are the ones tested) and not on cpu', () => {
    expect(simdKernels(tfc.findBackend('wasm'))).not.toBeNull();
    expect(simdKernels(tfc.findBackend('cpu'))).toBeNull();
  });
});

describe('heap transposes and patch matrices', () => {
  it('transposeMatrix = the definition, for 4-aligned (SIMD) and ragged (scalar) shapes', () => {
    tfc.setBackend('wasm');
    const be = tfc.engine().backend;
    for (const [r, c] of [[8, 4], [50176, 32], [9, 50176], [7, 5], [1, 12], [12, 1], [68, 36]]) {
      const v = new Float32Array(r * c);
      for (let i = 0; i < v.length; i++) v[i] = i; // distinct values: any misplaced entry shows
      const ref = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) ref[j * r + i] = v[i * c + j];
      const js = new Float32Array(r * c);
      transpose2dInto(v, js, r, c);
      expect(firstDifference(js, ref), `JS [${r}, ${c}]`).toBe(-1);
      const got = tfc.tidy(() => transposeMatrix(tfc.tensor2d(v, [r, c]), be).dataSync());
      expect(firstDifference(got, ref), `SIMD [${r}, ${c}]`).toBe(-1);
    }
  });

  it('patchesTransposed = the definition (strides, paddings, 1 to 5 channels)', () => {
    tfc.setBackend('wasm');
    const be = tfc.engine().backend;
    const cases: PatchGeometry[] = [
      { batch: 2, inHeight: 6, inWidth: 7, inChannels: 1, outHeight: 6, outWidth: 7, filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1 },
      { batch: 1, inHeight: 9, inWidth: 8, inChannels: 4, outHeight: 4, outWidth: 4, filterHeight: 3, filterWidth: 2, strideHeight: 2, strideWidth: 2, padTop: 0, padLeft: 0 },
      { batch: 2, inHeight: 7, inWidth: 9, inChannels: 3, outHeight: 3, outWidth: 5, filterHeight: 5, filterWidth: 3, strideHeight: 3, strideWidth: 2, padTop: 2, padLeft: 1 },
      { batch: 1, inHeight: 5, inWidth: 5, inChannels: 5, outHeight: 7, outWidth: 7, filterHeight: 4, filterWidth: 4, strideHeight: 1, strideWidth: 1, padTop: 3, padLeft: 3 },
    ];
    cases.forEach((g, k) => {
      const xShape = [g.batch, g.inHeight, g.inWidth, g.inChannels];
      const x = randomArray(size(xShape), 40 + k);
      const cols = g.batch * g.outHeight * g.outWidth;
      const ref = new Float32Array(g.filterHeight * g.filterWidth * g.inChannels * cols);
      for (let kh = 0; kh < g.filterHeight; kh++) for (let kw = 0; kw < g.filterWidth; kw++) for (let c = 0; c < g.inChannels; c++) {
        const row = (kh * g.filterWidth + kw) * g.inChannels + c;
        for (let b = 0; b < g.batch; b++) for (let i = 0; i < g.outHeight; i++) for (let j = 0; j < g.outWidth; j++) {
          const r = i * g.strideHeight + kh - g.padTop;
          const q = j * g.strideWidth + kw - g.padLeft;
          const inside = r >= 0 && r < g.inHeight && q >= 0 && q < g.inWidth;
          ref[row * cols + (b * g.outHeight + i) * g.outWidth + j] = inside ? x[((b * g.inHeight + r) * g.inWidth + q) * g.inChannels + c] : 0;
        }
      }
      const got = tfc.tidy(() => patchesTransposed(tfc.tensor(x, xShape), g, be).dataSync());
      expect(firstDifference(got, ref), `case ${k}`).toBe(-1);
    });
  });
});

describe('MaxPoolGrad edge values (cpu rule: first maximum, NaN never chosen, all -Infinity routes nothing)', () => {
  /** Values with many exact ties, NaNs and infinities. */
  function edgy(n: number, seed: number): Float32Array {
    const r = rng(seed);
    return Float32Array.from({ length: n }, () => {
      const u = r();
      if (u < 0.05) return NaN;
      if (u < 0.1) return -Infinity;
      if (u < 0.12) return Infinity;
      return Math.round(r() * 4) - 3; // {-3, ..., 1}: ties and non-positive maxima
    });
  }
  const cases: Array<{ x: number[]; f: number | [number, number]; s: number | [number, number]; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 4], f: 2, s: 2, pad: 'valid' }, // SIMD 2x2
    { x: [1, 9, 7, 8], f: 2, s: 2, pad: 'valid' }, // SIMD 2x2, last row and column in no window
    { x: [1, 7, 9, 8], f: 3, s: 3, pad: 'same' }, // SIMD disjoint, windows clipped by padding
    { x: [2, 8, 8, 3], f: 2, s: 2, pad: 'valid' }, // JS 2x2
    { x: [1, 7, 7, 4], f: 3, s: 2, pad: 'same' }, // JS generic (overlapping)
  ];
  it.each(cases)('x=$x f=$f s=$s pad=$pad equals cpu, incl. NaN and infinite dy', ({ x, f, s, pad }) => {
    const xv = edgy(size(x), size(x));
    const run = (backend: string) =>
      on(backend, () => {
        const xt = tfc.tensor4d(xv, x as [number, number, number, number]);
        const y = tfc.maxPool(xt, f, s, pad);
        const dyv = randomArray(y.size, 9);
        dyv[0] = NaN;
        dyv[1] = Infinity;
        const dy = tfc.tensor(dyv, y.shape);
        return [tfc.engine().runKernel('MaxPoolGrad', { dy, input: xt, output: y }, { filterSize: f, strides: s, pad } as unknown as tfc.NamedAttrMap) as Tensor];
      })[0];
    const wasm = run('wasm');
    const cpu = run('cpu');
    expect(relErr(wasm, cpu)).toBeLessThan(1e-6);
    // Same set of positions receiving a gradient.
    expect(firstDifference(wasm.map((v) => (v !== 0 ? 1 : 0)), cpu.map((v) => (v !== 0 ? 1 : 0)))).toBe(-1);
  });

  it.each([
    { f: 3, pad: 'same' as const },
    { f: 2, pad: 'valid' as const },
  ])('the JS generic loop equals the SIMD kernels ($f x $f, stride $f, $pad)', ({ f, pad }) => {
    const shape: [number, number, number, number] = [2, 9, 8, 8];
    const xv = edgy(size(shape), 5);
    const [simd, dyv] = on('wasm', () => {
      const xt = tfc.tensor4d(xv, shape);
      const y = tfc.maxPool(xt, f, f, pad);
      const dy = tfc.tensor(randomArray(y.size, 6), y.shape);
      return [tfc.engine().runKernel('MaxPoolGrad', { dy, input: xt, output: y }, { filterSize: f, strides: f, pad }) as Tensor, dy];
    });
    const js = new Float32Array(xv.length);
    scatterToWindowMaxima(xv, dyv, js, tfc.backend_util.computePool2DInfo(shape, f, f, 1, pad));
    expect(firstDifference(simd, js)).toBe(-1);
  });
});

describe('Sum over leading axes (bias gradients)', () => {
  it('equals cpu bit for bit (float64 accumulation in cpu order), SIMD and JS, keepDims and axis forms', () => {
    const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
      { shape: [64, 28, 28, 32], axis: [0, 1, 2], keepDims: false },
      { shape: [4, 5, 6, 3], axis: [2, 0, 1], keepDims: true },
      { shape: [7, 12], axis: 0, keepDims: false },
      { shape: [3, 4, 5], axis: [-3, -2], keepDims: false },
    ];
    cases.forEach(({ shape, axis, keepDims }, k) => {
      const v = randomArray(size(shape), 60 + k).map((t) => t * 1000);
      const [w] = on('wasm', () => [tfc.sum(tfc.tensor(v, shape), axis, keepDims)]);
      const [c] = on('cpu', () => [tfc.sum(tfc.tensor(v, shape), axis, keepDims)]);
      expect(firstDifference(w, c), `case ${k}`).toBe(-1);
      const js = new Float32Array(c.length);
      sumRowsInto(v, js, v.length / c.length, c.length);
      expect(firstDifference(js, c), `JS case ${k}`).toBe(-1);
    });
  });

  it('other reductions still reach the native kernel and match cpu', () => {
    const v = randomArray(4 * 5 * 6, 70);
    for (const axis of [[1], [2], [0, 2], [0, 1, 2]]) {
      const [w] = on('wasm', () => [tfc.sum(tfc.tensor(v, [4, 5, 6]), axis)]);
      const [c] = on('cpu', () => [tfc.sum(tfc.tensor(v, [4, 5, 6]), axis)]);
      expect(relErr(w, c), `axis ${axis}`).toBeLessThan(TOL);
    }
    const [wi] = on('wasm', () => [tfc.sum(tfc.tensor([[1, 2], [3, 4]], [2, 2], 'int32'), 0)]);
    expect(Array.from(wi)).toEqual([4, 6]);
  });
});

describe('BatchMatMul on the SIMD product (gemm.ts)', () => {
  it('matches cpu for every transpose combination, row counts off the 4-row tile and depths off the 64-step block', () => {
    const shapes: Array<[number, number, number]> = [[7, 70, 8], [64, 3136, 128], [1, 5, 16], [13, 129, 24], [4, 1, 8], [9, 200, 40]];
    shapes.forEach(([m, k, n], s) => {
      for (const transposeA of [false, true]) for (const transposeB of [false, true]) {
        const av = randomArray(m * k, 100 + s);
        const bv = randomArray(k * n, 110 + s);
        const run = (backend: string) =>
          on(backend, () => [tfc.matMul(tfc.tensor(av, transposeA ? [k, m] : [m, k]), tfc.tensor(bv, transposeB ? [n, k] : [k, n]), transposeA, transposeB)])[0];
        expect(relErr(run('wasm'), run('cpu')), `[${m},${k}]x[${k},${n}] tA=${transposeA} tB=${transposeB}`).toBeLessThan(TOL);
      }
    });
    // Rank 3 with batch 1 keeps its shape.
    const [w] = on('wasm', () => [tfc.matMul(tfc.ones([1, 3, 5]), tfc.ones([1, 5, 8]))]);
    expect(Array.from(w)).toEqual(new Array(24).fill(5));
  });
});

describe('Add of a channel bias (bias_add.ts)', () => {
  it('equals cpu for [.., C] + [C], [1, 1, C] + [.., C] and C off the SIMD width', () => {
    const cases: Array<[number[], number[]]> = [[[4, 5, 6, 8], [8]], [[3, 16], [1, 16]], [[1, 1, 12], [2, 7, 12]], [[4, 5, 6], [6]], [[2, 3, 4], [1, 3, 4]]];
    cases.forEach(([sa, sb], k) => {
      const av = randomArray(size(sa), 120 + k);
      const bv = randomArray(size(sb), 130 + k);
      const run = (backend: string) => on(backend, () => [tfc.add(tfc.tensor(av, sa), tfc.tensor(bv, sb))])[0];
      expect(firstDifference(run('wasm'), run('cpu')), `[${sa}] + [${sb}]`).toBe(-1);
    });
  });
});

describe('Identity shares the buffer', () => {
  it('clone adds no wasm buffer, survives its source, and strings still clone', () => {
    tfc.setBackend('wasm');
    const x = tfc.tensor([1, 2, 3]);
    const before = footprint();
    const y = tfc.clone(x);
    expect(tfc.engine().backend.numDataIds()).toBe(before[1]);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(footprint()).toEqual([before[0] - 1, before[1] - 1]);
    const s = tfc.tensor(['a', 'bc']);
    const sc = tfc.clone(s);
    s.dispose();
    expect(sc.dataSync()).toEqual(['a', 'bc']);
    sc.dispose();
  });

  it('a cast to the same dtype shares too; other casts convert', () => {
    tfc.setBackend('wasm');
    const x = tfc.tensor([1.5, -2.5, 3]);
    const ids = tfc.engine().backend.numDataIds();
    const same = tfc.cast(x, 'float32');
    expect(tfc.engine().backend.numDataIds()).toBe(ids);
    const int = tfc.cast(x, 'int32');
    expect(int.dtype).toBe('int32');
    expect(Array.from(int.dataSync())).toEqual([1, -2, 3]);
    x.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.5, 3]);
    tfc.dispose([same, int]);
  });
});

describe('Conv2DBackpropFilter routes', () => {
  const cases: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; s: number; pad: 'same' | 'valid' }> = [
    { x: [2, 28, 28, 1], f: [3, 3, 1, 32], s: 1, pad: 'same' }, // demo conv1: dy^T . P
    { x: [1, 14, 14, 32], f: [3, 3, 32, 64], s: 1, pad: 'same' }, // demo conv2: P^T . dy
    { x: [2, 11, 9, 3], f: [2, 3, 3, 5], s: 2, pad: 'valid' },
  ];
  it.each(cases)('x=$x f=$f: patches (both product orders) and convolution routes equal cpu', ({ x, f, s, pad }) => {
    const info = tfc.backend_util.computeConv2DInfo(x, f, s, 1, pad);
    const xv = randomArray(size(x), 80);
    const dyv = randomArray(size(info.outShape), 81);
    const attrs = { strides: s, pad, dataFormat: 'NHWC', filterShape: f } as unknown as tfc.Conv2DBackpropFilterAttrs;
    const args = () => [tfc.tensor4d(xv, x), tfc.tensor(dyv, info.outShape) as tfc.Tensor4D] as const;
    const [cpu] = on('cpu', () => [tfc.engine().runKernel('Conv2DBackpropFilter', { x: args()[0], dy: args()[1] }, attrs as unknown as tfc.NamedAttrMap) as Tensor]);
    const be = tfc.findBackend('wasm');
    const [patches, conv] = on('wasm', () => [conv2dBackpropFilterByPatches(...args(), attrs, be), conv2dBackpropFilterByConv(...args(), attrs)]);
    expect(relErr(patches, cpu)).toBeLessThan(TOL);
    expect(relErr(conv, cpu)).toBeLessThan(TOL);
  });
});

describe('demo CNN end to end', () => {
  it('every weight gradient of a training batch is the same on wasm as on cpu, and no tensor leaks', () => {
    const batch = 2;
    const xs = Float32Array.from(randomArray(batch * 784, 90), (v) => (v + 1) / 2);
    const labels = Array.from({ length: batch }, (_, i) => (3 * i) % 10);
    let weights: Float32Array[] = [];
    const gradsOn = (backend: string): Float32Array[] => {
      tfc.setBackend(backend);
      const model = buildDemoCnn(7);
      if (weights.length === 0) weights = model.getWeights().map((t) => t.dataSync() as Float32Array);
      else model.setWeights(weights.map((v, i) => tfc.tensor(v, model.getWeights()[i].shape)));
      const before = tfc.memory().numTensors;
      const out = tfc.tidy(() => {
        const x = tfc.tensor4d(xs, [batch, 28, 28, 1]);
        const y = tfc.oneHot(tfc.tensor1d(labels, 'int32'), 10);
        const { grads } = tfc.variableGrads(() => tfc.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as Tensor) as tfc.Scalar);
        return model.trainableWeights.map((w) => grads[w.name].dataSync() as Float32Array);
      });
      expect(tfc.memory().numTensors).toBe(before);
      model.dispose();
      return out;
    };
    const wasm = gradsOn('wasm');
    const cpu = gradsOn('cpu');
    expect(wasm.length).toBe(8);
    wasm.forEach((g, i) => expect(relErr(g, cpu[i]), `weight ${i}`).toBeLessThan(TOL));
  });
});
