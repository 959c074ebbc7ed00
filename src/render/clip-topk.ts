/**
 * A unit's top-k clips (the `topk` table, as render mosaic) ready for the clip figures: each
 * clip's frames read back from its video at the model's input size (the pixels the receptive
 * field refers to), the argmax position (t, y, x) turned into input terms with the layer's
 * receptive field (src/model/receptive-field*.ts): the input frames position t sees
 * (receptive-field-time.ts), the frame at their centre (outlined in strips) and the box of
 * (y, x). With `motion`, the clip's motion channels as the model saw them (flow in px/frame).
 */
import { NeurolensError } from '../errors.js';
import { ensureBackend } from '../model/backend.js';
import { loadModelDir } from '../model/io.js';
import { receptiveField, rfBox, type ReceptiveField, type RfBox } from '../model/receptive-field.js';
import { rfFrames, timeOf, type FrameRange, type TimeField } from '../model/receptive-field-time.js';
import type { Store } from '../storage/store.js';
import { loadClipFrames } from '../video/sample-frames.js';
import { RgbCanvas, type Rgb } from './canvas.js';
import { boxOnRect, clipCaption, type ClipItem } from './clip-cells.js';
import { renderClipStrip, type ClipStripOptions, type StripLayout } from './clip-strip.js';
import { encodePng } from './png.js';
import { clipPictures } from './clip-frames.js';
import { clipInput, clipLabel, openClipRun } from './clip-source.js';
import { queryTopActivators, type NeuronMosaicOptions, type TopActivator } from './neuron-mosaic.js';
import { runCheckpoint } from './run-model.js';

/** The unit and its top-k rows as `queryTopActivators` reads them (neuron-mosaic.ts). */
export interface ClipTopkOptions extends Pick<NeuronMosaicOptions, 'layer' | 'channel' | 'step' | 'k' | 'dataset' | 'model'> {
  /** Model directory for the receptive field (default: the run's checkpoint at the step). */
  modelDir?: string;
  /** Also the motion channels of each clip. */
  motion?: boolean;
}

export interface ClipTopkRow extends TopActivator {
  uri: string;
  /** First frame of the clip in its video, and the step between its frames. */
  start: number;
  stride: number;
  /** Input frames the argmax position sees (null: the layer has no time axis). */
  frames: FrameRange | null;
  /** The input frame marked as the argmax frame (centre of `frames`). */
  argmaxFrame: number;
  /** Receptive field of the argmax (y, x) in input pixels (null: a global layer). */
  box: RfBox | null;
}

export interface ClipTopk {
  dataset: string;
  model: string;
  step: number;
  modelDir: string;
  field: ReceptiveField;
  time: TimeField | null;
  input: { height: number; width: number; frames: number };
  rows: ClipTopkRow[];
  items: ClipItem[];
}

/** As rf-mosaic's layerField: an active backend is kept, otherwise 'auto' is set up at this first need. */
async function layerField(modelDir: string, layer: string): Promise<ReceptiveField> {
  await ensureBackend();
  const loaded = await loadModelDir(modelDir);
  try {
    return receptiveField(loaded.model, layer);
  } finally {
    loaded.model.dispose();
  }
}

function checkArgmax(row: TopActivator, field: ReceptiveField, time: TimeField | null, layer: string, modelDir: string): void {
  const grid = field.global ? null : field.output;
  const T = time && !time.global ? time.output : null;
  if ((grid && (row.argmax.y >= grid[0] || row.argmax.x >= grid[1])) || (T !== null && row.argmax.t >= T)) {
    const shape = `${T ?? '?'}x${grid ? grid.join('x') : '?'}`;
    throw new NeurolensError('BAD_MODEL', `sample ${row.sampleId}: argmax (t ${row.argmax.t}, y ${row.argmax.y}, x ${row.argmax.x}) lies outside layer '${layer}' grid ${shape} of model ${modelDir}: the store and the model do not match`);
  }
}

export async function clipTopk(store: Store, o: ClipTopkOptions): Promise<ClipTopk> {
  const { dataset, model, step, rows } = await queryTopActivators(store, o);
  const c = await openClipRun(store.dir, { dataset, model });
  const modelDir = o.modelDir ?? (await runCheckpoint(c.run, step)).dir;
  const field = await layerField(modelDir, o.layer);
  const time = timeOf(field);
  const { frames: T, height, width } = c.layout;
  const out: ClipTopkRow[] = [];
  const items: ClipItem[] = [];
  for (const row of rows) {
    checkArgmax(row, field, time, o.layer, modelDir);
    const clip = await loadClipFrames(c.source, row.sampleId, { width, height, fit: c.pre.fit });
    const frames = time ? rfFrames(time, time.global ? 0 : row.argmax.t, T) : null;
    const argmaxFrame = frames ? frames.centre : Math.min(row.argmax.t, T - 1);
    const box = field.global ? null : rfBox(field, row.argmax.y, row.argmax.x, { height, width });
    const motion = o.motion && c.layout.motion !== 'none' ? clipPictures(await clipInput(c, row.sampleId), c.layout, c.pre).motion : undefined;
    const seen = frames ? (frames.clipped.end - frames.clipped.first === T ? 'all frames' : `frames ${frames.clipped.first}-${frames.clipped.end - 1}`) : '';
    out.push({ ...row, uri: clip.uri, start: clip.start, stride: clip.stride, frames, argmaxFrame, box });
    items.push({
      frames: clip.frames,
      caption: [...clipCaption(row.rank, row.value, `id ${row.sampleId}`), clipLabel(c.source, row.sampleId), ...(seen ? [seen] : [])],
      argmaxT: argmaxFrame,
      ...(box ? { box: { top: box.top, left: box.left, bottom: box.bottom, right: box.right } } : {}),
      inputSize: { width, height },
      ...(motion ? { motion } : {}),
    });
  }
  return { dataset, model, step, modelDir, field, time, input: { height, width, frames: T }, rows: out, items };
}

/** Colour of the receptive-field box on the other frames the argmax position sees. */
export const EXTENT_COLOR: Rgb = [128, 208, 128];

/**
 * The top-k clips as frame strips: the argmax frame outlined with the box of the argmax
 * position on it (clip-strip.ts), and a thin box on every other frame the position sees, so the
 * strip shows the unit's temporal extent as well as its spatial one.
 */
export async function clipTopkStripPng(t: ClipTopk, o: ClipStripOptions = {}): Promise<{ png: Buffer; layout: StripLayout }> {
  const { image, layout } = renderClipStrip(t.items, o);
  const canvas = new RgbCanvas(image.width, image.height);
  canvas.data.set(image.data);
  t.rows.forEach((row, i) => {
    const placed = layout.rows[i]!;
    if (!row.box || !row.frames) return;
    for (let f = row.frames.clipped.first; f < row.frames.clipped.end; f++) {
      if (f === row.argmaxFrame) continue;
      for (const rect of [placed.frames[f], placed.motion?.[f]]) {
        const b = rect ? boxOnRect(row.box, t.input, rect) : null;
        if (b) canvas.strokeRect(b.x0, b.y0, b.x1, b.y1, EXTENT_COLOR, 1);
      }
    }
  });
  return { png: await encodePng({ ...image, data: canvas.data }), layout };
}
