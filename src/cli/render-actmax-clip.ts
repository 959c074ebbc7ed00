/**
 * `neurolens render actmax-clip --layer L --channel C [--kappa 0,1,10] (--store DIR | --model-dir DIR) --out F.png`:
 * spatiotemporal activation maximization of one unit of a video network (an appearance-stream,
 * motion-stream or fusion unit alike), one row per kappa, the temporal-variation weight
 * (src/explain/actmax-clip*.ts, Feichtenhofer et al. CVPR 2018). Two or more kappas are a
 * temporal sweep: the unit's slowness (activation at the largest kappa over the smallest) says
 * whether it wants slow or fast change. With --store, the preprocessing comes from the run and
 * the objective is normalised by the unit's dataset max (neuron_stats). Writes F.png and
 * F.png.json (settings, activations, slowness, per-kappa terms).
 */
import type { Command } from 'commander';
import { NeurolensError } from '../errors.js';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { tfc, type tfl } from '../model/tf.js';
import { actmaxClip, actmaxTemporalSweep, type ClipActmaxResult } from '../explain/actmax-clip.js';
import { openActmaxSource } from '../explain/actmax-source.js';
import { actmaxClipPng, objectiveValue } from '../render/actmax-clip-figure.js';
import { findRunSpec } from '../render/run-model.js';
import { MODEL_NAME_HELP, choice, intOption, listOption, modelNameOption, numberOption } from './options.js';
import { writeWithSidecar } from './render-actmax.js';
import type { OutputSink } from './write-output.js';

type Stream = 'appearance' | 'motion' | 'both';

interface ActmaxClipCliOptions {
  layer: string;
  channel: number;
  out: string;
  kappa: number[];
  stream: Stream;
  reduce: 'mean' | 'max' | 'centre';
  steps?: number;
  seed?: number;
  lr?: number;
  jitter?: number;
  store?: string;
  modelDir?: string;
  model?: string;
  step?: number;
  dataset?: string;
  cell: number;
  backend: BackendChoice;
  json?: boolean;
}




/** The clip layout the store's run recorded (appearance channels, motion scale), when there is one. */
async function runLayout(o: ActmaxClipCliOptions): Promise<{ appearance?: number; motionScale: number }> {
  if (!o.store) return { motionScale: 1 };
  const run = await findRunSpec(o.store, { dataset: o.dataset, model: o.model });
  return { appearance: run.model.input.channels, motionScale: run.model.input.motion_scale ?? 1 };
}

async function optimize(model: tfl.LayersModel, o: ActmaxClipCliOptions, extra: Parameters<typeof actmaxClip>[1]): Promise<{ results: ClipActmaxResult[]; slowness: number | null }> {
  if (o.kappa.length === 1) {
    const kappa = o.kappa[0]!;
    const r = await actmaxClip(model, { ...extra, appearance: o.stream === 'motion' ? undefined : { kappa }, motion: o.stream === 'appearance' ? undefined : { kappa } });
    return { results: [r], slowness: null };
  }
  const s = await actmaxTemporalSweep(model, o.layer, o.channel, o.kappa, { ...extra, stream: o.stream });
  return { results: s.results, slowness: s.slowness };
}

