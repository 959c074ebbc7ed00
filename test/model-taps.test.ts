/**
 * Known-answer tests of Tapper: hand-set weights (test/fixtures/models.ts), images whose
 * activations are worked out by hand below, on the cpu and wasm backends, for a LayersModel, the
 * same net as a GraphModel, and a nested model.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { Tapper, type TapResult } from '../src/model/taps.js';
import { unflattenArgmax, type LayerBatchStats } from '../src/stats/types.js';
import { isNeurolensError } from '../src/errors.js';
import * as F from './fixtures/models.js';

/**
 * Images: step (0 | 1 from column 4), dot (1 at y=5, x=6), const (2 everywhere), zero, negstep
 * (-1 left of column 4, 0 from column 4).
 */
const images = () => F.batchOf(F.stepImage(), F.dotImage(5, 6), F.constImage(2), F.constImage(0), F.stepImage(1).map((v) => v - 1));

/**
 * conv1 is 6x6 (valid 3x3 on 8x8), P = 36. Per image, per filter [f0 edge, f1 box, f2 dead]:
 *  step:    f0 = 3*(I[x+2]-I[x]) = 3 at columns 2,3 (12 positions), first at (0,2);
 *           f1 = 3 * #ones in columns x..x+2 -> rows [0,0,3,6,9,9], first max at (0,4)
 *  dot:     f0 = +1 where the window's right column is 6: (3..5, 4) -> 3 positions, first (3,4);
 *           f1 = 1 where the window holds (5,6): rows 3..5 x cols 4..5 -> 6 positions, first (3,4)
 *  const 2: f0 = 3*(-2+2) = 0; f1 = 9*2 = 18 everywhere (ties: argmax = first = 0)
 *  zero:    everything 0
 *  negstep: f0 = 3*(0-(-1)) = 3 at columns 2,3 as for step; f1 <= 0 -> ReLU 0
 *  f2 = box - 1000 < 0 on every image -> 0 (dead).
 */
