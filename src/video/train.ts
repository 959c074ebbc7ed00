/**
 * Training the demo two-stream network (model.ts) on the generated action dataset
 * (`neurolens make-actions`), with the demo CNN's training loop (train/run-loop.ts: trainStep,
 * ScheduledAdam, checkpoint series, metrics.jsonl). Clips are decoded once by the pipeline's own
 * clip decoder, so training sees exactly the tensors `neurolens run` feeds. Each checkpoint records test accuracy;
 * the last one also the accuracy with each stream ablated (its input channels zeroed), per class,
 * which shows which classes need the motion stream.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf, tfc, tfl } from '../model/tf.js';
import { setupBackend, type BackendChoice } from '../model/backend.js';
import { NeurolensError } from '../errors.js';
import { crossEntropy } from '../train/step.js';
import { learningRateAt } from '../train/schedule.js';
import { trainSeries, type TrainEvent } from '../train/run-loop.js';
import type { Preprocess } from '../sources/types.js';
import { buildTwoStream } from './model.js';
import { clipBatch, loadClipSet, type Ablation, type ClipSet } from './clip-set.js';

export interface VideoTrainOptions {
  /** Dataset directory written by make-actions (manifest.csv, classes.json). */
  data: string;
  out: string;
  epochs: number;
  batchSize: number;
  seed: number;
  learningRate: number;
  frames: number;
  stride: number;
  size: number;
  motion: 'flow' | 'diff';
  clipsPerVideo: number;
  checkpointEvery?: number;
  backend: BackendChoice;
  overwrite: boolean;
}

export const VIDEO_TRAIN_DEFAULTS: Omit<VideoTrainOptions, 'out' | 'data'> = {
  epochs: 12,
  batchSize: 16,
  seed: 1,
  learningRate: 2e-3,
  frames: 8,
  stride: 2,
  size: 32,
  motion: 'flow',
  clipsPerVideo: 2,
  backend: 'wasm',
  overwrite: false,
};

/** Preprocessing of the demo network: RGB / 255, flow in pixels per frame. */
export function videoPreprocess(o: Pick<VideoTrainOptions, 'size' | 'motion'>): Preprocess {
  return { height: o.size, width: o.size, channels: 3, scale: 1 / 255, mean: [0], std: [1], fit: 'stretch', motion: o.motion, motion_scale: 1 };
}

export interface Accuracy {
  accuracy: number;
  loss: number;
  /** Accuracy per class, in label order. */
  perClass: number[];
  /** confusion[true][pred] counts. */
  confusion: number[][];
}

export function evaluateClips(model: tfl.LayersModel, set: ClipSet, classes: number, ablation: Ablation = 'none', batch = 32): Accuracy {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  for (let start = 0; start < set.n; start += batch) {
    const count = Math.min(batch, set.n - start);
    const { x, labels } = clipBatch(set, null, start, count, 3, ablation);
    try {
      const [pred, loss] = tf.tidy(() => {
        const probs = model.predict(x) as tfc.Tensor2D;
        return [tf.argMax(probs, -1), crossEntropy(probs, labels)];
      });
      const p = pred.dataSync();
      lossSum += loss.dataSync()[0] * count;
      for (let b = 0; b < count; b++) confusion[set.labels[start + b]][p[b]]++;
      tf.dispose([pred, loss]);
    } finally {
      tf.dispose([x, labels]);
    }
  }
  const correct = confusion.reduce((n, row, i) => n + row[i], 0);
  const perClass = confusion.map((row, i) => row[i] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  return { accuracy: correct / set.n, loss: lossSum / set.n, perClass, confusion };
}

export interface VideoTrainSummary {
  out: string;
  backend: string;
  steps: number;
  classes: string[];
  trainClips: number;
  testClips: number;
  checkpoints: string[];
  final: Accuracy;
  /** Same checkpoint with the appearance / motion input channels zeroed. */
  withoutAppearance: Accuracy;
  withoutMotion: Accuracy;
  seconds: number;
  decodeSeconds: number;
  trainClipsPerSec: number;
}

function readClasses(data: string): string[] {
  const file = join(data, 'classes.json');
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { classes: ({ name: string } | string)[] };
    return j.classes.map((c) => (typeof c === 'string' ? c : c.name));
  } catch (e) {
    throw new NeurolensError('BAD_INPUT', `${file}: cannot read the class list (${(e as Error).message}); write the dataset with 'neurolens make-actions --out ${data}'`, { cause: e });
  }
}

export async function trainVideoDemo(o: VideoTrainOptions, onEvent: (e: TrainEvent) => void = () => {}): Promise<VideoTrainSummary> {
  const t0 = performance.now();
  const out = resolve(o.out);
  const data = resolve(o.data);
  const backend = await setupBackend(o.backend);
  const classes = readClasses(data);
  const pre = videoPreprocess(o);
  const src = (split: string, clips: number) => ({ kind: 'video' as const, manifest: 'manifest.csv', splits: [split], frames: o.frames, stride: o.stride, clips_per_video: clips });
  const [train, test] = [await loadClipSet(src('train', o.clipsPerVideo), data, pre, { classes }), await loadClipSet(src('test', 1), data, pre, { classes })];
  for (const s of [train, test]) {
    if (s.errors.length) throw new NeurolensError('BAD_INPUT', `${s.errors.length} clip(s) of the training data failed to decode, e.g. ${s.errors[0].uri}: ${s.errors[0].reason}`);
  }
  const decodeSeconds = (performance.now() - t0) / 1000;
  return trainSeries({ ...o, out, backend: backend.name, trainSamples: train.n, testSamples: test.n, checkpoints: 8, onEvent }, {
    model: () => buildTwoStream({ frames: o.frames, height: o.size, width: o.size, appearance: 3, motion: o.motion === 'flow' ? 2 : 1, classes: classes.length }, o.seed),
    learningRate: (step, totalSteps) => learningRateAt('cosine', o.learningRate, step, totalSteps),
    batchAt: (order, start, count) => clipBatch(train, order, start, count, 3),
    evaluate: (model) => evaluateClips(model, test, classes.length),
    metadata: (ev, rec) => ({ dataset: 'actions', classes, seed: o.seed, epoch: rec.epoch, test_accuracy: ev.accuracy, frames: o.frames, stride: o.stride, motion: o.motion }),
    // Elapsed time and `seconds` include decoding the clips.
    t0,
    summarize: (model, run) => ({
      out,
      backend: backend.name,
      steps: run.plan.totalSteps,
      classes,
      trainClips: train.n,
      testClips: test.n,
      checkpoints: run.checkpoints,
      final: run.final,
      withoutAppearance: evaluateClips(model, test, classes.length, 'appearance'),
      withoutMotion: evaluateClips(model, test, classes.length, 'motion'),
      seconds: (performance.now() - t0) / 1000,
      decodeSeconds,
      trainClipsPerSec: run.samplesPerSec,
    }),
  });
}
