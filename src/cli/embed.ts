/**
 * `neurolens embed --layer L [--step S] [--method tsne|umap|pca] [--sample N] ...`: the 2-D
 * layout of a layer's codes into the `embeddings` table (src/embed/run-section.ts). Progress goes
 * to stderr (lines, or NDJSON events with --json); stdout gets one summary line or one JSON object.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { EMBED_METHODS, embedLayer, embedProgressPrinter, type EmbedMethod } from '../embed/run-section.js';
import { Store } from '../storage/store.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import type { OutputSink } from './write-output.js';

interface EmbedCliOptions {
  layer: string;
  step?: number;
  method: EmbedMethod;
  sample?: number;
  seed: number;
  perplexity?: number;
  neighbors?: number;
  iterations?: number;
  store: string;
  dataset?: string;
  model?: string;
  backend: BackendChoice;
  json?: boolean;
}

function methodOption(v: string): EmbedMethod {
  if (!(EMBED_METHODS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${EMBED_METHODS.join(', ')}, got '${v}'`);
  return v as EmbedMethod;
}

function positiveNumber(name: string) {
  return (v: string): number => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new InvalidArgumentError(`${name}: expected a positive number, got '${v}'`);
    return x;
  };
}

export function registerEmbed(program: Command, sink: OutputSink = process.stdout, err: OutputSink = process.stderr): void {
  program
    .command('embed')
    .description("2-D layout (t-SNE, UMAP or PCA) of a layer's codes into the embeddings table")
    .requiredOption('--layer <name>', "layer whose codes to embed (one of the spec's codes: layers)")
    .option('--step <n>', 'checkpoint step (default: the latest step with codes of the layer)', intOption('--step', 0))
    .option('--method <m>', EMBED_METHODS.join('|'), methodOption, 'tsne')
    .option('--sample <n>', 'embed a stratified sample of N points, place the rest by kNN interpolation', intOption('--sample'))
    .option('--seed <n>', 'random seed (same seed, same layout)', intOption('--seed', 0), 0)
    .option('--perplexity <p>', 't-SNE perplexity (default 30)', positiveNumber('--perplexity'))
    .option('--neighbors <k>', 'UMAP neighbours (default 15)', intOption('--neighbors', 2))
    .option('--iterations <n>', 'optimisation iterations (t-SNE, UMAP epochs)', intOption('--iterations'))
    .option('--store <dir>', 'store directory', 'store')
    .option('--dataset <name>', 'dataset (when the store holds several)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--backend <name>', `tfjs backend for the kNN products: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print the result as JSON (NDJSON progress on stderr)')
    .action(async (o: EmbedCliOptions) => {
      // Read-only first: a missing store is NOT_FOUND, not silently created.
      (await Store.open(o.store, { readOnly: true })).dispose();
      // Writable: refreshing after the write also rewrites catalog.sql for outside DuckDB clients.
      const store = await Store.open(o.store);
      try {
        await setupBackend(o.backend);
        const r = await embedLayer(store, {
          layer: o.layer,
          step: o.step,
          dataset: o.dataset,
          model: o.model,
          method: o.method,
          sample: o.sample,
          seed: o.seed,
          perplexity: o.perplexity,
          neighbors: o.neighbors,
          iterations: o.iterations,
          onProgress: embedProgressPrinter(!!o.json, err),
        });
        if (o.json) {
          sink.write(`${JSON.stringify({ store: store.dir, ...r })}\n`);
        } else {
          const placed = r.placed ? ` (${r.embedded} embedded, ${r.placed} placed by ${r.params.place_k}-NN)` : '';
          sink.write(`${r.method} of ${r.layer} (${r.n} x ${r.d}) at step ${r.step}: ${r.n} points${placed} in ${r.seconds}s -> ${r.path}\n`);
        }
      } finally {
        store.dispose();
      }
    });
}
