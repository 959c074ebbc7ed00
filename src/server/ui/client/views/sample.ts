/**
 * Sample view (`#/sample/<dataset>/<sample_id>?layer=gap`): the sample's image, uri and label,
 * the model's prediction at the latest step, its most active units per layer at the latest step
 * (links to the unit view), and its nearest neighbours in a layer's codes (`embedding_neighbors`).
 */
import { blobUrl, classNamer, lit, named, sql, type Row } from '../api.js';
import { cell, errorBox, fmt, guarded, h, note, num, panel, sqlBlock } from '../dom.js';
import { context, href, type Route } from '../state.js';
import { clipPanel } from './clips.js';
import { mapsPanel } from './sample-maps.js';

/** Top units per layer. */
const TOP_UNITS = 10;
const NEIGHBOURS = 10;

function sampleImage(opts: { alt: string; testid?: string; cls?: string }): HTMLImageElement {
  return h('img', { alt: opts.alt, 'data-testid': opts.testid, class: opts.cls ?? 'sample' });
}

async function loadImage(img: HTMLImageElement, dataset: string, id: number): Promise<void> {
  img.src = await blobUrl(`api/samples/${encodeURIComponent(dataset)}/${id}.png`);
  await img.decode().catch(() => undefined);
}

export async function sampleView(root: HTMLElement, r: Route): Promise<void> {
  const [dataset, idText] = r.args;
  const id = num(idText);
  if (!dataset || id === null || !Number.isInteger(id) || id < 0) {
    root.append(errorBox('expected #/sample/<dataset>/<sample_id>'));
    return;
  }
  const ctx = context();
  // Class names of the dataset (GET /api/datasets), awaited inside the panels that show labels.
  const namer = classNamer(dataset);
  const modelWhere = ctx.model ? ` AND model = ${lit(ctx.model)}` : '';
  root.append(
    h('h1', {}, 'Sample ', h('code', {}, `${dataset}:${id}`)),
    h(
      'p',
      { class: 'unit-nav' },
      id > 0 ? h('a', { href: href('sample', [dataset, id - 1], { layer: r.params.get('layer') }), 'data-testid': 'prev-sample' }, `sample ${id - 1}`) : null,
      h('a', { href: href('sample', [dataset, id + 1], { layer: r.params.get('layer') }), 'data-testid': 'next-sample' }, `sample ${id + 1}`),
    ),
  );
  const infoP = h('div');
  const unitsP = h('div');
  const nbP = h('div');
  const mapsP = h('div');
  root.append(h('div', { class: 'grid' }, infoP, nbP), mapsP, unitsP);
  // A clip sample (video dataset) also plays: clips.ts; nothing is drawn for an image.
  const clipP = h('div');
  mapsP.before(clipP);

  // One read of the sample row for the info, clip and maps panels. SELECT *: image-only stores
  // may lack the clip columns altogether, so the clip panel looks for them in the row.
  const infoSql = `SELECT * FROM samples WHERE dataset = ${lit(dataset)} AND sample_id = ${id}`;
  const infoQ = sql(infoSql);
  // The prediction of each model at its latest step with predictions for this dataset.
  const predSql = `SELECT p.model, p.step, p.pred, p.prob, p.label
FROM predictions p
JOIN (SELECT model, max(step) AS step FROM predictions WHERE dataset = ${lit(dataset)}${modelWhere} GROUP BY model) m
  ON m.model = p.model AND m.step = p.step
WHERE p.dataset = ${lit(dataset)} AND p.sample_id = ${id}
ORDER BY p.model`;
  // Each layer at its latest step (neuron_stats: small); rows_rate 0 = no per-sample rows kept.
  const latest = `SELECT model, layer, max(step) AS step FROM neuron_stats WHERE dataset = ${lit(dataset)}${modelWhere} GROUP BY model, layer`;
  const layersSql = `SELECT n.model, n.layer, n.step, min(coalesce(n.rows_rate, 1)) AS rows_rate
FROM neuron_stats n
JOIN (${latest}) l ON l.model = n.model AND l.layer = n.layer AND l.step = n.step
WHERE n.dataset = ${lit(dataset)}
GROUP BY n.model, n.layer, n.step
ORDER BY n.model, n.layer`;
  const unitsSql = `SELECT a.model, a.layer, a.step, a.channel, a.max, a.mean, a.zero_frac
FROM activations a
JOIN (${latest}) l
  ON l.model = a.model AND l.layer = a.layer AND l.step = a.step
WHERE a.dataset = ${lit(dataset)} AND a.sample_id = ${id}${ctx.model ? ` AND a.model = ${lit(ctx.model)}` : ''}
QUALIFY row_number() OVER (PARTITION BY a.model, a.layer ORDER BY a.max DESC, a.channel) <= ${TOP_UNITS}
ORDER BY a.model, a.layer, a.max DESC, a.channel`;

  await Promise.all([
    guarded(clipP, 'clip', async () => clipPanel(dataset, id, (await infoQ).rows[0], infoSql)),
    guarded(mapsP, 'maps', async () => mapsPanel(dataset, id, (await infoQ).rows[0], infoSql, ctx, r.params)),
    guarded(infoP, 'sample', async () => {
      const labelText = await namer;
      const [info, pred] = await Promise.all([infoQ, sql(predSql)]);
      const s = info.rows[0];
      if (!s) return panel('Sample', { testid: 'sample', sql: info.sql }, errorBox(`no sample ${id} in dataset ${dataset}`));
      const img = sampleImage({ alt: `sample ${id} of ${dataset}`, testid: 'sample-img' });
      await loadImage(img, dataset, id).catch(() => {
        img.alt = `sample ${id}: no image (the dataset's files are not readable by the server)`;
      });
      const preds = pred.rows.map((p) =>
        h(
          'li',
          { 'data-testid': 'prediction', 'data-model': String(p.model), 'data-step': String(p.step), 'data-pred': String(p.pred), 'data-prob': String(p.prob) },
          h('strong', {}, labelText(p.pred)),
          ` with probability ${fmt(num(p.prob))} (${p.model}, step ${p.step})`,
          s.label !== null && Number(s.label) >= 0 ? (Number(p.pred) === Number(s.label) ? ' ✓ correct' : ' ✗ wrong') : '',
        ),
      );
      return panel(
        'Sample',
        { testid: 'sample' },
        h(
          'div',
          { class: 'sample-head' },
          img,
          h(
            'dl',
            { class: 'sample-info' },
            h('dt', {}, 'uri'),
            h('dd', { 'data-testid': 'sample-uri' }, h('code', {}, String(s.uri))),
            h('dt', {}, 'label'),
            h('dd', { 'data-testid': 'sample-label', 'data-value': s.label === null ? '' : String(s.label) }, labelText(s.label)),
            s.split !== null && s.split !== undefined ? h('dt', {}, 'split') : null,
            s.split !== null && s.split !== undefined ? h('dd', {}, String(s.split)) : null,
            h('dt', {}, 'prediction'),
            h('dd', {}, preds.length ? h('ul', { class: 'plain' }, ...preds) : note('No predictions for this sample.', 'no-prediction')),
          ),
        ),
        sqlBlock(info.sql),
        sqlBlock(pred.sql),
      );
    }),
    guarded(unitsP, 'most active units', async () => {
      const [layers, units] = await Promise.all([sql(layersSql), sql(unitsSql)]);
      if (layers.rows.length === 0) return panel('Most active units', { testid: 'top-units' }, note('No neuron statistics for this dataset.'), sqlBlock(layers.sql));
      const models = new Set(layers.rows.map((l) => String(l.model)));
      const sections = layers.rows.map((l) => {
        const layer = String(l.layer);
        const rows = units.rows.filter((u) => u.model === l.model && u.layer === l.layer);
        const title = `${layer}${models.size > 1 ? ` (${l.model})` : ''} · step ${l.step}`;
        let body: HTMLElement;
        if (Number(l.rows_rate) === 0) body = note(`Layer ${layer} keeps no per-sample rows (retention summary): no activations of this sample to rank.`, `no-rows-${layer}`);
        else if (rows.length === 0) body = note(`No per-sample rows of this sample in layer ${layer}${Number(l.rows_rate) < 1 ? ` (the layer keeps a sample of its rows, rate ${l.rows_rate})` : ''}.`, `no-rows-${layer}`);
        else body = unitsTable(layer, Number(l.step), rows, models.size > 1 ? String(l.model) : undefined);
        return h('div', { class: 'layer-units', 'data-layer': layer }, h('h3', {}, title), body);
      });
      return panel(`Most active units per layer (top ${TOP_UNITS} by max)`, { testid: 'top-units' }, h('div', { class: 'grid' }, ...sections), sqlBlock(layers.sql), sqlBlock(units.sql));
    }),
    guarded(nbP, 'nearest neighbours', async () => {
      const labelText = await namer;
      let layer = r.params.get('layer') ?? undefined;
      if (!layer) {
        const e = await sql(`SELECT DISTINCT layer FROM embeddings WHERE dataset = ${lit(dataset)}${modelWhere} ORDER BY layer`);
        layer = e.rows[0] ? String(e.rows[0].layer) : undefined;
      }
      if (!layer) return panel('Nearest neighbours', { testid: 'neighbours' }, note('No embedded layer for this dataset: open the sample from the embedding view, or add ?layer=<code layer> to the address.', 'no-neighbours'));
      const a = await named('embedding_neighbors', { layer, sample_id: id, k: NEIGHBOURS, dataset, model: ctx.model });
      if (a.rows.length === 0) return panel(`Nearest neighbours in ${layer}`, { testid: 'neighbours', sql: a.sql }, note(`No codes of layer ${layer} for this sample.`, 'no-neighbours'));
      const items = a.rows.map((n) => {
        const nid = Number(n.sample_id);
        const img = sampleImage({ alt: `sample ${nid}`, cls: 'thumb' });
        return {
          img,
          nid,
          el: h(
            'li',
            { 'data-sample': nid, 'data-distance': String(n.distance) },
            h('a', { href: href('sample', [dataset, nid], { layer }), title: `sample ${nid}, ${labelText(n.label)}, distance ${fmt(num(n.distance))}` }, img, h('span', {}, `${nid} · ${labelText(n.label)} · ${fmt(num(n.distance))}`)),
          ),
        };
      });
      await Promise.all(items.map((it) => loadImage(it.img, dataset, it.nid).catch(() => undefined)));
      return panel(
        `Nearest neighbours in ${layer} (cosine distance, step ${a.rows[0]!.step})`,
        { testid: 'neighbours', sql: a.sql },
        h('ol', { class: 'thumbs', 'data-testid': 'neighbour-list' }, ...items.map((it) => it.el)),
      );
    }),
  ]);
}

function unitsTable(layer: string, step: number, rows: Row[], model?: string): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': `units-${layer}` },
      h('thead', {}, h('tr', {}, ...['unit', 'max', 'mean', 'zero_frac'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...rows.map((u) =>
          h(
            'tr',
            {},
            h('td', { 'data-value': String(u.channel) }, h('a', { href: href('unit', [layer, Number(u.channel)], { step, model }) }, String(u.channel))),
            cell(u.max),
            cell(u.mean),
            cell(u.zero_frac),
          ),
        ),
      ),
    ),
  );
}
