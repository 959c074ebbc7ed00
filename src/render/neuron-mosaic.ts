/**
 * The top-k activators of one neuron as a mosaic (mosaic.ts): rows from the `top_k_activators`
 * query, original pixels read back through the dataset source recorded in the store's newest run
 * of that dataset, and the argmax position outlined on each image.
 *
 * The store keeps the argmax as a cell of the layer's output grid but not the grid's shape; it
 * is recovered from positions per sample (neuron_stats: positions / count = H' x W' for images)
 * and the model input's aspect ratio, or given explicitly. The box is that cell scaled to the
 * image, not the unit's receptive field.
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { getQuery, runQuery } from '../queries/registry.js';
import { openDatasetSource } from '../sources/open.js';
import type { SourceSpec } from '../sources/spec.js';
import type { Source } from '../sources/types.js';
import { loadSampleImage } from '../stages/decode.js';
import { listRunIds, readRun } from '../storage/runs.js';
import type { Store } from '../storage/store.js';
import { renderMosaic, type MosaicLayout, type MosaicTile } from './mosaic.js';

export interface NeuronMosaicOptions {
  layer: string;
  channel: number;
  /** Default: the latest step of the layer. */
  step?: number;
  /** Samples to show (default 16). */
  k?: number;
  dataset?: string;
  model?: string;
  tileSize?: number;
  columns?: number;
  /** Output grid of the layer (rows x columns); default: inferred (see above). */
  grid?: { height: number; width: number };
}

export interface TopActivator {
  rank: number;
  sampleId: number;
  value: number;
  label: number | null;
  argmax: { t: number; y: number; x: number };
}

export interface NeuronMosaic {
  png: Buffer;
  layout: MosaicLayout;
  dataset: string;
  model: string;
  step: number;
  rows: TopActivator[];
  /** The output grid the argmax boxes refer to (null: not spatial, no boxes). */
  grid: { height: number; width: number } | null;
}

interface RunSpec {
  file?: string;
  dataset?: { name?: string; source?: SourceSpec; classes?: string[] };
  model?: { name?: string; input?: { height?: number; width?: number; motion?: string } };
}

/**
 * The dataset source and model input size recorded by the newest run that processed `dataset`
 * (preferring runs of `model`); relative paths resolve against the spec file's directory.
 */
export async function openRunSource(storeDir: string, dataset: string, model?: string): Promise<{ source: Source; input?: { height: number; width: number }; runId: string }> {
  const ids = (await listRunIds(storeDir)).reverse();
  const specs: [string, RunSpec][] = [];
  for (const id of ids) {
    const spec = (await readRun(storeDir, id)).spec as RunSpec | undefined;
    if (spec?.dataset?.name === dataset && spec.dataset.source) specs.push([id, spec]);
  }
  const pick = specs.find(([, s]) => model === undefined || s.model?.name === model) ?? specs[0];
  if (!pick) throw new NeurolensError('NOT_FOUND', `no run record in ${storeDir}/runs names dataset '${dataset}', so its images cannot be found`);
  const [runId, spec] = pick;
  if (typeof spec.file !== 'string') {
    throw new NeurolensError('NOT_FOUND', `run ${runId} does not record its spec file, so the relative paths of dataset '${dataset}' cannot be resolved`);
  }
  const source = await openDatasetSource({ source: spec.dataset!.source!, classes: spec.dataset!.classes }, spec.model?.input, path.dirname(spec.file));
  const h = spec.model?.input?.height;
  const w = spec.model?.input?.width;
  return { source, runId, ...(h && w ? { input: { height: h, width: w } } : {}) };
}

/**
 * Rows x columns of a layer's output grid from the positions per sample, the largest argmax seen
 * and the input's aspect ratio: the factorisation closest to the input's shape. 1 position = not
 * spatial (null).
 */
