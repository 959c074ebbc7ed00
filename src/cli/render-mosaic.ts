/**
 * `neurolens render mosaic --layer L --channel C --out F.png [--crop rf|box|cell]`: a neuron's
 * top-k activators. `--crop rf` (default): each tile is the receptive field of the argmax
 * position, cut from the image as the model sees it, padding drawn as a grey checker
 * (src/render/rf-mosaic.ts). `--crop box`: the whole image as the model sees it with that field
 * outlined (clipped to the image). `--crop cell`: whole images with the argmax cell outlined, as
 * the top-level `neurolens mosaic` draws them.
 */
import type { Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { neuronMosaic } from '../render/neuron-mosaic.js';
import { rfMosaic } from '../render/rf-mosaic.js';
import { Store } from '../storage/store.js';
import { MODEL_NAME_HELP, choice, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

const CROP_MODES = ['rf', 'box', 'cell'] as const;
type CropMode = (typeof CROP_MODES)[number];

interface RenderMosaicCliOptions {
  layer: string;
  channel: number;
  out: string;
  crop: CropMode;
  step?: number;
  store: string;
  k: number;
  dataset?: string;
  model?: string;
  modelDir?: string;
  tile: number;
  columns?: number;
  backend: BackendChoice;
  json?: boolean;
}

export function registerRenderMosaic(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('mosaic')
    .description("draw a neuron's top-k activating samples: receptive-field crops around the argmax (--crop rf), whole images with that field outlined (--crop box) or with the argmax cell outlined (--crop cell)")
    .requiredOption('--layer <name>', 'layer name')
    .requiredOption('--channel <n>', 'neuron (channel) index', intOption('--channel', 0))
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--crop <how>', 'rf: crop the receptive field of the argmax position | box: whole image, that receptive field outlined | cell: whole image, argmax cell of the output grid outlined', choice('--crop', CROP_MODES), 'rf')
    .option('--step <n>', 'checkpoint step (default: the latest)', intOption('--step', 0))
    .option('--store <dir>', 'store directory', 'store')
    .option('--k <n>', 'samples to show', intOption('--k'), 16)
    .option('--dataset <name>', 'dataset (when the store holds several)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--model-dir <dir>', "model directory for the receptive field (default: the run's checkpoint at the step)")
    .option('--tile <px>', 'side of each image tile in pixels', intOption('--tile', 16), 160)
    .option('--columns <n>', 'tiles per row (default: square grid)', intOption('--columns'))
    .option('--backend <name>', `tfjs backend (to load the model): ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON')
    .action(async (o: RenderMosaicCliOptions) => {
      const store = await Store.open(o.store, { readOnly: true });
      try {
        const common = { layer: o.layer, channel: o.channel, step: o.step, k: o.k, dataset: o.dataset, model: o.model, tileSize: o.tile, columns: o.columns };
        let png: Buffer;
        let info: Record<string, unknown>;
        if (o.crop !== 'cell') {
          await setupBackend(o.backend);
          const m = await rfMosaic(store, { ...common, modelDir: o.modelDir, crop: o.crop });
          png = m.png;
          info = { out: o.out, crop: o.crop, dataset: m.dataset, model: m.model, step: m.step, layer: o.layer, channel: o.channel, modelDir: m.modelDir, receptiveField: { size: m.field.size, jump: m.field.jump, start: m.field.start, global: m.field.global ?? false }, grid: m.field.output, input: m.input, width: m.layout.width, height: m.layout.height, samples: m.rows, tiles: m.layout.tiles };
        } else {
          const m = await neuronMosaic(store, common);
          png = m.png;
          info = { out: o.out, crop: 'cell', dataset: m.dataset, model: m.model, step: m.step, layer: o.layer, channel: o.channel, grid: m.grid, width: m.layout.width, height: m.layout.height, samples: m.rows, tiles: m.layout.tiles };
        }
        await writeOutput(png, { out: o.out, what: 'PNG' }, sink);
        if (o.json) sink.write(`${JSON.stringify(info)}\n`);
        else sink.write(`${o.out}: ${(info.samples as unknown[]).length} samples of ${o.layer} channel ${o.channel} at step ${String(info.step)}, ${o.crop === 'rf' ? 'receptive-field crops' : o.crop === 'box' ? 'whole images, receptive fields outlined' : 'whole images'} (${String(info.width)}x${String(info.height)} px)\n`);
      } finally {
        store.dispose();
      }
    });
}
