/**
 * Activation maximization (src/explain/actmax*.ts) with real tfjs on the wasm backend (the
 * project's kernels), a real pipeline store, real PNG files read back with sharp, and one short
 * run on cpu.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, tfc, type tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { saveModelDir } from '../src/model/io.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { actmax, type ActmaxOptions } from '../src/explain/actmax.js';
import { renderActmax } from '../src/explain/actmax-render.js';
import { totalVariationOf } from '../src/explain/actmax-regularizers.js';
import { roll, warp, warpPlan } from '../src/explain/actmax-transforms.js';
import { createParam } from '../src/explain/actmax-param.js';
import { preprocess } from '../src/explain/actmax-objective.js';
import { mulberry32 } from '../src/train/prng.js';
import { registerActmax } from '../src/cli/render-actmax.js';
import { edgeGraph } from './fixtures/models.js';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';

const S = 28;
/** Column profile of a 7x7 vertical-edge detector (Prewitt-like, wider). */
const PROFILE = [-1, -1, -1, 0, 1, 1, 1];

/**
 * 28x28x1 -> conv `edges` 7x7 valid, ReLU, no bias: channel 0 responds to vertical edges (every
 * kernel row is PROFILE: the filter varies horizontally only), channel 1 is its transpose (a
 * horizontal-edge detector). 7 rows rather than 3: a 3x3 [-1,0,1] unit reaches at most a mean of
 * 1.5 (stripes of period 4) against 0.28 for uniform noise, too close to tell apart reliably.
 */
function edgeModel(): tfl.Sequential {
  const m = tf.sequential({ name: 'edges28' });
  m.add(tf.layers.conv2d({ name: 'edges', inputShape: [S, S, 1], filters: 2, kernelSize: 7, activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  const k = new Float32Array(7 * 7 * 2);
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      k[(r * 7 + c) * 2] = PROFILE[c]!;
      k[(r * 7 + c) * 2 + 1] = PROFILE[r]!;
    }
  }
  m.getLayer('edges').setWeights([tf.tensor4d(k, [7, 7, 1, 2]), tf.zeros([2])]);
  return m;
}

/** DFT energy of a (mean-removed) h x w image: bins with |fx| > |fy| vs |fy| > |fx|, and the two axes. */
function spectralEnergy(img: Float32Array, h: number, w: number) {
  const mean = img.reduce((a, b) => a + b, 0) / img.length;
  const e = { xCone: 0, yCone: 0, xAxis: 0, yAxis: 0 };
  for (let fy = 0; fy < h; fy++) {
    for (let fx = 0; fx < w; fx++) {
      if (fy === 0 && fx === 0) continue;
      let re = 0;
      let im = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const a = -2 * Math.PI * ((fy * y) / h + (fx * x) / w);
          re += (img[y * w + x]! - mean) * Math.cos(a);
          im += (img[y * w + x]! - mean) * Math.sin(a);
        }
      }
      const p = re * re + im * im;
      const ay = Math.min(fy, h - fy);
      const ax = Math.min(fx, w - fx);
      if (ax > ay) e.xCone += p;
      if (ay > ax) e.yCone += p;
      if (fy === 0) e.xAxis += p;
      if (fx === 0) e.yAxis += p;
    }
  }
  return e;
}

let model: tfl.Sequential;
let tmp: string;
let fx: PipelineFixture;
const target = () => ({ kind: 'layers' as const, model });
const run = (o: Partial<ActmaxOptions>) => actmax(target(), { layer: 'edges', channel: 0, steps: 48, lr: 0.1, ...o });

