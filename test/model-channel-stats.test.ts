/**
 * The fused NeurolensChannelStats kernel (src/model/channel-stats-kernel.ts) against a plain-JS
 * float64 reference written from the definitions, and against the tensor-op reduction it
 * replaces (reduce.ts with `fused: false`), on cpu and wasm. Inputs have exact zeros (and -0),
 * ties for the max, negative values, channel counts that are and are not multiples of 4 (SIMD
 * blocks and the JS tail) and position counts below, at and above the SIMD tile.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, tfc } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { CHANNEL_STATS, channelStats, hasChannelStatsKernel, registerChannelStatsKernel } from '../src/model/channel-stats-kernel.js';
import { RUN } from '../src/model/channel-stats-simd.js';
import { packStats, unpackStats, type PackedLayout, type ReducePlan, type TapResult } from '../src/model/reduce.js';

interface Ref {
  /** Mean and mean of squares summed in plain float64 (the definition the kernel approximates). */
  mean64: number[];
  sqMean64: number[];
  max: number[];
  min: number[];
  mean: number[];
  sqMean: number[];
  zeroFrac: number[];
  argmax: number[];
}

/** Sum of f(v) as the kernel takes it: float32 runs of RUN positions, added up in float64. */
function runSum(v: number[], f: (a: number) => number): number {
  let total = 0;
  for (let p0 = 0; p0 < v.length; p0 += RUN) {
    let run = 0;
    for (const a of v.slice(p0, p0 + RUN)) run = Math.fround(run + Math.fround(f(a)));
    total += run;
  }
  return total;
}

/** Definitions, per (b, c) over positions p of x[b, p, c]; NaN rule of numpy's max/argmax. */
function reference(x: Float32Array, shape: number[]): Ref {
  const B = shape[0];
  const C = shape[shape.length - 1];
  const P = x.length / (B * C);
  const r: Ref = { mean64: [], sqMean64: [], max: [], min: [], mean: [], sqMean: [], zeroFrac: [], argmax: [] };
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const v = Array.from({ length: P }, (_, p) => x[(b * P + p) * C + c]);
      const firstNaN = v.findIndex(Number.isNaN);
      const max = firstNaN >= 0 ? NaN : Math.max(...v);
      r.max.push(max);
      r.min.push(firstNaN >= 0 ? NaN : Math.min(...v));
      r.argmax.push(firstNaN >= 0 ? firstNaN : v.findIndex((a) => a === max));
      r.mean.push(runSum(v, (a) => a) / P);
      r.sqMean.push(runSum(v, (a) => a * a) / P);
      r.mean64.push(v.reduce((s, a) => s + a, 0) / P);
      r.sqMean64.push(v.reduce((s, a) => s + a * a, 0) / P);
      r.zeroFrac.push(v.filter((a) => a === 0).length / P);
    }
  }
  return r;
}

/** Seeded values from a small set: many exact zeros (+0 and -0), ties, negatives. */
function randomInput(shape: number[], seed: number): Float32Array {
  const values = [-2, -1, -0.5, -0, 0, 0, 0, 0.25, 0.5, 1, 1.5, 3, 3];
  let s = seed;
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = values[s % values.length] * (1 + ((s >>> 20) % 3) / 1024);
  }
  // Channel 1 of sample 0 constant (argmax 0 by ties), channel 0 of the last sample all < 0.
  const C = shape[shape.length - 1];
  const P = x.length / (shape[0] * C);
  for (let p = 0; p < P; p++) {
    if (C > 1) x[p * C + 1] = 0.75;
    x[((shape[0] - 1) * P + p) * C] = -1 - (p % 3);
  }
  return x;
}

