/**
 * Embedding benchmark, measured in one run (run: `npx tsx bench/embed.ts`):
 *   - our t-SNE and UMAP on 10k and 70k codes: wall time, phases, peak RSS, 10-NN accuracy in the
 *     2-D layout / in the code space (issue 5 targets: t-SNE 70k <= 180 s, UMAP 70k <= 120 s,
 *     memory <= 4 GB, accuracy ratio >= 0.95),
 *   - next to `tsne-js` at 1k points (exact O(N^2) t-SNE; same perplexity and iterations; both
 *     layouts scored with our exact KL) and plain `umap-js` defaults at 10k (its own NN-descent).
 * Codes: Fashion-MNIST, 70,000 images (test split then train split), pixels / 255, PCA to 50
 * dims (computed once here; the timed runs start from the 50-d codes). Each timed run is a child
 * process so its peak RSS is its own. The machine is shared: load averages are printed.
 * Options: --sizes 10000,70000  --skip-libs (no tsne-js / umap-js)  --tsnejs-n 1000  --umapjs-n 10000
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UMAP } from 'umap-js';
// @ts-expect-error tsne-js ships no type declarations
import TSNE from 'tsne-js';
import { setupBackend } from '../src/model/backend.js';
import { embed2d, exactKl, knnAccuracy, pca, tsne, type Points } from '../src/embed/index.js';
import { mulberry32 } from '../src/train/prng.js';
import { loadFashion } from '../test/embed-fashion.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,70000' },
    'skip-libs': { type: 'boolean', default: false },
    'tsnejs-n': { type: 'string', default: '1000' },
    'umapjs-n': { type: 'string', default: '10000' },
    child: { type: 'string' }, // internal: "method:n:codesFile"
  },
});

const secs = (t0: number) => (performance.now() - t0) / 1000;
const mb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** Codes file: n, d (int32) then float32 data then int32 labels. */
function readCodes(file: string, n: number): { points: Points; labels: Int32Array } {
  const buf = fs.readFileSync(file);
  const [total, d] = [buf.readInt32LE(0), buf.readInt32LE(4)];
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 8, buf.byteOffset + 8 + total * d * 4));
  const labels = new Int32Array(buf.buffer.slice(buf.byteOffset + 8 + total * d * 4, buf.byteOffset + 8 + total * d * 4 + total * 4));
  return { points: { data: data.slice(0, n * d), n, d }, labels: labels.slice(0, n) };
}

interface ChildResult {
  method: string;
  n: number;
  seconds: number;
  cpuSeconds: number;
  peakMB: number;
  stats: Record<string, number>;
  acc2d: number;
}

if (values.child) {
  // One timed run in its own process.
  const [method, nStr, file] = values.child.split(':');
  const n = Number(nStr);
  await setupBackend('wasm');
  const { points, labels } = readCodes(file, n);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await embed2d(points, { method: method as 'tsne' | 'umap', seed: 1 });
  const seconds = secs(t0);
  const cpu = process.cpuUsage(c0);
  const peakMB = mb();
  const acc2d = knnAccuracy({ data: r.coords, n, d: 2 }, labels, 10);
  const res: ChildResult = { method, n, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakMB, stats: r.stats, acc2d };
  process.stdout.write(JSON.stringify(res));
  process.exit(0);
}

