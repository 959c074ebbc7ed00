/**
 * The dashboard's state lives in the URL hash, so every view can be shared as a link:
 * `#/<view>/<arg>/<arg>?key=value`, e.g. `#/layer/conv1?step=100&sort=zero_frac&desc=1`.
 * `dataset` and `model` narrow every query when the store holds several.
 */
export interface Route {
  view: string;
  args: string[];
  params: URLSearchParams;
}

export function parseHash(hash = location.hash): Route {
  const s = hash.replace(/^#\/?/, '');
  const q = s.indexOf('?');
  const pathPart = q < 0 ? s : s.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : s.slice(q + 1));
  const [view = '', ...args] = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { view: view || 'overview', args, params };
}

const CONTEXT = ['dataset', 'model'];

/** A link to a view, keeping the dataset/model context of the current address. */
export function href(view: string, args: (string | number)[] = [], params: Record<string, string | number | undefined | null> = {}): string {
  const cur = parseHash().params;
  const p = new URLSearchParams();
  for (const k of CONTEXT) if (cur.get(k) && !(k in params)) p.set(k, cur.get(k)!);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const qs = p.toString();
  return `#/${[view, ...args.map((a) => encodeURIComponent(String(a)))].join('/')}${qs ? `?${qs}` : ''}`;
}

/** Changes parameters of the current view in place (no reload of the view: sort order, selections). */
export function patchParams(patch: Record<string, string | number | undefined | null>): void {
  const r = parseHash();
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '') r.params.delete(k);
    else r.params.set(k, String(v));
  }
  const qs = r.params.toString();
  const h = `#/${[r.view, ...r.args.map(encodeURIComponent)].join('/')}${qs ? `?${qs}` : ''}`;
  history.replaceState(null, '', h);
}

/** What narrows a unit view's panels: the checkpoint and the dataset / model context. */
export interface UnitContext {
  step?: number;
  dataset?: string;
  model?: string;
}

/** dataset / model of the address (undefined = any). */
export function context(): { dataset?: string; model?: string } {
  const p = parseHash().params;
  return { dataset: p.get('dataset') || undefined, model: p.get('model') || undefined };
}

/** `AND dataset = ... AND model = ...` for the context, for hand-written SQL. */
export function contextWhere(lit: (v: string) => string, alias = ''): string {
  const c = context();
  let s = '';
  if (c.dataset) s += ` AND ${alias}dataset = ${lit(c.dataset)}`;
  if (c.model) s += ` AND ${alias}model = ${lit(c.model)}`;
  return s;
}
