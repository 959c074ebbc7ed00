/** Calls to the neurolens HTTP API, with the bearer token when one is set. */

const TOKEN_KEY = 'neurolens.token';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export function getToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setToken(t: string | undefined): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** `?token=` in the address: kept for this tab and removed from the address bar (it would leak in shared links). */
export function adoptTokenFromUrl(): void {
  const u = new URL(location.href);
  const t = u.searchParams.get('token');
  if (t === null) return;
  setToken(t);
  u.searchParams.delete('token');
  history.replaceState(null, '', u.pathname + u.search + u.hash);
}

export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const t = getToken();
  if (t) headers.set('Authorization', `Bearer ${t}`);
  let r: Response;
  try {
    r = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(`cannot reach the server: ${(e as Error).message}`, 0);
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    let code: string | undefined;
    try {
      const body = (await r.json()) as { error?: string; code?: string };
      if (body.error) message = body.error;
      code = body.code;
    } catch {
      /* not JSON */
    }
    if (r.status === 401) message += ' — enter the server token in the field at the top right';
    throw new ApiError(message, r.status, code);
  }
  return r;
}

export type Row = Record<string, unknown>;

export interface QueryParam {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

export interface QueryDef {
  name: string;
  description: string;
  params: QueryParam[];
  columns: { name: string; description?: string }[];
  sql: string;
}

let defs: Promise<QueryDef[]> | undefined;

export function queryDefs(): Promise<QueryDef[]> {
  defs ??= call('api/queries')
    .then((r) => r.json() as Promise<{ queries: QueryDef[] }>)
    .then((b) => b.queries)
    .catch((e) => {
      defs = undefined;
      throw e;
    });
  return defs;
}

export interface Answer {
  rows: Row[];
  /** The SQL that produced the rows (for a named query: its file, with the parameters bound). */
  sql: string;
  truncated: boolean;
}

export type Params = Record<string, string | number | undefined | null>;

export function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A named query (GET /api/queries/:name) as JSON rows. */
export async function named(name: string, params: Params = {}): Promise<Answer> {
  const [r, all] = await Promise.all([call(`api/queries/${encodeURIComponent(name)}${queryString(params)}`, { headers: { Accept: 'application/json' } }), queryDefs()]);
  const def = all.find((d) => d.name === name);
  const bound = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `--param ${k}=${v}`)
    .join(' ');
  return {
    rows: (await r.json()) as Row[],
    sql: `-- neurolens query ${name} ${bound}\n${def?.sql ?? ''}`.trim(),
    truncated: r.headers.get('X-Neurolens-Truncated') === 'true',
  };
}

/** Read-only SQL (POST /api/sql) as JSON rows. */
export async function sql(text: string): Promise<Answer> {
  const r = await call('api/sql', { method: 'POST', body: JSON.stringify({ sql: text }), headers: { 'Content-Type': 'application/json', Accept: 'application/json' } });
  return { rows: (await r.json()) as Row[], sql: text, truncated: r.headers.get('X-Neurolens-Truncated') === 'true' };
}

/** A SQL string literal. */
export function lit(v: string | number): string {
  return typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`;
}

/** An image (or any file) fetched with the token, as an object URL. */
export async function blobUrl(path: string): Promise<string> {
  const r = await call(path);
  return URL.createObjectURL(await r.blob());
}

/** Saves a response body as a file (the token cannot travel on a plain link). */
export async function download(path: string, init: RequestInit, filename: string): Promise<void> {
  const r = await call(path, init);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** An answer that may have no body yet: `cached=only` gives 204 when the server has not drawn it. */
export interface Picture {
  status: number;
  headers: Headers;
  /** Object URL of the body; undefined for 204. */
  url?: string;
}

/** A picture fetched with the token; 204 is an answer (not cached), errors throw like call(). */
export async function picture(path: string): Promise<Picture> {
  const r = await call(path);
  if (r.status === 204) return { status: r.status, headers: r.headers };
  return { status: r.status, headers: r.headers, url: URL.createObjectURL(await r.blob()) };
}

/** A picture that must have a body (no `cached=only`): a 204 here is the server's bug, so it throws. */
export async function requiredPicture(path: string): Promise<{ url: string; headers: Headers }> {
  const p = await picture(path);
  if (p.url === undefined) throw new Error(`GET /${path} answered ${p.status} without a picture`);
  return { url: p.url, headers: p.headers };
}

/** What the run records say about a dataset (GET /api/datasets). */
export interface DatasetInfo {
  name: string;
  classes: string[] | null;
  kind: string | null;
  models: string[];
}

let datasetsMemo: { generation: string | undefined; list: Promise<DatasetInfo[]> } | undefined;

/** The store's datasets, asked once per store generation (main.ts keeps it in body[data-generation]). */
export function datasets(): Promise<DatasetInfo[]> {
  const generation = document.body.dataset.generation;
  if (!datasetsMemo || datasetsMemo.generation !== generation) {
    const list = call('api/datasets', { headers: { Accept: 'application/json' } })
      .then((r) => r.json() as Promise<{ datasets: DatasetInfo[] }>)
      .then((b) => b.datasets);
    list.catch(() => {
      if (datasetsMemo?.list === list) datasetsMemo = undefined;
    });
    datasetsMemo = { generation, list };
  }
  return datasetsMemo.list;
}

/**
 * Names labels with the dataset's class names ("9 Ankle boot"), or "class 9" when the spec names
 * none; -1 is "none" (unlabelled), null "unknown". Without a dataset: the store's only dataset
 * with class names, if there is exactly one.
 */
export async function classNamer(dataset?: string): Promise<(label: unknown) => string> {
  const all = await datasets();
  const named = all.filter((d) => d.classes && d.classes.length > 0);
  const info = dataset === undefined ? (named.length === 1 ? named[0] : undefined) : all.find((d) => d.name === dataset);
  const names = info?.classes ?? null;
  return (label: unknown) => {
    if (label === null || label === undefined) return 'unknown';
    const l = Number(label);
    if (l < 0) return 'none';
    const name = names?.[l];
    return name === undefined ? `class ${l}` : `${l} ${name}`;
  };
}
