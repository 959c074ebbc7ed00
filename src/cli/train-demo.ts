import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { TRAIN_DEFAULTS, trainDemo } from '../train/loop.js';
import { TrainProgress } from '../train/progress.js';
import { LR_SCHEDULES, type LrSchedule } from '../train/schedule.js';

function int(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`--${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number, got '${v}'`);
  return n;
}

interface TrainDemoOpts {
  out: string;
  data: string;
  epochs: number;
  batchSize: number;
  seed: number;
  lr: number;
  lrSchedule: LrSchedule;
  checkpointEvery?: number;
  limit?: number;
  testLimit?: number;
  backend: BackendChoice;
  overwrite?: boolean;
  json?: boolean;
}

/**
 * `neurolens train-demo`: trains the demo CNN on Fashion-MNIST and writes a checkpoint series
 * (`<out>/ckpt-NNNNNN/`) plus `<out>/metrics.jsonl`, the input for `neurolens run` over training.
 */
export function registerTrainDemo(program: Command): void {
  const d = TRAIN_DEFAULTS;
  program
    .command('train-demo')
    .description('train the demo CNN on Fashion-MNIST and write a checkpoint series (ckpt-NNNNNN/) with metrics.jsonl')
    .option('--out <dir>', 'output directory for the checkpoint series', 'checkpoints/fashion-mnist')
    .option('--data <dir>', 'directory with the Fashion-MNIST IDX files (.gz or raw)', d.dataDir)
    .option('--epochs <n>', 'passes over the training set', int('epochs', 1), d.epochs)
    .option('--batch-size <n>', 'images per training step', int('batch-size', 1), d.batchSize)
    .option('--seed <n>', 'seed for weight init and data order (same seed => same checkpoints)', int('seed', 0), d.seed)
    .option('--lr <x>', 'initial Adam learning rate', positive, d.learningRate)
    .option('--lr-schedule <name>', `learning-rate schedule over the run: ${LR_SCHEDULES.join('|')}`, d.lrSchedule)
    .option('--checkpoint-every <n>', 'steps between checkpoints (default: total steps / 10)', int('checkpoint-every', 1))
    .option('--limit <n>', 'train on the first n training images only', int('limit', 1))
    .option('--test-limit <n>', 'evaluate on the first n test images only (default: all 10000)', int('test-limit', 1))
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, d.backend)
    .option('--overwrite', 'replace an existing checkpoint series in --out')
    .option('--json', 'NDJSON events and a final summary on stdout')
    .action(async (opts: TrainDemoOpts) => {
      const progress = new TrainProgress(opts.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines');
      try {
        const summary = await trainDemo(
          {
            out: opts.out,
            dataDir: opts.data,
            epochs: opts.epochs,
            batchSize: opts.batchSize,
            seed: opts.seed,
            learningRate: opts.lr,
            lrSchedule: opts.lrSchedule,
            checkpointEvery: opts.checkpointEvery,
            limit: opts.limit,
            testLimit: opts.testLimit,
            backend: opts.backend,
            overwrite: opts.overwrite ?? false,
          },
          progress.onEvent,
        );
        progress.finish(summary);
      } catch (e) {
        progress.abort();
        throw e;
      }
    });
}
