/**
 * The training loop shared by the demo trainers (loop.ts: the CNN on Fashion-MNIST;
 * video/train.ts: the two-stream network on clips). Each trainer brings its model, its batches
 * and its evaluator; the loop owns what must be the same for both: the seeded epoch order, the
 * learning-rate schedule per step, the checkpoint series (untrained step 0, every N steps, the
 * last step: evaluate, save the model dir with metadata, append to metrics.jsonl), the training
 * statistics between checkpoints, the divergence check and the progress events.
 *
 * The order of operations is part of the contract: a seed gives byte-identical checkpoints
 * (test/train.test.ts), so batches, steps and evaluations run in exactly this sequence.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tf, tfc, tfl } from '../model/tf.js';
import { saveModelDir } from '../model/io.js';
import { NeurolensError } from '../errors.js';
import { epochOrder } from './prng.js';
import { trainStep } from './step.js';
import { MetricsLog, type MetricsRecord } from './metrics.js';
import { checkpointName, checkpointSteps, prepareSeriesDir } from './checkpoint.js';
import { ScheduledAdam } from './schedule.js';

export type TrainEvent =
  | { type: 'start'; backend: string; trainSamples: number; testSamples: number; totalSteps: number; stepsPerEpoch: number; checkpointEvery: number }
  | { type: 'step'; step: number; totalSteps: number; epoch: number; loss: number; learningRate: number; imagesPerSec: number; etaSec: number }
  | ({ type: 'checkpoint'; dir: string } & MetricsRecord);

/** Steps and checkpoints of a run. */
export interface RunPlan {
  /** Samples per step (the requested batch size, at most the training set). */
  batch: number;
  stepsPerEpoch: number;
  totalSteps: number;
  checkpointEvery: number;
}

/**
 * The run's steps: the last partial batch of an epoch is dropped (fixed shapes, and every step
 * weighs the same); `checkpointEvery` defaults to about `checkpoints` evenly spaced ones.
 */
function planRun(samples: number, batchSize: number, epochs: number, checkpointEvery: number | undefined, checkpoints: number): RunPlan {
  const batch = Math.min(batchSize, samples);
  const stepsPerEpoch = Math.floor(samples / batch);
  const totalSteps = stepsPerEpoch * epochs;
  return { batch, stepsPerEpoch, totalSteps, checkpointEvery: checkpointEvery ?? Math.max(1, Math.ceil(totalSteps / checkpoints)) };
}

/** Creates `out` for a new checkpoint series (refusing to mix with an old one) and starts its metrics log. */
function openSeries(out: string, overwrite: boolean): MetricsLog {
  mkdirSync(out, { recursive: true });
  prepareSeriesDir(out, overwrite);
  return MetricsLog.create(join(out, 'metrics.jsonl'));
}

/** What the loop needs from an evaluation on the test split. */
export interface LoopEval {
  accuracy: number;
  loss: number;
}

/** The run: where it writes, its sizes and its schedule. */
export interface SeriesOptions {
  /** The series directory (resolved). */
  out: string;
  overwrite: boolean;
  /** Backend name, for the start event. */
  backend: string;
  epochs: number;
  batchSize: number;
  /** Seeds the epoch order. */
  seed: number;
  /** Initial learning rate (the optimizer's). */
  learningRate: number;
  checkpointEvery?: number;
  /** About how many checkpoints when checkpointEvery is not given. */
  checkpoints: number;
  trainSamples: number;
  testSamples: number;
  onEvent: (e: TrainEvent) => void;
}

/** What a trainer brings: its model, batches, schedule, evaluation and summary. */
export interface SeriesTrainer<E extends LoopEval, S> {
  /** Builds the (seeded) model to train; the loop disposes it. */
  model: () => tfl.LayersModel;
  /** Learning rate at a step (before the step is taken). */
  learningRate: (step: number, totalSteps: number) => number;
  /** Training batch of `count` samples from position `start` of the epoch's order; the loop disposes it. */
  batchAt: (order: Int32Array, start: number, count: number) => { x: tfc.Tensor; labels: tfc.Tensor1D };
  /** Test-split evaluation of the model's current weights. */
  evaluate: (model: tfl.LayersModel) => E;
  /** The `neurolens` metadata of a checkpoint's model.json. */
  metadata: (ev: E, rec: MetricsRecord) => Record<string, unknown>;
  /** Start of the run's clock (`elapsed_s`); default: when the model and optimizer are built. */
  t0?: number;
  /** The trainer's result, from the trained model (still alive: disposed after this returns). */
  summarize: (model: tfl.LayersModel, run: LoopResult<E>) => S;
}

export interface LoopResult<E> {
  plan: RunPlan;
  checkpoints: string[];
  /** Evaluation at the last checkpoint. */
  final: E;
  t0: number;
  /** Training throughput, excluding evaluation and checkpoint writing. */
  samplesPerSec: number;
  /** tf.memory().numTensors after the first step (once Adam has created its moment variables). */
  tensorsAfterFirstStep: number;
}

