/**
 * Training throughput of the demo CNN, measured in one run (run: `npx tsx bench/train.ts`):
 *   - wasm training images/s (with neurolens' wasm gradient kernels),
 *   - cpu training images/s (a few batches only: pure JS is ~1-2 img/s),
 *   - wasm inference images/s of the same model,
 * and the ratios the issue targets: wasm training >= 25% of wasm inference, >= 50x cpu training.
 * Options: --batch N (64), --steps N (wasm steps, 30), --cpu-steps N (2), --cpu-batch N (16).
 */
import { parseArgs } from 'node:util';
import { tf, tfc, tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { batchTensors, loadFashionMnist, DEFAULT_FASHION_MNIST_DIR, type LabeledImages } from '../src/train/data.js';
import { trainStep } from '../src/train/step.js';
import { epochOrder } from '../src/train/prng.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '30' },
    'cpu-steps': { type: 'string', default: '2' },
    'cpu-batch': { type: 'string', default: '16' },
  },
});
const batch = Number(values.batch);
const steps = Number(values.steps);
const cpuSteps = Number(values['cpu-steps']);
const cpuBatch = Number(values['cpu-batch']);

const data = await loadFashionMnist(DEFAULT_FASHION_MNIST_DIR, 'train', Math.max(batch * (steps + 2), cpuBatch * (cpuSteps + 1)));
const order = epochOrder(data.n, 1, 0);

/** Images/s of `n` training steps after `warmup` untimed ones (first calls compile/allocate). */
function trainRate(model: tfl.LayersModel, ds: LabeledImages, b: number, n: number, warmup: number): number {
  const opt = tf.train.adam(1e-3);
  let t0 = 0;
  for (let s = 0; s < warmup + n; s++) {
    if (s === warmup) t0 = performance.now();
    const { x, labels } = batchTensors(ds, order, (s * b) % (ds.n - b), b);
    trainStep(model, opt, x, labels);
    x.dispose();
    labels.dispose();
  }
  const rate = (n * b * 1000) / (performance.now() - t0);
  opt.dispose();
  return rate;
}

function inferRate(model: tfl.LayersModel, ds: LabeledImages, b: number, n: number): number {
  let t0 = 0;
  for (let s = 0; s < n + 2; s++) {
    if (s === 2) t0 = performance.now();
    const { x, labels } = batchTensors(ds, order, (s * b) % (ds.n - b), b);
    tf.tidy(() => (model.predict(x) as tfc.Tensor).dataSync());
    x.dispose();
    labels.dispose();
  }
  return (n * b * 1000) / (performance.now() - t0);
}

const info = await setupBackend('wasm');
const wasmModel = buildDemoCnn(1);
const wasmInfer = inferRate(wasmModel, data, batch, steps);
const wasmTrain = trainRate(wasmModel, data, batch, steps, 2);
wasmModel.dispose();

await setupBackend('cpu');
const cpuModel = buildDemoCnn(1);
const cpuTrain = trainRate(cpuModel, data, cpuBatch, cpuSteps, 0);
cpuModel.dispose();

const f = (x: number) => x.toFixed(1).padStart(8);
process.stdout.write(
  [
    `demo CNN (conv32-conv64-dense128, 28x28x1), batch ${batch}; wasm simd=${info.simd} threads=${info.threads}`,
    `wasm inference   ${f(wasmInfer)} img/s  (${steps} batches of ${batch})`,
    `wasm training    ${f(wasmTrain)} img/s  (${steps} steps of ${batch})`,
    `cpu training     ${f(cpuTrain)} img/s  (${cpuSteps} steps of ${cpuBatch})`,
    `wasm train / wasm infer = ${(wasmTrain / wasmInfer).toFixed(3)}  (target >= 0.25)`,
    `wasm train / cpu train  = ${(wasmTrain / cpuTrain).toFixed(1)}x  (target >= 50x)`,
  ].join('\n') + '\n',
);
