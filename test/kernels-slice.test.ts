/**
 * The rank > 4 Slice / SplitV / Unpack on wasm (src/model/kernels/slice.ts) equal the cpu
 * backend's exactly, including slices that cannot be merged to rank 4 (they go to wasm's own
 * kernel), and leave no buffers behind.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tfc } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { mergedSlice } from '../src/model/kernels/slice.js';

type T = ReturnType<typeof tfc.tensor>;

function onBoth(f: () => T | T[]): [Float32Array[], Float32Array[], number[][]] {
  const run = (b: string) => {
    tfc.setBackend(b);
    const out = tfc.tidy(f);
    const list = Array.isArray(out) ? out : [out];
    const r = { values: list.map((t) => t.dataSync() as Float32Array), shapes: list.map((t) => t.shape as number[]) };
    tfc.dispose(list);
    return r;
  };
  const w = run('wasm');
  const c = run('cpu');
  expect(w.shapes).toEqual(c.shapes);
  return [w.values, c.values, w.shapes];
}

function values(shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
}

beforeAll(async () => {
  registerWasmGradientKernels();
  expect(await tfc.setBackend('cpu')).toBe(true);
  expect(await tfc.setBackend('wasm')).toBe(true);
});

describe('rank > 4 slicing on wasm', () => {
  it('merges axes whose inner axis is taken whole', () => {
    // Frames 2..4 of a clip: rows of a [1, T * H * W * C] view.
    expect(mergedSlice([1, 8, 32, 32, 5], [0, 2, 0, 0, 0], [1, 3, 32, 32, 5])).toEqual({ shape: [1, 40960], begin: [0, 10240], size: [1, 15360] });
    // Rows 1..5 of every frame: the batch joins time, width and channels join the rows.
    expect(mergedSlice([1, 4, 6, 6, 2], [0, 0, 1, 0, 0], [1, 4, 5, 6, 2])).toEqual({ shape: [4, 72], begin: [0, 12], size: [4, 60] });
    expect(mergedSlice([2, 3, 4, 5, 6], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1])).toBeNull();
  });

  it('Slice, SplitV and Unpack equal cpu on ranks 5 and 6', () => {
    const before = tfc.memory().numTensors;
    const cases: [number[], number[], number[]][] = [
      [[1, 8, 6, 6, 5], [0, 2, 0, 0, 0], [1, 3, -1, -1, -1]],
      [[1, 4, 6, 6, 2], [0, 0, 1, 0, 0], [1, 4, 5, 6, 2]],
      [[1, 4, 6, 6, 2], [0, 0, 0, 0, 1], [-1, -1, -1, -1, 1]],
      [[2, 3, 4, 5, 6], [1, 1, 1, 1, 1], [1, 2, 2, 3, 4]],
      [[2, 2, 3, 2, 2, 3], [0, 1, 0, 1, 0, 1], [2, 1, 3, 1, 2, 2]],
    ];
    for (const [shape, begin, size] of cases) {
      const [w, c] = onBoth(() => tfc.slice(tfc.tensor(values(shape), shape), begin, size));
      expect(w).toEqual(c);
    }
    const shape = [1, 6, 4, 4, 3];
    for (const axis of [1, 2, 4]) {
      const [w, c] = onBoth(() => tfc.split(tfc.tensor(values(shape), shape), axis === 1 ? [1, 2, 3] : axis === 2 ? 2 : [1, 2], axis));
      expect(w).toEqual(c);
      const [wu, cu] = onBoth(() => tfc.unstack(tfc.tensor(values(shape), shape), axis));
      expect(wu).toEqual(cu);
    }
    // The gradient of a concat along time (a SplitV) on a clip.
    const [wg, cg] = onBoth(() => tfc.grad((x: T) => tfc.sum(tfc.mul(tfc.concat([tfc.slice(x, [0, 3, 0, 0, 0], [1, 3, -1, -1, -1]), tfc.slice(x, [0, 0, 0, 0, 0], [1, 3, -1, -1, -1])], 1), tfc.reshape(tfc.range(0, 288), [1, 6, 4, 4, 3]))))(tfc.tensor(values(shape), shape)));
    expect(wg).toEqual(cg);
    tfc.setBackend('wasm');
    expect(tfc.memory().numTensors).toBe(before);
  });
});
