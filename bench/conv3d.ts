/**
 * Benchmark of neurolens' wasm video kernels (src/model/kernels/conv3d*.ts, max_pool3d*.ts) on
 * the demo two-stream network's shapes (src/video/model.ts: clips 8x32x32, 3 + 2 channels,
 * batch 16):
 *  1. each Conv3D / pooling kernel of a training step: ours vs tfjs-backend-wasm 4.22's own
 *     (captured before ours are registered);
 *  2. the whole network on wasm: one training step (trainOnBatch, Adam) and predict of 16 clips,
 *     first with wasm's own 3-D kernels swapped back in ("before"), then with ours.
 * Fresh inputs per call (see bench/kernels.ts) and process CPU time (medians), which the load of
 * other processes disturbs less than wall time. wasm's own kernels are slow, so they get fewer
 * calls. Run: npx tsx bench/conv3d.ts
 */
import { tfc } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { buildTwoStream } from '../src/video/model.js';
import { cpuMs, perCall, type Inputs } from './kernel-timing.js';

type Tensor = tfc.Tensor;

const median = (a: number[]) => a.sort((p, q) => p - q)[Math.floor(a.length / 2)];

interface Case {
  label: string;
  kernel: string;
  inputs: () => Inputs;
  attrs: object;
}

function cases(): Case[] {
  const r = (shape: number[], seed: number) => tfc.randomNormal(shape, 0, 1, 'float32', seed);
  const same = { strides: 1, pad: 'same' };
  const conv = { ...same, dataFormat: 'NDHWC', dilations: 1 };
  const pool = (f: number[]) => ({ filterSize: f, strides: f, pad: 'valid', dataFormat: 'NDHWC' });
  const x1 = [16, 8, 32, 32, 16];
  const x2 = [16, 8, 16, 16, 32];
  return [
    { label: 'mot_conv1 forward', kernel: tfc.Conv3D, inputs: () => ({ x: r([16, 8, 32, 32, 2], 1), filter: r([3, 3, 3, 2, 16], 2) }), attrs: conv },
    { label: 'app_conv2 forward', kernel: tfc.Conv3D, inputs: () => ({ x: r([16, 8, 16, 16, 16], 3), filter: r([1, 3, 3, 16, 32], 4) }), attrs: conv },
    { label: 'mot_conv2 forward', kernel: tfc.Conv3D, inputs: () => ({ x: r([16, 8, 16, 16, 16], 5), filter: r([3, 3, 3, 16, 32], 6) }), attrs: conv },
    { label: 'mot_conv2 filter grad', kernel: tfc.Conv3DBackpropFilterV2, inputs: () => ({ x: r([16, 8, 16, 16, 16], 7), dy: r([16, 8, 16, 16, 32], 8) }), attrs: { ...same, filterShape: [3, 3, 3, 16, 32] } },
    { label: 'mot_conv2 input grad', kernel: tfc.Conv3DBackpropInputV2, inputs: () => ({ dy: r([16, 8, 16, 16, 32], 9), filter: r([3, 3, 3, 16, 32], 10) }), attrs: { ...same, inputShape: [16, 8, 16, 16, 16] } },
    { label: 'app_conv2 filter grad', kernel: tfc.Conv3DBackpropFilterV2, inputs: () => ({ x: r([16, 8, 16, 16, 16], 11), dy: r([16, 8, 16, 16, 32], 12) }), attrs: { ...same, filterShape: [1, 3, 3, 16, 32] } },
    { label: 'pool1 [1,2,2]', kernel: tfc.MaxPool3D, inputs: () => ({ x: r(x1, 13) }), attrs: pool([1, 2, 2]) },
    { label: 'pool1 grad', kernel: tfc.MaxPool3DGrad, inputs: () => ({ input: r(x1, 14), dy: r([16, 8, 16, 16, 16], 15) }), attrs: pool([1, 2, 2]) },
    { label: 'mot_pool2 [2,2,2]', kernel: tfc.MaxPool3D, inputs: () => ({ x: r(x2, 16) }), attrs: pool([2, 2, 2]) },
    { label: 'mot_pool2 grad', kernel: tfc.MaxPool3DGrad, inputs: () => ({ input: r(x2, 17), dy: r([16, 4, 8, 8, 32], 18) }), attrs: pool([2, 2, 2]) },
  ];
}

