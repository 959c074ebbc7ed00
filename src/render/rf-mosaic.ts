/**
 * Top-k activators of a neuron as receptive-field crops (Girshick et al. 2014, Fig. 4; Zeiler &
 * Fergus 2014, Fig. 2): for each of the neuron's top-k samples, the input region its argmax
 * position sees. The argmax cell comes from the store's topk; the receptive field of the layer
 * is computed from the checkpoint's model graph (src/model/receptive-field.ts), in the pixels
 * of the image as the model sees it (resized / cropped by the run's preprocessing). Parts of the
 * field outside the image, the padding the layer saw as zeros, are drawn as a grey checker
 * pattern at their true place: crops are never shifted or wrapped to stay inside the image.
 */
import { NeurolensError } from '../errors.js';
import { ensureBackend } from '../model/backend.js';
import { loadModelDir } from '../model/io.js';
import { closeMatches } from '../model/layers.js';
import { receptiveField, rfBox, type ReceptiveField, type RfBox } from '../model/receptive-field.js';
import type { Store } from '../storage/store.js';
import type { Image8 } from './canvas.js';
import { loadSampleImage } from '../stages/decode.js';
import { renderMosaic, type MosaicLayout, type MosaicTile } from './mosaic.js';
import { formatValue, queryTopActivators, type NeuronMosaicOptions, type TopActivator } from './neuron-mosaic.js';
import { modelView, runSource } from './render-input.js';
import { findRunSpec, runCheckpoint } from './run-model.js';

export interface RfMosaicOptions extends Omit<NeuronMosaicOptions, 'grid'> {
  /** Model directory for the receptive field (default: the run's checkpoint at the step). */
  modelDir?: string;
  /** rf (default): each tile is the receptive field; box: the whole image with the field outlined (clipped to the image). */
  crop?: 'rf' | 'box';
}

export interface RfCrop extends TopActivator {
  box: RfBox;
}

export interface RfMosaic {
  png: Buffer;
  layout: MosaicLayout;
  dataset: string;
  model: string;
  step: number;
  modelDir: string;
  field: ReceptiveField;
  /** Model input size the boxes refer to. */
  input: { height: number; width: number };
  rows: RfCrop[];
}

/** The two greys of the padding checker pattern. */
export const PAD_CHECKER: [number, number] = [112, 150];

/**
 * The pixels of `box` from `img` (box in img's pixel coordinates, half-open, may reach outside);
 * outside the image a checker pattern of `cell`-pixel squares.
 */
export function cropWithPadding(img: Image8, box: Pick<RfBox, 'top' | 'left' | 'bottom' | 'right'>, cell = 2): Image8 {
  const width = box.right - box.left;
  const height = box.bottom - box.top;
  const ch = img.channels;
  const data = new Uint8Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    const sy = box.top + y;
    for (let x = 0; x < width; x++) {
      const sx = box.left + x;
      const o = (y * width + x) * ch;
      if (sy >= 0 && sy < img.height && sx >= 0 && sx < img.width) {
        for (let k = 0; k < ch; k++) data[o + k] = img.data[(sy * img.width + sx) * ch + k]!;
      } else {
        // Checker squares anchored to image coordinates, so neighbouring crops line up.
        const v = PAD_CHECKER[(Math.floor(sy / cell) + Math.floor(sx / cell)) & 1]!;
        data.fill(v, o, o + ch);
      }
    }
  }
  return { width, height, channels: ch, data };
}

/**
 * The receptive field of a layer of the checkpoint in `modelDir` (the model is loaded and disposed).
 * Loading needs a tfjs backend: one already set up (the CLI's --backend) is kept, otherwise
 * 'auto' is set up here, so a long-lived caller (the server) need not do it before every use.
 */
export async function layerField(modelDir: string, layer: string, inputShape: number[]): Promise<ReceptiveField> {
  await ensureBackend();
  const loaded = await loadModelDir(modelDir);
  try {
    return receptiveField(loaded.model, layer, { inputShape });
  } finally {
    loaded.model.dispose();
  }
}

