/**
 * Video end to end: real H.264 files (and broken ones) made by ffmpeg, the two-stream network with
 * optical-flow motion channels, through the staged pipeline into the store. Every per-clip
 * statistic and the top-k are compared with a re-implementation in this file that decodes every
 * frame with its own ffmpeg call, cuts the clips by the documented rule, builds the clip tensors,
 * runs the model's layers and reduces the activations in plain JS.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { saveModelDir } from '../src/model/io.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { buildTwoStream } from '../src/video/model.js';
import { OpticalFlow, rgbToLuma } from '../src/video/flow.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { decodeAllFrames, makeVideoDataset, type VideoDataset } from './fixtures/videos.js';

const T = 4;
const SIZE = 16;
const STRIDE = 2;
const CLIPS = 3;
const LAYERS = ['app_conv1', 'app_conv2', 'mot_conv1', 'mot_conv2', 'mot_conv3', 'fusion'];
const TOPK = 4;
const MODEL = 'two-stream';
/** The full model at step 0: what the re-implementation computes. */
const AT0 = `step = 0 AND model = '${MODEL}'`;

let dir: string;
let ds: VideoDataset;
let store: Store;

interface Stat {
  max: number;
  mean: number;
  zero: number;
  arg: [number, number, number];
}

/** Clip starts by the documented rule: span = (T + 1 - 1) * stride + 1, spread uniformly. */
function starts(frames: number): number[] {
  const span = T * STRIDE + 1;
  const room = frames - span;
  return Array.from({ length: CLIPS }, (_, j) => Math.round((j * room) / (CLIPS - 1)));
}

/** The clip tensor [T, 16, 16, 5]: RGB / 255, then flow (u, v) between consecutive frames. */
function clipTensor(frames: Uint8Array[], start: number): Float32Array {
  const n = SIZE * SIZE;
  const out = new Float32Array(T * n * 5);
  const flow = new OpticalFlow(SIZE, SIZE);
  const picked = Array.from({ length: T + 1 }, (_, i) => frames[start + i * STRIDE]);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[(t * n + p) * 5 + c] = picked[t][p * 3 + c] / 255;
    flow.compute(rgbToLuma(picked[t]), rgbToLuma(picked[t + 1]));
    for (let p = 0; p < n; p++) {
      out[(t * n + p) * 5 + 3] = flow.u[p];
      out[(t * n + p) * 5 + 4] = flow.v[p];
    }
  }
  return out;
}

/** Per-channel statistics of one sample's activation [T', H', W', C] (first maximum in t, y, x order). */
function reduce(a: Float32Array, shape: number[]): Stat[] {
  const [t, h, w, C] = shape;
  const P = t * h * w;
  return Array.from({ length: C }, (_, c) => {
    let max = -Infinity;
    let sum = 0;
    let zero = 0;
    let at = 0;
    for (let p = 0; p < P; p++) {
      const v = a[p * C + c];
      if (v > max) {
        max = v;
        at = p;
      }
      sum += v;
      if (v === 0) zero++;
    }
    return { max, mean: sum / P, zero: zero / P, arg: [Math.floor(at / (h * w)), Math.floor((at % (h * w)) / w), at % w] as [number, number, number] };
  });
}

/** layer -> sample id -> per-channel stats, from the re-implementation. */
const expected = new Map<string, Map<number, Stat[]>>();

