/** Overview: runs, checkpoints, accuracy per checkpoint, dead units and zero fraction per layer over training. */
import { named, sql, lit, type Row } from '../api.js';
import { lineChart, type Series } from '../charts.js';
import { guarded, h, note, panel, table, num } from '../dom.js';
import { context, contextWhere, href } from '../state.js';

/** Series per key over the sorted union of x values. */
export function pivot(rows: Row[], key: (r: Row) => string, x: string, y: string): { xs: number[]; series: Series[] } {
  const xs = [...new Set(rows.map((r) => Number(r[x])))].sort((a, b) => a - b);
  const at = new Map(xs.map((v, i) => [v, i]));
  const by = new Map<string, (number | null)[]>();
  for (const r of rows) {
    const k = key(r);
    let v = by.get(k);
    if (!v) by.set(k, (v = xs.map(() => null)));
    v[at.get(Number(r[x]))!] = num(r[y]);
  }
  return { xs, series: [...by].map(([label, values]) => ({ label, values })) };
}

export async function overviewView(root: HTMLElement): Promise<void> {
  const ctx = context();
  const runsP = h('div');
  const ckP = h('div');
  const accP = h('div');
  const sparsP = h('div');
  root.append(h('h1', {}, 'Overview'));
  const status = h('div');
  root.append(status);
  root.append(h('div', { class: 'grid' }, runsP, ckP, accP), sparsP);

  const runsSql = 'SELECT run_id, status, started_at, finished_at, backend FROM runs ORDER BY started_at DESC NULLS LAST';
  const ckSql = `SELECT dataset, model, step, count(DISTINCT layer) AS layers, count(*) AS units, count(*) FILTER (WHERE dead) AS dead
FROM neuron_stats WHERE true${contextWhere(lit)}
GROUP BY ALL ORDER BY dataset, model, step`;

  let runs: Row[] = [];
  let checkpoints: Row[] = [];
  await Promise.all([
    guarded(runsP, 'runs', async () => {
      const a = await sql(runsSql);
      runs = a.rows;
      return panel('Runs', { testid: 'runs', sql: a.sql }, table(a.rows, { testid: 'runs-table' }));
    }),
    guarded(ckP, 'checkpoints', async () => {
      const a = await sql(ckSql);
      checkpoints = a.rows;
      const t = table(a.rows, { testid: 'checkpoints-table' });
      // Narrow the whole dashboard to one dataset / model when the store holds several.
      const pairs = [...new Set(a.rows.map((r) => `${r.dataset}\u0000${r.model}`))];
      const pick =
        pairs.length > 1
          ? h(
              'p',
              {},
              'Show only: ',
              ...pairs.map((p) => {
                const [dataset, model] = p.split('\u0000');
                return h('a', { href: href('overview', [], { dataset, model }), class: 'chip' }, `${dataset} / ${model}`);
              }),
            )
          : null;
      return panel('Checkpoints', { testid: 'checkpoints', sql: a.sql }, pick, t);
    }),
    guarded(accP, 'accuracy', async () => {
      const a = await named('accuracy_over_training', { dataset: ctx.dataset, model: ctx.model });
      if (a.rows.length === 0) return panel('Accuracy and loss per checkpoint', { testid: 'accuracy', sql: a.sql }, note('No predictions with labels in this store.'));
      const key = (r: Row) => `${r.model} · ${r.dataset}/${r.split}`;
      const acc = pivot(a.rows, key, 'step', 'accuracy');
      const withLoss = a.rows.filter((r) => r.loss !== null && r.loss !== undefined);
      const loss = pivot(withLoss, key, 'step', 'loss');
      return panel(
        'Accuracy and loss per checkpoint',
        { testid: 'accuracy', sql: a.sql },
        h(
          'div',
          { class: 'grid' },
          h('figure', {}, h('figcaption', {}, 'Top-1 accuracy'), lineChart(acc.xs, acc.series, { testid: 'accuracy-chart', yLabel: 'top-1 accuracy' })),
          withLoss.length
            ? h('figure', {}, h('figcaption', {}, 'Cross-entropy loss, mean of −ln p(label)'), lineChart(loss.xs, loss.series, { testid: 'loss-chart', yLabel: 'loss' }))
            : note('No loss: this store was written before the probability of the true label was recorded (run the pipeline again to get it).', 'no-loss'),
        ),
        table(a.rows, { testid: 'accuracy-table' }),
      );
    }),
    guarded(sparsP, 'sparsity over training', async () => {
      const a = await named('sparsity_over_training', { dataset: ctx.dataset, model: ctx.model });
      if (a.rows.length === 0) return panel('Dead units and zero fraction per layer', { testid: 'sparsity', sql: a.sql }, note('No neuron statistics yet.'));
      const dead = pivot(a.rows, (r) => String(r.layer), 'step', 'dead_frac');
      const zero = pivot(a.rows, (r) => String(r.layer), 'step', 'zero_frac');
      const layers = [...new Set(a.rows.map((r) => String(r.layer)))];
      return panel(
        'Dead units and zero fraction per layer over training',
        { testid: 'sparsity', sql: a.sql },
        h(
          'p',
          { class: 'layers' },
          'Layers: ',
          ...layers.map((l) => h('a', { href: href('layer', [l]), class: 'chip', 'data-layer': l }, l)),
        ),
        h(
          'div',
          { class: 'grid' },
          h('figure', {}, h('figcaption', {}, 'Share of dead units (max ≤ eps)'), lineChart(dead.xs, dead.series, { testid: 'dead-chart', yLabel: 'dead / units' })),
          h('figure', {}, h('figcaption', {}, 'Zero fraction of activations'), lineChart(zero.xs, zero.series, { testid: 'zero-chart', yLabel: 'zero fraction' })),
        ),
        table(a.rows, { testid: 'sparsity-table', columns: ['layer', 'step', 'units', 'dead', 'dead_frac', 'zero_frac', 'mean', 'max'] }),
      );
    }),
  ]);
  if (runs.length === 0 && checkpoints.length === 0 && !root.querySelector('[data-testid=error]')) {
    status.append(
      h(
        'div',
        { class: 'empty-store', role: 'status', 'data-testid': 'empty-store' },
        h('strong', {}, 'This store is empty. '),
        'No run has written statistics to it yet. Run a pipeline into it (',
        h('code', {}, 'neurolens run pipelines/<spec>.yaml'),
        '); the server picks up new commits by itself, so reload this page when the run has committed its first shard.',
      ),
    );
  }
}
