/**
 * `neurolens embed` and `neurolens render tsne-grid|scatter` as real child processes on a real
 * store: the demo CNN trained briefly on Fashion-MNIST (12,000 training images, one epoch), its
 * last hidden layer's codes (dense1, 128-d) of the first 2,000 test images. Checks the quality bar at CI size (10-NN
 * accuracy in the 2-D t-SNE and UMAP layouts >= 0.95 x the 10-NN accuracy in code space), the
 * table through DuckDB and `neurolens query embedding_points`, re-runs replacing rows, errors
 * and exit codes (error cases run in-process through registerEmbed: a child process costs
 * seconds of start-up), and the PNGs read back with sharp.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { makeFashionCodesStore, type FashionCodesStore } from './fixtures/embed-fashion-store.js';
import { FASHION_DIR } from './embed-fashion.js';
import { cli } from './helpers/cli.js';
import { setupBackend } from '../src/model/backend.js';
import { readIdx } from '../src/sources/idx.js';
import { Store } from '../src/storage/index.js';
import { knnAccuracy } from '../src/embed/index.js';
import { readCodes } from '../src/embed/codes.js';
import { FASHION_MNIST_CLASSES } from '../src/train/index.js';
import { TAB10 } from '../src/render/scatter.js';
import { registerEmbed } from '../src/cli/embed.js';
import { EXIT_CODES, NeurolensError } from '../src/errors.js';

const N = 2000;
let fx: FashionCodesStore;
let tmp: string;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-embed-cli-'));
  fx = await makeFashionCodesStore(tmp, { n: N, trainImages: 12_000 });
}, 300_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const embed = (...args: string[]) => cli(['embed', '--store', fx.store, '--layer', 'dense1', ...args]);

/** `neurolens embed ARGS` in-process; resolves to stdout or rejects with the thrown error. */
async function embedInProcess(...args: string[]): Promise<string> {
  const out: string[] = [];
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerEmbed(program, { write: (c) => out.push(String(c)) }, { write: () => true });
  await program.parseAsync(['node', 'neurolens', 'embed', '--store', fx.store, '--layer', 'dense1', ...args]);
  return out.join('');
}

async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await Store.open(fx.store, { readOnly: true });
  try {
    return await fn(s);
  } finally {
    s.dispose();
  }
}

describe('neurolens embed', () => {
  it('t-SNE and UMAP layouts of trained CNN codes keep >= 0.95 of the code-space 10-NN accuracy', async () => {
    const [tsne, umap, unknown] = await Promise.all([
      embed('--method', 'tsne', '--json'),
      embed('--method', 'umap', '--json', '--seed', '1'),
      embed('--layer', 'dense9'),
    ]);
    // The real exit code of a NOT_FOUND (the other error cases run in-process below).
    expect(unknown.status).toBe(6);
    expect(unknown.stderr).toMatch(/^neurolens: no layer 'dense9' with codes in store .*; layers with codes: dense1/);
    for (const [r, method] of [
      [tsne, 'tsne'],
      [umap, 'umap'],
    ] as const) {
      expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('{"event":"progress"'))).toEqual([]);
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({ dataset: 'fashion-test', model: 'fashion-cnn', step: fx.step, layer: 'dense1', method, n: N, d: 128, embedded: N, placed: 0 });
      expect(out.path).toBe(`embeddings/dataset=fashion-test/model=fashion-cnn/step=${fx.step}/layer=dense1/${method}.parquet`);
    }
    await withStore(async (s) => {
      const codes = await readCodes(s, { layer: 'dense1' });
      const base = knnAccuracy(codes, codes.labels, 10);
      expect(base).toBeGreaterThan(0.75);
      for (const method of ['tsne', 'umap']) {
        const r = await s.queryColumns(
          "SELECT e.x, e.y, s.label FROM embeddings e JOIN samples s USING (dataset, sample_id) WHERE e.layer = 'dense1' AND e.method = $method ORDER BY e.sample_id",
          { method },
        );
        expect(r.rowCount).toBe(N);
        const xy = new Float32Array(N * 2);
        (r.data.x as number[]).forEach((v, i) => (xy[i * 2] = v));
        (r.data.y as number[]).forEach((v, i) => (xy[i * 2 + 1] = v));
        const acc = knnAccuracy({ data: xy, n: N, d: 2 }, r.data.label as number[], 10);
        console.log(`10-NN accuracy: code space ${base.toFixed(4)}, ${method} ${acc.toFixed(4)} (ratio ${(acc / base).toFixed(4)})`);
        expect(acc).toBeGreaterThanOrEqual(0.95 * base);
      }
    });
  });

  it('query embedding_points shows one row per sample; a re-run replaces the rows', async () => {
    const first = await embedInProcess('--method', 'pca');
    expect(first).toMatch(new RegExp(`^pca of dense1 \\(${N} x 128\\) at step ${fx.step}: ${N} points in [\\d.]+s -> embeddings/`));
    const again = await embed('--method', 'pca', '--sample', '500', '--seed', '7', '--json');
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ n: N, embedded: 500, placed: N - 500 });
    const file = path.join(tmp, 'points.json');
    const q = await cli(['query', 'embedding_points', '--store', fx.store, '-p', 'layer=dense1', '-p', 'method=pca', '--format', 'json', '--out', file]);
    expect(q.status, q.stderr).toBe(0);
    const rows = JSON.parse(await fs.readFile(file, 'utf8')) as { sample_id: number; params: string; label: number; step: number }[];
    expect(rows.length).toBe(N);
    expect(new Set(rows.map((r) => r.sample_id)).size).toBe(N);
    expect(new Set(rows.map((r) => r.params))).toEqual(new Set([JSON.stringify({ method: 'pca', place_k: 10, placement: 'knn', sample: 500, seed: 7 })]));
    expect(rows.every((r) => r.step === fx.step)).toBe(true);
    const labels = await readIdx(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz'));
    expect(rows.every((r) => r.label === labels.data[r.sample_id])).toBe(true);
  });

  it('bad input: error codes (and so exit codes) with messages that say what exists', async () => {
    const fail = async (...args: string[]) => {
      const e = await embedInProcess(...args).then(
        () => null,
        (err: unknown) => err as Error,
      );
      expect(e).toBeInstanceOf(Error);
      return e!;
    };
    const noCodes = (await fail('--layer', 'conv2')) as NeurolensError;
    expect([noCodes.code, EXIT_CODES[noCodes.code]]).toEqual(['NOT_FOUND', 6]);
    expect(noCodes.message).toMatch(/layer 'conv2' has statistics but no codes .*layers with codes: dense1/);
    const tooMany = (await fail('--method', 'pca', '--sample', String(N + 1))) as NeurolensError;
    expect([tooMany.code, EXIT_CODES[tooMany.code]]).toEqual(['BAD_SPEC', 2]);
    expect(tooMany.message).toMatch(new RegExp(`--sample ${N + 1} is larger than the ${N} samples with codes of layer 'dense1' at step ${fx.step}`));
    const step = (await fail('--step', '3')) as NeurolensError;
    expect(step.message).toMatch(new RegExp(`no codes at step 3; steps with codes: 0, ${fx.step}`));
    expect((await fail('--method', 'mds')).message).toMatch(/expected one of tsne, umap, pca, got 'mds'/);
    expect((await fail('--sample', '0')).message).toMatch(/--sample: expected an integer >= 1, got '0'/);
    const noStore = (await fail('--store', path.join(tmp, 'missing'))) as NeurolensError;
    expect([noStore.code, noStore.message]).toEqual(['NOT_FOUND', `store ${path.join(tmp, 'missing')} does not exist`]);
  });
});

