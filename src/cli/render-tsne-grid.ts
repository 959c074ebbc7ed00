/**
 * `neurolens render tsne-grid --layer L --out grid.png`: sample thumbnails on a regular grid
 * following a stored 2-D layout (src/render/tsne-grid.ts), and
 * `neurolens render scatter --layer L --out scatter.png`: the layout as dots coloured by class
 * with a legend (src/render/scatter.ts). Both read the `embeddings` table written by
 * `neurolens embed`.
 */
import type { Command } from 'commander';
import { renderScatter } from '../render/scatter.js';
import { renderTsneGrid, type LayoutSelection } from '../render/tsne-grid.js';
import { Store } from '../storage/store.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

interface LayoutCliOptions {
  layer: string;
  method?: string;
  step?: number;
  store: string;
  dataset?: string;
  model?: string;
  out: string;
  json?: boolean;
}

function layoutOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--layer <name>', 'layer whose embedding to draw')
    .requiredOption('--out <file>', 'PNG file to write')
    .option('--method <m>', 'embedding method (tsne|umap|pca; default: the only one stored)')
    .option('--step <n>', 'checkpoint step (default: the latest with an embedding)', intOption('--step', 0))
    .option('--store <dir>', 'store directory', 'store')
    .option('--dataset <name>', 'dataset (when the store holds several)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--json', 'print what was drawn as JSON');
}

const selection = (o: LayoutCliOptions): LayoutSelection => ({ layer: o.layer, method: o.method, step: o.step, dataset: o.dataset, model: o.model });

export function registerTsneGrid(render: Command, sink: OutputSink = process.stdout): void {
  layoutOptions(render.command('tsne-grid'))
    .description('sample thumbnails on a regular grid following the stored 2-D layout (Karpathy-style t-SNE grid)')
    .option('--cols <n>', 'grid columns (default: square grid of up to 10,000 cells)', intOption('--cols'))
    .option('--tile <px>', "side of each thumbnail (default: the images' size, at most 64)", intOption('--tile'))
    .option('--seed <n>', 'seed of the subset shown when there are more points than cells', intOption('--seed', 0), 0)
    .action(async (o: LayoutCliOptions & { cols?: number; tile?: number; seed: number }) => {
      const store = await Store.open(o.store, { readOnly: true });
      try {
        const g = await renderTsneGrid(store, selection(o), { cols: o.cols, tile: o.tile, seed: o.seed });
        await writeOutput(g.png, { out: o.out, what: 'PNG' }, sink);
        const { layout: l } = g;
        if (o.json) {
          const info = {
            out: o.out,
            dataset: l.dataset,
            model: l.model,
            step: l.step,
            layer: l.layer,
            method: l.method,
            params: JSON.parse(l.params) as unknown,
            points: l.n,
            shown: g.shown,
            cols: g.grid.cols,
            rows: g.grid.rows,
            tile: g.tile,
            width: g.width,
            height: g.height,
            exact: g.grid.exact,
            cost: g.grid.cost,
            cells: [...g.cells],
          };
          sink.write(`${JSON.stringify(info)}\n`);
        } else {
          const how = g.grid.exact ? 'exact assignment' : 'tiled assignment';
          sink.write(`${o.out}: ${g.shown} of ${l.n} samples of ${l.layer} (${l.method}, step ${l.step}) on a ${g.grid.cols}x${g.grid.rows} grid, ${how} (${g.width}x${g.height} px)\n`);
        }
      } finally {
        store.dispose();
      }
    });
}

export function registerScatter(render: Command, sink: OutputSink = process.stdout): void {
  layoutOptions(render.command('scatter'))
    .description('the stored 2-D layout as a scatter plot coloured by class, with a legend')
    .option('--size <px>', 'side of the plot area', intOption('--size', 64), 800)
    .option('--radius <px>', 'dot radius (default 3, or 2 above 2,000 points)', intOption('--radius', 1))
    .action(async (o: LayoutCliOptions & { size: number; radius?: number }) => {
      const store = await Store.open(o.store, { readOnly: true });
      try {
        const s = await renderScatter(store, selection(o), { size: o.size, radius: o.radius });
        await writeOutput(s.png, { out: o.out, what: 'PNG' }, sink);
        const { layout: l } = s;
        if (o.json) {
          const legend = s.legend.map((e) => ({ label: e.label, name: e.name, count: e.count, color: e.color }));
          sink.write(`${JSON.stringify({ out: o.out, dataset: l.dataset, model: l.model, step: l.step, layer: l.layer, method: l.method, points: l.n, width: s.width, height: s.height, legend })}\n`);
        } else {
          sink.write(`${o.out}: ${l.n} samples of ${l.layer} (${l.method}, step ${l.step}), ${s.legend.length} classes (${s.width}x${s.height} px)\n`);
        }
      } finally {
        store.dispose();
      }
    });
}