const sizes = values.sizes.split(',').map(Number);
const maxN = Math.max(...sizes, Number(values['umapjs-n']), Number(values['tsnejs-n']));
console.log(`# neurolens embedding benchmark — ${new Date().toISOString()}`);
console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), load average at start: ${load()}`);
console.log(`uptime: ${execFileSync('uptime').toString().trim()}`);

await setupBackend('wasm');
let t = performance.now();
const f = await loadFashion(maxN);
const codes = pca(f, 50);
console.log(`codes: Fashion-MNIST ${maxN} images -> PCA 50 in ${secs(t).toFixed(1)} s (first 5 components explain ${(codes.explainedVarianceRatio.slice(0, 5).reduce((a, b) => a + b, 0) * 100).toFixed(1)}% of the variance)`);
const file = path.join(os.tmpdir(), `neurolens-bench-embed-${process.pid}.bin`);
{
  const head = Buffer.alloc(8);
  head.writeInt32LE(maxN, 0);
  head.writeInt32LE(codes.d, 4);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(codes.data.buffer, codes.data.byteOffset, codes.data.byteLength), Buffer.from(f.labels.buffer, f.labels.byteOffset, f.labels.byteLength)]));
}

const accCode = new Map<number, number>();
const codeAcc = (n: number) => {
  if (!accCode.has(n)) accCode.set(n, knnAccuracy({ data: codes.data.subarray(0, n * codes.d), n, d: codes.d }, f.labels.subarray(0, n), 10));
  return accCode.get(n)!;
};

const rows: string[] = [];
const self = fileURLToPath(import.meta.url);
function child(method: string, n: number): ChildResult {
  const out = spawnSync(process.execPath, [...process.execArgv, self, '--child', `${method}:${n}:${file}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) throw new Error(`child ${method} ${n} failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as ChildResult;
}

try {
  const ours: Record<string, ChildResult> = {};
  for (const n of sizes) {
    for (const method of ['tsne', 'umap']) {
      const r = child(method, n);
      ours[`${method}:${n}`] = r;
      const ratio = r.acc2d / codeAcc(n);
      const phases = Object.entries(r.stats)
        .filter(([k]) => k.endsWith('Seconds'))
        .map(([k, v]) => `${k.replace('Seconds', '')} ${v.toFixed(1)}`)
        .join(', ');
      rows.push(
        `| ${method} (ours) | ${n} | ${r.seconds.toFixed(1)} s (${phases}) | ${r.cpuSeconds.toFixed(0)} s | ${r.peakMB} MB | ${r.acc2d.toFixed(4)} / ${codeAcc(n).toFixed(4)} = ${ratio.toFixed(3)} |` +
          ` ${method === 'tsne' ? `KL ${r.stats.kl.toFixed(3)}${r.stats.klExact ? '' : ' (interpolated Z)'}` : `${r.stats.nEpochs} epochs`} |`,
      );
      console.log(rows[rows.length - 1]);
    }
  }

  if (!values['skip-libs']) {
    // tsne-js, exact t-SNE, at 1k: same perplexity (30) and iterations (1000) as ours.
    const n = Number(values['tsnejs-n']);
    const x: Points = { data: codes.data.subarray(0, n * codes.d), n, d: codes.d };
    const orig = Math.random;
    Math.random = mulberry32(5);
    t = performance.now();
    const model = new TSNE({ dim: 2, perplexity: 30, nIter: 1000 });
    model.init({ data: Array.from({ length: n }, (_, i) => Array.from(x.data.subarray(i * x.d, (i + 1) * x.d))), type: 'dense' });
    const [, iters] = model.run() as [number, number];
    const tJs = secs(t);
    Math.random = orig;
    const yJs = Float32Array.from((model.getOutput() as number[][]).flat());
    t = performance.now();
    const mine = await tsne(x, { perplexity: 30, iterations: 1000, seed: 1 });
    const tMine = secs(t);
    const klJs = exactKl(x, yJs, 30), klMine = exactKl(x, mine.coords, 30);
    const accJs = knnAccuracy({ data: yJs, n, d: 2 }, f.labels, 10), accMine = knnAccuracy({ data: mine.coords, n, d: 2 }, f.labels, 10);
    rows.push(`| tsne-js (exact) | ${n} | ${tJs.toFixed(1)} s (stopped itself after ${iters} of 1000 iterations) | | | ${accJs.toFixed(4)} / ${codeAcc(n).toFixed(4)} = ${(accJs / codeAcc(n)).toFixed(3)} | exact KL ${klJs.toFixed(3)} |`);
    rows.push(`| tsne (ours, ${mine.repulsion} repulsion) | ${n} | ${tMine.toFixed(1)} s: ${(tJs / tMine).toFixed(0)}x faster than tsne-js | | | ${accMine.toFixed(4)} / ${codeAcc(n).toFixed(4)} = ${(accMine / codeAcc(n)).toFixed(3)} | exact KL ${klMine.toFixed(3)} (${((klMine / klJs - 1) * 100).toFixed(1)}% vs tsne-js) |`);
    console.log(rows.slice(-2).join('\n'));

    // umap-js with its defaults (own NN-descent, random init, epochs by its schedule) at 10k.
    const m = Number(values['umapjs-n']);
    const X = Array.from({ length: m }, (_, i) => Array.from(codes.data.subarray(i * codes.d, (i + 1) * codes.d)));
    t = performance.now();
    const u = new UMAP({ random: mulberry32(1) });
    const emb = u.fit(X);
    const tU = secs(t);
    const yU = Float32Array.from(emb.flat());
    const accU = knnAccuracy({ data: yU, n: m, d: 2 }, f.labels, 10);
    const oursU = ours[`umap:${m}`];
    rows.push(
      `| umap-js defaults (own NN-descent) | ${m} | ${tU.toFixed(1)} s${oursU ? `: ours ${(tU / oursU.seconds).toFixed(1)}x faster` : ''} | | ${mb()} MB (bench process) | ${accU.toFixed(4)} / ${codeAcc(m).toFixed(4)} = ${(accU / codeAcc(m)).toFixed(3)} | |`,
    );
    console.log(rows[rows.length - 1]);
  }

  console.log('\n| method | n | wall time (phases) | CPU time | peak RSS | 10-NN acc 2-D / code space = ratio | notes |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log(`\nload average at end: ${load()}  (2 cores; other agents share the machine, so wall times vary run to run)`);
} finally {
  fs.rmSync(file, { force: true });
}
