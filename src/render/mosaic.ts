/**
 * A mosaic: images in a grid, each with a few lines of pixel-font text under it and optionally a
 * box marking a position (for top-k activators: rank, sample id, max value, and where in the
 * layer's output grid the max is, scaled to the image, as in Zeiler & Fergus 2014, Fig. 2).
 *
 *   margin | title                                          |
 *          | tile (image centred in tile x tile) | gap | tile ...
 *          | label lines                         |     | ...
 */
import { GLYPH_HEIGHT, fitText } from './bitmap-font.js';
import { RgbCanvas, fitImage, type Image8, type Rgb } from './canvas.js';

export interface MosaicTile {
  image: Image8;
  /** Text lines under the image (cut to the tile width). */
  lines: string[];
  /** A cell of a gridH x gridW grid laid over the image, outlined (e.g. the argmax position). */
  cell?: { y: number; x: number; gridH: number; gridW: number };
  /**
   * A half-open box [top, bottom) x [left, right) in the pixels of an image of height x width
   * (the image as the model saw it), outlined (e.g. a receptive field clipped to the image).
   */
  region?: { top: number; left: number; bottom: number; right: number; height: number; width: number };
}

export interface MosaicOptions {
  /** Side of the square each image is fitted into, in pixels (default 160). */
  tileSize?: number;
  /** Tiles per row (default: ceil(sqrt(n))). */
  columns?: number;
  title?: string;
}

export interface TilePlacement {
  /** Tile's top-left corner. */
  x: number;
  y: number;
  /** Where the fitted image is drawn. */
  image: { x: number; y: number; width: number; height: number };
  /** Top of the label lines. */
  labelY: number;
  /** The outlined cell, inclusive pixel bounds. */
  box?: { x0: number; y0: number; x1: number; y1: number };
}

export interface MosaicLayout {
  width: number;
  height: number;
  tileSize: number;
  textScale: number;
  lineHeight: number;
  titleHeight: number;
  tiles: TilePlacement[];
}

export const MOSAIC_COLORS = {
  background: [255, 255, 255] as Rgb,
  tile: [224, 224, 224] as Rgb,
  frame: [160, 160, 160] as Rgb,
  text: [16, 16, 16] as Rgb,
  box: [255, 0, 0] as Rgb,
};

const MARGIN = 8;
const GAP = 8;
/** Smallest side of a drawn box, so a cell of a fine grid stays visible. */
const MIN_BOX = 5;

/** Inclusive pixel bounds of grid cell (y, x) over an image drawn at `img`. */
function cellBox(cell: NonNullable<MosaicTile['cell']>, img: TilePlacement['image']): NonNullable<TilePlacement['box']> {
  return regionBox({ top: cell.y, left: cell.x, bottom: cell.y + 1, right: cell.x + 1, height: cell.gridH, width: cell.gridW }, img);
}

/** Inclusive pixel bounds of a region of the image's pixels over the image drawn at `img`, at least MIN_BOX wide. */
function regionBox(r: NonNullable<MosaicTile['region']>, img: TilePlacement['image']): NonNullable<TilePlacement['box']> {
  let x0 = img.x + Math.floor((r.left * img.width) / r.width);
  let x1 = img.x + Math.ceil((r.right * img.width) / r.width) - 1;
  let y0 = img.y + Math.floor((r.top * img.height) / r.height);
  let y1 = img.y + Math.ceil((r.bottom * img.height) / r.height) - 1;
  const grow = (a: number, b: number, lo: number, hi: number): [number, number] => {
    if (b - a + 1 >= MIN_BOX) return [a, b];
    const c = Math.floor((a + b) / 2);
    const s = Math.max(lo, Math.min(c - Math.floor(MIN_BOX / 2), hi - MIN_BOX + 1));
    return [s, Math.min(hi, s + MIN_BOX - 1)];
  };
  [x0, x1] = grow(x0, x1, img.x, img.x + img.width - 1);
  [y0, y1] = grow(y0, y1, img.y, img.y + img.height - 1);
  return { x0, y0, x1, y1 };
}

/** Draws the mosaic; returns the PNG and where everything went (for callers and tests). */
export async function renderMosaic(tiles: MosaicTile[], opts: MosaicOptions = {}): Promise<{ png: Buffer; layout: MosaicLayout }> {
  const tileSize = opts.tileSize ?? 160;
  if (!Number.isInteger(tileSize) || tileSize < 16) throw new Error(`tile size must be an integer >= 16, got ${tileSize}`);
  const n = tiles.length;
  const columns = Math.max(1, Math.min(n, opts.columns ?? Math.ceil(Math.sqrt(Math.max(1, n)))));
  const rows = Math.max(1, Math.ceil(n / columns));
  const textScale = tileSize >= 128 ? 2 : 1;
  const lineHeight = (GLYPH_HEIGHT + 3) * textScale;
  const lines = Math.max(0, ...tiles.map((t) => t.lines.length));
  const cellH = tileSize + 4 + lines * lineHeight;
  const titleHeight = opts.title ? lineHeight + GAP : 0;
  const width = 2 * MARGIN + columns * tileSize + (columns - 1) * GAP;
  const height = 2 * MARGIN + titleHeight + rows * cellH + (rows - 1) * GAP;
  const canvas = new RgbCanvas(width, height, MOSAIC_COLORS.background);
  if (opts.title) canvas.drawText(fitText(opts.title, width - 2 * MARGIN, textScale), MARGIN, MARGIN, MOSAIC_COLORS.text, textScale);

  const placements: TilePlacement[] = [];
  for (let i = 0; i < n; i++) {
    const t = tiles[i]!;
    const x = MARGIN + (i % columns) * (tileSize + GAP);
    const y = MARGIN + titleHeight + Math.floor(i / columns) * (cellH + GAP);
    // A frame just outside the tile keeps white images apart from the white background.
    canvas.strokeRect(x - 1, y - 1, x + tileSize, y + tileSize, MOSAIC_COLORS.frame);
    canvas.fillRect(x, y, tileSize, tileSize, MOSAIC_COLORS.tile);
    const fitted = await fitImage(t.image, tileSize);
    const image = { x: x + Math.floor((tileSize - fitted.width) / 2), y: y + Math.floor((tileSize - fitted.height) / 2), width: fitted.width, height: fitted.height };
    canvas.drawImage(fitted, image.x, image.y);
    const p: TilePlacement = { x, y, image, labelY: y + tileSize + 4 };
    if (t.cell || t.region) {
      p.box = t.region ? regionBox(t.region, image) : cellBox(t.cell!, image);
      canvas.strokeRect(p.box.x0, p.box.y0, p.box.x1, p.box.y1, MOSAIC_COLORS.box, p.box.x1 - p.box.x0 >= 8 ? 2 : 1);
    }
    t.lines.forEach((line, j) => canvas.drawText(fitText(line, tileSize, textScale), x, p.labelY + j * lineHeight, MOSAIC_COLORS.text, textScale));
    placements.push(p);
  }
  return { png: await canvas.toPng(), layout: { width, height, tileSize, textScale, lineHeight, titleHeight, tiles: placements } };
}
