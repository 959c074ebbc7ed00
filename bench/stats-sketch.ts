/**
 * Summary statistics throughput (run: `npx tsx bench/stats-sketch.ts`): nanoseconds per
 * (sample, channel) for ClassStats.add and MaxSketch.add at B = 64, C = 1000 over 200 batches of
 * per-sample maxima with a heavy tail (exponential x 10^U(-3, 2), 25 % zeros, 15 % negatives)
 * and 10 or 1000 classes, next to NeuronStats.add and the library's DDSketch.accept (one value
 * at a time, 1 channel's worth of values per sketch) measured in the same run. Median of 5, 3 rounds.
 */
import { DDSketch } from '@datadog/sketches-js';
import { ClassStats, MaxSketch, NeuronStats } from '../src/stats/index.js';
import type { LayerBatchStats } from '../src/stats/types.js';
import { mulberry32 } from '../src/train/prng.js';

const B = 64;
const C = 1000;
const BATCHES = 200;

function batch(seed: number): LayerBatchStats {
  const rnd = mulberry32(seed);
  const max = new Float32Array(B * C);
  const mean = new Float32Array(B * C);
  const sqMean = new Float32Array(B * C);
  for (let j = 0; j < max.length; j++) {
    const u = rnd();
    const e = -Math.log(1 - rnd()) * 10 ** (rnd() * 5 - 3);
    max[j] = u < 0.25 ? 0 : u < 0.4 ? -e : e;
    mean[j] = max[j] * 0.3;
    sqMean[j] = mean[j] * mean[j] * 1.5;
  }
  return { layer: 'conv', batch: B, channels: C, extent: [1, 7, 7], sampleIds: Int32Array.from({ length: B }, (_, i) => seed * B + i),
    max, min: new Float32Array(B * C), mean, sqMean, zeroFrac: new Float32Array(B * C), argmax: new Int32Array(B * C) };
}

const batches = Array.from({ length: BATCHES }, (_, i) => batch(i + 1));
const labels = (K: number) => batches.map((_, i) => Int32Array.from({ length: B }, (_, j) => (i * B + j) % K));
const labels10 = labels(10);
const labels1000 = labels(1000);

function nsPerValue(run: () => void, values: number): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return (times[2] * 1e6) / values;
}

const all = BATCHES * B * C;
const flat = batches.slice(0, 4).flatMap((b) => Array.from(b.max.subarray(0, B * C)));
console.log(`B=${B} C=${C}, ${BATCHES} batches; ns per (sample, channel)`);
for (let round = 1; round <= 3; round++) {
  const neuron = nsPerValue(() => {
    const s = new NeuronStats({ channels: C });
    for (const b of batches) s.add(b);
  }, all);
  const cls10 = nsPerValue(() => {
    const s = new ClassStats({ channels: C });
    batches.forEach((b, i) => s.add(b, labels10[i]));
  }, all);
  const cls1000 = nsPerValue(() => {
    const s = new ClassStats({ channels: C });
    batches.forEach((b, i) => s.add(b, labels1000[i]));
  }, all);
  const sketch = nsPerValue(() => {
    const s = new MaxSketch({ channels: C });
    for (const b of batches) s.add(b);
  }, all);
  const lib = nsPerValue(() => {
    const d = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of flat) d.accept(v);
  }, flat.length);
  console.log(
    `round ${round}: NeuronStats.add ${neuron.toFixed(2)}  ClassStats.add (10 classes) ${cls10.toFixed(2)}` +
      `  (1000 classes) ${cls1000.toFixed(2)}  MaxSketch.add ${sketch.toFixed(2)}  library DDSketch.accept ${lib.toFixed(2)}` +
      `  | MaxSketch / NeuronStats ${(sketch / neuron).toFixed(2)}, ClassStats(10) / NeuronStats ${(cls10 / neuron).toFixed(2)}`,
  );
}
