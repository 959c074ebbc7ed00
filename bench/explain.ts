/**
 * Time per image of the attribution methods on wasm: occlusion (patch 8, stride 4), Grad-CAM and
 * integrated gradients (50 steps), plus saliency for scale, on the 28x28 demo CNN and the
 * 224x224 MobileNetV2 (exportNsfwMobilenet). Also each method's time as a multiple of one plain
 * forward pass (model.predict, batch 1) measured in the same run.
 *
 *   npx tsx bench/explain.ts [--images N] [--skip-mobilenet]
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { setupBackend } from '../src/model/backend.js';
import { tf, type tfc, type tfl } from '../src/model/tf.js';
import { loadModelDir } from '../src/model/io.js';
import { exportNsfwMobilenet } from '../src/model/nsfwjs.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { mulberry32 } from '../src/train/prng.js';
import { Objective, gradCam, integratedGradients, occlusion, saliency } from '../src/explain/index.js';

const args = process.argv.slice(2);
const images = Number(args[args.indexOf('--images') + 1] ?? 0) || 3;
const skipMobilenet = args.includes('--skip-mobilenet');

function randomImage(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r());
}

function time(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
}

async function bench(name: string, model: tfl.LayersModel, cls: number, n: number): Promise<void> {
  const shape = (model.inputs[0]!.shape as number[]).slice(1);
  const per = shape.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: n }, (_, i) => randomImage(per, i + 1));
  const prob = Objective.create(model, { kind: 'class', index: cls, score: 'prob' });
  const logit = Objective.create(model, { kind: 'class', index: cls, score: 'logit' });
  // Warm-up (kernel set-up, heap growth) outside the timings.
  tf.tidy(() => (model.predict(tf.tensor4d(xs[0]!, [1, ...shape] as [number, number, number, number])) as tfc.Tensor).dataSync());
  saliency(logit, xs[0]!);
  const forward = xs.map((x) => time(() => tf.tidy(() => (model.predict(tf.tensor4d(x, [1, ...shape] as [number, number, number, number])) as tfc.Tensor).dataSync()))).reduce((a, b) => a + b) / n;
  const rows: [string, number][] = [];
  const each = (label: string, f: (x: Float32Array) => unknown) => {
    const s = xs.map((x) => time(() => f(x))).reduce((a, b) => a + b) / n;
    rows.push([label, s]);
    console.log(`  ${label.padEnd(34)} ${s.toFixed(3).padStart(9)} s/image  ${(s / forward).toFixed(1).padStart(8)} x forward`);
  };
  console.log(`${name}: input ${shape.join('x')}, ${n} image(s), forward (predict, batch 1) ${(forward * 1000).toFixed(1)} ms`);
  each('occlusion patch 8 stride 4', (x) => occlusion(prob, x, { patch: 8, stride: 4 }));
  each('saliency (vanilla gradient)', (x) => saliency(logit, x));
  each('Grad-CAM (default layer)', (x) => gradCam(logit, x));
  each('integrated gradients 50 steps', (x) => integratedGradients(logit, x, { steps: 50 }));
  const ig = integratedGradients(logit, xs[0]!, { steps: 50 });
  console.log(`  (occlusion grid ${Math.floor((shape[0]! - 8) / 4) + 1}^2 positions; IG completeness gap ${(Math.abs(ig.delta / (ig.score - ig.baselineScore)) * 100).toFixed(3)}%)`);
}

const info = await setupBackend('wasm');
console.log(`backend ${info.name} (simd ${info.simd}, threads ${info.threads}); ${os.cpus().length} cpus; load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
const demo = buildDemoCnn(1);
await bench('demo CNN (Fashion-MNIST)', demo, 3, images);
demo.dispose();
if (!skipMobilenet) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nl-bench-explain-'));
  try {
    await exportNsfwMobilenet(path.join(dir, 'mobilenet'));
    const loaded = await loadModelDir(path.join(dir, 'mobilenet'));
    await bench('MobileNetV2 (nsfwjs)', loaded.model as tfl.LayersModel, 2, 1);
    loaded.model.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(`load average after: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
