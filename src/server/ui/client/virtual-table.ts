/**
 * A result table for answers of any size up to the server's row limit: virtual scrolling (only
 * the rows in view plus a margin are in the DOM, between two spacer rows that keep the full
 * height, at a fixed row height), a sticky header, column widths fixed from a sample of the
 * values so they do not jump while scrolling, client-side sort by a header click (numbers
 * numerically, nulls last either way, ties in the server's order) and keyboard navigation on the
 * focusable body. Small answers (<= FULL_DOM_ROWS) are drawn whole, as dom.ts `table` draws them,
 * so every row stays in the DOM for tests and Ctrl+F.
 *
 * dom.ts `table` stays the plain table of every other view; this one is for the SQL console.
 */
import type { Row } from './api.js';
import { cell, fmt, h } from './dom.js';

/** Columnar access to a result, so the table does not care how it was transported. */
export interface ResultData {
  columns: string[];
  rowCount: number;
  value(row: number, col: number): unknown;
}

export interface SortState {
  column: string;
  desc: boolean;
}

export interface VirtualTableOptions {
  testid?: string;
  /** Initial sort (from the address); ignored when the column is not in the result. */
  sort?: SortState | null;
  /** Called after each header click, e.g. to keep the sort in the address. */
  onSort?: (s: SortState) => void;
}

/** Up to this many rows every row is in the DOM; above it only the window around the view. */
const FULL_DOM_ROWS = 1000;
/** Rows drawn above and below the visible ones, so a fast scroll does not show blank space. */
const MARGIN = 30;
/** Row height in px before one is measured (the stylesheet fixes it: .vtable tbody tr). */
const DEFAULT_ROW_PX = 26;
/** Column widths in characters: from the header and a sample of values, clamped. */
const MIN_CH = 4;
const MAX_CH = 40;
const WIDTH_SAMPLE = 2000;
/**
 * Rows reachable by scrolling: browsers cap an element's height (Firefox ~17.9 million px,
 * Chrome ~33.5 million), and the spacer rows hold the full height at 26 px a row. Past this the
 * table scrolls through the first rows of the current order and says so.
 */
const MAX_SCROLL_ROWS = 500_000;

export function rowsData(rows: Row[], columns = rows[0] ? Object.keys(rows[0]) : []): ResultData {
  return { columns, rowCount: rows.length, value: (r, c) => rows[r]![columns[c]!] };
}

/** Widths in `ch` from the header and up to WIDTH_SAMPLE rows spread over the result. */
function columnWidths(data: ResultData): number[] {
  const step = Math.max(1, Math.floor(data.rowCount / WIDTH_SAMPLE));
  return data.columns.map((name, c) => {
    let w = name.length + 2; // room for the sort arrow
    for (let r = 0; r < data.rowCount; r += step) w = Math.max(w, fmt(data.value(r, c)).length);
    return Math.min(MAX_CH, Math.max(MIN_CH, w));
  });
}

type SortKeys = { numeric: true; keys: Float64Array } | { numeric: false; keys: (string | null)[] };

/**
 * Sort keys of a column: numbers (bigint and boolean too) when every non-null value is one, NaN
 * standing for NULL; else text (nested values as JSON), null for NULL.
 */
function sortKeys(data: ResultData, c: number): SortKeys {
  const raw = Array.from({ length: data.rowCount }, (_, r) => data.value(r, c));
  const isNum = (v: unknown) => v === null || v === undefined || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean';
  if (raw.every(isNum)) return { numeric: true, keys: Float64Array.from(raw, (v) => (v === null || v === undefined ? NaN : Number(v))) };
  return { numeric: false, keys: raw.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v))) };
}

/**
 * Row order for a sort: NULLs last whatever the direction, ties (and NULLs) in their order in the
 * answer. Text compares by UTF-16 code unit, as DuckDB's default binary collation orders ASCII, so
 * the order equals the SQL's ORDER BY ... NULLS LAST. NULLs are set apart first so the comparator
 * is a plain subtraction (200 000 rows sort in a few hundred ms).
 */