beforeAll(async () => {
  await setupBackend('wasm');
  model = edgeModel();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-actmax-'));
  fx = await makePipelineFixture(path.join(tmp, 'fx'), 24);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
}, 120_000);
afterAll(async () => {
  model?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('transforms', () => {
  it('roll is numpy.roll; the warp plan of 0 deg / x1 is the identity and of 90 deg an exact turn', () => {
    const x = tf.tensor4d(Float32Array.from({ length: 12 }, (_, i) => i), [1, 3, 4, 1]);
    const r = roll(x, 1, -1);
    // numpy.roll(arange(12).reshape(3,4), (1,-1), (0,1))
    expect(Array.from(r.dataSync())).toEqual([9, 10, 11, 8, 1, 2, 3, 0, 5, 6, 7, 4]);
    tf.dispose([x, r]);
    const id = warpPlan(3, 3, 1, 0);
    for (let p = 0; p < 9; p++) expect([id.index[p], id.weight[p]]).toEqual([p, 1]);
    // 90 deg counter-clockwise: output (y, x) shows input (x, w-1-y); top-right goes to top-left.
    const idx = tf.tensor4d(Float32Array.from({ length: 9 }, (_, i) => i), [1, 3, 3, 1]);
    const turned = warp(idx, warpPlan(3, 3, 1, 90));
    const t = turned.dataSync();
    for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) expect(t[y * 3 + x]).toBeCloseTo(x * 3 + (2 - y), 5);
    tf.dispose([idx, turned]);
  });

  it('warp forward and its custom gradient equal the plan matrix W x and W^T r (wasm has no gather gradient)', () => {
    const h = 5;
    const w = 6;
    const plan = warpPlan(h, w, 1.1, 17);
    const xs = Float32Array.from({ length: h * w }, (_, i) => Math.sin(i * 1.7));
    const rs = Float32Array.from({ length: h * w }, (_, i) => Math.cos(i * 0.3));
    const wx = new Float64Array(h * w);
    const wtr = new Float64Array(h * w);
    for (let k = 0; k < 4; k++) {
      for (let p = 0; p < h * w; p++) {
        wx[p] += plan.weight[k * h * w + p]! * xs[plan.index[k * h * w + p]!]!;
        wtr[plan.index[k * h * w + p]!] += plan.weight[k * h * w + p]! * rs[p]!;
      }
    }
    const start = tfc.memory().numTensors;
    const [y, g] = tf.tidy(() => {
      const x = tf.tensor4d(xs, [1, h, w, 1]);
      const r = tf.tensor4d(rs, [1, h, w, 1]);
      return [warp(x, plan), tf.grad((v: tfc.Tensor) => tf.sum(tf.mul(warp(v, plan), r)))(x)];
    });
    Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(wx[i]!, 5));
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(wtr[i]!, 5));
    tf.dispose([y, g]);
    expect(tfc.memory().numTensors).toBe(start);
  });
});

describe('parameterizations', () => {
  it('a single Fourier bin (fy, fx) is a cosine along that axis; init is grey and seeded', () => {
    const shape = { height: 8, width: 10, channels: 1 };
    const start = tfc.memory().numTensors;
    for (const [fy, fx] of [[0, 3], [2, 0]] as const) {
      const p = createParam('fourier', shape, { rand: mulberry32(1), decay: 0 });
      const one = new Float32Array(8 * 6);
      one[fy * 6 + fx] = 0.05;
      tf.tidy(() => {
        p.vars[0]!.assign(tf.tensor3d(one, [1, 8, 6]));
        p.vars[1]!.assign(tf.zeros([1, 8, 6]));
      });
      const img = tf.tidy(() => p.image());
      const v = img.dataSync();
      // irfft2d of bin value a: (d a / (h w)) cos(2 pi (fy y / h + fx x / w)), d = 2 for bins
      // with a mirrored twin along x (Hermitian symmetry), 1 for x-DC; times sqrt(h w) / 4.
      const amp = ((fx === 0 ? 1 : 2) * 0.05 * Math.sqrt(80)) / 80 / 4;
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 10; x++) {
          const t = amp * Math.cos(2 * Math.PI * ((fy * y) / 8 + (fx * x) / 10));
          expect(v[y * 10 + x]).toBeCloseTo(1 / (1 + Math.exp(-t)), 5);
        }
      }
      img.dispose();
      p.dispose();
    }
    for (const kind of ['fourier', 'pixel'] as const) {
      const a = createParam(kind, shape, { rand: mulberry32(5) });
      const b = createParam(kind, shape, { rand: mulberry32(5) });
      const [ia, ib] = tf.tidy(() => [a.image(), b.image()]);
      const va = ia.dataSync();
      expect(Array.from(va)).toEqual(Array.from(ib.dataSync()));
      expect(Math.max(...va.map((x) => Math.abs(x - 0.5)))).toBeLessThan(0.05);
      expect(Math.max(...va) - Math.min(...va)).toBeGreaterThan(0);
      tf.dispose([ia, ib]);
      a.dispose();
      b.dispose();
    }
    expect(tfc.memory().numTensors).toBe(start);
  });
});

