/**
 * `neurolens watch` with real processes: a real train-demo child writes checkpoints while a real
 * watch child analyses them; the store then equals a one-shot `neurolens run` over the same
 * checkpoints. A checkpoint copied slowly is not read before it is complete; a watch killed with
 * SIGKILL in the middle of a checkpoint is taken over (stale lock) and finishes equal to a
 * one-shot run; a second watch on the same store and spec is refused; a directory that is not a
 * model is an error event while the watch goes on; a changed spec stops the watch.
 * No assertion depends on wall-clock time: waits are for events, files and exits.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, NEUROLENS_BIN as BIN } from './helpers/cli.js';
import { Store } from '../src/storage/index.js';
import { fashionSpec } from './fixtures/fmnist-spec.js';

const TRAIN = ['--limit', '256', '--test-limit', '256', '--epochs', '1', '--batch-size', '32', '--checkpoint-every', '2'];
const STEPS = [0, 2, 4, 6, 8];
const children: ChildProcess[] = [];
let root: string;

function specText(checkpoints: string, store: string): string {
  return fashionSpec({ name: 'watch-test', checkpoints, store, extra: 'codes: [dense1]\nembed:\n  - { layer: dense1, method: pca }\n' });
}


// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ev = Record<string, any>;

interface WatchProc {
  child: ChildProcess;
  events: Ev[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when an event matching `pred` has arrived (or rejects when the process exits first). */
  waitFor(pred: (e: Ev) => boolean, what: string): Promise<Ev>;
}

