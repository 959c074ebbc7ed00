/**
 * Pictures the server draws on demand (src/server/pictures.ts) and caches:
 * - Unit view: activation maximization of the unit. Opening a unit asks with `cached=only` (204 =
 *   not drawn yet), so browsing units never starts a render; a Render button asks for it.
 * - Unit view: attribution of one top-k sample to the unit (`neuron=layer:channel`): the sample
 *   and the method are in the hash (`explain=`, `method=`), so the picture can be shared.
 * - Sample view: Grad-CAM and occlusion of the sample for a class (the model's prediction at the
 *   latest step unless `class=` says otherwise).
 * Every picture is shown with the facts of its JSON; every panel shows the HTTP paths it used.
 */
import { ApiError, call, classNamer, lit, picture, queryString, sql, type Answer, type Params, type Row } from '../api.js';
import { errorBox, fmt, h, note, num, panel, sqlBlock } from '../dom.js';
import { href, patchParams } from '../state.js';

export const METHODS = ['gradcam', 'occlusion', 'saliency', 'integrated-gradients', 'guided-backprop'] as const;
export type Method = (typeof METHODS)[number];
const METHOD_TITLE: Record<Method, string> = {
  gradcam: 'Grad-CAM',
  occlusion: 'Occlusion',
  saliency: 'Saliency',
  'integrated-gradients': 'Integrated gradients',
  'guided-backprop': 'Guided backprop',
};
/** What the sample view draws without being asked: the two maps users open a sample for. */
const SAMPLE_MAPS: Method[] = ['gradcam', 'occlusion'];

export const RENDERING = 'rendering on the server…';
/** Pictures narrower than this are shown enlarged (img.picture.small). */
const SMALL_PX = 160;

/** The HTTP requests behind a panel, shown where other panels show their SQL. */
class Requests {
  private readonly pre = h('pre', { 'data-testid': 'http' });
  private readonly byKey = new Map<string, string[]>();
  readonly el = h('details', { class: 'sql' }, h('summary', {}, 'HTTP'), this.pre);

  set(key: string, paths: string[]): void {
    this.byKey.set(key, paths);
    this.pre.textContent = [...this.byKey.values()].flat().map((p) => `GET /${p}`).join('\n');
  }
}

interface Drawn {
  url: string;
  json: Row;
  headers: Headers;
}

/**
 * The PNG, then its JSON. With `cachedOnly`, undefined when the server has not drawn it. The JSON
 * is asked after the PNG: the render is then in the server's cache, so it is not drawn twice.
 */
