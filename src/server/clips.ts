/**
 * Video clips over HTTP, for the dashboard's sample and unit views (Feichtenhofer et al., CVPR
 * 2018, show spatiotemporal units through their input clips: as frame strips and as animations):
 *
 *   GET /api/samples/:dataset/:id/strip.png?flow=0|1&height=   the clip's T frames side by side
 *   GET /api/samples/:dataset/:id/clip.gif?height=             the clip as a looping GIF (also :id.gif)
 *   GET /api/neurons/:layer/:channel/clips.png?step=&k=&dataset=&model=&flow=&cell=
 *                                                              a unit's top-k clips as strips
 *
 * Frames are what the model saw: the pipeline's clip sampling (start, stride, fps resampling) at
 * the model's input size and fit (video/sample-frames.ts `loadClipFrames`), so a strip is exactly
 * T x the input width and its receptive-field boxes refer to its pixels. `flow=1` adds a row with
 * the clip's motion channels as the pipeline computed them (render/clip-frames.ts), in the
 * Middlebury colours (render/flow-color.ts) or, for frame differences, in grey. The GIF plays at
 * the clip's own rate: the stream's fps (resampled or probed) divided by the stride, so motion
 * looks as fast as in the video. Pictures are cached per store generation like mosaics and drawn
 * under an executor slot (they read videos and run ffmpeg).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Context, Hono } from 'hono';
import { cachedPicture, pictureAnswer } from './cached-picture.js';
import { checkKnown, flagParam, intParam } from './params.js';
import { NeurolensError } from '../errors.js';
import { writeAnimation } from '../render/animation.js';
import { RgbCanvas, type Image8 } from '../render/canvas.js';
import { figureScales, motionCell, type ClipMotion } from '../render/clip-cells.js';
import { clipPictures } from '../render/clip-frames.js';
import { clipInput, openClipRun, type ClipRun } from '../render/clip-source.js';
import { clipTopk, clipTopkStripPng } from '../render/clip-topk.js';
import { resizeImage8 } from '../render/frame-resize.js';
import { encodePng } from '../render/png.js';
import { checkSampleId } from '../render/render-input.js';
import { findRunSpec } from '../render/run-model.js';
import { VideoSource } from '../sources/video.js';
import { loadClipFrames } from '../video/sample-frames.js';
import type { AppDeps } from './app.js';
import { AnswerCache, type CachedAnswer } from './cache.js';
import { HttpError } from './http-errors.js';

type ClipDeps = Pick<AppDeps, 'store' | 'executor' | 'watch' | 'cache'>;

/** Bounds: a picture reads every frame of every clip it shows. */
const CLIP_LIMITS = { height: 512, k: 32, cell: 256 };

/** The sample id of a path segment: digits only, else the route does not exist (as for .png). */
function sampleIdParam(text: string, want: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new HttpError(404, 'NOT_FOUND', `expected ${want} with a numeric sample id, got '${text}'`);
  return Number(text);
}

/** The newest run of a video dataset, or the source kind of an image dataset. */
async function openVideoRun(storeDir: string, dataset: string): Promise<ClipRun | { imageKind: string }> {
  const kind = (await findRunSpec(storeDir, { dataset })).dataset.source?.kind;
  if (kind !== undefined && kind !== 'video') return { imageKind: kind };
  return openClipRun(storeDir, { dataset });
}

/** Clip runs per dataset, opened once per store generation (probing every video is not cheap). */
class ClipRuns {
  private readonly opened = new Map<string, { generation: string; run: Promise<ClipRun | { imageKind: string }> }>();

  constructor(private readonly storeDir: string) {}

  /** The clip run of the sample's dataset; an image sample is refused with the route that serves it. */
  async get(dataset: string, sampleId: number, generation: string): Promise<ClipRun> {
    const r = await this.open(dataset, generation);
    if ('imageKind' in r) {
      throw new NeurolensError('BAD_QUERY', `sample ${sampleId} of dataset '${dataset}' is an image (source kind '${r.imageKind}'), not a clip: use GET /api/samples/${dataset}/${sampleId}.png`);
    }
    return r;
  }

