/**
 * Receptive-field crop mosaics on real pipeline stores: every tile is checked pixel by pixel
 * against the fixture image inside the computed box and against the grey checker outside it
 * (padding shown at its true place, never wrapped); `--crop cell` is the top-level mosaic;
 * tensors are released; unknown layers list close names.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { registerRenderMosaic } from '../src/cli/render-mosaic.js';
import { neuronMosaic } from '../src/render/neuron-mosaic.js';
import { PAD_CHECKER, cropWithPadding, rfMosaic } from '../src/render/rf-mosaic.js';
import { fixtureImage, makePipelineFixture, runModelOverFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { H, W } from './fixtures/models.js';

let tmp: string;
let fx: PipelineFixture;
let padStore: string;

/**
 * pad-net: conv 5x5 stride 2 'same' on 8x8 (pad 1 before: receptive field 5, jump 2, start -1),
 * one filter whose only weight is the bottom-right tap: out(y, x) = I[2y + 3, 2x + 3], so flat and
 * right-side-white images peak first at (0, 0), whose field [-1, 4) x [-1, 4) reaches into the padding.
 */
async function makePadStore(): Promise<string> {
  const m = tf.sequential({ name: 'pad_net' });
  m.add(tf.layers.conv2d({ name: 'conv', inputShape: [H, W, 1], filters: 1, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  const k = new Float32Array(25);
  k[24] = 1;
  const ws = [tf.tensor4d(k, [5, 5, 1, 1]), tf.zeros([1])];
  m.getLayer('conv').setWeights(ws);
  tf.dispose(ws);
  try {
    return await runModelOverFixture(fx, 'pad', m, 5, { topk: 6 });
  } finally {
    m.dispose();
  }
}

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-rfmosaic-'));
  fx = await makePipelineFixture(path.join(tmp, 'fx'), 16);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  padStore = await makePadStore();
}, 180_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function decode(png: Buffer | string) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, px: (x: number, y: number) => [data[(y * info.width + x) * 3]!, data[(y * info.width + x) * 3 + 1]!, data[(y * info.width + x) * 3 + 2]!] };
}

/** Checks every crop pixel of every tile: image pixel inside the 8x8 image, checker grey outside. */
async function checkTiles(m: Awaited<ReturnType<typeof rfMosaic>>, cell: number) {
  const img = await decode(m.png);
  let padded = 0;
  m.rows.forEach((row, i) => {
    const t = m.layout.tiles[i]!.image;
    const { top, left, bottom, right } = row.box;
    const side = bottom - top;
    expect(t.width, 'the crop fills the tile').toBe(m.layout.tileSize);
    const s = t.width / side;
    const source = fixtureImage(row.sampleId);
    for (let cy = 0; cy < side; cy++) {
      for (let cx = 0; cx < right - left; cx++) {
        const [sy, sx] = [top + cy, left + cx];
        const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
        const v = inside ? source[sy * W + sx]! : PAD_CHECKER[(Math.floor(sy / cell) + Math.floor(sx / cell)) & 1]!;
        if (!inside) padded++;
        expect(img.px(t.x + Math.floor((cx + 0.5) * s), t.y + Math.floor((cy + 0.5) * s)), `sample ${row.sampleId} crop (${cy},${cx})`).toEqual([v, v, v]);
      }
    }
  });
  return padded;
}

