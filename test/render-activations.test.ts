/**
 * Activation-map grids: an edge detector on a generated image with one vertical edge is bright
 * along the edge and dark elsewhere (PNG read back with sharp); shared vs per-map scales; dead
 * channels from the store's neuron_stats (the edge net's filter 2 never fires) or, without a
 * store, from all-zero maps; input errors (sample not in the store, unknown layer, layer without
 * spatial maps); tensors released after each render.
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
import { registerActivations } from '../src/cli/render-activations.js';
import { renderActivationGrid } from '../src/render/activations.js';
import { colormap } from '../src/render/colormap.js';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';

let tmp: string;
let fx: PipelineFixture;
let edgeDir: string;
let edgePng: string;

/** 32x32 grey net: conv 3x3 valid, f0 vertical-edge detector ([-1,0,1] rows), f1 its negative, ReLU; then dense. */
function edge32() {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ name: 'edges', inputShape: [32, 32, 1], filters: 2, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ name: 'fc', units: 2 }));
  const k = new Float32Array(18);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) {
    k[(r * 3 + c) * 2] = [-1, 0, 1][c]!;
    k[(r * 3 + c) * 2 + 1] = [1, 0, -1][c]!;
  }
  const ws = [tf.tensor4d(k, [3, 3, 1, 2]), tf.zeros([2])];
  m.getLayer('edges').setWeights(ws);
  tf.dispose(ws);
  return m;
}

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-acts-'));
  fx = await makePipelineFixture(path.join(tmp, 'fx'), 12);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  edgeDir = path.join(tmp, 'edge32');
  const m = edge32();
  await saveModelDir(m, edgeDir);
  m.dispose();
  // One vertical edge: black left of column 16, white from 16 on.
  const img = new Uint8Array(32 * 32).map((_, i) => (i % 32 >= 16 ? 255 : 0));
  edgePng = path.join(tmp, 'edge.png');
  await sharp(img, { raw: { width: 32, height: 32, channels: 1 } }).png().toFile(edgePng);
}, 180_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function readPng(file: string) {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, px: (x: number, y: number) => [data[(y * info.width + x) * 3]!, data[(y * info.width + x) * 3 + 1]!, data[(y * info.width + x) * 3 + 2]!] };
}

async function run(args: string[]) {
  const chunks: string[] = [];
  const program = new Command().exitOverride();
  registerActivations(program.command('render'), { write: (c) => chunks.push(String(c)), isTTY: true });
  await program.parseAsync(['node', 'neurolens', 'render', 'activations', '--backend', 'wasm', ...args]);
  return chunks.join('');
}

