/** The neurolens dashboard: a single page over the HTTP API, state in the URL hash. */
import './style.css';
import { adoptTokenFromUrl, getToken, setToken } from './api.js';
import { h } from './dom.js';
import { parseHash, href, type Route } from './state.js';
import { overviewView } from './views/overview.js';
import { layerView } from './views/layer.js';
import { unitView } from './views/unit.js';
import { sqlView } from './views/sql.js';
import { embeddingView } from './views/embedding.js';

type View = (root: HTMLElement, r: Route) => Promise<void>;

const VIEWS: Record<string, { title: string; view: View }> = {
  overview: { title: 'Overview', view: overviewView },
  layer: { title: 'Layer', view: layerView },
  unit: { title: 'Unit', view: unitView },
  sql: { title: 'SQL', view: sqlView },
  embedding: { title: 'Embedding', view: embeddingView },
};

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

async function render(): Promise<void> {
  const mine = ++seq;
  const r = parseHash();
  const entry = VIEWS[r.view];
  document.body.dataset.ready = '';
  document.querySelector('header nav')?.replaceWith(nav());
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a')) {
    if (a.dataset.nav === r.view) a.setAttribute('aria-current', 'page');
  }
  const root = h('div', { class: 'view', 'data-view': r.view });
  main.replaceChildren(root);
  if (!entry) {
    root.append(h('div', { class: 'error', role: 'alert', 'data-testid': 'error' }, `No view '${r.view}'. `, h('a', { href: href('overview') }, 'Go to the overview')));
  } else {
    document.title = `neurolens · ${entry.title}${r.args.length ? ` · ${r.args.join(' ')}` : ''}`;
    try {
      await entry.view(root, r);
    } catch (e) {
      root.append(h('div', { class: 'error', role: 'alert', 'data-testid': 'error' }, (e as Error).message));
    }
  }
  // Tests and the benchmark wait for this: every panel of the view has its data (or its error).
  if (mine === seq) document.body.dataset.ready = r.view;
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
}

start();
