/**
 * Scatter plot of a stored 2-D layout, one dot per sample coloured by class, with a legend
 * (class name and count). Axes keep the layout's aspect ratio (t-SNE/UMAP distances are
 * isotropic); dots are drawn in a seeded random order so no class is systematically on top.
 * Colours: Tableau 10 (the d3 / matplotlib "tab10" palette) for the first ten classes, then
 * golden-angle hues; unknown labels are grey.
 */
import { listRunIds, readRun } from '../storage/runs.js';
import type { Store } from '../storage/store.js';
import { mulberry32, shuffleInPlace } from '../train/prng.js';
import { GLYPH_HEIGHT, fitText, textWidth } from './bitmap-font.js';
import { RgbCanvas, type Rgb } from './canvas.js';
import { loadLayout, type Layout, type LayoutSelection } from './tsne-grid.js';

export const TAB10: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];
export const UNKNOWN_COLOR: Rgb = [170, 170, 170];

/** Colour of class `label` (-1 = unknown). */
export function labelColor(label: number): Rgb {
  if (label < 0) return UNKNOWN_COLOR;
  if (label < TAB10.length) return TAB10[label]!;
  // HSV with hue stepped by the golden angle, s = 0.65, v = 0.85.
  const h = ((label * 137.508) % 360) / 60;
  const v = 0.85;
  const c = v * 0.65;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = v - c;
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** Class names of a dataset as recorded in the newest run spec that names it (null if none). */
export async function datasetClasses(storeDir: string, dataset: string): Promise<string[] | null> {
  for (const id of (await listRunIds(storeDir)).reverse()) {
    const spec = (await readRun(storeDir, id)).spec as { dataset?: { name?: string; classes?: string[] } } | undefined;
    if (spec?.dataset?.name === dataset && Array.isArray(spec.dataset.classes)) return spec.dataset.classes;
  }
  return null;
}

export interface ScatterOptions {
  /** Side of the square plot area in pixels (default 800). */
  size?: number;
  /** Dot radius in pixels (default: 3 up to 2,000 points, else 2). */
  radius?: number;
  classes?: string[] | null;
  seed?: number;
}

export interface LegendEntry {
  label: number;
  name: string;
  count: number;
  color: Rgb;
}

export interface Scatter {
  png: Buffer;
  layout: Layout;
  width: number;
  height: number;
  legend: LegendEntry[];
}

const MARGIN = 12;
const TEXT = 2;
const LINE = (GLYPH_HEIGHT + 3) * TEXT;

function drawDisc(c: RgbCanvas, cx: number, cy: number, r: number, color: Rgb): void {
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r + r) c.setPixel(cx + dx, cy + dy, color);
}

export function drawScatter(layout: Layout, o: ScatterOptions = {}): Omit<Scatter, 'png' | 'layout'> & { canvas: RgbCanvas } {
  const size = o.size ?? 800;
  const radius = o.radius ?? (layout.n <= 2000 ? 3 : 2);
  const counts = new Map<number, number>();
  for (const l of layout.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const legend: LegendEntry[] = [...counts.keys()]
    .sort((a, b) => (a < 0 ? 1 : b < 0 ? -1 : a - b))
    .map((label) => ({ label, name: label < 0 ? 'unknown' : (o.classes?.[label] ?? `class ${label}`), count: counts.get(label)!, color: labelColor(label) }));
  const legendText = legend.map((e) => fitText(`${e.name} (${e.count})`, 400, TEXT));
  const legendW = Math.max(...legendText.map((t) => textWidth(t, TEXT))) + LINE + 8;
  const title = `${layout.layer} step ${layout.step} ${layout.method}: ${layout.n} samples`;
  const top = MARGIN + LINE + 4;
  const width = MARGIN + size + MARGIN + legendW + MARGIN;
  const height = Math.max(top + size + MARGIN, top + legend.length * LINE + MARGIN);
  const canvas = new RgbCanvas(width, height);
  canvas.drawText(fitText(title, width - 2 * MARGIN, TEXT), MARGIN, MARGIN, [16, 16, 16], TEXT);
  canvas.strokeRect(MARGIN - 1, top - 1, MARGIN + size, top + size, [200, 200, 200]);
  // Fit the layout's bounding box into the plot area, same scale on both axes.
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < layout.n; i++) {
    const x = layout.xy[i * 2];
    const y = layout.xy[i * 2 + 1];
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  const inner = size - 2 * (radius + 2);
  const scale = inner / Math.max(x1 - x0, y1 - y0, 1e-12);
  const ox = MARGIN + radius + 2 + (inner - (x1 - x0) * scale) / 2;
  const oy = top + radius + 2 + (inner - (y1 - y0) * scale) / 2;
  const order = shuffleInPlace(Int32Array.from({ length: layout.n }, (_, i) => i), mulberry32(o.seed ?? 0));
  for (const i of order) {
    // Image y grows downwards: flip so the plot reads like a chart.
    const px = Math.round(ox + (layout.xy[i * 2] - x0) * scale);
    const py = Math.round(oy + (y1 - layout.xy[i * 2 + 1]) * scale);
    drawDisc(canvas, px, py, radius, labelColor(layout.labels[i]));
  }
  const lx = MARGIN + size + MARGIN;
  legend.forEach((e, k) => {
    const y = top + k * LINE;
    canvas.fillRect(lx, y, LINE - 4, LINE - 4, e.color);
    canvas.drawText(legendText[k]!, lx + LINE + 4, y + 1, [16, 16, 16], TEXT);
  });
  return { canvas, width, height, legend };
}

export async function renderScatter(store: Store, sel: LayoutSelection, o: ScatterOptions = {}): Promise<Scatter> {
  const layout = await loadLayout(store, sel);
  const classes = o.classes === undefined ? await datasetClasses(store.dir, layout.dataset) : o.classes;
  const { canvas, width, height, legend } = drawScatter(layout, { ...o, classes });
  return { png: await canvas.toPng(), layout, width, height, legend };
}
