import { describe, expect, it } from 'vitest';
import { DDSketch } from '@datadog/sketches-js';
import { DuckDBInstance } from '@duckdb/node-api';
import { ClassStats, MaxSketch, maxSketchMapping, type ClassStatsColumns, type MaxSketchColumns } from '../src/stats/index.js';
import type { LayerBatchStats } from '../src/stats/types.js';
import { NeurolensError } from '../src/errors.js';
import {
  batchesAt,
  mulberry32,
  permutations,
  randomCuts,
  randomRawLayer,
  reduceRaw,
  shuffled,
  type RawLayer,
} from './fixtures/random-layer-batch.js';

interface Part {
  b: LayerBatchStats;
  labels: Int32Array;
}

/** Shards of samples [0, N) cut at `cuts`, with their labels. */
function shardsAt(raw: RawLayer, labels: Int32Array, cuts: number[]): Part[] {
  const edges = [0, ...cuts, raw.sampleIds.length];
  return batchesAt(raw, cuts).map((b, i) => ({ b, labels: labels.slice(edges[i], edges[i + 1]) }));
}

/** K classes, about `unknown` of the samples unlabelled (-1); class k is k+1 times as likely as class 0. */
function randomLabels(seed: number, n: number, K: number, unknown = 0.1): Int32Array {
  const rnd = mulberry32(seed);
  const total = (K * (K + 1)) / 2;
  return Int32Array.from({ length: n }, () => {
    if (rnd() < unknown) return -1;
    let u = rnd() * total;
    for (let k = 0; k < K; k++) if ((u -= k + 1) < 0) return k;
    return K - 1;
  });
}

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const d = Math.abs(a[i] - b[i]);
    const scale = Math.max(Math.abs(a[i]), Math.abs(b[i]));
    if (!(d <= tol * scale || d <= 1e-300)) {
      throw new Error(`${what}[${i}]: ${a[i]} vs ${b[i]} (relative ${d / scale} > ${tol})`);
    }
  }
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** ClassStats columns: keys, counts and max bit for bit, float sums within `tol` relative. */
function expectSameClass(a: ClassStatsColumns, b: ClassStatsColumns, tol = 1e-12): void {
  for (const k of ['channel', 'label', 'count', 'max', 'active_count'] as const) {
    if (!bytes(a[k]).equals(bytes(b[k]))) throw new Error(`${k}: ${Array.from(a[k])} != ${Array.from(b[k])}`);
  }
  relClose(a.mean, b.mean, tol, 'mean');
  relClose(a.m2, b.m2, tol, 'm2');
  relClose(a.sum_max, b.sum_max, tol, 'sum_max');
}

function expectIdenticalCols(a: object, b: object): void {
  const ea = Object.entries(a) as [string, ArrayBufferView][];
  const eb = new Map(Object.entries(b) as [string, ArrayBufferView][]);
  expect(ea.map(([k]) => k)).toEqual([...eb.keys()]);
  for (const [k, v] of ea) if (!bytes(v).equals(bytes(eb.get(k)!))) throw new Error(`column ${k} differs`);
}

function classOf(parts: Part[], channels: number, eps = 0, classes?: number): ClassStats {
  const s = new ClassStats({ channels, eps, layer: 'conv1', ...(classes !== undefined ? { classes } : {}) });
  for (const p of parts) s.add(p.b, p.labels);
  return s;
}

/** The definitions, straight from the per-sample arrays in float64 (two-pass variance). */
function direct(parts: Part[], C: number, eps: number) {
  const by = new Map<string, { mean: number[]; max: number[] }>();
  for (const { b, labels } of parts) {
    for (let i = 0; i < b.batch; i++) {
      if (labels[i] < 0) continue;
      for (let c = 0; c < C; c++) {
        const key = `${c}/${labels[i]}`;
        if (!by.has(key)) by.set(key, { mean: [], max: [] });
        by.get(key)!.mean.push(b.mean[i * C + c]);
        by.get(key)!.max.push(b.max[i * C + c]);
      }
    }
  }
  const keys = [...by.keys()].map((k) => k.split('/').map(Number)).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out = { channel: [] as number[], label: [] as number[], count: [] as number[], mean: [] as number[],
    var_samp: [] as number[], mean_max: [] as number[], max: [] as number[], active_frac: [] as number[], dead: [] as boolean[] };
  for (const [c, k] of keys) {
    const { mean, max } = by.get(`${c}/${k}`)!;
    const n = mean.length;
    const mu = mean.reduce((s, v) => s + v, 0) / n;
    out.channel.push(c);
    out.label.push(k);
    out.count.push(n);
    out.mean.push(mu);
    out.var_samp.push(n > 1 ? mean.reduce((s, v) => s + (v - mu) ** 2, 0) / (n - 1) : NaN);
    out.mean_max.push(max.reduce((s, v) => s + v, 0) / n);
    out.max.push(Math.max(...max));
    out.active_frac.push(max.filter((v) => v > eps).length / n);
    out.dead.push(Math.max(...max) <= eps);
  }
  return out;
}

