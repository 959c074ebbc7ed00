/**
 * A layer's feature maps for one input as a grid (CS231n "Visualizing what ConvNets learn":
 * activation maps are sparse and localized in a trained net; all-black maps can be dead
 * filters). Each channel's H' x W' map is coloured (colormap.ts) on a shared scale (the min /
 * max over all maps: maps compare with each other) or per map (each map's own min / max: weak
 * maps stay readable), enlarged by an integer factor (nearest), labelled with its channel and
 * max. Dead channels get a red frame and a red cross; the input image comes first.
 */
import { GLYPH_HEIGHT, fitText, textWidth } from './bitmap-font.js';
import { RgbCanvas, fitImage, type Image8 } from './canvas.js';
import { applyColormapWithRange, resolveRange, type ColormapName, type ValueRange } from './colormap.js';
import { colorBarHeight, drawColorBar, formatRangeValue } from './heatmap.js';

export type MapScale = 'shared' | 'per-map';

export interface ActivationGridOptions {
  scale?: MapScale;
  colormap?: ColormapName;
  /** Integer enlargement of each map (default: about 64 px per map). */
  upscale?: number;
  /** Tiles per row (default: a square-ish grid). */
  columns?: number;
  /** Channels to mark as dead. */
  dead?: ReadonlySet<number>;
  /** Shown as the first tile (fitted into the map tile size). */
  input?: { image: Image8; label: string };
  title?: string;
}

export interface ActivationTile {
  channel: number;
  x: number;
  y: number;
  width: number;
  height: number;
  min: number;
  max: number;
  dead: boolean;
}

export interface ActivationGrid {
  png: Buffer;
  width: number;
  height: number;
  upscale: number;
  columns: number;
  /** The shared value range (scale 'shared'), or the range over all maps (per-map). */
  range: ValueRange;
  tiles: ActivationTile[];
  inputTile: { x: number; y: number; width: number; height: number } | null;
}

const MARGIN = 6;
const GAP = 6;
const DEAD: [number, number, number] = [230, 0, 0];

/** One channel of an [H, W, C] array as an H x W map. */
export function channelMap(data: Float32Array, h: number, w: number, c: number, channel: number): Float32Array {
  const m = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) m[p] = data[p * c + channel]!;
  return m;
}

function enlarge(img: Image8, s: number): Image8 {
  if (s === 1) return img;
  const width = img.width * s;
  const out = new Uint8Array(width * img.height * s * 3);
  for (let y = 0; y < img.height * s; y++) {
    for (let x = 0; x < width; x++) out.set(img.data.subarray((Math.floor(y / s) * img.width + Math.floor(x / s)) * 3, (Math.floor(y / s) * img.width + Math.floor(x / s)) * 3 + 3), (y * width + x) * 3);
  }
  return { width, height: img.height * s, channels: 3, data: out };
}

export async function renderActivationGrid(data: Float32Array, h: number, w: number, c: number, o: ActivationGridOptions = {}): Promise<ActivationGrid> {
  if (data.length !== h * w * c) throw new Error(`activation maps: ${data.length} values for ${h}x${w}x${c}`);
  const scale = o.scale ?? 'shared';
  const cmap = o.colormap ?? 'viridis';
  const upscale = o.upscale ?? Math.max(1, Math.floor(64 / Math.max(h, w)));
  const tileW = w * upscale;
  const tileH = h * upscale;
  const lineH = GLYPH_HEIGHT + 3;
  const n = c + (o.input ? 1 : 0);
  const columns = Math.max(1, Math.min(n, o.columns ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.ceil(n / columns);
  const cellW = Math.max(tileW, textWidth('000 0.000'));
  const cellH = tileH + 2 + lineH;
  const titleH = o.title ? lineH + 4 : 0;
  const gridW = columns * cellW + (columns - 1) * GAP;
  const barY = MARGIN + titleH + rows * cellH + (rows - 1) * GAP + GAP;
  const width = 2 * MARGIN + Math.max(gridW, 120, o.title ? textWidth(o.title) : 0);
  const height = barY + colorBarHeight() + MARGIN;
  const canvas = new RgbCanvas(width, height);
  if (o.title) canvas.drawText(fitText(o.title, width - 2 * MARGIN), MARGIN, MARGIN, [16, 16, 16]);
  const place = (i: number) => ({ x: MARGIN + (i % columns) * (cellW + GAP), y: MARGIN + titleH + Math.floor(i / columns) * (cellH + GAP) });

  let inputTile: ActivationGrid['inputTile'] = null;
  if (o.input) {
    const fitted = await fitImage(o.input.image, Math.min(tileW, tileH) >= 16 ? Math.min(tileW, tileH) : 16);
    const p = place(0);
    canvas.drawImage(fitted, p.x, p.y);
    canvas.drawText(fitText(o.input.label, cellW), p.x, p.y + tileH + 2, [16, 16, 16]);
    inputTile = { x: p.x, y: p.y, width: fitted.width, height: fitted.height };
  }
  const maps = Array.from({ length: c }, (_, ch) => channelMap(data, h, w, c, ch));
  const all = resolveRange(data);
  const tiles: ActivationTile[] = [];
  maps.forEach((m, ch) => {
    const own = resolveRange(m);
    const { image } = applyColormapWithRange(m, w, h, { name: cmap, ...(scale === 'shared' ? all : own) });
    const p = place(ch + (o.input ? 1 : 0));
    canvas.drawImage(enlarge(image, upscale), p.x, p.y);
    const dead = o.dead?.has(ch) ?? false;
    if (dead) {
      canvas.strokeRect(p.x, p.y, p.x + tileW - 1, p.y + tileH - 1, DEAD, tileW >= 24 ? 2 : 1);
      for (let t = 0; t < Math.min(tileW, tileH); t++) {
        canvas.setPixel(p.x + Math.floor((t * tileW) / Math.min(tileW, tileH)), p.y + Math.floor((t * tileH) / Math.min(tileW, tileH)), DEAD);
        canvas.setPixel(p.x + tileW - 1 - Math.floor((t * tileW) / Math.min(tileW, tileH)), p.y + Math.floor((t * tileH) / Math.min(tileW, tileH)), DEAD);
      }
    }
    canvas.drawText(fitText(`${ch} ${dead ? 'dead' : formatRangeValue(own.max)}`, cellW), p.x, p.y + tileH + 2, dead ? DEAD : [16, 16, 16]);
    tiles.push({ channel: ch, x: p.x, y: p.y, width: tileW, height: tileH, min: own.min, max: own.max, dead });
  });
  drawColorBar(canvas, MARGIN, barY, width - 2 * MARGIN, cmap, all, 10, 1, scale === 'per-map' ? ['min of map', 'max of map'] : undefined);
  return { png: await canvas.toPng(), width, height, upscale, columns, range: all, tiles, inputTile };
}