/**
 * Trains a model as a checkpoint series: opens the series directory, emits the start event,
 * builds the model and its ScheduledAdam, runs the loop and returns the trainer's summary.
 */
export async function trainSeries<E extends LoopEval, S>(o: SeriesOptions, trainer: SeriesTrainer<E, S>): Promise<S> {
  const metrics = openSeries(o.out, o.overwrite);
  const plan = planRun(o.trainSamples, o.batchSize, o.epochs, o.checkpointEvery, o.checkpoints);
  const { totalSteps, stepsPerEpoch, checkpointEvery } = plan;
  o.onEvent({ type: 'start', backend: o.backend, trainSamples: o.trainSamples, testSamples: o.testSamples, totalSteps, stepsPerEpoch, checkpointEvery });
  const model = trainer.model();
  const optimizer = new ScheduledAdam(o.learningRate);
  const t0 = trainer.t0 ?? performance.now();
  try {
    const run = await runLoop(o, trainer, { metrics, plan, model, optimizer, t0 });
    return trainer.summarize(model, run);
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

interface LoopState {
  metrics: MetricsLog;
  plan: RunPlan;
  model: tfl.LayersModel;
  optimizer: ScheduledAdam;
  t0: number;
}

async function runLoop<E extends LoopEval, S>(o: SeriesOptions, trainer: SeriesTrainer<E, S>, state: LoopState): Promise<LoopResult<E>> {
  const { metrics, plan, model, optimizer, t0 } = state;
  const { batch, stepsPerEpoch, totalSteps } = plan;
  const onEvent = o.onEvent;
  const learningRate = (step: number) => trainer.learningRate(step, totalSteps);
  const saveAt = new Set(checkpointSteps(totalSteps, plan.checkpointEvery));
  let trainMs = 0;
  let evalMs = 0;
  let evals = 0;
  let window = { loss: 0, correct: 0, seen: 0, steps: 0 };
  const checkpoints: string[] = [];
  let final: E | null = null;
  let tensorsAfterFirstStep = 0;

  const checkpoint = async (step: number): Promise<void> => {
    const e0 = performance.now();
    const ev = trainer.evaluate(model);
    const name = checkpointName(step);
    const rec: MetricsRecord = {
      step,
      epoch: step / stepsPerEpoch,
      loss: window.steps ? window.loss / window.steps : null,
      train_accuracy: window.seen ? window.correct / window.seen : null,
      test_accuracy: ev.accuracy,
      test_loss: ev.loss,
      test_samples: o.testSamples,
      images_seen: step * batch,
      learning_rate: learningRate(step),
      elapsed_s: (performance.now() - t0) / 1000,
      checkpoint: name,
    };
    await saveModelDir(model, join(o.out, name), { step, metadata: trainer.metadata(ev, rec) });
    metrics.append(rec);
    checkpoints.push(name);
    final = ev;
    window = { loss: 0, correct: 0, seen: 0, steps: 0 };
    evalMs += performance.now() - e0;
    evals++;
    onEvent({ type: 'checkpoint', dir: join(o.out, name), ...rec });
  };

  await checkpoint(0);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const order = epochOrder(o.trainSamples, o.seed, epoch);
    for (let s = 0; s < stepsPerEpoch; s++) {
      const s0 = performance.now();
      const lr = learningRate(step);
      optimizer.setLearningRate(lr);
      const { x, labels } = trainer.batchAt(order, s * batch, batch);
      let r;
      try {
        // trainStep is rank-agnostic; clips [B, T, H, W, C] pass as well as images.
        r = trainStep(model, optimizer, x as tfc.Tensor4D, labels);
      } finally {
        tf.dispose([x, labels]);
      }
      trainMs += performance.now() - s0;
      step++;
      if (step === 1) tensorsAfterFirstStep = tf.memory().numTensors;
      if (!Number.isFinite(r.loss)) throw new NeurolensError('INTERNAL', `training diverged: loss is ${r.loss} at step ${step}`);
      window.loss += r.loss;
      window.correct += r.correct;
      window.seen += batch;
      window.steps++;
      const msPerStep = trainMs / step;
      const evalsLeft = [...saveAt].filter((c) => c > step).length;
      onEvent({
        type: 'step',
        step,
        totalSteps,
        epoch: step / stepsPerEpoch,
        loss: r.loss,
        learningRate: lr,
        imagesPerSec: (batch * 1000) / msPerStep,
        etaSec: ((totalSteps - step) * msPerStep + (evals ? (evalsLeft * evalMs) / evals : 0)) / 1000,
      });
      if (saveAt.has(step)) await checkpoint(step);
    }
  }
  return {
    plan,
    checkpoints,
    // Set by checkpoint(), which ran at least once (step 0); TS does not follow the closure.
    final: (final as E | null)!,
    t0,
    samplesPerSec: trainMs > 0 ? (totalSteps * batch * 1000) / trainMs : 0,
    tensorsAfterFirstStep,
  };
}
