/**
 * Clips as frame strips, the static picture of spatiotemporal units (Feichtenhofer et al., CVPR
 * 2018, "What have we learned from deep representations for action recognition?", which shows a
 * unit's inputs as frame sequences): one row of T frame cells per clip, its caption (rank, value,
 * label) in a left margin, the argmax frame outlined and the receptive field at the argmax drawn
 * on it (the video form of mosaic.ts / rf-mosaic.ts). Optional per clip: a second row with the
 * motion channels (flow in the Middlebury colours of flow-color.ts, or the frame difference in
 * grey), and a heat map per frame blended over the frames, so attribution over time (saliency,
 * Grad-CAM) uses the same layout.
 *
 *   margin | title
 *          |          | t 0  | t 1  | ...
 *          | caption  | cell | cell | ...      (argmax cell outlined, RF box on it)
 *          | flow     | cell | cell | ...      (if the clip has motion)
 *          | footer: heat colour bar, flow key / diff scale
 */
import { GLYPH_HEIGHT, fitText, textWidth } from './bitmap-font.js';
import { RgbCanvas, type Image8, type Rgb } from './canvas.js';
import { boxOnRect, checkClip, figureScales, frameCell, motionCell, type Bounds, type CellOptions, type ClipItem, type FigureScales, type Rect } from './clip-cells.js';
import { fitSize, type Size } from './frame-resize.js';
import { colorBarHeight, drawColorBar, formatRangeValue } from './heatmap.js';
import { flowLegend } from './flow-color.js';
import { MOSAIC_COLORS } from './mosaic.js';
import { encodePng } from './png.js';

export interface ClipStripOptions extends CellOptions {
  /** Longest side of a frame cell in pixels (default 64); cells take the first frame's aspect ratio. */
  cellSize?: number;
  title?: string;
  /** 't 0', 't 1', ... over the columns (default true). */
  frameNumbers?: boolean;
  /** Pixel-font scale of all text (default 1). */
  textScale?: number;
  /** Outline of the argmax frame (default red) and the receptive-field box (default green). */
  highlight?: Rgb;
  boxColor?: Rgb;
}

export interface StripRow {
  /** Where each frame / motion image was drawn (centred in its cell). */
  frames: Rect[];
  motion: Rect[] | null;
  /** The cells (frames and motion share columns). */
  cells: Rect[];
  motionY: number | null;
  argmaxT: number | null;
  /** The receptive-field box drawn on the argmax frame (and its motion cell), inclusive. */
  box: Bounds | null;
  motionBox: Bounds | null;
}

export interface StripLayout {
  width: number;
  height: number;
  cell: Size;
  rows: StripRow[];
  colorBar: Rect | null;
  flowKey: Rect | null;
}

/** The mosaics' palette, with the argmax frame outlined in red and the receptive field in green. */
export const STRIP_COLORS = {
  ...MOSAIC_COLORS,
  highlight: [255, 0, 0] as Rgb,
  box: [0, 255, 0] as Rgb,
};

const MARGIN = 8;
/** Between cells: room for the 2-pixel outline of the argmax cell on both neighbours. */
const GAP = 6;
const ROW_GAP = 12;
const FLOW_KEY = 40;

/** Draws the box with a thickness that stays visible on small cells but does not hide small boxes. */
export function drawBox(canvas: RgbCanvas, b: Bounds, c: Rgb): void {
  canvas.strokeRect(b.x0, b.y0, b.x1, b.y1, c, b.x1 - b.x0 >= 8 && b.y1 - b.y0 >= 8 ? 2 : 1);
}

/** A cell's frame: grey normally, a 2-pixel highlight just outside the cell for the argmax frame. */
export function drawCellFrame(canvas: RgbCanvas, r: Rect, highlight: Rgb | null): void {
  if (highlight) canvas.strokeRect(r.x - 2, r.y - 2, r.x + r.width + 1, r.y + r.height + 1, highlight, 2);
  else canvas.strokeRect(r.x - 1, r.y - 1, r.x + r.width, r.y + r.height, STRIP_COLORS.frame);
}

function motionLabel(c: ClipItem): string | null {
  return c.motion ? c.motion.kind : null;
}