const dead = { max: 0, min: 0, mean: 0, sq: 0, zero: 1, arg: 0 };
const CONV1 = [
  [{ max: 3, min: 0, mean: 36 / 36, sq: (12 * 9) / 36, zero: 24 / 36, arg: 0 * 6 + 2 }, { max: 9, min: 0, mean: 27 / 6, sq: 207 / 6, zero: 12 / 36, arg: 4 }, dead],
  [{ max: 1, min: 0, mean: 3 / 36, sq: 3 / 36, zero: 33 / 36, arg: 3 * 6 + 4 }, { max: 1, min: 0, mean: 6 / 36, sq: 6 / 36, zero: 30 / 36, arg: 3 * 6 + 4 }, dead],
  [dead, { max: 18, min: 18, mean: 18, sq: 324, zero: 0, arg: 0 }, dead],
  [dead, dead, dead],
  [{ max: 3, min: 0, mean: 1, sq: 3, zero: 24 / 36, arg: 2 }, dead, dead],
];
/** gap = conv1 means; fc0 = gap0 - gap1, fc1 = gap1 + 0.5. */
const GAP = CONV1.map((row) => row.map((f) => f.mean));
const FC = GAP.map((g) => [g[0] - g[1], g[1] + 0.5]);
/** softmax over fc: top-1 and its probability 1 / (1 + e^-(|fc1 - fc0|)). */
const PRED = FC.map((f) => (f[1] > f[0] ? 1 : 0));
const PROB = FC.map((f) => 1 / (1 + Math.exp(-Math.abs(f[1] - f[0]))));

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > tol * Math.max(1, Math.abs(expected[i]))) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (all: ${Array.from(actual).join(', ')})`);
    }
  }
}

function expectConv1(s: LayerBatchStats): void {
  expect([s.batch, s.channels, s.extent]).toEqual([5, 3, [1, 6, 6]]);
  const col = (k: keyof (typeof CONV1)[0][0]) => CONV1.flatMap((row) => row.map((f) => f[k]));
  close(s.max, col('max'));
  close(s.min, col('min'));
  close(s.mean, col('mean'));
  close(s.sqMean, col('sq'));
  close(s.zeroFrac, col('zero'));
  expect(Array.from(s.argmax)).toEqual(col('arg'));
  // The dot's strongest f1 response is at (y=3, x=4): the top-left window that holds the dot.
  expect(unflattenArgmax(s.argmax[1 * 3 + 1], s.extent)).toEqual([0, 3, 4]);
}

function expectDense(s: LayerBatchStats, values: number[][]): void {
  const v = values.flat();
  expect([s.batch, s.channels, s.extent]).toEqual([5, values[0].length, [1, 1, 1]]);
  close(s.max, v);
  close(s.min, v);
  close(s.mean, v);
  close(s.sqMean, v.map((x) => x * x));
  close(s.zeroFrac, v.map((x) => (x === 0 ? 1 : 0)));
  expect(Array.from(s.argmax)).toEqual(v.map(() => 0));
}

function expectPredictions(r: TapResult): void {
  expect(Array.from(r.predictions?.pred ?? [])).toEqual(PRED);
  close(r.predictions?.prob ?? [], PROB);
}

async function tapAndCheck(target: Parameters<typeof Tapper.create>[0], names: [string, string, string]): Promise<void> {
  const base = tf.memory().numTensors;
  const t = await Tapper.create(target, [names[0], names[2]], { predictions: true, codes: [names[1]] });
  const ids = Int32Array.from([10, 11, 12, 13, 14]);
  for (let rep = 0; rep < 2; rep++) {
    const r = t.run(images(), 5, ids);
    expect(r.layers.map((l) => l.layer)).toEqual([names[0], names[2]]);
    expectConv1(r.layers[0]);
    expectDense(r.layers[1], FC);
    expect(Array.from(r.layers[0].sampleIds)).toEqual([10, 11, 12, 13, 14]);
    // A layer asked for as a code only is not in `layers` but its pooled vector is returned.
    expect(r.codes.map((c) => [c.layer, c.dim])).toEqual([[names[1], 3]]);
    close(r.codes[0].data, GAP.flat());
    expectPredictions(r);
    expect(tf.memory().numTensors).toBe(base);
  }
  t.dispose();
  expect(tf.memory().numTensors).toBe(base);
}

describe.each(['cpu', 'wasm'] as const)('Tapper known answers on %s', (backend) => {
  beforeAll(async () => {
    await setupBackend(backend);
  });

  it('LayersModel: conv (max, min, mean, sqMean, zero_frac, argmax), dense, code, predictions', async () => {
    expect(tf.getBackend()).toBe(backend);
    const m = F.edgeNet();
    await tapAndCheck({ kind: 'layers', model: m }, ['conv1', 'gap', 'fc']);
    // The tap model shares the weights: the loaded model still works after dispose().
    const out = tf.tidy(() => (m.predict(tf.tensor4d(images(), [5, 8, 8, 1])) as ReturnType<typeof tf.zeros>).dataSync());
    close(Array.from(out).filter((_, i) => i % 2 === 1), FC.map((f) => 1 / (1 + Math.exp(f[0] - f[1]))));
    m.dispose();
  });

  it('GraphModel with the same weights gives the same numbers (one execute per batch)', async () => {
    const g = await F.edgeGraph();
    await tapAndCheck({ kind: 'graph', model: g }, ['conv1/Relu', 'gap/Mean', 'fc/BiasAdd']);
    g.dispose();
  });

  it('taps a layer inside a nested model', async () => {
    const m = F.nestedEdgeNet();
    const t = await Tapper.create({ kind: 'layers', model: m }, ['features/conv1', 'fc'], { predictions: true });
    const r = t.run(images(), 5);
    expectConv1(r.layers[0]);
    expectDense(r.layers[1], FC);
    // The nested net ends in logits: predictions apply a softmax first.
    expectPredictions(r);
    expect(Array.from(r.layers[0].sampleIds)).toEqual([0, 1, 2, 3, 4]);
    m.dispose();
  });

  it('with labels: the probability of the true label (softmax at the label), NaN for unknown labels', async () => {
    const m = F.edgeLogitsNet();
    const t = await Tapper.create({ kind: 'layers', model: m }, ['fc'], { predictions: true });
    // softmax over two logits: p(1) = 1 / (1 + e^-(fc1 - fc0)), p(0) = 1 - p(1).
    const p1 = FC.map((f) => 1 / (1 + Math.exp(-(f[1] - f[0]))));
    const labels = Int32Array.from([0, 1, -1, 1, 7]);
    const r = t.run(images(), 5, undefined, labels);
    expectPredictions(r);
    const lp = Array.from(r.predictions?.labelProb ?? []);
    expect(lp.length).toBe(5);
    close([lp[0]!, lp[1]!, lp[3]!], [1 - p1[0]!, p1[1]!, p1[3]!]);
    expect([lp[2], lp[4]].every((v) => Number.isNaN(v))).toBe(true);
    // Without labels there is none.
    expect(t.run(images(), 5).predictions?.labelProb).toBeUndefined();
    m.dispose();
  });

  it('logits output: softmax is applied before top-1', async () => {
    const m = F.edgeLogitsNet();
    const t = await Tapper.create({ kind: 'layers', model: m }, ['fc'], { predictions: true });
    expectPredictions(t.run(images(), 5));
    m.dispose();
  });

  it('video unit [B,T,H,W,C]: pooled over T, H, W; argmax decodes to (t, y, x)', async () => {
    const m = F.clipNet();
    // Positions p = t*4 + y*2 + x. Channel 0 = x, channel 1 = -x.
    const x = [0.5, -2, 0, 3, -1, 4, 4, 0];
    const t = await Tapper.create({ kind: 'layers', model: m }, ['c3d'], {});
    const [s] = t.run(Float32Array.from(x), 1).layers;
    expect(s.extent).toEqual([2, 2, 2]);
    close(s.max, [4, 2]);
    close(s.min, [-2, -4]);
    close(s.mean, [8.5 / 8, -8.5 / 8]);
    close(s.sqMean, [46.25 / 8, 46.25 / 8]);
    close(s.zeroFrac, [2 / 8, 2 / 8]);
    expect(Array.from(s.argmax)).toEqual([5, 1]); // first of the two 4s; the -2 at p=1
    expect(unflattenArgmax(s.argmax[0], s.extent)).toEqual([1, 0, 1]);
    m.dispose();
  });

  it('rejects an input of the wrong size', async () => {
    const m = F.edgeNet();
    const t = await Tapper.create({ kind: 'layers', model: m }, ['conv1'], {});
    expect(() => t.run(new Float32Array(10), 1)).toThrow(/holds 10 values; 1 samples of \[8,8,1\] need 64/);
    m.dispose();
  });
});

describe('cpu and wasm agree', () => {
  it('on a pseudo-random batch, every statistic of every layer', async () => {
    const n = 6;
    const input = Float32Array.from({ length: n * 64 }, (_, i) => (((i * 2654435761) >>> 0) % 1000) / 250 - 2);
    const results: TapResult[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await setupBackend(backend);
      const m = F.edgeNet();
      const t = await Tapper.create({ kind: 'layers', model: m }, ['conv1', 'gap', 'fc', 'probs'], { predictions: true });
      results.push(t.run(input, n));
      m.dispose();
    }
    const [cpu, wasm] = results;
    for (let l = 0; l < cpu.layers.length; l++) {
      for (const k of ['max', 'min', 'mean', 'sqMean', 'zeroFrac'] as const) close(wasm.layers[l][k], Array.from(cpu.layers[l][k]), 1e-4);
      expect(Array.from(wasm.layers[l].argmax)).toEqual(Array.from(cpu.layers[l].argmax));
    }
    // Some units are neither all-zero nor never-zero: the comparison is not vacuous.
    expect(cpu.layers[0].zeroFrac.some((z) => z > 0 && z < 1)).toBe(true);
    expect(Array.from(wasm.predictions?.pred ?? [])).toEqual(Array.from(cpu.predictions?.pred ?? []));
  });
});

describe('Tapper.create errors', () => {
  it('nothing to tap', async () => {
    await setupBackend('cpu');
    const m = F.edgeNet();
    await expect(Tapper.create({ kind: 'layers', model: m }, [], {})).rejects.toSatisfy((e) => isNeurolensError(e) && /nothing to tap/.test(e.message));
    m.dispose();
  });
});
