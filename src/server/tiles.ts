/**
 * `GET /api/layers/:layer/tiles.png?step=&dataset=&model=&tile=&from=&to=`: units [from, to] of a
 * layer as one sprite sheet, each unit a tile x tile square showing the receptive-field crop of
 * its top-1 activating sample (the rank-1 tile of `neurolens render mosaic`, src/render/rf-mosaic.ts;
 * Zeiler & Fergus 2014, Fig. 2). The dashboard's Layer view cuts the sheet into one tile per unit.
 *
 * One request reads the top-1 of every requested unit in one query (neuron_stats LEFT JOIN topk
 * rank 0, so a unit without a stored top-1 still gets its place), loads each distinct sample once,
 * and draws dead units (max <= eps, neuron_stats `dead`), units whose top-1 is not above 0 and
 * units without a top-1 row as flat grey. The layout goes in `X-Neurolens-Tiles` (JSON), so the
 * sheet needs no second request to be cut.
 */
import type { Hono } from 'hono';
import { cachedPicture, pictureAnswer } from './cached-picture.js';
import { checkKnown, intParam } from './params.js';
import { NeurolensError } from '../errors.js';
import { closeMatches } from '../model/layers.js';
import { rfBox, type ReceptiveField, type RfBox } from '../model/receptive-field.js';
import { RgbCanvas, fitImage, type Rgb } from '../render/canvas.js';
import { MOSAIC_COLORS } from '../render/mosaic.js';
import { checkArgmaxInGrid, checkerCell, cropWithPadding, layerField } from '../render/rf-mosaic.js';
import { modelView, runSource } from '../render/render-input.js';
import { findRunSpec, runCheckpoint, type RunSpecRecord } from '../render/run-model.js';
import type { Source } from '../sources/types.js';
import { loadSampleImage } from '../stages/decode.js';
import type { Store } from '../storage/index.js';
import type { AppDeps } from './app.js';
import { AnswerCache } from './cache.js';

const TILES_LIMITS = { units: 256, defaultUnits: 128, tileMin: 16, tileMax: 256, tile: 64, columns: 16 };

/** Dead units and units without a top-1 sample: one flat grey (the mosaic's empty-tile grey). */
export const EMPTY_TILE: Rgb = MOSAIC_COLORS.tile;

const KNOWN = ['step', 'dataset', 'model', 'tile', 'from', 'to'];

export interface TilesRequest {
  layer: string;
  step?: number;
  dataset?: string;
  model?: string;
  tile: number;
  from?: number;
  to?: number;
}

/**
 * One unit of the sheet. Grey tiles have sample_id null: with a value the unit is dead (max <= eps,
 * or never above 0), without one it has no stored top-1. Kept this small because a page of 128
 * units makes an 8 KB header.
 */
export interface TileUnit {
  channel: number;
  /** The sample whose crop the tile shows; null: a grey tile. */
  sample_id: number | null;
  /** The unit's top-1 value (its max over the dataset); null: no top-1 row. */
  value: number | null;
}

/** The `X-Neurolens-Tiles` header: unit i of `units` is at column i % columns, row floor(i / columns). */
export interface TilesLayout {
  tile: number;
  columns: number;
  from: number;
  to: number;
  step: number;
  dataset: string;
  model: string;
  units: TileUnit[];
}

export function tilesRequest(layer: string, q: Record<string, string>): TilesRequest {
  checkKnown('tiles', q, KNOWN);
  const o: TilesRequest = { layer, tile: intParam('tiles', 'tile', q.tile, TILES_LIMITS.tileMin, TILES_LIMITS.tileMax) ?? TILES_LIMITS.tile };
  const step = intParam('tiles', 'step', q.step, 0, Number.MAX_SAFE_INTEGER);
  const from = intParam('tiles', 'from', q.from, 0, 2 ** 31 - 1);
  const to = intParam('tiles', 'to', q.to, 0, 2 ** 31 - 1);
  if (step !== undefined) o.step = step;
  if (from !== undefined) o.from = from;
  if (to !== undefined) o.to = to;
  if (from !== undefined && to !== undefined) checkRange(from, to);
  if (q.dataset) o.dataset = q.dataset;
  if (q.model) o.model = q.model;
  return o;
}

function checkRange(from: number, to: number): void {
  if (from > to) throw new NeurolensError('BAD_QUERY', `tiles: from (${from}) is after to (${to})`);
  if (to - from + 1 > TILES_LIMITS.units) {
    throw new NeurolensError('BAD_QUERY', `tiles: from..to covers ${to - from + 1} units, more than ${TILES_LIMITS.units} per request; ask in pages`);
  }
}

interface LayerAt {
  dataset: string;
  model: string;
  step: number;
  units: number;
}