/** Renders the strips; returns the picture and where everything went (for callers and tests). */
export function renderClipStrip(clips: ClipItem[], o: ClipStripOptions = {}): { image: Image8; layout: StripLayout } {
  if (clips.length === 0) throw new Error('clip strip: no clips');
  clips.forEach(checkClip);
  const cellSize = o.cellSize ?? 64;
  if (!Number.isInteger(cellSize) || cellSize < 8) throw new Error(`cell size must be an integer >= 8, got ${cellSize}`);
  const scale = o.textScale ?? 1;
  const highlight = o.highlight ?? STRIP_COLORS.highlight;
  const boxColor = o.boxColor ?? STRIP_COLORS.box;
  const cell = fitSize(clips[0]!.frames[0]!, { width: cellSize, height: cellSize });
  const scales: FigureScales = figureScales(clips, o);
  const lineHeight = (GLYPH_HEIGHT + 3) * scale;

  const columns = Math.max(...clips.map((c) => c.frames.length));
  const labels = clips.flatMap((c) => [...(c.caption ?? []), motionLabel(c) ?? '']);
  const labelWidth = Math.max(0, ...labels.map((l) => textWidth(l, scale)));
  const cellsX = MARGIN + (labelWidth > 0 ? labelWidth + GAP : 0) + 2;
  const titleH = o.title ? lineHeight + 4 : 0;
  const headerH = o.frameNumbers === false ? 0 : lineHeight;
  const rowHeights = clips.map((c) => Math.max(cell.height, (c.caption?.length ?? 0) * lineHeight) + (c.motion ? GAP + cell.height : 0));
  const footer = footerSize(scales, o, scale);
  const cellsW = columns * cell.width + (columns - 1) * GAP;
  const width = Math.max(cellsX + cellsW + 2 + MARGIN, 2 * MARGIN + footer.width);
  const bodyTop = MARGIN + titleH + headerH + 2;
  const bodyH = rowHeights.reduce((a, h) => a + h, 0) + (clips.length - 1) * ROW_GAP;
  const height = bodyTop + bodyH + 2 + (footer.height > 0 ? ROW_GAP + footer.height : 0) + MARGIN;

  const canvas = new RgbCanvas(width, height, STRIP_COLORS.background);
  const text = (s: string, x: number, y: number, w: number) => canvas.drawText(fitText(s, w, scale), x, y, STRIP_COLORS.text, scale);
  if (o.title) text(o.title, MARGIN, MARGIN, width - 2 * MARGIN);
  const colX = (t: number) => cellsX + t * (cell.width + GAP);
  if (headerH > 0) for (let t = 0; t < columns; t++) text(`t ${t}`, colX(t), MARGIN + titleH, cell.width);

  const rows: StripRow[] = [];
  let y = bodyTop;
  clips.forEach((c, i) => {
    (c.caption ?? []).forEach((line, j) => text(line, MARGIN, y + j * lineHeight, labelWidth));
    const motionY = c.motion ? y + Math.max(cell.height, (c.caption?.length ?? 0) * lineHeight) + GAP : null;
    if (motionY !== null) text(motionLabel(c)!, MARGIN, motionY, labelWidth);
    const row: StripRow = { frames: [], motion: motionY === null ? null : [], cells: [], motionY, argmaxT: c.argmaxT ?? null, box: null, motionBox: null };
    for (let t = 0; t < c.frames.length; t++) {
      const isMax = t === c.argmaxT;
      const r = { x: colX(t), y, ...cell };
      row.cells.push(r);
      row.frames.push(drawInCell(canvas, frameCell(c, t, cell, scales, o), r, isMax ? highlight : null));
      if (motionY !== null) {
        const m = motionCell(c, t, cell, scales, o)!;
        row.motion!.push(drawInCell(canvas, m, { ...r, y: motionY }, isMax ? highlight : null));
      }
      if (isMax && c.box) {
        const input = c.inputSize ?? c.frames[t]!;
        row.box = boxOnRect(c.box, input, row.frames[t]!);
        if (row.box) drawBox(canvas, row.box, boxColor);
        if (row.motion) {
          row.motionBox = boxOnRect(c.box, input, row.motion[t]!);
          if (row.motionBox) drawBox(canvas, row.motionBox, boxColor);
        }
      }
    }
    rows.push(row);
    y += rowHeights[i]! + ROW_GAP;
  });

  const placed = drawFooter(canvas, scales, o, scale, MARGIN, bodyTop + bodyH + 2 + ROW_GAP);
  return { image: { width, height, channels: 3, data: canvas.data }, layout: { width, height, cell, rows, ...placed } };
}

