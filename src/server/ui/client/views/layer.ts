/**
 * Layer view: every unit of a layer at one checkpoint as a tile (the receptive-field crop of its
 * top-1 sample, cut from sprite sheets of 128 units fetched as they scroll into view) and as a
 * row (dead, zero fraction, max, mean, active fraction, class selectivity); one sort order and
 * one filter (dead / alive, zero-fraction range, minimum class selectivity) for both, kept in the
 * address so a view can be shared. Keyboard: arrows move through tiles and rows, Enter opens the
 * unit. And a unit x step heat map of the zero fraction.
 */
import { call, lit, named, queryString, sql, type Row } from '../api.js';
import { heatMap } from '../charts.js';
import { cell, errorBox, guarded, h, note, num, panel, sqlBlock } from '../dom.js';
import { context, contextWhere, href, parseHash, patchParams, type Route } from '../state.js';
// Type only (erased from the bundle): the layout header the server's tiles route writes.
import type { TilesLayout } from '../../../tiles.js';

interface Unit {
  channel: number;
  dead: boolean;
  zero_frac: number | null;
  max: number | null;
  mean: number | null;
  active_frac: number | null;
  selectivity: number | null;
  top_class: number | null;
}

const COLUMNS: { key: keyof Unit; title: string }[] = [
  { key: 'channel', title: 'unit' },
  { key: 'dead', title: 'dead' },
  { key: 'zero_frac', title: 'zero fraction' },
  { key: 'max', title: 'max' },
  { key: 'mean', title: 'mean' },
  { key: 'active_frac', title: 'active fraction' },
  { key: 'selectivity', title: 'class selectivity' },
  { key: 'top_class', title: 'top class' },
];

