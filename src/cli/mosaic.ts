/**
 * `neurolens mosaic --layer L --channel C --out F.png`: the top-k activators of one neuron as an
 * image grid (src/render/neuron-mosaic.ts): rank, sample id, max value and class under each
 * image, the argmax position outlined in red.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { neuronMosaic } from '../render/neuron-mosaic.js';
import { Store } from '../storage/store.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

function parseGrid(v: string): { height: number; width: number } {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new InvalidArgumentError(`expected HxW, e.g. 6x6, got '${v}'`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

interface MosaicCliOptions {
  layer: string;
  channel: number;
  step?: number;
  store: string;
  k: number;
  dataset?: string;
  model?: string;
  tile: number;
  columns?: number;
  grid?: { height: number; width: number };
  out: string;
  json?: boolean;
}

export function registerMosaic(program: Command, sink: OutputSink = process.stdout): void {
  program
    .command('mosaic')
    .description("draw a neuron's top-k activating samples as a PNG grid (rank, sample id, max value; argmax boxed)")
    .requiredOption('--layer <name>', 'layer name')
    .requiredOption('--channel <n>', 'neuron (channel) index', intOption('--channel', 0))
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--step <n>', 'checkpoint step (default: the latest)', intOption('--step', 0))
    .option('--store <dir>', 'store directory', 'store')
    .option('--k <n>', 'samples to show', intOption('--k'), 16)
    .option('--dataset <name>', 'dataset (when the store holds several)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--tile <px>', 'side of each image tile in pixels', intOption('--tile', 16), 160)
    .option('--columns <n>', 'tiles per row (default: square grid)', intOption('--columns'))
    .option('--grid <HxW>', "the layer's output grid, when it cannot be inferred", parseGrid)
    .option('--json', 'print what was drawn as JSON')
    .action(async (o: MosaicCliOptions) => {
      const store = await Store.open(o.store, { readOnly: true });
      try {
        const m = await neuronMosaic(store, {
          layer: o.layer,
          channel: o.channel,
          step: o.step,
          k: o.k,
          dataset: o.dataset,
          model: o.model,
          tileSize: o.tile,
          columns: o.columns,
          grid: o.grid,
        });
        await writeOutput(m.png, { out: o.out, what: 'PNG' }, sink);
        const info = { out: o.out, dataset: m.dataset, model: m.model, step: m.step, layer: o.layer, channel: o.channel, grid: m.grid, width: m.layout.width, height: m.layout.height, samples: m.rows };
        if (o.json) sink.write(`${JSON.stringify(info)}\n`);
        else sink.write(`${o.out}: ${m.rows.length} samples of ${o.layer} channel ${o.channel} at step ${m.step} (${m.layout.width}x${m.layout.height} px)\n`);
      } finally {
        store.dispose();
      }
    });
}
