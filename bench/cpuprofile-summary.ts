/**
 * Summarizes the V8 CPU profiles of a run (`node --cpu-prof --cpu-prof-dir DIR --import tsx ...`
 * writes one per thread, worker threads included): per thread, the sampled milliseconds that are
 * not idle, split by where the time was spent (self time grouped by script: tfjs wasm code,
 * parquet-wasm, neurolens src files, GC, ...) and the top functions by self time.
 *
 * Run: `npx tsx bench/cpuprofile-summary.ts DIR [--top N]`. The profiler samples wall time, so on
 * a loaded machine a thread that is runnable but not running is charged to what it was doing;
 * shares within a thread are what to read.
 */
import path from 'node:path';
import { readFile, readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values: opt, positionals } = parseArgs({ options: { top: { type: 'string', default: '12' } }, allowPositionals: true });
const dir = positionals[0];
if (!dir) throw new Error('usage: bench/cpuprofile-summary.ts DIR [--top N]');

/** A coarse owner of a script URL. */
function group(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program: native, not JS)';
  if (fn === '(idle)') return '(idle)';
  if (url.startsWith('wasm://')) return 'wasm code';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const s = /\/(src\/[^?]+|bench\/[^?]+)/.exec(url);
  if (s) return s[1];
  if (url.startsWith('node:') || url === '') return url || `(native: ${fn || 'anonymous'})`;
  return url;
}

const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
const top = Number(opt.top);
for (const f of files) {
  const p = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const g = group(n.callFrame.url, n.callFrame.functionName);
    groups.set(g, (groups.get(g) ?? 0) + ms);
    if (g === '(idle)') continue;
    busy += ms;
    const name = `${n.callFrame.functionName || '(anonymous)'} ${g}${n.callFrame.url.startsWith('wasm://') ? '' : `:${n.callFrame.lineNumber + 1}`}`;
    fns.set(name, (fns.get(name) ?? 0) + ms);
  }
  const wall = (p.endTime - p.startTime) / 1000;
  console.log(`\n${f}: ${(wall / 1000).toFixed(1)} s profiled, ${(busy / 1000).toFixed(1)} s not idle`);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  for (const [g, ms] of sorted(groups).slice(0, top)) console.log(`  ${(ms / 1000).toFixed(2).padStart(8)} s  ${g === '(idle)' ? '' : `${((100 * ms) / busy).toFixed(1).padStart(5)}%  `}${g}`);
  console.log('  top functions (self):');
  for (const [name, ms] of sorted(fns).slice(0, top)) console.log(`  ${(ms / 1000).toFixed(2).padStart(8)} s  ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${name}`);
}
