/** Small DOM helpers: element builder, number format, tables, panels with their SQL. */
import type { Row } from './api.js';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | null | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v as EventListener);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Numbers: integers as they are, others to 4 significant digits; null as an empty cell. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function num(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** A cell whose raw value is kept in data-value (tests and copy-paste read it). */
export function cell(v: unknown, tag: 'td' | 'th' = 'td'): HTMLTableCellElement {
  const raw = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return h(tag, { 'data-value': raw, class: typeof v === 'number' ? 'num' : undefined }, fmt(v));
}

/** A plain result table of rows (columns: the keys of the first row, or `columns`). */
export function table(rows: Row[], opts: { columns?: string[]; testid?: string; caption?: string } = {}): HTMLElement {
  const columns = opts.columns ?? (rows[0] ? Object.keys(rows[0]) : []);
  if (rows.length === 0) return h('p', { class: 'empty', 'data-testid': opts.testid }, 'No rows.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': opts.testid },
      opts.caption ? h('caption', {}, opts.caption) : null,
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => cell(r[c]))))),
    ),
  );
}

/** A titled panel; the SQL behind it, when given, is shown under it. */
export function panel(title: string, opts: { testid?: string; sql?: string } = {}, ...children: Child[]): HTMLElement {
  const p = h('section', { class: 'panel', 'data-testid': opts.testid }, h('h2', {}, title), ...children);
  if (opts.sql) p.append(sqlBlock(opts.sql));
  return p;
}

export function sqlBlock(sql: string): HTMLElement {
  return h('details', { class: 'sql' }, h('summary', {}, 'SQL'), h('pre', { 'data-testid': 'sql' }, sql));
}

export function errorBox(e: unknown, what?: string): HTMLElement {
  const msg = e instanceof Error ? e.message : String(e);
  return h('div', { class: 'error', role: 'alert', 'data-testid': 'error' }, what ? `${what}: ${msg}` : msg);
}

/**
 * Frees the object URLs (blob:) of the <img> elements under `el`, which is being thrown away. An
 * img marked data-cached="1" shows a URL owned by a cache that outlives the view (thumbs.ts), which
 * revokes it itself on eviction: revoking it here would break the cache's later hits.
 */
export function revokeImages(el: Element): void {
  for (const img of el.querySelectorAll('img')) {
    if (img.src.startsWith('blob:') && img.dataset.cached !== '1') URL.revokeObjectURL(img.src);
  }
}

export function note(text: string, testid?: string): HTMLElement {
  return h('p', { class: 'note', 'data-testid': testid }, text);
}

/** Runs a panel's loader; a failure becomes a message inside the panel, not a broken page. */
export async function guarded(target: HTMLElement, what: string, load: () => Promise<Child | Child[]>): Promise<void> {
  try {
    const out = await load();
    target.replaceChildren();
    append(target, ...(Array.isArray(out) ? out : [out]));
  } catch (e) {
    target.replaceChildren(errorBox(e, what));
  }
}
