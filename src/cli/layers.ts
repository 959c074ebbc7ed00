import type { Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { loadModelDir } from '../model/io.js';
import { listLayers, shapeText, type LayerInfo } from '../model/layers.js';
import { NeurolensError } from '../errors.js';

/** `HxWxC` or `TxHxWxC` -> numbers. */
function parseShape(text: string): number[] {
  const dims = text.split('x').map(Number);
  if (dims.length < 1 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new NeurolensError('BAD_SPEC', `--input-shape: '${text}' is not like 224x224x3`);
  }
  return dims;
}

function table(rows: LayerInfo[]): string {
  const cells = [['name', 'kind', 'output', 'tap'], ...rows.map((l) => [l.name, l.kind, shapeText(l.outputShape), l.tappable ? 'yes' : `no: ${l.why}`])];
  const widths = [0, 1, 2].map((c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) => r.map((v, c) => (c < 3 ? v.padEnd(widths[c]) : v)).join('  ')).join('\n');
}

/** `neurolens layers MODEL_DIR`: the layers (or graph nodes) that can be named in `layers:`. */
export function registerLayers(program: Command): void {
  program
    .command('layers')
    .description('list the layers (LayersModel) or graph nodes (GraphModel) of a TF.js model directory: name, kind, output shape, tappable')
    .argument('<model_dir>', 'TF.js model directory (model.json + weight shards)')
    .option('--json', 'machine-readable output')
    .option('--backend <name>', `tfjs backend (graph models run once on zeros to learn node shapes): ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--input-shape <HxWxC>', 'input size for graph models whose input dims are unknown, e.g. 224x224x3')
    .action(async (dir: string, opts: { json?: boolean; backend: BackendChoice; inputShape?: string }) => {
      await setupBackend(opts.backend);
      const loaded = await loadModelDir(dir);
      try {
        const layers = listLayers(loaded.model, opts.inputShape ? { inputShape: parseShape(opts.inputShape) } : {});
        if (opts.json) {
          process.stdout.write(JSON.stringify({ dir: loaded.dir, kind: loaded.kind, step: loaded.step, layers }, null, 2) + '\n');
          return;
        }
        const tappable = layers.filter((l) => l.tappable).length;
        process.stdout.write(`${loaded.dir}: ${loaded.kind === 'layers' ? 'LayersModel' : 'GraphModel'}, ${layers.length} ${loaded.kind === 'layers' ? 'layers' : 'nodes'}, ${tappable} tappable\n`);
        process.stdout.write(table(layers) + '\n');
      } finally {
        loaded.model.dispose();
      }
    });
}
