/**
 * What one clip contributes to a clip figure, and how one of its frames becomes a cell: shared by
 * the frame strips (clip-strip.ts) and the animated grids (clip-grid.ts), so a strip and an
 * animation of the same clips show the same pixels.
 *
 * Scales are per figure, never per frame: a heat map, a flow field or a frame difference at time
 * t is drawn with the same range as at time t + 1 and as in the other clips, so brighter or more
 * saturated means larger across the whole picture.
 */
import { NeurolensError } from '../errors.js';
import type { Image8 } from './canvas.js';
import { colormapTable, normalizeValue, resolveRange, type ColormapName, type RangeOptions, type ValueRange } from './colormap.js';
import { flowToRgb, maxFlowMagnitude } from './flow-color.js';
import { fitSize, resizeImage8, type ResizeKernel, type Size } from './frame-resize.js';
import { resizeBilinear } from './heatmap.js';

/** A half-open box [top, bottom) x [left, right), e.g. an RfBox (src/model/receptive-field-math.ts). */
export interface PixelBox {
  top: number;
  left: number;
  bottom: number;
  right: number;
}

/** Motion channels of a clip (clip-layout.ts): per frame, row-major height x width. */
export type ClipMotion =
  | { kind: 'flow'; width: number; height: number; u: Float32Array[]; v: Float32Array[] }
  | { kind: 'diff'; width: number; height: number; diff: Float32Array[] };

/** One map per frame (saliency, Grad-CAM, ... over time), row-major height x width. */
export interface HeatFrames {
  width: number;
  height: number;
  maps: Float32Array[];
}

export interface ClipItem {
  /** The T frames, grey or RGB, any size (all frames of a clip the same size). */
  frames: Image8[];
  /** Text lines for the clip (rank, value, label...; see `clipCaption`). */
  caption?: string[];
  /** Frame index of the argmax position (t of (t, y, x)). */
  argmaxT?: number;
  /** Receptive field at the argmax, in input pixels; may reach past the frame (it is clipped). */
  box?: PixelBox;
  /** Size of the model input the box refers to (default: the frame size). */
  inputSize?: Size;
  motion?: ClipMotion;
  heat?: HeatFrames;
}

export interface CellOptions {
  /** Resampling of frames and motion into cells (default bilinear; nearest keeps tiny frames blocky). */
  kernel?: ResizeKernel;
  /** Heat colormap (default inferno) and range (default: min/max of all maps of the figure). */
  heatColormap?: ColormapName;
  heatRange?: RangeOptions;
  /** Heat weight at the largest |value|, 0..1 (default 0.6). */
  heatAlpha?: number;
  /** Flow magnitude drawn at full colour (default: the largest in the figure). */
  flowMax?: number;
  /** |diff| drawn black / white (default: the largest in the figure). */
  diffMax?: number;
}

/** The per-figure scales every cell is drawn with. */
export interface FigureScales {
  heat?: ValueRange & { symmetric: boolean };
  flowMax?: number;
  diffMax?: number;
}

/** Caption lines of a ranked clip: '#1', the value, then the label (e.g. its class or file). */
export function clipCaption(rank: number, value: number, label?: string): string[] {
  const v = Number.isFinite(value) ? String(Number(value.toPrecision(4))) : String(value);
  return [`#${rank + 1}`, v, ...(label ? [label] : [])];
}

/** Checks one clip's arrays agree with its frame count (the clip-layout contract). */
export function checkClip(c: ClipItem, i: number): void {
  const t = c.frames.length;
  if (t === 0) throw new Error(`clip ${i}: no frames`);
  const perFrame = (what: string, n: number) => {
    if (n !== t) throw new Error(`clip ${i}: ${n} ${what} for ${t} frames`);
  };
  if (c.motion?.kind === 'flow') [c.motion.u, c.motion.v].forEach((a) => perFrame('flow maps', a.length));
  if (c.motion?.kind === 'diff') perFrame('diff maps', c.motion.diff.length);
  if (c.heat) perFrame('heat maps', c.heat.maps.length);
  if (c.argmaxT !== undefined && !(Number.isInteger(c.argmaxT) && c.argmaxT >= 0 && c.argmaxT < t)) {
    throw new NeurolensError('BAD_MODEL', `clip ${i}: argmax frame t=${c.argmaxT} lies outside its ${t} frames: the statistics and the clips do not match`);
  }
}

function concatAbsMax(arrays: Float32Array[]): number {
  let m = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]!) && Math.abs(a[i]!) > m) m = Math.abs(a[i]!);
  return m;
}

