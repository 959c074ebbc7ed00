/**
 * What every on-demand picture panel shares: asking the server for a picture (with `cached=only`
 * or not) and its JSON facts, a slot that shows a status while it renders, the picture, or the
 * failure with a retry when one can help, and the list of HTTP paths a panel used.
 */
import { ApiError, call, picture, queryString, requiredPicture, type Params, type Row } from '../api.js';
import { errorBox, fmt, h, revokeImages } from '../dom.js';

export const RENDERING = 'rendering on the server…';
/** Pictures narrower than this are shown enlarged (img.picture.small). */
export const SMALL_PX = 160;

/** The HTTP requests behind a panel, shown where other panels show their SQL. */
export class Requests {
  private readonly pre = h('pre', { 'data-testid': 'http' });
  private readonly byKey = new Map<string, string[]>();
  readonly el = h('details', { class: 'sql' }, h('summary', {}, 'HTTP'), this.pre);

  set(key: string, paths: string[]): void {
    this.byKey.set(key, paths);
    this.pre.textContent = [...this.byKey.values()].flat().map((p) => `GET /${p}`).join('\n');
  }
}

export interface Drawn {
  url: string;
  json: Row;
  headers: Headers;
}

/**
 * The PNG, then its JSON. With `cachedOnly`, undefined when the server has not drawn it. The JSON
 * is asked after the PNG: the render is then in the server's cache, so it is not drawn twice.
 */
export async function draw(base: string, params: Params, log: (paths: string[]) => void, cachedOnly = false): Promise<Drawn | undefined> {
  const png = `${base}.png${queryString({ ...params, cached: cachedOnly ? 'only' : undefined })}`;
  log([png]);
  const pic = cachedOnly ? await picture(png) : await requiredPicture(png);
  if (!pic.url) return undefined;
  const jsonPath = `${base}.json${queryString(params)}`;
  log([png, jsonPath]);
  try {
    const json = (await (await call(jsonPath, { headers: { Accept: 'application/json' } })).json()) as Row;
    return { url: pic.url, json, headers: pic.headers };
  } catch (e) {
    URL.revokeObjectURL(pic.url);
    throw e;
  }
}

export async function pictureImg(url: string, alt: string, testid: string): Promise<HTMLImageElement> {
  const img = h('img', { src: url, alt, 'data-testid': testid, class: 'picture' });
  try {
    await img.decode();
  } catch {
    URL.revokeObjectURL(url);
    throw new Error(`${alt}: the browser cannot decode the PNG the server sent`);
  }
  // A small input drawn at 1:1 would be a few pixels: enlarge it, pixels kept sharp (CSS).
  if (img.naturalWidth < SMALL_PX) img.classList.add('small');
  return img;
}

/**
 * A failure with the server's message. A retry is offered only where asking again can help: the
 * render queue was full (503), the server failed (5xx) or was not reached; a refused request
 * (4xx: bad class, unknown layer) would be refused again.
 */
export function failure(e: unknown, what: string, retry: () => void): HTMLElement {
  const status = e instanceof ApiError ? e.status : 500;
  const busy = status === 503;
  const shown = busy ? `the server is busy drawing other pictures; retry in a moment (${(e as Error).message})` : e;
  return h(
    'div',
    { class: 'picture-failure', 'data-testid': busy ? 'busy' : 'render-error' },
    errorBox(shown, what),
    status === 0 || status >= 500 ? h('button', { type: 'button', 'data-testid': 'retry', onclick: retry }, 'Retry') : null,
  );
}

/** Where one picture goes: a status while the server works, then the figure, or the error with a retry. */
export class Slot {
  readonly el = h('div', { class: 'picture-slot', 'aria-live': 'polite' });
  private seq = 0;

  /** Never throws: a failure stays inside the slot and the page keeps working. */
  async show(what: string, status: string, work: () => Promise<HTMLElement>): Promise<void> {
    const mine = ++this.seq;
    this.put(h('p', { class: 'status', role: 'status', 'data-testid': 'status' }, status));
    let out: HTMLElement;
    try {
      out = await work();
    } catch (e) {
      out = failure(e, what, () => void this.show(what, RENDERING, work));
    }
    // Another method or class chosen meanwhile: the newer request wins.
    if (mine === this.seq) this.put(out);
    else revokeImages(out);
  }

  put(el: HTMLElement): void {
    revokeImages(this.el);
    this.el.replaceChildren(el);
  }
}

export type Fact = [label: string, key: string, value: unknown];

/** Facts of a picture's JSON; raw values in data-value (tests compare them with the JSON). */
export function facts(list: Fact[], testid: string): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': testid },
    ...list.flatMap(([label, key, v]) => [
      h('dt', {}, label),
      h('dd', { 'data-fact': key, 'data-value': v === null || v === undefined ? '' : String(v) }, v === null || v === undefined ? 'n/a' : fmt(v)),
    ]),
  );
}
