/**
 * First-layer (or any conv layer's) filters as a grid of small images (CS231n "Visualizing what
 * ConvNets learn": smooth, structured first-layer filters mean a well-trained net). A filter with
 * 3 input channels is one RGB tile; otherwise each input channel is a grey tile, side by side
 * (for Conv3D, frame after frame). Each filter is normalised on its own: 'minmax' maps its
 * smallest weight to 0 and largest to 255; 'symmetric' maps 0 to mid-grey and the largest |w|
 * to 0 / 255, so the sign stays readable. A constant filter is drawn mid-grey.
 */
import { GLYPH_HEIGHT, fitText, textWidth } from './bitmap-font.js';
import { RgbCanvas } from './canvas.js';
import type { FilterWeights } from './filter-weights.js';

export type FilterNorm = 'minmax' | 'symmetric';

export interface FilterGridOptions {
  /** Nearest-neighbour pixels per weight (default: so a tile is about 32 px). */
  upscale?: number;
  /** Filters per row (default: a roughly square picture). */
  columns?: number;
  norm?: FilterNorm;
  title?: string;
}

export interface FilterPlacement {
  filter: number;
  /** The filter's cell (all its tiles), excluding the label. */
  x: number;
  y: number;
  width: number;
  height: number;
  min: number;
  max: number;
}

export interface FilterGrid {
  png: Buffer;
  width: number;
  height: number;
  upscale: number;
  columns: number;
  /** Size of one tile (one input channel, or the RGB filter). */
  tile: { width: number; height: number };
  /** Tiles per filter (input channels x frames; 1 for RGB). */
  tilesPerFilter: number;
  filters: FilterPlacement[];
}

const MARGIN = 6;
const GAP = 6;
const TILE_GAP = 1;
const LABEL_H = GLYPH_HEIGHT + 3;

export async function renderFilters(w: FilterWeights, o: FilterGridOptions = {}): Promise<FilterGrid> {
  const { frames, kh, kw, inChannels: cin, filters: n, data } = w;
  const upscale = o.upscale ?? Math.max(1, Math.round(32 / Math.max(kh, kw)));
  if (!Number.isInteger(upscale) || upscale < 1) throw new Error(`upscale must be an integer >= 1, got ${upscale}`);
  const rgb = cin === 3;
  const tilesPerFilter = (rgb ? 1 : cin) * frames;
  const tile = { width: kw * upscale, height: kh * upscale };
  const cellW = Math.max(tilesPerFilter * tile.width + (tilesPerFilter - 1) * TILE_GAP, textWidth(String(n - 1)));
  const cellH = tile.height + LABEL_H;
  const columns = Math.max(1, Math.min(n, o.columns ?? (Math.round(Math.sqrt((n * cellH) / cellW)) || 1)));
  const rows = Math.ceil(n / columns);
  const titleH = o.title ? LABEL_H + 4 : 0;
  const width = Math.max(2 * MARGIN + columns * cellW + (columns - 1) * GAP, o.title ? textWidth(o.title) + 2 * MARGIN : 0);
  const height = 2 * MARGIN + titleH + rows * cellH + (rows - 1) * GAP;
  const canvas = new RgbCanvas(width, height, [255, 255, 255]);
  if (o.title) canvas.drawText(fitText(o.title, width - 2 * MARGIN), MARGIN, MARGIN, [16, 16, 16]);

  // Weight (t, r, c, i, f) in the [frames, kh, kw, in, out] array.
  const at = (t: number, r: number, c: number, i: number, f: number) => data[(((t * kh + r) * kw + c) * cin + i) * n + f]!;
  const placements: FilterPlacement[] = [];
  for (let f = 0; f < n; f++) {
    let min = Infinity;
    let max = -Infinity;
    for (let t = 0; t < frames; t++) for (let r = 0; r < kh; r++) for (let c = 0; c < kw; c++) for (let i = 0; i < cin; i++) {
      const v = at(t, r, c, i, f);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const m = Math.max(Math.abs(min), Math.abs(max));
    const byte = (v: number): number => {
      if (o.norm === 'symmetric') return m > 0 ? Math.round(127.5 + (127.5 * v) / m) : 128;
      return max > min ? Math.round((255 * (v - min)) / (max - min)) : 128;
    };
    const x0 = MARGIN + (f % columns) * (cellW + GAP);
    const y0 = MARGIN + titleH + Math.floor(f / columns) * (cellH + GAP);
    for (let k = 0; k < tilesPerFilter; k++) {
      const t = rgb ? k : Math.floor(k / cin);
      const i = rgb ? 0 : k % cin;
      const tx = x0 + k * (tile.width + TILE_GAP);
      for (let r = 0; r < kh; r++) {
        for (let c = 0; c < kw; c++) {
          const col: [number, number, number] = rgb
            ? [byte(at(t, r, c, 0, f)), byte(at(t, r, c, 1, f)), byte(at(t, r, c, 2, f))]
            : [byte(at(t, r, c, i, f)), byte(at(t, r, c, i, f)), byte(at(t, r, c, i, f))];
          canvas.fillRect(tx + c * upscale, y0 + r * upscale, upscale, upscale, col);
        }
      }
    }
    canvas.drawText(String(f), x0, y0 + tile.height + 2, [16, 16, 16]);
    placements.push({ filter: f, x: x0, y: y0, width: tilesPerFilter * tile.width + (tilesPerFilter - 1) * TILE_GAP, height: tile.height, min, max });
  }
  return { png: await canvas.toPng(), width, height, upscale, columns, tile, tilesPerFilter, filters: placements };
}
