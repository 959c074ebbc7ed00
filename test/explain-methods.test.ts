/**
 * Attribution methods (src/explain/) with real tfjs on the wasm backend (the project's kernels):
 * known-answer models with hand-set weights, completeness of integrated gradients, the guided
 * backprop rule and Grad-CAM weights computed by hand, tensor bookkeeping, and the errors a user
 * can hit.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, type tfc, type tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { isNeurolensError } from '../src/errors.js';
import {
  Objective,
  explain,
  gradCam,
  guidedBackprop,
  integratedGradients,
  occlusion,
  occlusionGrid,
  saliency,
  type MethodOptions,
  type Target,
} from '../src/explain/index.js';
import { edgeLogitsNet, nestedEdgeNet, stepImage } from './fixtures/models.js';
import { Q, QUADRANT_FC, linearNet, noiseImage, quadrantNet, topLeftShare } from './explain-fixtures.js';

let quad: tfl.Sequential;
const x = noiseImage(Q * Q, 7);
const CLASS0: Target = { kind: 'class', index: 0 };

beforeAll(async () => {
  await setupBackend('wasm');
  quad = quadrantNet();
});

/** Runs f and checks that it leaves no tensor behind. */
function noLeak<T>(f: () => T): T {
  const before = tf.memory().numTensors;
  const r = f();
  expect(tf.memory().numTensors).toBe(before);
  return r;
}

function expectError(f: () => unknown, code: string, text: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isNeurolensError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  expect((err as Error).message).toMatch(text);
}

