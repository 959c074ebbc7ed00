/**
 * The clip picture commands on a real video store (H.264 files by ffmpeg, the two-stream network,
 * the real pipeline): clip frames read back for pictures (the middle frame at the video's size,
 * a clip's T / T + 1 frames), `render clips` (strips with the argmax frame and receptive field,
 * GIF / MP4 read back with ffprobe), `render actmax-clip` (one row per kappa, sidecar numbers,
 * normalised by the dataset max) and `render clip-attribution` (Grad-CAM / saliency per frame).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNeurolensError } from '../src/errors.js';
import { setupBackend } from '../src/model/backend.js';
import { tf } from '../src/model/tf.js';
import { registerActmaxClip } from '../src/cli/render-actmax-clip.js';
import { registerClipAttribution } from '../src/cli/render-clip-attribution.js';
import { registerRenderClips } from '../src/cli/render-clips.js';
import { openClipRun, type ClipRun } from '../src/render/clip-source.js';
import { loadSampleImage } from '../src/stages/decode.js';
import { Store } from '../src/storage/store.js';
import { loadClipFrames } from '../src/video/sample-frames.js';
import { decodeAllFrames } from './fixtures/videos.js';
import { makeVideoStore, type VideoStore } from './fixtures/video-store.js';

let tmp: string;
let vs: VideoStore;
let clips: ClipRun;
/** Clip samples with their video and start, from the store's samples table. */
let samples: { sample_id: number; uri: string; video_start: number | null }[];

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-clip-cli-'));
  vs = await makeVideoStore(tmp);
  clips = await openClipRun(vs.store);
  const store = await Store.open(vs.store, { readOnly: true });
  try {
    samples = await store.query('SELECT sample_id, uri, video_start FROM samples ORDER BY sample_id');
  } finally {
    store.dispose();
  }
}, 600_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Runs `render ARGS --json --backend wasm` in process and parses what it printed. */
async function render<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const chunks: string[] = [];
  const sink = { write: (c: string | Uint8Array) => chunks.push(String(c)) };
  const program = new Command().exitOverride();
  const r = program.command('render');
  registerRenderClips(r, sink);
  registerActmaxClip(r, sink);
  registerClipAttribution(r, sink);
  await program.parseAsync(['render', ...args, '--json', '--backend', 'wasm'], { from: 'user' });
  return JSON.parse(chunks.join('')) as T;
}

async function renderError(args: string[]): Promise<{ code: string; message: string }> {
  try {
    await render(args);
  } catch (e) {
    expect(isNeurolensError(e), String(e)).toBe(true);
    return { code: (e as { code: string }).code, message: (e as Error).message };
  }
  throw new Error(`render ${args.join(' ')} did not fail`);
}

function ffprobe(file: string): { frames: number; width: number; height: number; codec: string } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames,width,height,codec_name', '-of', 'json', file], { encoding: 'utf8' });
  const s = (JSON.parse(r.stdout) as { streams: Record<string, string | number>[] }).streams[0]!;
  return { frames: Number(s.nb_read_frames), width: Number(s.width), height: Number(s.height), codec: String(s.codec_name) };
}

async function pixels(file: string): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

const count = (img: { data: Buffer }, c: number[]) => {
  let n = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) n++;
  return n;
};

const goodSample = () => samples.find((s) => s.video_start !== null && s.video_start >= 0)!;

describe('clip frames for pictures', () => {
  it('opens the run source as the pipeline did: the same clip starts as the samples table', () => {
    for (const s of samples) {
      const ref = clips.source.refs(s.sample_id, s.sample_id + 1)[0]!;
      expect(ref.uri).toBe(s.uri);
      if (s.video_start !== null && s.video_start >= 0) expect(ref.clip!.start).toBe(s.video_start);
    }
  });

  it("loadSampleImage of a clip is its middle input frame at the video's own size; loadClipFrames gives T or T + 1 frames", async () => {
    const s = goodSample();
    const all = decodeAllFrames(s.uri, 32, 24);
    const img = await loadSampleImage(clips.source, s.sample_id);
    expect([img.width, img.height, img.channels]).toEqual([32, 24, 3]);
    const middle = s.video_start! + Math.floor(vs.frames / 2) * vs.stride;
    expect(Buffer.from(img.data).equals(Buffer.from(all[middle]!))).toBe(true);
    const small = decodeAllFrames(s.uri, 16, 16);
    const c = await loadClipFrames(clips.source, s.sample_id, { width: 16, height: 16 });
    expect(c.frames.length).toBe(vs.frames);
    expect(c.numbers).toEqual(Array.from({ length: vs.frames }, (_, i) => s.video_start! + i * vs.stride));
    c.frames.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(small[c.numbers[i]!]!)), `frame ${i}`).toBe(true));
    expect((await loadClipFrames(clips.source, s.sample_id, { width: 16, height: 16, next: true })).frames.length).toBe(vs.frames + 1);
  });

  it('a clip of a broken video is a BAD_INPUT error naming the file and the reason', async () => {
    const bad = samples.find((s) => s.uri.endsWith('empty.mp4'))!;
    await expect(loadSampleImage(clips.source, bad.sample_id)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/empty\.mp4.*empty/) });
  });
});

