import type { Command } from 'commander';
import type { BackendChoice } from '../model/backend.js';
import { defaultProgressMode } from '../pipeline/progress.js';
import { runPipeline, type RunSummary } from '../pipeline/runner.js';
import { loadSpec } from '../pipeline/spec.js';
import { addRunOptions, intOption, parseShardOption } from './options.js';
import { resolveAutoShard } from '../queue/shard-auto.js';
import { runQueued } from './queue-run.js';

/** `--shard i/N` or `--shard auto` (Kubernetes Indexed Job / Slurm array environment). */
function parseShardOrAuto(v: string): { index: number; count: number } | 'auto' {
  return v === 'auto' ? 'auto' : parseShardOption(v);
}

export function printRunSummary(s: RunSummary): void {
  const lines = [`run ${s.run_id} ${s.status}: ${s.samples} samples x ${s.checkpoints.length} checkpoint(s) on ${s.backend} with ${s.workers} infer worker(s) in ${s.seconds}s; store ${s.store}`];
  for (const c of s.checkpoints) {
    const dead = c.dead ? ' dead: ' + Object.entries(c.dead).map(([l, n]) => `${l}=${n}`).join(' ') : '';
    lines.push(`  step ${c.step}: ${c.shards} shard(s) run, ${c.skipped} already committed, ${c.samples} samples, ${c.errors} errors, ${c.images_per_s} img/s${dead}`);
  }
  if (s.errors) lines.push(`  ${s.errors} sample(s) failed: see the errors table (neurolens sql "SELECT * FROM errors")`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerRun(program: Command): void {
  const cmd = program
    .command('run')
    .description('stream a dataset through every checkpoint of a model into the Parquet store')
    .argument('<pipeline>', 'pipeline spec (YAML), e.g. pipelines/fashion-mnist.yaml')
    .option('--checkpoints <glob>', "override the spec's checkpoint glob");
  // --limit, --workers, --decode-workers, --backend, --store, --max-error-rate: shared with `watch`.
  addRunOptions(cmd)
    .option('--no-resume', 're-run shards that are already committed')
    .option('--shard <i/N|auto>', 'static sharding: run shards s with s mod N == i (then `neurolens finalize`); auto: i from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID', parseShardOrAuto)
    .option('--shard-count <n>', 'N for --shard auto (default: NEUROLENS_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT)', intOption('--shard-count'))
    .option('--queue <url>', 'scale-out: enqueue the run on BullMQ at redis://host:port[/db] for `neurolens worker`s instead of running it here')
    .option('--detach', 'with --queue: return once the run is enqueued instead of waiting for it')
    .option('--attempts <n>', 'with --queue: attempts per shard job before it is recorded as failed (default 3)', intOption('--attempts'))
    .option('--json', 'machine-readable summary on stdout, NDJSON progress on stderr')
    .action(async (file: string, o: { checkpoints?: string; limit?: number; workers?: number; decodeWorkers?: number; backend: BackendChoice; store?: string; resume: boolean; shard?: { index: number; count: number } | 'auto'; shardCount?: number; queue?: string; detach?: boolean; attempts?: number; maxErrorRate?: number; json?: boolean }) => {
      const shard = o.shard === 'auto' ? resolveAutoShard(process.env, o.shardCount) : o.shard;
      const loaded = await loadSpec(file);
      if (o.queue) {
        await runQueued(loaded, { ...o, shard, queue: o.queue });
        return;
      }
      const summary = await runPipeline(loaded, {
        checkpoints: o.checkpoints,
        limit: o.limit,
        workers: o.workers,
        decodeWorkers: o.decodeWorkers,
        backend: o.backend,
        store: o.store,
        resume: o.resume,
        shard: shard && { index: shard.index, count: shard.count },
        maxErrorRate: o.maxErrorRate,
        progress: defaultProgressMode(!!o.json),
      });
      if (o.json) process.stdout.write(JSON.stringify(summary) + '\n');
      else printRunSummary(summary);
    });
}
