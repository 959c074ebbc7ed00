/**
 * `neurolens render clip-attribution gradcam|saliency (--class C | --neuron L:C) --sample ID
 * [--store DIR] --out F.png|F.gif|F.mp4`: attribution over time for one clip of the store's video
 * dataset, decoded as the pipeline decoded it (src/render/clip-source.ts), explained on the run's
 * checkpoint (src/explain/clip-attribution.ts) and drawn as frame strips with a heat map per
 * frame (PNG) or as an animation (GIF/MP4 by the extension). Grad-CAM's layer: `--layer`
 * (default: the last spatiotemporal layer upstream of the target). Saliency: one row for the
 * appearance channels, one for the motion channels.
 */
import type { Command } from 'commander';
import { NeurolensError } from '../errors.js';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import type { tfl } from '../model/tf.js';
import type { ClipTarget } from '../explain/actmax-clip-target.js';
import { clipGradCam, clipSaliency } from '../explain/clip-attribution.js';
import { parseNeuron } from '../explain/target.js';
import { animateClips, animationFormat } from '../render/animation.js';
import { frameSummary, gradCamItems, largestValue, saliencyItems } from '../render/clip-attribution-figure.js';
import { clipPictures } from '../render/clip-frames.js';
import { clipInput, clipLabel, openClipRun } from '../render/clip-source.js';
import { clipStripPng } from '../render/clip-strip.js';
import { openRenderModel } from '../render/run-model.js';
import { MODEL_NAME_HELP, choice, intOption, modelNameOption } from './options.js';
import { pictureKind } from './render-clips.js';
import { writeOutput, type OutputSink } from './write-output.js';

type Method = 'gradcam' | 'saliency';

interface ClipAttributionCliOptions {
  class?: number;
  neuron?: string;
  score?: 'prob' | 'logit';
  reduce: 'mean' | 'max' | 'centre';
  sample: number;
  store: string;
  step?: number;
  dataset?: string;
  modelDir?: string;
  model?: string;
  layer?: string;
  motion?: boolean;
  out: string;
  cell?: number;
  fps: number;
  backend: BackendChoice;
  json?: boolean;
}


function targetOf(o: ClipAttributionCliOptions): ClipTarget {
  if ((o.class === undefined) === (o.neuron === undefined)) throw new NeurolensError('BAD_SPEC', 'give exactly one of --class C or --neuron LAYER:CHANNEL');
  if (o.class !== undefined) return { kind: 'class', index: o.class, score: o.score };
  if (o.score) throw new NeurolensError('BAD_SPEC', '--score applies to --class targets; a neuron is scored by --reduce');
  return { kind: 'neuron', ...parseNeuron(o.neuron!), reduce: o.reduce };
}

