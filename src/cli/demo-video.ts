/**
 * `neurolens demo video`: the video path end to end on generated data. Writes the synthetic action
 * dataset (unless data/actions exists), trains the two-stream network (unless a checkpoint
 * series exists), runs pipelines/actions.yaml over every checkpoint with both stream ablations,
 * then answers from SQL: accuracy over training and with each stream zeroed, which stream drives
 * the units of each layer, the most confused classes and the units that separate violin from
 * cello, the videos that excite the strongest fusion unit; and draws the pictures of that unit.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { NeurolensError } from '../errors.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendChoice } from '../model/backend.js';
import { defaultProgressMode } from '../pipeline/progress.js';
import { runPipeline } from '../pipeline/runner.js';
import { loadSpec } from '../pipeline/spec.js';
import { Store } from '../storage/index.js';
import { TrainProgress } from '../train/progress.js';
import { MAKE_ACTIONS_DEFAULTS, makeActions } from '../video/synth/index.js';
import { VIDEO_TRAIN_DEFAULTS, trainVideoDemo } from '../video/train.js';
import { getQuery, resultRows, runQuery } from '../queries/index.js';
import { printRunSummary } from './run.js';
import { formatTable } from './table.js';
import { videoTrainReport } from './train-video-demo.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODEL = 'two-stream';

export interface VideoDemoOptions {
  workers?: number;
  backend: BackendChoice;
  json?: boolean;
}

async function hasCheckpoints(dir: string): Promise<boolean> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.some((n) => /^ckpt-\d+$/.test(n));
}

const PICTURES = path.join(ROOT, 'out/video-demo');

/** Runs `neurolens render ...` as a child process (the same code path a user runs). */
function render(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/neurolens.js'), 'render', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new NeurolensError('INTERNAL', `neurolens render ${args.join(' ')} failed (exit ${code}): ${err.trim()}`))));
  });
}

/** The strongest fusion unit's top clips (strips and a GIF), a motion unit's actmax over kappa, Grad-CAM over time of a clip. */
async function drawPictures(store: string, u: { fusion?: number; motion?: number; sample?: number; say: (s: string) => void }): Promise<string[]> {
  await fs.mkdir(PICTURES, { recursive: true });
  const common = ['--store', store];
  const model = ['--model', MODEL];
  const jobs: [string, string[]][] = [];
  if (u.fusion !== undefined) {
    const f = `fusion-${u.fusion}`;
    jobs.push([`${f}-top-clips.png`, ['clips', '--layer', 'fusion', '--channel', String(u.fusion), '--k', '6', '--motion', ...common, ...model]]);
    jobs.push([`${f}-top-clips.gif`, ['clips', '--layer', 'fusion', '--channel', String(u.fusion), '--k', '6', ...common, ...model]]);
  }
  if (u.motion !== undefined) jobs.push([`mot_conv3-${u.motion}-actmax-kappa.png`, ['actmax-clip', '--layer', 'mot_conv3', '--channel', String(u.motion), '--kappa', '0,1,10', '--steps', '96', ...common]]);
  if (u.sample !== undefined && u.fusion !== undefined) {
    jobs.push([`sample-${u.sample}-gradcam.png`, ['clip-attribution', 'gradcam', '--neuron', `fusion:${u.fusion}`, '--sample', String(u.sample), ...common]]);
  }
  const written: string[] = [];
  for (const [file, args] of jobs) {
    const out = path.join(PICTURES, file);
    u.say(`drawing ${path.relative(process.cwd(), out)}`);
    await render([...args, '--out', out]);
    written.push(out);
  }
  return written;
}

