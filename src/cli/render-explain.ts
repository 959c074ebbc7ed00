/**
 * `neurolens render occlusion|saliency|guided-backprop|gradcam|integrated-gradients`: an
 * attribution heat map of one input (`--sample ID` of the store's dataset, or `--image FILE`)
 * for a class (`--class C`) or a neuron (`--neuron LAYER:CHANNEL`), drawn over the input as a
 * PNG with a colour bar (src/explain/).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { NeurolensError } from '../errors.js';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { COLORMAP_NAMES, isColormapName, type ColormapName } from '../render/colormap.js';
import { explain, renderExplanation, type MethodName, type MethodOptions } from '../explain/explain.js';
import { loadImageInput, loadSampleInput, openExplainModel } from '../explain/input.js';
import { baselineFor } from '../explain/integrated-gradients.js';
import { OCCLUSION_DEFAULTS } from '../explain/occlusion.js';
import { parseNeuron, type ClassScore, type NeuronReduce, type Target } from '../explain/target.js';
import { MODEL_NAME_HELP, choice, intOption, modelNameOption, numberOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';



function colormapOption(v: string): ColormapName {
  if (!isColormapName(v)) throw new InvalidArgumentError(`--colormap: expected ${COLORMAP_NAMES.join('|')}, got '${v}'`);
  return v;
}

interface CommonOptions {
  class?: number;
  neuron?: string;
  score?: ClassScore;
  reduce?: NeuronReduce;
  sample?: number;
  image?: string;
  modelDir?: string;
  model?: string;
  step?: number;
  store?: string;
  dataset?: string;
  out: string;
  json?: boolean;
  backend: BackendChoice;
  size: number;
  colormap?: ColormapName;
  alpha?: number;
  // method options
  patch?: number;
  stride?: number;
  fill?: number;
  batch?: number;
  smooth?: number;
  noise?: number;
  seed?: number;
  steps?: number;
  baseline?: string;
  layer?: string;
  guided?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option('--class <c>', 'explain class C (index into the model output)', intOption('--class', 0))
    .option('--neuron <layer:channel>', "explain a neuron: the channel's mean (or --reduce max) over positions of the layer")
    .option('--score <kind>', 'class score: prob (the model output, softmax probability) | logit (the input of a final softmax)', choice('--score', ['prob', 'logit'] as const))
    .option('--reduce <how>', 'neuron score over positions: mean | max', choice('--reduce', ['mean', 'max'] as const), 'mean')
    .option('--sample <id>', 'sample id of the store run dataset (needs --store)', intOption('--sample', 0))
    .option('--image <file>', 'image file, resized to the model input')
    .option('--store <dir>', 'store: model checkpoint, preprocessing and samples from its newest run')
    .option('--model-dir <dir>', 'TF.js LayersModel directory (default: the store run checkpoint)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--step <n>', 'checkpoint step of the store run (default: the latest)', intOption('--step', 0))
    .option('--dataset <name>', 'dataset of the store (when it holds several)')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--size <px>', 'draw the input fitted into a size x size box', intOption('--size', 8), 224)
    .option('--colormap <name>', `${COLORMAP_NAMES.join('|')} (default: inferno for magnitudes, coolwarm for signed maps)`, colormapOption)
    .option('--alpha <a>', 'heat colour weight over the image, 0..1', numberOption('--alpha', (v) => v >= 0 && v <= 1, 'a number in [0, 1]'), 0.5)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON');
}

function targetOf(o: CommonOptions): Target {
  if ((o.class === undefined) === (o.neuron === undefined)) throw new NeurolensError('BAD_SPEC', 'give exactly one of --class C or --neuron LAYER:CHANNEL');
  if (o.class !== undefined) return { kind: 'class', index: o.class, score: o.score };
  if (o.score) throw new NeurolensError('BAD_SPEC', '--score applies to --class targets; a neuron is scored by --reduce');
  return { kind: 'neuron', ...parseNeuron(o.neuron!), reduce: o.reduce };
}

function methodOptions(method: MethodName, o: CommonOptions): MethodOptions {
  switch (method) {
    case 'occlusion':
      return { method, patch: o.patch, stride: o.stride, fill: o.fill, batch: o.batch };
    case 'saliency':
      return { method, smooth: o.smooth, noise: o.noise, seed: o.seed, batch: o.batch };
    case 'guided-backprop':
      return { method };
    case 'gradcam':
      return { method, layer: o.layer, guided: o.guided };
    case 'integrated-gradients':
      return { method, steps: o.steps, batch: o.batch };
  }
}

async function run(method: MethodName, o: CommonOptions, sink: OutputSink): Promise<void> {
  const target = targetOf(o);
  if ((o.sample === undefined) === (o.image === undefined)) throw new NeurolensError('BAD_SPEC', 'give exactly one of --sample ID (with --store) or --image FILE');
  if (o.sample !== undefined && !o.store) throw new NeurolensError('BAD_SPEC', '--sample needs --store DIR');
  await setupBackend(o.backend);
  const m = await openExplainModel({ modelDir: o.modelDir, model: o.model, store: o.store, step: o.step, dataset: o.dataset });
  try {
    const input = o.sample !== undefined ? await loadSampleInput(o.store!, m, o.sample, o.dataset) : await loadImageInput(o.image!, m);
    const mo = methodOptions(method, o);
    if (mo.method === 'integrated-gradients') mo.baseline = await baselineFor(o.baseline ?? 'black', input, m.pre);
    const e = explain(m.model, input, target, mo);
    const title = `${String(e.summary.method)} ${String(e.summary.target)}`;
    const r = await renderExplanation(e, input, { size: o.size, colormap: o.colormap, alpha: o.alpha, title });
    await writeOutput(r.png, { out: o.out, what: 'PNG' }, sink);
    const info = {
      out: o.out,
      ...e.summary,
      ...(mo.method === 'integrated-gradients' ? { baseline: o.baseline ?? 'black' } : {}),
      input: { label: input.label, sampleId: input.sampleId, uri: input.uri, classLabel: input.classLabel },
      model: { dir: m.dir, step: m.step, name: m.name },
      image: { width: r.width, height: r.height, overlay: r.overlay },
      colormap: r.colormap,
      range: r.range,
    };
    if (o.json) sink.write(`${JSON.stringify(info)}\n`);
    else {
      const rel = e.summary.relativeDelta;
      const gap = typeof rel === 'number' ? `, completeness gap ${(rel * 100).toFixed(2)}%${rel > 0.05 ? ' (raise --steps)' : ''}` : '';
      sink.write(`${o.out}: ${title} of ${input.label}, score ${Number(e.summary.score).toPrecision(4)}${gap} (${r.width}x${r.height} px)\n`);
    }
  } finally {
    m.dispose();
  }
}

export function registerExplain(render: Command, sink: OutputSink = process.stdout): void {
  const action = (method: MethodName) => async (o: CommonOptions) => run(method, o, sink);
  common(render.command('occlusion').description('occlusion sensitivity (Zeiler & Fergus 2014): the score drop when a patch is hidden'))
    .option('--patch <px>', 'patch side', intOption('--patch'), OCCLUSION_DEFAULTS.patch)
    .option('--stride <px>', 'step between patches', intOption('--stride'), OCCLUSION_DEFAULTS.stride)
    .option('--fill <v>', 'value of hidden pixels, in model-input units (0: black for [0,1] inputs)', numberOption('--fill'), OCCLUSION_DEFAULTS.fill)
    .option('--batch <n>', 'occluded copies per forward pass (default: by input size)', intOption('--batch'))
    .action(action('occlusion'));
  common(render.command('saliency').description('gradient saliency (Simonyan et al. 2014), or SmoothGrad with --smooth N (Smilkov et al. 2017)'))
    .option('--smooth <n>', 'SmoothGrad: average the gradient over N noisy copies (0: vanilla gradient)', intOption('--smooth', 0), 0)
    .option('--noise <level>', 'SmoothGrad noise std as a fraction of the input range', numberOption('--noise', (v) => v >= 0, 'a number >= 0'), 0.15)
    .option('--seed <n>', 'SmoothGrad noise seed', intOption('--seed', 0), 0)
    .option('--batch <n>', 'noisy copies per backward pass (default: by input size)', intOption('--batch'))
    .action(action('saliency'));
  common(render.command('guided-backprop').description('guided backpropagation (Springenberg et al. 2015)')).action(action('guided-backprop'));
  common(render.command('gradcam').description('Grad-CAM (Selvaraju et al. 2017); --guided for Guided Grad-CAM'))
    .option('--layer <name>', 'feature-map layer (default: the last spatial layer the target depends on)')
    .option('--guided', 'Guided Grad-CAM: guided backprop times the upsampled CAM')
    .action(action('gradcam'));
  common(render.command('integrated-gradients').description('integrated gradients (Sundararajan et al. 2017), trapezoid rule; reports the completeness gap'))
    .option('--steps <n>', 'trapezoid intervals along the path', intOption('--steps'), 50)
    .option('--baseline <kind>', 'black | white | blur | an image FILE', 'black')
    .option('--batch <n>', 'path points per backward pass (default: by input size)', intOption('--batch'))
    .action(action('integrated-gradients'));
}