describe('ClassStats', () => {
  const C = 5;
  const N = 400;
  const raw = randomRawLayer({ seed: 17, samples: N, channels: C, extent: [1, 3, 3], deadChannels: [3], drift: 3 });
  const labels = randomLabels(5, N, 6, 0.15);
  const all: Part[] = [{ b: reduceRaw(raw), labels }];
  const onePass = classOf(all, C, 0.5).toColumns();

  it('equals the definitions: class means, sample variances, mean max, max, active fraction, dead', () => {
    const r = classOf(shardsAt(raw, labels, [37, 38, 200]), C, 0.5).result();
    const d = direct(all, C, 0.5);
    expect(Array.from(r.channel)).toEqual(d.channel);
    expect(Array.from(r.label)).toEqual(d.label);
    expect(Array.from(r.count)).toEqual(d.count);
    expect(Array.from(r.max)).toEqual(d.max);
    expect(Array.from(r.active_frac)).toEqual(d.active_frac);
    expect(r.dead).toEqual(d.dead);
    relClose(r.mean, d.mean, 1e-12, 'mean');
    relClose(r.var_samp, d.var_samp, 1e-12, 'var_samp');
    relClose(r.mean_max, d.mean_max, 1e-12, 'mean_max');
    expect(r.classes).toBe(6);
    expect(r.dead.filter((x, i) => x && r.channel[i] === 3).length).toBe(6); // the dead channel, every class
    const n = Array.from(new ClassStats({ channels: C }).add(all[0].b, labels).classCounts());
    expect(n.reduce((s, v) => s + v, 0)).toBe(Array.from(labels).filter((l) => l >= 0).length);
  });

  it('selectivity (Morcos et al.) and Cohen\'s d equal a direct computation', () => {
    const s = classOf(all, C);
    const d = direct(all, C, 0);
    const sel = s.selectivity();
    for (let c = 0; c < C; c++) {
      const mus = d.mean.filter((_, i) => d.channel[i] === c);
      const best = Math.max(...mus);
      const rest = (mus.reduce((a, v) => a + v, 0) - best) / (mus.length - 1);
      if (c === 3) expect(Number.isNaN(sel[c])).toBe(true); // all zero: 0 / 0
      else relClose([sel[c]], [(best - rest) / (best + rest)], 1e-12, `selectivity ${c}`);
    }
    const dd = s.cohensD(1, 4);
    for (let c = 0; c < C; c++) {
      if (c === 3) continue;
      const at = (k: number) => d.channel.findIndex((ch, i) => ch === c && d.label[i] === k);
      const [a, b] = [at(1), at(4)];
      const pooled = ((d.count[a] - 1) * d.var_samp[a] + (d.count[b] - 1) * d.var_samp[b]) / (d.count[a] + d.count[b] - 2);
      relClose([dd[c]], [(d.mean[a] - d.mean[b]) / Math.sqrt(pooled)], 1e-10, `cohensD ${c}`);
    }
    expect(Number.isNaN(s.cohensD(1, 99)[0])).toBe(true);
  });

  it('5 shards merged in all 120 orders == one pass', () => {
    const shards = shardsAt(raw, labels, [10, 11, 150, 320]);
    for (const order of permutations(shards.length)) {
      const parts = shards.map((p) => classOf([p], C, 0.5));
      const acc = new ClassStats({ channels: C, eps: 0.5, layer: 'conv1' });
      for (const i of order) acc.merge(parts[i]);
      expectSameClass(acc.toColumns(), onePass);
    }
  });

  it('random partitions (empty shards, shards missing classes) merged as random trees == one pass', () => {
    const rnd = mulberry32(77);
    for (let trial = 0; trial < 40; trial++) {
      const cuts = randomCuts(rnd, N, 1 + Math.floor(rnd() * 9));
      let parts = shuffled(rnd, shardsAt(raw, labels, cuts)).map((p) => classOf([p], C, 0.5));
      while (parts.length > 1) {
        const i = Math.floor(rnd() * (parts.length - 1));
        parts = [...parts.slice(0, i), parts[i].merge(parts[i + 1]), ...parts.slice(i + 2)];
      }
      expectSameClass(parts[0].toColumns(), onePass);
    }
  });

  it('classes given up front or discovered give the same answer; labels growing one at a time', () => {
    expectIdenticalCols(classOf(all, C, 0.5, 10).toColumns(), onePass);
    const ramp = Int32Array.from({ length: N }, (_, i) => Math.floor(i / 4)); // 100 classes, new ones every batch
    const a = classOf(shardsAt(raw, ramp, [50, 100, 300]), C);
    expect(a.classes).toBe(100);
    const d = direct([{ b: all[0].b, labels: ramp }], C, 0);
    relClose(a.result().var_samp, d.var_samp, 1e-12, 'var_samp');
    expect(() => new ClassStats({ channels: C, maxClasses: 50 }).add(all[0].b, ramp)).toThrow(/label 99 >= maxClasses 50/);
  });

  it('a partial merged with itself equals feeding its data twice', () => {
    const parts = shardsAt(raw, labels, [100, 200, 300]);
    const a = classOf(parts, C, 0.5);
    expectSameClass(a.merge(a).toColumns(), classOf([...parts, ...parts], C, 0.5).toColumns());
  });

  it('toColumns/fromColumns (shuffled rows) and JSON, then continue adding: identical to uninterrupted', () => {
    const parts = shardsAt(raw, labels, [64, 128, 192, 256]);
    const full = classOf(parts, C, 0.5).toColumns();
    const cols = classOf(parts.slice(0, 2), C, 0.5).toColumns();
    const order = shuffled(mulberry32(3), Array.from({ length: cols.channel.length }, (_, i) => i));
    const mixed = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, order.map((i) => (v as Float64Array)[i])]));
    const b = ClassStats.fromColumns(mixed as unknown as ClassStatsColumns, { channels: C, eps: 0.5, layer: 'conv1' });
    expectIdenticalCols(b.toColumns(), cols);
    for (const p of parts.slice(2)) b.add(p.b, p.labels);
    expectIdenticalCols(b.toColumns(), full);
    for (const at of [0, 3]) {
      const j = ClassStats.fromJSON(JSON.parse(JSON.stringify(classOf(parts.slice(0, at), C, 0.5))));
      expect([j.channels, j.eps, j.layer]).toEqual([C, 0.5, 'conv1']);
      for (const p of parts.slice(at)) j.add(p.b, p.labels);
      expectIdenticalCols(j.toColumns(), full);
    }
  });

  it('rejects corrupt rows, mismatched labels and partials', () => {
    const cols = classOf(all, C).toColumns();
    const opts = { channels: C };
    expect(() => ClassStats.fromColumns({ ...cols, label: cols.label.map((l, i) => (i === 1 ? cols.label[0] : l)) }, opts)).toThrow(/appears twice/);
    expect(() => ClassStats.fromColumns({ ...cols, count: cols.count.map((n, i) => (i === 0 ? n + 1 : n)) }, opts)).toThrow(/differs|channel rows/);
    const drop = <T extends Int32Array | Float64Array | Float32Array>(a: T) => a.subarray(1) as T;
    const short = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, drop(v)])) as unknown as ClassStatsColumns;
    expect(() => ClassStats.fromColumns(short, opts)).toThrow(/has 4 channel rows, expected 5/);
    expect(() => ClassStats.fromColumns(cols, { channels: 3 })).toThrow(/channel 3 not in 0\.\.2/);
    expect(() => new ClassStats(opts).add(all[0].b, labels.subarray(1))).toThrow(NeurolensError);
    expect(() => new ClassStats(opts).merge(new ClassStats({ channels: C, eps: 1 }))).toThrow(/different eps/);
    expect(() => ClassStats.fromJSON({ kind: 'TopK' })).toThrow(/not a ClassStats state/);
  });
});