export async function runVideoDemo(o: VideoDemoOptions): Promise<Record<string, unknown>> {
  const say = (s: string) => (o.json ? undefined : process.stderr.write(s + '\n'));
  const data = path.join(ROOT, 'data/actions');
  const out: Record<string, unknown> = {};
  if (!existsSync(path.join(data, 'manifest.csv'))) {
    say(`writing the synthetic action dataset to ${data} (8 classes x 56 videos, H.264 through ffmpeg; about 1-2 minutes)`);
    let last = 0;
    out.dataset = await makeActions({ ...MAKE_ACTIONS_DEFAULTS, out: data, overwrite: false }, (e) => {
      if (e.type === 'video' && !o.json && performance.now() - last > 10_000) {
        last = performance.now();
        say(`  ${e.done}/${e.total} videos, ${e.videosPerSec.toFixed(1)}/s, ETA ${Math.round(e.etaSec)} s`);
      }
    });
  }
  const ckpt = path.join(ROOT, 'checkpoints/actions');
  if (!(await hasCheckpoints(ckpt))) {
    say(`no checkpoints in ${ckpt}: training the two-stream network first (about 5-8 minutes on 2 cores)`);
    const progress = new TrainProgress(o.json ? 'silent' : process.stderr.isTTY ? 'bar' : 'lines', undefined, { model: 'two-stream network', samples: 'clips', unit: 'clips/s' });
    const s = await trainVideoDemo({ ...VIDEO_TRAIN_DEFAULTS, data, out: ckpt, backend: o.backend === 'auto' ? 'wasm' : o.backend }, progress.onEvent);
    progress.done(s, videoTrainReport(s));
    out.training = s;
  }
  const spec = await loadSpec(path.join(ROOT, 'pipelines/actions.yaml'));
  const summary = await runPipeline(spec, { workers: o.workers, backend: o.backend, progress: defaultProgressMode(!!o.json) });
  out.run = summary;
  const classes = spec.spec.dataset.classes ?? [];
  const name = (l: unknown) => classes[Number(l)] ?? String(l);
  const last = Math.max(...summary.checkpoints.map((c) => c.step));
  const store = await Store.open(summary.store, { readOnly: true });
  try {
    const q = async (query: string, params: Record<string, string | number>) => resultRows(await runQuery(store, await getQuery(query), params));
    out.accuracy = await store.query(
      `PIVOT (SELECT step, model, round(avg(CASE WHEN pred = label THEN 1 ELSE 0 END), 3) AS acc FROM predictions WHERE model LIKE '${MODEL}%' GROUP BY step, model)
       ON model USING first(acc) GROUP BY step ORDER BY step`,
    );
    const drivers: Record<string, unknown>[] = [];
    for (const layer of ['app_conv1', 'app_conv2', 'mot_conv1', 'mot_conv2', 'mot_conv3', 'fusion']) {
      const rows = (await q('stream_drivers', { layer, model: MODEL, step: last })) as { driver: string }[];
      const count = (d: string) => rows.filter((r) => r.driver === d).length;
      drivers.push({ layer, units: rows.length, appearance: count('appearance'), motion: count('motion'), fusion: count('fusion'), either: count('either'), silent: count('silent') });
    }
    out.stream_drivers = drivers;
    out.confusions = ((await q('confusions', { model: MODEL, step: last, k: 6 })) as Record<string, unknown>[]).map((r) => ({ ...r, label: name(r.label), pred: name(r.pred) }));
    out.violin_vs_cello = await q('confusion_neurons', { layer: 'fusion', class_a: 6, class_b: 7, model: MODEL, step: last, k: 5 });
    const [best] = await store.query<{ channel: number }>(
      `SELECT channel FROM neuron_stats WHERE model = '${MODEL}' AND layer = 'fusion' AND step = ${last} AND NOT dead ORDER BY max DESC LIMIT 1`,
    );
    out.unit = best ? { layer: 'fusion', channel: best.channel } : null;
    if (best) out.top_videos = ((await q('top_k_videos', { layer: 'fusion', channel: best.channel, model: MODEL, step: last, k: 6 })) as Record<string, unknown>[]).map((r) => ({ ...r, uri: path.relative(data, String(r.uri)), label: name(r.label) }));
    const [mot] = await store.query<{ channel: number }>(
      `SELECT channel FROM neuron_stats WHERE model = '${MODEL}' AND layer = 'mot_conv3' AND step = ${last} AND NOT dead ORDER BY max DESC LIMIT 1`,
    );
    const [clip] = best
      ? await store.query<{ sample_id: number }>(`SELECT sample_id FROM topk WHERE model = '${MODEL}' AND layer = 'fusion' AND step = ${last} AND channel = ${best.channel} AND rank = 0`)
      : [];
    out.pictures = await drawPictures(summary.store, { fusion: best?.channel, motion: mot?.channel, sample: clip?.sample_id, say });
  } finally {
    store.dispose();
  }
  if (!o.json) {
    printRunSummary(summary);
    const show = (title: string, rows: unknown) => process.stdout.write(`\n${title}\n${formatTable(rows as Record<string, unknown>[])}\n`);
    show(`Test-clip accuracy per checkpoint, with both streams (${MODEL}) and with one stream's input zeroed:`, out.accuracy);
    show(`Which stream drives the units of each layer at step ${last} (stream_drivers: drop of the mean activation >= 50% when a stream is zeroed):`, out.stream_drivers);
    show('Most confused classes (confusions):', out.confusions);
    show('Fusion units that separate violin from cello (confusion_neurons):', out.violin_vs_cello);
    if (out.unit) show(`Videos that excite fusion unit ${(out.unit as { channel: number }).channel} most (top_k_videos: max over each video's clips):`, out.top_videos);
    process.stdout.write(`\nPictures (${path.relative(process.cwd(), PICTURES) || '.'}):\n${(out.pictures as string[]).map((f) => `  ${path.relative(process.cwd(), f)}`).join('\n')}\n`);
    process.stdout.write(`\nAsk your own: neurolens sql --store ${path.relative(process.cwd(), summary.store) || '.'} "SELECT * FROM samples LIMIT 5"\n`);
  }
  return out;
}