/** Scales shared by all cells of a figure (given options win over the data). */
export function figureScales(clips: ClipItem[], o: CellOptions = {}): FigureScales {
  const s: FigureScales = {};
  const heats = clips.flatMap((c) => c.heat?.maps ?? []);
  if (heats.length > 0) {
    const all = new Float32Array(heats.reduce((n, m) => n + m.length, 0));
    heats.reduce((off, m) => (all.set(m, off), off + m.length), 0);
    s.heat = { ...resolveRange(all, o.heatRange), symmetric: o.heatRange?.symmetric ?? false };
  }
  let flowMax: number | undefined;
  for (const { motion: m } of clips) {
    if (m?.kind !== 'flow') continue;
    for (let t = 0; t < m.u.length; t++) flowMax = Math.max(flowMax ?? 0, maxFlowMagnitude(m.u[t]!, m.v[t]!));
  }
  if (flowMax !== undefined) s.flowMax = o.flowMax ?? flowMax;
  const diffs = clips.flatMap((c) => (c.motion?.kind === 'diff' ? c.motion.diff : []));
  if (diffs.length > 0) s.diffMax = o.diffMax ?? concatAbsMax(diffs);
  return s;
}

/**
 * Heat blended over `base` (same size) with a per-pixel weight alpha * |v| / max|range|: where
 * the map is zero the frame shows through untouched, so attribution strips stay readable (a
 * uniform blend as in heatmap.ts would tint every frame with the colour of zero).
 */
export function blendHeat(base: Image8, heat: Float32Array, range: NonNullable<FigureScales['heat']>, name: ColormapName, alpha: number): Image8 {
  const table = colormapTable(name);
  const m = Math.max(Math.abs(range.min), Math.abs(range.max));
  const data = new Uint8Array(base.width * base.height * 3);
  for (let p = 0; p < base.width * base.height; p++) {
    const v = heat[p]!;
    const w = Number.isFinite(v) && m > 0 ? alpha * Math.min(1, Math.abs(v) / m) : 0;
    const j = Math.round(normalizeValue(v, range, range.symmetric) * 255) * 3;
    for (let k = 0; k < 3; k++) {
      const b = base.data[p * base.channels + (base.channels === 1 ? 0 : k)]!;
      data[p * 3 + k] = w === 0 ? b : Math.round((1 - w) * b + w * table[j + k]!);
    }
  }
  return { width: base.width, height: base.height, channels: 3, data };
}

/** Frame t fitted into `cell` (aspect kept), with its heat map over it when the clip has one. */
export function frameCell(c: ClipItem, t: number, cell: Size, scales: FigureScales, o: CellOptions = {}): Image8 {
  const f = c.frames[t]!;
  const size = fitSize(f, cell);
  const img = resizeImage8(f, size.width, size.height, o.kernel ?? 'bilinear');
  if (!c.heat || !scales.heat) return img;
  const up = resizeBilinear(c.heat.maps[t]!, c.heat, size);
  return blendHeat(img, up, scales.heat, o.heatColormap ?? 'inferno', o.heatAlpha ?? 0.6);
}

/** The motion channels of frame t as a picture (flow colours, or the diff in grey around mid grey), fitted into `cell`. */
export function motionCell(c: ClipItem, t: number, cell: Size, scales: FigureScales, o: CellOptions = {}): Image8 | null {
  const m = c.motion;
  if (!m) return null;
  let img: Image8;
  if (m.kind === 'flow') {
    img = flowToRgb(m.u[t]!, m.v[t]!, m.width, m.height, scales.flowMax ? { maxMagnitude: scales.flowMax } : {});
  } else {
    // Signed luma change: 128 is no change, brighter is getting brighter (clip-layout.ts `diff`).
    const d = m.diff[t]!;
    const s = scales.diffMax && scales.diffMax > 0 ? 127 / scales.diffMax : 0;
    const data = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) data[i] = Number.isFinite(d[i]!) ? Math.max(0, Math.min(255, Math.round(128 + d[i]! * s))) : 128;
    img = { width: m.width, height: m.height, channels: 1, data };
  }
  const size = fitSize(img, cell);
  return resizeImage8(img, size.width, size.height, o.kernel ?? 'bilinear');
}

/** A rectangle drawn at (x, y) with this size. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Inclusive pixel bounds of a drawn rectangle. */
export interface Bounds {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The box (input pixels, half-open) scaled onto an image drawn at `rect` and clipped to it, as
 * inclusive pixel bounds; null when nothing of it lies on the image.
 */
export function boxOnRect(box: PixelBox, input: Size, rect: Rect): Bounds | null {
  const sx = rect.width / input.width;
  const sy = rect.height / input.height;
  const x0 = Math.max(0, Math.floor(box.left * sx));
  const y0 = Math.max(0, Math.floor(box.top * sy));
  const x1 = Math.min(rect.width, Math.ceil(box.right * sx)) - 1;
  const y1 = Math.min(rect.height, Math.ceil(box.bottom * sy)) - 1;
  if (x1 < x0 || y1 < y0) return null;
  return { x0: rect.x + x0, y0: rect.y + y0, x1: rect.x + x1, y1: rect.y + y1 };
}
