/**
 * Every attribution method once more on the cpu backend (pure JavaScript kernels, no project
 * wasm kernels involved): the top-left-quadrant model concentrates attribution there, integrated
 * gradients stay complete, Grad-CAM weights match the hand-computed ones, and no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, type tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { Objective, explain, gradCam, type MethodOptions } from '../src/explain/index.js';
import { Q, QUADRANT_FC, noiseImage, quadrantNet, topLeftShare } from './explain-fixtures.js';

let quad: tfl.Sequential;
const x = noiseImage(Q * Q, 21);

beforeAll(async () => {
  expect((await setupBackend('cpu')).name).toBe('cpu');
  quad = quadrantNet();
});

describe('on cpu', () => {
  const cases: MethodOptions[] = [
    { method: 'occlusion', patch: 4, stride: 4 },
    { method: 'saliency' },
    { method: 'saliency', smooth: 8, batch: 3 },
    { method: 'guided-backprop' },
    { method: 'gradcam' },
    { method: 'gradcam', guided: true },
    { method: 'integrated-gradients', steps: 40 },
  ];
  for (const o of cases) {
    it(`${JSON.stringify(o)}: > 90% in the top-left quadrant, no tensor left`, () => {
      expect(tf.getBackend()).toBe('cpu');
      const before = tf.memory().numTensors;
      const e = explain(quad, { data: x }, { kind: 'class', index: 0 }, o);
      expect(tf.memory().numTensors).toBe(before);
      expect(topLeftShare(e.map, e.hw.height, e.hw.width)).toBeGreaterThan(0.9);
      if (o.method === 'integrated-gradients') {
        const d = Number(e.summary.relativeDelta);
        expect(d).toBeLessThan(0.01);
      }
    });
  }

  it('Grad-CAM weights are fc[k][c] / 196', () => {
    const r = gradCam(Objective.create(quad, { kind: 'class', index: 2, score: 'logit' }), x);
    QUADRANT_FC.forEach((row, k) => expect(r.weights[k]).toBeCloseTo(row[2]! / 196, 6));
  });
});