async function run(method: Method, o: ClipAttributionCliOptions, sink: OutputSink): Promise<void> {
  const target = targetOf(o);
  if (method === 'saliency' && o.layer) throw new NeurolensError('BAD_SPEC', '--layer picks the Grad-CAM feature map; saliency is taken w.r.t. the input clip');
  const kind = pictureKind(o.out);
  await setupBackend(o.backend);
  const c = await openClipRun(o.store, { dataset: o.dataset });
  const clip = await clipInput(c, o.sample);
  const m = await openRenderModel({ store: o.store, step: o.step, dataset: o.dataset, modelDir: o.modelDir, model: o.model });
  let explained: { items: ReturnType<typeof gradCamItems>; summary: Record<string, unknown> };
  try {
    if (m.loaded.kind !== 'layers') throw new NeurolensError('BAD_MODEL', `${m.loaded.dir}: clip attribution needs a LayersModel (a GraphModel cannot be re-run layer by layer)`);
    const model = m.loaded.model as tfl.LayersModel;
    const pics = clipPictures(clip, c.layout, c.pre);
    const motion = o.motion ? pics.motion : undefined;
    const caption = [`sample ${o.sample}`, clipLabel(c.source, o.sample)];
    if (method === 'gradcam') {
      const r = clipGradCam(model, clip, target, { layer: o.layer });
      explained = { items: gradCamItems(pics.frames, r, motion, caption), summary: { score: r.score, layer: r.layer, cam: { frames: r.camT, height: r.camH, width: r.camW }, perFrame: frameSummary(r.frames) } };
    } else {
      const r = clipSaliency(model, clip, target, { appearanceChannels: c.layout.appearance });
      explained = {
        items: saliencyItems(pics.frames, r, motion, caption),
        summary: { score: r.score, streams: r.streams, largest: { appearance: largestValue(r.appearance), motion: largestValue(r.motion) }, perFrame: { appearance: frameSummary(r.appearance), motion: frameSummary(r.motion) } },
      };
    }
  } finally {
    m.loaded.model.dispose();
  }
  const what = target.kind === 'class' ? `class ${target.index}` : `${target.layer}:${target.channel}`;
  const title = `${method} of ${what} on sample ${o.sample} (step ${m.step ?? '?'})`;
  let size: { width: number; height: number };
  let frames: number | null = null;
  if (kind === 'png') {
    const { png, layout } = await clipStripPng(explained.items, { title, cellSize: o.cell });
    await writeOutput(png, { out: o.out, what: 'PNG' }, sink);
    size = { width: layout.width, height: layout.height };
  } else {
    const layout = await animateClips(o.out, explained.items, { title, cellSize: o.cell, fps: o.fps, format: animationFormat(o.out), columns: explained.items.length });
    size = { width: layout.width, height: layout.height };
    frames = layout.frames;
  }
  const ref = c.source.refs(o.sample, o.sample + 1)[0]!;
  const info = {
    out: o.out,
    format: kind,
    method,
    target: what,
    ...explained.summary,
    sample: { id: o.sample, uri: ref.uri, label: ref.label, start: ref.clip?.start ?? null, frames: c.layout.frames, stride: ref.clip?.stride ?? null },
    model: { dir: m.loaded.dir, step: m.step, name: m.run?.model.name ?? null },
    rows: explained.items.length,
    ...size,
    ...(frames === null ? {} : { frames, fps: o.fps }),
  };
  if (o.json) sink.write(`${JSON.stringify(info)}\n`);
  else sink.write(`${o.out}: ${title}, score ${Number(explained.summary.score).toPrecision(4)} (${kind.toUpperCase()}, ${size.width}x${size.height} px)\n`);
}

export function registerClipAttribution(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('clip-attribution')
    .description('attribution over time for one clip: Grad-CAM on a Conv3D layer or gradient saliency (appearance and motion rows), per-frame heat over the frames (PNG strips, GIF/MP4)')
    .argument('<method>', 'gradcam | saliency', choice('method', ['gradcam', 'saliency'] as const))
    .requiredOption('--sample <id>', 'sample (clip) id of the store dataset', intOption('--sample', 0))
    .requiredOption('--out <file>', 'F.png (frame strips), F.gif or F.mp4 (animation)')
    .option('--class <c>', 'explain class C (index into the model output)', intOption('--class', 0))
    .option('--neuron <layer:channel>', 'explain a unit: the channel of the layer reduced over its (t, y, x) positions by --reduce')
    .option('--score <kind>', 'class score: prob | logit (the input of a final softmax)', choice('--score', ['prob', 'logit'] as const))
    .option('--reduce <how>', 'neuron score over positions: mean | max | centre', choice('--reduce', ['mean', 'max', 'centre'] as const), 'mean')
    .option('--layer <name>', 'Grad-CAM feature-map layer (default: the last spatiotemporal layer the target depends on)')
    .option('--motion', 'also a row with the clip\'s motion channels (flow colours)')
    .option('--store <dir>', 'store: checkpoint, preprocessing and the clip from its newest run', 'store')
    .option('--step <n>', 'checkpoint step of the store run (default: the latest)', intOption('--step', 0))
    .option('--dataset <name>', 'dataset of the store (when it holds several)')
    .option('--model-dir <dir>', 'TF.js LayersModel directory (default: the store run checkpoint)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--cell <px>', 'longest side of a frame cell', intOption('--cell', 8))
    .option('--fps <n>', 'animations: frames per second', intOption('--fps'), 4)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON')
    .action(async (method: Method, o: ClipAttributionCliOptions) => run(method, o, sink));
}