async function draw(base: string, params: Params, log: (paths: string[]) => void, cachedOnly = false): Promise<Drawn | undefined> {
  const png = `${base}.png${queryString({ ...params, cached: cachedOnly ? 'only' : undefined })}`;
  log([png]);
  const pic = await picture(png);
  if (!pic.url) {
    if (!cachedOnly) throw new Error(`GET /${png} answered ${pic.status} without a picture`);
    return undefined;
  }
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

async function pictureImg(url: string, alt: string, testid: string): Promise<HTMLImageElement> {
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

function revokeImages(el: Element): void {
  for (const img of el.querySelectorAll('img')) if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
}

/**
 * A failure with the server's message. A retry is offered only where asking again can help: the
 * render queue was full (503), the server failed (5xx) or was not reached; a refused request
 * (4xx: bad class, unknown layer) would be refused again.
 */
function failure(e: unknown, what: string, retry: () => void): HTMLElement {
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
class Slot {
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

type Fact = [label: string, key: string, value: unknown];

/** Facts of a picture's JSON; raw values in data-value (tests compare them with the JSON). */
function facts(list: Fact[], testid: string): HTMLElement {
  return h(
    'dl',
    { class: 'facts', 'data-testid': testid },
    ...list.flatMap(([label, key, v]) => [
      h('dt', {}, label),
      h('dd', { 'data-fact': key, 'data-value': v === null || v === undefined ? '' : String(v) }, v === null || v === undefined ? 'n/a' : fmt(v)),
    ]),
  );
}

// ---- activation maximization (Unit view) ----

interface ActmaxJson {
  activation: { raw: { mean: number; max: number }; normalized: { mean: number; max: number } | null; datasetMax: number | null; ratioToNoise: number | null };
  settings: { steps: number };
  seed: number;
  model: { step: number | null; name: string | null };
  normalization?: { note: string | null };
}

export interface UnitContext {
  step?: number;
  dataset?: string;
  model?: string;
}

async function actmaxFigure(d: Drawn, unit: string): Promise<HTMLElement> {
  const j = d.json as unknown as ActmaxJson;
  const a = j.activation;
  const img = await pictureImg(d.url, `activation maximization of ${unit}`, 'actmax-img');
  return h(
    'figure',
    { class: 'picture-figure', 'data-testid': 'actmax-figure', 'data-cache': d.headers.get('X-Neurolens-Cache') ?? '' },
    img,
    h(
      'figcaption',
      {},
      facts(
        [
          ['mean activation', 'raw-mean', a.raw.mean],
          ['max activation', 'raw-max', a.raw.max],
          ['mean / dataset max', 'normalized-mean', a.normalized?.mean],
          ['max / dataset max', 'normalized-max', a.normalized?.max],
          ['dataset max', 'dataset-max', a.datasetMax],
          ['ratio to noise', 'ratio-to-noise', a.ratioToNoise],
          ['optimizer steps', 'steps', j.settings.steps],
          ['seed', 'seed', j.seed],
          ['checkpoint step', 'step', j.model.step],
        ],
        'actmax-facts',
      ),
      j.normalization?.note ? note(j.normalization.note, 'actmax-note') : null,
    ),
  );
}

/** The activation maximization panel: the cached picture at once, or a Render button. */
export async function actmaxPanel(layer: string, channel: number, ctx: UnitContext): Promise<HTMLElement> {
  const unit = `${layer}:${channel}`;
  const base = `api/pictures/actmax/${encodeURIComponent(layer)}/${channel}`;
  const params = { step: ctx.step, dataset: ctx.dataset, model: ctx.model };
  const http = new Requests();
  const slot = new Slot();
  const log = (paths: string[]) => http.set('actmax', paths);
  const render = () => slot.show('activation maximization', RENDERING, async () => actmaxFigure((await draw(base, params, log))!, unit));
  const prompt = () =>
    h(
      'div',
      { class: 'picture-prompt' },
      note(`Not drawn yet for ${unit}: the server optimizes an input for it (seconds on a small model, longer on a large one).`, 'actmax-missing'),
      h('button', { type: 'button', 'data-testid': 'actmax-render', onclick: () => void render() }, 'Render'),
    );
  await slot.show('activation maximization', 'asking the server’s cache…', async () => {
    const cached = await draw(base, params, log, true);
    return cached ? actmaxFigure(cached, unit) : prompt();
  });
  return panel(
    'Activation maximization',
    { testid: 'actmax' },
    note('An input optimized to excite this unit (mean over positions, Olah et al. 2017), with its activation normalized by the unit’s maximum over the dataset and compared with noise.'),
    slot.el,
    http.el,
  );
}

// ---- attribution maps (Unit and Sample views) ----

interface AttributionJson {
  method: string;
  target: unknown;
  score: number;
  range: unknown;
  model?: { step: number | null; name: string | null };
  input?: { sampleId: number; label: number | null; uri: string };
  target_class?: number;
}

function attributionBase(method: Method, dataset: string, sample: number): string {
  return `api/pictures/attribution/${method}/${encodeURIComponent(dataset)}/${sample}`;
}

/** `[lo, hi]` or `{min, max}` of the JSON's range. */
function rangeOf(r: unknown): [unknown, unknown] {
  if (Array.isArray(r)) return [r[0], r[1]];
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    return [o.min ?? o.lo, o.max ?? o.hi];
  }
  return [undefined, undefined];
}

/** The class a map explains: the JSON's target_class when defaulted, else the X-Neurolens-Target header (`class:3`). */
function targetClass(d: Drawn): number | undefined {
  const j = d.json as unknown as AttributionJson;
  if (typeof j.target_class === 'number') return j.target_class;
  const m = /^class:(\d+)$/.exec(d.headers.get('X-Neurolens-Target') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function mapFigure(d: Drawn, method: Method, testid: string): Promise<HTMLElement> {
  const j = d.json as unknown as AttributionJson;
  const [lo, hi] = rangeOf(j.range);
  const cls = targetClass(d);
  const img = await pictureImg(d.url, `${METHOD_TITLE[method]} of sample ${j.input?.sampleId ?? ''}`, `${testid}-img`);
  return h(
    'figure',
    { class: 'picture-figure', 'data-testid': testid, 'data-method': j.method, 'data-target-class': cls === undefined ? '' : String(cls), 'data-score': String(j.score) },
    h('h3', {}, METHOD_TITLE[method]),
    img,
    h(
      'figcaption',
      {},
      facts(
        [
          ['method', 'method', j.method],
          ['target', 'target', typeof j.target === 'string' ? j.target : fmt(j.target)],
          ...(cls === undefined ? [] : [['target class', 'target-class', cls] as Fact]),
          ['score', 'score', j.score],
          ['map min', 'range-min', lo],
          ['map max', 'range-max', hi],
          ['checkpoint step', 'step', j.model?.step],
        ],
        `${testid}-facts`,
      ),
    ),
  );
}

function methodOf(v: string | null): Method {
  return METHODS.includes(v as Method) ? (v as Method) : 'gradcam';
}

function methodSelect(value: Method, onChange: (m: Method) => void): HTMLElement {
  const select = h('select', { id: 'attr-method', 'data-testid': 'method', onchange: (e: Event) => onChange(methodOf((e.target as HTMLSelectElement).value)) }, ...METHODS.map((m) => h('option', { value: m, selected: m === value }, METHOD_TITLE[m])));
  return h('label', { class: 'picture-control' }, 'method ', select);
}

interface ExplainSample {
  dataset: string;
  sampleId: number;
  step?: number;
  model?: string;
}

/**
 * Attribution of a top-k sample to this unit. The top-k table gets an "explain" button per row
 * (`addControls`); the chosen sample and method go into the hash, so a reload or a shared link
 * shows the same map.
 */
export class ExplainPanel {
  private readonly slot = new Slot();
  private readonly http = new Requests();
  /** Link to the chosen sample's view (next to the method selector, which is made once so it keeps focus). */
  private readonly link = h('span', {});
  private readonly head: HTMLElement;
  /** `explain=` of the hash at load. */
  private readonly wanted: number | null;
  private method: Method;
  private sample?: ExplainSample;

  constructor(
    private readonly layer: string,
    private readonly channel: number,
    private readonly ctx: UnitContext,
    params: URLSearchParams,
  ) {
    this.method = methodOf(params.get('method'));
    this.wanted = num(params.get('explain'));
    this.head = h('div', { class: 'picture-head' }, methodSelect(this.method, (m) => void this.setMethod(m)), this.link);
  }

  /** Appends an "explain" button to each row of the top-k table (rows in table order). */
  addControls(wrap: HTMLElement, rows: Row[]): void {
    const table = wrap.querySelector('table');
    if (!table) return;
    table.querySelector('thead tr')?.append(h('th', { scope: 'col' }, 'attribution'));
    table.querySelectorAll('tbody tr').forEach((tr, i) => {
      const row = rows[i]!;
      const id = Number(row.sample_id);
      tr.append(h('td', {}, h('button', { type: 'button', class: 'explain', 'data-testid': 'explain', 'data-sample': id, 'aria-pressed': String(id === (this.sample?.sampleId ?? this.wanted)), onclick: () => void this.explain(this.sampleOf(row)) }, 'explain')));
    });
  }

  /** The panel; with `explain=` in the hash its map is drawn before this resolves. */
  async load(topk: Promise<Answer>): Promise<HTMLElement> {
    const { rows } = await topk;
    if (this.wanted !== null) {
      // A shared link may name a sample outside this top-k: it is then taken from the same dataset.
      const row = rows.find((r) => Number(r.sample_id) === this.wanted);
      this.sample = this.sampleOf(row ?? { ...rows[0], sample_id: this.wanted });
    }
    const el = panel(
      'Attribution',
      { testid: 'attribution' },
      note(`Which pixels of a top-k sample drive ${this.layer}:${this.channel} (mean over its positions).`),
      this.head,
      this.slot.el,
      this.http.el,
    );
    await this.redraw();
    return el;
  }

  private sampleOf(row: Row): ExplainSample {
    const dataset = this.ctx.dataset ?? (row.dataset as string | undefined);
    if (!dataset) throw new Error('explain: no dataset known for the sample; add dataset=<name> to the address');
    return { dataset, sampleId: Number(row.sample_id), step: this.ctx.step ?? num(row.step) ?? undefined, model: this.ctx.model ?? (row.model as string | undefined) };
  }

  private async explain(s: ExplainSample): Promise<void> {
    this.sample = s;
    // The panel is under the top-k table: bring the map the user asked for into sight.
    this.slot.el.closest('section')?.scrollIntoView({ block: 'nearest' });
    await this.redraw();
  }

  private async setMethod(m: Method): Promise<void> {
    this.method = m;
    await this.redraw();
  }

  private async redraw(): Promise<void> {
    const s = this.sample;
    for (const b of document.querySelectorAll<HTMLButtonElement>('button.explain')) b.setAttribute('aria-pressed', String(s !== undefined && Number(b.dataset.sample) === s.sampleId));
    if (!s) {
      this.slot.put(note('Choose “explain” on a row of the top-k table to see its map here.', 'attribution-empty'));
      return;
    }
    patchParams({ explain: s.sampleId, method: this.method });
    this.link.replaceChildren(h('a', { href: href('sample', [s.dataset, s.sampleId]), 'data-testid': 'explain-sample' }, `sample ${s.sampleId} of ${s.dataset} →`));
    const method = this.method;
    const params = { neuron: `${this.layer}:${this.channel}`, step: s.step, model: s.model };
    const base = attributionBase(method, s.dataset, s.sampleId);
    await this.slot.show(`${METHOD_TITLE[method]} of sample ${s.sampleId}`, RENDERING, async () => mapFigure((await draw(base, params, (p) => this.http.set('map', p)))!, method, 'attribution-map'));
  }
}

// ---- maps of a sample (Sample view) ----

/** `class=` of the hash: '' = the prediction, 'label' = the sample's label, or a class index. */
function classParam(choice: string, label: number | null): number | undefined {
  if (choice === '') return undefined;
  if (choice === 'label') {
    if (label === null || label < 0) throw new Error('class=label: this sample has no label; choose a class index');
    return label;
  }
  const c = num(choice);
  if (c === null || !Number.isInteger(c) || c < 0) throw new Error(`class=${choice}: expected a class index >= 0, 'label' or nothing (the prediction)`);
  return c;
}

function classSelect(choice: string, label: number | null, classes: number, classText: (c: unknown) => string, onChange: (v: string) => void): HTMLElement {
  const opts: [string, string][] = [['', 'predicted class']];
  if (label !== null && label >= 0) opts.push(['label', `label (${classText(label)})`]);
  for (let c = 0; c < classes; c++) opts.push([String(c), classText(c)]);
  if (choice && !opts.some(([v]) => v === choice)) opts.push([choice, classText(choice)]);
  const select = h('select', { id: 'maps-class', 'data-testid': 'class', onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value) }, ...opts.map(([v, t]) => h('option', { value: v, selected: v === choice }, t)));
  return h('label', { class: 'picture-control' }, 'explain ', select);
}

/**
 * Grad-CAM and occlusion of a sample at the latest step, for the predicted class unless the hash
 * says `class=`. The class list comes from what the store saw (predictions and labels: a label
 * the model cannot output is refused by the server, which says why). Clips get a note: the
 * server draws attribution for images only.
 */
export async function mapsPanel(dataset: string, sample: number, ctx: { model?: string }, params: URLSearchParams): Promise<HTMLElement> {
  const modelWhere = ctx.model ? ` AND model = ${lit(ctx.model)}` : '';
  // SELECT *: image-only stores may lack the clip columns altogether.
  const [info, cls, classText] = await Promise.all([
    sql(`SELECT * FROM samples WHERE dataset = ${lit(dataset)} AND sample_id = ${sample}`),
    sql(`SELECT max(greatest(pred, coalesce(label, -1))) + 1 AS classes FROM predictions WHERE dataset = ${lit(dataset)}${modelWhere}`),
    classNamer(dataset),
  ]);
  const s = info.rows[0];
  const sqls = [sqlBlock(info.sql), sqlBlock(cls.sql)];
  if (!s) return panel('Maps', { testid: 'maps' }, note(`No sample ${sample} in dataset ${dataset}.`, 'maps-none'), ...sqls);
  if (s.video_frames !== null && s.video_frames !== undefined) {
    return panel('Maps', { testid: 'maps' }, note('A clip: its attribution maps are drawn by `neurolens render clip-attribution`, not by the server.', 'maps-clip'), ...sqls);
  }
  const label = num(s.label);
  const classes = num(cls.rows[0]?.classes) ?? 0;
  const http = new Requests();
  const slots = SAMPLE_MAPS.map(() => new Slot());
  let choice = params.get('class') ?? '';
  const drawAll = async () => {
    await Promise.all(
      SAMPLE_MAPS.map((method, i) =>
        slots[i]!.show(`${METHOD_TITLE[method]} of sample ${sample}`, RENDERING, async () => {
          const p = { class: classParam(choice, label), model: ctx.model };
          return mapFigure((await draw(attributionBase(method, dataset, sample), p, (x) => http.set(method, x)))!, method, `map-${method}`);
        }),
      ),
    );
  };
  // Made once, not per draw: a keyboard user changing the class keeps the focus on it.
  const head = h(
    'div',
    { class: 'picture-head' },
    classSelect(choice, label, classes, classText, (v) => {
      choice = v;
      patchParams({ class: v });
      void drawAll();
    }),
  );
  await drawAll();
  return panel(
    'Maps',
    { testid: 'maps' },
    note('Where the model looks for the class (Grad-CAM, Selvaraju et al. 2017) and how much hiding each patch lowers its probability (occlusion, Zeiler & Fergus 2014), at the latest step.'),
    head,
    h('div', { class: 'maps' }, ...slots.map((x) => x.el)),
    ...sqls,
    http.el,
  );
}
