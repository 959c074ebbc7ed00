import { describe, expect, it } from 'vitest';
import { NeuronStats, type NeuronStatsResult } from '../src/stats/index.js';
import type { LayerBatchStats } from '../src/stats/types.js';
import { positionsOf } from '../src/stats/types.js';
import { NeurolensError } from '../src/errors.js';
import {
  batchesAt,
  batchesOf,
  mulberry32,
  permutations,
  randomCuts,
  randomRawLayer,
  reduceRaw,
  shuffled,
  type RawLayer,
} from './fixtures/random-layer-batch.js';

function statsOf(batches: LayerBatchStats[], channels: number, eps = 0): NeuronStats {
  const s = new NeuronStats({ channels, eps, layer: 'conv1' });
  for (const b of batches) s.add(b);
  return s;
}

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    const scale = Math.max(Math.abs(a[i]), Math.abs(b[i]));
    if (!(d <= tol * scale || d <= 1e-300)) {
      throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]} (relative ${d / scale} > ${tol})`);
    }
  }
}

/** Counts, min, max, flags exactly; mean/std within `tol` relative. */
function expectSame(a: NeuronStatsResult, b: NeuronStatsResult, tol = 1e-9): void {
  for (const k of ['channel', 'count', 'positions', 'min', 'max', 'zero_frac', 'active_frac'] as const) {
    expect(Array.from(a[k]), k).toEqual(Array.from(b[k]));
  }
  expect(a.dead).toEqual(b.dead);
  relClose(a.mean, b.mean, tol, 'mean');
  relClose(a.std, b.std, tol, 'std');
}

/** Statistics straight from the raw positions, in float64, as the definitions say. */
function bruteForce(raw: RawLayer, eps = 0) {
  const C = raw.channels;
  const P = positionsOf(raw.extent);
  const N = raw.sampleIds.length;
  const out = { mean: [] as number[], std: [] as number[], min: [] as number[], max: [] as number[],
    zero: [] as number[], active: [] as number[], dead: [] as boolean[] };
  for (let c = 0; c < C; c++) {
    const xs: number[] = [];
    let active = 0;
    for (let n = 0; n < N; n++) {
      let mx = -Infinity;
      for (let p = 0; p < P; p++) {
        const v = raw.values[(n * C + c) * P + p];
        xs.push(v);
        mx = Math.max(mx, v);
      }
      if (mx > eps) active++;
    }
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    const varp = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length;
    const max = Math.max(...xs);
    out.mean.push(mean);
    out.std.push(Math.sqrt(varp));
    out.min.push(Math.min(...xs));
    out.max.push(max);
    out.zero.push(xs.filter((v) => v === 0).length / xs.length);
    out.active.push(active / N);
    out.dead.push(max <= eps);
  }
  return out;
}

/**
 * Hand-made layer: 3 samples, 3 channels, extent [1, 1, 2] (P = 2). Positions per channel:
 *   c0: [0, 2] [1, 3] [0, 0]   -> mean 1, var 8/6, min 0, max 3, zeros 3/6, active 2/3
 *   c1: all zero               -> mean 0, std 0, zero_frac 1, active 0, dead
 *   c2: [-1,-3] [-2,-2] [-1,-1] -> mean -5/3, var 5/9, max -1, zeros 0, active 0, dead
 */
const HAND: LayerBatchStats = {
  layer: 'conv1',
  batch: 3,
  channels: 3,
  extent: [1, 1, 2],
  sampleIds: Int32Array.of(10, 11, 12),
  // rows are samples, columns channels
  max: Float32Array.of(2, 0, -1, 3, 0, -2, 0, 0, -1),
  min: Float32Array.of(0, 0, -3, 1, 0, -2, 0, 0, -1),
  mean: Float32Array.of(1, 0, -2, 2, 0, -2, 0, 0, -1),
  sqMean: Float32Array.of(2, 0, 5, 5, 0, 4, 0, 0, 1),
  zeroFrac: Float32Array.of(0.5, 1, 0, 0, 1, 0, 1, 1, 0),
  argmax: Int32Array.of(1, 0, 0, 1, 0, 0, 0, 0, 0),
};

describe('NeuronStats known answers', () => {
  it('computes mean, std, min, max, zero_frac, active_frac, dead by hand', () => {
    const r = new NeuronStats({ channels: 3 }).add(HAND).result();
    expect(Array.from(r.count)).toEqual([3, 3, 3]);
    expect(Array.from(r.positions)).toEqual([6, 6, 6]);
    relClose(r.mean, [1, 0, -5 / 3], 1e-15, 'mean');
    relClose(r.std, [Math.sqrt(8 / 6), 0, Math.sqrt(5) / 3], 1e-15, 'std');
    expect(Array.from(r.min)).toEqual([0, 0, -3]);
    expect(Array.from(r.max)).toEqual([3, 0, -1]);
    expect(Array.from(r.zero_frac)).toEqual([0.5, 1, 0]);
    expect(Array.from(r.active_frac)).toEqual([2 / 3, 0, 0]);
    expect(r.dead).toEqual([false, true, true]);
  });

  it('uses eps for active and dead', () => {
    const at = (eps: number) => new NeuronStats({ channels: 3, eps }).add(HAND).result();
    expect(Array.from(at(2.5).active_frac)).toEqual([1 / 3, 0, 0]);
    expect(at(2.5).dead).toEqual([false, true, true]);
    expect(at(3).dead).toEqual([true, true, true]);
    expect(at(-1.5).dead).toEqual([false, false, false]);
    expect(Array.from(at(-1.5).active_frac)).toEqual([1, 1, 2 / 3]);
  });

  it('same answers when the hand batch is fed one sample at a time', () => {
    const raw: RawLayer = {
      layer: 'conv1', channels: 3, extent: [1, 1, 2], sampleIds: Int32Array.of(10, 11, 12),
      values: Float32Array.of(0, 2, 0, 0, -1, -3, 1, 3, 0, 0, -2, -2, 0, 0, 0, 0, -1, -1),
    };
    expect(reduceRaw(raw)).toEqual(HAND);
    expectSame(statsOf(batchesOf(raw, 1), 3).result(), new NeuronStats({ channels: 3, layer: 'conv1' }).add(HAND).result(), 1e-15);
  });

  it('-0 and +0 maxima in either order give +0 (bit-identical merges)', () => {
    const one = (v: number): LayerBatchStats => ({ ...HAND, batch: 1, channels: 1, sampleIds: Int32Array.of(1),
      max: Float32Array.of(v), min: Float32Array.of(v), mean: Float32Array.of(v), sqMean: Float32Array.of(0),
      zeroFrac: Float32Array.of(1), argmax: Int32Array.of(0) });
    for (const [x, y] of [[-0, 0], [0, -0], [-0, -0]]) {
      const r = new NeuronStats({ channels: 1 }).add(one(x)).add(one(y)).result();
      expect(Object.is(r.max[0], 0) && Object.is(r.min[0], 0)).toBe(true);
      expect(r.zero_frac[0]).toBe(1);
    }
  });

  it('empty statistics report NaN and no dead channel', () => {
    const r = new NeuronStats({ channels: 2 }).result();
    expect(Array.from(r.count)).toEqual([0, 0]);
    expect(Number.isNaN(r.mean[0]) && Number.isNaN(r.std[1]) && Number.isNaN(r.max[0])).toBe(true);
    expect(r.dead).toEqual([false, false]);
  });

  it('matches a brute-force float64 pass over raw positions, flags the dead channel', () => {
    const raw = randomRawLayer({ seed: 7, samples: 200, channels: 6, extent: [2, 3, 4], deadChannels: [4] });
    const r = statsOf(batchesOf(raw, 17), 6, 0.25).result();
    const bf = bruteForce(raw, 0.25);
    // Per-sample means and mean squares arrive as float32: about 1e-7 relative.
    relClose(r.mean, bf.mean, 1e-6, 'mean');
    relClose(r.std, bf.std, 1e-5, 'std');
    expect(Array.from(r.min)).toEqual(bf.min);
    expect(Array.from(r.max)).toEqual(bf.max);
    expect(Array.from(r.zero_frac)).toEqual(bf.zero);
    expect(Array.from(r.active_frac)).toEqual(bf.active);
    expect(r.dead).toEqual(bf.dead);
    expect(r.dead[4]).toBe(true);
    expect(r.dead.filter((d) => d).length).toBeGreaterThanOrEqual(1);
  });
});

describe('NeuronStats merge == one pass', () => {
  const C = 5;
  const raw = randomRawLayer({ seed: 11, samples: 300, channels: C, extent: [1, 4, 4], quantum: 0.5, deadChannels: [2], drift: 4 });
  // One batch of everything: a two-pass mean/M2 with no pairwise combination at all.
  const onePass = statsOf([reduceRaw(raw)], C).result();

  it('batch by batch equals one batch', () => {
    expectSame(statsOf(batchesOf(raw, 32), C).result(), onePass);
    expectSame(statsOf(batchesOf(raw, 1), C).result(), onePass);
  });

  it('4 shards merged in all 24 orders', () => {
    const shards = batchesAt(raw, [40, 41, 190]);
    for (const order of permutations(shards.length)) {
      const parts = shards.map((b) => statsOf([b], C));
      const acc = new NeuronStats({ channels: C, layer: 'conv1' });
      for (const i of order) acc.merge(parts[i]);
      expectSame(acc.result(), onePass);
    }
  });

  it('random partitions (with empty shards) merged as random trees', () => {
    const rnd = mulberry32(99);
    for (let trial = 0; trial < 40; trial++) {
      const cuts = randomCuts(rnd, 300, 1 + Math.floor(rnd() * 8));
      let parts = shuffled(rnd, batchesAt(raw, cuts).map((b) => statsOf([b], C)));
      while (parts.length > 1) {
        const i = Math.floor(rnd() * (parts.length - 1));
        const merged = parts[i].merge(parts[i + 1]);
        parts = [...parts.slice(0, i), merged, ...parts.slice(i + 2)];
      }
      expectSame(parts[0].result(), onePass);
    }
  });

  it('merging a partial with itself equals adding its data twice (duplicates)', () => {
    const batches = batchesOf(raw, 50);
    const twice = statsOf([...batches, ...batches], C).result();
    const a = statsOf(batches, C);
    expectSame(a.merge(a).result(), twice);
    expect(twice.count[0]).toBe(600);
    relClose(twice.mean, onePass.mean, 1e-12, 'mean');
    relClose(twice.std, onePass.std, 1e-12, 'std');
  });
});

describe('NeuronStats save and restore', () => {
  const C = 4;
  const raw = randomRawLayer({ seed: 3, samples: 120, channels: C, quantum: 0.25, relu: false });
  const batches = batchesOf(raw, 16);
  const full = statsOf(batches, C, 0.5).result();

  it('toJSON/fromJSON through a JSON string, then continue adding: identical', () => {
    const a = statsOf(batches.slice(0, 3), C, 0.5);
    const b = NeuronStats.fromJSON(JSON.parse(JSON.stringify(a)));
    expect(b.eps).toBe(0.5);
    expect(b.layer).toBe('conv1');
    for (const x of batches.slice(3)) b.add(x);
    expectSame(b.result(), full, 0);
  });

  it('JSON keeps Infinity of an empty partial', () => {
    const e = NeuronStats.fromJSON(JSON.parse(JSON.stringify(new NeuronStats({ channels: C, eps: 0.5 }))));
    for (const x of batches) e.add(x);
    expectSame(e.result(), full, 0);
  });

  it('toColumns/fromColumns with shuffled rows, then continue adding: identical', () => {
    const a = statsOf(batches.slice(0, 5), C, 0.5);
    const cols = a.toColumns();
    const order = shuffled(mulberry32(5), [0, 1, 2, 3]);
    const pick = <T extends ArrayLike<number>>(col: T) => order.map((i) => col[i]);
    const shuffledCols = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, pick(v)])) as unknown as typeof cols;
    const b = NeuronStats.fromColumns(shuffledCols, 0.5, 'conv1');
    expect(b.toColumns()).toEqual(cols);
    for (const x of batches.slice(5)) b.add(x);
    expectSame(b.result(), full, 0);
  });

  it('rejects corrupt saved state', () => {
    const cols = statsOf(batches, C).toColumns();
    expect(() => NeuronStats.fromColumns({ ...cols, channel: Int32Array.of(0, 1, 1, 3) })).toThrow(/0\.\.3 once each/);
    expect(() => NeuronStats.fromColumns({ ...cols, count: Float64Array.of(120, 120, 119, 120) })).toThrow(/differ/);
    expect(() => NeuronStats.fromColumns({ ...cols, m2: new Float64Array(3) })).toThrow(/column m2 has 3 rows/);
    const j = JSON.parse(JSON.stringify(statsOf(batches, C)));
    expect(() => NeuronStats.fromJSON({ ...j, mean: j.mean.slice(1) })).toThrow(/mean has 3 entries/);
    expect(() => NeuronStats.fromJSON({ ...j, kind: 'TopK' })).toThrow(NeurolensError);
  });
});

describe('NeuronStats shape errors', () => {
  const raw8 = randomRawLayer({ seed: 1, samples: 4, channels: 8 });
  const err = (f: () => unknown): NeurolensError => {
    try {
      f();
    } catch (e) {
      return e as NeurolensError;
    }
    throw new Error('did not throw');
  };

  it('add with a different channel count throws BAD_MODEL naming both counts', () => {
    const e = err(() => new NeuronStats({ channels: 16, layer: 'conv1' }).add(reduceRaw(raw8)));
    expect(e).toBeInstanceOf(NeurolensError);
    expect(e.code).toBe('BAD_MODEL');
    expect(e.message).toMatch(/layer conv1.*channel mismatch: batch has 8 channels, statistic has 16/);
  });

  it('add of another layer, or of arrays of the wrong length, throws', () => {
    expect(() => new NeuronStats({ channels: 8, layer: 'conv2' }).add(reduceRaw(raw8))).toThrow(/batch is for layer conv1, expected conv2/);
    const bad = { ...reduceRaw(raw8), mean: new Float32Array(31) };
    expect(err(() => new NeuronStats({ channels: 8 }).add(bad)).message).toMatch(/mean has length 31, expected 32/);
  });

  it('merge of different channels, eps or layers throws BAD_INPUT', () => {
    const e = err(() => new NeuronStats({ channels: 8 }).merge(new NeuronStats({ channels: 4 })));
    expect(e.code).toBe('BAD_INPUT');
    expect(e.message).toMatch(/different channels \(8 vs 4\)/);
    expect(() => new NeuronStats({ channels: 8 }).merge(new NeuronStats({ channels: 8, eps: 0.1 }))).toThrow(/different eps/);
    expect(() => new NeuronStats({ channels: 8, layer: 'a' }).merge(new NeuronStats({ channels: 8, layer: 'b' }))).toThrow(/layer a and layer b/);
  });
});
