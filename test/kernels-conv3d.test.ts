/**
 * neurolens' wasm Conv3D / Conv3DBackpropFilterV2 / Conv3DBackpropInputV2 (frames folded into a
 * 2-D convolution, src/model/kernels/conv3d*.ts) and MaxPool3D / MaxPool3DGrad
 * (max_pool3d*.ts) against the cpu backend's kernels, directly and through tf.grad.
 * Error measure: max|a - b| / max|b| (norm-relative), bound 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tfc } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { TOL, footprint, randomArray, relErr, rng, size, wasmVsCpu } from './helpers/backend-compare.js';

type Tensor = tfc.Tensor;
type Shape5 = [number, number, number, number, number];
type Triple = [number, number, number];

interface ConvCase {
  x: Shape5;
  f: Triple;
  co: number;
  strides: number | Triple;
  pad: 'same' | 'valid';
  dilations?: number | Triple;
}
const label = (c: ConvCase) => `x=[${c.x}] f=${c.f} co=${c.co} s=${c.strides} ${c.pad}${c.dilations ? ` d=${c.dilations}` : ''}`;

/** Kernel depth 1 and 3 (and 2), strides 1 and 2, same and valid, odd sizes, Ci 1 and > 1, batch 1 and > 1. */
const CASES: ConvCase[] = [
  { x: [2, 5, 7, 6, 3], f: [3, 3, 3], co: 4, strides: 1, pad: 'same' },
  { x: [1, 5, 7, 6, 1], f: [3, 3, 3], co: 5, strides: 1, pad: 'valid' },
  { x: [2, 6, 9, 7, 2], f: [1, 3, 3], co: 4, strides: 1, pad: 'same' },
  { x: [1, 4, 8, 8, 3], f: [1, 3, 3], co: 8, strides: 1, pad: 'valid' },
  { x: [2, 7, 9, 8, 2], f: [3, 3, 3], co: 3, strides: 2, pad: 'same' },
  { x: [1, 7, 9, 9, 1], f: [3, 3, 3], co: 4, strides: 2, pad: 'valid' },
  { x: [2, 6, 7, 7, 3], f: [1, 3, 3], co: 4, strides: 2, pad: 'same' },
  { x: [2, 9, 7, 5, 2], f: [3, 1, 1], co: 3, strides: [2, 1, 1], pad: 'same' },
  { x: [1, 8, 9, 10, 3], f: [3, 3, 3], co: 4, strides: [1, 2, 2], pad: 'same' },
  { x: [2, 5, 6, 7, 4], f: [2, 2, 3], co: 5, strides: [2, 1, 2], pad: 'valid' },
  { x: [3, 4, 5, 5, 2], f: [2, 3, 3], co: 3, strides: 1, pad: 'same' },
  { x: [1, 3, 6, 6, 5], f: [1, 1, 1], co: 3, strides: 1, pad: 'valid' },
];

/** wasm's own kernels, captured before ours replace them (importing tf.ts registered them). */
const NATIVE = ['Conv3D', 'Conv3DBackpropFilterV2', 'Conv3DBackpropInputV2', 'MaxPool3D', 'MaxPool3DGrad'].map((k) => tfc.getKernel(k, 'wasm'));

beforeAll(async () => {
  registerWasmGradientKernels();
  expect(await tfc.setBackend('cpu')).toBe(true);
  expect(await tfc.setBackend('wasm')).toBe(true);
});

