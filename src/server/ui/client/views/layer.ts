/**
 * Layer view: every unit of a layer at one checkpoint as a tile (the receptive-field crop of its
 * top-1 sample, cut from sprite sheets of 128 units fetched as they scroll into view) and as a
 * row (dead, zero fraction, max, mean, active fraction, class selectivity); one sort order and
 * one filter (dead / alive, zero-fraction range, minimum class selectivity) for both, kept in the
 * address so a view can be shared. Keyboard: arrows move through tiles and rows, Enter opens the
 * unit. And a unit x step heat map of the zero fraction.
 */
import { lit, named, sql, type Row } from '../api.js';
import { heatMap } from '../charts.js';
import { cell, errorBox, fmt, guarded, h, note, num, panel, sqlBlock } from '../dom.js';
import { context, contextWhere, href, parseHash, type Route } from '../state.js';
import { COLUMNS, UnitList, filterBar, type Unit } from './layer-units.js';
import { tilesPanel } from './layer-tiles.js';

function unitsTable(layer: string, step: number, list: UnitList): HTMLElement {
  const tbody = h('tbody');
  const head = h('tr');
  const open = (ch: number) => {
    location.hash = href('unit', [layer, ch], { step });
  };
  const draw = () => {
    const { sortKey, desc } = list;
    tbody.replaceChildren(
      ...list.shown().map((u) => {
        const tr = h('tr', { tabindex: 0, 'data-channel': u.channel, class: u.dead ? 'dead' : undefined, 'aria-label': `unit ${u.channel}, open with Enter` });
        for (const c of COLUMNS) tr.append(c.key === 'channel' ? h('td', { 'data-value': u.channel }, h('a', { href: href('unit', [layer, u.channel], { step }), tabindex: -1 }, String(u.channel))) : cell(u[c.key]));
        return tr;
      }),
    );
    head.replaceChildren(
      ...COLUMNS.map((c) =>
        h(
          'th',
          { scope: 'col', 'aria-sort': c.key === sortKey ? (desc ? 'descending' : 'ascending') : 'none' },
          h(
            'button',
            {
              type: 'button',
              'data-sort': c.key,
              onclick: () => {
                list.sortBy(c.key);
                (head.querySelector(`[data-sort=${c.key}]`) as HTMLElement | null)?.focus();
              },
            },
            c.title,
            c.key === sortKey ? (desc ? ' ▼' : ' ▲') : '',
          ),
        ),
      ),
    );
  };
  list.onChange(draw);
  draw();
  tbody.addEventListener('keydown', (e) => {
    const tr = (e.target as HTMLElement).closest('tr');
    if (!tr) return;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open(Number(tr.dataset.channel));
    } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      ((e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling) as HTMLElement | null)?.focus();
    }
  });
  tbody.addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr');
    if (tr && !(e.target as HTMLElement).closest('a')) open(Number(tr.dataset.channel));
  });
  return h('div', { class: 'table-wrap tall' }, h('table', { class: 'units', 'data-testid': 'units-table' }, h('thead', {}, head), tbody));
}

async function loadUnits(layer: string, step: number, where: string): Promise<{ units: Unit[]; sql: string; sel: Awaited<ReturnType<typeof named>> | Error }> {
  const ctx = context();
  const unitsSql = `SELECT channel, dead, zero_frac, max, mean, active_frac FROM neuron_stats WHERE ${where} AND step = ${step} ORDER BY channel`;
  const [stats, sel] = await Promise.all([sql(unitsSql), named('class_selectivity', { layer, step, dataset: ctx.dataset, model: ctx.model }).catch((e: Error) => e)]);
  const bySel = new Map<number, Row>(sel instanceof Error ? [] : sel.rows.map((x) => [Number(x.channel), x]));
  const units: Unit[] = stats.rows.map((x) => ({
    channel: Number(x.channel),
    dead: Boolean(x.dead),
    zero_frac: num(x.zero_frac),
    max: num(x.max),
    mean: num(x.mean),
    active_frac: num(x.active_frac),
    selectivity: num(bySel.get(Number(x.channel))?.selectivity),
    top_class: num(bySel.get(Number(x.channel))?.top_class),
  }));
  return { units, sql: unitsSql, sel };
}

