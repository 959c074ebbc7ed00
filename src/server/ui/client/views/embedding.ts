/** Embedding view: the 2-D layout of a layer's codes, one point per sample, coloured by label; a click opens the sample. */
import { lit, named, sql } from '../api.js';
import { colour, scatter } from '../charts.js';
import { errorBox, h, note, num, panel } from '../dom.js';
import { context, contextWhere, href, type Route } from '../state.js';

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
  const stepParam = num(r.params.get('step'));
  const choices = h(
    'p',
    { class: 'layers' },
    ...list.map((x) =>
      h(
        'a',
        { class: 'chip', href: href('embedding', [String(x.layer)], { method: String(x.method), step: Number(x.step) }) },
        `${x.layer} · ${x.method} · step ${x.step} (${x.points})`,
      ),
    ),
  );
  root.append(choices);
  const a = await named('embedding_points', { layer, method, step: stepParam ?? undefined, dataset: ctx.dataset, model: ctx.model });
  // The dataset of the points (a click opens the sample's view): the address's, or the only one.
  let dataset = ctx.dataset;
  if (!dataset) {
    const ds = (await sql(`SELECT DISTINCT dataset FROM embeddings WHERE layer = ${lit(layer)}${contextWhere(lit)} ORDER BY dataset`)).rows;
    if (ds.length === 1) dataset = String(ds[0]!.dataset);
  }
  const n = a.rows.length;
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  const labels = new Int32Array(n);
  const counts = new Map<number, number>();
  a.rows.forEach((p, i) => {
    xs[i] = Number(p.x);
    ys[i] = Number(p.y);
    const l = p.label === null || p.label === undefined ? -1 : Number(p.label);
    labels[i] = l;
    counts.set(l, (counts.get(l) ?? 0) + 1);
  });
  const legend = h(
    'ul',
    { class: 'legend-list', 'data-testid': 'embedding-legend' },
    ...[...counts]
      .sort((p, q) => p[0] - q[0])
      .map(([l, c]) => h('li', { 'data-label': l, 'data-count': c }, h('span', { class: 'swatch', style: `background:${l < 0 ? '#999' : colour(l)}` }), `${l < 0 ? 'no label' : `class ${l}`}: ${c}`)),
  );
  root.append(
    panel(
      `${layer} · ${method}${a.rows[0] ? ` · step ${a.rows[0].step}` : ''}`,
      { testid: 'embedding', sql: a.sql },
      note(
        `${n} points${a.truncated ? ' (cut at the server row limit)' : ''}. ${dataset ? 'Click a point to open its sample.' : 'Several datasets: add ?dataset=<name> to the address to open samples by clicking.'}`,
        'embedding-count',
      ),
      h('div', { class: 'grid' }, scatter(xs, ys, labels, {
          testid: 'embedding-canvas',
          onPick: dataset ? (i) => (location.hash = href('sample', [dataset, Number(a.rows[i]!.sample_id)], { layer })) : undefined,
        }), legend),
    ),
  );
}
