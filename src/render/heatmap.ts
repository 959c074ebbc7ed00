/**
 * Heat maps over images (occlusion, saliency, Grad-CAM, integrated gradients; CS231n
 * "Visualizing what ConvNets learn"): a coarse map of values is upsampled bilinearly to the image
 * size, coloured with a colormap (colormap.ts) and alpha-blended over the image; `heatmapPng`
 * adds a colour bar with the value range so pictures from different methods can be compared.
 */
import { GLYPH_HEIGHT, textWidth } from './bitmap-font.js';
import { RgbCanvas, fitImage, type Image8 } from './canvas.js';
import { applyColormapWithRange, colormapTable, type ColormapName, type RangeOptions, type ValueRange } from './colormap.js';
import { encodePng } from './png.js';

export interface HW {
  height: number;
  width: number;
}

export interface HeatmapOptions extends RangeOptions {
  /** Weight of the heat colour over the image, 0..1 (default 0.5). */
  alpha?: number;
  /** Default inferno (viridis for magnitudes, coolwarm with symmetric: true for signed maps). */
  colormap?: ColormapName;
}

/**
 * Bilinear resize of a single-channel row-major map with half-pixel centres (the convention of
 * tf.image.resizeBilinear(halfPixelCenters) and sharp/OpenCV): output pixel centre (i + 0.5) maps
 * to input coordinate (i + 0.5) * in / out - 0.5, clamped at the borders.
 */
