/**
 * Activation maximization cost per Adam step (src/explain/actmax.ts) on the demo CNN (28x28x1,
 * a conv2 unit) and on nsfwjs' MobileNetV2 (224x224x3, a unit of block_6_expand and of the last
 * conv Conv_1), Fourier and pixel parameterizations, default transformations (roll, zoom,
 * rotation), on the given backend (default wasm). Also the cost of one forward pass to the layer
 * (a sub-model predict), so each step can be read as "k forwards". Process CPU time, which other
 * processes on the machine disturb less than wall time.
 *
 *   npx tsx bench/actmax.ts [--backend wasm|cpu] [--steps N] [--skip-mobilenet]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { tf, tfc } from '../src/model/tf.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { exportNsfwMobilenet } from '../src/model/nsfwjs.js';
import { loadModelDir } from '../src/model/io.js';
import type { TapTarget } from '../src/model/taps.js';
import { actmax } from '../src/explain/actmax.js';
import { resolveUnit } from '../src/explain/actmax-objective.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const backend = opt('--backend', 'wasm') as BackendChoice;
const steps = Number(opt('--steps', '16'));
const skipMobilenet = args.includes('--skip-mobilenet');

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms of one forward pass to the layer (median of 5, after 1 warm-up). */
function forwardMs(target: TapTarget, layer: string): number {
  const unit = resolveUnit(target, layer, 0);
  const { height, width, channels } = unit.input;
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t0 = cpuMs();
    tf.tidy(() => unit.layerOutput(tf.randomUniform([1, height, width, channels], 0, 1, 'float32', i)).dataSync());
    if (i > 0) times.push(cpuMs() - t0);
  }
  return times.sort((a, b) => a - b)[2]!;
}

async function bench(name: string, target: TapTarget, layer: string, channel: number): Promise<void> {
  const fwd = forwardMs(target, layer);
  for (const param of ['fourier', 'pixel'] as const) {
    await actmax(target, { layer, channel, steps: 2, param }); // warm-up: kernels, DFT matrices
    const before = tfc.memory().numTensors;
    const t0 = cpuMs();
    const r = await actmax(target, { layer, channel, steps, param, seed: 1 });
    const perStep = (cpuMs() - t0) / (steps + 1); // + the final measurement and the noise batch, about one step
    console.log(
      `${name} ${layer}:${channel} ${param}: ${perStep.toFixed(1)} ms/step = ${(perStep / fwd).toFixed(1)} forwards ` +
        `(forward ${fwd.toFixed(1)} ms); activation ${r.activation.mean.toPrecision(3)} vs noise ${r.noise.mean.toPrecision(3)} ` +
        `after ${steps} steps; tensors ${before} -> ${tfc.memory().numTensors}`,
    );
  }
}

const info = await setupBackend(backend);
console.log(`backend ${info.name}; ${steps} steps per run`);
const demo = buildDemoCnn(1);
await bench('demo CNN', { kind: 'layers', model: demo }, 'conv2', 3);
demo.dispose();
if (!skipMobilenet) {
  const exported = await exportNsfwMobilenet(join(tmpdir(), 'neurolens-bench', 'mobilenet_v2'));
  const loaded = await loadModelDir(exported.dir);
  try {
    await bench('MobileNetV2', loaded, 'block_6_expand', 10);
    await bench('MobileNetV2', loaded, 'Conv_1', 100);
  } finally {
    loaded.model.dispose();
  }
}
