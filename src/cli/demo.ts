import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../model/backend.js';
import { defaultProgressMode } from '../pipeline/progress.js';
import { runPipeline } from '../pipeline/runner.js';
import { loadSpec } from '../pipeline/spec.js';
import { Store } from '../storage/index.js';
import { TRAIN_DEFAULTS, trainDemo } from '../train/loop.js';
import { TrainProgress } from '../train/progress.js';
import { printRunSummary } from './run.js';
import { intOption } from './options.js';
import { formatTable } from './table.js';
import { runVideoDemo } from './demo-video.js';
import { NeurolensError } from '../errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function hasCheckpoints(dir: string): Promise<boolean> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.some((n) => /^ckpt-\d+$/.test(n));
}

/**
 * `neurolens demo`: the main job end to end on real data. Trains the demo CNN on Debian's
 * Fashion-MNIST (unless a checkpoint series exists), runs pipelines/fashion-mnist.yaml over every
 * checkpoint, then answers three questions from SQL over the store.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .argument('[kind]', "image (default): Fashion-MNIST and the demo CNN | video: generated action videos and the two-stream network", 'image')
    .description('train-demo (if no checkpoints yet), run pipelines/fashion-mnist.yaml over every checkpoint, print answers from SQL; `demo video` does the same for video clips (make-actions, train-video-demo, pipelines/actions.yaml)')
    .option('--workers <n>', 'inference workers (default: cores)', intOption('--workers'))
    .option('--backend <name>', `${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--limit <n>', 'only the first N test images', intOption('--limit'))
    .option('--json', 'machine-readable output')
    .action(async (kind: string, o: { workers?: number; backend: BackendChoice; limit?: number; json?: boolean }) => {
      if (kind !== 'image' && kind !== 'video') throw new NeurolensError('BAD_SPEC', `demo: unknown kind '${kind}' (use image or video)`);
      if (kind === 'video') {
        if (o.limit !== undefined) throw new NeurolensError('BAD_SPEC', 'demo video: --limit applies to the image demo only');
        const r = await runVideoDemo(o);
        if (o.json) process.stdout.write(JSON.stringify(r, bigintSafe) + '\n');
        return;
      }
      const ckptDir = path.join(ROOT, 'checkpoints/fashion-mnist');
      if (!(await hasCheckpoints(ckptDir))) {
        process.stderr.write(`no checkpoints in ${ckptDir}: training the demo CNN first (about 4-5 minutes on 2 cores)\n`);
        const progress = new TrainProgress(o.json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines');
        const summary = await trainDemo({ ...TRAIN_DEFAULTS, out: ckptDir }, progress.onEvent);
        progress.finish(summary);
      }
      const spec = await loadSpec(path.join(ROOT, 'pipelines/fashion-mnist.yaml'));
      const summary = await runPipeline(spec, { workers: o.workers, backend: o.backend, limit: o.limit, progress: defaultProgressMode(!!o.json) });
      const store = await Store.open(summary.store, { readOnly: true });
      try {
        const classes = spec.spec.dataset.classes ?? [];
        const lastStep = Math.max(...summary.checkpoints.map((c) => c.step));
        const top = await store.query<Record<string, unknown>>(
          `SELECT t.channel AS unit, t.rank + 1 AS rank, t.sample_id, s.label, round(t.value, 3) AS max, t.argmax_y AS y, t.argmax_x AS x
           FROM topk t JOIN samples s ON s.dataset = t.dataset AND s.sample_id = t.sample_id
           WHERE t.layer = 'conv2' AND t.step = $step AND t.rank < 9 AND t.channel IN (
             SELECT channel FROM neuron_stats WHERE layer = 'conv2' AND step = $step AND NOT dead ORDER BY max DESC LIMIT 3)
           ORDER BY unit, rank`,
          { step: lastStep },
        );
        for (const r of top) r.class = classes[r.label as number] ?? r.label;
        const dead = await store.query<Record<string, unknown>>(
          `SELECT step, layer, count(*) FILTER (WHERE dead) AS dead, count(*) AS units
           FROM neuron_stats GROUP BY step, layer ORDER BY layer, step`,
        );
        const zero = await store.query<Record<string, unknown>>(
          `PIVOT (SELECT layer, step, round(sum(zero_frac * positions) / sum(positions), 3) AS zf FROM neuron_stats GROUP BY layer, step)
           ON step USING first(zf) GROUP BY layer ORDER BY layer`,
        );
        const acc = await store.query<Record<string, unknown>>(
          'SELECT step, round(avg(CASE WHEN pred = label THEN 1 ELSE 0 END), 4) AS accuracy FROM predictions GROUP BY step ORDER BY step',
        );
        if (o.json) {
          process.stdout.write(JSON.stringify({ run: summary, top9_conv2: top, dead_filters: dead, zero_fraction: zero, accuracy: acc }, bigintSafe) + '\n');
          return;
        }
        printRunSummary(summary);
        process.stdout.write(`\nTop-9 activators of the 3 strongest conv2 units at step ${lastStep} (sample, class, max, argmax y/x):\n`);
        process.stdout.write(formatTable(top.map(({ unit, rank, sample_id, class: c, max, y, x }) => ({ unit, rank, sample_id, class: c, max, y, x }))) + '\n');
        process.stdout.write('\nDead filters (max <= 0 over all 10,000 test images) per layer and checkpoint:\n');
        process.stdout.write(formatTable(dead) + '\n');
        process.stdout.write('\nZero fraction (share of activations exactly 0) per layer (rows) and checkpoint step (columns):\n');
        process.stdout.write(formatTable(zero) + '\n');
        process.stdout.write('\nTest accuracy per checkpoint (from the predictions table):\n');
        process.stdout.write(formatTable(acc) + '\n');
        process.stdout.write(`\nAsk your own: neurolens sql --store ${path.relative(process.cwd(), summary.store) || '.'} "SELECT * FROM neuron_stats LIMIT 5"  (or: duckdb -init ${summary.store}/catalog.sql)\n`);
      } finally {
        store.dispose();
      }
    });
}

export function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}