beforeAll(async () => {
  await setupBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-video-'));
  ds = await makeVideoDataset(path.join(dir, 'videos'));
  const model = buildTwoStream({ frames: T, height: SIZE, width: SIZE, appearance: 3, motion: 2, classes: 2, width0: 8 }, 3);
  await saveModelDir(model, path.join(dir, 'ckpt', 'ckpt-000000'), { step: 0 });
  // A second checkpoint (other weights): statistics over training work for clips too.
  const later = buildTwoStream({ frames: T, height: SIZE, width: SIZE, appearance: 3, motion: 2, classes: 2, width0: 8 }, 4);
  await saveModelDir(later, path.join(dir, 'ckpt', 'ckpt-000100'), { step: 100 });
  later.dispose();
  await fs.writeFile(
    path.join(dir, 'spec.yaml'),
    [
      'name: video-test',
      'store: store',
      'dataset:',
      '  name: squares',
      `  source: { kind: video, root: videos, frames: ${T}, stride: ${STRIDE}, clips_per_video: ${CLIPS} }`,
      'model:',
      '  name: two-stream',
      '  checkpoints: ckpt/ckpt-*',
      `  input: { height: ${SIZE}, width: ${SIZE}, channels: 3, motion: flow }`,
      `layers: [${LAYERS.join(', ')}]`,
      'codes: [fusion]',
      'ablate: [appearance, motion]',
      'embed: [{ layer: fusion, method: pca }]',
      `topk: ${TOPK}`,
      'shard_size: 7',
      'batch_size: 3',
      'max_error_rate: 1',
    ].join('\n'),
  );
  const summary = await runPipeline(await loadSpec(path.join(dir, 'spec.yaml')), { workers: 2, backend: 'wasm' });
  expect(summary.status).toBe('succeeded');
  // Each checkpoint: the full model, then the two stream ablations.
  expect(summary.checkpoints.map((c) => [c.step, (c as { model?: string }).model ?? MODEL])).toEqual(
    [0, 100].flatMap((s) => [[s, MODEL], [s, `${MODEL}.no-appearance`], [s, `${MODEL}.no-motion`]]),
  );

  // The re-implementation. Sample ids: videos in sorted path order (broken ones included), CLIPS each.
  const files = [...ds.good.map((g) => g.rel), ...Object.keys(ds.broken)].sort();
  const taps = tfl.model({ inputs: model.inputs, outputs: LAYERS.map((l) => model.getLayer(l).output as tfl.SymbolicTensor) });
  for (const l of LAYERS) expected.set(l, new Map());
  for (const [v, rel] of files.entries()) {
    const good = ds.good.find((g) => g.rel === rel);
    if (!good) continue;
    const frames = decodeAllFrames(path.join(ds.root, rel), SIZE, SIZE);
    expect(frames.length).toBe(good.frames);
    for (const [j, s] of starts(frames.length).entries()) {
      const x = tf.tensor(clipTensor(frames, s), [1, T, SIZE, SIZE, 5]);
      const outs = taps.predict(x) as ReturnType<typeof tf.tensor>[];
      outs.forEach((o, k) => expected.get(LAYERS[k])!.set(v * CLIPS + j, reduce(o.dataSync() as Float32Array, o.shape.slice(1) as number[])));
      tf.dispose([x, ...outs]);
    }
  }
  store = await Store.open(path.join(dir, 'store'), { readOnly: true });
}, 600_000);

