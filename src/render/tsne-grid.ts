/**
 * The t-SNE grid of Karpathy's "t-SNE visualization of CNN codes": sample thumbnails on a regular
 * grid that follows a stored 2-D layout (the `embeddings` table). Points are assigned to cells by
 * src/embed/grid.ts (Jonker-Volgenant, or tiles of it for large grids); pixels are read back
 * through the dataset source of the store's newest run (as the top-k mosaics do).
 *
 * Also the loader both embedding pictures use (`loadLayout`): one (dataset, model, step, layer,
 * method) of the embeddings table, with labels.
 */
import { NeurolensError } from '../errors.js';
import { assignGrid, defaultGridShape, type GridAssignment } from '../embed/grid.js';
import { loadSampleImage } from '../stages/decode.js';
import type { Store } from '../storage/store.js';
import { RgbCanvas, fitImage, type Rgb } from './canvas.js';
import { openRunSource } from './neuron-mosaic.js';

export interface LayoutSelection {
  layer: string;
  /** Default: the only method with a layout of the layer at that step. */
  method?: string;
  /** Default: the latest step with a layout of the layer (and method). */
  step?: number;
  dataset?: string;
  model?: string;
}

export interface Layout {
  dataset: string;
  model: string;
  step: number;
  layer: string;
  method: string;
  params: string;
  n: number;
  /** Ascending. */
  sampleIds: Int32Array;
  /** n x 2. */
  xy: Float32Array;
  /** -1 when unknown. */
  labels: Int32Array;
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];

export async function loadLayout(store: Store, sel: LayoutSelection): Promise<Layout> {
  const filter = 'layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)';
  const base = { layer: sel.layer, dataset: sel.dataset ?? null, model: sel.model ?? null };
  const have = await store.query<{ dataset: string; model: string; step: bigint; method: string }>(
    `SELECT DISTINCT dataset, model, step, method FROM embeddings WHERE ${filter} ORDER BY step, method`,
    base,
  );
  const where = `layer '${sel.layer}'${sel.dataset ? ` dataset '${sel.dataset}'` : ''}${sel.model ? ` model '${sel.model}'` : ''}`;
  if (have.length === 0) {
    const layers = (await store.query<{ layer: string }>('SELECT DISTINCT layer FROM embeddings ORDER BY layer')).map((r) => r.layer);
    const hint = layers.length ? `layers with embeddings: ${layers.join(', ')}` : 'the store has no embeddings yet';
    throw new NeurolensError('NOT_FOUND', `no embedding of ${where} in store ${store.dir} (${hint}; compute one with neurolens embed --layer ${sel.layer})`);
  }
  const pairs = uniq(have.map((r) => `${r.dataset} / ${r.model}`));
  if (pairs.length > 1) throw new NeurolensError('BAD_SPEC', `layer '${sel.layer}' has embeddings for several datasets / models (${pairs.join(', ')}): choose one with --dataset and --model`);
  let rows = have.filter((r) => sel.method === undefined || r.method === sel.method);
  if (rows.length === 0) throw new NeurolensError('NOT_FOUND', `no ${sel.method} embedding of ${where}; methods: ${uniq(have.map((r) => r.method)).join(', ')}`);
  const steps = uniq(rows.map((r) => Number(r.step)));
  const step = sel.step ?? Math.max(...steps);
  rows = rows.filter((r) => Number(r.step) === step);
  if (rows.length === 0) throw new NeurolensError('NOT_FOUND', `no embedding of ${where} at step ${step}; steps: ${steps.join(', ')}`);
  const methods = uniq(rows.map((r) => r.method));
  if (methods.length > 1) throw new NeurolensError('BAD_SPEC', `layer '${sel.layer}' at step ${step} has several embeddings (${methods.join(', ')}): choose one with --method`);
  const { dataset, model } = rows[0]!;
  const method = methods[0]!;
  const r = await store.queryColumns(
    `SELECT e.sample_id, e.x, e.y, s.label, e.params FROM embeddings e
     LEFT JOIN samples s ON s.dataset = e.dataset AND s.sample_id = e.sample_id
     WHERE e.dataset = $dataset AND e.model = $model AND e.step = $step AND e.layer = $layer AND e.method = $method
     ORDER BY e.sample_id`,
    { dataset, model, step, layer: sel.layer, method },
  );
  const n = r.rowCount;
  const xs = r.data.x as number[];
  const ys = r.data.y as number[];
  const xy = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    xy[i * 2] = xs[i]!;
    xy[i * 2 + 1] = ys[i]!;
  }
  return {
    dataset,
    model,
    step,
    layer: sel.layer,
    method,
    params: String((r.data.params as string[])[0] ?? '{}'),
    n,
    sampleIds: Int32Array.from(r.data.sample_id as number[]),
    xy,
    labels: Int32Array.from(r.data.label as (number | null)[], (v) => v ?? -1),
  };
}

