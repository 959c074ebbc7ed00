/** The neurolens dashboard: a single page over the HTTP API, state in the URL hash. */
import './style.css';
import { adoptTokenFromUrl, call, getToken, setToken } from './api.js';
import { errorBox, h, revokeImages } from './dom.js';
import { parseHash, href, type Route } from './state.js';
import { overviewView } from './views/overview.js';
import { layerView } from './views/layer.js';
import { unitView } from './views/unit.js';
import { sqlView } from './views/sql.js';
import { embeddingView } from './views/embedding.js';
import { sampleView } from './views/sample.js';

type View = (root: HTMLElement, r: Route) => Promise<void>;

const VIEWS: Record<string, { title: string; view: View }> = {
  overview: { title: 'Overview', view: overviewView },
  layer: { title: 'Layer', view: layerView },
  unit: { title: 'Unit', view: unitView },
  sql: { title: 'SQL', view: sqlView },
  embedding: { title: 'Embedding', view: embeddingView },
  sample: { title: 'Sample', view: sampleView },
};

/** Seconds between two looks at the store's generation (live refresh). */
const POLL_MS = 3000;
/** Views not redrawn when the store changes: the SQL console would lose what is being typed. */
const NO_REFRESH = new Set(['sql']);

let main: HTMLElement;
let seq = 0;

function tokenForm(): HTMLElement {
  const input = h('input', { type: 'password', id: 'token', name: 'token', placeholder: 'token', autocomplete: 'off', 'aria-label': 'server token' });
  input.value = getToken() ?? '';
  return h(
    'form',
    {
      class: 'token',
      onsubmit: (e: Event) => {
        e.preventDefault();
        setToken(input.value.trim() || undefined);
        void render();
      },
    },
    input,
    h('button', { type: 'submit' }, 'Use token'),
  );
}

function nav(): HTMLElement {
  const links = [
    ['overview', 'Overview'],
    ['sql', 'SQL console'],
    ['embedding', 'Embedding'],
  ] as const;
  return h('nav', { 'aria-label': 'views' }, ...links.map(([v, t]) => h('a', { href: href(v), 'data-nav': v }, t)));
}

async function render(refresh = false): Promise<void> {
  const mine = ++seq;
  const scroll = refresh ? window.scrollY : 0;
  const r = parseHash();
  const entry = VIEWS[r.view];
  document.body.dataset.ready = '';
  document.querySelector('header nav')?.replaceWith(nav());
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
    if (a.dataset.nav === r.view) a.setAttribute('aria-current', 'page');
  }
  const root = h('div', { class: 'view', 'data-view': r.view });
  // Every redraw (navigation, live refresh) throws the old view away: free its pictures' blobs.
  revokeImages(main);
  main.replaceChildren(root);
  if (!entry) {
    const box = errorBox(`No view '${r.view}'. `);
    box.append(h('a', { href: href('overview') }, 'Go to the overview'));
    root.append(box);
  } else {
    document.title = `neurolens · ${entry.title}${r.args.length ? ` · ${r.args.join(' ')}` : ''}`;
    try {
      await entry.view(root, r);
    } catch (e) {
      root.append(errorBox(e));
    }
  }
  // Tests and the benchmark wait for this: every panel of the view has its data (or its error).
  if (mine === seq) {
    if (refresh) window.scrollTo(0, scroll);
    document.body.dataset.ready = r.view;
  }
}

/**
 * Live refresh: GET /api/generation every few seconds (cheap: no query); when the store's
 * generation changes, the current view is drawn again from the same address (the state is in the
 * hash, so nothing is lost). A failed look (no token yet, server restarting) is retried silently.
 */
let generation: string | undefined;
async function poll(): Promise<void> {
  try {
    const r = await call('api/generation', { headers: { Accept: 'application/json' } });
    const g = ((await r.json()) as { id: string }).id;
    const changed = generation !== undefined && g !== generation;
    generation = g;
    document.body.dataset.generation = g;
    if (changed && !NO_REFRESH.has(parseHash().view) && document.body.dataset.ready) await render(true);
  } catch {
    /* retried at the next tick */
  } finally {
    setTimeout(() => void poll(), POLL_MS);
  }
}

function start(): void {
  adoptTokenFromUrl();
  main = h('main', { id: 'main' });
  document.body.append(
    h('header', {}, h('a', { class: 'brand', href: href('overview') }, 'neurolens'), nav(), tokenForm()),
    main,
  );
  window.addEventListener('hashchange', () => void render());
  void render();
  void poll();
}

start();
