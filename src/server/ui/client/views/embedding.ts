/**
 * Embedding view (`#/embedding/<layer>?method=&step=&colour=label|pred|correct`): the 2-D layout
 * of a layer's codes, one point per sample (70k stay smooth: scatter-plot.ts), coloured by label,
 * by the model's prediction at the embedding's step (or the latest step before it with
 * predictions, said in the panel), or by correct / wrong; legend counts per colour. Hovering a
 * point shows its thumbnail, id, label and prediction; a click (or Enter) opens the sample with
 * its nearest neighbours. Points arrive as Arrow (arrow-sql.ts): typed columns, 5x smaller than JSON.
 */
import { classNamer, lit, sql } from '../api.js';
import { numbers, sqlArrow } from '../arrow-sql.js';
import { colour } from '../charts.js';
import { errorBox, guarded, h, note, num, panel } from '../dom.js';
import { ScatterPlot } from '../scatter-plot.js';
import { context, contextWhere, href, patchParams, type Route } from '../state.js';
import { ThumbCache } from '../thumbs.js';

const COLOUR_MODES = ['label', 'pred', 'correct'] as const;
export type ColourMode = (typeof COLOUR_MODES)[number];
const MODE_TEXT: Record<ColourMode, string> = { label: 'label', pred: 'predicted class', correct: 'correct vs wrong' };
const GREY = '#999999';

/** One process-wide cache: thumbnails survive a redraw of the view, and memory stays bounded. */
const thumbs = new ThumbCache(64);

interface Points {
  ids: Int32Array;
  xs: Float32Array;
  ys: Float32Array;
  /** -1: no label / no prediction. */
  labels: Int32Array;
  preds: Int32Array;
  truncated: boolean;
}

interface LegendEntry {
  key: string;
  text: string;
  colour: string;
  count: number;
}

interface Colouring {
  colours: Uint16Array;
  palette: string[];
  legend: LegendEntry[];
}

/** The step whose predictions colour an embedding at `step`: per dataset and model, the latest at or before it. */
function predStepSql(embWhere: string, step: number): string {
  return `SELECT p.dataset, p.model, max(p.step) AS step
FROM predictions p
WHERE p.step <= ${step}${contextWhere(lit, 'p.')}
  AND EXISTS (SELECT 1 FROM embeddings e WHERE e.dataset = p.dataset AND e.model = p.model AND ${embWhere})
GROUP BY ALL ORDER BY ALL`;
}

/** Points with label and prediction, in the order of the embedding_points query (a click on coinciding points picks the first). */
function pointsSql(embWhere: string, predSteps: { dataset: string; model: string; step: number }[]): string {
  const e = `e AS (SELECT dataset, model, method, params, sample_id, x, y FROM embeddings e WHERE ${embWhere})`;
  const order = 'ORDER BY e.dataset, e.model, e.method, e.params, e.sample_id';
  const label = 'LEFT JOIN samples s ON s.dataset = e.dataset AND s.sample_id = e.sample_id';
  if (predSteps.length === 0) return `WITH ${e}\nSELECT e.sample_id, e.x, e.y, s.label, CAST(NULL AS INTEGER) AS pred\nFROM e\n${label}\n${order}`;
  const values = predSteps.map((p) => `(${lit(p.dataset)}, ${lit(p.model)}, ${p.step})`).join(', ');
  const steps = [...new Set(predSteps.map((p) => p.step))].join(', ');
  return `WITH ${e},
p AS (SELECT dataset, model, step, sample_id, pred FROM predictions WHERE step IN (${steps}))
SELECT e.sample_id, e.x, e.y, s.label, p.pred
FROM e
${label}
LEFT JOIN (VALUES ${values}) AS ps(dataset, model, step) ON ps.dataset = e.dataset AND ps.model = e.model
LEFT JOIN p ON p.dataset = e.dataset AND p.model = e.model AND p.step = ps.step AND p.sample_id = e.sample_id
${order}`;
}

async function loadPoints(text: string): Promise<Points> {
  const a = await sqlArrow(text);
  const t = a.table;
  return {
    ids: numbers(t, 'sample_id', (n) => new Int32Array(n), -1),
    xs: numbers(t, 'x', (n) => new Float32Array(n), NaN),
    ys: numbers(t, 'y', (n) => new Float32Array(n), NaN),
    labels: numbers(t, 'label', (n) => new Int32Array(n), -1),
    preds: numbers(t, 'pred', (n) => new Int32Array(n), -1),
    truncated: a.truncated,
  };
}

/** Correct: prediction = label; unknown: no label (or a negative one) or no prediction. */
function outcome(p: Points, i: number): 0 | 1 | 2 {
  const l = p.labels[i]!, q = p.preds[i]!;
  return l < 0 || q < 0 ? 2 : l === q ? 0 : 1;
}