function startWatch(args: string[]): WatchProc {
  const child = spawn(process.execPath, [BIN, 'watch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const events: Ev[] = [];
  let err = '';
  let buf = '';
  const waiters: { pred: (e: Ev) => boolean; resolve: (e: Ev) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as Ev;
      events.push(e);
      for (const w of [...waiters]) if (w.pred(e)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(e));
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  return {
    child,
    events,
    stderr: () => err,
    exit,
    waitFor(pred, what) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Ev>((resolve) => waiters.push({ pred, resolve })),
        exit.then(({ code, signal }) => {
          throw new Error(`watch exited (${code ?? signal}) before ${what}; stderr:\n${err}\nevents:\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
        }),
      ]);
    },
  };
}

function run(args: string[]): Promise<{ code: number | null }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  children.push(child);
  return new Promise((res) => child.on('exit', (code) => res({ code })));
}

const checkpointOf = (dir: string) => (e: Ev) => e.event === 'checkpoint' && e.dir === dir;

/** neuron_stats and topk rows (optionally of one step), comparable across stores. */
async function snapshot(store: string, step?: number) {
  const s = await Store.open(store, { readOnly: true });
  const where = step === undefined ? '' : `WHERE step = ${step}`;
  try {
    return {
      neuron_stats: await s.query(`SELECT * EXCLUDE (std, mean, m2), round(mean, 9) AS mean, round(std, 6) AS std FROM neuron_stats ${where} ORDER BY step, layer, channel`),
      topk: await s.query(`SELECT * FROM topk ${where} ORDER BY step, layer, channel, rank`),
    };
  } finally {
    s.dispose();
  }
}

async function countCommits(dir: string): Promise<number> {
  return (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).length;
}

/** A trained series shared by the tests after the first (trained by it, or here if it did not run). */
let series: string | undefined;
async function trainedSeries(): Promise<string> {
  if (series) return series;
  const out = path.join(root ?? (root = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-watch-'))), 'series');
  const r = await cli(['train-demo', '--out', out, ...TRAIN, '--json']);
  expect(r.status, r.stderr).toBe(0);
  return (series = out);
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('neurolens watch', () => {
  it('analyses each checkpoint of a live train-demo once; the store equals a one-shot run', async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-watch-'));
    const dir = path.join(root, 'live');
    await fs.mkdir(dir);
    const spec = path.join(dir, 'spec.yaml');
    await fs.writeFile(spec, specText('ckpts/ckpt-*', 'store-watch'));
    // A webhook receiver: every checkpoint event must arrive as the same JSON.
    const posted: Ev[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d)).on('end', () => {
        posted.push(JSON.parse(body) as Ev);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const w = startWatch([spec, '--every', '1s', '--json', '--limit', '256', '--workers', '1', '--webhook', `http://127.0.0.1:${port}/hook`]);
      await w.waitFor((e) => e.event === 'start', 'start');
      // Training starts only once the watch runs, so checkpoints appear under a running watch.
      expect((await run(['train-demo', '--out', path.join(dir, 'ckpts'), ...TRAIN, '--json'])).code).toBe(0);
      for (const s of STEPS) await w.waitFor(checkpointOf(path.join(dir, 'ckpts', `ckpt-${String(s).padStart(6, '0')}`)), `checkpoint ${s}`);
      w.child.kill('SIGTERM');
      expect(await w.exit).toEqual({ code: 0, signal: null });
      expect(w.events.at(-1)).toMatchObject({ event: 'stopped', reason: 'signal', analysed: STEPS.length, errors: 0 });
      const analysed = w.events.filter((e) => e.event === 'analyse').map((e) => e.step);
      expect(analysed).toEqual(STEPS); // each once, in step order
      expect(w.events.filter((e) => e.event === 'error')).toEqual([]);
      const cps = w.events.filter((e) => e.event === 'checkpoint');
      for (const c of cps) expect(c).toMatchObject({ samples: 256, errors: 0, shards: 4, skipped_shards: 0, embeddings: 1 });
      // A POST may still be on its way when the watch stops: wait for the receiver to have them all.
      for (let i = 0; i < 100 && posted.length < cps.length; i++) await new Promise((r) => setTimeout(r, 100));
      expect(posted).toEqual(cps);
      // Each checkpoint has its own run record.
      const runs = await fs.readdir(path.join(dir, 'store-watch', 'runs'));
      expect(runs.sort()).toEqual(cps.map((c) => `${c.run_id}.json`).sort());

      const once = await cli(['run', spec, '--store', path.join(dir, 'store-once'), '--limit', '256', '--workers', '1', '--json']);
      expect(once.status, once.stderr).toBe(0);
      const [a, b] = [await snapshot(path.join(dir, 'store-watch')), await snapshot(path.join(dir, 'store-once'))];
      expect(a.neuron_stats.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
      series = path.join(dir, 'ckpts');
    } finally {
      server.close();
    }
  });

  it('does not read a checkpoint that is being copied byte by byte before it is complete', async () => {
    const src = path.join(await trainedSeries(), 'ckpt-000004');
    const dir = path.join(root, 'slow');
    await fs.mkdir(path.join(dir, 'ckpts'), { recursive: true });
    const spec = path.join(dir, 'spec.yaml');
    await fs.writeFile(spec, specText('ckpts/ckpt-*', 'store'));
    // settle = 500 ms, and the copy pauses 700 ms between chunks: an unchanged listing alone
    // would pass a half-copied directory; the manifest byte counts must hold it back.
    const w = startWatch([spec, '--every', '500ms', '--json', '--limit', '256', '--workers', '1']);
    await w.waitFor((e) => e.event === 'start', 'start');
    const dst = path.join(dir, 'ckpts', 'ckpt-000004');
    await fs.mkdir(dst);
    const full: Record<string, number> = {};
    for (const name of ['model.json', 'group1-shard1of1.bin']) {
      const bytes = await fs.readFile(path.join(src, name));
      full[name] = bytes.byteLength;
      const fh = await fs.open(path.join(dst, name), 'w');
      const chunks = name === 'model.json' ? 3 : 5;
      for (let i = 0; i < chunks; i++) {
        await fh.write(bytes.subarray(Math.floor((i * bytes.length) / chunks), Math.floor(((i + 1) * bytes.length) / chunks)));
        // No pause after the last chunk: from then on the checkpoint is complete and may be read.
        if (name !== 'group1-shard1of1.bin' || i < chunks - 1) await new Promise((r) => setTimeout(r, 700));
      }
      await fh.close();
    }
    const atDone = w.events.length;
    await w.waitFor(checkpointOf(dst), 'the slow checkpoint');
    w.child.kill('SIGTERM');
    expect((await w.exit).code).toBe(0);
    expect(w.events.filter((e) => e.event === 'error')).toEqual([]);
    // It was seen while incomplete, and waited.
    const pendings = w.events.slice(0, atDone).filter((e) => e.event === 'pending' && e.dir === dst && e.state === 'incomplete');
    expect(pendings.length).toBeGreaterThan(0);
    // It was read once, and only in its complete state (every file at its full size).
    const reads = w.events.filter((e) => e.event === 'analyse' && e.dir === dst);
    expect(reads).toHaveLength(1);
    expect(reads[0].files).toEqual(full);
    expect(w.events.indexOf(reads[0])).toBeGreaterThanOrEqual(atDone);
    // And the results equal a one-shot run over the original directory.
    const ref = path.join(dir, 'store-ref');
    const r = await cli(['run', spec, '--checkpoints', src, '--store', ref, '--limit', '256', '--workers', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(await snapshot(path.join(dir, 'store'))).toEqual(await snapshot(ref));
  });

  it('kill -9 mid-checkpoint, then a restart takes the stale lock over and ends equal to a one-shot run', async () => {
    const ckpts = await trainedSeries();
    const dir = path.join(root, 'kill');
    await fs.mkdir(dir, { recursive: true });
    const spec = path.join(dir, 'spec.yaml');
    // Steps 0, 2 and 4 over 1024 samples (16 shards of 64): enough to kill in the middle of step 2.
    await fs.writeFile(spec, specText(`${ckpts}/ckpt-00000[024]`, 'store'));
    const store = path.join(dir, 'store');
    const args = [spec, '--every', '1s', '--json', '--limit', '1024', '--workers', '1'];
    const a = startWatch(args);
    await a.waitFor(checkpointOf(path.join(ckpts, 'ckpt-000000')), 'checkpoint 0');
    await a.waitFor((e) => e.event === 'analyse' && e.step === 2, 'analyse 2');
    // Kill once a few of step 2's 16 shards are committed.
    const commits = path.join(store, '_commits', 'cnn', '2', 'fmnist-test');
    while ((await countCommits(commits)) < 3) await new Promise((r) => setTimeout(r, 10));
    a.child.kill('SIGKILL');
    expect((await a.exit).signal).toBe('SIGKILL');
    const committed = await countCommits(commits);
    expect(committed).toBeLessThan(16);
    // The lock survived the kill.
    const lock = JSON.parse(await fs.readFile(path.join(store, '_watch', 'cnn@fmnist-test.lock'), 'utf8'));
    expect(lock.pid).toBe(a.child.pid);

    // The restart also has a webhook that cannot be reached: logged, never fatal.
    const b = startWatch([...args, '--webhook', 'http://127.0.0.1:9/unreachable']);
    const take = await b.waitFor((e) => e.event === 'lock_takeover', 'lock takeover');
    expect(take.previous_pid).toBe(a.child.pid);
    expect(take.reason).toMatch(/not running/);
    for (const s of [2, 4]) await b.waitFor(checkpointOf(path.join(ckpts, `ckpt-${String(s).padStart(6, '0')}`)), `checkpoint ${s}`);
    b.child.kill('SIGTERM');
    expect((await b.exit).code).toBe(0);
    expect(b.stderr()).toMatch(/took over the stale lock/);
    expect(b.stderr()).toMatch(/webhook http:\/\/127\.0\.0\.1:9\/unreachable failed .*the watch goes on/);
    // Step 0 was done before the kill and is not redone; step 2 resumed after the committed shards.
    expect(b.events.filter((e) => e.event === 'analyse').map((e) => e.step)).toEqual([2, 4]);
    expect(b.events.find(checkpointOf(path.join(ckpts, 'ckpt-000002')))).toMatchObject({ skipped_shards: committed, shards: 16 - committed });

    const ref = path.join(dir, 'store-once');
    const r = await cli(['run', spec, '--store', ref, '--limit', '1024', '--workers', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(await snapshot(store)).toEqual(await snapshot(ref));
  });

  it('refuses a second watch on the same store and spec; reports a non-model dir and goes on; stops when the spec changes', async () => {
    const ckpts = await trainedSeries();
    const dir = path.join(root, 'second');
    await fs.mkdir(path.join(dir, 'ckpts', 'ckpt-000000'), { recursive: true });
    for (const f of ['model.json', 'group1-shard1of1.bin']) await fs.copyFile(path.join(ckpts, 'ckpt-000000', f), path.join(dir, 'ckpts', 'ckpt-000000', f));
    const bad = path.join(dir, 'ckpts', 'ckpt-000001');
    await fs.mkdir(bad);
    await fs.writeFile(path.join(bad, 'model.json'), JSON.stringify({ format: 'layers-model', weightsManifest: [] }));
    const spec = path.join(dir, 'spec.yaml');
    await fs.writeFile(spec, specText('ckpts/ckpt-*', 'store'));
    const args = [spec, '--every', '1s', '--json', '--limit', '64', '--workers', '1'];
    const a = startWatch(args);
    const err = await a.waitFor((e) => e.event === 'error', 'the error event');
    expect(err).toMatchObject({ dir: bad, code: 'BAD_MODEL' });
    expect(err.reason).toMatch(/modelTopology/);
    await a.waitFor(checkpointOf(path.join(dir, 'ckpts', 'ckpt-000000')), 'checkpoint 0');

    const second = await cli(['watch', ...args]);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`another neurolens watch already watches this store and spec: pid ${a.child.pid}`);

    await fs.appendFile(spec, '# edited\n');
    const exit = await a.exit;
    expect(exit.code).toBe(2);
    expect(a.stderr()).toContain(`${spec} changed while the watch was running`);
    expect(a.stderr()).toContain('restart the watch');
    expect(a.events.at(-1)).toMatchObject({ event: 'stopped', reason: 'error', analysed: 1, errors: 1 });
    // The lock is released on the way out: a new watch starts (and --once ends by itself).
    const again = await cli(['watch', ...args, '--once']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('"event":"analyse"');
  });
});