export interface TsneGridOptions {
  /** Grid columns (default: ceil(sqrt(min(n, maxCells)))); rows follow from the points shown. */
  cols?: number;
  /** Tile side in pixels (default: the first image's larger side, at most 64). */
  tile?: number;
  /** Cells of the default grid at most (default 10,000). */
  maxCells?: number;
  /** Seed of the subset shown when points outnumber cells. */
  seed?: number;
  background?: Rgb;
}

export interface TsneGrid {
  png: Buffer;
  layout: Layout;
  grid: GridAssignment;
  tile: number;
  width: number;
  height: number;
  /** Sample id shown in each cell (row-major), -1 = empty. */
  cells: Int32Array;
  shown: number;
}

/** Grid shape: `cols` x enough rows for min(n, cols^2) points. */
export function tsneGridShape(n: number, cols?: number, maxCells = 10_000): { cols: number; rows: number } {
  const c = cols ?? Math.max(1, Math.ceil(Math.sqrt(Math.min(n, maxCells))));
  return defaultGridShape(Math.min(n, c * c), c);
}

export async function renderTsneGrid(store: Store, sel: LayoutSelection, o: TsneGridOptions = {}): Promise<TsneGrid> {
  const layout = await loadLayout(store, sel);
  const { cols, rows } = tsneGridShape(layout.n, o.cols, o.maxCells);
  // Row 0 is the top of the picture: flip y so the grid reads like the scatter plot (y up).
  const flipped = layout.xy.slice();
  for (let i = 1; i < flipped.length; i += 2) flipped[i] = -flipped[i];
  const grid = assignGrid(flipped, layout.n, { cols, rows, seed: o.seed });
  const { source } = await openRunSource(store.dir, layout.dataset, layout.model);
  const cells = new Int32Array(cols * rows).fill(-1);
  let tile = o.tile;
  let canvas: RgbCanvas | null = null;
  let shown = 0;
  for (let cell = 0; cell < cells.length; cell++) {
    const p = grid.cellToPoint[cell];
    if (p < 0) continue;
    const id = layout.sampleIds[p];
    cells[cell] = id;
    const raw = await loadSampleImage(source, id);
    tile ??= Math.min(64, Math.max(raw.width, raw.height));
    canvas ??= new RgbCanvas(cols * tile, rows * tile, o.background ?? [255, 255, 255]);
    const img = await fitImage(raw, tile);
    const x = (cell % cols) * tile + Math.floor((tile - img.width) / 2);
    const y = Math.floor(cell / cols) * tile + Math.floor((tile - img.height) / 2);
    canvas.drawImage(img, x, y);
    shown++;
  }
  if (!canvas || !tile) throw new NeurolensError('NOT_FOUND', `the embedding of layer '${layout.layer}' has no points to draw`);
  return { png: await canvas.toPng(), layout, grid, tile, width: canvas.width, height: canvas.height, cells, shown };
}