/** Colour index per point, the palette and the legend (one entry per colour, with its count). */
function colourBy(p: Points, mode: ColourMode, classText: (c: unknown) => string = (c) => `class ${c}`): Colouring {
  const n = p.ids.length;
  const colours = new Uint16Array(n);
  if (mode === 'correct') {
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) counts[(colours[i] = outcome(p, i))]!++;
    const palette = ['#59a14f', '#e15759', GREY];
    const legend = (['correct', 'wrong', 'unknown'] as const).map((key, k) => ({ key, text: key === 'unknown' ? 'no label or no prediction' : key, colour: palette[k]!, count: counts[k]! }));
    return { colours, palette, legend: legend.filter((e) => e.count > 0) };
  }
  const values = mode === 'label' ? p.labels : p.preds;
  const keys = [...new Set(values)].sort((a, b) => a - b);
  const slot = new Map(keys.map((k, s) => [k, s]));
  const counts = new Array<number>(keys.length).fill(0);
  for (let i = 0; i < n; i++) counts[(colours[i] = slot.get(values[i]!)!)]!++;
  const palette = keys.map((k) => (k < 0 ? GREY : colour(k)));
  const none = mode === 'label' ? 'no label' : 'no prediction';
  const legend = keys.map((k, s) => ({ key: String(k), text: k < 0 ? none : mode === 'label' ? classText(k) : `predicted ${classText(k)}`, colour: palette[s]!, count: counts[s]! }));
  return { colours, palette, legend };
}

function legendList(mode: ColourMode, entries: LegendEntry[]): HTMLElement {
  return h(
    'ul',
    { class: 'legend-list', 'data-testid': 'embedding-legend', 'data-colour': mode, 'aria-label': `colour: ${MODE_TEXT[mode]}` },
    ...entries.map((e) => h('li', { 'data-label': e.key, 'data-count': e.count }, h('span', { class: 'swatch', style: `background:${e.colour}` }), `${e.text}: ${e.count}`)),
  );
}

/** Fills the plot's tip for point i: thumbnail (token-carrying fetch, cached), id, label, prediction. */
function tipFiller(plot: ScatterPlot, p: Points, dataset: string | undefined, status: HTMLElement, classText: (c: unknown) => string): (i: number) => void {
  const img = h('img', { class: 'scatter-thumb', alt: '' });
  const text = h('div', { class: 'scatter-tip-text' });
  plot.tip.dataset.testid = 'embedding-tip';
  plot.tip.setAttribute('aria-hidden', 'true');
  plot.tip.append(img, text);
  img.addEventListener('load', () => (img.dataset.loaded = 'true'));
  return (i) => {
    if (i < 0) {
      thumbs.cancel();
      delete plot.tip.dataset.sample;
      status.textContent = '\u00a0';
      return;
    }
    const id = p.ids[i]!;
    const o = outcome(p, i);
    const lines = [`sample ${id}`, `label: ${classText(p.labels[i]!)}`, `predicted: ${classText(p.preds[i]!)}${o === 2 ? '' : o === 0 ? ' (right)' : ' (wrong)'}`];
    plot.tip.dataset.sample = String(id);
    text.replaceChildren(...lines.map((l) => h('div', {}, l)));
    status.textContent = lines.join(' · ');
    delete img.dataset.loaded;
    img.dataset.for = String(id);
    img.removeAttribute('src');
    if (!dataset) {
      img.hidden = true;
      return;
    }
    img.hidden = false;
    thumbs.get(`api/samples/${encodeURIComponent(dataset)}/${id}.png`).then(
      (url) => {
        if (url && plot.tip.dataset.sample === String(id)) {
          // The thumbnail cache owns this URL: main.ts must not revoke it when the view is redrawn.
          img.dataset.cached = '1';
          img.src = url;
        }
      },
      (e: unknown) => {
        if (plot.tip.dataset.sample !== String(id)) return;
        img.hidden = true;
        text.append(h('div', { class: 'scatter-tip-error' }, `no image: ${(e as Error).message}`));
      },
    );
  };
}

function colourSelect(mode: ColourMode, onChange: (m: ColourMode) => void): HTMLElement {
  const select = h(
    'select',
    { id: 'embedding-colour', 'data-testid': 'embedding-colour', onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value as ColourMode) },
    ...COLOUR_MODES.map((m) => h('option', { value: m, selected: m === mode }, MODE_TEXT[m])),
  );
  return h('label', { class: 'scatter-control' }, 'Colour by ', select);
}