describe('receptive-field mosaic', () => {
  it('edge net conv1 (3x3 valid): each tile is the 3x3 window the argmax sees', async () => {
    const store = await Store.open(fx.store, { readOnly: true });
    const start = tf.memory().numTensors;
    try {
      const m = await rfMosaic(store, { layer: 'conv1', channel: 0, k: 4 });
      expect(tf.memory().numTensors).toBe(start);
      expect(m.field).toMatchObject({ size: [3, 3], jump: [1, 1], start: [0, 0], output: [6, 6] });
      expect(m.step).toBe(100);
      expect(m.rows.length).toBe(4);
      for (const r of m.rows) expect(r.box).toMatchObject({ top: r.argmax.y, left: r.argmax.x, bottom: r.argmax.y + 3, right: r.argmax.x + 3 });
      expect(await checkTiles(m, 1)).toBe(0);
      // The vertical-edge unit's windows contain the edge: dark left column, white right column.
      const src = fixtureImage(m.rows[0]!.sampleId);
      const b = m.rows[0]!.box;
      expect(src[b.top * W + b.left]).toBe(0);
      expect(src[b.top * W + b.right - 1]).toBe(255);
    } finally {
      store.dispose();
    }
  });

  it("'same' padding: the field reaches outside the image; padding is drawn as checker at its true place", async () => {
    const store = await Store.open(padStore, { readOnly: true });
    try {
      const m = await rfMosaic(store, { layer: 'conv', channel: 0, k: 6 });
      expect(m.field).toMatchObject({ size: [5, 5], jump: [2, 2], start: [-1, -1], output: [4, 4] });
      const atOrigin = m.rows.filter((r) => r.argmax.y === 0 && r.argmax.x === 0);
      expect(atOrigin.length).toBeGreaterThan(0);
      for (const r of atOrigin) expect(r.box).toMatchObject({ top: -1, left: -1, clipped: { top: 0, left: 0, bottom: 4, right: 4 }, pad: { top: 1, left: 1, bottom: 0, right: 0 } });
      expect(await checkTiles(m, 1)).toBeGreaterThan(0);
    } finally {
      store.dispose();
    }
  });

  it("crop 'box': whole images with the argmax position's receptive field outlined, clipped to the image", async () => {
    const store = await Store.open(padStore, { readOnly: true });
    try {
      const m = await rfMosaic(store, { layer: 'conv', channel: 0, k: 6, crop: 'box' });
      const img = await decode(m.png);
      const RED = [255, 0, 0];
      m.rows.forEach((row, i) => {
        const t = m.layout.tiles[i]!;
        // The whole 8x8 image fills the tile; the box is the clipped field scaled to it.
        expect([t.image.width, t.image.height]).toEqual([m.layout.tileSize, m.layout.tileSize]);
        const s = t.image.width / W;
        const c = row.box.clipped;
        expect(t.box).toEqual({ x0: t.image.x + c.left * s, y0: t.image.y + c.top * s, x1: t.image.x + c.right * s - 1, y1: t.image.y + c.bottom * s - 1 });
        // Outlined in red at its corners; the image pixel shows in the middle of the field.
        expect(img.px(t.box!.x0, t.box!.y0)).toEqual(RED);
        expect(img.px(t.box!.x1, t.box!.y1)).toEqual(RED);
        const [my, mx] = [Math.floor((c.top + c.bottom) / 2), Math.floor((c.left + c.right) / 2)];
        const v = fixtureImage(row.sampleId)[my * W + mx]!;
        expect(img.px(t.image.x + Math.floor((mx + 0.5) * s), t.image.y + Math.floor((my + 0.5) * s))).toEqual([v, v, v]);
      });
    } finally {
      store.dispose();
    }
  });

  it('cropWithPadding: pixels inside, checker outside, nothing wrapped', () => {
    const img = { width: 3, height: 2, channels: 1 as const, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    const c = cropWithPadding(img, { top: -1, left: 1, bottom: 2, right: 4 }, 1);
    expect([c.width, c.height]).toEqual([3, 3]);
    const [a, b] = PAD_CHECKER;
    expect(Array.from(c.data)).toEqual([a, b, a, 2, 3, b, 5, 6, a]);
  });

  it('CLI: --crop rf writes PNG + JSON; --crop cell equals the top-level mosaic; unknown layer lists close names', async () => {
    const run = async (args: string[]) => {
      const chunks: string[] = [];
      const program = new Command().exitOverride();
      registerRenderMosaic(program.command('render'), { write: (c) => chunks.push(String(c)), isTTY: true });
      await program.parseAsync(['node', 'neurolens', 'render', 'mosaic', '--backend', 'wasm', ...args]);
      return chunks.join('');
    };
    const start = tf.memory().numTensors;
    const out = path.join(tmp, 'rf.png');
    const info = JSON.parse(await run(['--store', padStore, '--layer', 'conv', '--channel', '0', '--k', '4', '--tile', '80', '--out', out, '--json']));
    expect(tf.memory().numTensors).toBe(start);
    expect(info).toMatchObject({ crop: 'rf', model: 'pad-net', step: 5, receptiveField: { size: [5, 5], jump: [2, 2], start: [-1, -1] }, grid: [4, 4], input: { height: 8, width: 8 } });
    const png = await decode(out);
    expect([png.width, png.height]).toEqual([info.width, info.height]);

    const cellOut = path.join(tmp, 'cell.png');
    await run(['--store', fx.store, '--layer', 'conv1', '--channel', '0', '--k', '4', '--crop', 'cell', '--out', cellOut]);
    const store = await Store.open(fx.store, { readOnly: true });
    try {
      const ref = await neuronMosaic(store, { layer: 'conv1', channel: 0, k: 4, tileSize: 160 });
      expect((await fs.readFile(cellOut)).equals(ref.png)).toBe(true);
    } finally {
      store.dispose();
    }
    await expect(run(['--store', fx.store, '--layer', 'conv2', '--channel', '0', '--out', path.join(tmp, 'x.png')])).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/'conv2' has no statistics .* did you mean: conv1/) });
  });
});