export function inferGrid(positions: number, maxY: number, maxX: number, input?: { height: number; width: number }): { height: number; width: number } | null {
  if (!Number.isInteger(positions) || positions <= 1) return null;
  const aspect = input ? input.height / input.width : 1;
  let best: { height: number; width: number } | null = null;
  let bestErr = Infinity;
  for (let h = maxY + 1; h <= positions; h++) {
    if (positions % h !== 0) continue;
    const w = positions / h;
    if (w < maxX + 1) continue;
    const err = Math.abs(Math.log(h / w / aspect));
    if (err < bestErr) {
      bestErr = err;
      best = { height: h, width: w };
    }
  }
  return best;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** The `top_k_activators` rows of one neuron (one dataset / model; the latest step unless given). */
export async function queryTopActivators(
  store: Store,
  o: Pick<NeuronMosaicOptions, 'layer' | 'channel' | 'step' | 'k' | 'dataset' | 'model'>,
): Promise<{ dataset: string; model: string; step: number; rows: TopActivator[] }> {
  const def = await getQuery('top_k_activators');
  const r = await runQuery(store, def, { layer: o.layer, channel: o.channel, step: o.step ?? null, k: o.k ?? 16, dataset: o.dataset ?? null, model: o.model ?? null });
  const col = <T>(name: string) => r.data[name] as T[];
  if (r.rowCount === 0) {
    const at = o.step === undefined ? '' : ` at step ${o.step}`;
    throw new NeurolensError('NOT_FOUND', `no top-k activators for layer '${o.layer}' channel ${o.channel}${at} in store ${store.dir} (check the layer, channel and step: neurolens query layer_summary)`);
  }
  const pairs = new Set(col<string>('dataset').map((d, i) => `${d} / ${col<string>('model')[i]}`));
  if (pairs.size > 1) {
    throw new NeurolensError('BAD_SPEC', `layer '${o.layer}' has results for several datasets / models (${[...pairs].join(', ')}): choose one with dataset and model`);
  }
  const rows: TopActivator[] = Array.from({ length: r.rowCount }, (_, i) => ({
    rank: col<number>('rank')[i]!,
    sampleId: col<number>('sample_id')[i]!,
    value: col<number>('value')[i]!,
    label: col<number | null>('label')[i] ?? null,
    argmax: { t: col<number>('argmax_t')[i]!, y: col<number>('argmax_y')[i]!, x: col<number>('argmax_x')[i]! },
  }));
  return { dataset: col<string>('dataset')[0]!, model: col<string>('model')[0]!, step: Number(col<bigint>('step')[0]), rows };
}

export async function neuronMosaic(store: Store, o: NeuronMosaicOptions): Promise<NeuronMosaic> {
  const { dataset, model, step, rows } = await queryTopActivators(store, o);
  const { source, input } = await openRunSource(store.dir, dataset, model);
  let grid = o.grid ?? null;
  if (!o.grid) {
    const stats = await store.query<{ p: number | null }>(
      'SELECT max(positions / count) AS p FROM neuron_stats WHERE dataset = $dataset AND model = $model AND step = $step AND layer = $layer AND channel = $channel',
      { dataset, model, step, layer: o.layer, channel: o.channel },
    );
    const positions = stats[0]?.p ?? 1;
    grid = inferGrid(Number(positions), Math.max(...rows.map((x) => x.argmax.y)), Math.max(...rows.map((x) => x.argmax.x)), input);
  }
  const tiles: MosaicTile[] = [];
  for (const row of rows) {
    const image = await loadSampleImage(source, row.sampleId);
    tiles.push({
      image,
      lines: [`#${row.rank + 1} id ${row.sampleId}`, `max ${formatValue(row.value)}`, row.label === null ? '' : `class ${row.label}`],
      ...(grid ? { cell: { y: row.argmax.y, x: row.argmax.x, gridH: grid.height, gridW: grid.width } } : {}),
    });
  }
  const title = `${o.layer} ch ${o.channel} step ${step}: top ${rows.length}`;
  const { png, layout } = await renderMosaic(tiles, { tileSize: o.tileSize, columns: o.columns, title });
  return { png, layout, dataset, model, step, rows, grid };
}
