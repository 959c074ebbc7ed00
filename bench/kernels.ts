/**
 * Benchmark of neurolens' wasm kernels (src/model/kernels) on the demo CNN's shapes (batch 64):
 *  1. each gradient kernel of a training step: ours vs tfjs-backend-wasm 4.22's own kernel
 *     (captured before ours are registered; Conv2DBackpropFilter has none, so the cpu backend's
 *     kernel is timed once instead);
 *  2. training throughput of the CNN on wasm (model.trainOnBatch, Adam) as a share of wasm
 *     inference throughput (model.predict) on the same batch. bench/train.ts measures the
 *     issue's numbers on the real training step and data; this is the quick check.
 * Every call gets FRESH input tensors: XNNPACK caches the packed right operand of a product by
 * tensor, and reusing one input would time the cache instead of a training step, where every
 * gradient input is new. Times are process CPU time (medians), which the load of other processes
 * disturbs less than wall time. Run: npx tsx bench/kernels.ts
 */
import { tfc, tfl } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { cpuMs, perCall, type Inputs } from './kernel-timing.js';

type Tensor = tfc.Tensor;

interface Case {
  label: string;
  kernel: string;
  inputs: () => Inputs;
  attrs: object;
}

function cases(): Case[] {
  const r = (shape: number[], seed: number) => tfc.randomNormal(shape, 0, 1, 'float32', seed);
  const conv = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
  const pool = { filterSize: 2, strides: 2, pad: 'valid' };
  return [
    { label: 'conv1 filter grad', kernel: tfc.Conv2DBackpropFilter, inputs: () => ({ x: r([64, 28, 28, 1], 1), dy: r([64, 28, 28, 32], 2) }), attrs: { ...conv, filterShape: [3, 3, 1, 32] } },
    { label: 'conv2 filter grad', kernel: tfc.Conv2DBackpropFilter, inputs: () => ({ x: r([64, 14, 14, 32], 3), dy: r([64, 14, 14, 64], 4) }), attrs: { ...conv, filterShape: [3, 3, 32, 64] } },
    { label: 'conv2 input grad', kernel: tfc.Conv2DBackpropInput, inputs: () => ({ dy: r([64, 14, 14, 64], 5), filter: r([3, 3, 32, 64], 6) }), attrs: { ...conv, inputShape: [64, 14, 14, 32] } },
    {
      label: 'pool1 grad',
      kernel: tfc.MaxPoolGrad,
      inputs: () => {
        const input = r([64, 28, 28, 32], 7);
        return { input, output: tfc.maxPool(input as tfc.Tensor4D, 2, 2, 'valid'), dy: r([64, 14, 14, 32], 8) };
      },
      attrs: pool,
    },
    {
      label: 'pool2 grad',
      kernel: tfc.MaxPoolGrad,
      inputs: () => {
        const input = r([64, 14, 14, 64], 9);
        return { input, output: tfc.maxPool(input as tfc.Tensor4D, 2, 2, 'valid'), dy: r([64, 7, 7, 64], 10) };
      },
      attrs: pool,
    },
    { label: 'conv1 bias grad', kernel: tfc.Sum, inputs: () => ({ x: r([64, 28, 28, 32], 11) }), attrs: { axis: [0, 1, 2], keepDims: false } },
    { label: 'conv1 bias add', kernel: tfc.Add, inputs: () => ({ a: r([64, 28, 28, 32], 12), b: r([32], 13) }), attrs: {} },
    { label: 'dense1 forward', kernel: tfc.BatchMatMul, inputs: () => ({ a: r([64, 3136], 14), b: r([3136, 128], 15) }), attrs: { transposeA: false, transposeB: false } },
    { label: 'dense1 input grad', kernel: tfc.BatchMatMul, inputs: () => ({ a: r([64, 128], 16), b: r([3136, 128], 17) }), attrs: { transposeA: false, transposeB: true } },
    { label: 'dense1 kernel grad', kernel: tfc.BatchMatMul, inputs: () => ({ a: r([64, 3136], 18), b: r([64, 128], 19) }), attrs: { transposeA: true, transposeB: false } },
  ];
}

