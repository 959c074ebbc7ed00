/**
 * Training the demo two-stream network (model.ts) on the generated action dataset
 * (`neurolens make-actions`), with neurolens' wasm training loop pieces (trainStep, ScheduledAdam,
 * checkpoint series, metrics.jsonl). Clips are decoded once by the pipeline's own clip decoder, so
 * training sees exactly the tensors `neurolens run` feeds. Each checkpoint records test accuracy;
 * the last one also the accuracy with each stream ablated (its input channels zeroed), per class,
 * which shows which classes need the motion stream.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf, tfc, tfl } from '../model/tf.js';
import { setupBackend, type BackendChoice } from '../model/backend.js';
import { saveModelDir } from '../model/io.js';
import { NeurolensError } from '../errors.js';
import { epochOrder } from '../train/prng.js';
import { crossEntropy, trainStep } from '../train/step.js';
import { MetricsLog, type MetricsRecord } from '../train/metrics.js';
import { checkpointName, checkpointSteps, prepareSeriesDir } from '../train/checkpoint.js';
import { ScheduledAdam, learningRateAt } from '../train/schedule.js';
import type { TrainEvent } from '../train/loop.js';
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
  mkdirSync(out, { recursive: true });
  prepareSeriesDir(out, o.overwrite);
  const metrics = MetricsLog.create(join(out, 'metrics.jsonl'));
  const batch = Math.min(o.batchSize, train.n);
  const stepsPerEpoch = Math.floor(train.n / batch);
  const totalSteps = stepsPerEpoch * o.epochs;
  const every = o.checkpointEvery ?? Math.max(1, Math.ceil(totalSteps / 8));
  const saveAt = new Set(checkpointSteps(totalSteps, every));
  onEvent({ type: 'start', backend: backend.name, trainSamples: train.n, testSamples: test.n, totalSteps, stepsPerEpoch, checkpointEvery: every });

  const model = buildTwoStream({ frames: o.frames, height: o.size, width: o.size, appearance: 3, motion: o.motion === 'flow' ? 2 : 1, classes: classes.length }, o.seed);
  const optimizer = new ScheduledAdam(o.learningRate);
  const checkpoints: string[] = [];
  let window = { loss: 0, correct: 0, seen: 0, steps: 0 };
  let trainMs = 0;
  let last: Accuracy | null = null;
  const checkpoint = async (step: number) => {
    const ev = evaluateClips(model, test, classes.length);
    last = ev;
    const name = checkpointName(step);
    const rec: MetricsRecord = {
      step,
      epoch: step / stepsPerEpoch,
      loss: window.steps ? window.loss / window.steps : null,
      train_accuracy: window.seen ? window.correct / window.seen : null,
      test_accuracy: ev.accuracy,
      test_loss: ev.loss,
      test_samples: test.n,
      images_seen: step * batch,
      learning_rate: learningRateAt('cosine', o.learningRate, step, totalSteps),
      elapsed_s: (performance.now() - t0) / 1000,
      checkpoint: name,
    };
    await saveModelDir(model, join(out, name), {
      step,
      metadata: { dataset: 'actions', classes, seed: o.seed, epoch: rec.epoch, test_accuracy: ev.accuracy, frames: o.frames, stride: o.stride, motion: o.motion },
    });
    metrics.append(rec);
    checkpoints.push(name);
    window = { loss: 0, correct: 0, seen: 0, steps: 0 };
    onEvent({ type: 'checkpoint', dir: join(out, name), ...rec });
  };
  try {
    await checkpoint(0);
    let step = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = epochOrder(train.n, o.seed, epoch);
      for (let s = 0; s < stepsPerEpoch; s++) {
        const s0 = performance.now();
        const lr = learningRateAt('cosine', o.learningRate, step, totalSteps);
        optimizer.setLearningRate(lr);
        const { x, labels } = clipBatch(train, order, s * batch, batch, 3);
        let r;
        try {
          r = trainStep(model, optimizer, x as tfc.Tensor4D, labels);
        } finally {
          tf.dispose([x, labels]);
        }
        trainMs += performance.now() - s0;
        step++;
        if (!Number.isFinite(r.loss)) throw new NeurolensError('INTERNAL', `training diverged: loss is ${r.loss} at step ${step}`);
        window.loss += r.loss;
        window.correct += r.correct;
        window.seen += batch;
        window.steps++;
        const msPerStep = trainMs / step;
        onEvent({ type: 'step', step, totalSteps, epoch: step / stepsPerEpoch, loss: r.loss, learningRate: lr, imagesPerSec: (batch * 1000) / msPerStep, etaSec: ((totalSteps - step) * msPerStep) / 1000 });
        if (saveAt.has(step)) await checkpoint(step);
      }
    }
    return {
      out,
      backend: backend.name,
      steps: totalSteps,
      classes,
      trainClips: train.n,
      testClips: test.n,
      checkpoints,
      final: last!,
      withoutAppearance: evaluateClips(model, test, classes.length, 'appearance'),
      withoutMotion: evaluateClips(model, test, classes.length, 'motion'),
      seconds: (performance.now() - t0) / 1000,
      decodeSeconds,
      trainClipsPerSec: trainMs > 0 ? (totalSteps * batch * 1000) / trainMs : 0,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
