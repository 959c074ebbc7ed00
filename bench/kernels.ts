/**
 * Benchmark of neurolens' wasm gradient kernels (src/model/kernels), all measured in this run:
 *  1. Conv2DBackpropFilter (ours, wasm) vs the forward conv2d on wasm vs the cpu backend's
 *     Conv2DBackpropFilter (cpu: one call, it takes seconds), for the two convolutions of the
 *     Fashion-MNIST demo CNN at batch 64.
 *  2. Training throughput of that CNN on wasm (model.trainOnBatch, Adam) as a share of wasm
 *     inference throughput (model.predict) on the same batch.
 * Run: npx tsx bench/kernels.ts   (prints ratios; timings vary with machine load).
 */
import { tfc, tfl } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';

type Tensor = tfc.Tensor;

/**
 * Median ms per call after `warm` untimed calls. wasm and cpu kernels run synchronously, so the
 * output is complete when the op returns; it is not downloaded (multi-MB downloads mostly
 * measure V8's garbage collector). The median resists the load of other processes.
 */
function perCall(f: () => Tensor, calls: number, warm = 2): number {
  for (let i = 0; i < warm; i++) f().dispose();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    f().dispose();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(calls / 2)];
}

function randomOn(backend: string, shape: number[], seed: number): Tensor {
  tfc.setBackend(backend);
  return tfc.randomNormal(shape, 0, 1, 'float32', seed);
}

function backpropFilter(x: Tensor, dy: Tensor, filterShape: [number, number, number, number]): Tensor {
  return tfc.engine().runKernel(tfc.Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape }) as Tensor;
}

async function kernelBench(): Promise<void> {
  console.log('Conv2DBackpropFilter, 3x3 same, batch 64 (median ms per call)');
  const layers: Array<{ name: string; x: number[]; co: number }> = [
    { name: 'conv1', x: [64, 28, 28, 1], co: 32 },
    { name: 'conv2', x: [64, 14, 14, 32], co: 64 },
  ];
  for (const { name, x: xShape, co } of layers) {
    const [b, h, w, ci] = xShape;
    const fShape: [number, number, number, number] = [3, 3, ci, co];
    const x = randomOn('wasm', xShape, 1);
    const dy = randomOn('wasm', [b, h, w, co], 2);
    const filter = randomOn('wasm', fShape, 3);
    const ours = perCall(() => backpropFilter(x, dy, fShape), 10);
    const fwd = perCall(() => tfc.conv2d(x as tfc.Tensor4D, filter as tfc.Tensor4D, 1, 'same'), 10);
    const xc = randomOn('cpu', xShape, 1);
    const dyc = randomOn('cpu', [b, h, w, co], 2);
    const cpu = perCall(() => backpropFilter(xc, dyc, fShape), 1, 0);
    tfc.dispose([x, dy, filter, xc, dyc]);
    tfc.setBackend('wasm');
    console.log(
      `  ${name} x=[${xShape}] dy=[${b},${h},${w},${co}]: ours ${ours.toFixed(1)} ms, wasm forward conv2d ${fwd.toFixed(1)} ms, ` +
        `cpu backprop ${cpu.toFixed(0)} ms -> ours/forward ${(ours / fwd).toFixed(2)}x, cpu/ours ${(cpu / ours).toFixed(0)}x`,
    );
  }
}

function demoCnn(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tfc.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return m;
}

async function trainingBench(): Promise<void> {
  tfc.setBackend('wasm');
  const model = demoCnn();
  const xs = tfc.randomUniform([64, 28, 28, 1], 0, 1, 'float32', 4);
  const ys = tfc.oneHot(tfc.randomUniform([64], 0, 10, 'int32', 5) as tfc.Tensor1D, 10);
  const infer = perCall(() => model.predict(xs) as Tensor, 15);
  for (let i = 0; i < 2; i++) await model.trainOnBatch(xs, ys);
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await model.trainOnBatch(xs, ys);
    times.push(performance.now() - t0);
  }
  const train = times.sort((a, b) => a - b)[7];
  console.log('Fashion-MNIST CNN on wasm, batch 64 (median ms per batch)');
  console.log(
    `  inference ${infer.toFixed(1)} ms (${((64 * 1000) / infer).toFixed(0)} img/s), train step ${train.toFixed(1)} ms ` +
      `(${((64 * 1000) / train).toFixed(0)} img/s) -> training at ${((100 * infer) / train).toFixed(0)}% of inference throughput`,
  );
  tfc.dispose([xs, ys]);
  model.dispose();
}

registerWasmGradientKernels();
await tfc.setBackend('wasm');
await tfc.ready();
console.log(`wasm simd=${tfc.env().getBool('WASM_HAS_SIMD_SUPPORT')} threads=${tfc.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`);
await kernelBench();
await trainingBench();