/** `renderClipStrip` encoded as PNG. */
export async function clipStripPng(clips: ClipItem[], o: ClipStripOptions = {}): Promise<{ png: Buffer; layout: StripLayout }> {
  const { image, layout } = renderClipStrip(clips, o);
  return { png: await encodePng(image), layout };
}

/** Draws `img` centred in cell `r` (grey tile behind), with the cell's frame; returns where the image went. */
export function drawInCell(canvas: RgbCanvas, img: Image8, r: Rect, highlight: Rgb | null): Rect {
  drawCellFrame(canvas, r, highlight);
  canvas.fillRect(r.x, r.y, r.width, r.height, STRIP_COLORS.tile);
  const at = { x: r.x + Math.floor((r.width - img.width) / 2), y: r.y + Math.floor((r.height - img.height) / 2), width: img.width, height: img.height };
  canvas.drawImage(img, at.x, at.y);
  return at;
}

const BAR_WIDTH = 160;

function footerSize(s: FigureScales, o: ClipStripOptions, scale: number): Size {
  const lineH = (GLYPH_HEIGHT + 3) * scale;
  let w = 0;
  let h = 0;
  if (s.heat) {
    w += textWidth(o.heatColormap ?? 'inferno', scale) + 4 + BAR_WIDTH + GAP * 2;
    h = Math.max(h, colorBarHeight(10, scale));
  }
  if (s.flowMax !== undefined) {
    w += FLOW_KEY + 4 + textWidth(flowKeyText(s.flowMax), scale) + GAP * 2;
    h = Math.max(h, FLOW_KEY);
  }
  if (s.diffMax !== undefined) {
    w += textWidth(diffKeyText(s.diffMax), scale);
    h = Math.max(h, lineH);
  }
  return { width: w, height: h };
}

const flowKeyText = (m: number) => `flow: full colour = ${formatRangeValue(m)} px/frame`;
const diffKeyText = (m: number) => `diff: black -${formatRangeValue(m)}, white +${formatRangeValue(m)}`;

/** The keys under the strips: heat colour bar, the flow colour wheel, the diff scale. */
function drawFooter(canvas: RgbCanvas, s: FigureScales, o: ClipStripOptions, scale: number, x: number, y: number): Pick<StripLayout, 'colorBar' | 'flowKey'> {
  let colorBar: Rect | null = null;
  let flowKey: Rect | null = null;
  if (s.heat) {
    const name = o.heatColormap ?? 'inferno';
    canvas.drawText(name, x, y + 1, STRIP_COLORS.text, scale);
    x += textWidth(name, scale) + 4;
    drawColorBar(canvas, x, y + 1, BAR_WIDTH, name, s.heat, 10, scale);
    colorBar = { x, y: y + 1, width: BAR_WIDTH, height: 10 };
    x += BAR_WIDTH + GAP * 2;
  }
  if (s.flowMax !== undefined) {
    canvas.drawImage(flowLegend(FLOW_KEY), x, y);
    flowKey = { x, y, width: FLOW_KEY, height: FLOW_KEY };
    canvas.drawText(flowKeyText(s.flowMax), x + FLOW_KEY + 4, y + Math.floor((FLOW_KEY - GLYPH_HEIGHT * scale) / 2), STRIP_COLORS.text, scale);
    x += FLOW_KEY + 4 + textWidth(flowKeyText(s.flowMax), scale) + GAP * 2;
  }
  if (s.diffMax !== undefined) canvas.drawText(diffKeyText(s.diffMax), x, y + 1, STRIP_COLORS.text, scale);
  return { colorBar, flowKey };
}
