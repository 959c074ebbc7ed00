/** Charts: uPlot line charts, and canvas heat maps and scatter plots for many cells / points. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';

/** Tableau 10: distinct colours for series and class labels. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

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

/** Points coloured by integer label (null: grey) on one canvas. */
/**
 * A scatter plot on one canvas, coloured by label. The data-to-pixel mapping is in data-x0,
 * data-x1, data-y0, data-y1, data-pad (canvas pixels). `onPick` gets the index of the point
 * nearest a click (within 8 canvas pixels; the first of points drawn at the same place).
 */
export function scatter(xs: Float32Array, ys: Float32Array, labels: Int32Array, opts: { testid?: string; size?: number; onPick?: (i: number) => void } = {}): HTMLCanvasElement {
  const size = opts.size ?? 560;
  const canvas = h('canvas', { width: size, height: size, 'data-testid': opts.testid, role: 'img', 'data-points': xs.length });
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size, size);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    x0 = Math.min(x0, xs[i]!);
    x1 = Math.max(x1, xs[i]!);
    y0 = Math.min(y0, ys[i]!);
    y1 = Math.max(y1, ys[i]!);
  }
  const pad = 10;
  const sx = (size - 2 * pad) / (x1 - x0 || 1);
  const sy = (size - 2 * pad) / (y1 - y0 || 1);
  const r = xs.length > 20000 ? 1 : xs.length > 2000 ? 2 : 3;
  Object.assign(canvas.dataset, { x0: String(x0), x1: String(x1), y0: String(y0), y1: String(y1), pad: String(pad) });
  if (opts.onPick) {
    const onPick = opts.onPick;
    canvas.style.cursor = 'pointer';
    canvas.addEventListener('click', (e) => {
      const box = canvas.getBoundingClientRect();
      const cx = ((e.clientX - box.left) * size) / box.width;
      const cy = ((e.clientY - box.top) * size) / box.height;
      let best = -1;
      let bestD = 64; // squared: 8 canvas pixels
      for (let i = 0; i < xs.length; i++) {
        const dx = pad + (xs[i]! - x0) * sx - cx;
        const dy = size - pad - (ys[i]! - y0) * sy - cy;
        const d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = i;
        }
      }
      if (best >= 0) onPick(best);
    });
  }
  // One path per colour: far fewer state changes than a fill per point.
  const byColour = new Map<string, number[]>();
  for (let i = 0; i < xs.length; i++) {
    const c = labels[i]! < 0 ? '#999' : colour(labels[i]!);
    let list = byColour.get(c);
    if (!list) byColour.set(c, (list = []));
    list.push(i);
  }
  for (const [c, idx] of byColour) {
    ctx.fillStyle = c;
    ctx.beginPath();
    for (const i of idx) {
      const px = pad + (xs[i]! - x0) * sx;
      const py = size - pad - (ys[i]! - y0) * sy;
      ctx.rect(px - r, py - r, 2 * r, 2 * r);
    }
    ctx.fill();
  }
  return canvas;
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
        h('span', { class: 'bar-value' }, Number(it.value.toPrecision(4)).toString()),
      ),
    ),
  );
}