describe('actmax on wasm', () => {
  it('a vertical-edge unit gets horizontal frequencies and > 5x the noise activation; its transpose gets vertical ones', async () => {
    const v = await run({ steps: 96, lr: 0.2, seed: 1 });
    const ev = spectralEnergy(v.image, S, S);
    expect(v.activation.mean).toBeGreaterThan(5 * v.noise.mean);
    expect(ev.xCone).toBeGreaterThan(4 * ev.yCone);
    expect(ev.xAxis).toBeGreaterThan(4 * ev.yAxis);
    const hz = await run({ steps: 96, lr: 0.2, seed: 1, channel: 1 });
    const eh = spectralEnergy(hz.image, S, S);
    expect(hz.activation.mean).toBeGreaterThan(5 * hz.noise.mean);
    expect(eh.yCone).toBeGreaterThan(4 * eh.xCone);
    const px = await run({ steps: 96, lr: 0.2, seed: 1, param: 'pixel' });
    const ep = spectralEnergy(px.image, S, S);
    expect(px.activation.mean).toBeGreaterThan(5 * px.noise.mean);
    expect(ep.xCone).toBeGreaterThan(2 * ep.yCone);
  }, 60_000);

  it('is reproducible: same seed, same pixels and PNG bytes; another seed differs; tensors return to the start count', async () => {
    const start = tfc.memory().numTensors;
    const o = { steps: 24, seed: 7, tv: 0.1, l2: 0.1, blur: 0.5, blurEvery: 5 };
    for (const param of ['fourier', 'pixel'] as const) {
      const a = await renderWith(o, param);
      const b = await renderWith(o, param);
      const c = await renderWith({ ...o, seed: 8 }, param);
      expect(a.image).toEqual(b.image);
      expect(a.png.equals(b.png)).toBe(true);
      expect(a.image).not.toEqual(c.image);
    }
    expect(tfc.memory().numTensors).toBe(start);
  }, 30_000);

  it('total variation, alpha-norm and blur priors do what they say', async () => {
    for (const param of ['fourier', 'pixel'] as const) {
      const free = await run({ param, steps: 48 });
      const tv = await run({ param, steps: 48, tv: 20 });
      const blur = await run({ param, steps: 48, blur: 1, blurEvery: 4 });
      const l2 = await run({ param, steps: 48, l2: 20 });
      const dev = (x: Float32Array) => x.reduce((s, v) => s + (v - 0.5) ** 2, 0) / x.length;
      expect(free.totalVariation).toBeCloseTo(totalVariationOf(free.image, S, S, 1), 6);
      expect(tv.totalVariation).toBeLessThan(0.8 * free.totalVariation);
      expect(blur.totalVariation).toBeLessThan(0.8 * free.totalVariation);
      expect(dev(l2.image)).toBeLessThan(0.8 * dev(free.image));
      expect(tv.settings.tv).toBe(20);
    }
  }, 60_000);

  it('normalizes by the dataset max and reports raw and normalized activations', async () => {
    const r = await run({ steps: 8, datasetMax: 4 });
    expect(r.datasetMax).toBe(4);
    expect(r.normalized!.mean).toBeCloseTo(r.activation.mean / 4, 6);
    expect(r.normalized!.max).toBeCloseTo(r.activation.max / 4, 6);
    const raw = await run({ steps: 8, datasetMax: 0 });
    expect(raw.datasetMax).toBeNull();
    expect(raw.normalized).toBeNull();
  });

  it('RGB: a red-minus-blue unit gets a red image, with and without colour decorrelation; preprocessing is (255 x scale - mean) / std', async () => {
    const rgb = tf.sequential();
    rgb.add(tf.layers.conv2d({ name: 'rb', inputShape: [12, 12, 3], filters: 1, kernelSize: 1, activation: 'relu', useBias: false }));
    rgb.getLayer('rb').setWeights([tf.tensor4d([1, 0, -1], [1, 1, 3, 1])]);
    // Grey (0.5) maps to R 0, B -0.2: the unit starts alive (0.2 > 0), so ReLU passes a gradient.
    const pre = { scale: 1 / 255, mean: [0.5, 0.4, 0.6], std: [0.25, 0.5, 0.5] };
    const x = tf.tensor4d([0.9, 0.2, 0.1], [1, 1, 1, 3]);
    const y = tf.tidy(() => preprocess(x, pre, 3));
    Array.from(y.dataSync()).forEach((v, c) => expect(v).toBeCloseTo(([0.9, 0.2, 0.1][c]! - pre.mean[c]!) / pre.std[c]!, 5));
    tf.dispose([x, y]);
    try {
      for (const decorrelate of [false, true]) {
        // Decorrelated, red-minus-blue is a weak colour axis (lucid's matrix favours luminance), so it moves slower.
        const r = await actmax({ kind: 'layers', model: rgb }, { layer: 'rb', channel: 0, steps: 128, lr: 0.1, decorrelate, preprocess: pre });
        const mean = [0, 1, 2].map((c) => r.image.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0) / 144);
        expect(mean[0]).toBeGreaterThan(0.75);
        expect(mean[0]! - mean[2]!).toBeGreaterThan(0.4);
        expect(r.activation.mean).toBeGreaterThan(2 * r.noise.mean);
        expect(r.settings.decorrelate).toBe(decorrelate);
      }
    } finally {
      rgb.dispose();
    }
  });

  it('works through a GraphModel node', async () => {
    const g = await edgeGraph();
    try {
      const r = await actmax({ kind: 'graph', model: g }, { layer: 'conv1/Relu', channel: 0, steps: 32, lr: 0.1 });
      expect(r.activation.mean).toBeGreaterThan(r.noise.mean);
      await expect(actmax({ kind: 'graph', model: g }, { layer: 'conv1/Rellu', channel: 0, steps: 1 })).rejects.toThrow(/did you mean: conv1\/Relu/);
    } finally {
      g.dispose();
    }
  });

  it('bad input: unknown layer (close matches), channel out of range, bad settings, decorrelate on grey', async () => {
    await expect(run({ layer: 'edgse' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/did you mean: edges/) });
    await expect(run({ channel: 2 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/2 channels \(0\.\.1\)/) });
    await expect(run({ steps: 0 })).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/steps/) });
    await expect(run({ scale: [1, -2] })).rejects.toMatchObject({ code: 'BAD_SPEC' });
    await expect(run({ decorrelate: true })).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/3-channel/) });
    await expect(run({ size: { height: 32, width: 32 } })).rejects.toMatchObject({ code: 'BAD_SPEC' });
  });
});

