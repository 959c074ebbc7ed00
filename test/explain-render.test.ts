/**
 * `neurolens render occlusion|saliency|guided-backprop|gradcam|integrated-gradients` through the
 * real command registrar (in process, so tensors can be counted), on real model directories,
 * real image files and a real pipeline store; every PNG is read back with sharp and its heat is
 * checked where the model looks.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { saveModelDir } from '../src/model/io.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { isNeurolensError } from '../src/errors.js';
import { registerExplain } from '../src/cli/render-explain.js';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { Q, noiseImage, quadrantNet } from './explain-fixtures.js';

let tmp: string;
let fx: PipelineFixture;
let quadDir: string;
let noisePng: string;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-explain-'));
  fx = await makePipelineFixture(path.join(tmp, 'pipe'), 24);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  const m = quadrantNet();
  quadDir = path.join(tmp, 'quad');
  await saveModelDir(m, quadDir);
  m.dispose();
  const px = Uint8Array.from(noiseImage(Q * Q, 9), (v) => Math.round(40 + v * 175));
  noisePng = path.join(tmp, 'noise.png');
  await sharp(px, { raw: { width: Q, height: Q, channels: 1 } }).png().toFile(noisePng);
}, 180_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

interface Info {
  out: string;
  method: string;
  target: string;
  score: number;
  image: { width: number; height: number; overlay: { x: number; y: number; width: number; height: number } };
  model: { step: number | null; name: string | null };
  input: { sampleId: number | null; classLabel: number | null };
  relativeDelta?: number;
  layer?: string;
}

/** Runs `render ARGS --json` in process; checks that no tensor is left behind. */
async function render(args: string[]): Promise<Info> {
  const chunks: string[] = [];
  const program = new Command().exitOverride();
  registerExplain(program.command('render'), { write: (c) => chunks.push(String(c)) });
  const before = tf.memory().numTensors;
  await program.parseAsync(['render', ...args, '--json', '--backend', 'wasm'], { from: 'user' });
  expect(tf.memory().numTensors).toBe(before);
  return JSON.parse(chunks.join('')) as Info;
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

/** The PNG read back: size, and the mean chroma (max - min of RGB) of regions of the overlay. */
async function readBack(info: Info) {
  const { data, info: meta } = await sharp(info.out).raw().toBuffer({ resolveWithObject: true });
  const ch = meta.channels;
  const o = info.image.overlay;
  const chroma = (fx0: number, fy0: number, fx1: number, fy1: number) => {
    let s = 0;
    let n = 0;
    for (let y = Math.floor(o.y + fy0 * o.height); y < o.y + fy1 * o.height; y++) {
      for (let x = Math.floor(o.x + fx0 * o.width); x < o.x + fx1 * o.width; x++) {
        const p = (y * meta.width + x) * ch;
        s += Math.max(data[p]!, data[p + 1]!, data[p + 2]!) - Math.min(data[p]!, data[p + 1]!, data[p + 2]!);
        n++;
      }
    }
    return s / n;
  };
  const distinct = new Set<number>();
  for (let p = 0; p < data.length; p += ch) distinct.add((data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!);
  return { width: meta.width, height: meta.height, colours: distinct.size, chroma };
}

describe('renders over the top-left-quadrant model (--model-dir DIR --image FILE)', () => {
  const methods: [string, string[]][] = [
    ['occlusion', ['--patch', '4', '--stride', '4']],
    ['saliency', []],
    ['saliency', ['--smooth', '8']],
    ['guided-backprop', []],
    ['gradcam', []],
    ['gradcam', ['--guided']],
    ['integrated-gradients', ['--steps', '40', '--baseline', 'blur']],
  ];
  for (const [method, extra] of methods) {
    it(`${method} ${extra.join(' ')}: a figure with the heat in the top-left quadrant`, async () => {
      const out = path.join(tmp, `quad-${method}-${extra.join('')}.png`);
      const info = await render([method, '--model-dir', quadDir, '--image', noisePng, '--class', '0', '--out', out, '--size', '160', ...extra]);
      const png = await readBack(info);
      expect([png.width, png.height]).toEqual([info.image.width, info.image.height]);
      expect(info.image.overlay.width).toBe(160);
      expect(png.colours).toBeGreaterThan(20);
      // Grey input: chroma in the overlay is the heat's colour. The quadrant holds it.
      const tl = png.chroma(0, 0, 0.45, 0.45);
      const rest = (png.chroma(0.55, 0, 1, 1) + png.chroma(0, 0.55, 0.55, 1)) / 2;
      expect(tl, `${method}: top-left ${tl} vs rest ${rest}`).toBeGreaterThan(2 * rest + 10);
    });
  }

  it('integrated gradients with an image file as baseline reports its completeness gap', async () => {
    const info = await render(['integrated-gradients', '--model-dir', quadDir, '--image', noisePng, '--class', '1', '--baseline', noisePng, '--out', path.join(tmp, 'ig-self.png')]);
    // Baseline = input: nothing to attribute.
    expect(info.score).toBeCloseTo(Number((info as unknown as { baselineScore: number }).baselineScore), 6);
    const white = await render(['integrated-gradients', '--model-dir', quadDir, '--image', noisePng, '--class', '1', '--baseline', 'white', '--steps', '60', '--out', path.join(tmp, 'ig-white.png')]);
    expect(white.relativeDelta).toBeLessThan(0.01);
  });
});

describe('renders of store samples (--store DIR --sample ID)', () => {
  it('saliency of the vertical-edge unit on a step image: bright left of the edge, step picks the checkpoint', async () => {
    // Sample 1: 0 left of column 2, 255 from it on. conv1:0 (3 * (I[x+2] - I[x]) per row) is
    // active only in windows that straddle the edge, so the gradient lives in columns 0..3.
    const out = path.join(tmp, 'edge-saliency.png');
    const info = await render(['saliency', '--store', fx.store, '--sample', '1', '--neuron', 'conv1:0', '--out', out]);
    expect(info.model).toMatchObject({ step: 100, name: 'edge-net' });
    expect(info.input).toMatchObject({ sampleId: 1, classLabel: 1 });
    const png = await readBack(info);
    expect(png.colours).toBeGreaterThan(10);
    expect(png.chroma(0, 0, 0.45, 1)).toBeGreaterThan(2 * png.chroma(0.55, 0, 1, 1) + 10);
    // Checkpoint 100 has conv1 doubled: the unit's mean is twice that of step 0.
    const step0 = await render(['saliency', '--store', fx.store, '--sample', '1', '--neuron', 'conv1:0', '--step', '0', '--out', out]);
    expect(info.score).toBeCloseTo(2 * step0.score, 5);
    expect(step0.model.step).toBe(0);
  });

  it('every method renders a store sample; Grad-CAM defaults to conv1', async () => {
    for (const m of ['occlusion', 'saliency', 'guided-backprop', 'gradcam', 'integrated-gradients']) {
      const info = await render([m, '--store', fx.store, '--sample', '4', '--class', '0', '--out', path.join(tmp, `s-${m}.png`), ...(m === 'occlusion' ? ['--patch', '3', '--stride', '1'] : [])]);
      expect(info.method.startsWith(m === 'saliency' ? 'saliency' : m)).toBe(true);
      const png = await readBack(info);
      expect(png.width).toBeGreaterThan(224);
      if (m === 'gradcam') expect(info.layer).toBe('conv1');
    }
  });

  it('bad input: sample not in the store, class out of range, unknown layers, patch too large, conflicting targets', async () => {
    const base = ['--store', fx.store, '--out', path.join(tmp, 'bad.png')];
    let e = await renderError(['saliency', ...base, '--sample', '24', '--class', '0']);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/sample 24 is not in dataset 'edges'.*0\.\.23/);
    e = await renderError(['occlusion', ...base, '--sample', '0', '--class', '2']);
    expect(e).toMatchObject({ code: 'NOT_FOUND' });
    expect(e.message).toMatch(/class 2 is out of range: the model has 2 classes/);
    e = await renderError(['saliency', ...base, '--sample', '0', '--neuron', 'conv2:0']);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/layer 'conv2' is not in the model; did you mean: conv1/);
    e = await renderError(['gradcam', ...base, '--sample', '0', '--class', '0', '--layer', 'cnv1']);
    expect(e.message).toMatch(/did you mean: conv1/);
    e = await renderError(['occlusion', ...base, '--sample', '0', '--class', '0', '--patch', '9']);
    expect(e).toMatchObject({ code: 'BAD_SPEC' });
    expect(e.message).toMatch(/--patch 9 is larger than the 8x8 input/);
    e = await renderError(['saliency', ...base, '--sample', '0', '--class', '0', '--neuron', 'conv1:0']);
    expect(e.message).toMatch(/exactly one of --class C or --neuron/);
    e = await renderError(['saliency', ...base, '--sample', '0', '--neuron', 'conv1']);
    expect(e.message).toMatch(/expected LAYER:CHANNEL/);
    e = await renderError(['saliency', '--model-dir', quadDir, '--image', path.join(tmp, 'missing.png'), '--class', '0', '--out', path.join(tmp, 'bad.png')]);
    expect(e).toMatchObject({ code: 'BAD_INPUT' });
    expect(e.message).toMatch(/missing\.png.*file not found/);
    e = await renderError(['saliency', '--store', fx.store, '--step', '7', '--sample', '0', '--class', '0', '--out', path.join(tmp, 'bad.png')]);
    expect(e.message).toMatch(/--step 7: no checkpoint.*steps: 0, 100/);
  });
});