  private open(dataset: string, generation: string): Promise<ClipRun | { imageKind: string }> {
    const hit = this.opened.get(dataset);
    if (hit && hit.generation === generation) return hit.run;
    const run = openVideoRun(this.storeDir, dataset);
    // A failed open is not remembered: the next request tries again.
    run.catch(() => {
      if (this.opened.get(dataset)?.run === run) this.opened.delete(dataset);
    });
    this.opened.set(dataset, { generation, run });
    return run;
  }
}

/** Frames per second of a clip played in real time: the stream's rate over the stride. */
function clipFps(source: VideoSource, sampleId: number, stride: number): number {
  const probe = source.videos[Math.floor(sampleId / source.plan.count)]?.probe;
  const stream = source.fps ?? (probe?.ok ? probe.info.fps : undefined);
  if (!stream || !(stream > 0)) throw new NeurolensError('BAD_INPUT', `sample ${sampleId}: the frame rate of its video is unknown`);
  return stream / stride;
}

/** Frames scaled to `height` rows (nearest: small model inputs stay blocky, never blurred). */
function scaleFrames(frames: Image8[], height: number | undefined): Image8[] {
  if (height === undefined) return frames;
  return frames.map((f) => resizeImage8(f, Math.max(1, Math.round((f.width * height) / f.height)), height, 'nearest'));
}

/**
 * The frames side by side, no gaps (a strip is T x the frame width), and with motion a second
 * row of the motion channels drawn with one scale for the whole clip (clip-cells.ts).
 */
function stripImage(frames: Image8[], motion?: ClipMotion): Image8 {
  const { width: w, height: h } = frames[0]!;
  const canvas = new RgbCanvas(w * frames.length, motion ? 2 * h : h);
  const item = { frames, ...(motion ? { motion } : {}) };
  const scales = figureScales([item]);
  frames.forEach((f, t) => {
    canvas.drawImage(f, t * w, 0);
    const m = motion ? motionCell(item, t, { width: w, height: h }, scales, { kernel: 'nearest' }) : null;
    if (m) canvas.drawImage(m, t * w, h);
  });
  return { width: canvas.width, height: canvas.height, channels: 3, data: canvas.data };
}

interface ClipRequest {
  run: ClipRun;
  dataset: string;
  sampleId: number;
  height?: number;
}

/** The clip's frames at the model's input size (then `height`), with where it lies in its video. */
async function clipFrames(r: ClipRequest): Promise<{ frames: Image8[]; headers: Record<string, string>; stride: number }> {
  const { run, sampleId } = r;
  checkSampleId(run.source, sampleId, r.dataset);
  const clip = await loadClipFrames(run.source, sampleId, { width: run.layout.width, height: run.layout.height, fit: run.pre.fit });
  const frames = scaleFrames(clip.frames, r.height);
  const headers = {
    'X-Neurolens-Frames': String(frames.length),
    'X-Neurolens-Frame-Width': String(frames[0]!.width),
    'X-Neurolens-Frame-Height': String(frames[0]!.height),
    'X-Neurolens-Clip-Start': String(clip.start),
    'X-Neurolens-Clip-Stride': String(clip.stride),
  };
  return { frames, headers, stride: clip.stride };
}

async function stripPicture(r: ClipRequest, flow: boolean): Promise<CachedAnswer> {
  const { frames, headers } = await clipFrames(r);
  let motion: ClipMotion | undefined;
  if (flow) {
    if (r.run.layout.motion === 'none') throw new NeurolensError('BAD_QUERY', `strip.png: flow=1 needs a model with motion channels; the run of dataset '${r.dataset}' feeds appearance only`);
    // At the model's size: stripImage fits each map into its (possibly scaled) frame cell.
    motion = clipPictures(await clipInput(r.run, r.sampleId), r.run.layout, r.run.pre).motion;
  }
  const png = await encodePng(stripImage(frames, motion));
  return pictureAnswer(png, 'image/png', 1, { ...headers, ...(motion ? { 'X-Neurolens-Motion': motion.kind } : {}) });
}