/** Elementwise equality that treats -0 as 0 and NaN as equal to NaN. */
function same(actual: ArrayLike<number>, expected: number[], what: string, relTol = 0): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    const ok = Number.isNaN(e) ? Number.isNaN(a) : a + 0 === e + 0 || (relTol > 0 && Math.abs(a - e) <= relTol * Math.max(1, Math.abs(e)));
    if (!ok) throw new Error(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

/** packStats inside a tidy, downloaded and unpacked as Tapper does; every tensor is disposed. */
function packAndUnpack(pack: () => ReturnType<typeof packStats>, ids: Int32Array): TapResult {
  let layout: PackedLayout | null = null;
  const [floats, ints] = tf.tidy(() => {
    const p = pack();
    layout = p.layout;
    return [p.floats, p.ints as tfc.Tensor];
  });
  try {
    return unpackStats(floats.dataSync() as Float32Array, ints.dataSync() as Int32Array, layout as unknown as PackedLayout, ids);
  } finally {
    tf.dispose([floats, ints]);
  }
}

function kernelResult(x: Float32Array, shape: number[]) {
  return tf.tidy(() => {
    const { stats, argmax } = channelStats(tf.tensor(x, shape, 'float32'));
    expect(stats.shape).toEqual([5, shape[0], shape[shape.length - 1]]);
    expect([stats.dtype, argmax.dtype]).toEqual(['float32', 'int32']);
    return { stats: stats.dataSync() as Float32Array, argmax: argmax.dataSync() as Int32Array };
  });
}

function expectMatchesReference(x: Float32Array, shape: number[]): void {
  const ref = reference(x, shape);
  const { stats, argmax } = kernelResult(x, shape);
  const n = ref.max.length;
  const row = (k: number) => stats.subarray(k * n, (k + 1) * n);
  const f32 = (v: number[]) => v.map(Math.fround);
  // Sums run in position order as in the reference (float32 runs of RUN, float64 total), so even
  // the means agree exactly; and within float32 rounding of a float64 sum.
  same(row(2), ref.mean64, 'mean (float64 sum)', 4e-6);
  same(row(3), ref.sqMean64, 'sqMean (float64 sum)', 4e-6);
  same(row(0), ref.max, 'max');
  same(row(1), ref.min, 'min');
  same(row(2), f32(ref.mean), 'mean');
  same(row(3), f32(ref.sqMean), 'sqMean');
  same(row(4), f32(ref.zeroFrac), 'zeroFrac');
  same(argmax, ref.argmax, 'argmax');
}

/** Rank 2, 4 and 5; C below 4, a multiple of 4 and not; P = 1, below, at and above the tile and the float32 run. */
const SHAPES = [[6, 7], [3, 1, 3, 8], [2, 2, 2, 4], [3, 5, 7, 9], [2, 13, 11, 12], [1, 16, 16, 3], [2, 3, 4, 5, 6], [2, 2, 3, 3, 17], [2, 8, 16, 6], [1, 10, 20, 6]];

describe.each(['cpu', 'wasm'] as const)('NeurolensChannelStats on %s', (backend) => {
  beforeAll(async () => {
    await setupBackend(backend);
  });

  it('is registered for the backend (and not for tensorflow)', () => {
    registerChannelStatsKernel(); // idempotent
    expect(tf.getBackend()).toBe(backend);
    expect(hasChannelStatsKernel()).toBe(true);
    expect(hasChannelStatsKernel('tensorflow')).toBe(false);
    expect(tfc.getKernel(CHANNEL_STATS, backend)).toBeDefined();
  });

  it.each(SHAPES.map((s) => [s.join('x'), s]))('equals the plain-JS reference on %s', (_, shape) => {
    const x = randomInput(shape as number[], 7 + (shape as number[]).length);
    // The input is not vacuous: exact zeros, negatives and repeated maxima are all present.
    expect(x.some((v) => v === 0) && x.some((v) => v < 0)).toBe(true);
    expectMatchesReference(x, shape as number[]);
  });

  it('full-mantissa values: sums follow the float32 runs exactly, whatever P mod RUN', () => {
    for (const shape of [[1, 200, 8], [2, 3 * RUN, 6], [1, RUN + 1, 5]]) {
      let s = 99;
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return (s / 2 ** 32) * 7 - 1;
      });
      // Not vacuous: the float32 runs and a plain float64 sum disagree somewhere.
      const ref = reference(x, shape);
      expect(ref.mean.some((m, i) => Math.fround(m) !== Math.fround(ref.mean64[i]))).toBe(true);
      expectMatchesReference(x, shape);
    }
  });

  it('ties: argmax is the FIRST position of the max', () => {
    // [1, 2, 3, 5] positions x 5 channels; channel c holds its max (9) at positions listed below.
    const shape = [1, 2, 3, 5];
    const at = [[0], [5], [1, 4], [2, 3, 5], [0, 1, 2, 3, 4, 5]];
    const x = new Float32Array(30);
    at.forEach((ps, c) => ps.forEach((p) => (x[p * 5 + c] = 9)));
    expect(Array.from(kernelResult(x, shape).argmax)).toEqual([0, 5, 1, 2, 0]);
  });

  it('NaN and infinities: NaN channels get max = min = NaN and argmax = first NaN; -0 is zero', () => {
    const [P, C] = [10, 6]; // channels 0-3 in the SIMD block, 4-5 in the JS tail
    const x = new Float32Array(P * C).fill(1);
    for (const c of [1, 5]) {
      x[3 * C + c] = NaN;
      x[7 * C + c] = NaN;
      x[8 * C + c] = 5;
    }
    x[2 * C + 2] = Infinity;
    x[6 * C + 2] = -Infinity;
    x[4 * C + 3] = -0;
    const { stats, argmax } = kernelResult(x, [1, P, C]);
    const n = C;
    same(stats.subarray(0, n), [1, NaN, Infinity, 1, 1, NaN], 'max');
    same(stats.subarray(n, 2 * n), [1, NaN, -Infinity, -0, 1, NaN], 'min');
    same(stats.subarray(2 * n, 3 * n), [1, NaN, NaN, 0.9, 1, NaN], 'mean', 1e-7);
    same(stats.subarray(3 * n, 4 * n), [1, NaN, Infinity, 0.9, 1, NaN], 'sqMean', 1e-7);
    same(stats.subarray(4 * n, 5 * n), [0, 0, 0, 0.1, 0, 0], 'zeroFrac', 1e-7);
    expect(Array.from(argmax)).toEqual([0, 3, 2, 0, 0, 3]);
    expectMatchesReference(x, [1, P, C]);
  });

  it('packStats: fused kernel == tensor-op path for every layer (stats, codes, predictions)', () => {
    const shapes = [[4, 10], [4, 6, 5, 12], [4, 3, 2, 2, 7], [4, 9, 9, 3]];
    const inputs = shapes.map((s, i) => randomInput(s, 100 + i));
    const plan: ReducePlan[] = shapes.map((_, i) => ({ name: `l${i}`, stats: i !== 3, code: i >= 1 }));
    const ids = Int32Array.from([5, 6, 7, 8]);
    const base = tf.memory().numTensors;
    const [fused, ops] = [true, false].map((f) =>
      packAndUnpack(() => {
        const acts = inputs.map((x, i) => tf.tensor(x, shapes[i], 'float32'));
        const out = tf.softmax(tf.tensor2d(inputs[0].slice(0, 40), [4, 10]));
        return packStats(acts, plan, out, { fused: f });
      }, ids),
    );
    expect(tf.memory().numTensors).toBe(base);
    expect(fused.layers.map((l) => l.layer)).toEqual(['l0', 'l1', 'l2']);
    for (let l = 0; l < fused.layers.length; l++) {
      const [a, b] = [fused.layers[l], ops.layers[l]];
      expect([a.batch, a.channels, a.extent]).toEqual([b.batch, b.channels, b.extent]);
      for (const k of ['max', 'min', 'zeroFrac'] as const) same(a[k], Array.from(b[k]), `${a.layer}.${k}`);
      // The tensor-op path sums in float32, the kernel in float32 runs and float64.
      for (const k of ['mean', 'sqMean'] as const) same(a[k], Array.from(b[k]), `${a.layer}.${k}`, 1e-5);
      same(a.argmax, Array.from(b.argmax), `${a.layer}.argmax`);
      if (l > 0) expect(a.zeroFrac.some((z) => z > 0 && z < 1)).toBe(true); // l0 is [B, C]: P = 1
    }
    expect(fused.codes.map((c) => c.layer)).toEqual(['l1', 'l2', 'l3']);
    fused.codes.forEach((c, i) => same(c.data, Array.from(ops.codes[i].data), `code ${c.layer}`, 1e-5));
    expect(Array.from(fused.predictions?.pred ?? [])).toEqual(Array.from(ops.predictions?.pred ?? []));
  });

  it('int32 activations are cast, and no tensor is left behind', () => {
    const base = tf.memory().numTensors;
    const x = Int32Array.from({ length: 2 * 3 * 5 }, (_, i) => (i % 4) - 1);
    const r = packAndUnpack(() => packStats([tf.tensor(x, [2, 3, 1, 5], 'int32')], [{ name: 'i', stats: true, code: false }], null), Int32Array.from([0, 1]));
    expect(tf.memory().numTensors).toBe(base);
    const ref = reference(Float32Array.from(x), [2, 3, 1, 5]);
    same(r.layers[0].max, ref.max, 'max');
    same(r.layers[0].argmax, ref.argmax, 'argmax');
    same(r.layers[0].zeroFrac, ref.zeroFrac.map(Math.fround), 'zeroFrac');
  });
});