/** A top-1 argmax position to check against a layer's grid; `unit` is named in the error when given. */
export interface ArgmaxAt {
  sampleId: number;
  y: number;
  x: number;
  unit?: number;
}

/**
 * Throws BAD_MODEL for the first position outside the layer's output grid: the store's topk was
 * written by another model than the one in `modelDir`. Global layers (one box for all) have no grid.
 */
export function checkArgmaxInGrid(positions: Iterable<ArgmaxAt>, field: ReceptiveField, layer: string, modelDir: string): void {
  const grid = field.output;
  if (field.global || !grid) return;
  for (const p of positions) {
    if (p.y >= grid[0] || p.x >= grid[1]) {
      const unit = p.unit === undefined ? '' : ` of unit ${p.unit}`;
      throw new NeurolensError('BAD_MODEL', `sample ${p.sampleId}: argmax (${p.y}, ${p.x})${unit} lies outside layer '${layer}' grid ${grid[0]}x${grid[1]} of model ${modelDir}: the store and the model do not match`);
    }
  }
}

/** Side of the padding checker's squares: about 16 squares across the field. */
export function checkerCell(field: Pick<ReceptiveField, 'size'>): number {
  return Math.max(1, Math.round(Math.max(...field.size) / 16));
}

/** queryTopActivators, with the store's close layer names when the layer has no rows. */
async function topActivators(store: Store, o: RfMosaicOptions): ReturnType<typeof queryTopActivators> {
  try {
    return await queryTopActivators(store, o);
  } catch (e) {
    if (!(e instanceof NeurolensError) || e.code !== 'NOT_FOUND' || !store.info.tablesWithFiles.includes('neuron_stats')) throw e;
    const layers = (await store.query<{ layer: string }>('SELECT DISTINCT layer FROM neuron_stats ORDER BY layer')).map((r) => r.layer);
    if (layers.includes(o.layer)) throw e;
    throw new NeurolensError('NOT_FOUND', `layer '${o.layer}' has no statistics in store ${store.dir}; did you mean: ${closeMatches(o.layer, layers).join(', ')}?`);
  }
}

export async function rfMosaic(store: Store, o: RfMosaicOptions): Promise<RfMosaic> {
  const { dataset, model, step, rows } = await topActivators(store, o);
  const run = await findRunSpec(store.dir, { dataset, model });
  const pre = run.model.input;
  const modelDir = o.modelDir ?? (await runCheckpoint(run, step)).dir;
  const field = await layerField(modelDir, o.layer, [pre.height, pre.width, pre.channels]);
  checkArgmaxInGrid(
    rows.map((r) => ({ sampleId: r.sampleId, y: r.argmax.y, x: r.argmax.x })),
    field,
    o.layer,
    modelDir,
  );
  const source = await runSource(run);
  const input = { height: pre.height, width: pre.width };
  const cell = checkerCell(field);
  const crops: RfCrop[] = [];
  const tiles: MosaicTile[] = [];
  for (const row of rows) {
    const view = await modelView(await loadSampleImage(source, row.sampleId), pre);
    const box = rfBox(field, row.argmax.y, row.argmax.x, input);
    crops.push({ ...row, box });
    const padded = box.pad.top + box.pad.left + box.pad.bottom + box.pad.right > 0;
    const lines = [`#${row.rank + 1} id ${row.sampleId}`, `max ${formatValue(row.value)}`, `at ${row.argmax.y},${row.argmax.x}${padded ? ' padded' : ''}`];
    tiles.push(o.crop === 'box' ? { image: view, lines, region: { ...box.clipped, ...input } } : { image: cropWithPadding(view, box, cell), lines });
  }
  const title = `${o.layer} ch ${o.channel} step ${step}: top ${rows.length}, receptive field ${field.size[0]}x${field.size[1]}`;
  const { png, layout } = await renderMosaic(tiles, { tileSize: o.tileSize, columns: o.columns, title });
  return { png, layout, dataset, model, step, modelDir, field, input, rows: crops };
}
