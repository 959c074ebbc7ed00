/**
 * The units of a Layer view: their statistics, one sort order and one filter (dead / alive,
 * zero-fraction range, minimum class selectivity) kept in the address, the filter form with its
 * "X of Y units" count and the filter as SQL.
 */
import { lit } from '../api.js';
import { h, num } from '../dom.js';
import { context, contextWhere, patchParams, type Route } from '../state.js';

export interface Unit {
  channel: number;
  dead: boolean;
  zero_frac: number | null;
  max: number | null;
  mean: number | null;
  active_frac: number | null;
  selectivity: number | null;
  top_class: number | null;
}

export const COLUMNS: { key: keyof Unit; title: string }[] = [
  { key: 'channel', title: 'unit' },
  { key: 'dead', title: 'dead' },
  { key: 'zero_frac', title: 'zero fraction' },
  { key: 'max', title: 'max' },
  { key: 'mean', title: 'mean' },
  { key: 'active_frac', title: 'active fraction' },
  { key: 'selectivity', title: 'class selectivity' },
  { key: 'top_class', title: 'top class' },
];

export function compare(key: keyof Unit, desc: boolean): (a: Unit, b: Unit) => number {
  const s = desc ? -1 : 1;
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    // Missing values last whatever the direction; ties by unit.
    if (x === null && y === null) return a.channel - b.channel;
    if (x === null) return 1;
    if (y === null) return -1;
    const d = Number(x) - Number(y);
    return d !== 0 ? s * d : a.channel - b.channel;
  };
}

// --- filters (address parameters dead, zmin, zmax, selmin) ---

export type DeadFilter = 'all' | 'dead' | 'alive';

export interface Filter {
  dead: DeadFilter;
  /** Zero fraction range, inclusive (null: open). */
  zmin: number | null;
  zmax: number | null;
  /** Class selectivity at least this (null: any). */
  selmin: number | null;
}

function readFilter(p: URLSearchParams): Filter {
  const dead = p.get('dead');
  return { dead: dead === 'dead' || dead === 'alive' ? dead : 'all', zmin: num(p.get('zmin')), zmax: num(p.get('zmax')), selmin: num(p.get('selmin')) };
}

/** As the SQL predicate would: a unit without the value fails a bound on it (NULL >= x is not true). */
export function keeps(f: Filter): (u: Unit) => boolean {
  return (u) =>
    (f.dead === 'all' || u.dead === (f.dead === 'dead')) &&
    (f.zmin === null || (u.zero_frac !== null && u.zero_frac >= f.zmin)) &&
    (f.zmax === null || (u.zero_frac !== null && u.zero_frac <= f.zmax)) &&
    (f.selmin === null || (u.selectivity !== null && u.selectivity >= f.selmin));
}

/**
 * The units with the sort order and filter the tiles and the table share; both redraw when
 * either changes. The state is mirrored into the address in place (no view reload).
 */
