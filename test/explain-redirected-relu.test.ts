/**
 * The redirected ReLU gradient (src/explain/redirected-relu.ts): the plain ReLU gradient whenever
 * it is not zero everywhere; otherwise the gradient that raises the input. With it, the clip
 * actmax moves a unit that is silent on its flat, motionless start clip; the plain ReLU would
 * leave it at 0 for ever.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, tfc } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { redirectedRelu } from '../src/explain/redirected-relu.js';
import { actmaxClip } from '../src/explain/actmax-clip.js';
import { buildTwoStream } from '../src/video/model.js';

beforeAll(async () => {
  await setupBackend('wasm');
});

function gradOf(x: number[], dy: number[]): number[] {
  return tf.tidy(() => Array.from(tfc.grad((v: tfc.Tensor) => tfc.sum(tfc.mul(redirectedRelu(v, null), tfc.tensor(dy))))(tfc.tensor(x)).dataSync(), (g) => g + 0));
}

describe('redirected ReLU', () => {
  it('is the ReLU forward, and its gradient unless that is zero everywhere', () => {
    expect(tf.tidy(() => Array.from(redirectedRelu(tfc.tensor([-1, 0, 2]), null).dataSync()))).toEqual([0, 0, 2]);
    expect(gradOf([-1, 2, -3], [1, 1, -1])).toEqual([0, 1, 0]);
    // All inputs below 0: pass what raises them (here dy < 0 is an increase of the objective sum).
    expect(gradOf([-1, -2], [1, -1])).toEqual([0, -1]);
  });

  it('lets the clip actmax wake a unit that is silent at the start', async () => {
    const model = buildTwoStream({ frames: 4, height: 16, width: 16, appearance: 3, motion: 2, classes: 3 }, 1);
    try {
      const conv = model.getLayer('mot_conv1');
      const [k, b] = conv.getWeights();
      // Every position of channel 0 is far below 0 on a motionless clip.
      const bias = b.arraySync() as number[];
      bias[0] = -1;
      conv.setWeights([k, tf.tensor1d(bias)]);
      // Silent on a motionless clip (flow 0, grey frames): a plain ReLU passes no gradient there.
      const tap = tf.model({ inputs: model.inputs, outputs: conv.output as ReturnType<typeof tf.input> });
      const still = tf.tidy(() => tfc.max(tfc.slice(tap.predict(tfc.concat([tfc.fill([1, 4, 16, 16, 3], 0.5), tfc.zeros([1, 4, 16, 16, 2])], 4)) as tfc.Tensor, [0, 0, 0, 0, 0], [-1, -1, -1, -1, 1])).dataSync()[0]);
      expect(still).toBe(0);
      const r = await actmaxClip(model, { layer: 'mot_conv1', channel: 0, steps: 40, lr: 0.1, jitter: 1, appearance: { alphaWeight: 0, tvWeight: 0 }, motion: { range: 3 } });
      expect(r.activation.max).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});
