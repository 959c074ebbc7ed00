/**
 * Embeddings in a real store made by a real pipeline run (the known-answer edge net, codes of
 * its `gap` layer): codes read back equal the plain-JS reference, layouts are written as
 * `embeddings` parts that replace (never duplicate) on re-run and that an outside DuckDB client
 * sees through catalog.sql, the spec's embed section, and the t-SNE grid / scatter PNGs read back
 * with sharp (every tile is the fixture image of the sample the grid puts there).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { fixtureImage, makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { expectedGapCodes } from './fixtures/embed-edge.js';
import { H, W } from './fixtures/models.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { readCodes, listCodePartitions } from '../src/embed/codes.js';
import { embed2d } from '../src/embed/index.js';
import { placeByKnn, selectRows } from '../src/embed/place.js';
import { stratifiedSample } from '../src/embed/sample.js';
import { EmbedSectionSchema, embedLayer, runEmbedSection } from '../src/embed/run-section.js';
import { renderTsneGrid } from '../src/render/tsne-grid.js';
import { TAB10, renderScatter } from '../src/render/scatter.js';
import { NeurolensError } from '../src/errors.js';

const N = 120;
let fx: PipelineFixture;
let store: Store;
let tmp: string;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-embed-store-'));
  fx = await makePipelineFixture(tmp, N, { shardSize: 32, batchSize: 16 });
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  store = await Store.open(fx.store);
}, 180_000);
afterAll(async () => {
  store?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

type Row = { method: string; params: string; sample_id: number; x: number; y: number; step: bigint };
const rowsOf = (method: string, step: number) =>
  store.query<Row>("SELECT method, params, sample_id, x, y, step FROM embeddings WHERE layer = 'gap' AND method = $method AND step = $step ORDER BY sample_id", { method, step });

describe('codes', () => {
  it('reads a layer as n x d float32 rows equal to the reference, latest step by default', async () => {
    expect(await listCodePartitions(store)).toEqual([
      { dataset: 'edges', model: 'edge-net', step: 0, layer: 'gap', dim: 3 },
      { dataset: 'edges', model: 'edge-net', step: 100, layer: 'gap', dim: 3 },
    ]);
    for (const step of [undefined, 0]) {
      const c = await readCodes(store, { layer: 'gap', step });
      expect([c.n, c.d, c.step, c.dataset, c.model]).toEqual([N, 3, step ?? 100, 'edges', 'edge-net']);
      expect([...c.sampleIds]).toEqual(Array.from({ length: N }, (_, i) => i));
      expect([...c.labels]).toEqual(Array.from({ length: N }, (_, i) => i % 4));
      const want = expectedGapCodes(N, step ?? 100);
      // float32 sums over 36 positions: relative error ~1e-6.
      for (let i = 0; i < N * 3; i++) expect(Math.abs(c.data[i]! - want[i]!)).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want[i]!)));
    }
  });

  it('says which layers have codes when the layer has none, and which steps exist', async () => {
    const err = async (sel: Parameters<typeof readCodes>[1]): Promise<NeurolensError> => {
      const e = await readCodes(store, sel).then(
        () => null,
        (x: unknown) => x as NeurolensError,
      );
      expect(e).toBeInstanceOf(NeurolensError);
      return e!;
    };
    const noCodes = await err({ layer: 'conv1' });
    expect(noCodes.code).toBe('NOT_FOUND');
    expect(noCodes.message).toMatch(/layer 'conv1' has statistics but no codes .*layers with codes: gap/);
    expect((await err({ layer: 'nope' })).message).toMatch(/no layer 'nope' with codes .*layers with codes: gap/);
    expect((await err({ layer: 'gap', step: 50 })).message).toMatch(/no codes at step 50; steps with codes: 0, 100/);
    expect((await err({ layer: 'gap', model: 'other' })).message).toMatch(/no codes for model 'other'; models with codes: edge-net/);
  });
});

describe('embeddings table', () => {
  it('writes one part per method that a re-run replaces, visible to an outside DuckDB client via catalog.sql', async () => {
    const a = await embedLayer(store, { layer: 'gap', method: 'pca', seed: 1 });
    expect([a.n, a.d, a.embedded, a.placed, a.step]).toEqual([N, 3, N, 0, 100]);
    const first = await rowsOf('pca', 100);
    expect(first.map((r) => r.sample_id)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(JSON.parse(first[0]!.params)).toMatchObject({ method: 'pca', seed: 1 });
    // The stored coordinates are the method's output, row for row.
    const codes = await readCodes(store, { layer: 'gap' });
    const direct = await embed2d(codes, { method: 'pca', seed: 1 });
    first.forEach((r, i) => {
      expect(r.x).toBeCloseTo(direct.coords[i * 2]!, 5);
      expect(r.y).toBeCloseTo(direct.coords[i * 2 + 1]!, 5);
    });

    await embedLayer(store, { layer: 'gap', method: 'pca', seed: 2 });
    await embedLayer(store, { layer: 'gap', method: 'tsne', seed: 3, iterations: 300 });
    const counts = await store.query<{ method: string; n: bigint; ids: bigint; params: bigint }>(
      "SELECT method, count(*) AS n, count(DISTINCT sample_id) AS ids, count(DISTINCT params) AS params FROM embeddings WHERE layer = 'gap' GROUP BY method ORDER BY method",
    );
    expect(counts.map((r) => [r.method, Number(r.n), Number(r.ids), Number(r.params)])).toEqual([
      ['pca', N, N, 1],
      ['tsne', N, N, 1],
    ]);
    expect(JSON.parse((await rowsOf('pca', 100))[0]!.params).seed).toBe(2);
    const dir = path.join(fx.store, 'embeddings/dataset=edges/model=edge-net/step=100/layer=gap');
    expect((await fs.readdir(dir)).sort()).toEqual(['pca.parquet', 'tsne.parquet']);

    // catalog.sql was rewritten: a separate DuckDB reads the same rows.
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      await c.run(`SET file_search_path = '${fx.store}'`);
      await c.run(await fs.readFile(path.join(fx.store, 'catalog.sql'), 'utf8'));
      const r = await c.runAndReadAll("SELECT method, count(*)::INTEGER AS n FROM embeddings GROUP BY method ORDER BY method");
      expect(r.getRowObjectsJS()).toEqual([
        { method: 'pca', n: N },
        { method: 'tsne', n: N },
      ]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });

  it('embeds a stratified sample and places every other sample by kNN in code space', async () => {
    const r = await embedLayer(store, { layer: 'gap', step: 0, method: 'pca', sample: 40, seed: 5 });
    expect([r.n, r.embedded, r.placed, r.params.sample, r.params.place_k, r.params.placement]).toEqual([N, 40, 80, 40, 10, 'knn']);
    const rows = await rowsOf('pca', 0);
    expect(rows.length).toBe(N);
    const codes = await readCodes(store, { layer: 'gap', step: 0 });
    const sampled = stratifiedSample(codes.labels, 40, 5);
    expect([...sampled].map((i) => codes.labels[i]).filter((l) => l === 0).length).toBe(10);
    const emb = await embed2d(selectRows(codes, sampled), { method: 'pca', seed: 5 });
    const want = placeByKnn(codes, sampled, emb.coords, 10).coords;
    rows.forEach((row, i) => {
      expect(row.x).toBeCloseTo(want[i * 2]!, 4);
      expect(row.y).toBeCloseTo(want[i * 2 + 1]!, 4);
    });
    await expect(embedLayer(store, { layer: 'gap', method: 'pca', sample: N + 1 })).rejects.toThrow(/--sample 121 is larger than the 120 samples with codes of layer 'gap' at step 100/);
  });

  it("runs a spec's embed section (steps: all) and validates it", async () => {
    const section = EmbedSectionSchema.parse([
      { layer: 'gap', method: 'umap', steps: 'all', neighbors: 8, seed: 4 },
      { layer: 'gap', method: 'umap', sample: 100_000 },
    ]);
    expect(section[0]).toMatchObject({ method: 'umap', steps: 'all', neighbors: 8, seed: 4 });
    const out = await runEmbedSection(store, section, { dataset: 'edges', model: 'edge-net', steps: [0, 100] });
    expect(out.map((r) => [r.method, r.step, r.n, r.embedded])).toEqual([
      ['umap', 0, N, N],
      ['umap', 100, N, N],
      ['umap', 100, N, N],
    ]);
    expect((await rowsOf('umap', 0)).length).toBe(N);
    expect((await rowsOf('umap', 100)).length).toBe(N);
    expect(EmbedSectionSchema.safeParse([{ layer: 'gap', method: 'mds' }]).success).toBe(false);
    expect(EmbedSectionSchema.safeParse([{ layer: 'gap', perplexty: 5 }]).success).toBe(false);
    await expect(runEmbedSection(store, EmbedSectionSchema.parse([{ layer: 'fc' }]), { dataset: 'edges', model: 'edge-net', steps: [100] })).rejects.toThrow(
      /layer 'fc' has statistics but no codes/,
    );
  });
});

describe('pictures', () => {
  it('t-SNE grid: every tile is the image of the sample the assignment put in that cell', async () => {
    const g = await renderTsneGrid(store, { layer: 'gap', method: 'tsne' });
    expect([g.grid.cols, g.grid.rows, g.tile, g.shown, g.grid.exact]).toEqual([11, 11, 8, N, true]);
    const { data, info } = await sharp(g.png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([88, 88, 3]);
    const ids = [...g.cells];
    expect(ids.filter((s) => s >= 0).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    const distinct = new Set<string>();
    ids.forEach((id, cell) => {
      const x0 = (cell % 11) * 8;
      const y0 = Math.floor(cell / 11) * 8;
      const img = id >= 0 ? fixtureImage(id) : null;
      let tile = '';
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const o = ((y0 + y) * info.width + x0 + x) * 3;
          const want = img ? img[y * W + x]! : 255;
          expect([data[o], data[o + 1], data[o + 2]]).toEqual([want, want, want]);
          tile += `${data[o]},`;
        }
      }
      if (img) distinct.add(tile);
    });
    expect(distinct.size).toBeGreaterThan(20);
    // The grid follows the layout: the sample in the top-left cell lies left of and above the one in the bottom-right.
    const pos = (id: number) => g.layout.sampleIds.indexOf(id);
    const tl = pos(ids[0]!);
    const br = pos(ids.filter((s) => s >= 0).at(-1)!);
    expect(g.layout.xy[tl * 2]).toBeLessThan(g.layout.xy[br * 2]!);
    expect(g.layout.xy[tl * 2 + 1]).toBeGreaterThan(g.layout.xy[br * 2 + 1]!);
  });

  it('scatter: one colour per class with a legend, dimensions as reported', async () => {
    await expect(renderScatter(store, { layer: 'gap' })).rejects.toThrow(/several embeddings \(pca, tsne, umap\): choose one with --method/);
    const s = await renderScatter(store, { layer: 'gap', method: 'tsne' }, { size: 300 });
    expect(s.width).toBeGreaterThan(300);
    expect(s.height).toBeLessThan(400);
    expect(s.legend.map((e) => [e.label, e.name, e.count])).toEqual([0, 1, 2, 3].map((l) => [l, `class ${l}`, N / 4]));
    const { data, info } = await sharp(s.png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([s.width, s.height]);
    const count = new Map<string, number>();
    for (let o = 0; o < data.length; o += 3) {
      const k = `${data[o]},${data[o + 1]},${data[o + 2]}`;
      count.set(k, (count.get(k) ?? 0) + 1);
    }
    // Each class colour: the legend swatch (16x16 at text scale 2) plus dots.
    for (const l of [0, 1, 2, 3]) expect(count.get(TAB10[l]!.join(','))).toBeGreaterThan(16 * 16);
    for (const l of [4, 5]) expect(count.get(TAB10[l]!.join(',')) ?? 0).toBe(0);
  });
});