describe('Conv3D and its gradients on wasm = cpu kernels', () => {
  it("replaces wasm's own 3-D kernels (so the comparisons below test ours)", () => {
    for (const native of NATIVE) {
      expect(native).toBeDefined();
      expect(tfc.getKernel(native!.kernelName, 'wasm')!.kernelFunc).not.toBe(native!.kernelFunc);
    }
  });

  it(`match cpu on ${CASES.length} shape/stride/pad cases`, () => {
    CASES.forEach((c, k) => {
      const fShape: Shape5 = [...c.f, c.x[4], c.co];
      const info = tfc.backend_util.computeConv3DInfo(c.x, fShape, c.strides, 1, c.pad);
      const x = { values: randomArray(size(c.x), 10 + k), shape: c.x };
      const filter = { values: randomArray(size(fShape), 20 + k), shape: fShape };
      const dy = { values: randomArray(size(info.outShape), 30 + k), shape: info.outShape as number[] };
      const common = { strides: c.strides, pad: c.pad };
      expect(wasmVsCpu('Conv3D', { x, filter }, { ...common, dataFormat: 'NDHWC', dilations: 1 }), `forward ${label(c)}`).toBeLessThan(TOL);
      expect(wasmVsCpu('Conv3DBackpropFilterV2', { x, dy }, { ...common, filterShape: fShape }), `filter grad ${label(c)}`).toBeLessThan(TOL);
      expect(wasmVsCpu('Conv3DBackpropInputV2', { dy, filter }, { ...common, inputShape: c.x }), `input grad ${label(c)}`).toBeLessThan(TOL);
    });
  });

  it('matches cpu with dilations (temporal and spatial)', () => {
    const cases: ConvCase[] = [
      { x: [2, 7, 8, 8, 2], f: [3, 3, 3], co: 3, strides: 1, pad: 'same', dilations: 2 },
      { x: [1, 9, 7, 9, 3], f: [2, 3, 2], co: 4, strides: 1, pad: 'valid', dilations: [3, 1, 2] },
    ];
    cases.forEach((c, k) => {
      const fShape: Shape5 = [...c.f, c.x[4], c.co];
      const x = { values: randomArray(size(c.x), 40 + k), shape: c.x };
      const filter = { values: randomArray(size(fShape), 50 + k), shape: fShape };
      expect(wasmVsCpu('Conv3D', { x, filter }, { strides: 1, pad: c.pad, dataFormat: 'NDHWC', dilations: c.dilations }), label(c)).toBeLessThan(TOL);
    });
  });

  it('tf.grad through tf.conv3d on wasm equals cpu (both operands, strided and not)', () => {
    const grads = (backend: string, c: ConvCase, seed: number) => {
      tfc.setBackend(backend);
      const fShape: Shape5 = [...c.f, c.x[4], c.co];
      const x = tfc.tensor(randomArray(size(c.x), seed), c.x) as tfc.Tensor5D;
      const w = tfc.tensor(randomArray(size(fShape), seed + 1), fShape) as tfc.Tensor5D;
      const info = tfc.backend_util.computeConv3DInfo(c.x, fShape, c.strides, 1, c.pad);
      const r = tfc.tensor(randomArray(size(info.outShape), seed + 2), info.outShape);
      const g = tfc.grads((a: Tensor, b: Tensor) => tfc.sum(tfc.mul(tfc.conv3d(a as tfc.Tensor5D, b as tfc.Tensor5D, c.strides, c.pad), r)));
      const [dx, dw] = g([x, w]);
      const out = [dx.dataSync().slice(), dw.dataSync().slice()] as Float32Array[];
      tfc.dispose([x, w, r, dx, dw]);
      return out;
    };
    [CASES[0], CASES[2], CASES[4], CASES[8]].forEach((c, k) => {
      const [wx, ww] = grads('wasm', c, 60 + 3 * k);
      const [cx, cw] = grads('cpu', c, 60 + 3 * k);
      expect(relErr(wx, cx), `dx ${label(c)}`).toBeLessThan(TOL);
      expect(relErr(ww, cw), `dW ${label(c)}`).toBeLessThan(TOL);
    });
    tfc.setBackend('wasm');
  });

  it('leaves no tensors or buffers behind', () => {
    tfc.setBackend('wasm');
    const c = CASES[4];
    const x = tfc.randomNormal(c.x) as tfc.Tensor5D;
    const w = tfc.randomNormal([...c.f, c.x[4], c.co]) as tfc.Tensor5D;
    const before = footprint();
    const g = tfc.grads((a: Tensor, b: Tensor) => tfc.sum(tfc.conv3d(a as tfc.Tensor5D, b as tfc.Tensor5D, c.strides, c.pad)));
    tfc.dispose(g([x, w]));
    expect(footprint()).toEqual(before);
    tfc.dispose([x, w]);
  });
});

interface PoolCase {
  x: Shape5;
  f: Triple;
  strides: Triple;
  pad: 'same' | 'valid';
}
// Square spatial windows only: cpu's MaxPool3D position index is wrong for non-square ones (see max_pool3d_grad.ts).
const POOLS: PoolCase[] = [
  { x: [2, 4, 8, 8, 16], f: [1, 2, 2], strides: [1, 2, 2], pad: 'valid' },
  { x: [2, 4, 8, 8, 3], f: [2, 2, 2], strides: [2, 2, 2], pad: 'valid' },
  { x: [1, 5, 7, 9, 2], f: [3, 3, 3], strides: [2, 2, 2], pad: 'same' },
  { x: [2, 5, 7, 6, 3], f: [2, 3, 3], strides: [1, 1, 1], pad: 'same' },
  { x: [1, 7, 9, 9, 1], f: [3, 2, 2], strides: [2, 2, 2], pad: 'valid' },
];

describe('MaxPool3D and MaxPool3DGrad on wasm = cpu kernels', () => {
  // Values from a few levels, so windows tie; an all-zero and an all-negative input are the
  // windows wasm's own kernels get wrong (their scan starts at +1.18e-38).
  const inputs = (n: number, seed: number): Array<[string, Float32Array]> => {
    const r = rng(seed);
    return [
      ['random', randomArray(n, seed)],
      ['ties', Float32Array.from({ length: n }, () => Math.floor(r() * 3) - 1)],
      ['zeros', new Float32Array(n)],
      ['negative', Float32Array.from({ length: n }, () => -1 - r())],
    ];
  };
  it(`match cpu on ${POOLS.length} pools x 4 kinds of input`, () => {
    POOLS.forEach((p, k) => {
      const info = tfc.backend_util.computePool3DInfo(p.x, p.f, p.strides, 1, p.pad);
      const attrs = { filterSize: p.f, strides: p.strides, pad: p.pad, dataFormat: 'NDHWC' };
      for (const [kind, values] of inputs(size(p.x), 70 + k)) {
        const x = { values, shape: p.x };
        const dy = { values: randomArray(size(info.outShape), 80 + k), shape: info.outShape as number[] };
        const what = `x=[${p.x}] f=${p.f} s=${p.strides} ${p.pad} ${kind}`;
        expect(wasmVsCpu('MaxPool3D', { x }, attrs), `forward ${what}`).toBeLessThan(TOL);
        expect(wasmVsCpu('MaxPool3DGrad', { dy, input: x }, attrs), `grad ${what}`).toBeLessThan(TOL);
      }
    });
  });
});
