/**
 * One MobileNetV2 pipeline run (the bench/pipeline.ts inputs: all conv layers tapped, two
 * checkpoints of the same weights), for a CPU profile of every thread:
 *   node --cpu-prof --cpu-prof-dir DIR --import tsx bench/pipeline-profile.ts --prof-dir DIR [--retention summary]
 *   npx tsx bench/cpuprofile-summary.ts DIR
 * The worker pools give their threads an explicit execArgv (the tsx loader), which drops the
 * parent's --cpu-prof; with --prof-dir this script adds `--cpu-prof --cpu-prof-dir DIR` to every
 * worker thread it starts (node:worker_threads' Worker, which piscina looks up at each start).
 * Options: --retention rows|summary (summary), --workers N (cores), --limit N (256),
 * --batch N (16), --shard-size N (256), --backend wasm|cpu (wasm), --dir DIR (bench inputs).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { PipelineSpecSchema, type LoadedSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { mobilenetBench } from './pipeline-inputs.js';
import { stepParquetBytes } from './pipeline-retention.js';

const { values: opt } = parseArgs({
  options: {
    retention: { type: 'string', default: 'summary' },
    workers: { type: 'string' },
    limit: { type: 'string', default: '256' },
    batch: { type: 'string', default: '16' },
    'shard-size': { type: 'string', default: '256' },
    backend: { type: 'string', default: 'wasm' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'neurolens-bench') },
    'prof-dir': { type: 'string' },
  },
});
if (opt['prof-dir']) {
  const profDir = path.resolve(opt['prof-dir']);
  const wt = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  const Base = wt.Worker;
  wt.Worker = class extends Base {
    constructor(file: ConstructorParameters<typeof Base>[0], o: ConstructorParameters<typeof Base>[1] = {}) {
      super(file, { ...o, execArgv: [...(o.execArgv ?? process.execArgv), '--cpu-prof', `--cpu-prof-dir=${profDir}`] });
    }
  };
}
const root = path.resolve(opt.dir!);
const workers = Number(opt.workers ?? os.availableParallelism());
await setupBackend(opt.backend as BackendChoice);
const b = await mobilenetBench(root, Number(opt.limit), Number(opt.batch));
const dir = path.join(root, 'run-profile');
await rm(dir, { recursive: true, force: true });
await mkdir(dir, { recursive: true });
const raw = { ...b.spec, shard_size: Number(opt['shard-size']), retention: { default: opt.retention } };
const loaded: LoadedSpec = { spec: PipelineSpecSchema.parse(raw), file: path.join(dir, 'spec.yaml'), baseDir: dir };
// CPU seconds per thread (Linux /proc/self/task/<tid>/stat utime + stime), polled because the
// pools' threads exit when runPipeline disposes them; tids are handed out in creation order.
const threads = new Map<number, { name: string; s: number }>();
const tick = Number((await readFile('/proc/self/stat', 'utf8').then(() => 100, () => 0)));
const poll = async () => {
  for (const t of await readdir('/proc/self/task').catch(() => [] as string[])) {
    const stat = await readFile(`/proc/self/task/${t}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (.*)$/.exec(stat.trim());
    if (!m) continue;
    const f = m[2].split(' ');
    threads.set(Number(t), { name: m[1], s: (Number(f[11]) + Number(f[12])) / tick });
  }
};
const poller = tick ? setInterval(() => void poll(), 250) : undefined;
const s = await runPipeline(loaded, { backend: opt.backend as BackendChoice, workers, limit: b.limit, resume: false, store: path.join(dir, 'store'), progress: 'silent' });
for (const c of s.checkpoints) {
  const bytes = Object.values(await stepParquetBytes(s.store, c.step)).reduce((a, n) => a + n, 0);
  console.log(
    `step ${c.step}: ${c.samples} images in ${c.seconds} s (${c.images_per_s} img/s); CPU ${((1000 * c.cpu_s) / c.samples).toFixed(2)} ms/img, ` +
      `infer busy ${((1000 * c.busy_s.infer) / c.samples).toFixed(2)}, sink busy ${((1000 * c.busy_s.sink) / c.samples).toFixed(2)} ms/img; ${Math.round(bytes / c.samples)} B/img`,
  );
}
if (poller) {
  clearInterval(poller);
  await poll();
  const total = [...threads.values()].reduce((a, t) => a + t.s, 0);
  const main = Math.min(...threads.keys());
  const images = s.checkpoints.reduce((n, c) => n + c.samples, 0);
  console.log(`CPU per thread over the whole run (start-up and ${images} images), tid order = creation order:`);
  for (const [tid, t] of [...threads.entries()].sort((a, b) => a[0] - b[0])) {
    if (t.s < 0.05) continue;
    console.log(`  ${String(tid).padStart(7)} ${(tid === main ? 'main' : t.name).padEnd(16)} ${t.s.toFixed(2).padStart(7)} s  ${((1000 * t.s) / images).toFixed(2).padStart(7)} ms/img`);
  }
  console.log(`  total ${total.toFixed(2)} s, ${((1000 * total) / images).toFixed(2)} ms/img`);
}
console.log(`retention ${opt.retention}, ${workers} worker(s), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await rm(dir, { recursive: true, force: true });
