/**
 * `neurolens render activations (--sample ID --store DIR | --image FILE) (--model-dir DIR | --store DIR
 * [--step S] [--model NAME]) --layer L --out F.png`: one input's feature maps of a layer as a grid
 * (src/render/activation-figure.ts), dead channels marked.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { activationFigure } from '../render/activation-figure.js';
import type { MapScale } from '../render/activations.js';
import { COLORMAP_NAMES, isColormapName, type ColormapName } from '../render/colormap.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

interface ActivationsCliOptions {
  layer: string;
  out: string;
  sample?: number;
  image?: string;
  store?: string;
  modelDir?: string;
  model?: string;
  step?: number;
  dataset?: string;
  scale: MapScale;
  colormap: ColormapName;
  upscale?: number;
  columns?: number;
  input: boolean;
  inputScale?: number;
  inputMean?: number[];
  inputStd?: number[];
  backend: BackendChoice;
  json?: boolean;
}

function parseScale(v: string): MapScale {
  if (v !== 'shared' && v !== 'per-map') throw new InvalidArgumentError(`--scale: expected shared|per-map, got '${v}'`);
  return v;
}

function parseColormap(v: string): ColormapName {
  if (!isColormapName(v)) throw new InvalidArgumentError(`--colormap: expected ${COLORMAP_NAMES.join('|')}, got '${v}'`);
  return v;
}

function numbers(name: string, ok: (n: number) => boolean) {
  return (v: string): number[] => {
    const parts = v.split(',').map((s) => s.trim());
    const nums = parts.map(Number);
    if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || !ok(n))) throw new InvalidArgumentError(`${name}: expected comma-separated numbers, got '${v}'`);
    return nums;
  };
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a number > 0, got '${v}'`);
    return n;
  };
}

export function registerActivations(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('activations')
    .description("draw one input's feature maps of a layer as a grid (shared or per-map colour scale), dead channels marked")
    .requiredOption('--layer <name>', 'layer with spatial maps [B, H, W, C]')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--sample <id>', 'sample id of the store run dataset (needs --store)', intOption('--sample', 0))
    .option('--image <file>', 'an image file, resized to the model input')
    .option('--store <dir>', 'store: the newest run gives the checkpoints, dataset and input preprocessing; its neuron_stats give dead channels')
    .option('--model-dir <dir>', 'TF.js model directory (default: the --store run checkpoint at --step)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--step <n>', 'checkpoint step with --store (default: the latest)', intOption('--step', 0))
    .option('--dataset <name>', 'dataset of the store (when it holds several)')
    .option('--scale <how>', 'colour scale: shared (one range for all maps) | per-map', parseScale, 'shared')
    .option('--colormap <name>', `colormap: ${COLORMAP_NAMES.join('|')}`, parseColormap, 'viridis')
    .option('--upscale <n>', 'pixels per map position (default: maps of about 64 px)', intOption('--upscale'))
    .option('--columns <n>', 'tiles per row (default: a square grid)', intOption('--columns'))
    .option('--no-input', 'do not draw the input image as the first tile')
    .option('--input-scale <x>', 'input preprocessing without a store: pixel v becomes (v*scale - mean)/std (default 1/255)', positive('--input-scale'))
    .option('--input-mean <list>', 'per-channel mean (1 or C values)', numbers('--input-mean', () => true))
    .option('--input-std <list>', 'per-channel std (1 or C values)', numbers('--input-std', (n) => n > 0))
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON')
    .action(async (o: ActivationsCliOptions) => {
      await setupBackend(o.backend);
      const f = await activationFigure({
        layer: o.layer,
        modelDir: o.modelDir,
        model: o.model,
        store: o.store,
        step: o.step,
        dataset: o.dataset,
        sampleId: o.sample,
        image: o.image,
        scale: o.scale,
        colormap: o.colormap,
        upscale: o.upscale,
        columns: o.columns,
        showInput: o.input,
        preprocess: { scale: o.inputScale, mean: o.inputMean, std: o.inputStd },
      });
      await writeOutput(f.grid.png, { out: o.out, what: 'PNG' }, sink);
      const { grid, ...rest } = f;
      const info = { out: o.out, ...rest, scale: o.scale, colormap: o.colormap, width: grid.width, height: grid.height, upscale: grid.upscale, range: grid.range, tiles: grid.tiles, inputTile: grid.inputTile };
      if (o.json) sink.write(`${JSON.stringify(info)}\n`);
      else {
        sink.write(`${o.out}: ${f.shape[2]} maps ${f.shape[0]}x${f.shape[1]} of ${f.layer}, ${f.dead.length} dead (${f.deadFrom === 'store' ? 'from neuron_stats' : 'all zero for this input'}), ${grid.width}x${grid.height} px\n`);
        if (f.deadNote) sink.write(`note: ${f.deadNote}\n`);
      }
    });
}
