/**
 * `neurolens render filters (--model-dir DIR | --store DIR [--step S] [--model NAME]) --layer conv1 --out F.png`: a conv layer's weights as a
 * grid of small images (src/render/filters.ts), one per filter, normalised per filter.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { filterWeights } from '../render/filter-weights.js';
import { renderFilters, type FilterNorm } from '../render/filters.js';
import { openRenderModel } from '../render/run-model.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

interface FiltersCliOptions {
  modelDir?: string;
  model?: string;
  store?: string;
  step?: number;
  layer: string;
  out: string;
  upscale?: number;
  columns?: number;
  norm: FilterNorm;
  backend: BackendChoice;
  json?: boolean;
}

function parseNorm(v: string): FilterNorm {
  if (v !== 'minmax' && v !== 'symmetric') throw new InvalidArgumentError(`--norm: expected minmax|symmetric, got '${v}'`);
  return v;
}

export function registerFilters(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('filters')
    .description("draw a conv layer's filters as a grid of small images (RGB for 3-channel inputs, one grey tile per input channel otherwise)")
    .requiredOption('--layer <name>', 'conv layer (or graph node) name')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--model-dir <dir>', 'TF.js model directory')
    .option('--store <dir>', 'store whose newest run names the checkpoints (with --step)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--step <n>', 'checkpoint step with --store (default: the latest)', intOption('--step', 0))
    .option('--upscale <n>', 'pixels per weight (default: tiles of about 32 px)', intOption('--upscale'))
    .option('--columns <n>', 'filters per row (default: a square-ish picture)', intOption('--columns'))
    .option('--norm <how>', 'per-filter normalisation: minmax (min black, max white) | symmetric (0 grey)', parseNorm, 'minmax')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON')
    .action(async (o: FiltersCliOptions) => {
      await setupBackend(o.backend);
      const { loaded, step } = await openRenderModel({ modelDir: o.modelDir, store: o.store, step: o.step, model: o.model });
      try {
        const w = filterWeights(loaded.model, o.layer);
        const stepText = step === null ? '' : ` step ${step}`;
        const title = `${w.layer} ${w.kind} ${w.kh}x${w.kw}${w.frames > 1 ? `x${w.frames}` : ''} in ${w.inChannels} out ${w.filters}${stepText}`;
        const g = await renderFilters(w, { upscale: o.upscale, columns: o.columns, norm: o.norm, title });
        await writeOutput(g.png, { out: o.out, what: 'PNG' }, sink);
        const info = {
          out: o.out,
          model: loaded.dir,
          step,
          layer: w.layer,
          kind: w.kind,
          kernel: { height: w.kh, width: w.kw, frames: w.frames },
          inChannels: w.inChannels,
          filters: w.filters,
          norm: o.norm,
          upscale: g.upscale,
          columns: g.columns,
          width: g.width,
          height: g.height,
          tile: g.tile,
          tilesPerFilter: g.tilesPerFilter,
          placements: g.filters,
        };
        if (o.json) sink.write(`${JSON.stringify(info)}\n`);
        else sink.write(`${o.out}: ${w.filters} filters of ${w.layer} (${w.kh}x${w.kw}, ${w.inChannels} input channels), ${g.width}x${g.height} px\n`);
      } finally {
        loaded.model.dispose();
      }
    });
}
