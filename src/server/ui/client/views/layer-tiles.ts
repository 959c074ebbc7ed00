/**
 * The tiles of a Layer view: each unit as the receptive-field crop of its top-1 sample, cut from
 * sprite sheets of 128 units (GET /api/layers/:layer/tiles.png) fetched once each as they scroll
 * into view; one Tab stop, arrows move, Enter opens the unit.
 */
import { call, queryString } from '../api.js';
import { errorBox, h, note, panel } from '../dom.js';
import { context, href } from '../state.js';
// Type only (erased from the bundle): the layout header the server's tiles route writes.
import type { TilesLayout } from '../../../tiles.js';
import { UnitList, type Unit } from './layer-units.js';

/** Units per sprite request (the server allows 256; 128 keeps the first screen to one request). */
const PAGE = 128;
export const TILE = 64;

export interface Sprite {
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

export function tilesPanel(layer: string, step: number, list: UnitList): HTMLElement {
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