/** The layer's dataset / model / step and unit count from neuron_stats; 404 for an unknown layer or step. */
async function layerAt(store: Store, o: TilesRequest): Promise<LayerAt> {
  const params: Record<string, string> = { layer: o.layer };
  let where = 'layer = $layer';
  for (const k of ['dataset', 'model'] as const) {
    if (o[k] === undefined) continue;
    params[k] = o[k];
    where += ` AND ${k} = $${k}`;
  }
  const rows = await store.query<{ dataset: string; model: string; step: bigint; units: bigint }>(
    `SELECT dataset, model, step, count(DISTINCT channel) AS units FROM neuron_stats WHERE ${where} GROUP BY ALL ORDER BY step`,
    params,
  );
  if (rows.length === 0) {
    const layers = (await store.query<{ layer: string }>('SELECT DISTINCT layer FROM neuron_stats ORDER BY layer')).map((r) => r.layer);
    const near = layers.length ? `; did you mean: ${closeMatches(o.layer, layers).join(', ')}?` : ' (the store has no neuron statistics)';
    const narrowed = o.dataset || o.model ? ` for ${[o.dataset && `dataset '${o.dataset}'`, o.model && `model '${o.model}'`].filter(Boolean).join(' and ')}` : '';
    throw new NeurolensError('NOT_FOUND', `tiles: layer '${o.layer}' has no neuron statistics${narrowed}${near}`);
  }
  const pairs = [...new Set(rows.map((r) => `${r.dataset} / ${r.model}`))];
  if (pairs.length > 1) throw new NeurolensError('BAD_QUERY', `tiles: layer '${o.layer}' has results for several datasets / models (${pairs.join(', ')}): choose one with the dataset and model parameters`);
  const steps = rows.map((r) => Number(r.step));
  const step = o.step ?? steps[steps.length - 1]!;
  const at = rows[steps.indexOf(step)];
  if (!at) throw new NeurolensError('NOT_FOUND', `tiles: layer '${o.layer}' has no statistics at step ${step} (steps: ${steps.join(', ')})`);
  return { dataset: at.dataset, model: at.model, step, units: Number(at.units) };
}

/** [from, to] with the defaults (from 0, at most 128 units) and checked against the layer's units. */
function unitRange(o: TilesRequest, units: number): { from: number; to: number } {
  const from = o.from ?? 0;
  const to = o.to ?? Math.min(from + TILES_LIMITS.defaultUnits, units) - 1;
  const last = units - 1;
  if (from > last) throw new NeurolensError('BAD_QUERY', `tiles: from (${from}) is past the last unit of layer '${o.layer}' (units 0..${last})`);
  if (to > last) throw new NeurolensError('BAD_QUERY', `tiles: to (${to}) is past the last unit of layer '${o.layer}' (units 0..${last})`);
  checkRange(from, to);
  return { from, to };
}

interface TopOne {
  channel: number;
  dead: boolean;
  sample_id: number | null;
  value: number | null;
  argmax_y: number | null;
  argmax_x: number | null;
}

/** The top-1 row (topk rank 0) of every unit in [from, to], in one query. */
async function topOnes(store: Store, at: LayerAt, layer: string, range: { from: number; to: number }): Promise<TopOne[]> {
  return store.query<TopOne>(
    `SELECT n.channel, n.dead, t.sample_id, t.value, t.argmax_y, t.argmax_x
     FROM neuron_stats n
     LEFT JOIN topk t ON t.dataset = n.dataset AND t.model = n.model AND t.step = n.step AND t.layer = n.layer AND t.channel = n.channel AND t.rank = 0
     WHERE n.dataset = $dataset AND n.model = $model AND n.step = $step AND n.layer = $layer AND n.channel BETWEEN $from AND $to
     ORDER BY n.channel`,
    { dataset: at.dataset, model: at.model, step: at.step, layer, from: range.from, to: range.to },
  );
}

/** A tile shows a crop only for a unit that fired: not dead and a top-1 above 0. */
function shows(r: TopOne): r is TopOne & { sample_id: number; value: number; argmax_y: number; argmax_x: number } {
  return !r.dead && r.sample_id !== null && r.value !== null && r.value > 0;
}

/**
 * Receptive fields and dataset sources per store generation: a page of tiles would otherwise load
 * the checkpoint (MobileNetV2: 14 MB) and list the dataset again for every 128 units. A failed
 * load is forgotten, so it is retried by the next request.
 */
class RenderMemo {
  private generation = '';
  private readonly fields = new Map<string, Promise<ReceptiveField>>();
  private readonly sources = new Map<string, Promise<Source>>();

  at(generation: string): this {
    if (generation !== this.generation) {
      this.fields.clear();
      this.sources.clear();
      this.generation = generation;
    }
    return this;
  }