function sortOrder(data: ResultData, s: SortState | null): Uint32Array {
  const all = Uint32Array.from({ length: data.rowCount }, (_, i) => i);
  const c = s ? data.columns.indexOf(s.column) : -1;
  if (!s || c < 0) return all;
  const sk = sortKeys(data, c);
  const sign = s.desc ? -1 : 1;
  let present: Uint32Array;
  let missing: Uint32Array;
  if (sk.numeric) {
    const k = sk.keys;
    present = all.filter((i) => !Number.isNaN(k[i]!)).sort((a, b) => (k[a]! - k[b]!) * sign || a - b);
    missing = all.filter((i) => Number.isNaN(k[i]!));
  } else {
    const k = sk.keys;
    present = all.filter((i) => k[i] !== null).sort((a, b) => (k[a]! < k[b]! ? -sign : k[a]! > k[b]! ? sign : a - b));
    missing = all.filter((i) => k[i] === null);
  }
  const out = new Uint32Array(all.length);
  out.set(present);
  out.set(missing, present.length);
  return out;
}

function headerCell(name: string, i: number, sort: SortState | null, onClick: (name: string) => void): HTMLElement {
  const on = sort?.column === name;
  return h(
    'th',
    { scope: 'col', 'aria-sort': on ? (sort!.desc ? 'descending' : 'ascending') : 'none', 'aria-colindex': i + 1 },
    h('button', { type: 'button', 'data-sort': name, title: `sort by ${name}`, onclick: () => onClick(name) }, name, on ? (sort!.desc ? ' ▼' : ' ▲') : ''),
  );
}

function bodyRow(data: ResultData, index: number, pos: number, widths: number[]): HTMLTableRowElement {
  const tr = h('tr', { 'data-row': pos, 'data-index': index, 'aria-rowindex': pos + 2 });
  data.columns.forEach((_, c) => {
    const v = data.value(index, c);
    const td = cell(v);
    // Text near or over the fixed column width may be clipped (widths are in `ch`, glyphs vary):
    // the whole text is in the tooltip.
    if ((td.textContent ?? '').length > widths[c]! * 0.8) td.title = td.textContent!;
    tr.append(td);
  });
  return tr;
}

function spacer(cols: number): { tr: HTMLTableRowElement; set(px: number): void } {
  const td = h('td', { colspan: cols });
  const tr = h('tr', { class: 'vt-pad', 'aria-hidden': 'true' }, td);
  return {
    tr,
    set: (px) => {
      tr.hidden = px <= 0;
      td.style.height = `${px}px`;
    },
  };
}