afterAll(async () => {
  store?.dispose();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('video pipeline', () => {
  it('lists every clip in samples with its video, start, frames and stride', async () => {
    const rows = await store.query<{ sample_id: number; uri: string; label: number; video_start: number | null; video_frames: number; video_stride: number }>(
      'SELECT sample_id, uri, label, video_start, video_frames, video_stride FROM samples ORDER BY sample_id',
    );
    const files = [...ds.good.map((g) => g.rel), ...Object.keys(ds.broken)].sort();
    expect(rows.length).toBe(files.length * CLIPS);
    for (const r of rows) {
      const rel = files[Math.floor(r.sample_id / CLIPS)];
      expect(path.relative(ds.root, r.uri)).toBe(rel);
      expect(r.label).toBe(rel.startsWith('left/') ? 0 : 1);
      expect([r.video_frames, r.video_stride]).toEqual([T, STRIDE]);
      const good = ds.good.find((g) => g.rel === rel);
      const unreadable = ['left/empty.mp4', 'left/notvideo.mp4', 'left/short.mp4'].includes(rel);
      if (good) expect(r.video_start).toBe(starts(good.frames)[r.sample_id % CLIPS]);
      else if (unreadable) expect(r.video_start).toBeNull();
    }
  });

  it('records each broken video as error rows naming the file and the reason; the rest is stored', async () => {
    const errs = await store.query<{ sample_id: number; uri: string; stage: string; reason: string }>(`SELECT sample_id, uri, stage, reason FROM errors WHERE ${AT0} ORDER BY sample_id`);
    const byFile = new Map<string, string[]>();
    for (const e of errs) byFile.set(path.relative(ds.root, e.uri), [...(byFile.get(path.relative(ds.root, e.uri)) ?? []), e.reason]);
    expect([...byFile.keys()].sort()).toEqual(Object.keys(ds.broken).sort());
    for (const reasons of byFile.values()) expect(reasons.length).toBe(CLIPS);
    expect(byFile.get('left/empty.mp4')![0]).toBe('file is empty (0 bytes)');
    expect(byFile.get('left/notvideo.mp4')![0]).toMatch(/^not a readable video \(.*Invalid data/);
    expect(byFile.get('left/short.mp4')![0]).toBe('video too short: it has 3 frames, a clip of 4 frames (+1 after it for motion) every 2 frame(s) needs 9');
    // Truncated mid-stream: the header promises 120 frames; the clips past the cut fail at decode.
    expect(byFile.get('left/truncated.mp4')!.at(-1)).toMatch(/^clip at frame \d+: (corrupt or truncated video data|video ended early)/);
    const clips = await store.query<{ n: bigint }>(`SELECT count(DISTINCT sample_id) AS n FROM activations WHERE layer = 'fusion' AND ${AT0}`);
    expect(Number(clips[0].n)).toBe(ds.good.length * CLIPS);
  });

  it('stores per-clip max, mean, zero fraction and argmax (t, y, x) equal to the re-implementation', async () => {
    for (const layer of LAYERS) {
      const rows = await store.query<{ sample_id: number; channel: number; max: number; mean: number; zero_frac: number; argmax_t: number; argmax_y: number; argmax_x: number }>(
        `SELECT sample_id, channel, max, mean, zero_frac, argmax_t, argmax_y, argmax_x FROM activations WHERE layer = '${layer}' AND ${AT0} ORDER BY sample_id, channel`,
      );
      const exp = expected.get(layer)!;
      expect(rows.length).toBe([...exp.values()].reduce((n, s) => n + s.length, 0));
      for (const r of rows) {
        const e = exp.get(r.sample_id)![r.channel];
        expect(r.max).toBeCloseTo(e.max, 4);
        expect(r.mean).toBeCloseTo(e.mean, 4);
        expect(r.zero_frac).toBeCloseTo(e.zero, 6);
        if (e.max > 0) expect([r.argmax_t, r.argmax_y, r.argmax_x]).toEqual(e.arg);
      }
    }
  });

  it('keeps the exact top-k clips per unit', async () => {
    for (const layer of ['mot_conv2', 'fusion']) {
      const exp = expected.get(layer)!;
      const C = exp.values().next().value!.length;
      const rows = await store.query<{ channel: number; rank: number; sample_id: number; value: number; argmax_t: number }>(
        `SELECT channel, rank, sample_id, value, argmax_t FROM topk WHERE layer = '${layer}' AND ${AT0} ORDER BY channel, rank`,
      );
      for (let c = 0; c < C; c++) {
        const want = [...exp.entries()]
          .map(([id, s]) => ({ id, max: s[c].max, t: s[c].arg[0] }))
          .sort((a, b) => b.max - a.max || a.id - b.id)
          .slice(0, TOPK);
        const got = rows.filter((r) => r.channel === c);
        // Ranks may swap only between values equal to float32 precision.
        expect(got.map((r) => r.value)).toEqual(want.map((w) => expect.closeTo(w.max, 4)));
        got.forEach((r, k) => {
          if (Math.abs(want[k].max - (want[k + 1]?.max ?? -Infinity)) > 1e-4 && Math.abs(want[k].max - (want[k - 1]?.max ?? Infinity)) > 1e-4) {
            expect(r.sample_id).toBe(want[k].id);
            if (want[k].max > 0) expect(r.argmax_t).toBe(want[k].t);
          }
        });
      }
    }
  });

  it('aggregates clips per video (top_k_videos) from the same per-clip maxima', async () => {
    const res = await runQuery(store, await getQuery('top_k_videos'), { layer: 'fusion', channel: 0, k: 3, step: 0, model: MODEL });
    const exp = expected.get('fusion')!;
    const files = [...ds.good.map((g) => g.rel), ...Object.keys(ds.broken)].sort();
    const perVideo = new Map<string, { max: number; clips: number }>();
    for (const [id, s] of exp) {
      const rel = files[Math.floor(id / CLIPS)];
      const cur = perVideo.get(rel) ?? { max: -Infinity, clips: 0 };
      perVideo.set(rel, { max: Math.max(cur.max, s[0].max), clips: cur.clips + 1 });
    }
    const want = [...perVideo.entries()].sort((a, b) => b[1].max - a[1].max || (a[0] < b[0] ? -1 : 1)).slice(0, 3);
    const rows = resultRows(res) as { uri: string; value: number; clips: bigint | number }[];
    expect(rows.map((r) => path.relative(ds.root, r.uri))).toEqual(want.map((w) => w[0]));
    rows.forEach((r, k) => {
      expect(r.value).toBeCloseTo(want[k][1].max, 4);
      expect(Number(r.clips)).toBe(want[k][1].clips);
    });
  });

  it('says which stream drives each unit, from the ablation passes (stream_drivers)', async () => {
    // Zeroing the motion channels leaves the appearance stream exactly as it was, and the reverse.
    const same = await store.query<{ layer: string; n: bigint; diff: number }>(
      `SELECT f.layer, count(*) AS n, max(abs(f.max - a.max)) AS diff FROM activations f
       JOIN activations a ON a.sample_id = f.sample_id AND a.layer = f.layer AND a.channel = f.channel AND a.step = f.step
       WHERE f.model = '${MODEL}' AND ((f.layer LIKE 'app_%' AND a.model = '${MODEL}.no-motion') OR (f.layer LIKE 'mot_%' AND a.model = '${MODEL}.no-appearance'))
       GROUP BY f.layer ORDER BY f.layer`,
    );
    expect(same.map((r) => r.layer)).toEqual(['app_conv1', 'app_conv2', 'mot_conv1', 'mot_conv2', 'mot_conv3']);
    for (const r of same) expect(r.diff).toBe(0);
    const def = await getQuery('stream_drivers');
    for (const [layer, want] of [['app_conv1', 'appearance'], ['mot_conv2', 'motion']] as const) {
      const rows = resultRows(await runQuery(store, def, { layer, step: 0 })) as { driver: string; drop_appearance: number | null; drop_motion: number | null }[];
      expect(rows.length).toBe(expected.get(layer)!.values().next().value!.length);
      for (const r of rows) {
        expect(['silent', want]).toContain(r.driver);
        if (r.driver === 'silent') continue;
        // Drops are 1 and 0 up to the float64 rounding of merging shard partials in another order.
        const [own, other] = want === 'appearance' ? [r.drop_appearance!, r.drop_motion!] : [r.drop_motion!, r.drop_appearance!];
        expect(own).toBeCloseTo(1, 12);
        expect(other).toBeCloseTo(0, 12);
      }
      expect(rows.some((r) => r.driver === want)).toBe(true);
    }
    const fusion = resultRows(await runQuery(store, def, { layer: 'fusion', step: 0, threshold: 0.3 })) as { channel: number; driver: string; mean: number; mean_no_appearance: number; mean_no_motion: number; drop_appearance: number; drop_motion: number }[];
    for (const r of fusion) {
      if (r.mean <= 0) continue;
      expect(r.drop_appearance).toBeCloseTo(1 - r.mean_no_appearance / r.mean, 10);
      const need = [r.drop_appearance >= 0.3, r.drop_motion >= 0.3];
      expect(r.driver).toBe(need[0] && need[1] ? 'fusion' : need[0] ? 'appearance' : need[1] ? 'motion' : 'either');
    }
  });

  it('answers the image questions for clips: dead units, sparsity over training, selectivity, confusions, embeddings', async () => {
    const q = async (name: string, params: Record<string, string | number>) => resultRows(await runQuery(store, await getQuery(name), { model: MODEL, ...params }));
    const sparsity = (await q('sparsity_over_training', { layer: 'fusion' })) as { step: bigint | number }[];
    expect([...new Set(sparsity.map((r) => Number(r.step)))]).toEqual([0, 100]);
    const dead = (await q('dead_filters', { layer: 'fusion', step: 0 })) as { channel: number }[];
    const exp = expected.get('fusion')!;
    const C = exp.values().next().value!.length;
    const wantDead = Array.from({ length: C }, (_, c) => c).filter((c) => [...exp.values()].every((s) => s[c].max <= 0));
    expect(dead.map((r) => r.channel).sort((a, b) => a - b)).toEqual(wantDead);
    const sel = (await q('class_selectivity', { layer: 'mot_conv3', step: 0 })) as { labels: number[] }[];
    expect(sel.length).toBeGreaterThan(0);
    expect([...sel[0].labels]).toEqual([0, 1]);
    const preds = await store.query<{ n: bigint }>(`SELECT count(*) AS n FROM predictions WHERE ${AT0}`);
    expect(Number(preds[0].n)).toBe(ds.good.length * CLIPS);
    // Every misclassified clip is in exactly one (label, pred) pair.
    const conf = (await q('confusions', { step: 0, k: 100 })) as { n: bigint | number }[];
    const wrong = await store.query<{ n: bigint }>(`SELECT count(*) AS n FROM predictions WHERE ${AT0} AND pred <> label`);
    expect(conf.reduce((n, r) => n + Number(r.n), 0)).toBe(Number(wrong[0].n));
    expect(await q('confusion_neurons', { layer: 'fusion', class_a: 0, class_b: 1, step: 0 })).not.toHaveLength(0);
    const points = (await q('embedding_points', { layer: 'fusion', method: 'pca' })) as { sample_id: number; uri: string }[];
    expect(points.length).toBe(ds.good.length * CLIPS);
  });
});