const KERNELS = [tfc.Conv3D, tfc.Conv3DBackpropFilterV2, tfc.Conv3DBackpropInputV2, tfc.MaxPool3D, tfc.MaxPool3DGrad];

function kernelBench(natives: Map<string, tfc.KernelConfig>): void {
  console.log('3-D kernels of the two-stream network, batch 16 (median CPU ms per call, fresh inputs)');
  for (const c of cases()) {
    const inputs = c.inputs();
    const ours = perCall(inputs, (ins) => tfc.engine().runKernel(c.kernel, ins, c.attrs as tfc.NamedAttrMap) as Tensor, 5, 1);
    const native = natives.get(c.kernel)!;
    const backend = tfc.engine().backend;
    const slow = c.kernel.startsWith('Conv3D');
    const t = perCall(inputs, (ins) => native.kernelFunc({ inputs: ins, backend, attrs: c.attrs as tfc.NamedAttrMap }) as tfc.TensorInfo, slow ? 1 : 3, 0);
    tfc.dispose(Object.values(inputs));
    console.log(`  ${c.label.padEnd(22)} ${c.kernel.padEnd(23)} ours ${ours.toFixed(1).padStart(6)} ms | wasm's own ${t.toFixed(1).padStart(7)} ms -> ${(t / ours).toFixed(1)}x`);
  }
}

/** Swaps the registered wasm kernels for `configs` (by name); returns the ones it removed. */
function swap(configs: Map<string, tfc.KernelConfig>): Map<string, tfc.KernelConfig> {
  const old = new Map<string, tfc.KernelConfig>();
  for (const [name, config] of configs) {
    old.set(name, tfc.getKernel(name, 'wasm')!);
    tfc.unregisterKernel(name, 'wasm');
    tfc.registerKernel(config);
  }
  return old;
}

async function modelBench(label: string, steps: number): Promise<{ train: number; predict: number }> {
  const model = buildTwoStream({ frames: 8, height: 32, width: 32, appearance: 3, motion: 2, classes: 8 }, 1);
  model.compile({ optimizer: tfc.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const xs = tfc.randomUniform([16, 8, 32, 32, 5], 0, 1, 'float32', 4);
  const ys = tfc.oneHot(tfc.randomUniform([16], 0, 8, 'int32', 5) as tfc.Tensor1D, 8);
  await model.trainOnBatch(xs, ys); // warm-up (XNNPACK operators, optimizer slots)
  const train: number[] = [];
  const predict: number[] = [];
  for (let i = 0; i < steps; i++) {
    let t0 = cpuMs();
    await model.trainOnBatch(xs, ys);
    train.push(cpuMs() - t0);
    t0 = cpuMs();
    tfc.tidy(() => (model.predict(xs, { batchSize: 16 }) as Tensor).dataSync());
    predict.push(cpuMs() - t0);
  }
  tfc.dispose([xs, ys]);
  model.dispose();
  const res = { train: median(train), predict: median(predict) };
  console.log(`  ${label.padEnd(32)} train step ${res.train.toFixed(0).padStart(6)} ms   predict 16 clips ${res.predict.toFixed(0).padStart(6)} ms`);
  return res;
}

await tfc.setBackend('wasm');
await tfc.ready();
const natives = new Map<string, tfc.KernelConfig>();
for (const name of KERNELS) natives.set(name, tfc.getKernel(name, 'wasm')!);
registerWasmGradientKernels();
console.log(`wasm simd=${tfc.env().getBool('WASM_HAS_SIMD_SUPPORT')} threads=${tfc.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`);
kernelBench(natives);
console.log('two-stream network on wasm, batch 16 (median CPU ms)');
const ours = swap(natives);
const before = await modelBench("wasm's own 3-D kernels", 1);
swap(ours);
const after = await modelBench('neurolens 3-D kernels', 5);
console.log(`  -> training step ${(before.train / after.train).toFixed(1)}x faster, predict ${(before.predict / after.predict).toFixed(1)}x faster`);