/** The table (in a scroll box) for `data`; see the module comment. */
export function virtualTable(data: ResultData, opts: VirtualTableOptions = {}): HTMLElement {
  const total = data.rowCount;
  const n = Math.min(total, MAX_SCROLL_ROWS);
  if (n === 0) return h('p', { class: 'empty', 'data-testid': opts.testid }, 'No rows.');
  const windowed = n > FULL_DOM_ROWS;
  const widths = columnWidths(data);
  let sort = opts.sort && data.columns.includes(opts.sort.column) ? opts.sort : null;
  let order = sortOrder(data, sort);
  let active = -1;
  let drawn = { start: -1, end: -1, order };
  let rowPx = DEFAULT_ROW_PX;

  const head = h('tr');
  const tbody = h('tbody', { tabindex: 0, 'aria-label': 'result rows: arrow keys, Page Up/Down, Home and End move the highlighted row' });
  const top = spacer(data.columns.length);
  const bottom = spacer(data.columns.length);
  const tableWidth = `calc(${widths.reduce((a, b) => a + b, 0)}ch + ${data.columns.length}rem)`;
  const table = h(
    'table',
    { class: 'vtable', 'data-testid': opts.testid, 'data-rows': total, 'data-windowed': windowed ? 'true' : 'false', 'aria-rowcount': total + 1, style: `width: ${tableWidth}` },
    h('colgroup', {}, ...widths.map((w) => h('col', { style: `width: calc(${w}ch + 1rem)` }))),
    h('thead', {}, head),
    tbody,
  );
  const box = h('div', { class: 'table-wrap vt-scroll', 'data-testid': opts.testid ? `${opts.testid}-scroll` : undefined }, table);
  const status = h('p', { class: 'note vt-status', 'data-testid': opts.testid ? `${opts.testid}-status` : undefined, 'aria-live': 'polite' });

  const headPx = () => head.getBoundingClientRect().height;
  const viewRows = () => Math.max(1, Math.floor((box.clientHeight - headPx()) / rowPx));
  const firstInView = () => Math.min(n - 1, Math.max(0, Math.floor(box.scrollTop / rowPx)));

  const describe = () => {
    const first = firstInView();
    const last = Math.min(n, first + viewRows());
    const reach = n < total ? ` (scrolling reaches the first ${n}: sort to bring others up, or download)` : '';
    status.textContent = `rows ${first + 1}–${last} of ${total}${reach}${active >= 0 ? ` · row ${active + 1} highlighted` : ''}${sort ? ` · sorted by ${sort.column}${sort.desc ? ' (descending)' : ''}` : ''}`;
    status.dataset.first = String(first);
    status.dataset.active = String(active);
  };

  const markActive = () => {
    for (const tr of tbody.querySelectorAll('tr.vt-active')) tr.classList.remove('vt-active');
    if (active >= 0) tbody.querySelector(`tr[data-row="${active}"]`)?.classList.add('vt-active');
  };

  const draw = () => {
    const start = windowed ? Math.max(0, firstInView() - MARGIN) : 0;
    const end = windowed ? Math.min(n, firstInView() + viewRows() + MARGIN) : n;
    if (start !== drawn.start || end !== drawn.end || order !== drawn.order) {
      const rows: HTMLTableRowElement[] = [];
      for (let pos = start; pos < end; pos++) rows.push(bodyRow(data, order[pos]!, pos, widths));
      top.set(start * rowPx);
      bottom.set((n - end) * rowPx);
      tbody.replaceChildren(...(windowed ? [top.tr, ...rows, bottom.tr] : rows));
      drawn = { start, end, order };
    }
    markActive();
    describe();
  };

  const drawHead = () => head.replaceChildren(...data.columns.map((name, i) => headerCell(name, i, sort, onSort)));
  const onSort = (name: string) => {
    sort = { column: name, desc: sort?.column === name ? !sort.desc : false };
    order = sortOrder(data, sort);
    // A new order starts at its top: the rows in view before mean nothing in it.
    active = -1;
    box.scrollTop = 0;
    drawHead();
    draw();
    opts.onSort?.(sort);
    (head.querySelector(`[data-sort="${CSS.escape(name)}"]`) as HTMLElement | null)?.focus();
  };

  /** Highlights row `pos` and scrolls just enough to show it below the sticky header. */
  const moveTo = (pos: number) => {
    active = Math.min(n - 1, Math.max(0, pos));
    const rowTop = active * rowPx;
    const bodyView = box.clientHeight - headPx();
    if (rowTop < box.scrollTop) box.scrollTop = rowTop;
    else if (rowTop + rowPx > box.scrollTop + bodyView) box.scrollTop = rowTop + rowPx - bodyView;
    draw();
  };

  tbody.addEventListener('keydown', (e) => {
    const page = viewRows();
    const cur = active < 0 ? firstInView() - 1 : active;
    const target: Record<string, number> = { ArrowDown: cur + 1, ArrowUp: cur - 1, PageDown: cur + page, PageUp: cur - page, Home: 0, End: n - 1 };
    if (!(e.key in target)) return;
    e.preventDefault();
    moveTo(target[e.key]!);
  });
  tbody.addEventListener('click', (e) => {
    const tr = (e.target as HTMLElement).closest('tr[data-row]') as HTMLElement | null;
    if (tr) moveTo(Number(tr.dataset.row));
  });

  let frame = 0;
  box.addEventListener('scroll', () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  });
  // Heights are known once the box is in the page (and change with the window): draw again then.
  // The row height is fixed by the stylesheet, but fonts can make it taller: measure, don't assume.
  const resize = new ResizeObserver(() => {
    if (!box.isConnected) return resize.disconnect();
    const px = tbody.querySelector('tr[data-row]')?.getBoundingClientRect().height ?? 0;
    if (px > 0 && Math.abs(px - rowPx) > 0.5) {
      rowPx = px;
      drawn = { start: -1, end: -1, order };
    }
    draw();
  });
  resize.observe(box);

  drawHead();
  draw();
  return h('div', { class: 'vt' }, box, status);
}