interface ClipsInfo {
  width: number;
  height: number;
  frames?: number;
  receptiveField: { size: number[]; time: { size: number; jump: number } | null };
  clips: { sampleId: number; argmax: { t: number }; argmaxFrame: number; frames: { first: number; end: number } | null; box: object | null }[];
}

describe('render clips', () => {
  it('PNG strips: top-k clips, argmax frame outlined (red) inside the frames the position sees, its box (green); --motion adds a flow row', async () => {
    const out = path.join(tmp, 'clips.png');
    const info = await render<ClipsInfo>(['clips', '--store', vs.store, '--layer', 'mot_conv3', '--channel', '0', '--k', '3', '--out', out]);
    expect(info.clips.length).toBe(3);
    expect(info.receptiveField.time).toMatchObject({ size: 10, jump: 2 });
    for (const c of info.clips) {
      expect(c.frames!.first).toBeLessThanOrEqual(c.argmaxFrame);
      expect(c.argmaxFrame).toBeLessThan(c.frames!.end);
      expect(c.box).not.toBeNull();
    }
    const img = await pixels(out);
    expect([img.width, img.height]).toEqual([info.width, info.height]);
    expect(count(img, [255, 0, 0])).toBeGreaterThan(3 * 4 * 60); // three outlines, 2 px around 64 px cells
    expect(count(img, [0, 255, 0])).toBeGreaterThan(0);
    const withMotion = await render<ClipsInfo>(['clips', '--store', vs.store, '--layer', 'mot_conv3', '--channel', '0', '--k', '3', '--motion', '--out', path.join(tmp, 'clips-motion.png')]);
    expect(withMotion.height).toBeGreaterThan(info.height + 3 * 60);
    // Appearance units see one frame: the range is exactly the argmax frame.
    const app = await render<ClipsInfo>(['clips', '--store', vs.store, '--layer', 'app_conv2', '--channel', '1', '--k', '2', '--out', path.join(tmp, 'app.png')]);
    for (const c of app.clips) expect(c.frames).toEqual({ first: c.argmax.t, end: c.argmax.t + 1 });
  }, 120_000);

  it('GIF and MP4: one output frame per clip frame, the size the JSON reports', async () => {
    const gif = path.join(tmp, 'clips.gif');
    const g = await render<ClipsInfo>(['clips', '--store', vs.store, '--layer', 'fusion', '--channel', '2', '--k', '4', '--out', gif]);
    expect(g.frames).toBe(vs.frames);
    expect(ffprobe(gif)).toMatchObject({ frames: vs.frames, width: g.width, height: g.height, codec: 'gif' });
    const mp4 = path.join(tmp, 'clips.mp4');
    const m = await render<ClipsInfo>(['clips', '--store', vs.store, '--layer', 'fusion', '--channel', '2', '--k', '4', '--motion', '--out', mp4]);
    const p = ffprobe(mp4);
    expect(p).toMatchObject({ frames: vs.frames, codec: 'h264' });
    expect([p.width - (m.width % 2), p.height - (m.height % 2)]).toEqual([m.width, m.height]);
  }, 120_000);

  it('a layer without statistics is NOT_FOUND', async () => {
    const e = await renderError(['clips', '--store', vs.store, '--layer', 'mot_pool2', '--channel', '0', '--out', path.join(tmp, 'x.png')]);
    expect(e.code).toBe('NOT_FOUND');
  });
});

interface ActmaxClipSidecar {
  kappas: number[];
  activation: number[];
  slowness: number | null;
  streams: { appearance: number; motion: number };
  normalization: { datasetMax: number | null; note: string | null };
  image: { width: number; height: number };
  perKappa: { kappa: number; motion: { temporalFrequency: number } | null; settings: { motion: { kappa: number } } }[];
}