/**
 * Per-sample maxima with a heavy right tail over several decades (exponential times 10^U(-3, 2)),
 * about 25 % exact zeros (ReLU), 15 % negatives, and a few -0.
 */
function skewedMaxima(seed: number, B: number, C: number): LayerBatchStats {
  const rnd = mulberry32(seed);
  const max = new Float32Array(B * C);
  for (let j = 0; j < max.length; j++) {
    const u = rnd();
    const e = -Math.log(1 - rnd()) * 10 ** (rnd() * 5 - 3);
    max[j] = u < 0.25 ? 0 : u < 0.4 ? -e : u < 0.41 ? -0 : e;
  }
  const z = () => new Float32Array(B * C);
  return { layer: 'conv1', batch: B, channels: C, extent: [1, 1, 1], sampleIds: Int32Array.from({ length: B }, (_, i) => i),
    max, min: z(), mean: z(), sqMean: z(), zeroFrac: z(), argmax: new Int32Array(B * C) };
}

function sketchOf(batches: LayerBatchStats[], C: number, alpha = 0.01): MaxSketch {
  const s = new MaxSketch({ channels: C, relativeAccuracy: alpha, layer: 'conv1' });
  for (const b of batches) s.add(b);
  return s;
}

function valuesOf(batches: LayerBatchStats[], c: number): number[] {
  return batches.flatMap((b) => Array.from({ length: b.batch }, (_, i) => b.max[i * b.channels + c]));
}