function compare(key: keyof Unit, desc: boolean): (a: Unit, b: Unit) => number {
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

type DeadFilter = 'all' | 'dead' | 'alive';

interface Filter {
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
function keeps(f: Filter): (u: Unit) => boolean {
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
class UnitList {
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
function filterBar(layer: string, step: number, list: UnitList): HTMLElement {
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

/** Units per sprite request (the server allows 256; 128 keeps the first screen to one request). */
const PAGE = 128;
const TILE = 64;

interface Sprite {
  bitmap: ImageBitmap;
  layout: TilesLayout;
}

/** Sprite sheets by page (units [p * PAGE, (p + 1) * PAGE)), each fetched once, on demand. */
class SpriteBook {
  private readonly pages = new Map<number, Promise<Sprite>>();
  /** The GET paths asked so far (shown under the panel). */
  readonly paths: string[] = [];

  constructor(
    private readonly layer: string,
    private readonly step: number,
    private readonly units: number,
    private readonly onFetch: () => void,
  ) {}

  path(page: number): string {
    const ctx = context();
    const from = page * PAGE;
    const to = Math.min(from + PAGE, this.units) - 1;
    return `api/layers/${encodeURIComponent(this.layer)}/tiles.png${queryString({ step: this.step, dataset: ctx.dataset, model: ctx.model, tile: TILE, from, to })}`;
  }

  page(p: number): Promise<Sprite> {
    let s = this.pages.get(p);
    if (!s) {
      const path = this.path(p);
      this.paths.push(path);
      this.onFetch();
      s = call(path).then(async (r) => {
        const layout = JSON.parse(r.headers.get('X-Neurolens-Tiles') ?? 'null') as TilesLayout | null;
        if (!layout) throw new Error(`GET /${path}: no X-Neurolens-Tiles header`);
        return { layout, bitmap: await createImageBitmap(await r.blob()) };
      });
      this.pages.set(p, s);
    }
    return s;
  }
}

function tileElement(layer: string, step: number, u: Unit): HTMLAnchorElement {
  return h(
    'a',
    {
      class: u.dead ? 'tile dead' : 'tile',
      href: href('unit', [layer, u.channel], { step }),
      tabindex: -1,
      'data-channel': u.channel,
      'data-dead': String(u.dead),
      'aria-label': `unit ${u.channel}${u.dead ? ', dead' : ''}: open with Enter`,
    },
    h('canvas', { width: TILE, height: TILE }),
    h('span', { class: 'tile-label' }, String(u.channel), u.dead ? h('span', { class: 'dead-mark', title: 'dead: never above eps' }, 'dead') : null),
  );
}

/** Cuts unit `el`'s square out of its page's sprite. */
function drawTile(el: HTMLElement, s: Sprite): void {
  const ch = Number(el.dataset.channel);
  const i = ch - s.layout.from;
  const u = s.layout.units[i];
  if (!u || u.channel !== ch) throw new Error(`tiles of units ${s.layout.from}..${s.layout.to} do not hold unit ${ch}`);
  const t = s.layout.tile;
  const canvas = el.querySelector('canvas')!;
  canvas.getContext('2d')!.drawImage(s.bitmap, (i % s.layout.columns) * t, Math.floor(i / s.layout.columns) * t, t, t, 0, 0, canvas.width, canvas.height);
  el.dataset.sample = u.sample_id === null ? '' : String(u.sample_id);
  el.dataset.drawn = 'true';
}

/** Arrow keys through the tiles (a roving tabindex: the grid is one Tab stop); Enter follows the link. */
function tileKeys(grid: HTMLElement): void {
  grid.addEventListener('keydown', (e) => {
    const tile = (e.target as HTMLElement).closest<HTMLElement>('.tile');
    if (!tile) return;
    const tiles = [...grid.querySelectorAll<HTMLElement>('.tile')];
    const i = tiles.indexOf(tile);
    // Tiles per row from the layout itself (the grid wraps to the panel's width): the first tile lower down.
    const wrap = tiles.findIndex((t) => t.offsetTop !== tiles[0]!.offsetTop);
    const perRow = wrap < 0 ? tiles.length : wrap;
    const move: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow, Home: -i, End: tiles.length - 1 - i };
    const d = move[e.key];
    if (d === undefined) return;
    e.preventDefault();
    const next = tiles[Math.min(tiles.length - 1, Math.max(0, i + d))]!;
    tile.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
}

function tilesPanel(layer: string, step: number, list: UnitList): HTMLElement {
  const ctx = context();
  const grid = h('div', { class: 'tiles', 'data-testid': 'tiles-grid', role: 'group', 'aria-label': 'units as tiles' });
  const scroll = h('div', { class: 'tiles-scroll' }, grid);
  const empty = note('No unit matches the filters.', 'tiles-empty');
  const problem = h('div');
  const paths = h('pre', { 'data-testid': 'sql' });
  const book = new SpriteBook(layer, step, list.units.length, () => {
    paths.textContent = [
      ...book.paths.map((p) => `-- GET /${p}`),
      `-- each tile: the top-1 sample's receptive-field crop; the same rows as`,
      `-- neurolens query top_k_activators --param layer=${layer} --param step=${step} --param k=1 --param exact=false${ctx.dataset ? ` --param dataset=${ctx.dataset}` : ''}${ctx.model ? ` --param model=${ctx.model}` : ''}`,
    ].join('\n');
  });
  const els = new Map(list.units.map((u) => [u.channel, tileElement(layer, step, u)]));
  const observer = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        const el = e.target as HTMLElement;
        observer.unobserve(el);
        book
          .page(Math.floor(Number(el.dataset.channel) / PAGE))
          .then((s) => drawTile(el, s))
          .catch((err: Error) => {
            el.dataset.error = err.message;
            problem.replaceChildren(errorBox(err, 'tiles'));
          });
      }
    },
    // Sprites of the next rows are fetched a little before they scroll in.
    { root: scroll, rootMargin: `${2 * TILE}px 0px` },
  );
  for (const el of els.values()) observer.observe(el);
  // The observer holds every tile: let go of them when another view replaces this one.
  window.addEventListener('hashchange', () => observer.disconnect(), { once: true });
  const draw = () => {
    const shown = list.shown();
    const focused = grid.contains(document.activeElement);
    grid.replaceChildren(...shown.map((u) => els.get(u.channel)!));
    for (const el of els.values()) el.tabIndex = -1;
    const first = els.get(shown[0]?.channel ?? -1);
    if (first) first.tabIndex = 0;
    if (focused) first?.focus();
    empty.hidden = shown.length > 0;
  };
  list.onChange(draw);
  draw();
  tileKeys(grid);
  const dead = list.units.filter((u) => u.dead).length;
  return panel(
    `Units as tiles at step ${step}`,
    { testid: 'tiles' },
    note(`Each unit's top-1 activating sample, cropped to the unit's receptive field${dead ? `; grey: dead (${dead}) or never above 0` : ''}. Ordered like the table. Tab to the tiles, arrows to move, Enter to open the unit.`),
    problem,
    scroll,
    empty,
    h('details', { class: 'sql' }, h('summary', {}, 'HTTP'), paths),
  );
}

// --- table ---

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
          describe: (ri, c) => `unit ${channels[ri]}, step ${ss[c]}: zero fraction ${Number.isNaN(v[ri * ss.length + c]!) ? 'n/a' : v[ri * ss.length + c]!.toPrecision(4)}`,
        }),
      );
    }),
  ]);
}
