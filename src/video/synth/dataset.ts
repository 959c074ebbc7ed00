/**
 * Writes the synthetic action-recognition dataset: real MP4 files per split and class, a
 * manifest (uri,label,split; the `manifest` source of a pipeline spec reads it), classes.json
 * (class names in label order with their motion, appearance rule and confusion pair, plus the
 * generator settings) and videos.jsonl (the drawn nuisance and motion parameters of every video,
 * for analyses such as "which units follow the shape rather than the motion").
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NeurolensError } from '../../errors.js';
import { ACTION_CLASSES } from './classes.js';
import { renderFrames } from './render.js';
import { videoSeed, type Split } from './seed.js';
import { sampleVideo, type VideoSpec } from './video-spec.js';
import { writeVideo } from './write-video.js';

export interface MakeActionsOptions {
  out: string;
  train: number;
  test: number;
  size: number;
  frames: number;
  fps: number;
  seed: number;
  crf: number;
  overwrite: boolean;
  /** ffmpeg encoders running at once (each with one encoder thread). */
  concurrency: number;
}

export const MAKE_ACTIONS_DEFAULTS = { train: 40, test: 16, size: 64, frames: 48, fps: 25, seed: 1, crf: 20, concurrency: 2 } as const;

export type MakeActionsEvent =
  | { type: 'start'; out: string; videos: number; classes: number }
  | { type: 'video'; uri: string; done: number; total: number; videosPerSec: number; etaSec: number };

export interface MakeActionsSummary {
  out: string;
  videos: number;
  classes: string[];
  train: number;
  test: number;
  frames: number;
  size: number;
  bytes: number;
  seconds: number;
  videosPerSec: number;
}

/** The files this command owns in DIR: --overwrite removes only these. */
const OWNED = ['train', 'test', 'manifest.csv', 'classes.json', 'videos.jsonl'];

interface Job {
  split: Split;
  label: number;
  index: number;
  uri: string;
}

export function videoUri(split: Split, label: number, index: number): string {
  const name = ACTION_CLASSES[label].name;
  return `${split}/${name}/${name}-${String(index).padStart(4, '0')}.mp4`;
}

/** The description of one video of the dataset (same for any generation order). */
export function datasetVideo(o: Pick<MakeActionsOptions, 'seed' | 'size' | 'frames'>, split: Split, label: number, index: number): VideoSpec {
  return sampleVideo(label, videoSeed(o.seed, split, label, index), o.size, o.frames);
}

function validate(o: MakeActionsOptions): void {
  const bad = (opt: string, why: string) => new NeurolensError('BAD_SPEC', `make-actions --${opt}: ${why}`);
  if (!Number.isInteger(o.size) || o.size < 16 || o.size % 2 !== 0) throw bad('size', `must be an even integer >= 16 (H.264 yuv420p needs even sizes), got ${o.size}`);
  if (!Number.isInteger(o.frames) || o.frames < 2) throw bad('frames', `must be an integer >= 2 (motion needs two frames), got ${o.frames}`);
  if (!Number.isInteger(o.train) || o.train < 0) throw bad('train', `must be an integer >= 0, got ${o.train}`);
  if (!Number.isInteger(o.test) || o.test < 0) throw bad('test', `must be an integer >= 0, got ${o.test}`);
  if (o.train + o.test === 0) throw bad('train', '--train and --test are both 0: nothing to write');
  if (!(o.fps > 0)) throw bad('fps', `must be positive, got ${o.fps}`);
  if (!Number.isInteger(o.crf) || o.crf < 0 || o.crf > 51) throw bad('crf', `must be an integer in 0..51, got ${o.crf}`);
}

/** A non-empty --out mixes old and new videos: refuse unless --overwrite, then remove only our files. */
async function prepareOut(out: string, overwrite: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      await mkdir(out, { recursive: true });
      return;
    }
    throw new NeurolensError('IO', `make-actions --out ${out}: cannot read the directory: ${(e as Error).message}`, { cause: e });
  }
  if (entries.length === 0) return;
  if (!overwrite) {
    throw new NeurolensError('BAD_SPEC', `make-actions --out ${out}: directory is not empty (${entries.length} entries, e.g. ${entries.slice(0, 3).join(', ')}); pass --overwrite to replace the dataset or choose another --out`);
  }
  for (const name of OWNED) await rm(join(out, name), { recursive: true, force: true });
}