const QS = [0, 0.01, 0.1, 0.5, 0.9, 0.99, 1];

describe('MaxSketch', () => {
  const C = 6;
  const batches = Array.from({ length: 12 }, (_, i) => skewedMaxima(100 + i, 50 + 7 * i, C));

  it('answers what the library\'s own DDSketch answers, for the same values (alpha 0.01, 0.05, 0.002)', () => {
    for (const alpha of [0.01, 0.05, 0.002]) {
      const s = sketchOf(batches, C, alpha);
      for (let c = 0; c < C; c++) {
        const lib = new DDSketch({ relativeAccuracy: alpha });
        for (const v of valuesOf(batches, c)) lib.accept(v);
        expect(s.count(c)).toBe(lib.count);
        expect(s.min(c)).toBe(lib.min + 0);
        expect(s.max(c)).toBe(lib.max);
        for (let i = 0; i <= 1000; i++) {
          const q = i / 1000;
          if (s.quantile(c, q) !== lib.getValueAtQuantile(q)) throw new Error(`alpha ${alpha} channel ${c} q ${q}`);
        }
      }
    }
  });

  it('quantiles are within alpha of the exact quantile x[floor(q (n - 1))] (0-based, ascending)', () => {
    for (const alpha of [0.01, 0.05]) {
      const s = sketchOf(batches, C, alpha);
      for (let c = 0; c < C; c++) {
        const xs = valuesOf(batches, c).sort((a, b) => a - b);
        expect(xs.filter((v) => v < 0).length).toBeGreaterThan(50);
        expect(xs.filter((v) => v === 0).length).toBeGreaterThan(50);
        for (const q of QS) {
          const exact = xs[Math.floor(q * (xs.length - 1))];
          const est = s.quantile(c, q);
          if (!(Math.abs(est - exact) <= alpha * Math.abs(exact) * (1 + 1e-12))) {
            throw new Error(`alpha ${alpha} channel ${c} q ${q}: ${est} vs exact ${exact}`);
          }
        }
        expect([s.min(c), s.max(c)]).toEqual([xs[0] + 0, xs[xs.length - 1]]);
      }
    }
  });

  it('6 shards merged in all 720 orders and random trees == one pass, bit for bit', () => {
    const onePass = sketchOf(batches, C).toColumns();
    const edges = [0, 2, 3, 7, 8, 12];
    const shards = edges.slice(0, -1).map((a, i) => batches.slice(a, edges[i + 1]));
    shards.push([]); // an empty shard
    const parts = shards.map((bs) => sketchOf(bs, C));
    for (const order of permutations(parts.length)) {
      const acc = new MaxSketch({ channels: C, layer: 'conv1' });
      for (const i of order) acc.merge(parts[i]);
      expectIdenticalCols(acc.toColumns(), onePass);
    }
    const rnd = mulberry32(9);
    for (let trial = 0; trial < 30; trial++) {
      let ps = shuffled(rnd, batches).map((b) => sketchOf([b], C));
      while (ps.length > 1) {
        const i = Math.floor(rnd() * (ps.length - 1));
        ps = [...ps.slice(0, i), ps[i].merge(ps[i + 1]), ...ps.slice(i + 2)];
      }
      expectIdenticalCols(ps[0].toColumns(), onePass);
    }
    const a = sketchOf(batches, C);
    expectIdenticalCols(a.merge(a).toColumns(), sketchOf([...batches, ...batches], C).toColumns());
  });

  it('the documented SQL rule (order by sign, sign * key; first cum > floor(q (n - 1)); value formula) gives quantile()', () => {
    const s = sketchOf(batches, C);
    const cols = s.toColumns();
    const m = maxSketchMapping(0.01);
    expect(m.gamma).toBeCloseTo(1.01 / 0.99, 14);
    expect(m.offset).toBe(0);
    expect(m.multiplier).toBeCloseTo(Math.LN2 / Math.log(m.gamma), 10);
    for (let c = 0; c < C; c++) {
      const rows = Array.from(cols.channel.keys()).filter((r) => cols.channel[r] === c)
        .sort((x, y) => cols.sign[x] - cols.sign[y] || cols.sign[x] * cols.key[x] - cols.sign[y] * cols.key[y]);
      const n = rows.reduce((t, r) => t + cols.count[r], 0);
      for (let i = 0; i <= 200; i++) {
        const q = i / 200;
        const target = Math.floor(q * (n - 1));
        let cum = 0;
        const r = rows.find((row) => (cum += cols.count[row]) > target)!;
        const v = cols.sign[r] === 0 ? 0 : cols.sign[r] * Math.pow(2, cols.key[r] / m.multiplier) * m.valueFactor;
        expect(v).toBe(s.quantile(c, q));
      }
    }
  });

  it('toColumns/fromColumns (shuffled rows) and JSON, then continue adding: identical', () => {
    const full = sketchOf(batches, C).toColumns();
    const cols = sketchOf(batches.slice(0, 5), C).toColumns();
    const order = shuffled(mulberry32(4), Array.from({ length: cols.channel.length }, (_, i) => i));
    const mixed = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, order.map((i) => (v as Float64Array)[i])]));
    const b = MaxSketch.fromColumns(mixed as unknown as MaxSketchColumns, 0.01, 'conv1');
    expectIdenticalCols(b.toColumns(), cols);
    for (const x of batches.slice(5)) b.add(x);
    expectIdenticalCols(b.toColumns(), full);
    for (const at of [0, 7]) {
      const j = MaxSketch.fromJSON(JSON.parse(JSON.stringify(sketchOf(batches.slice(0, at), C))));
      expect([j.channels, j.relativeAccuracy, j.layer]).toEqual([C, 0.01, 'conv1']);
      for (const x of batches.slice(at)) j.add(x);
      expectIdenticalCols(j.toColumns(), full);
    }
  });

  it('skips NaN and infinities; -0 is a zero; an empty channel answers NaN; rejects corrupt rows', () => {
    const b = skewedMaxima(1, 4, 2);
    b.max.set([NaN, 5, -0, 2, Infinity, 3, 1, -Infinity]); // [B = 4, C = 2]
    const s = new MaxSketch({ channels: 2 }).add(b);
    expect([s.count(0), s.count(1)]).toEqual([2, 3]);
    expect(Object.is(s.min(0), 0) && s.max(0) === 1).toBe(true);
    expect(s.result([0.5]).zero_count[0]).toBe(1);
    const e = new MaxSketch({ channels: 2 });
    expect(Number.isNaN(e.quantile(0, 0.5)) && Number.isNaN(e.min(1))).toBe(true);
    expect(MaxSketch.fromJSON(JSON.parse(JSON.stringify(e))).toColumns()).toEqual(e.toColumns());
    const cols = sketchOf(batches, C).toColumns();
    const dupAt = cols.sign.findIndex((x) => x === 1);
    const dup = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, [...Array.from(v as Float64Array), (v as Float64Array)[dupAt]]]));
    expect(() => MaxSketch.fromColumns(dup as unknown as MaxSketchColumns)).toThrow(/appears twice/);
    expect(() => MaxSketch.fromColumns({ ...cols, sign: cols.sign.map((x, i) => (i === dupAt ? 2 : x)) })).toThrow(/sign 2/);
    expect(() => MaxSketch.fromColumns({ ...cols, max: cols.max.map((x, i) => (i === dupAt ? x + 1 : x)) })).toThrow(/min\/max differ/);
    expect(() => new MaxSketch({ channels: 2 }).merge(new MaxSketch({ channels: 2, relativeAccuracy: 0.02 }))).toThrow(/relativeAccuracy/);
  });
});

