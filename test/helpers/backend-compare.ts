/**
 * Comparing a kernel on the wasm backend with the cpu backend's own (test/kernels*.test.ts):
 * seeded inputs, one kernel run per backend on fresh tensors, and the error measure
 * max|a - b| / max|b| (norm-relative), whose bound is TOL.
 */
import { expect } from 'vitest';
import { tfc } from '../../src/model/tf.js';
import { mulberry32 } from '../../src/train/prng.js';

type Tensor = tfc.Tensor;

export const TOL = 1e-4;

/** A seeded generator of uniform [0, 1) numbers (mulberry32, as the training data order uses). */
export { mulberry32 as rng } from '../../src/train/prng.js';

/** n seeded values uniform in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** Number of elements of a shape. */
export const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** max|a - b| / max|b| (the absolute difference when b is all zero); the lengths must agree. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

export interface Arg {
  values: Float32Array;
  shape: number[];
}

/** Runs one kernel on `backend` with fresh input tensors; returns its output values and shape. */
export function runOn(backend: string, kernel: string, args: Record<string, Arg>, attrs: object): { values: Float32Array; shape: number[] } {
  tfc.setBackend(backend);
  const inputs: Record<string, Tensor> = {};
  for (const [k, a] of Object.entries(args)) inputs[k] = tfc.tensor(a.values, a.shape);
  const out = tfc.engine().runKernel(kernel, inputs, attrs as tfc.NamedAttrMap) as Tensor;
  const res = { values: out.dataSync() as Float32Array, shape: out.shape };
  tfc.dispose([out, ...Object.values(inputs)]);
  return res;
}

/** Same kernel on wasm and cpu; returns the norm-relative error (shapes must agree). */
export function wasmVsCpu(kernel: string, args: Record<string, Arg>, attrs: object): number {
  const w = runOn('wasm', kernel, args, attrs);
  const c = runOn('cpu', kernel, args, attrs);
  expect(w.shape).toEqual(c.shape);
  return relErr(w.values, c.values);
}

/** Counts tensors and backend buffers, so a test can prove a kernel leaves nothing behind. */
export function footprint(): [number, number] {
  return [tfc.memory().numTensors, tfc.engine().backend.numDataIds()];
}
