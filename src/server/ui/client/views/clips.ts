/**
 * Video clips in the dashboard (src/server/clips.ts serves the pictures): on a clip sample's
 * view, the clip playing as a looping GIF (pause swaps it for the still frame strip), its frame
 * strip with an optional motion row, and where the clip lies in its video; on a video unit's
 * view, its top-k clips as strips (argmax frame and receptive field marked) and its top videos
 * (`top_k_videos`, per-video aggregation) linking to the clips' sample views.
 *
 * A dataset is a video dataset when its `samples` rows carry clip columns (video_frames is set
 * for every clip, broken videos included); image-only stores may lack the columns altogether,
 * so rows are read with `SELECT *` and the column looked for.
 */
import { lit, named, requiredPicture, sql, queryString, type Row } from '../api.js';
import { cell, errorBox, fmt, h, panel, sqlBlock, table } from '../dom.js';
import { href, type UnitContext } from '../state.js';

/** Clips per unit (strips are tall: one row per clip). */
const TOP_CLIPS = 8;

export const isClipRow = (r: Row | undefined): r is Row => r !== undefined && r.video_frames !== null && r.video_frames !== undefined;

/** Display heights of one frame row: the model's inputs are small (16 to 224 px). */
const ANIM_PX = 160;
const STRIP_PX = 96;

/** Whole-pixel zoom that brings a frame of `frameHeight` rows near `target` (at least 1). */
const zoomFor = (frameHeight: number, target: number) => Math.max(1, Math.floor(target / Math.max(1, frameHeight)));

/** Loads `url` into `img` and sizes it at `zoom` x its pixels (pixelated by style.css), so a strip with its motion row grows instead of squeezing. */
async function show(img: HTMLImageElement, url: string, zoom: number): Promise<void> {
  img.src = url;
  await img.decode();
  img.width = img.naturalWidth * zoom;
  img.height = img.naturalHeight * zoom;
}

function fact(name: string, testid: string, value: unknown, text?: HTMLElement | string): HTMLElement[] {
  return [h('dt', {}, name), h('dd', { 'data-testid': testid, 'data-value': value === null || value === undefined ? '' : String(value) }, text ?? String(value ?? ''))];
}

/**
 * The clip panel of a sample view; null (nothing drawn) for an image sample. `s` is the sample's
 * `SELECT *` row, read once by the sample view (`infoSql`, shown under the panel) for all its panels.
 */
export async function clipPanel(dataset: string, id: number, s: Row | undefined, infoSql: string): Promise<HTMLElement | null> {
  if (!isClipRow(s)) return null;
  const base = `api/samples/${encodeURIComponent(dataset)}/${id}`;
  const facts = h(
    'dl',
    { class: 'sample-info' },
    ...fact('video', 'clip-uri', s.uri, h('code', {}, String(s.uri))),
    ...fact('start frame', 'clip-start', s.video_start),
    ...fact('frames', 'clip-frames', s.video_frames),
    ...fact('stride', 'clip-stride', s.video_stride),
  );
  const shown = await clipPictures(dataset, id, base, Number(s.video_frames)).catch((e: unknown) => ({ error: errorBox(e, 'clip') }));
  return panel(
    'Clip',
    { testid: 'clip' },
    h('div', { class: 'clip-head' }, 'error' in shown ? null : shown.anim, facts, 'error' in shown ? shown.error : null),
    'error' in shown ? null : shown.strip,
    sqlBlock(`${infoSql}\n-- GET /${base}/clip.gif\n-- GET /${base}/strip.png`),
  );
}

/**
 * The animation (with its play / pause toggle) and the frame strip (with its motion toggle). A
 * clip of an unreadable video fails here with the server's reason, shown next to the clip facts.
 */
async function clipPictures(dataset: string, id: number, base: string, frames: number): Promise<{ anim: HTMLElement; strip: HTMLElement }> {
  const [gif, strip] = await Promise.all([requiredPicture(`${base}/clip.gif`), requiredPicture(`${base}/strip.png`)]);
  const anim = h('img', { alt: `clip ${id} of ${dataset} playing`, 'data-testid': 'clip-anim', class: 'clip-anim' });
  const stripImg = h('img', { alt: `the ${frames} frames of clip ${id}`, 'data-testid': 'clip-strip', class: 'clip-strip' });
  const frameH = Number(strip.headers.get('X-Neurolens-Frame-Height'));
  const zoom = { anim: zoomFor(frameH, ANIM_PX), strip: zoomFor(frameH, STRIP_PX) };
  await Promise.all([show(anim, gif.url, zoom.anim), show(stripImg, strip.url, zoom.strip)]);
  const fps = Number(gif.headers.get('X-Neurolens-Fps'));
  return {
    anim: h('figure', {}, anim, h('figcaption', {}, playToggle(anim, gif.url, strip.url, zoom.anim), fps > 0 ? ` ${fmt(fps)} frames/s` : '')),
    strip: h('figure', {}, stripImg, h('figcaption', {}, 'The frames the model saw, left to right. ', motionToggle(stripImg, base, strip.url, zoom.strip))),
  };
}