export async function embeddingView(root: HTMLElement, r: Route): Promise<void> {
  const ctx = context();
  root.append(h('h1', {}, 'Embedding'));
  const listSql = `SELECT layer, method, step, count(*) AS points FROM embeddings WHERE true${contextWhere(lit)} GROUP BY ALL ORDER BY layer, method, step`;
  const list = (await sql(listSql)).rows;
  if (list.length === 0) {
    root.append(note('No embeddings in this store: add an `embed:` section to the pipeline spec, or run `neurolens embed`.', 'no-embeddings'));
    return;
  }
  const layer = r.args[0] ?? String(list[list.length - 1]!.layer);
  const ofLayer = list.filter((x) => x.layer === layer);
  if (ofLayer.length === 0) {
    root.append(errorBox(`no embedding of layer ${layer}`));
    return;
  }
  const method = r.params.get('method') ?? String(ofLayer[0]!.method);
  const steps = ofLayer.filter((x) => x.method === method).map((x) => Number(x.step));
  const stepParam = num(r.params.get('step'));
  const modeParam = r.params.get('colour') ?? 'label';
  root.append(
    h(
      'p',
      { class: 'layers' },
      ...list.map((x) =>
        h('a', { class: 'chip', href: href('embedding', [String(x.layer)], { method: String(x.method), step: Number(x.step), colour: r.params.get('colour') }) }, `${x.layer} · ${x.method} · step ${x.step} (${x.points})`),
      ),
    ),
  );
  if (steps.length === 0) return void root.append(errorBox(`no embedding of layer ${layer} with method ${method} (methods: ${[...new Set(ofLayer.map((x) => x.method))].join(', ')})`));
  if (stepParam !== null && !steps.includes(stepParam)) return void root.append(errorBox(`step=${stepParam}: layer ${layer} has ${method} embeddings at steps ${steps.join(', ')}`));
  if (!(COLOUR_MODES as readonly string[]).includes(modeParam)) return void root.append(errorBox(`colour=${modeParam}: expected one of ${COLOUR_MODES.join(', ')}`));
  const step = stepParam ?? Math.max(...steps);
  // The dataset of the points (hover thumbnails, clicks open the sample): the address's, or the only one.
  let dataset = ctx.dataset;
  if (!dataset) {
    const ds = (await sql(`SELECT DISTINCT dataset FROM embeddings WHERE layer = ${lit(layer)}${contextWhere(lit)} ORDER BY dataset`)).rows;
    if (ds.length === 1) dataset = String(ds[0]!.dataset);
  }
  const target = h('div');
  root.append(target);
  await guarded(target, 'embedding', () => embeddingPanel({ layer, method, step, dataset, mode: modeParam as ColourMode }));
}

async function embeddingPanel(o: { layer: string; method: string; step: number; dataset?: string; mode: ColourMode }): Promise<HTMLElement> {
  const embWhere = `e.layer = ${lit(o.layer)} AND e.method = ${lit(o.method)} AND e.step = ${o.step}${contextWhere(lit, 'e.')}`;
  const stepsQ = predStepSql(embWhere, o.step);
  const predSteps = (await sql(stepsQ)).rows.map((x) => ({ dataset: String(x.dataset), model: String(x.model), step: Number(x.step) }));
  const pointsQ = pointsSql(embWhere, predSteps);
  const p = await loadPoints(pointsQ);
  const n = p.ids.length;
  const status = h('p', { class: 'tip', 'aria-live': 'polite', 'data-testid': 'embedding-status' }, '\u00a0');
  const plot = new ScatterPlot(p.xs, p.ys, {
    testid: 'embedding-canvas',
    onPick: o.dataset ? (i) => (location.hash = href('sample', [o.dataset!, p.ids[i]!], { layer: o.layer })) : undefined,
  });
  // Labels by the dataset's class names (GET /api/datasets) when its spec names them.
  const classText = await classNamer(o.dataset);
  plot.onActive = tipFiller(plot, p, o.dataset, status, classText);
  const legendBox = h('div', { class: 'scatter-legend' });
  const recolour = (mode: ColourMode) => {
    const c = colourBy(p, mode, classText);
    plot.setColours(c.colours, c.palette);
    legendBox.replaceChildren(legendList(mode, c.legend));
  };
  recolour(o.mode);
  const predStep = [...new Set(predSteps.map((x) => x.step))];
  const predNote = predSteps.length === 0
    ? `No predictions at or before step ${o.step}: colouring by prediction shows every point as unknown.`
    : `Predictions from step ${predStep.join(', ')}${predStep.length === 1 && predStep[0] === o.step ? " (the embedding's step)" : ` (the latest at or before the embedding's step ${o.step})`}.`;
  const controls = h(
    'div',
    { class: 'scatter-controls' },
    colourSelect(o.mode, (m) => {
      patchParams({ colour: m === 'label' ? undefined : m });
      recolour(m);
    }),
    h('button', { type: 'button', 'data-testid': 'embedding-reset', onclick: () => plot.reset() }, 'Reset zoom'),
  );
  return panel(
    `${o.layer} · ${o.method} · step ${o.step}`,
    { testid: 'embedding', sql: `-- points\n${pointsQ};\n\n-- the predictions' step\n${stepsQ};` },
    note(
      `${n} points${p.truncated ? ' (cut at the server row limit)' : ''}. ${o.dataset ? 'Hover a point for its picture; click it (or focus the plot, move with the arrow keys, press Enter) to open the sample. Wheel zooms, drag pans.' : 'Several datasets: add ?dataset=<name> to the address to see pictures and open samples.'}`,
      'embedding-count',
    ),
    h('p', { class: 'note', 'data-testid': 'embedding-pred-step', 'data-value': predStep.join(',') }, predNote),
    controls,
    h('div', { class: 'grid' }, h('div', {}, plot.el, status), legendBox),
  );
}