export async function makeActions(o: MakeActionsOptions, onEvent: (e: MakeActionsEvent) => void = () => {}): Promise<MakeActionsSummary> {
  validate(o);
  await prepareOut(o.out, o.overwrite);
  const jobs: Job[] = [];
  for (const [split, n] of [['train', o.train], ['test', o.test]] as const)
    for (let label = 0; label < ACTION_CLASSES.length; label++)
      for (let index = 0; index < n; index++) jobs.push({ split, label, index, uri: videoUri(split, label, index) });
  for (const split of ['train', 'test'] as const)
    for (const c of ACTION_CLASSES) await mkdir(join(o.out, split, c.name), { recursive: true });

  const t0 = performance.now();
  onEvent({ type: 'start', out: o.out, videos: jobs.length, classes: ACTION_CLASSES.length });
  const specs: VideoSpec[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  let bytes = 0;
  // A pool of async workers over one job list: at most `concurrency` ffmpeg children at once,
  // while this thread draws the next frames (drawing a 64x64 frame is far cheaper than encoding).
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const j = jobs[i];
      const spec = datasetVideo(o, j.split, j.label, j.index);
      specs[i] = spec;
      const r = await writeVideo(join(o.out, j.uri), renderFrames(spec), { width: o.size, height: o.size, fps: o.fps, crf: o.crf, threads: 1 });
      bytes += r.bytes;
      done++;
      const sec = (performance.now() - t0) / 1000;
      const rate = done / Math.max(sec, 1e-6);
      onEvent({ type: 'video', uri: j.uri, done, total: jobs.length, videosPerSec: rate, etaSec: (jobs.length - done) / rate });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));

  // Index files last: a dataset with a manifest is a complete dataset.
  const manifest = ['uri,label,split', ...jobs.map((j) => `${j.uri},${j.label},${j.split}`)].join('\n') + '\n';
  const records = jobs.map((j, i) => JSON.stringify({ uri: j.uri, split: j.split, index: j.index, ...specs[i] })).join('\n') + '\n';
  await writeFile(join(o.out, 'videos.jsonl'), records);
  await writeFile(join(o.out, 'classes.json'), JSON.stringify(classesJson(o), null, 2) + '\n');
  await writeFile(join(o.out, 'manifest.csv'), manifest);
  const seconds = (performance.now() - t0) / 1000;
  return {
    out: o.out, videos: jobs.length, classes: ACTION_CLASSES.map((c) => c.name), train: o.train, test: o.test,
    frames: o.frames, size: o.size, bytes, seconds, videosPerSec: jobs.length / seconds,
  };
}

function classesJson(o: MakeActionsOptions) {
  return {
    dataset: 'neurolens-actions',
    version: 1,
    description: 'synthetic action recognition: classes defined by motion, appearance as a nuisance (Feichtenhofer et al., CVPR 2018 analysis)',
    classes: ACTION_CLASSES.map((c) => ({
      label: c.label, name: c.name, motion: c.motion, motion_rule: c.motionRule, appearance: c.appearance,
      pair: c.pair.name, pair_with: c.pair.with, pair_differs_in: c.pair.differsIn, pair_note: c.pair.note,
    })),
    settings: {
      seed: o.seed, train_per_class: o.train, test_per_class: o.test, size: o.size, frames: o.frames, fps: o.fps,
      codec: 'h264 (libx264)', pix_fmt: 'yuv420p', crf: o.crf,
      per_video_seed: 'videoSeed(seed, split, label, index) (murmur3 fmix32 mixing); mulberry32 per video',
      background: 'static: smooth value noise, soft stripes or linear gradient between two colours',
      antialiasing: '4x4 supersampled coverage',
    },
  };
}