  field(modelDir: string, layer: string, inputShape: number[]): Promise<ReceptiveField> {
    return this.once(this.fields, JSON.stringify([modelDir, layer, inputShape]), () => layerField(modelDir, layer, inputShape));
  }

  source(run: RunSpecRecord): Promise<Source> {
    return this.once(this.sources, run.runId, () => runSource(run));
  }

  private once<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
    let p = map.get(key);
    if (!p) {
      p = make();
      map.set(key, p);
      p.catch(() => map.delete(key));
    }
    return p;
  }
}

/** Draws the crops of `rows` (units of one layer at one step) into a sprite of `columns` x n tiles. */
async function drawTiles(store: Store, memo: RenderMemo, at: LayerAt, layer: string, rows: TopOne[], tile: number): Promise<{ png: Buffer; columns: number }> {
  const columns = Math.min(TILES_LIMITS.columns, rows.length);
  const canvas = new RgbCanvas(columns * tile, Math.ceil(rows.length / columns) * tile, EMPTY_TILE);
  const shown = rows.map((r, i) => ({ r, i })).filter((x) => shows(x.r));
  if (shown.length > 0) {
    const run = await findRunSpec(store.dir, { dataset: at.dataset, model: at.model });
    const pre = run.model.input;
    const { dir } = await runCheckpoint(run, at.step);
    const field = await memo.field(dir, layer, [pre.height, pre.width, pre.channels]);
    const source = await memo.source(run);
    const input = { height: pre.height, width: pre.width };
    // The padding checker's square size, as rfMosaic draws it.
    const cell = checkerCell(field);
    const bySample = new Map<number, typeof shown>();
    for (const x of shown) {
      const group = bySample.get(x.r.sample_id!);
      if (group) group.push(x);
      else bySample.set(x.r.sample_id!, [x]);
    }
    // One sample in memory at a time, however many units it is the top-1 of.
    for (const [sampleId, units] of bySample) {
      const view = await modelView(await loadSampleImage(source, sampleId), pre);
      for (const { r, i } of units) {
        const fitted = await fitImage(cropWithPadding(view, cropBox(field, r, input, layer, dir), cell), tile);
        canvas.drawImage(fitted, (i % columns) * tile + Math.floor((tile - fitted.width) / 2), Math.floor(i / columns) * tile + Math.floor((tile - fitted.height) / 2));
      }
    }
  }
  return { png: await canvas.toPng(), columns };
}

/** The input box of unit r's top-1: the argmax position's field; for global layers the one box they all see. */
function cropBox(field: ReceptiveField, r: TopOne, input: { height: number; width: number }, layer: string, modelDir: string): RfBox {
  if (field.global) return rfBox(field, 0, 0, input);
  // Checked per unit as it is drawn, so the first bad unit in drawing order is the one named.
  checkArgmaxInGrid([{ sampleId: r.sample_id!, y: r.argmax_y!, x: r.argmax_x!, unit: r.channel }], field, layer, modelDir);
  return rfBox(field, r.argmax_y!, r.argmax_x!, input);
}

/** Header-safe JSON: HTTP header values are Latin-1, so everything past ASCII is escaped. */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Values are FLOAT in the store: the shortest decimal that reads back as the same float32 keeps the header small. */
function float32Text(v: number): number {
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === Math.fround(v)) return s;
  }
  return Number(v.toPrecision(9));
}

async function renderLayerTiles(store: Store, memo: RenderMemo, o: TilesRequest): Promise<{ png: Buffer; layout: TilesLayout }> {
  const at = await layerAt(store, o);
  const range = unitRange(o, at.units);
  const rows = await topOnes(store, at, o.layer, range);
  const { png, columns } = await drawTiles(store, memo, at, o.layer, rows, o.tile);
  const units = rows.map((r) => ({ channel: r.channel, sample_id: shows(r) ? r.sample_id : null, value: r.value === null ? null : float32Text(r.value) }));
  return { png, layout: { tile: o.tile, columns, ...range, step: at.step, dataset: at.dataset, model: at.model, units } };
}

export function mountTiles(app: Hono, deps: AppDeps): void {
  const { store } = deps;
  const memo = new RenderMemo();
  app.get('/api/layers/:layer/tiles.png', async (c) => {
    const o = tilesRequest(c.req.param('layer'), c.req.query());
    const key = AnswerCache.key('tiles.png', o as unknown as Record<string, unknown>, 'png');
    return cachedPicture(c, deps, key, async (generation) => {
      const t = await renderLayerTiles(store, memo.at(generation), o);
      return pictureAnswer(t.png, 'image/png', t.layout.units.length, { 'X-Neurolens-Tiles': asciiJson(t.layout) });
    });
  });
}