export async function layerView(root: HTMLElement, r: Route): Promise<void> {
  const layer = r.args[0];
  if (!layer) {
    root.append(errorBox('no layer in the address; pick one on the overview'));
    return;
  }
  const ctx = context();
  const where = `layer = ${lit(layer)}${contextWhere(lit)}`;
  root.append(h('h1', {}, 'Layer ', h('code', {}, layer)));
  const stepsSql = `SELECT DISTINCT step FROM neuron_stats WHERE ${where} ORDER BY step`;
  const steps = (await sql(stepsSql)).rows.map((x) => Number(x.step));
  if (steps.length === 0) {
    root.append(errorBox(`no neuron statistics for layer ${layer}${ctx.model ? ` of model ${ctx.model}` : ''} in this store`));
    return;
  }
  const want = num(r.params.get('step'));
  const step = want !== null && steps.includes(want) ? want : steps[steps.length - 1]!;
  const select = h('select', { id: 'step', 'aria-label': 'checkpoint step' }, ...steps.map((s) => h('option', { value: s, selected: s === step }, String(s))));
  select.addEventListener('change', () => {
    // Sort and filters (in the address) carry over to the other checkpoint.
    location.hash = href('layer', [layer], { ...Object.fromEntries(parseHash().params), step: select.value });
  });
  root.append(h('p', {}, h('label', { for: 'step' }, 'Checkpoint step '), select, ' · ', h('a', { href: href('sql', [], { q: 'dead_filters', 'p.layer': layer, 'p.step': step }) }, 'dead filters in the SQL console')));

  const filtersP = h('div');
  const tilesP = h('div');
  const unitsP = h('div');
  const heatP = h('div');
  root.append(filtersP, tilesP, unitsP, heatP);
  const heatSql = `SELECT channel, step, zero_frac FROM neuron_stats WHERE ${where} ORDER BY channel, step`;
  const loaded = loadUnits(layer, step, where);
  const list = loaded.then((l) => new UnitList(l.units, r));
  await Promise.all([
    guarded(filtersP, 'filters', async () => panel('Filter units', { testid: 'filters' }, filterBar(layer, step, await list))),
    guarded(tilesP, 'tiles', async () => tilesPanel(layer, step, await list)),
    guarded(unitsP, 'units', async () => {
      const { units, sql: unitsSql, sel } = await loaded;
      const dead = units.filter((u) => u.dead).length;
      return panel(
        `Units at step ${step}`,
        { testid: 'units' },
        note(`${units.length} units, ${dead} dead. Sort by a column header; Tab to a row, arrows to move, Enter to open the unit.`),
        sel instanceof Error ? errorBox(sel, 'class selectivity') : null,
        unitsTable(layer, step, await list),
        sqlBlock(unitsSql),
        sel instanceof Error ? null : sqlBlock(sel.sql),
      );
    }),
    guarded(heatP, 'heat map', async () => {
      const a = await sql(heatSql);
      const channels = [...new Set(a.rows.map((x) => Number(x.channel)))].sort((p, q) => p - q);
      const ss = [...new Set(a.rows.map((x) => Number(x.step)))].sort((p, q) => p - q);
      const ci = new Map(channels.map((c, i) => [c, i]));
      const si = new Map(ss.map((s, i) => [s, i]));
      const v = new Float64Array(channels.length * ss.length).fill(NaN);
      // Several datasets / models in one store: the last row wins; narrow with ?dataset=&model=.
      for (const x of a.rows) v[ci.get(Number(x.channel))! * ss.length + si.get(Number(x.step))!] = num(x.zero_frac) ?? NaN;
      return panel(
        'Zero fraction per unit over training',
        { testid: 'heatmap', sql: a.sql },
        note(`rows: ${channels.length} units (${channels[0]} at the top), columns: steps ${ss.join(', ')}`),
        heatMap(v, channels.length, ss.length, {
          testid: 'heatmap-canvas',
          describe: (ri, c) => `unit ${channels[ri]}, step ${ss[c]}: zero fraction ${Number.isNaN(v[ri * ss.length + c]!) ? 'n/a' : fmt(v[ri * ss.length + c]!)}`,
        }),
      );
    }),
  ]);
}
