/**
 * The Maps panel of the Sample view: Grad-CAM and occlusion of the sample for a class (the
 * model's prediction at the latest step unless `class=` in the hash says otherwise), drawn by
 * the server on demand (src/server/pictures.ts).
 */
import { classNamer, lit, sql, type Row } from '../api.js';
import { h, note, num, panel, sqlBlock } from '../dom.js';
import { patchParams } from '../state.js';
import { isClipRow } from './clips.js';
import { RENDERING, Requests, draw, Slot } from './picture-slot.js';
import { METHOD_TITLE, SAMPLE_MAPS, attributionBase, mapFigure } from './pictures.js';

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
export async function mapsPanel(dataset: string, sample: number, s: Row | undefined, infoSql: string, ctx: { model?: string }, params: URLSearchParams): Promise<HTMLElement> {
  const modelWhere = ctx.model ? ` AND model = ${lit(ctx.model)}` : '';
  // `s` is the sample view's shared `SELECT *` row (infoSql): image-only stores may lack the clip columns.
  const [cls, classText] = await Promise.all([
    sql(`SELECT max(greatest(pred, coalesce(label, -1))) + 1 AS classes FROM predictions WHERE dataset = ${lit(dataset)}${modelWhere}`),
    classNamer(dataset),
  ]);
  const sqls = [sqlBlock(infoSql), sqlBlock(cls.sql)];
  if (!s) return panel('Maps', { testid: 'maps' }, note(`No sample ${sample} in dataset ${dataset}.`, 'maps-none'), ...sqls);
  // Read before the clip check: isClipRow's type guard leaves `never` for a Row that is not a clip.
  const label = num(s.label);
  if (isClipRow(s)) {
    return panel('Maps', { testid: 'maps' }, note('A clip: its attribution maps are drawn by `neurolens render clip-attribution`, not by the server.', 'maps-clip'), ...sqls);
  }
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
