/**
 * `neurolens render actmax --layer L --channel C (--model-dir DIR | --store DIR [--step S] [--model NAME]) --out F.png`:
 * the image that maximizes one unit (src/explain/actmax*.ts), written as F.png plus F.png.json
 * (settings, seed, activations raw / normalized / of noise).
 */
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { renderActmax } from '../explain/actmax-render.js';
import { ACTMAX_DEFAULTS, type ActmaxSettings } from '../explain/actmax-settings.js';
import { PARAM_KINDS, type ParamKind } from '../explain/actmax-param.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { MODEL_NAME_HELP, intOption, listOption, modelNameOption, numberOption } from './options.js';
import type { OutputSink } from './write-output.js';



function parseSize(v: string): { height: number; width: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new InvalidArgumentError(`--size: expected HxW, e.g. 224x224, got '${v}'`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

function parseParam(v: string): ParamKind {
  if (!PARAM_KINDS.includes(v as ParamKind)) throw new InvalidArgumentError(`--param: expected ${PARAM_KINDS.join('|')}, got '${v}'`);
  return v as ParamKind;
}

/** The settings as commander parses them (`--decorrelate` is absent unless given). */
interface ActmaxCliOptions extends Omit<ActmaxSettings, 'decorrelate'> {
  layer: string;
  channel: number;
  modelDir?: string;
  model?: string;
  store?: string;
  step?: number;
  dataset?: string;
  out: string;
  decorrelate?: boolean;
  size?: { height: number; width: number };
  upscale: number;
  inputScale?: number;
  inputMean?: number[];
  inputStd?: number[];
  backend: BackendChoice;
  json?: boolean;
}

/** Writes `out` and its sidecar `out.json` (the settings and numbers); returns the sidecar text. */
export async function writeWithSidecar(out: string, png: Buffer, sidecar: unknown): Promise<string> {
  const file = path.resolve(out);
  const json = `${JSON.stringify(sidecar, null, 1)}\n`;
  await writeFileAtomic(file, png);
  await writeFileAtomic(`${file}.json`, json);
  return json;
}

const d = ACTMAX_DEFAULTS;
const nonNeg = (v: number) => v >= 0;

export function registerActmax(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('actmax')
    .description('activation maximization: optimize an image (Fourier or pixel parameterization, jitter/scale/rotation, TV/L2/blur priors) that maximizes one unit; writes OUT and OUT.json')
    .requiredOption('--layer <name>', 'layer name')
    .requiredOption('--channel <n>', 'channel (neuron) index', intOption('--channel', 0))
    .requiredOption('--out <file>', 'PNG file to write (settings and activations go to <file>.json)')
    .option('--model-dir <dir>', 'TF.js model directory (default: the --store run checkpoint at --step)')
    .option('--store <dir>', 'store: input preprocessing from its newest run, normalization by the unit max in neuron_stats')
    .option('--step <n>', 'checkpoint step (default: the latest checkpoint, or the --model-dir step)', intOption('--step', 0))
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--dataset <name>', 'dataset whose statistics normalize (when the store holds several)')
    .option('--param <kind>', `image parameterization: ${PARAM_KINDS.join('|')}`, parseParam, d.param)
    .option('--steps <n>', 'Adam steps', intOption('--steps'), d.steps)
    .option('--lr <x>', 'Adam learning rate', numberOption('--lr', (v) => v > 0, 'a number > 0'), d.lr)
    .option('--seed <n>', 'seed (same seed, same backend: same PNG bytes)', intOption('--seed', 0), d.seed)
    .option('--jitter <px>', 'largest random shift per step', intOption('--jitter', 0), d.jitter)
    .option('--scale <list>', 'scale factors drawn per step, e.g. 1.05,0.95', listOption('--scale', (v) => v > 0, 'factors > 0'), d.scale)
    .option('--rotate <deg>', 'largest random rotation per step, degrees', numberOption('--rotate', (v) => v >= 0 && v <= 180, 'degrees in [0, 180]'), d.rotate)
    .option('--tv <w>', 'total-variation weight', numberOption('--tv', nonNeg, 'a weight >= 0'), d.tv)
    .option('--l2 <w>', 'alpha-norm weight (L2 when --alpha 2)', numberOption('--l2', nonNeg, 'a weight >= 0'), d.l2)
    .option('--alpha <p>', 'alpha-norm exponent (Mahendran & Vedaldi: 6)', numberOption('--alpha', (v) => v >= 1, 'a number >= 1'), d.alpha)
    .option('--blur <sigma>', 'Gaussian blur std in px applied every --blur-every steps (0: off)', numberOption('--blur', nonNeg, 'a std >= 0'), d.blur)
    .option('--blur-every <n>', 'steps between blurs', intOption('--blur-every'), d.blurEvery)
    .option('--decorrelate', 'lucid colour decorrelation (RGB inputs)')
    .option('--decay <p>', 'Fourier spectrum decay power', numberOption('--decay', nonNeg, 'a power >= 0'), d.decay)
    .option('--size <HxW>', 'image size, for models whose input size is unknown', parseSize)
    .option('--upscale <n>', 'nearest-neighbour upscale of the PNG', intOption('--upscale'), 1)
    .option('--input-scale <x>', 'input preprocessing: pixel v in [0,255] becomes (v*scale - mean)/std (default 1/255, or the store run)', numberOption('--input-scale', (v) => v > 0, 'a number > 0'))
    .option('--input-mean <list>', 'per-channel mean (1 or C values)', listOption('--input-mean', () => true, 'numbers'))
    .option('--input-std <list>', 'per-channel std (1 or C values)', listOption('--input-std', (v) => v > 0, 'numbers > 0'))
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print the sidecar JSON on stdout')
    .action(async (o: ActmaxCliOptions) => {
      await setupBackend(o.backend);
      const { png, sidecar } = await renderActmax({
        layer: o.layer,
        channel: o.channel,
        modelDir: o.modelDir,
        model: o.model,
        store: o.store,
        step: o.step,
        dataset: o.dataset,
        param: o.param,
        steps: o.steps,
        lr: o.lr,
        seed: o.seed,
        jitter: o.jitter,
        scale: o.scale,
        rotate: o.rotate,
        tv: o.tv,
        l2: o.l2,
        alpha: o.alpha,
        blur: o.blur,
        blurEvery: o.blurEvery,
        decorrelate: o.decorrelate ?? false,
        decay: o.decay,
        size: o.size,
        upscale: o.upscale,
        preprocess: { scale: o.inputScale, mean: o.inputMean, std: o.inputStd },
      });
      const json = await writeWithSidecar(o.out, png, sidecar);
      if (o.json) {
        sink.write(json);
        return;
      }
      const a = sidecar.activation;
      const norm = a.normalized ? `, ${a.normalized.mean.toPrecision(4)} of the dataset max ${a.datasetMax!.toPrecision(4)}` : '';
      const ratio = a.ratioToNoise === null ? '' : `, ${a.ratioToNoise.toPrecision(3)}x noise`;
      sink.write(`${o.out}: ${sidecar.layer} channel ${sidecar.channel}, ${sidecar.image.width}x${sidecar.image.height}, mean activation ${a.raw.mean.toPrecision(4)}${norm}${ratio}\n`);
      if (sidecar.normalization.note) sink.write(`note: ${sidecar.normalization.note}\n`);
    });
}