describe('a model that only looks at the top-left quadrant', () => {
  const cases: [string, MethodOptions][] = [
    ['occlusion', { method: 'occlusion', patch: 4, stride: 2, batch: 5 }],
    ['vanilla gradient', { method: 'saliency' }],
    ['SmoothGrad', { method: 'saliency', smooth: 12, noise: 0.2, batch: 5 }],
    ['guided backprop', { method: 'guided-backprop' }],
    ['Grad-CAM', { method: 'gradcam' }],
    ['Guided Grad-CAM', { method: 'gradcam', guided: true }],
    ['integrated gradients', { method: 'integrated-gradients', steps: 50, batch: 7 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: > 90% of the absolute attribution in the top-left quadrant, no tensor left`, () => {
      for (const target of [CLASS0, { kind: 'class', index: 2, score: 'prob' } as Target]) {
        const e = noLeak(() => explain(quad, { data: x }, target, o));
        const share = topLeftShare(e.map, e.hw.height, e.hw.width);
        expect(share, `${name} ${JSON.stringify(target)}`).toBeGreaterThan(0.9);
        // Not trivially zero: there is attribution to find.
        expect(e.map.some((v) => v !== 0)).toBe(true);
      }
    });
  }

  it('gradients outside the quadrant are exactly 0; the default Grad-CAM layer is the masked maps', () => {
    const obj = Objective.create(quad, CLASS0);
    const g = saliency(obj, x).gradient;
    for (let y = 0; y < Q; y++) for (let xx = 0; xx < Q; xx++) if (y >= 8 || xx >= 8) expect(g[y * Q + xx]).toBe(0);
    expect(gradCam(obj, x).layer).toBe('masked');
  });
});

describe('known answers', () => {
  it('occlusion of a linear model: each drop is the patch sum of w * (x - fill), batched with a remainder', () => {
    const [H, W, C] = [12, 10, 2];
    const { model, weights } = linearNet(H, W, C, 3);
    const xi = noiseImage(H * W * C, 11, -1, 1);
    const obj = Objective.create(model, { kind: 'class', index: 0 });
    const fill = 0.3;
    const r = noLeak(() => occlusion(obj, xi, { patch: 4, stride: 3, fill, batch: 4 }));
    expect([r.gridH, r.gridW]).toEqual([3, 3]);
    for (let gy = 0; gy < r.gridH; gy++) {
      for (let gx = 0; gx < r.gridW; gx++) {
        let want = 0;
        for (let y = gy * 3; y < gy * 3 + 4; y++) for (let xx = gx * 3; xx < gx * 3 + 4; xx++) for (let c = 0; c < C; c++) {
          const i = (y * W + xx) * C + c;
          want += weights[i]! * (xi[i]! - fill);
        }
        expect(r.grid[gy * r.gridW + gx]).toBeCloseTo(want, 4);
      }
    }
    // Same answer one copy per pass and all copies in one pass.
    const one = occlusion(obj, xi, { patch: 4, stride: 3, fill, batch: 1 }).grid;
    const all = occlusion(obj, xi, { patch: 4, stride: 3, fill, batch: 64 }).grid;
    for (let i = 0; i < one.length; i++) {
      expect(all[i]).toBeCloseTo(one[i]!, 5);
      expect(r.grid[i]).toBeCloseTo(one[i]!, 5);
    }
    model.dispose();
  });

  it('integrated gradients: completeness within 1% (quadrant net logit and prob; demo CNN prob), and it converges', () => {
    const quadLogit = noLeak(() => integratedGradients(Objective.create(quad, { kind: 'class', index: 0, score: 'logit' }), x, { steps: 50 }));
    const quadProb = integratedGradients(Objective.create(quad, { kind: 'class', index: 1, score: 'prob' }), x, { steps: 50, baseline: new Float32Array(Q * Q).fill(1) });
    const demo = buildDemoCnn(3);
    const xd = noiseImage(28 * 28, 5);
    const demoProb = noLeak(() => integratedGradients(Objective.create(demo, { kind: 'class', index: 4, score: 'prob' }), xd, { steps: 50 }));
    for (const r of [quadLogit, quadProb, demoProb]) {
      const diff = r.score - r.baselineScore;
      expect(Math.abs(diff)).toBeGreaterThan(1e-3);
      expect(Math.abs(r.sum - diff) / Math.abs(diff)).toBeLessThan(0.01);
      expect(r.delta).toBeCloseTo(r.sum - diff, 10);
    }
    // The gap shrinks with more steps (trapezoid rule).
    const coarse = integratedGradients(Objective.create(demo, { kind: 'class', index: 4, score: 'prob' }), xd, { steps: 5 });
    expect(Math.abs(coarse.delta)).toBeGreaterThan(Math.abs(demoProb.delta));
    demo.dispose();
  });

  it('guided backprop follows R_in = (f > 0)(R_out > 0) R_out at ReLU and ReLU6; the vanilla gradient is untouched', () => {
    // x [1,1,4] -> dense 3 (relu) -> relu6 layer -> dense 1: hand-made weights.
    const m = tf.sequential({ name: 'guided_mlp' });
    m.add(tf.layers.flatten({ name: 'flat', inputShape: [1, 1, 4] }));
    m.add(tf.layers.dense({ name: 'h', units: 4, activation: 'relu' }));
    m.add(tf.layers.dense({ name: 'g', units: 4 }));
    m.add(tf.layers.reLU({ name: 'r6', maxValue: 6 }));
    m.add(tf.layers.dense({ name: 'out', units: 1 }));
    const W1 = [
      [1, -1, 0.5, 2],
      [0.5, 1, -1, 1],
      [-0.5, 0.5, 1, 3],
      [1, 1, 1, 0.5],
    ];
    const W2 = [
      [1, 0, 0, 0],
      [0, -1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ];
    const w3 = [1, 2, -1, 0.5];
    m.getLayer('h').setWeights([tf.tensor2d(W1), tf.zeros([4])]);
    m.getLayer('g').setWeights([tf.tensor2d(W2), tf.zeros([4])]);
    m.getLayer('out').setWeights([tf.tensor2d(w3, [4, 1]), tf.zeros([1])]);
    const xi = Float32Array.from([1, 1, 1, 1]);
    // Forward by hand: h = relu(x W1), g = h W2, r = relu6(g).
    const hPre = [0, 1, 2, 3].map((j) => W1.reduce((s, row, i) => s + xi[i]! * row[j]!, 0));
    const h = hPre.map((v) => Math.max(0, v));
    const g = [0, 1, 2, 3].map((j) => h.reduce((s, v, i) => s + v * W2[i]![j]!, 0));
    // g = [2, -1.5, 1.5, 6.5]: unit 1 negative (ReLU6 closed), unit 3 above 6 (closed), unit 2 open with w3 < 0.
    expect(g).toEqual([2, -1.5, 1.5, 6.5]);
    const backprop = (guided: boolean) => {
      // d out / d r = w3; through relu6 (open where 0 < g < 6), W2, relu (open where hPre > 0), W1.
      const gate = (f: number, r: number, max: number | null) => (f > 0 && (max === null || f < max) && (!guided || r > 0) ? r : 0);
      const rG = w3.map((r, j) => gate(g[j]!, r, 6));
      const rH = [0, 1, 2, 3].map((i) => rG.reduce((s, r, j) => s + r * W2[i]![j]!, 0));
      const rHin = rH.map((r, j) => gate(hPre[j]!, r, null));
      return [0, 1, 2, 3].map((i) => rHin.reduce((s, r, j) => s + r * W1[i]![j]!, 0));
    };
    const obj = Objective.create(m, { kind: 'class', index: 0 });
    const gb = noLeak(() => guidedBackprop(obj, xi));
    const van = saliency(obj, xi);
    backprop(true).forEach((v, i) => expect(gb.gradient[i]).toBeCloseTo(v, 5));
    backprop(false).forEach((v, i) => expect(van.gradient[i]).toBeCloseTo(v, 5));
    expect(backprop(true)).not.toEqual(backprop(false));
    // No global patching: an ordinary tf.grad after guided backprop still sees plain ReLUs.
    const plain = tf.tidy(() => tf.grad((v: tfc.Tensor) => tf.sum(m.apply(v) as tfc.Tensor))(tf.tensor4d(xi, [1, 1, 1, 4])).dataSync());
    backprop(false).forEach((v, i) => expect(plain[i]).toBeCloseTo(v, 5));
    m.dispose();
  });

  it('Grad-CAM: alpha_k = mean d logit / d A_k = fc[k][c] / 196 and cam = relu(sum_k alpha_k A_k)', () => {
    const c = 1;
    const r = noLeak(() => gradCam(Objective.create(quad, { kind: 'class', index: c, score: 'logit' }), x, { layer: 'masked' }));
    expect([r.camH, r.camW]).toEqual([14, 14]);
    QUADRANT_FC.forEach((row, k) => expect(r.weights[k]).toBeCloseTo(row[c]! / 196, 6));
    const sub = tf.model({ inputs: quad.inputs, outputs: quad.getLayer('masked').output as tfl.SymbolicTensor });
    const A = tf.tidy(() => (sub.predict(tf.tensor4d(x, [1, Q, Q, 1])) as tfc.Tensor).dataSync());
    for (let p = 0; p < 196; p++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += A[p * 4 + k]! * (QUADRANT_FC[k]![c]! / 196);
      expect(r.cam[p]).toBeCloseTo(Math.max(0, s), 6);
    }
  });

  it('class scores: logit is the input of the fused softmax, prob its output', () => {
    const logit = Objective.create(quad, { kind: 'class', index: 0, score: 'logit' });
    const prob = Objective.create(quad, { kind: 'class', index: 0, score: 'prob' });
    const [l, p, all] = tf.tidy(() => {
      const xt = tf.tensor4d(x, [1, Q, Q, 1]);
      const logits = [0, 1, 2].map((i) => Objective.create(quad, { kind: 'class', index: i, score: 'logit' }).score(xt).dataSync()[0]!);
      return [logit.score(xt).dataSync()[0]!, prob.predict(xt).dataSync()[0]!, logits];
    });
    const soft = Math.exp(all[0]!) / all.reduce((s, v) => s + Math.exp(v), 0);
    expect(l).toBeCloseTo(all[0]!, 6);
    expect(p).toBeCloseTo(soft, 6);
    const direct = tf.tidy(() => (quad.predict(tf.tensor4d(x, [1, Q, Q, 1])) as tfc.Tensor).dataSync()[0]!);
    expect(p).toBeCloseTo(direct, 6);
  });

  it('neuron targets: mean and max of a channel; the max gradient reaches one position only', () => {
    const mean = noLeak(() => saliency(Objective.create(quad, { kind: 'neuron', layer: 'conv', channel: 0, reduce: 'mean' }), x));
    const max = saliency(Objective.create(quad, { kind: 'neuron', layer: 'conv', channel: 0, reduce: 'max' }), x);
    // conv channel 0 is a 3x3 box / 9 + 0.05: its mean gradient is spread, its max gradient is one 3x3 window of 1/9.
    expect(max.gradient.filter((v) => v !== 0).length).toBe(9);
    for (const v of max.gradient) if (v !== 0) expect(v).toBeCloseTo(1 / 9, 6);
    expect(mean.gradient.filter((v) => v !== 0).length).toBeGreaterThan(100);
    expect(max.score).toBeGreaterThan(mean.score);
  });
});

describe('model structure', () => {
  it('nested models are flattened: the same attributions as the flat model, inner layers as `outer/inner`', () => {
    const flat = edgeLogitsNet();
    const nested = nestedEdgeNet();
    const xi = Float32Array.from(stepImage(1));
    const a = saliency(Objective.create(flat, { kind: 'class', index: 1 }), xi);
    const b = noLeak(() => saliency(Objective.create(nested, { kind: 'class', index: 1 }), xi));
    expect(b.score).toBeCloseTo(a.score, 6);
    a.gradient.forEach((v, i) => expect(b.gradient[i]).toBeCloseTo(v, 6));
    const inner = noLeak(() => guidedBackprop(Objective.create(nested, { kind: 'neuron', layer: 'features/conv1', channel: 0 }), xi));
    const outer = guidedBackprop(Objective.create(flat, { kind: 'neuron', layer: 'conv1', channel: 0 }), xi);
    outer.gradient.forEach((v, i) => expect(inner.gradient[i]).toBeCloseTo(v, 6));
    expect(gradCam(Objective.create(nested, { kind: 'class', index: 0 }), xi).layer).toBe('features/conv1');
    flat.dispose();
    nested.dispose();
  });

  it('forward-only scoring frees intermediates but not a tensor a layer passes through (Dropout in inference)', () => {
    const m = tf.sequential({ name: 'drop_net' });
    m.add(tf.layers.conv2d({ name: 'c', inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu', kernelInitializer: 'glorotUniform' }));
    m.add(tf.layers.dropout({ name: 'd', rate: 0.5 }));
    m.add(tf.layers.flatten({ name: 'f' }));
    m.add(tf.layers.dense({ name: 'o', units: 2, activation: 'softmax' }));
    const xi = noiseImage(36, 4);
    const obj = Objective.create(m, { kind: 'class', index: 1, score: 'prob' });
    const [mine, ref] = noLeak(() =>
      tf.tidy(() => {
        const xt = tf.tensor4d(xi, [1, 6, 6, 1]);
        return [obj.predict(xt).dataSync()[0]!, (m.predict(xt) as tfc.Tensor).dataSync()[1]!];
      }),
    );
    expect(mine).toBeCloseTo(ref, 6);
    const r = noLeak(() => occlusion(obj, xi, { patch: 2, stride: 2, batch: 4 }));
    expect(r.grid.length).toBe(9);
    m.dispose();
  });
});

describe('bad input: clear errors', () => {
  it('class index out of range, unknown neuron layer (close matches), channel out of range', () => {
    expectError(() => Objective.create(quad, { kind: 'class', index: 3 }), 'NOT_FOUND', /class 3 is out of range: the model has 3 classes \(0\.\.2\)/);
    expectError(() => Objective.create(quad, { kind: 'neuron', layer: 'conv9', channel: 0 }), 'NOT_FOUND', /layer 'conv9' is not in the model; did you mean: conv/);
    expectError(() => Objective.create(quad, { kind: 'neuron', layer: 'conv', channel: 4 }), 'NOT_FOUND', /channel 4 is out of range: layer 'conv' has 4 channels/);
  });

  it('Grad-CAM layer unknown (close matches), not spatial, or downstream of the target', () => {
    const obj = Objective.create(quad, CLASS0);
    expectError(() => gradCam(obj, x, { layer: 'maskd' }), 'NOT_FOUND', /--layer 'maskd' is not in the model; did you mean: masked/);
    expectError(() => gradCam(obj, x, { layer: 'gap' }), 'BAD_SPEC', /no spatial feature maps/);
    const neuron = Objective.create(quad, { kind: 'neuron', layer: 'conv', channel: 0 });
    expectError(() => gradCam(neuron, x, { layer: 'masked' }), 'BAD_SPEC', /not upstream of the target/);
  });

  it('patch larger than the image, bad stride, wrong input size', () => {
    const obj = Objective.create(quad, CLASS0);
    expectError(() => occlusion(obj, x, { patch: 17 }), 'BAD_SPEC', /--patch 17 is larger than the 16x16 input/);
    expectError(() => occlusionGrid(16, 16, 4, 0), 'BAD_SPEC', /--stride must be an integer >= 1/);
    expectError(() => saliency(obj, new Float32Array(10)), 'BAD_INPUT', /input has 10 values; the model takes 16x16x1 = 256/);
    expect(tf.memory().numTensors).toBeGreaterThan(0);
  });
});