describe('render activations', () => {
  it('--image: an edge detector is bright exactly along the edge; the input tile comes first; no leaked tensors', async () => {
    const start = tf.memory().numTensors;
    const out = path.join(tmp, 'a.png');
    const info = JSON.parse(await run(['--model-dir', edgeDir, '--image', edgePng, '--layer', 'edges', '--out', out, '--upscale', '2', '--json']));
    expect(tf.memory().numTensors).toBe(start);
    expect(info).toMatchObject({ layer: 'edges', shape: [30, 30, 2], deadFrom: 'input', upscale: 2, scale: 'shared', colormap: 'viridis' });
    const img = await readPng(out);
    expect([img.width, img.height]).toEqual([info.width, info.height]);
    const t0 = info.tiles[0];
    // f0 = 3 (I[x+2] - I[x]) on [0,1] pixels: 3 at output columns 14 and 15 (windows over the edge), 0 elsewhere.
    expect(t0).toMatchObject({ min: 0, max: 3 });
    const bright = colormap('viridis', 1);
    const dark = colormap('viridis', 0);
    for (let x = 0; x < 30; x++) {
      for (const y of [1, 13, 28]) expect(img.px(t0.x + 2 * x, t0.y + 2 * y), `(${y},${x})`).toEqual(x === 14 || x === 15 ? bright : dark);
    }
    // f1 is the negated detector: ReLU keeps it at 0 on a dark-to-bright edge -> all zero for this
    // input, so (no store) it is marked dead: red frame.
    expect(info.tiles[1]).toMatchObject({ min: 0, max: 0, dead: true });
    expect(info.dead).toEqual([1]);
    expect(info.deadNote).toMatch(/this input/);
    expect(img.px(info.tiles[1].x, info.tiles[1].y + 10)).toEqual([230, 0, 0]);
    // Input tile: the image as the model sees it (left black, right white).
    expect(img.px(info.inputTile.x + 2, info.inputTile.y + 2)).toEqual([0, 0, 0]);
    expect(img.px(info.inputTile.x + info.inputTile.width - 3, info.inputTile.y + 2)).toEqual([255, 255, 255]);
  });

  it('an image of another size is resized to the model input with sharp (the edge stays in the middle)', async () => {
    const big = path.join(tmp, 'big.png');
    const img = new Uint8Array(64 * 96 * 3).map((_, i) => (Math.floor(i / 3) % 96 >= 48 ? 255 : 0));
    await sharp(img, { raw: { width: 96, height: 64, channels: 3 } }).png().toFile(big);
    const info = JSON.parse(await run(['--model-dir', edgeDir, '--image', big, '--layer', 'edges', '--out', path.join(tmp, 'b.png'), '--json']));
    expect(info.input).toMatchObject({ height: 32, width: 32, channels: 1 });
    expect(info.tiles[0].max).toBeGreaterThan(2);
  });

  it('shared scale compares maps; per-map stretches each map to the full colormap', () => {
    const data = new Float32Array(4 * 4 * 2);
    for (let p = 0; p < 16; p++) {
      data[p * 2] = p; // 0..15
      data[p * 2 + 1] = p / 10; // 0..1.5
    }
    return Promise.all([renderActivationGrid(data, 4, 4, 2, { upscale: 4, scale: 'shared' }), renderActivationGrid(data, 4, 4, 2, { upscale: 4, scale: 'per-map' })]).then(async ([shared, per]) => {
      expect(shared.range).toEqual({ min: 0, max: 15 });
      const read = async (png: Buffer) => {
        const { data: d, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
        return (x: number, y: number) => [d[(y * info.width + x) * 3]!, d[(y * info.width + x) * 3 + 1]!, d[(y * info.width + x) * 3 + 2]!];
      };
      const s = await read(shared.png);
      const q = await read(per.png);
      const last = (t: { x: number; y: number }) => [t.x + 13, t.y + 13] as const; // map position (3, 3)
      expect(s(...last(shared.tiles[0]!))).toEqual(colormap('viridis', 1));
      expect(s(...last(shared.tiles[1]!))).toEqual(colormap('viridis', 0.1));
      expect(q(...last(per.tiles[1]!))).toEqual(colormap('viridis', 1));
    });
  });

  it('--sample with --store: pipeline preprocessing, dead channel from neuron_stats (filter 2 never fires)', async () => {
    const start = tf.memory().numTensors;
    const out = path.join(tmp, 's.png');
    // Sample 4: vertical step at column 5 -> conv1 f0 = 3 at output columns 3 and 4.
    const info = JSON.parse(await run(['--store', fx.store, '--sample', '4', '--layer', 'conv1', '--out', out, '--upscale', '8', '--json']));
    expect(tf.memory().numTensors).toBe(start);
    expect(info).toMatchObject({ model: 'edge-net', dataset: 'edges', step: 100, shape: [6, 6, 3], deadFrom: 'store', dead: [2], deadNote: null });
    expect(info.input.sampleId).toBe(4);
    // Step 100 doubles conv1: f0 max = 6.
    expect(info.tiles[0].max).toBeCloseTo(6, 5);
    const img = await readPng(out);
    const t0 = info.tiles[0];
    const row = Array.from({ length: 6 }, (_, x) => img.px(t0.x + 8 * x + 4, t0.y + 4));
    // Shared scale: the range is set by f1 (box sum, up to 2 x 9 = 18), so f0's 6 is a third of it.
    expect(info.range).toEqual({ min: 0, max: 18 });
    expect(row.map((c, x) => (x === 3 || x === 4 ? c : null)).filter(Boolean)).toEqual([colormap('viridis', 6 / 18), colormap('viridis', 6 / 18)]);
    expect(row[0]).toEqual(colormap('viridis', 0));
    const t2 = info.tiles[2];
    expect(img.px(t2.x, t2.y + 20)).toEqual([230, 0, 0]);
    // --step 0: the checkpoint with the original weights (f0 max 3).
    const s0 = JSON.parse(await run(['--store', fx.store, '--step', '0', '--sample', '4', '--layer', 'conv1', '--out', path.join(tmp, 's0.png'), '--json']));
    expect(s0.tiles[0].max).toBeCloseTo(3, 5);
  });

  it('errors: sample not in the store, unknown layer (close names), layer without spatial maps, input choices', async () => {
    const out = path.join(tmp, 'err.png');
    const start = tf.memory().numTensors;
    await expect(run(['--store', fx.store, '--sample', '99', '--layer', 'conv1', '--out', out])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/sample 99 is not in dataset 'edges' \(sample ids 0..11\)/) });
    await expect(run(['--store', fx.store, '--sample', '1', '--layer', 'conv9', '--out', out])).rejects.toThrow(/'conv9' is not in the model; did you mean: conv1/);
    await expect(run(['--store', fx.store, '--sample', '1', '--layer', 'fc', '--out', out])).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/'fc' \(Dense\) has no spatial maps/) });
    await expect(run(['--model-dir', edgeDir, '--sample', '1', '--layer', 'edges', '--out', out])).rejects.toThrow(/--sample needs --store/);
    await expect(run(['--model-dir', edgeDir, '--layer', 'edges', '--out', out])).rejects.toThrow(/exactly one input/);
    await expect(run(['--model-dir', edgeDir, '--image', path.join(tmp, 'missing.png'), '--layer', 'edges', '--out', out])).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/missing.png: file not found/) });
    await expect(fs.stat(out)).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(start);
  });
});
