import { describe, expect, it } from 'vitest';
import { TopK, type TopKChannel } from '../src/stats/index.js';
import type { LayerBatchStats } from '../src/stats/types.js';
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
} from './fixtures/random-layer-batch.js';

function topkOf(batches: LayerBatchStats[], channels: number, k: number): TopK {
  const t = new TopK({ channels, k, layer: 'conv1' });
  for (const b of batches) t.add(b);
  return t;
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Bit-for-bit equality of two results. */
function expectIdentical(a: TopKChannel[], b: TopKChannel[]): void {
  expect(a.length).toBe(b.length);
  for (let c = 0; c < a.length; c++) {
    for (const f of ['value', 'sampleId', 'argmax'] as const) {
      if (!bytes(a[c][f]).equals(bytes(b[c][f]))) {
        throw new Error(`channel ${c} ${f}: ${Array.from(a[c][f])} != ${Array.from(b[c][f])}`);
      }
    }
  }
}

/** The definition: sort every (sample, channel) entry by the rank order and keep k. */
function bruteForce(batches: LayerBatchStats[], channels: number, k: number): TopKChannel[] {
  const out: TopKChannel[] = [];
  for (let c = 0; c < channels; c++) {
    const all: [number, number, number][] = [];
    for (const b of batches) {
      for (let i = 0; i < b.batch; i++) {
        const v = b.max[i * channels + c];
        if (!Number.isNaN(v)) all.push([v + 0, b.sampleIds[i], b.argmax[i * channels + c]]);
      }
    }
    all.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
    const top = all.slice(0, k);
    out.push({
      value: Float32Array.from(top, (e) => e[0]),
      sampleId: Int32Array.from(top, (e) => e[1]),
      argmax: Int32Array.from(top, (e) => e[2]),
    });
  }
  return out;
}

/** One-channel batch from hand-written (sampleId, max, argmax) triples. */
function handBatch(entries: [number, number, number][]): LayerBatchStats {
  const B = entries.length;
  return {
    layer: 'conv1', batch: B, channels: 1, extent: [1, 2, 2],
    sampleIds: Int32Array.from(entries, (e) => e[0]),
    max: Float32Array.from(entries, (e) => e[1]),
    min: new Float32Array(B), mean: new Float32Array(B), sqMean: new Float32Array(B),
    zeroFrac: new Float32Array(B),
    argmax: Int32Array.from(entries, (e) => e[2]),
  };
}

describe('TopK known answers', () => {
  it('keeps the k highest with ties broken by sample id, then argmax', () => {
    const t = new TopK({ channels: 1, k: 3 });
    t.add(handBatch([[10, 3, 0], [4, 5, 1], [7, 5, 2], [2, 1, 3]]));
    t.add(handBatch([[3, 5, 3], [1, 0.5, 0], [4, 5, 0]]));
    const [r] = t.result();
    // 5s: ids 3, 4 (argmax 0 before 1), 4, 7 -> k=3 keeps (3), (4, arg 0), (4, arg 1).
    expect(Array.from(r.value)).toEqual([5, 5, 5]);
    expect(Array.from(r.sampleId)).toEqual([3, 4, 4]);
    expect(Array.from(r.argmax)).toEqual([3, 0, 1]);
  });

  it('fewer samples than k; NaN skipped; -0 stored as +0; infinities kept', () => {
    const t = new TopK({ channels: 1, k: 5 });
    t.add(handBatch([[1, NaN, 0], [2, -0, 1], [3, -Infinity, 2], [4, Infinity, 3]]));
    const [r] = t.result();
    expect(Array.from(r.value)).toEqual([Infinity, 0, -Infinity]);
    expect(Object.is(r.value[1], 0)).toBe(true);
    expect(Array.from(r.sampleId)).toEqual([4, 2, 3]);
    const back = TopK.fromJSON(JSON.parse(JSON.stringify(t)));
    expectIdentical(back.result(), t.result());
  });

  it('-0 and +0 in either order give the same bits', () => {
    const a = new TopK({ channels: 1, k: 1 }).add(handBatch([[5, -0, 0]])).add(handBatch([[5, 0, 0]]));
    const b = new TopK({ channels: 1, k: 1 }).add(handBatch([[5, 0, 0]])).add(handBatch([[5, -0, 0]]));
    expectIdentical(a.result(), b.result());
  });

  it('equals the sort-everything definition on data full of ties', () => {
    // quantum 1 on small ranges: many samples share the same max in each channel.
    const raw = randomRawLayer({ seed: 21, samples: 400, channels: 7, quantum: 1, deadChannels: [3] });
    const batches = batchesOf(raw, 23);
    const t = topkOf(batches, 7, 32);
    const want = bruteForce(batches, 7, 32);
    expectIdentical(t.result(), want);
    const dead = t.result()[3];
    expect(Array.from(dead.value).every((v) => v === 0)).toBe(true);
    expect(Array.from(dead.sampleId)).toEqual(Array.from({ length: 32 }, (_, i) => i)); // ties -> lowest ids
    // The data really has ties straddling rank k (else the tie-break would be untested).
    const straddle = want.filter((ch, c) => {
      const all = batches.flatMap((b) => Array.from({ length: b.batch }, (_, i) => b.max[i * 7 + c]));
      return all.filter((v) => v === ch.value[31]).length > ch.value.filter((v) => v === ch.value[31]).length;
    });
    expect(straddle.length).toBeGreaterThanOrEqual(3);
  });
});

describe('TopK merge == one pass, bit for bit', () => {
  const C = 6;
  const K = 16;
  // Shuffled ids so that id order and arrival order differ.
  const ids = Int32Array.from(shuffled(mulberry32(4), Array.from({ length: 500 }, (_, i) => 1000 + i)));
  const raw = randomRawLayer({ seed: 8, samples: 500, channels: C, quantum: 0.5, sampleIds: ids, deadChannels: [5] });
  const onePass = topkOf(batchesOf(raw, 64), C, K).result();

  it('matches the definition', () => {
    expectIdentical(onePass, bruteForce([reduceRaw(raw)], C, K));
  });

  it('5 shards merged in all 120 orders', () => {
    const shards = batchesAt(raw, [100, 101, 260, 400]);
    for (const order of permutations(shards.length)) {
      const parts = shards.map((b) => topkOf([b], C, K));
      const acc = new TopK({ channels: C, k: K });
      for (const i of order) acc.merge(parts[i]);
      expectIdentical(acc.result(), onePass);
    }
  });

  it('random partitions merged as random trees; batches fed in shuffled order', () => {
    const rnd = mulberry32(123);
    for (let trial = 0; trial < 50; trial++) {
      const cuts = randomCuts(rnd, 500, 1 + Math.floor(rnd() * 10));
      let parts = shuffled(rnd, batchesAt(raw, cuts)).map((b) => topkOf([b], C, K));
      while (parts.length > 1) {
        const i = Math.floor(rnd() * (parts.length - 1));
        parts = [...parts.slice(0, i), parts[i].merge(parts[i + 1]), ...parts.slice(i + 2)];
      }
      expectIdentical(parts[0].result(), onePass);
    }
  });

  it('duplicates: a partial merged with itself equals feeding its data twice', () => {
    const batches = batchesOf(raw, 100);
    const twice = topkOf([...batches, ...batches], C, K).result();
    const a = topkOf(batches, C, K);
    expectIdentical(a.merge(a).result(), twice);
    expectIdentical(twice, bruteForce([...batches, ...batches], C, K));
    expect(twice[0].sampleId[0]).toBe(twice[0].sampleId[1]);
  });
});

describe('TopK save and restore', () => {
  const C = 4;
  const raw = randomRawLayer({ seed: 30, samples: 200, channels: C, quantum: 0.25, relu: false });
  const batches = batchesOf(raw, 25);
  const full = topkOf(batches, C, 8).result();

  it('toJSON/fromJSON through a JSON string, then continue adding: identical', () => {
    for (const at of [0, 1, 4]) {
      const b = TopK.fromJSON(JSON.parse(JSON.stringify(topkOf(batches.slice(0, at), C, 8))));
      expect([b.k, b.channels, b.layer]).toEqual([8, C, 'conv1']);
      for (const x of batches.slice(at)) b.add(x);
      expectIdentical(b.result(), full);
    }
  });

  it('toColumns/fromColumns with shuffled rows, then continue adding: identical', () => {
    const cols = topkOf(batches.slice(0, 3), C, 8).toColumns();
    expect(cols.channel.length).toBe(C * 8);
    const order = shuffled(mulberry32(2), Array.from({ length: cols.channel.length }, (_, i) => i));
    const mixed = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, order.map((i) => (v as Int32Array)[i])]));
    const b = TopK.fromColumns(mixed as unknown as typeof cols, C, 8, 'conv1');
    expect(b.toColumns()).toEqual(cols);
    for (const x of batches.slice(3)) b.add(x);
    expectIdentical(b.result(), full);
  });

  it('rejects corrupt columns', () => {
    const cols = topkOf(batches, C, 3).toColumns();
    const swapped = { ...cols, value: cols.value.slice() };
    [swapped.value[0], swapped.value[1]] = [swapped.value[1] - 1, swapped.value[0]];
    expect(() => TopK.fromColumns(swapped, C, 3)).toThrow(/channel 0: rank 1 ranks above rank 0/);
    const drop1 = <T extends Int32Array | Float32Array>(a: T) => a.filter((_, i) => i !== 1) as T;
    const gap = { channel: drop1(cols.channel), rank: drop1(cols.rank), value: drop1(cols.value),
      sample_id: drop1(cols.sample_id), argmax: drop1(cols.argmax) };
    expect(() => TopK.fromColumns(gap, C, 3)).toThrow(/channel 0: rank 2 present but rank 1 missing/);
    const big = { ...cols, rank: cols.rank.map((r, i) => (i === 1 ? 5 : r)) };
    expect(() => TopK.fromColumns(big, C, 3)).toThrow(/rank 5 not in 0\.\.2/);
    const dup = { ...cols, rank: cols.rank.map((r, i) => (i === 1 ? 0 : r)) };
    expect(() => TopK.fromColumns(dup, C, 3)).toThrow(/appears twice/);
    const missing = { ...cols, channel: cols.channel.subarray(1), rank: cols.rank.subarray(1) };
    expect(() => TopK.fromColumns(missing, C, 3)).toThrow(/column value has \d+ rows/);
    const j = JSON.parse(JSON.stringify(topkOf(batches, C, 3)));
    expect(() => TopK.fromJSON({ ...j, size: [4, 3, 3, 3] })).toThrow(NeurolensError);
  });
});

describe('TopK shape errors', () => {
  const raw = randomRawLayer({ seed: 1, samples: 3, channels: 8 });
  it('add with a different channel count throws BAD_MODEL', () => {
    let e: unknown;
    try {
      new TopK({ channels: 4, layer: 'conv1' }).add(reduceRaw(raw));
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(NeurolensError);
    expect((e as NeurolensError).code).toBe('BAD_MODEL');
    expect((e as NeurolensError).message).toMatch(/TopK \(layer conv1\): channel mismatch: batch has 8 channels, statistic has 4/);
  });
  it('merge of different channels or k throws BAD_INPUT', () => {
    expect(() => new TopK({ channels: 8 }).merge(new TopK({ channels: 4 }))).toThrow(/different channels \(8 vs 4\)/);
    expect(() => new TopK({ channels: 8, k: 4 }).merge(new TopK({ channels: 8 }))).toThrow(/different k \(4 vs 32\)/);
  });
});
