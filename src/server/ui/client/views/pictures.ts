/**
 * Pictures the server draws on demand (src/server/pictures.ts) and caches:
 * - Unit view: activation maximization of the unit. Opening a unit asks with `cached=only` (204 =
 *   not drawn yet), so browsing units never starts a render; a Render button asks for it.
 * - Unit view: attribution of one top-k sample to the unit (`neuron=layer:channel`): the sample
 *   and the method are in the hash (`explain=`, `method=`), so the picture can be shared.
 * - Sample view (sample-maps.ts): Grad-CAM and occlusion of the sample for a class (the model's
 *   prediction at the latest step unless `class=` says otherwise).
 * Every picture is shown with the facts of its JSON; every panel shows the HTTP paths it used.
 */
import type { Answer, Row } from '../api.js';
import { fmt, h, note, num, panel } from '../dom.js';
import { href, patchParams, type UnitContext } from '../state.js';
import { RENDERING, Requests, type Drawn, draw, pictureImg, Slot, type Fact, facts } from './picture-slot.js';

export const METHODS = ['gradcam', 'occlusion', 'saliency', 'integrated-gradients', 'guided-backprop'] as const;
export type Method = (typeof METHODS)[number];
export const METHOD_TITLE: Record<Method, string> = {
  gradcam: 'Grad-CAM',
  occlusion: 'Occlusion',
  saliency: 'Saliency',
  'integrated-gradients': 'Integrated gradients',
  'guided-backprop': 'Guided backprop',
};
/** What the sample view draws without being asked: the two maps users open a sample for. */
export const SAMPLE_MAPS: Method[] = ['gradcam', 'occlusion'];

// ---- activation maximization (Unit view) ----

interface ActmaxJson {
  activation: { raw: { mean: number; max: number }; normalized: { mean: number; max: number } | null; datasetMax: number | null; ratioToNoise: number | null };
  settings: { steps: number };
  seed: number;
  model: { step: number | null; name: string | null };
  normalization?: { note: string | null };
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

export function attributionBase(method: Method, dataset: string, sample: number): string {
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

export async function mapFigure(d: Drawn, method: Method, testid: string): Promise<HTMLElement> {
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
