/**
 * Unit view: top-k mosaic, statistics over training, class selectivity, activation maximization
 * and the attribution of a chosen top-k sample (pictures.ts); each panel with its SQL or HTTP path.
 */
import { ApiError, blobUrl, classNamer, named, queryString } from '../api.js';
import { bars, lineChart } from '../charts.js';
import { errorBox, fmt, guarded, h, note, num, panel, table } from '../dom.js';
import { context, href, type Route } from '../state.js';
import { topClipsPanel, unitSeesClips } from './clips.js';
import { pivot } from './overview.js';
import { ExplainPanel, actmaxPanel } from './pictures.js';

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
  const actmaxP = h('div');
  const explainP = h('div');
  root.append(h('div', { class: 'grid' }, mosaicP, selP), h('div', { class: 'grid' }, actmaxP, explainP), profileP);
  // A unit of a video model: its top-k clips as strips and its top videos (clips.ts); nothing for images.
  const clipsP = h('div');
  mosaicP.parentElement!.after(clipsP);
  const k = 16;
  // How tiles show the argmax: its receptive field outlined (default), cropped, or the output-grid cell.
  const crop = r.params.get('crop') ?? 'box';
  // One top-k answer for the mosaic's table and the attribution panel (which resolves `explain=` in it).
  const topk = named('top_k_activators', { layer, channel, step, k, dataset: ctx.dataset, model: ctx.model });
  const explain = new ExplainPanel(layer, channel, { step, ...ctx }, r.params);
  const clips = unitSeesClips(layer, { step, ...ctx });
  // Pictures of clip units are drawn by the CLI (3-D inputs, per-stream regularizers), not the server.
  const clipNote = (what: string, cmd: string, testid: string) =>
    panel(what, { testid }, note(`A unit of a video model: draw it with \`${cmd}\`.`, `${testid}-video`));
  await Promise.all([
    guarded(clipsP, 'top clips', () => topClipsPanel(layer, channel, { step, ...ctx }, clips)),
    guarded(mosaicP, 'mosaic', async () => {
      const mosaicPath = (c: string) => `api/neurons/${encodeURIComponent(layer)}/${channel}/mosaic.png${queryString({ step, k, dataset: ctx.dataset, model: ctx.model, crop: c })}`;
      let path = mosaicPath(crop);
      let fallback: HTMLElement | null = null;
      let url: string;
      try {
        url = await blobUrl(path);
      } catch (e) {
        // A layer whose receptive field cannot be computed (422) still has its whole images with the argmax cell.
        if (!(e instanceof ApiError) || e.status !== 422 || crop === 'cell') throw e;
        fallback = note(`No receptive field for this layer (${e.message}); the argmax cell of the output grid is outlined instead.`, 'mosaic-fallback');
        path = mosaicPath('cell');
        url = await blobUrl(path);
      }
      const img = h('img', { src: url, alt: `top-${k} activators of ${layer}:${channel}`, 'data-testid': 'mosaic-img', class: 'mosaic' });
      await img.decode().catch(() => undefined);
      const q = await topk;
      const rows = table(q.rows, { testid: 'topk-table', columns: ['rank', 'sample_id', 'label', 'value', 'argmax_y', 'argmax_x'] });
      explain.addControls(rows, q.rows);
      const select = h(
        'select',
        { id: 'mosaic-crop', 'data-testid': 'mosaic-crop', onchange: (e: Event) => (location.hash = href('unit', [layer, channel], { ...Object.fromEntries(r.params), crop: (e.target as HTMLSelectElement).value })) },
        ...(
          [
            ['box', 'receptive field outlined'],
            ['rf', 'receptive field cropped'],
            ['cell', 'argmax cell of the output grid'],
          ] as const
        ).map(([v, t]) => h('option', { value: v, selected: v === crop }, t)),
      );
      return panel(`Top-${k} activators`, { testid: 'mosaic', sql: `-- GET /${path}\n${q.sql}` }, h('label', { class: 'picture-control' }, 'show ', select), fallback, img, rows);
    }),
    guarded(actmaxP, 'activation maximization', async () =>
      (await clips) ? clipNote('Activation maximization', `neurolens render actmax-clip --store STORE --layer ${layer} --channel ${channel} --out actmax.png`, 'actmax') : actmaxPanel(layer, channel, { step, ...ctx }),
    ),
    guarded(explainP, 'attribution', async () =>
      (await clips) ? clipNote('Attribution', `neurolens render clip-attribution gradcam --store STORE --sample ID --neuron ${layer}:${channel} --out clip.gif`, 'attribution') : explain.load(topk),
    ),
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
      const classText = await classNamer(ctx.dataset);
      const labels = (row.labels as unknown[]).map(Number);
      const means = (row.class_means as unknown[]).map(Number);
      return panel(
        'Class selectivity',
        { testid: 'selectivity', sql: a.sql },
        h('p', {}, 'Selectivity index ', h('strong', { 'data-testid': 'selectivity-index', 'data-value': String(row.selectivity ?? '') }, row.selectivity === null ? 'n/a' : fmt(num(row.selectivity))), ` (step ${row.step}); top class ${classText(row.top_class)}. Mean activation per class:`),
        bars(
          labels.map((l, i) => ({ label: classText(l), value: means[i]!, highlight: l === Number(row.top_class) })),
          { testid: 'selectivity-bars' },
        ),
      );
    }),
  ]);
}
