/**
 * UMAP with our exact kNN graph: deterministic for a seed, the typed-array engine equals umap-js
 * exactly, the precomputed graph is what is used (a different graph changes the layout; no
 * NN-descent runs), the spectral initialisation, and progress reporting through embed2d.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { embed2d, knn, knnAccuracy, umap } from '../src/embed/index.js';
import { spectralLayout } from '../src/embed/umap-spectral.js';
import { mulberry32 } from '../src/train/prng.js';

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-300))) * Math.cos(2 * Math.PI * rand());
}

function mixture(n: number, d: number, c: number, seed: number) {
  const rand = mulberry32(seed);
  const centers = Array.from({ length: c }, () => Array.from({ length: d }, () => 6 * gauss(rand)));
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % c;
    for (let j = 0; j < d; j++) data[i * d + j] = centers[i % c][j] + gauss(rand);
  }
  return { data, n, d, labels };
}

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('umap', () => {
  const x = mixture(600, 10, 5, 1);

  it('is deterministic for a seed and separates clusters', async () => {
    const a = await umap(x, { seed: 3, nEpochs: 150 });
    const b = await umap(x, { seed: 3, nEpochs: 150 });
    expect(Array.from(b.coords)).toEqual(Array.from(a.coords));
    const c = await umap(x, { seed: 4, nEpochs: 150 });
    expect(Array.from(c.coords)).not.toEqual(Array.from(a.coords));
    expect(a.nEpochs).toBe(150);
    expect(knnAccuracy({ data: a.coords, n: x.n, d: 2 }, x.labels, 10)).toBeGreaterThan(0.98);
  });

  it('typed-array engine reproduces umap-js bit for bit (same graph, same seeded draws)', async () => {
    for (const init of ['random', 'pca'] as const) {
      const viaJs = await umap(x, { seed: 5, nEpochs: 120, engine: 'umap-js', init });
      const typed = await umap(x, { seed: 5, nEpochs: 120, engine: 'typed', init });
      expect(Array.from(typed.coords)).toEqual(Array.from(viaJs.coords));
    }
  });

  it('uses the precomputed kNN graph it is given', async () => {
    const g = knn(x, 14);
    const viaGraph = await umap(x, { seed: 3, nEpochs: 150, knnGraph: g });
    const own = await umap(x, { seed: 3, nEpochs: 150 });
    expect(Array.from(viaGraph.coords)).toEqual(Array.from(own.coords)); // same exact graph
    // A scrambled graph (neighbours shifted by one sample) gives another layout.
    const bad = { ...g, indices: g.indices.map((j) => (j + 1) % x.n) };
    const other = await umap(x, { seed: 3, nEpochs: 150, knnGraph: bad });
    expect(Array.from(other.coords)).not.toEqual(Array.from(own.coords));
  });

  it('spectral layout: separates two disconnected blocks of a graph along its first axis', () => {
    // Two 30-node rings joined by one weak edge: the Fiedler vector splits them.
    const rows: number[] = [], cols: number[] = [], vals: number[] = [];
    const edge = (i: number, j: number, w: number) => {
      rows.push(i, j);
      cols.push(j, i);
      vals.push(w, w);
    };
    for (let b = 0; b < 2; b++) for (let i = 0; i < 30; i++) edge(b * 30 + i, b * 30 + ((i + 1) % 30), 1);
    edge(0, 30, 0.01);
    const Y = spectralLayout({ n: 60, rows, cols, vals }, mulberry32(1));
    const side = (i: number) => Math.sign(Y[2 * i]);
    for (let i = 1; i < 30; i++) expect(side(i)).toBe(side(0));
    for (let i = 31; i < 60; i++) expect(side(i)).toBe(-side(0));
    expect(Math.max(...Array.from(Y).map(Math.abs))).toBeCloseTo(10, 6);
  });

  it('spectral init runs through umap and keeps the clusters', async () => {
    const r = await umap(x, { seed: 3, nEpochs: 150, init: 'spectral' });
    expect(knnAccuracy({ data: r.coords, n: x.n, d: 2 }, x.labels, 10)).toBeGreaterThan(0.98);
  });

  it('embed2d reports progress phases and canonical params', async () => {
    const phases = new Set<string>();
    const r = await embed2d(x, { method: 'umap', seed: 1, iterations: 50, onProgress: (p) => phases.add(p.phase) });
    expect([...phases]).toEqual(expect.arrayContaining(['knn', 'graph', 'optimize']));
    expect(r.params).toEqual({ method: 'umap', nNeighbors: 15, minDist: 0.1, nEpochs: 50, pcaDims: 0, seed: 1, init: 'random' });
  });
});