/** Runs actmax on the saved edge model through renderActmax (load, optimize, encode, dispose). */
let savedDir: string | null = null;
async function renderWith(o: Partial<ActmaxOptions>, param: 'fourier' | 'pixel') {
  if (!savedDir) {
    savedDir = path.join(tmp, 'edges28');
    await saveModelDir(model, savedDir);
  }
  const { png, result } = await renderActmax({ layer: 'edges', channel: 0, modelDir: savedDir, param, ...o });
  return { png, image: result.image };
}

/** `neurolens render actmax ...` through the real commander registrar. */
async function cliActmax(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const program = new Command().exitOverride();
  registerActmax(program.command('render').exitOverride(), { write: (c) => chunks.push(String(c)) });
  await program.parseAsync(['node', 'neurolens', 'render', 'actmax', ...args]);
  return chunks.join('');
}

describe('render actmax with a store', () => {
  it('writes a PNG and a JSON sidecar; normalizes by neuron_stats max at the step; preprocessing from the run', async () => {
    const out = path.join(tmp, 'conv1-0.png');
    const start = tfc.memory().numTensors;
    const text = await cliActmax(['--store', fx.store, '--step', '100', '--layer', 'conv1', '--channel', '0', '--steps', '32', '--seed', '3', '--upscale', '4', '--out', out]);
    expect(tfc.memory().numTensors).toBe(start);
    expect(text).toMatch(/conv1 channel 0, 8x8, mean activation .* of the dataset max/);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 32, 32, 1]);
    const { data } = await sharp(out).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect(Math.max(...data) - Math.min(...data)).toBeGreaterThan(50);
    const sidecar = JSON.parse(await fs.readFile(`${out}.json`, 'utf8'));
    expect(sidecar.settings).toMatchObject({ param: 'fourier', steps: 32, seed: 3, lr: 0.05, jitter: 8, rotate: 5, tv: 0 });
    expect(sidecar.seed).toBe(3);
    expect(sidecar.model).toMatchObject({ step: 100, name: 'edge-net' });
    expect(sidecar.model.dir).toMatch(/ckpt-000100$/);
    expect(sidecar.preprocessFrom).toBe('store');
    expect(sidecar.preprocess.scale).toBeCloseTo(1 / 255, 9);
    const store = await Store.open(fx.store, { readOnly: true });
    const [row] = await store.query<{ max: number }>("SELECT max FROM neuron_stats WHERE layer = 'conv1' AND channel = 0 AND step = 100");
    store.dispose();
    expect(sidecar.activation.datasetMax).toBeCloseTo(row!.max, 5);
    expect(sidecar.activation.normalized.mean).toBeCloseTo(sidecar.activation.raw.mean / row!.max, 6);
    expect(sidecar.activation.raw.mean).toBeGreaterThan(sidecar.activation.noise.mean);
    expect(sidecar.normalization).toMatchObject({ dataset: 'edges', step: 100, note: null });
  }, 30_000);

  it('a layer without statistics or a dead unit is not normalized, with a note; unknown steps and layers are errors', async () => {
    const out = path.join(tmp, 'probs.png');
    // The run taps conv1 and fc (and gap as codes), not the softmax layer `probs`.
    const json = JSON.parse(await cliActmax(['--store', fx.store, '--layer', 'probs', '--channel', '1', '--steps', '4', '--out', out, '--json']));
    expect(json.activation.normalized).toBeNull();
    expect(json.normalization.note).toMatch(/no neuron_stats for layer 'probs' channel 1 .* step 100/);
    expect(JSON.parse(await fs.readFile(`${out}.json`, 'utf8'))).toEqual(json);
    const dead = JSON.parse(await cliActmax(['--store', fx.store, '--step', '0', '--layer', 'conv1', '--channel', '2', '--steps', '4', '--out', out, '--json']));
    expect(dead.activation.datasetMax).toBeNull();
    expect(dead.normalization.note).toMatch(/dead/);
    await expect(cliActmax(['--store', fx.store, '--step', '50', '--layer', 'conv1', '--channel', '0', '--out', out])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/steps: 0, 100/) });
    await expect(cliActmax(['--store', fx.store, '--layer', 'conv_1', '--channel', '0', '--out', out])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/did you mean: conv1/) });
    await expect(cliActmax(['--store', fx.store, '--layer', 'conv1', '--channel', '3', '--out', out])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(cliActmax(['--layer', 'conv1', '--channel', '0', '--out', out])).rejects.toMatchObject({ code: 'BAD_SPEC' });
  }, 30_000);
});

describe('actmax on cpu', () => {
  it('runs, beats noise and frees its tensors', async () => {
    await setupBackend('cpu');
    try {
      const start = tfc.memory().numTensors;
      const r = await run({ steps: 16, jitter: 2 });
      expect(tfc.getBackend()).toBe('cpu');
      expect(r.activation.mean).toBeGreaterThan(2 * r.noise.mean);
      expect(tfc.memory().numTensors).toBe(start);
    } finally {
      await setupBackend('wasm');
    }
  }, 30_000);
});
