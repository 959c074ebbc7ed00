/** Unit view: top-k mosaic, statistics over training, class selectivity; each panel with its SQL. */
import { blobUrl, named, queryString } from '../api.js';
import { bars, lineChart } from '../charts.js';
import { errorBox, guarded, h, note, num, panel, table } from '../dom.js';
import { context, href, type Route } from '../state.js';
import { pivot } from './overview.js';

export async function unitView(root: HTMLElement, r: Route): Promise<void> {
  const [layer, chText] = r.args;
  const channel = num(chText);
  if (!layer || channel === null || !Number.isInteger(channel)) {
    root.append(errorBox('expected #/unit/<layer>/<channel>'));
    return;
  }
  const ctx = context();
  const step = num(r.params.get('step')) ?? undefined;
  root.append(
    h('h1', {}, 'Unit ', h('code', {}, `${layer}:${channel}`), step !== undefined ? ` at step ${step}` : ''),
    h(
      'p',
      { class: 'unit-nav' },
      h('a', { href: href('layer', [layer], { step }) }, `← layer ${layer}`),
      channel > 0 ? h('a', { href: href('unit', [layer, channel - 1], { step }), 'data-testid': 'prev-unit' }, `unit ${channel - 1}`) : null,
      h('a', { href: href('unit', [layer, channel + 1], { step }), 'data-testid': 'next-unit' }, `unit ${channel + 1}`),
    ),
  );
  const mosaicP = h('div');
  const profileP = h('div');
  const selP = h('div');
  root.append(h('div', { class: 'grid' }, mosaicP, selP), profileP);
  const k = 16;
  const mosaicParams = { step, k, dataset: ctx.dataset, model: ctx.model };
  await Promise.all([
    guarded(mosaicP, 'mosaic', async () => {
      const path = `api/neurons/${encodeURIComponent(layer)}/${channel}/mosaic.png${queryString(mosaicParams)}`;
      const url = await blobUrl(path);
      const img = h('img', { src: url, alt: `top-${k} activators of ${layer}:${channel}`, 'data-testid': 'mosaic-img', class: 'mosaic' });
      await img.decode().catch(() => undefined);
      const q = await named('top_k_activators', { layer, channel, step, k, dataset: ctx.dataset, model: ctx.model });
      return panel(`Top-${k} activators`, { testid: 'mosaic', sql: `-- GET /${path}\n${q.sql}` }, img, table(q.rows, { testid: 'topk-table', columns: ['rank', 'sample_id', 'label', 'value', 'argmax_y', 'argmax_x'] }));
    }),
    guarded(profileP, 'profile', async () => {
      const a = await named('neuron_profile', { layer, channel, dataset: ctx.dataset, model: ctx.model });
      if (a.rows.length === 0) return panel('Over training', { testid: 'profile', sql: a.sql }, note('No statistics for this unit.'));
      const long = a.rows.flatMap((x) => ['max', 'mean', 'zero_frac', 'active_frac'].map((m) => ({ step: x.step, m, v: x[m] })));
      const p = pivot(long, (x) => String(x.m), 'step', 'v');
      return panel(
        'Over training',
        { testid: 'profile', sql: a.sql },
        lineChart(p.xs, p.series, { testid: 'profile-chart' }),
        table(a.rows, { testid: 'profile-table', columns: ['step', 'mean', 'std', 'max', 'zero_frac', 'active_frac', 'dead', 'topk_overlap'] }),
      );
    }),
    guarded(selP, 'class selectivity', async () => {
      const a = await named('class_selectivity', { layer, channel, step, dataset: ctx.dataset, model: ctx.model });
      const row = a.rows[0];
      if (!row) return panel('Class selectivity', { testid: 'selectivity', sql: a.sql }, note('No labelled samples for this unit.'));
      const labels = (row.labels as unknown[]).map(Number);
      const means = (row.class_means as unknown[]).map(Number);
      return panel(
        'Class selectivity',
        { testid: 'selectivity', sql: a.sql },
        h('p', {}, 'Selectivity index ', h('strong', { 'data-testid': 'selectivity-index', 'data-value': String(row.selectivity ?? '') }, row.selectivity === null ? 'n/a' : Number(Number(row.selectivity).toPrecision(4)).toString()), ` (step ${row.step}); top class ${row.top_class}. Mean activation per class:`),
        bars(
          labels.map((l, i) => ({ label: `class ${l}`, value: means[i]!, highlight: l === Number(row.top_class) })),
          { testid: 'selectivity-bars' },
        ),
      );
    }),
  ]);
}