describe('the checkpoints a run read (run --checkpoints elsewhere than the spec glob)', () => {
  const mosaic = async (args: string[]) => {
    const chunks: string[] = [];
    const program = new Command().exitOverride();
    registerRenderMosaic(program.command('render'), { write: (c) => chunks.push(String(c)), isTTY: true });
    await program.parseAsync(['node', 'neurolens', 'render', 'mosaic', '--backend', 'wasm', ...args]);
    return chunks.join('');
  };
  const runFiles = async (store: string) => (await fs.readdir(path.join(store, 'runs'))).filter((f) => f.endsWith('.json')).sort();

  it('render mosaic finds the recorded directories without --model-dir; old records fall back to the glob the run used; a gone directory is NOT_FOUND', async () => {
    const moved = await makePipelineFixture(path.join(tmp, 'moved'), 16);
    // The spec says ckpts/ckpt-*; the checkpoints live elsewhere and the run is told with --checkpoints.
    const elsewhere = path.join(tmp, 'elsewhere');
    await fs.rename(path.join(moved.dir, 'ckpts'), elsewhere);
    const glob = path.join(elsewhere, 'ckpt-*');
    const summary = await runPipeline(await loadSpec(moved.specFile), { workers: 1, backend: 'wasm', checkpoints: glob });
    expect(summary.status).toBe('succeeded');
    const [file] = await runFiles(moved.store);
    const record = JSON.parse(await fs.readFile(path.join(moved.store, 'runs', file!), 'utf8'));
    expect(record.checkpoints).toEqual([
      { step: 0, dir: path.join(elsewhere, 'ckpt-000000') },
      { step: 100, dir: path.join(elsewhere, 'ckpt-000100') },
    ]);

    const out = path.join(tmp, 'moved.png');
    const args = ['--store', moved.store, '--layer', 'conv1', '--channel', '0', '--k', '4', '--out', out, '--json'];
    const info = JSON.parse(await mosaic(args));
    expect(info).toMatchObject({ crop: 'rf', model: 'edge-net', step: 100, modelDir: path.join(elsewhere, 'ckpt-000100') });
    expect(JSON.parse(await mosaic([...args, '--step', '0']))).toMatchObject({ step: 0, modelDir: path.join(elsewhere, 'ckpt-000000') });

    // A later run over one checkpoint: a step only the earlier run read is found there.
    expect((await runPipeline(await loadSpec(moved.specFile), { workers: 1, backend: 'wasm', checkpoints: path.join(elsewhere, 'ckpt-000100') })).status).toBe('succeeded');
    expect(await runFiles(moved.store)).toHaveLength(2);
    expect(JSON.parse(await mosaic([...args, '--step', '0']))).toMatchObject({ step: 0, modelDir: path.join(elsewhere, 'ckpt-000000') });

    // Records written before the list existed: the glob the run used (--checkpoints, kept in spec.options).
    for (const f of await runFiles(moved.store)) {
      const p = path.join(moved.store, 'runs', f);
      const r = JSON.parse(await fs.readFile(p, 'utf8'));
      delete r.checkpoints;
      await fs.writeFile(p, JSON.stringify(r));
    }
    expect(JSON.parse(await mosaic([...args, '--step', '0']))).toMatchObject({ step: 0, modelDir: path.join(elsewhere, 'ckpt-000000') });

    // The recorded directory is gone: NOT_FOUND naming the step, the directory and the run.
    const third = await runPipeline(await loadSpec(moved.specFile), { workers: 1, backend: 'wasm', checkpoints: glob });
    await fs.rename(elsewhere, `${elsewhere}-gone`);
    try {
      const e = await mosaic(args).catch((err: unknown) => err);
      expect(e).toMatchObject({ code: 'NOT_FOUND' });
      const msg = (e as Error).message;
      expect(msg).toContain('step 100');
      expect(msg).toContain(path.join(elsewhere, 'ckpt-000100'));
      expect(msg).toContain(third.run_id);
      expect(msg).toContain('--model-dir');
      // --model-dir still works.
      expect(JSON.parse(await mosaic([...args, '--model-dir', path.join(`${elsewhere}-gone`, 'ckpt-000100')]))).toMatchObject({ step: 100 });
    } finally {
      await fs.rename(`${elsewhere}-gone`, elsewhere);
    }
  }, 180_000);

  it('--model takes a model name: a directory or a path is refused with BAD_SPEC naming --model-dir', async () => {
    const dir = path.join(fx.dir, 'ckpts', 'ckpt-000100');
    const base = ['--store', fx.store, '--layer', 'conv1', '--channel', '0', '--out', path.join(tmp, 'm.png')];
    await expect(mosaic([...base, '--model', dir])).rejects.toMatchObject({ code: 'BAD_SPEC', message: `--model ${dir}: --model is a model name in the store; use --model-dir ${dir}` });
    await expect(mosaic([...base, '--model', 'ckpts/missing'])).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringContaining('use --model-dir ckpts/missing') });
    expect(JSON.parse(await mosaic([...base, '--model', 'edge-net', '--json']))).toMatchObject({ model: 'edge-net' });
  });
});