export function registerActmaxClip(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('actmax-clip')
    .description('spatiotemporal activation maximization of a video unit, one row per temporal weight kappa (a sweep shows slow vs fast units); writes OUT and OUT.json')
    .requiredOption('--layer <name>', 'layer name (a stream layer or the fusion layer)')
    .requiredOption('--channel <n>', 'channel (neuron) index', intOption('--channel', 0))
    .requiredOption('--out <file>', 'PNG file to write (numbers go to <file>.json)')
    .option('--kappa <list>', 'temporal-variation weights, one row each (two or more: a sweep with slowness)', listOption('--kappa', (v) => v >= 0, 'weights >= 0, e.g. 0,1,10'), [0, 1, 10])
    .option('--stream <which>', 'whose temporal weight kappa sets: appearance|motion|both', choice('--stream', ['appearance', 'motion', 'both'] as const), 'both')
    .option('--reduce <how>', "the unit's positions: mean | max | centre (one position)", choice('--reduce', ['mean', 'max', 'centre'] as const), 'mean')
    .option('--steps <n>', 'Adam steps', intOption('--steps'))
    .option('--seed <n>', 'seed of the initial clip and jitter', intOption('--seed', 0))
    .option('--lr <x>', 'Adam learning rate', numberOption('--lr', (v) => v > 0, 'a number > 0'))
    .option('--jitter <px>', 'largest random shift per step', intOption('--jitter', 0))
    .option('--store <dir>', 'store: checkpoint and preprocessing from its newest run, normalisation by the unit max in neuron_stats')
    .option('--model-dir <dir>', 'TF.js LayersModel directory (default: the --store run checkpoint at --step)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--step <n>', 'checkpoint step of the store run (default: the latest)', intOption('--step', 0))
    .option('--dataset <name>', 'dataset of the store (when it holds several)')
    .option('--cell <px>', 'longest side of a frame cell', intOption('--cell', 8), 64)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print the sidecar JSON on stdout')
    .action(async (o: ActmaxClipCliOptions) => {
      if (!o.store && !o.modelDir) throw new NeurolensError('BAD_SPEC', 'give --store DIR (with --step S) or --model-dir DIR');
      await setupBackend(o.backend);
      const layout = await runLayout(o);
      const src = await openActmaxSource({ modelDir: o.modelDir, model: o.model, store: o.store, step: o.step, dataset: o.dataset, layer: o.layer, channel: o.channel });
      let run: Awaited<ReturnType<typeof optimize>>;
      try {
        if (src.loaded.kind !== 'layers') throw new NeurolensError('BAD_MODEL', `${src.loaded.dir}: actmax-clip needs a LayersModel (a GraphModel cannot be re-run layer by layer)`);
        const extra = { layer: o.layer, channel: o.channel, reduce: o.reduce, steps: o.steps, seed: o.seed, lr: o.lr, jitter: o.jitter, preprocess: src.preprocess, datasetMax: src.normalization.datasetMax, appearanceChannels: layout.appearance };
        run = await optimize(src.loaded.model as tfl.LayersModel, o, extra);
      } finally {
        src.loaded.model.dispose();
      }
      const { results, slowness } = run;
      const first = results[0]!;
      const slow = slowness === null ? '' : `, slowness ${slowness.toFixed(2)}`;
      // Short: the strip fits the title to its width; the kappas are in the row captions.
      const title = `${o.layer} ch ${o.channel}: actmax${slow}`;
      const { png, layout: fig } = await actmaxClipPng(results, o.kappa, { title, cellSize: o.cell, motionScale: layout.motionScale });
      const n = src.normalization;
      const sidecar = {
        kind: 'actmax-clip',
        layer: o.layer,
        channel: o.channel,
        layerOutputShape: first.layer.outputShape,
        model: src.model,
        store: o.store ?? null,
        runId: src.runId,
        backend: tfc.getBackend(),
        clip: first.shape,
        streams: first.streams,
        preprocess: first.preprocess,
        motionScale: layout.motionScale,
        reduce: first.reduce,
        stream: o.stream,
        kappas: o.kappa,
        activation: results.map(objectiveValue),
        slowness,
        normalization: { datasetMax: n.datasetMax, dataset: n.dataset, model: n.model, step: n.step, note: n.note },
        image: { width: fig.width, height: fig.height },
        perKappa: results.map((r, i) => ({
          kappa: o.kappa[i],
          activation: r.activation,
          normalized: r.normalized,
          appearance: r.appearance,
          motion: r.motion,
          settings: r.settings,
          trace: r.trace,
        })),
      };
      const json = await writeWithSidecar(o.out, png, sidecar);
      if (o.json) {
        sink.write(json);
        return;
      }
      const acts = sidecar.activation.map((a, i) => `kappa ${o.kappa[i]}: ${a.toPrecision(3)}`).join(', ');
      sink.write(`${o.out}: ${o.layer} channel ${o.channel}, ${acts}${slow}${n.datasetMax ? ` (of the dataset max ${n.datasetMax.toPrecision(4)})` : ''}\n`);
      if (n.note) sink.write(`note: ${n.note}\n`);
    });
}
