/** Charts: uPlot line charts, canvas heat maps (many cells) and class bars; the embedding's scatter plot is scatter-plot.ts. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmt, h } from './dom.js';

/** Tableau 10: distinct colours for series and class labels. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function colour(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

export interface Series {
  label: string;
  /** y per x (null: no point). */
  values: (number | null)[];
}

/** A line chart over shared x values (e.g. checkpoint steps), one line per series. */
export function lineChart(x: number[], series: Series[], opts: { testid?: string; yLabel?: string; xLabel?: string; width?: number; height?: number } = {}): HTMLElement {
  const box = h('div', { class: 'chart', 'data-testid': opts.testid, 'data-series': series.length });
  const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
  const plot = new uPlot(
    {
      width: opts.width ?? 520,
      height: opts.height ?? 240,
      scales: { x: { time: false } },
      axes: [{ label: opts.xLabel ?? 'step' }, { label: opts.yLabel, size: 60 }],
      series: [{ label: opts.xLabel ?? 'step' }, ...series.map((s, i) => ({ label: s.label, stroke: colour(i), width: 2, points: { show: true, size: 6 } }))],
    },
    data,
    box,
  );
  box.dataset.rendered = 'true';
  (box as HTMLElement & { plot?: uPlot }).plot = plot;
  return box;
}

/** Colour of v in [0, 1]: dark blue (0) to yellow (1), a viridis-like ramp. */
export function ramp(v: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const t = Math.min(1, Math.max(0, v)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/**
 * A rows x cols heat map of values in [0, 1] on one canvas (one ImageData write, so thousands of
 * units stay fast). NaN cells are drawn grey. `onHover` gets the cell under the pointer.
 */
export function heatMap(
  values: Float64Array,
  rows: number,
  cols: number,
  opts: { testid?: string; cell?: [number, number]; describe?: (r: number, c: number) => string } = {},
): HTMLElement {
  const cw = opts.cell?.[0] ?? Math.max(4, Math.min(40, Math.floor(640 / Math.max(1, cols))));
  const ch = opts.cell?.[1] ?? Math.max(1, Math.min(16, Math.floor(480 / Math.max(1, rows))));
  const canvas = h('canvas', { width: cols * cw, height: rows * ch, 'data-testid': opts.testid, role: 'img' });
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(cols * cw, rows * ch);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c]!;
      const [R, G, B] = Number.isNaN(v) ? [200, 200, 200] : ramp(v);
      for (let y = r * ch; y < (r + 1) * ch; y++) {
        let o = (y * cols * cw + c * cw) * 4;
        for (let x = 0; x < cw; x++, o += 4) {
          img.data[o] = R;
          img.data[o + 1] = G;
          img.data[o + 2] = B;
          img.data[o + 3] = 255;
        }
      }
    }
  }
  ctx.putImageData(img, 0, 0);
  const tip = h('div', { class: 'tip', 'aria-live': 'polite' }, '\u00a0');
  if (opts.describe) {
    canvas.addEventListener('mousemove', (e) => {
      const r = Math.floor(e.offsetY / ch);
      const c = Math.floor(e.offsetX / cw);
      if (r >= 0 && r < rows && c >= 0 && c < cols) tip.textContent = opts.describe!(r, c);
    });
  }
  const legend = h('div', { class: 'legend' }, '0', h('span', { class: 'ramp' }), '1');
  return h('div', { class: 'heatmap' }, h('div', { class: 'scroll' }, canvas), legend, tip);
}


/** Horizontal bars (HTML, so they can be read by assistive technology and tests). */
export function bars(items: { label: string; value: number; highlight?: boolean }[], opts: { testid?: string } = {}): HTMLElement {
  const max = Math.max(0, ...items.map((i) => i.value)) || 1;
  return h(
    'div',
    { class: 'bars', 'data-testid': opts.testid },
    ...items.map((it) =>
      h(
        'div',
        { class: it.highlight ? 'bar top' : 'bar', 'data-label': it.label, 'data-value': it.value },
        h('span', { class: 'bar-label' }, it.label),
        h('span', { class: 'bar-track' }, h('span', { class: 'bar-fill', style: `width:${Math.max(0, (100 * it.value) / max).toFixed(2)}%` })),
        h('span', { class: 'bar-value' }, fmt(it.value)),
      ),
    ),
  );
}