describe('neurolens render tsne-grid / scatter', () => {
  it('draws the test images on the grid cells the layout assigns, and a scatter with the class legend', async () => {
    const grid = path.join(tmp, 'grid.png');
    const scatter = path.join(tmp, 'scatter.png');
    const [g, s] = await Promise.all([
      cli(['render', 'tsne-grid', '--store', fx.store, '--layer', 'dense1', '--method', 'tsne', '--cols', '30', '--out', grid, '--json']),
      cli(['render', 'scatter', '--store', fx.store, '--layer', 'dense1', '--method', 'umap', '--out', scatter, '--json']),
    ]);
    expect(g.status, g.stderr).toBe(0);
    const gi = JSON.parse(g.stdout) as { cols: number; rows: number; tile: number; shown: number; width: number; height: number; cells: number[]; exact: boolean };
    expect([gi.cols, gi.rows, gi.tile, gi.shown, gi.width, gi.height, gi.exact]).toEqual([30, 30, 28, 900, 840, 840, true]);
    expect(gi.cells.filter((c) => c >= 0).length).toBe(900);
    expect(new Set(gi.cells).size).toBe(900);
    const { data, info } = await sharp(grid).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([840, 840, 3]);
    const images = await readIdx(path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz'));
    for (const cell of [0, 29, 450, 899]) {
      const id = gi.cells[cell]!;
      const x0 = (cell % 30) * 28;
      const y0 = Math.floor(cell / 30) * 28;
      const tile: number[] = [];
      for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) tile.push(data[((y0 + y) * 840 + x0 + x) * 3]!);
      expect(tile).toEqual([...images.data.subarray(id * 784, (id + 1) * 784)]);
      expect(new Set(tile).size).toBeGreaterThan(10);
    }

    expect(s.status, s.stderr).toBe(0);
    const si = JSON.parse(s.stdout) as { width: number; height: number; points: number; legend: { label: number; name: string; count: number; color: number[] }[] };
    expect(si.points).toBe(N);
    expect(si.legend.map((e) => e.name)).toEqual(FASHION_MNIST_CLASSES);
    expect(si.legend.reduce((a, e) => a + e.count, 0)).toBe(N);
    const sc = await sharp(scatter).raw().toBuffer({ resolveWithObject: true });
    expect([sc.info.width, sc.info.height]).toEqual([si.width, si.height]);
    const seen = new Set<string>();
    for (let o = 0; o < sc.data.length; o += 3) seen.add(`${sc.data[o]},${sc.data[o + 1]},${sc.data[o + 2]}`);
    for (const c of TAB10) expect(seen.has(c.join(','))).toBe(true);
  });
});