export class UnitList {
  sortKey: keyof Unit;
  desc: boolean;
  filter: Filter;
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly units: Unit[],
    r: Route,
  ) {
    this.sortKey = (COLUMNS.find((c) => c.key === r.params.get('sort'))?.key ?? 'channel') as keyof Unit;
    this.desc = r.params.get('desc') === '1';
    this.filter = readFilter(r.params);
  }

  shown(): Unit[] {
    return this.units.filter(keeps(this.filter)).sort(compare(this.sortKey, this.desc));
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  sortBy(key: keyof Unit): void {
    this.desc = key === this.sortKey ? !this.desc : key !== 'channel';
    this.sortKey = key;
    patchParams({ sort: key === 'channel' ? null : key, desc: this.desc ? 1 : null });
    this.changed();
  }

  setFilter(f: Filter): void {
    this.filter = f;
    patchParams({ dead: f.dead === 'all' ? null : f.dead, zmin: f.zmin, zmax: f.zmax, selmin: f.selmin });
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

function numberField(id: string, label: string, value: number | null, attrs: Record<string, string | number>): HTMLInputElement {
  return h('input', { type: 'number', id, name: id, step: 'any', value: value ?? undefined, 'aria-label': label, 'data-testid': id, ...attrs });
}

/** The filter as SQL over the store (class selectivity is a named query, so it is named, not inlined). */
function filterSql(layer: string, step: number, f: Filter): string {
  const ctx = context();
  const conds = [`layer = ${lit(layer)}${contextWhere(lit)}`, `step = ${step}`];
  if (f.dead !== 'all') conds.push(f.dead === 'dead' ? 'dead' : 'NOT dead');
  if (f.zmin !== null) conds.push(`zero_frac >= ${f.zmin}`);
  if (f.zmax !== null) conds.push(`zero_frac <= ${f.zmax}`);
  const sel =
    f.selmin === null
      ? []
      : [`-- and selectivity >= ${f.selmin} in: neurolens query class_selectivity --param layer=${layer} --param step=${step}${ctx.dataset ? ` --param dataset=${ctx.dataset}` : ''}${ctx.model ? ` --param model=${ctx.model}` : ''}`];
  return [`SELECT channel FROM neuron_stats WHERE ${conds.join(' AND ')} ORDER BY channel`, ...sel].join('\n');
}

/** The filter form, the "X of Y units" count and the filter as SQL. */
export function filterBar(layer: string, step: number, list: UnitList): HTMLElement {
  const f = list.filter;
  const dead = h(
    'select',
    { id: 'filter-dead', 'data-testid': 'filter-dead', 'aria-label': 'dead units' },
    ...(['all', 'dead', 'alive'] as const).map((v) => h('option', { value: v, selected: f.dead === v }, { all: 'all units', dead: 'dead only', alive: 'alive only' }[v])),
  );
  const zmin = numberField('filter-zmin', 'zero fraction at least', f.zmin, { min: 0, max: 1, placeholder: '0' });
  const zmax = numberField('filter-zmax', 'zero fraction at most', f.zmax, { min: 0, max: 1, placeholder: '1' });
  const selmin = numberField('filter-selmin', 'class selectivity at least', f.selmin, { placeholder: 'any' });
  const count = h('output', { 'data-testid': 'units-count', 'aria-live': 'polite' });
  const query = h('pre', { 'data-testid': 'sql' });
  const showCount = () => {
    query.textContent = filterSql(layer, step, list.filter);
    const n = list.shown().length;
    count.dataset.value = String(n);
    count.dataset.total = String(list.units.length);
    count.textContent = `${n} of ${list.units.length} units`;
  };
  const apply = () => list.setFilter({ dead: dead.value as DeadFilter, zmin: num(zmin.value), zmax: num(zmax.value), selmin: num(selmin.value) });
  dead.addEventListener('change', apply);
  for (const i of [zmin, zmax, selmin]) i.addEventListener('input', apply);
  const clear = h('button', {
    type: 'button',
    'data-testid': 'filter-clear',
    onclick: () => {
      dead.value = 'all';
      zmin.value = zmax.value = selmin.value = '';
      apply();
    },
  }, 'Clear');
  list.onChange(showCount);
  showCount();
  const field = (label: string, id: string, input: HTMLElement) => h('label', { class: 'filter', for: id }, label, input);
  return h(
    'div',
    {},
    h(
      'form',
      { class: 'unit-filters', 'data-testid': 'unit-filters', onsubmit: (e: Event) => e.preventDefault() },
      field('Show ', 'filter-dead', dead),
      field('zero fraction ≥ ', 'filter-zmin', zmin),
      field('and ≤ ', 'filter-zmax', zmax),
      field('class selectivity ≥ ', 'filter-selmin', selmin),
      clear,
      count,
    ),
    h('details', { class: 'sql' }, h('summary', {}, 'SQL'), query),
  );
}

// --- tiles: sprite sheets from GET /api/layers/:layer/tiles.png ---
