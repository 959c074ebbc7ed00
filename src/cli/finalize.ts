import path from 'node:path';
import type { Command } from 'commander';
import { NeurolensError } from '../errors.js';
import { loadSpec } from '../pipeline/spec.js';
import { finalizeStep } from '../stages/finalize.js';
import { Store, listCommits } from '../storage/index.js';

/**
 * `neurolens finalize PIPELINE`: after static sharding (`run --shard i/N` on several machines
 * writing to shared storage), merges the committed shard partials of every step into
 * neuron_stats and topk. Exact: the same answer as a single-machine run.
 */
export function registerFinalize(program: Command): void {
  program
    .command('finalize')
    .description('merge committed shard partials into neuron_stats and topk (after `run --shard i/N`)')
    .argument('<pipeline>', 'pipeline spec (YAML)')
    .option('--store <dir>', "override the spec's store directory")
    .option('--step <n>', 'only this checkpoint step', (v) => Number(v))
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { store?: string; step?: number; json?: boolean }) => {
      const { spec, baseDir } = await loadSpec(file);
      const storeDir = path.resolve(o.store ?? path.resolve(baseDir, spec.store));
      const commits = await listCommits(storeDir, { model: spec.model.name });
      const steps = [...new Set(commits.filter((c) => c.dataset === spec.dataset.name).map((c) => c.step))].sort((a, b) => a - b);
      const todo = o.step === undefined ? steps : steps.filter((s) => s === o.step);
      if (todo.length === 0) throw new NeurolensError('NOT_FOUND', `no committed shards for model ${spec.model.name} and dataset ${spec.dataset.name} in ${storeDir}`);
      const store = await Store.open(storeDir);
      const out = [];
      try {
        for (const step of todo) {
          const r = await finalizeStep(store, { dataset: spec.dataset.name, model: spec.model.name, step }, { eps: spec.eps, topk: spec.topk });
          out.push({ step, layers: r.layers });
        }
      } finally {
        store.dispose();
      }
      if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
      else for (const s of out) process.stdout.write(`step ${s.step}: ${s.layers.map((l) => `${l.layer} (${l.shards} shards, ${l.dead}/${l.channels} dead)`).join(', ')}\n`);
    });
}
