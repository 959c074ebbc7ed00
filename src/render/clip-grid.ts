/**
 * The frames of an animated clip grid: the top-k clips of a unit tiled side by side and played
 * together (output frame i shows frame i of every clip; a shorter clip holds its last frame), each
 * with its caption under it and its receptive field on every frame, the tile outlined while it
 * shows its argmax frame. Cells are drawn by clip-cells.ts, as in the static strips
 * (clip-strip.ts), so both pictures of the same clips agree pixel for pixel.
 */
import { GLYPH_HEIGHT, fitText } from './bitmap-font.js';
import { RgbCanvas, type Rgb } from './canvas.js';
import { boxOnRect, checkClip, figureScales, frameCell, motionCell, type Bounds, type CellOptions, type ClipItem, type Rect } from './clip-cells.js';
import { STRIP_COLORS, drawBox, drawInCell } from './clip-strip.js';
import { fitSize, type Size } from './frame-resize.js';

export interface ClipGridOptions extends CellOptions {
  /** Longest side of a clip's cell in pixels (default 128); cells take the first frame's aspect ratio. */
  cellSize?: number;
  /** Clips per row (default ceil(sqrt(n))). */
  columns?: number;
  /** Title over the grid; the frame counter 't i/T' is appended. */
  title?: string;
  textScale?: number;
  highlight?: Rgb;
  boxColor?: Rgb;
  /** What the cells show: the frames (with heat, if any; default) or the motion channels. */
  content?: 'frames' | 'motion';
}

export interface ClipGridTile {
  cell: Rect;
  labelY: number;
}

export interface ClipGridLayout {
  width: number;
  height: number;
  cell: Size;
  tiles: ClipGridTile[];
  /** Output frames (the longest clip's T). */
  frames: number;
}

export interface ClipGridFrame {
  /** RGB24, width x height. */
  data: Uint8Array;
  /** Per clip: where its image was drawn, its box (inclusive), whether it shows its argmax frame. */
  tiles: { image: Rect; box: Bounds | null; argmax: boolean }[];
}

const MARGIN = 8;
const GAP = 8;

/** Lays out and draws every output frame of the grid. */
export function clipGridFrames(clips: ClipItem[], o: ClipGridOptions = {}): { frames: ClipGridFrame[]; layout: ClipGridLayout } {
  if (clips.length === 0) throw new Error('clip grid: no clips');
  clips.forEach(checkClip);
  const content = o.content ?? 'frames';
  const noMotion = clips.findIndex((c) => !c.motion);
  if (content === 'motion' && noMotion >= 0) throw new Error(`clip grid: content 'motion' but clip ${noMotion} has no motion channels`);
  const cellSize = o.cellSize ?? 128;
  if (!Number.isInteger(cellSize) || cellSize < 8) throw new Error(`cell size must be an integer >= 8, got ${cellSize}`);
  const scale = o.textScale ?? 1;
  const lineHeight = (GLYPH_HEIGHT + 3) * scale;
  const n = clips.length;
  const columns = Math.max(1, Math.min(n, o.columns ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.ceil(n / columns);
  const cell = fitSize(clips[0]!.frames[0]!, { width: cellSize, height: cellSize });
  const lines = Math.max(0, ...clips.map((c) => c.caption?.length ?? 0));
  const tileH = cell.height + 4 + lines * lineHeight;
  const titleH = lineHeight + 4;
  const width = 2 * MARGIN + columns * cell.width + (columns - 1) * GAP;
  const height = 2 * MARGIN + titleH + rows * tileH + (rows - 1) * GAP;
  const T = Math.max(...clips.map((c) => c.frames.length));
  const scales = figureScales(clips, o);

  // Everything that does not change over time is drawn once.
  const base = new RgbCanvas(width, height, STRIP_COLORS.background);
  const tiles: ClipGridTile[] = clips.map((c, i) => {
    const x = MARGIN + (i % columns) * (cell.width + GAP);
    const y = MARGIN + titleH + Math.floor(i / columns) * (tileH + GAP);
    const labelY = y + cell.height + 4;
    (c.caption ?? []).forEach((line, j) => base.drawText(fitText(line, cell.width, scale), x, labelY + j * lineHeight, STRIP_COLORS.text, scale));
    return { cell: { x, y, ...cell }, labelY };
  });

  const frames: ClipGridFrame[] = [];
  for (let i = 0; i < T; i++) {
    const canvas = new RgbCanvas(width, height);
    canvas.data.set(base.data);
    const counter = `t ${i + 1}/${T}`;
    canvas.drawText(fitText(o.title ? `${o.title}  ${counter}` : counter, width - 2 * MARGIN, scale), MARGIN, MARGIN, STRIP_COLORS.text, scale);
    const placed = clips.map((c, k) => {
      const t = Math.min(i, c.frames.length - 1);
      const argmax = t === c.argmaxT;
      const img = content === 'motion' ? motionCell(c, t, cell, scales, o)! : frameCell(c, t, cell, scales, o);
      const image = drawInCell(canvas, img, tiles[k]!.cell, argmax ? (o.highlight ?? STRIP_COLORS.highlight) : null);
      const box = c.box ? boxOnRect(c.box, c.inputSize ?? c.frames[t]!, image) : null;
      if (box) drawBox(canvas, box, o.boxColor ?? STRIP_COLORS.box);
      return { image, box, argmax };
    });
    frames.push({ data: canvas.data, tiles: placed });
  }
  return { frames, layout: { width, height, cell, tiles, frames: T } };
}