async function gifPicture(r: ClipRequest): Promise<CachedAnswer> {
  const { frames, headers, stride } = await clipFrames(r);
  if (!(r.run.source instanceof VideoSource)) throw new NeurolensError('INTERNAL', `dataset '${r.dataset}' is not read by a video source`);
  const fps = clipFps(r.run.source, r.sampleId, stride);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'neurolens-gif-'));
  try {
    const file = path.join(dir, `${r.sampleId}.gif`);
    const { width, height } = frames[0]!;
    await writeAnimation(file, frames.map((f) => f.data), { width, height, fps, format: 'gif' });
    return pictureAnswer(await fs.readFile(file), 'image/gif', 1, { ...headers, 'X-Neurolens-Fps': String(fps) });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const CLIPS_PARAMS = ['step', 'k', 'dataset', 'model', 'flow', 'cell'];

function clipsOptions(layer: string, channel: string, q: Record<string, string>) {
  const route = 'clips.png';
  checkKnown(route, q, CLIPS_PARAMS);
  return {
    layer,
    channel: intParam(route, 'channel', channel, 0, 2 ** 31 - 1)!,
    step: intParam(route, 'step', q.step, 0, Number.MAX_SAFE_INTEGER),
    k: intParam(route, 'k', q.k, 1, CLIP_LIMITS.k) ?? 8,
    dataset: q.dataset || undefined,
    model: q.model || undefined,
    motion: flagParam(route, 'flow', q.flow),
    cell: intParam(route, 'cell', q.cell, 16, CLIP_LIMITS.cell),
  };
}

async function topkClipsPicture(deps: ClipDeps, o: ReturnType<typeof clipsOptions>): Promise<CachedAnswer> {
  let t;
  try {
    t = await clipTopk(deps.store, o);
  } catch (e) {
    if (e instanceof NeurolensError) throw new NeurolensError(e.code, `clips.png: ${e.message}`, { cause: e.cause ?? e });
    throw e;
  }
  const title = `${o.layer} ch ${o.channel} step ${t.step}: top ${t.rows.length}`;
  const { png } = await clipTopkStripPng(t, { cellSize: o.cell, title });
  return pictureAnswer(png, 'image/png', t.rows.length, {
    'X-Neurolens-Samples': t.rows.map((r) => r.sampleId).join(','),
    'X-Neurolens-Step': String(t.step),
    'X-Neurolens-Dataset': t.dataset,
    'X-Neurolens-Model': t.model,
  });
}

export function mountClips(app: Hono, deps: ClipDeps): void {
  const runs = new ClipRuns(deps.store.dir);

  app.get('/api/samples/:dataset/:id/strip.png', (c) => {
    const dataset = c.req.param('dataset');
    const sampleId = sampleIdParam(c.req.param('id'), `/api/samples/${dataset}/<sample_id>/strip.png`);
    const q = c.req.query();
    checkKnown('strip.png', q, ['flow', 'height']);
    const flow = flagParam('strip.png', 'flow', q.flow);
    const height = intParam('strip.png', 'height', q.height, 8, CLIP_LIMITS.height);
    const key = AnswerCache.key('strip.png', { dataset, sampleId, flow, height }, 'png');
    return cachedPicture(c, deps, key, async (g) => stripPicture({ run: await runs.get(dataset, sampleId, g), dataset, sampleId, height }, flow));
  });

  const gif = (c: Context, idText: string) => {
    const dataset = c.req.param('dataset')!;
    const sampleId = sampleIdParam(idText, `/api/samples/${dataset}/<sample_id>/clip.gif`);
    const q = c.req.query();
    checkKnown('clip.gif', q, ['height']);
    const height = intParam('clip.gif', 'height', q.height, 8, CLIP_LIMITS.height);
    const key = AnswerCache.key('clip.gif', { dataset, sampleId, height }, 'gif');
    return cachedPicture(c, deps, key, async (g) => gifPicture({ run: await runs.get(dataset, sampleId, g), dataset, sampleId, height }));
  };
  app.get('/api/samples/:dataset/:id/clip.gif', (c) => gif(c, c.req.param('id')));
  // `<id>.gif` next to `<id>.png`: reached only when the .png route passes other files on (app.ts).
  app.get('/api/samples/:dataset/:file{[0-9]+\\.gif}', (c) => gif(c, c.req.param('file').slice(0, -'.gif'.length)));

  app.get('/api/neurons/:layer/:channel/clips.png', (c) => {
    const o = clipsOptions(c.req.param('layer'), c.req.param('channel'), c.req.query());
    const key = AnswerCache.key('clips.png', o as unknown as Record<string, unknown>, 'png');
    return cachedPicture(c, deps, key, () => topkClipsPicture(deps, o));
  });
}
