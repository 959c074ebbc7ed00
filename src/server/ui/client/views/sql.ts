/**
 * SQL console: the named queries as forms (from /api/queries), free read-only SQL (POST /api/sql),
 * a result table and downloads as CSV, Parquet, Arrow or JSON. The form's state and the table's
 * sort are in the hash.
 *
 * Results come as JSON and are shown by virtual-table.ts, which keeps only the rows in view in the
 * DOM, so an answer as long as the server's row limit (serve --row-limit) scrolls without freezing.
 * JSON rather than Arrow IPC (format=arrow): measured on 200 000 rows x 5 columns, Arrow is
 * faster to first rows (~0.53 s against ~0.76 s, most of it the server's) and half the memory
 * (9 MB against 17 MB), but the server's Arrow encoding (src/queries/arrow.ts) sends HUGEINT, the
 * type of every SUM of integers, as text (a sort would put '10' before '9'), timestamps as epoch
 * numbers and BIGINT as bigint, where the JSON API gives the numbers and ISO text every other view
 * shows. At the default row limit (100 000) JSON costs ~35 ms of parsing and ~8 MB.
 */
import { download, named, queryDefs, queryString, sql, type Answer, type QueryDef } from '../api.js';
import { errorBox, h, note, sqlBlock } from '../dom.js';
import { parseHash, patchParams, type Route } from '../state.js';
import { rowsData, virtualTable, type SortState } from '../virtual-table.js';

const DOWNLOADS = [
  ['csv', 'CSV', 'text/csv'],
  ['parquet', 'Parquet', 'application/vnd.apache.parquet'],
  ['arrow', 'Arrow', 'application/vnd.apache.arrow.stream'],
  ['json', 'JSON', 'application/json'],
] as const;

function downloads(run: (format: string) => Promise<void>): HTMLElement {
  return h(
    'p',
    { class: 'downloads', 'data-testid': 'downloads' },
    'Download: ',
    ...DOWNLOADS.map(([f, label]) => h('button', { type: 'button', 'data-format': f, onclick: () => void run(f).catch((e) => alert((e as Error).message)) }, label)),
  );
}

/** The sort of the address (`sort`, `desc=1`), as a shared link or a reload gives it. */
function sortFromHash(): SortState | null {
  const p = parseHash().params;
  const column = p.get('sort');
  return column ? { column, desc: p.get('desc') === '1' } : null;
}

/** Says plainly that the rows shown are not all of them, and where the rest is. */
function truncatedNote(rows: number): HTMLElement {
  return h(
    'p',
    { class: 'sql-truncated', role: 'status', 'data-testid': 'result-truncated', 'data-limit': rows },
    h('strong', {}, `Only the first ${rows} rows: `),
    `the server's row limit (neurolens serve --row-limit, now ${rows}) cut the result. `,
    'The downloads below hold more: up to the download row limit (neurolens serve --download-row-limit, default 1,000,000). ',
    'Beyond that, narrow the query (WHERE, GROUP BY, LIMIT … OFFSET …) or run it with ',
    h('code', {}, 'neurolens sql'),
    '.',
  );
}

function showResult(out: HTMLElement, a: Answer, dl: HTMLElement, sort: SortState | null): void {
  const n = a.rows.length;
  out.replaceChildren(
    h('p', { class: 'note', 'data-testid': 'result-count', 'data-value': n, 'data-truncated': a.truncated ? 'true' : 'false' }, `${n} row${n === 1 ? '' : 's'}${a.truncated ? ' (cut at the server row limit)' : ''}`),
    ...(a.truncated ? [truncatedNote(n)] : []),
    dl,
    virtualTable(rowsData(a.rows), {
      testid: 'result-table',
      sort,
      onSort: (s) => patchParams({ sort: s.column, desc: s.desc ? 1 : null }),
    }),
    sqlBlock(a.sql),
  );
}

function paramInput(def: QueryDef, p: QueryDef['params'][number], value: string | null): HTMLElement {
  const id = `p-${p.name}`;
  const input = h('input', {
    id,
    name: p.name,
    'data-param': p.name,
    required: p.required,
    placeholder: p.required ? 'required' : `default ${p.default ?? 'NULL'}`,
    inputmode: /INT|DOUBLE|FLOAT|DECIMAL/.test(p.type) ? 'decimal' : undefined,
  });
  if (value !== null) input.value = value;
  return h('div', { class: 'field' }, h('label', { for: id }, `${p.name} `, h('small', {}, p.type)), input, p.description ? h('small', { class: 'help' }, p.description) : null);
}

