/**
 * The clip routes of `neurolens serve` (src/server/clips.ts) on a real store: H.264 videos made
 * by ffmpeg, the two-stream network with optical-flow channels, the real pipeline; in the same
 * store an image dataset (the IDX fixture) for the refusals. Pictures are compared with what the
 * library and a separate ffmpeg call say: strip pixels = the clip's frames decoded by ffmpeg,
 * the motion row = the pipeline's flow in Middlebury colours, the GIF's pages and delays = the
 * clip's frames at its rate, clips.png's rows = `top_k_activators`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { clipPictures } from '../src/render/clip-frames.js';
import { clipInput, openClipRun } from '../src/render/clip-source.js';
import { flowToRgb, maxFlowMagnitude } from '../src/render/flow-color.js';
import { startServer, type RunningServer } from '../src/server/index.js';
import { Store } from '../src/storage/index.js';
import { makePipelineFixture } from './fixtures/pipeline.js';
import { makeVideoStore, type VideoStore } from './fixtures/video-store.js';
import { decodeAllFrames } from './fixtures/videos.js';

const TOKEN = 'clips-token-41';
let tmp: string;
let vs: VideoStore;
let server: RunningServer;
let direct: Store;
type Sample = { sample_id: number; uri: string; video_start: number | null; video_frames: number; video_stride: number };
let samples: Sample[];

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-server-clips-'));
  vs = await makeVideoStore(tmp);
  // An image dataset in the same store (its spec also says `store: store` in this directory).
  const fx = await makePipelineFixture(tmp, 8);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  direct = await Store.open(vs.store, { readOnly: true });
  samples = await direct.query(`SELECT sample_id, uri, video_start, video_frames, video_stride FROM samples WHERE dataset = 'squares' ORDER BY sample_id`);
  server = await startServer({ store: vs.store, port: 0, token: TOKEN });
}, 300_000);

afterAll(async () => {
  await server?.close();
  direct?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const get = (p: string) => fetch(`${server.url}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });

async function body(p: string): Promise<{ r: Response; buf: Buffer }> {
  const r = await get(p);
  const buf = Buffer.from(await r.arrayBuffer());
  if (!r.ok) throw new Error(`${p}: ${r.status} ${buf.toString()}`);
  return { r, buf };
}

async function raw(buf: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(buf).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** RGB of (x, y) in a raw RGB buffer of width w. */
const px = (d: Uint8Array, w: number, x: number, y: number) => [...d.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];

/** A clip of a good video (the first videos are broken files). */
const good = (): Sample => samples.find((s) => s.video_start !== null && s.video_start > 0)!;

/** The clip's frames by a separate ffmpeg call (area scaling to the model's 16 x 16, as decode does). */
function ffmpegClip(s: Sample): Uint8Array[] {
  const all = decodeAllFrames(s.uri, vs.size, vs.size);
  return Array.from({ length: s.video_frames }, (_, i) => all[s.video_start! + i * s.video_stride]!);
}

