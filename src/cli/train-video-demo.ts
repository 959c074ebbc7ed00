import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES } from '../model/backend.js';
import { TrainProgress } from '../train/progress.js';
import { VIDEO_TRAIN_DEFAULTS, trainVideoDemo, type VideoTrainOptions, type VideoTrainSummary } from '../video/train.js';
import { intOption } from './options.js';

/** Commander's options: the trainer's, with `--lr` for learningRate and the CLI's own flags. */
type Opts = Omit<VideoTrainOptions, 'learningRate' | 'overwrite'> & { lr: number; overwrite?: boolean; json?: boolean };

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Text summary: test accuracy, and per class with each stream ablated. */
export function videoTrainReport(s: VideoTrainSummary): string {
  const lines = [
    `done: ${s.checkpoints.length} checkpoints in ${s.out}, ${s.seconds.toFixed(0)} s (decode ${s.decodeSeconds.toFixed(0)} s, ${s.trainClipsPerSec.toFixed(1)} clips/s training)`,
    `test accuracy ${pct(s.final.accuracy)}; without the motion stream ${pct(s.withoutMotion.accuracy)}; without the appearance stream ${pct(s.withoutAppearance.accuracy)} (chance ${pct(1 / s.classes.length)})`,
    'per class: both streams / motion zeroed / appearance zeroed',
    ...s.classes.map((c, i) => `  ${c.padEnd(12)} ${pct(s.final.perClass[i]).padStart(6)} ${pct(s.withoutMotion.perClass[i]).padStart(6)} ${pct(s.withoutAppearance.perClass[i]).padStart(6)}`),
  ];
  return lines.join('\n');
}

/** `neurolens train-video-demo`: the two-stream demo network on a make-actions dataset. */
export function registerTrainVideoDemo(program: Command): void {
  const d = VIDEO_TRAIN_DEFAULTS;
  program
    .command('train-video-demo')
    .description('train the demo two-stream video network (appearance + optical flow, fusion layer) on a make-actions dataset; writes a checkpoint series')
    .option('--data <dir>', 'dataset directory written by make-actions', 'data/actions')
    .option('--out <dir>', 'output directory for the checkpoint series', 'checkpoints/actions')
    .option('--epochs <n>', 'passes over the training clips', intOption('--epochs', 1), d.epochs)
    .option('--batch-size <n>', 'clips per training step', intOption('--batch-size', 1), d.batchSize)
    .option('--seed <n>', 'seed for weight init and data order', intOption('--seed', 0), d.seed)
    .option('--lr <x>', 'initial Adam learning rate (cosine decay)', (v) => Number(v), d.learningRate)
    .option('--frames <n>', 'frames per clip (T)', intOption('--frames', 2), d.frames)
    .option('--stride <n>', 'take every n-th frame', intOption('--stride', 1), d.stride)
    .option('--size <n>', 'frame size (square) the network takes', intOption('--size', 8), d.size)
    .option('--motion <kind>', 'motion channels: flow (optical flow u, v) | diff (frame difference)', d.motion)
    .option('--clips-per-video <n>', 'training clips per video (uniform over its length)', intOption('--clips-per-video', 1), d.clipsPerVideo)
    .option('--checkpoint-every <n>', 'steps between checkpoints (default: total / 8)', intOption('--checkpoint-every', 1))
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, d.backend)
    .option('--overwrite', 'replace an existing checkpoint series in --out')
    .option('--json', 'NDJSON events and a final summary on stdout')
    .action(async (opts: Opts) => {
      if (opts.motion !== 'flow' && opts.motion !== 'diff') throw new InvalidArgumentError(`--motion must be flow or diff, got '${opts.motion}'`);
      const progress = new TrainProgress(opts.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines', undefined, { model: 'two-stream network', samples: 'clips', unit: 'clips/s' });
      try {
        const s = await trainVideoDemo({ ...opts, learningRate: opts.lr, overwrite: opts.overwrite ?? false }, progress.onEvent);
        progress.done(s, videoTrainReport(s));
      } catch (e) {
        progress.abort();
        throw e;
      }
    });
}
