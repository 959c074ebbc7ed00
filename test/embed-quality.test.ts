/**
 * Layout quality on real data (issue 5: "10-NN classification accuracy in the 2-D t-SNE and
 * UMAP layouts >= 0.95 x the 10-NN accuracy in the original code space"), at a CI size:
 * 2,500 Fashion-MNIST test images, as raw pixels (PCA 50, t-SNE) and as CNN codes (the demo
 * CNN's last hidden layer, dense1, 128-d, after one quick epoch on 6,000 training images;
 * t-SNE and UMAP). UMAP on raw pixels keeps ~0.93-0.95 here (measured; bench/embed.ts prints
 * it), below the target, which the issue sets on CNN codes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, tfl, tfc } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { buildDemoCnn, batchTensors, epochOrder, loadFashionMnist, trainStep, DEFAULT_FASHION_MNIST_DIR } from '../src/train/index.js';
import { embed2d, knnAccuracy, type Points } from '../src/embed/index.js';
import { loadFashion } from './embed-fashion.js';

const N = 2500;

async function cnnCodes(): Promise<{ codes: Points; labels: Int32Array }> {
  const train = await loadFashionMnist(DEFAULT_FASHION_MNIST_DIR, 'train', 6000);
  const model = buildDemoCnn(1);
  const opt = tf.train.adam(1e-3);
  const order = epochOrder(train.n, 1, 0);
  for (let s = 0; s + 64 <= train.n; s += 64) {
    const { x, labels } = batchTensors(train, order, s, 64);
    trainStep(model, opt, x, labels);
    x.dispose();
    labels.dispose();
  }
  const test = await loadFashionMnist(DEFAULT_FASHION_MNIST_DIR, 't10k', N);
  const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer('dense1').output as tfl.SymbolicTensor });
  const { x, labels } = batchTensors(test, null, 0, N);
  const out = sub.predict(x) as tfc.Tensor;
  const data = Float32Array.from(out.dataSync());
  tf.dispose([x, labels, out]);
  opt.dispose();
  model.dispose();
  return { codes: { data, n: N, d: 128 }, labels: Int32Array.from(test.labels) };
}

async function ratio(points: Points, labels: Int32Array, method: 'tsne' | 'umap'): Promise<number> {
  const r = await embed2d(points, { method, seed: 1 });
  const acc2d = knnAccuracy({ data: r.coords, n: points.n, d: 2 }, labels, 10);
  const accHd = knnAccuracy(points, labels, 10); // the original space, before PCA
  console.log(`${method}: 10-NN accuracy ${acc2d.toFixed(4)} in 2-D vs ${accHd.toFixed(4)} in the input space: ratio ${(acc2d / accHd).toFixed(3)}`);
  return acc2d / accHd;
}

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('10-NN accuracy preserved by the 2-D layouts (>= 0.95 x input space)', () => {
  it('t-SNE of 2,500 Fashion-MNIST images (pixels, PCA 50)', async () => {
    const f = await loadFashion(N);
    expect(await ratio(f, f.labels, 'tsne')).toBeGreaterThanOrEqual(0.95);
  });

  it('t-SNE and UMAP of 2,500 demo-CNN codes (dense1)', async () => {
    const start = tfc.memory().numTensors;
    const { codes, labels } = await cnnCodes();
    expect(tfc.memory().numTensors).toBeLessThanOrEqual(start + 0);
    // The codes must carry class structure for the comparison to mean anything.
    expect(knnAccuracy(codes, labels, 10)).toBeGreaterThan(0.75);
    expect(await ratio(codes, labels, 'tsne')).toBeGreaterThanOrEqual(0.95);
    expect(await ratio(codes, labels, 'umap')).toBeGreaterThanOrEqual(0.95);
  });
});