describe('render actmax-clip', () => {
  it('one row per kappa for a motion, an appearance and a fusion unit, normalised by the dataset max; sidecar F.png.json', async () => {
    const store = await Store.open(vs.store, { readOnly: true });
    let units: { layer: string; channel: number; max: number }[];
    try {
      units = await store.query("SELECT layer, arg_max(channel, max) AS channel, max(max) AS max FROM neuron_stats WHERE layer IN ('mot_conv2', 'app_conv2', 'fusion') GROUP BY layer ORDER BY layer");
    } finally {
      store.dispose();
    }
    expect(units.length).toBe(3);
    let oneRow = 0;
    for (const u of units) {
      const out = path.join(tmp, `actmax-${u.layer}.png`);
      const s = await render<ActmaxClipSidecar>(['actmax-clip', '--store', vs.store, '--layer', u.layer, '--channel', String(u.channel), '--kappa', '0,10', '--steps', '6', '--out', out]);
      expect(s.kappas).toEqual([0, 10]);
      expect(s.activation.length).toBe(2);
      expect(s.normalization.datasetMax).toBeCloseTo(u.max, 4);
      expect(s.perKappa.map((k) => k.settings.motion.kappa)).toEqual([0, 10]);
      expect(s.streams).toEqual({ appearance: 3, motion: 2 });
      expect(JSON.parse(await fs.readFile(`${out}.json`, 'utf8'))).toEqual(s);
      const img = await pixels(out);
      expect([img.width, img.height]).toEqual([s.image.width, s.image.height]);
      oneRow = oneRow || img.height;
    }
    // A single kappa: one row (frames + flow), no slowness.
    const single = await render<ActmaxClipSidecar>(['actmax-clip', '--model-dir', vs.modelDir, '--layer', 'mot_conv1', '--channel', '0', '--kappa', '1', '--steps', '4', '--out', path.join(tmp, 'one.png')]);
    expect(single.slowness).toBeNull();
    expect(single.normalization.datasetMax).toBeNull();
    expect(single.image.height).toBeLessThan(oneRow);
  }, 300_000);

  it('errors name the option', async () => {
    expect(await renderError(['actmax-clip', '--layer', 'fusion', '--channel', '0', '--out', path.join(tmp, 'x.png')])).toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/--store.*--model-dir/) });
    expect(await renderError(['actmax-clip', '--model-dir', vs.modelDir, '--layer', 'fusion', '--channel', '999', '--steps', '2', '--out', path.join(tmp, 'x.png')])).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/channel 999/) });
  }, 60_000);
});

interface AttributionInfo {
  width: number;
  height: number;
  rows: number;
  frames?: number;
  layer?: string;
  score: number;
  perFrame: { mean: number; max: number }[] | { appearance: { max: number }[]; motion: { max: number }[] };
}

describe('render clip-attribution', () => {
  it('Grad-CAM: one row, one heat map per frame; saliency: an appearance and a motion row; GIF frames by ffprobe', async () => {
    const s = goodSample();
    const before = tf.memory().numTensors;
    const cam = await render<AttributionInfo>(['clip-attribution', 'gradcam', '--store', vs.store, '--class', '0', '--sample', String(s.sample_id), '--out', path.join(tmp, 'cam.png')]);
    expect(cam.rows).toBe(1);
    expect(cam.layer).toBe('fusion');
    expect((cam.perFrame as unknown[]).length).toBe(vs.frames);
    const camImg = await pixels(path.join(tmp, 'cam.png'));
    expect([camImg.width, camImg.height]).toEqual([cam.width, cam.height]);
    const mot = await render<AttributionInfo>(['clip-attribution', 'gradcam', '--store', vs.store, '--neuron', 'mot_conv3:0', '--layer', 'mot_conv1', '--sample', String(s.sample_id), '--out', path.join(tmp, 'cam-mot.png')]);
    expect(mot.layer).toBe('mot_conv1');
    const sal = await render<AttributionInfo>(['clip-attribution', 'saliency', '--store', vs.store, '--class', '1', '--sample', String(s.sample_id), '--motion', '--out', path.join(tmp, 'sal.png')]);
    expect(sal.rows).toBe(2);
    const pf = sal.perFrame as { appearance: { max: number }[]; motion: { max: number }[] };
    expect(pf.appearance.length).toBe(vs.frames);
    expect(pf.motion.length).toBe(vs.frames);
    expect(pf.appearance.some((f) => f.max > 0) && pf.motion.some((f) => f.max > 0)).toBe(true);
    expect(sal.height).toBeGreaterThan(cam.height);
    const gif = path.join(tmp, 'sal.gif');
    const anim = await render<AttributionInfo>(['clip-attribution', 'saliency', '--store', vs.store, '--class', '1', '--sample', String(s.sample_id), '--out', gif]);
    expect(ffprobe(gif)).toMatchObject({ frames: vs.frames, width: anim.width, height: anim.height });
    expect(tf.memory().numTensors).toBe(before);
  }, 180_000);

  it('errors: saliency with --layer, a broken clip, a layer that is no feature map', async () => {
    const s = goodSample();
    const bad = samples.find((x) => x.uri.endsWith('truncated.mp4'))!;
    expect(await renderError(['clip-attribution', 'saliency', '--store', vs.store, '--class', '0', '--layer', 'fusion', '--sample', String(s.sample_id), '--out', path.join(tmp, 'x.png')])).toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/--layer/) });
    expect(await renderError(['clip-attribution', 'gradcam', '--store', vs.store, '--class', '0', '--sample', String(bad.sample_id), '--out', path.join(tmp, 'x.png')])).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/truncated\.mp4/) });
    expect(await renderError(['clip-attribution', 'gradcam', '--store', vs.store, '--class', '0', '--layer', 'logits', '--sample', String(s.sample_id), '--out', path.join(tmp, 'x.png')])).toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/logits/) });
  }, 120_000);
});