/** Rows of several partials as one VALUES table (column-wise typed arrays -> SQL literals). */
function valuesSql(parts: object[], names: string[]): string {
  const rows: string[] = [];
  for (const p of parts) {
    const cols = p as Record<string, ArrayLike<number>>;
    for (let r = 0; r < cols[names[0]].length; r++) {
      rows.push(`(${names.map((n) => (Number.isFinite(cols[n][r]) ? `${cols[n][r]}::DOUBLE` : `'${cols[n][r]}'::DOUBLE`)).join(', ')})`);
    }
  }
  return `SELECT * FROM (VALUES ${rows.join(', ')}) t(${names.join(', ')})`;
}

describe('the SQL in the headers, run in DuckDB over shard partials', () => {
  it('MaxSketch: merge by (channel, sign, key) and the quantile rule give quantile() of the merged sketch', async () => {
    const C = 3;
    const batches = Array.from({ length: 6 }, (_, i) => skewedMaxima(300 + i, 40, C));
    const whole = sketchOf(batches, C);
    const parts = [sketchOf(batches.slice(0, 2), C), sketchOf(batches.slice(2, 3), C), sketchOf(batches.slice(3), C)].map((s) => s.toColumns());
    const m = maxSketchMapping(0.01);
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      await con.run(`CREATE TABLE parts AS ${valuesSql(parts, ['channel', 'sign', 'key', 'count', 'min', 'max'])}`);
      for (const q of [0, 0.01, 0.1, 0.5, 0.9, 0.99, 1]) {
        const r = await con.runAndReadAll(`
          WITH merged AS (SELECT channel, sign, key, sum(count) AS count FROM parts GROUP BY ALL),
          ext AS (SELECT channel, min(min) AS min, max(max) AS max FROM parts GROUP BY channel),
          cum AS (SELECT *, sum(count) OVER (PARTITION BY channel ORDER BY sign, sign * key) AS cum,
                            sum(count) OVER (PARTITION BY channel) AS n FROM merged JOIN ext USING (channel))
          SELECT channel, arg_min(CASE WHEN sign = 0 THEN 0
                                  ELSE sign * pow(2, key / ${m.multiplier}) * ${m.valueFactor} END, sign * 1e9 + sign * key) AS v,
                 any_value(n) AS n, any_value(min) AS lo, any_value(max) AS hi
          FROM cum WHERE cum > floor(${q} * (n - 1)) GROUP BY channel ORDER BY channel`);
        const rows = r.getRowObjectsJS() as { channel: number; v: number; n: number; lo: number; hi: number }[];
        expect(rows.length).toBe(C);
        for (const { channel, v, n, lo, hi } of rows) {
          relClose([v], [whole.quantile(channel, q)], 1e-15, `q ${q} channel ${channel}`);
          expect([n, lo, hi]).toEqual([whole.count(channel), whole.min(channel), whole.max(channel)]);
        }
      }
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });

  it('ClassStats: the k-partial Chan merge in SQL equals merge()', async () => {
    const C = 3;
    const N = 150;
    const raw = randomRawLayer({ seed: 41, samples: N, channels: C, drift: 2 });
    const labels = randomLabels(2, N, 4);
    const shards = shardsAt(raw, labels, [30, 31, 100]);
    const parts = shards.map((p) => classOf([p], C).toColumns());
    const want = classOf(shards, C).toColumns();
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      await con.run(`CREATE TABLE parts AS ${valuesSql(parts, ['channel', 'label', 'count', 'mean', 'm2', 'sum_max', 'max', 'active_count'])}`);
      const r = await con.runAndReadAll(`
        WITH g AS (SELECT channel, label, sum(count) AS n, sum(count * mean) / sum(count) AS mu
                   FROM parts GROUP BY ALL)
        SELECT channel, label, g.n AS count, g.mu AS mean,
               sum(p.m2 + p.count * (p.mean - g.mu) ^ 2) AS m2, sum(sum_max) AS sum_max,
               max(max) AS max, sum(active_count) AS active_count
        FROM parts p JOIN g USING (channel, label) GROUP BY channel, label, g.n, g.mu ORDER BY channel, label`);
      const rows = r.getRowObjectsJS() as Record<string, number>[];
      const got = Object.fromEntries(Object.keys(want).map((k) => [k, rows.map((x) => Number(x[k]))]));
      for (const k of ['channel', 'label', 'count', 'max', 'active_count'] as const) expect(got[k]).toEqual(Array.from(want[k]));
      for (const k of ['mean', 'm2', 'sum_max'] as const) relClose(got[k], want[k], 1e-12, k);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });
});