function kernelBench(natives: Map<string, tfc.KernelConfig>): void {
  console.log('gradient kernels of the demo CNN, batch 64 (median CPU ms per call, fresh inputs)');
  for (const c of cases()) {
    tfc.setBackend('wasm');
    const inputs = c.inputs();
    const ours = perCall(inputs, (ins) => tfc.engine().runKernel(c.kernel, ins, c.attrs as tfc.NamedAttrMap) as Tensor);
    const native = natives.get(c.kernel);
    let versus: string;
    if (native) {
      const backend = tfc.engine().backend;
      const t = perCall(inputs, (ins) => native.kernelFunc({ inputs: ins, backend, attrs: c.attrs as tfc.NamedAttrMap }) as tfc.TensorInfo);
      versus = `wasm's own ${t.toFixed(2)} ms -> ${(t / ours).toFixed(1)}x`;
    } else {
      const values = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, { v: v.dataSync(), s: v.shape }]));
      tfc.setBackend('cpu');
      const onCpu = Object.fromEntries(Object.entries(values).map(([k, { v, s }]) => [k, tfc.tensor(v, s)])) as Inputs;
      const t = perCall(onCpu, (ins) => tfc.engine().runKernel(c.kernel, ins, c.attrs as tfc.NamedAttrMap) as Tensor, 1, 0);
      tfc.dispose(Object.values(onCpu));
      versus = `cpu backend ${t.toFixed(0)} ms (wasm has none) -> ${(t / ours).toFixed(0)}x`;
    }
    tfc.setBackend('wasm');
    tfc.dispose(Object.values(inputs));
    console.log(`  ${c.label.padEnd(19)} ${c.kernel.padEnd(21)} ours ${ours.toFixed(2).padStart(6)} ms | ${versus}`);
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
  for (let i = 0; i < 3; i++) {
    await model.trainOnBatch(xs, ys);
    tfc.tidy(() => (model.predict(xs, { batchSize: 64 }) as Tensor).dataSync());
  }
  // Interleaved, so both see the same load.
  const train: number[] = [];
  const infer: number[] = [];
  for (let i = 0; i < 15; i++) {
    let t0 = cpuMs();
    await model.trainOnBatch(xs, ys);
    train.push(cpuMs() - t0);
    t0 = cpuMs();
    tfc.tidy(() => (model.predict(xs, { batchSize: 64 }) as Tensor).dataSync());
    infer.push(cpuMs() - t0);
  }
  const med = (a: number[]) => a.sort((p, q) => p - q)[7];
  console.log('Fashion-MNIST CNN on wasm, batch 64 (median CPU ms per batch)');
  console.log(
    `  inference ${med(infer).toFixed(1)} ms (${((64 * 1000) / med(infer)).toFixed(0)} img/s), train step ${med(train).toFixed(1)} ms ` +
      `(${((64 * 1000) / med(train)).toFixed(0)} img/s) -> training at ${((100 * med(infer)) / med(train)).toFixed(0)}% of inference throughput`,
  );
  tfc.dispose([xs, ys]);
  model.dispose();
}

await tfc.setBackend('wasm');
await tfc.ready();
const natives = new Map<string, tfc.KernelConfig>();
for (const name of [tfc.Conv2DBackpropInput, tfc.MaxPoolGrad, tfc.Sum, tfc.Add, tfc.BatchMatMul]) {
  const k = tfc.getKernel(name, 'wasm');
  if (k) natives.set(name, k);
}
registerWasmGradientKernels();
console.log(`wasm simd=${tfc.env().getBool('WASM_HAS_SIMD_SUPPORT')} threads=${tfc.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`);
kernelBench(natives);
await trainingBench();