describe('GET /api/samples/:dataset/:id/strip.png', () => {
  it("is the clip's frames side by side, pixel for pixel as ffmpeg decodes them at the model's size", async () => {
    const s = good();
    const { r, buf } = await body(`/api/samples/squares/${s.sample_id}/strip.png`);
    expect(r.headers.get('content-type')).toBe('image/png');
    expect(r.headers.get('x-neurolens-frames')).toBe(String(vs.frames));
    expect(r.headers.get('x-neurolens-clip-start')).toBe(String(s.video_start));
    const img = await raw(buf);
    expect([img.width, img.height]).toEqual([vs.frames * vs.size, vs.size]);
    const want = ffmpegClip(s);
    for (let t = 0; t < vs.frames; t++) {
      for (let y = 0; y < vs.size; y++) {
        for (let x = 0; x < vs.size; x++) expect(px(img.data, img.width, t * vs.size + x, y), `frame ${t} (${x}, ${y})`).toEqual(px(want[t]!, vs.size, x, y));
      }
    }
  });

  it('height= scales every frame (nearest: pixels repeat, never blur)', async () => {
    const s = good();
    const img = await raw((await body(`/api/samples/squares/${s.sample_id}/strip.png?height=48`)).buf);
    expect([img.width, img.height]).toEqual([vs.frames * 48, 48]);
    const want = ffmpegClip(s);
    for (const [t, x, y] of [[0, 0, 0], [1, 5, 7], [3, 15, 15], [2, 8, 3]] as const) {
      expect(px(img.data, img.width, t * 48 + x * 3 + 1, y * 3 + 1)).toEqual(px(want[t]!, vs.size, x, y));
    }
  });

  it("flow=1 adds a row with the pipeline's optical flow in Middlebury colours (one scale for the clip)", async () => {
    const s = good();
    const { r, buf } = await body(`/api/samples/squares/${s.sample_id}/strip.png?flow=1`);
    expect(r.headers.get('x-neurolens-motion')).toBe('flow');
    const img = await raw(buf);
    expect([img.width, img.height]).toEqual([vs.frames * vs.size, 2 * vs.size]);
    const run = await openClipRun(vs.store, { dataset: 'squares' });
    const motion = clipPictures(await clipInput(run, s.sample_id), run.layout, run.pre).motion;
    if (motion?.kind !== 'flow') throw new Error('the fixture model takes flow');
    const max = Math.max(...motion.u.map((u, t) => maxFlowMagnitude(u, motion.v[t]!)));
    expect(max).toBeGreaterThan(0); // the square moves
    let coloured = 0;
    for (let t = 0; t < vs.frames; t++) {
      const want = flowToRgb(motion.u[t]!, motion.v[t]!, vs.size, vs.size, { maxMagnitude: max });
      for (let y = 0; y < vs.size; y++) {
        for (let x = 0; x < vs.size; x++) {
          const got = px(img.data, img.width, t * vs.size + x, vs.size + y);
          expect(got, `flow ${t} (${x}, ${y})`).toEqual(px(want.data, vs.size, x, y));
          if (got.some((c) => c < 250)) coloured++;
        }
      }
    }
    expect(coloured).toBeGreaterThan(0);
  });
});

describe('GET /api/samples/:dataset/:id/clip.gif', () => {
  it('loops the clip: one page per frame, the delay of the clip rate (video fps / stride)', async () => {
    const s = good();
    const { r, buf } = await body(`/api/samples/squares/${s.sample_id}/clip.gif`);
    expect(r.headers.get('content-type')).toBe('image/gif');
    const fps = 25 / s.video_stride; // the fixture videos are written at 25 fps
    expect(Number(r.headers.get('x-neurolens-fps'))).toBeCloseTo(fps, 6);
    const meta = await sharp(buf, { animated: true }).metadata();
    expect(meta.format).toBe('gif');
    expect(meta.pages).toBe(vs.frames);
    expect(meta.loop).toBe(0);
    expect([meta.width, meta.pageHeight]).toEqual([vs.size, vs.size]);
    // GIF delays are whole centiseconds.
    for (const d of meta.delay!) expect(Math.abs(d - 1000 / fps)).toBeLessThanOrEqual(10);
    // Every page is its frame (up to the GIF palette).
    const want = ffmpegClip(s);
    for (let t = 0; t < vs.frames; t++) {
      const page = await sharp(buf, { page: t }).removeAlpha().raw().toBuffer();
      let diff = 0;
      for (let i = 0; i < page.length; i++) diff += Math.abs(page[i]! - want[t]![i]!);
      expect(diff / page.length, `page ${t}`).toBeLessThan(4);
    }
  });

  it('<id>.gif (next to <id>.png) is the same animation', async () => {
    const s = good();
    const a = (await body(`/api/samples/squares/${s.sample_id}/clip.gif`)).buf;
    const b = (await body(`/api/samples/squares/${s.sample_id}.gif`)).buf;
    expect(b.equals(a)).toBe(true);
  });
});