/** Pause shows the still strip in place of the animation; play shows the GIF again. */
function playToggle(anim: HTMLImageElement, gifUrl: string, stripUrl: string, zoom: number): HTMLButtonElement {
  const b = h('button', { type: 'button', 'data-testid': 'clip-play', 'aria-pressed': 'true' }, 'Pause');
  b.addEventListener('click', () => {
    const playing = b.getAttribute('aria-pressed') === 'true';
    b.setAttribute('aria-pressed', String(!playing));
    b.textContent = playing ? 'Play' : 'Pause';
    // Object URLs of this page: a failure here would be a bug worth seeing in the console.
    void show(anim, playing ? stripUrl : gifUrl, zoom);
  });
  return b;
}

/** Adds or removes the motion row (flow colours) under the frames; a model without motion says so. */
function motionToggle(img: HTMLImageElement, base: string, plainUrl: string, zoom: number): HTMLElement {
  const b = h('button', { type: 'button', 'data-testid': 'clip-motion', 'aria-pressed': 'false' }, 'Show motion');
  const out = h('span', {}, b);
  let flowUrl: string | undefined;
  b.addEventListener('click', () => {
    void (async () => {
      out.querySelector('.error')?.remove();
      const on = b.getAttribute('aria-pressed') !== 'true';
      try {
        flowUrl ??= (await requiredPicture(`${base}/strip.png?flow=1`)).url;
        await show(img, on ? flowUrl : plainUrl, zoom);
        b.setAttribute('aria-pressed', String(on));
        b.textContent = on ? 'Hide motion' : 'Show motion';
      } catch (e) {
        out.append(errorBox(e, 'motion'));
      }
    })();
  });
  return out;
}

/** One sample row of the layer's dataset(s): tells whether the unit sees clips. */
function layerSampleSql(layer: string, c: UnitContext): string {
  const where = [`layer = ${lit(layer)}`, c.dataset ? `dataset = ${lit(c.dataset)}` : '', c.model ? `model = ${lit(c.model)}` : ''].filter(Boolean).join(' AND ');
  return `SELECT * FROM samples WHERE dataset IN (SELECT DISTINCT dataset FROM neuron_stats WHERE ${where}) LIMIT 1`;
}

/** Whether the layer's dataset holds clips (one sample row looked at). */
export async function unitSeesClips(layer: string, c: UnitContext): Promise<boolean> {
  return isClipRow((await sql(layerSampleSql(layer, c))).rows[0]);
}

/** The top-k clips panel of a unit view; null for a layer of an image model. */
export async function topClipsPanel(layer: string, channel: number, c: UnitContext, clips?: Promise<boolean>): Promise<HTMLElement | null> {
  if (!(await (clips ?? unitSeesClips(layer, c)))) return null;
  const params = { step: c.step, k: TOP_CLIPS, dataset: c.dataset, model: c.model };
  const path = `api/neurons/${encodeURIComponent(layer)}/${channel}/clips.png${queryString(params)}`;
  // top_k_videos needs every per-clip row (a retention summary refuses): its error keeps the strips.
  const [pic, videos] = await Promise.all([requiredPicture(path), named('top_k_videos', { layer, channel, ...params }).catch((e: unknown) => errorBox(e, 'top_k_videos'))]);
  const img = h('img', { alt: `top-${TOP_CLIPS} clips of ${layer}:${channel}`, 'data-testid': 'clips-img', class: 'clips' });
  await show(img, pic.url, 1);
  const ids = (pic.headers.get('X-Neurolens-Samples') ?? '').split(',').filter(Boolean).map(Number);
  const dataset = pic.headers.get('X-Neurolens-Dataset') ?? c.dataset ?? '';
  return panel(
    `Top-${ids.length} clips`,
    { testid: 'top-clips' },
    h('p', { class: 'note' }, 'One row per clip, highest first: the argmax frame outlined in red, the receptive field of the argmax position in green.'),
    img,
    h('p', { 'data-testid': 'clip-links', class: 'clip-links' }, 'Clips: ', ...ids.map((id, i) => h('a', { href: href('sample', [dataset, id]), class: 'chip', 'data-sample': id }, `#${i + 1} sample ${id}`))),
    h('h3', {}, 'Top videos (best clip per video)'),
    videos instanceof HTMLElement ? videos : videosTable(videos.rows, dataset),
    sqlBlock(`-- GET /${path}${videos instanceof HTMLElement ? '' : `\n${videos.sql}`}`),
  );
}

const VIDEO_COLUMNS = ['rank', 'uri', 'label', 'value', 'mean_of_clip_max', 'clips', 'best_sample_id', 'best_start', 'argmax_t', 'argmax_y', 'argmax_x'];

/** `top_k_videos` rows; the best clip links to its sample view. */
function videosTable(rows: Row[], dataset: string): HTMLElement {
  if (rows.length === 0) return table(rows, { testid: 'topk-videos' });
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { 'data-testid': 'topk-videos' },
      h('thead', {}, h('tr', {}, ...VIDEO_COLUMNS.map((k) => h('th', { scope: 'col' }, k)))),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            {},
            ...VIDEO_COLUMNS.map((k) => {
              if (k !== 'best_sample_id') return cell(r[k]);
              const id = Number(r[k]);
              return h('td', { 'data-value': String(id) }, h('a', { href: href('sample', [String(r.dataset ?? dataset), id]) }, String(id)));
            }),
          ),
        ),
      ),
    ),
  );
}