export function resizeBilinear(src: Float32Array, from: HW, to: HW): Float32Array {
  if (src.length !== from.height * from.width) throw new Error(`resize: ${src.length} values for a ${from.height}x${from.width} map`);
  const out = new Float32Array(to.height * to.width);
  const coord = (i: number, n: number, m: number): [number, number, number] => {
    const c = Math.min(n - 1, Math.max(0, ((i + 0.5) * n) / m - 0.5));
    const i0 = Math.floor(c);
    const i1 = Math.min(n - 1, i0 + 1);
    return [i0, i1, c - i0];
  };
  const xs = Array.from({ length: to.width }, (_, x) => coord(x, from.width, to.width));
  for (let y = 0; y < to.height; y++) {
    const [y0, y1, fy] = coord(y, from.height, to.height);
    for (let x = 0; x < to.width; x++) {
      const [x0, x1, fx] = xs[x]!;
      const top = src[y0 * from.width + x0]! * (1 - fx) + src[y0 * from.width + x1]! * fx;
      const bottom = src[y1 * from.width + x0]! * (1 - fx) + src[y1 * from.width + x1]! * fx;
      out[y * to.width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** The heat map coloured and blended over `base` (RGB result at the base's size) and the value range used. */
export function overlayHeatmapWithRange(base: Image8, heat: Float32Array, hw: HW, o: HeatmapOptions = {}): { image: Image8; range: ValueRange } {
  const alpha = o.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`heat map alpha must be in [0, 1], got ${alpha}`);
  // The range comes from the coarse map: bilinear interpolation never leaves [min, max].
  const { range } = applyColormapWithRange(heat, hw.width, hw.height, { name: o.colormap ?? 'inferno', min: o.min, max: o.max, symmetric: o.symmetric });
  const up = hw.height === base.height && hw.width === base.width ? heat : resizeBilinear(heat, hw, base);
  const { image: colored } = applyColormapWithRange(up, base.width, base.height, { name: o.colormap ?? 'inferno', min: range.min, max: range.max, symmetric: o.symmetric });
  const data = new Uint8Array(base.width * base.height * 3);
  for (let p = 0; p < base.width * base.height; p++) {
    for (let k = 0; k < 3; k++) {
      const b = base.data[p * base.channels + (base.channels === 1 ? 0 : k)]!;
      data[p * 3 + k] = Math.round((1 - alpha) * b + alpha * colored.data[p * 3 + k]!);
    }
  }
  return { image: { width: base.width, height: base.height, channels: 3, data }, range };
}

/** The heat map coloured and blended over `base` (RGB result at the base's size). */
export async function overlayHeatmap(base: Image8, heat: Float32Array, hw: HW, o: HeatmapOptions = {}): Promise<Image8> {
  return overlayHeatmapWithRange(base, heat, hw, o).image;
}

export function formatRangeValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? String(Number(v.toPrecision(3))) : v.toExponential(1).replace('e+', 'e');
}

/** Height of a colour bar of bar height `barHeight` with its labels at text scale `scale`. */
export function colorBarHeight(barHeight = 10, scale = 1): number {
  return barHeight + 3 + GLYPH_HEIGHT * scale;
}

/**
 * A horizontal colour bar: the colormap left (min) to right (max), the range's ends written under
 * it (pixel font; `labels` replaces them, e.g. 'min' / 'max' for per-map scales). Drawn onto
 * `canvas` at (x, y), `width` pixels wide.
 */
export function drawColorBar(canvas: RgbCanvas, x: number, y: number, width: number, name: ColormapName, range: ValueRange, barHeight = 10, scale = 1, labels?: [string, string]): void {
  const table = colormapTable(name);
  for (let i = 0; i < width; i++) {
    const j = Math.round((width === 1 ? 0 : i / (width - 1)) * 255) * 3;
    canvas.fillRect(x + i, y, 1, barHeight, [table[j]!, table[j + 1]!, table[j + 2]!]);
  }
  canvas.strokeRect(x - 1, y - 1, x + width, y + barHeight, [96, 96, 96]);
  const lo = labels?.[0] ?? formatRangeValue(range.min);
  const hi = labels?.[1] ?? formatRangeValue(range.max);
  const ty = y + barHeight + 3;
  canvas.drawText(lo, x, ty, [16, 16, 16], scale);
  canvas.drawText(hi, x + width - textWidth(hi, scale), ty, [16, 16, 16], scale);
}

/** A colour bar as its own image (white background). */
export function colorBar(width: number, name: ColormapName, range: ValueRange, barHeight = 10): Image8 {
  const labels = textWidth(formatRangeValue(range.min)) + textWidth(formatRangeValue(range.max)) + 6;
  const w = Math.max(width, labels);
  const canvas = new RgbCanvas(w + 2, colorBarHeight(barHeight) + 2);
  drawColorBar(canvas, 1, 1, w, name, range, barHeight);
  return { width: canvas.width, height: canvas.height, channels: 3, data: canvas.data };
}

export interface HeatmapFigureOptions extends HeatmapOptions {
  /** Fit the image into a size x size box first (nearest when enlarging), so small inputs stay readable. */
  size?: number;
  /** Draw the colour bar under the image (default true). */
  colorBar?: boolean;
  title?: string;
}

export interface HeatmapFigure {
  image: Image8;
  range: ValueRange;
  /** Where the blended image is in the figure. */
  overlay: { x: number; y: number; width: number; height: number };
}

const MARGIN = 4;

/** Image + heat overlay + colour bar (+ title) as one figure. */
export async function heatmapFigure(base: Image8, heat: Float32Array, hw: HW, o: HeatmapFigureOptions = {}): Promise<HeatmapFigure> {
  const img = o.size ? await fitImage(base, o.size) : base;
  const { image, range } = overlayHeatmapWithRange(img, heat, hw, o);
  const name = o.colormap ?? 'inferno';
  const bar = o.colorBar ?? true;
  const labels = textWidth(formatRangeValue(range.min)) + textWidth(formatRangeValue(range.max)) + 6;
  const titleW = o.title ? textWidth(o.title) : 0;
  const inner = Math.max(image.width, bar ? labels : 0, titleW);
  const titleH = o.title ? GLYPH_HEIGHT + 4 : 0;
  const width = inner + 2 * MARGIN;
  const height = 2 * MARGIN + titleH + image.height + (bar ? 6 + colorBarHeight() : 0);
  const canvas = new RgbCanvas(width, height);
  if (o.title) canvas.drawText(o.title, MARGIN, MARGIN, [16, 16, 16]);
  const overlay = { x: MARGIN + Math.floor((inner - image.width) / 2), y: MARGIN + titleH, width: image.width, height: image.height };
  canvas.drawImage(image, overlay.x, overlay.y);
  if (bar) drawColorBar(canvas, MARGIN, overlay.y + image.height + 6, inner, name, range);
  return { image: { width, height, channels: 3, data: canvas.data }, range, overlay };
}

/** `heatmapFigure` encoded as PNG. */
export async function heatmapPng(base: Image8, heat: Float32Array, hw: HW, o: HeatmapFigureOptions = {}): Promise<Buffer> {
  return encodePng((await heatmapFigure(base, heat, hw, o)).image);
}