describe('GET /api/neurons/:layer/:channel/clips.png', () => {
  it('draws the top_k_activators clips of the unit, in rank order, as strips', async () => {
    for (const [layer, channel] of [['fusion', 1], ['mot_conv2', 0]] as const) {
      const want = resultRows(await runQuery(direct, await getQuery('top_k_activators'), { layer, channel, k: 4, dataset: 'squares' }));
      const { r, buf } = await body(`/api/neurons/${layer}/${channel}/clips.png?k=4&dataset=squares`);
      expect(r.headers.get('x-neurolens-rows')).toBe(String(want.length));
      expect(r.headers.get('x-neurolens-samples')).toBe(want.map((w) => String(w.sample_id)).join(','));
      expect(r.headers.get('x-neurolens-step')).toBe(String(want[0]!.step));
      const meta = await sharp(buf).metadata();
      // One strip row per clip: at least T cells of 64 px across and a 64 px row per clip.
      expect(meta.width!).toBeGreaterThan(vs.frames * 64);
      expect(meta.height!).toBeGreaterThan(want.length * 64);
      const again = await get(`/api/neurons/${layer}/${channel}/clips.png?k=4&dataset=squares`);
      expect(again.headers.get('x-neurolens-cache')).toBe('hit');
      expect(Buffer.from(await again.arrayBuffer()).equals(buf)).toBe(true);
    }
  });
});

describe('errors', () => {
  async function fails(p: string, status: number, message: RegExp): Promise<void> {
    const r = await get(p);
    const b = (await r.json()) as { error: string };
    expect(r.status, `${p}: ${b.error}`).toBe(status);
    expect(b.error).toMatch(message);
  }

  it('an image dataset is refused with 400 naming the .png route', async () => {
    await fails('/api/samples/edges/2/strip.png', 400, /sample 2 of dataset 'edges' is an image.*\/api\/samples\/edges\/2\.png/);
    await fails('/api/samples/edges/2/clip.gif', 400, /is an image/);
    await fails('/api/neurons/conv1/0/clips.png?dataset=edges', 400, /clips\.png: .*'edges'.*video/);
  });

  it('ids outside the dataset, unknown datasets and non-numeric ids are 404', async () => {
    await fails(`/api/samples/squares/${samples.length}/strip.png`, 404, new RegExp(`sample ${samples.length} is not in dataset 'squares'`));
    await fails('/api/samples/squares/999/clip.gif', 404, /sample 999/);
    await fails('/api/samples/nosuch/0/strip.png', 404, /nosuch/);
    await fails('/api/samples/squares/x1/strip.png', 404, /numeric sample id/);
  });

  it('bad parameters are 400 naming them', async () => {
    const id = good().sample_id;
    await fails(`/api/samples/squares/${id}/strip.png?flow=2`, 400, /flow must be 0 or 1/);
    await fails(`/api/samples/squares/${id}/strip.png?height=3`, 400, /height must be an integer in 8\.\.512/);
    await fails(`/api/samples/squares/${id}/clip.gif?fps=3`, 400, /unknown parameter fps/);
    await fails('/api/neurons/fusion/0/clips.png?k=0', 400, /k must be an integer/);
    await fails('/api/neurons/fusion/x/clips.png', 400, /channel must be an integer/);
    await fails('/api/neurons/fusion/0/clips.png?tile=3', 400, /unknown parameter tile/);
  });

  it('a clip of a broken video is 422 naming the file and the reason', async () => {
    const bad = samples.find((s) => s.uri.endsWith('empty.mp4'))!;
    await fails(`/api/samples/squares/${bad.sample_id}/strip.png`, 422, /empty\.mp4.*empty/);
  });

  it('needs the token like the rest of /api', async () => {
    expect((await fetch(`${server.url}/api/samples/squares/${good().sample_id}/strip.png`)).status).toBe(401);
  });
});