export async function sqlView(root: HTMLElement, r: Route): Promise<void> {
  root.append(h('h1', {}, 'SQL console'));
  const defs = await queryDefs();
  const namedOut = h('div', { 'data-testid': 'named-result', 'aria-live': 'polite' });
  const freeOut = h('div', { 'data-testid': 'free-result', 'aria-live': 'polite' });

  // Named queries.
  const current = defs.find((d) => d.name === r.params.get('q')) ?? defs[0];
  const select = h('select', { id: 'query', 'aria-label': 'named query' }, ...defs.map((d) => h('option', { value: d.name, selected: d === current }, d.name)));
  const fields = h('div', { class: 'fields' });
  const desc = h('p', { class: 'note' });
  const drawFields = (def: QueryDef, initial: URLSearchParams | null) => {
    desc.textContent = def.description;
    fields.replaceChildren(...def.params.map((p) => paramInput(def, p, initial?.get(`p.${p.name}`) ?? null)));
  };
  if (current) drawFields(current, r.params);
  const values = (): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const i of fields.querySelectorAll<HTMLInputElement>('input[data-param]')) if (i.value.trim() !== '') out[i.dataset.param!] = i.value.trim();
    return out;
  };
  // A run from a shared link keeps the link's sort; a new run starts unsorted.
  const runNamed = async (fromLink = false) => {
    const name = select.value;
    const v = values();
    const patch: Record<string, string | null> = {};
    for (const k of [...r.params.keys()]) if (k.startsWith('p.')) patch[k] = null;
    for (const [k, x] of Object.entries(v)) patch[`p.${k}`] = x;
    const sort = fromLink ? sortFromHash() : null;
    patchParams({ ...patch, q: name, sql: null, sort: sort?.column, desc: sort?.desc ? 1 : null });
    namedOut.replaceChildren(note('Running…'));
    try {
      const a = await named(name, v);
      showResult(namedOut, a, downloads((f) => download(`api/queries/${encodeURIComponent(name)}${queryString({ ...v, format: f })}`, {}, `${name}.${f === 'arrow' ? 'arrows' : f}`)), sort);
    } catch (e) {
      namedOut.replaceChildren(errorBox(e, `query ${name}`));
    }
  };
  select.addEventListener('change', () => {
    const def = defs.find((d) => d.name === select.value)!;
    drawFields(def, null);
    namedOut.replaceChildren();
  });
  const namedForm = h(
    'form',
    {
      'data-testid': 'named-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void runNamed();
      },
    },
    h('p', {}, h('label', { for: 'query' }, 'Query '), select),
    desc,
    fields,
    h('button', { type: 'submit' }, 'Run query'),
  );

  // Free SQL.
  const text = h('textarea', { id: 'free-sql', rows: 6, cols: 80, spellcheck: 'false', 'aria-label': 'SQL', placeholder: 'SELECT layer, step, count(*) FROM neuron_stats GROUP BY ALL' });
  text.value = r.params.get('sql') ?? '';
  const runFree = async (fromLink = false) => {
    const q = text.value.trim();
    if (!q) return;
    const sort = fromLink ? sortFromHash() : null;
    patchParams({ sql: q, q: null, sort: sort?.column, desc: sort?.desc ? 1 : null });
    freeOut.replaceChildren(note('Running…'));
    try {
      const a = await sql(q);
      showResult(freeOut, a, downloads((f) => download(`api/sql?format=${f}`, { method: 'POST', body: JSON.stringify({ sql: q }), headers: { 'Content-Type': 'application/json' } }, `query.${f === 'arrow' ? 'arrows' : f}`)), sort);
    } catch (e) {
      freeOut.replaceChildren(errorBox(e, 'SQL'));
    }
  };
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void runFree();
    }
  });
  const freeForm = h(
    'form',
    {
      'data-testid': 'free-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void runFree();
      },
    },
    h('p', {}, h('label', { for: 'free-sql' }, 'Read-only SQL over the store’s views (one SELECT; Ctrl+Enter runs it)')),
    text,
    h('p', {}, h('button', { type: 'submit' }, 'Run SQL')),
  );

  root.append(
    h('section', { class: 'panel', 'data-testid': 'named' }, h('h2', {}, 'Named queries'), namedForm, namedOut),
    h('section', { class: 'panel', 'data-testid': 'free' }, h('h2', {}, 'SQL'), freeForm, freeOut),
  );
  // A shared link runs what it names.
  if (r.params.get('q') && current) await runNamed(true);
  else if (text.value.trim()) await runFree(true);
}
