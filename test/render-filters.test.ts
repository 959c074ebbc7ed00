/**
 * Filter grids: hand-set filters (a vertical bar, a horizontal bar, a constant, an edge detector)
 * drawn, read back with sharp and checked pixel by pixel where the bar must be bright; the same
 * weights as a GraphModel give the same PNG; the CLI registrar writes the file and JSON; bad
 * layers fail with close names.
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
import { filterWeights } from '../src/render/filter-weights.js';
import { renderFilters } from '../src/render/filters.js';
import { registerFilters } from '../src/cli/render-filters.js';
import { edgeGraph, edgeNet } from './fixtures/models.js';

let tmp: string;
beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-filters-'));
});
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function readPng(png: Buffer | string) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, px: (x: number, y: number) => [data[(y * info.width + x) * 3]!, data[(y * info.width + x) * 3 + 1]!, data[(y * info.width + x) * 3 + 2]!] };
}

/** RGB conv 5x5, 3 filters: f0 white vertical bar at column 2, f1 red horizontal bar at row 1, f2 constant. */
function barNet() {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ name: 'conv1', inputShape: [16, 16, 3], filters: 3, kernelSize: 5 }));
  m.add(tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2 }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ name: 'fc', units: 2 }));
  const k = new Float32Array(5 * 5 * 3 * 3);
  for (let r = 0; r < 5; r++) {
    for (let c = 0; c < 5; c++) {
      for (let i = 0; i < 3; i++) {
        const o = ((r * 5 + c) * 3 + i) * 3;
        k[o] = c === 2 ? 1 : -0.5;
        k[o + 1] = r === 1 && i === 0 ? 2 : 0;
        k[o + 2] = 0.3;
      }
    }
  }
  const [kernel, bias] = [tf.tensor4d(k, [5, 5, 3, 3]), tf.zeros([3])];
  m.getLayer('conv1').setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  return m;
}

describe('filter grid', () => {
  it('an RGB vertical-bar filter shows a bright vertical bar in its tile; a red row filter a red row; a constant filter is grey', async () => {
    const start = tf.memory().numTensors;
    const m = barNet();
    try {
      const w = filterWeights(m, 'conv1');
      expect([w.kh, w.kw, w.inChannels, w.filters, w.frames]).toEqual([5, 5, 3, 3, 1]);
      const g = await renderFilters(w, { upscale: 6 });
      expect(g.tile).toEqual({ width: 30, height: 30 });
      const img = await readPng(g.png);
      expect([img.width, img.height]).toEqual([g.width, g.height]);
      const [f0, f1, f2] = g.filters;
      // Centre of weight (r, c) of a filter tile.
      const at = (p: typeof f0, r: number, c: number) => img.px(p!.x + c * 6 + 3, p!.y + r * 6 + 3);
      for (let r = 0; r < 5; r++) {
        for (let c = 0; c < 5; c++) {
          expect(at(f0, r, c), `f0 (${r},${c})`).toEqual(c === 2 ? [255, 255, 255] : [0, 0, 0]);
          expect(at(f1, r, c), `f1 (${r},${c})`).toEqual(r === 1 ? [255, 0, 0] : [0, 0, 0]);
          expect(at(f2, r, c)).toEqual([128, 128, 128]);
        }
      }
      expect(f0).toMatchObject({ min: -0.5, max: 1 });
    } finally {
      m.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });

  it('single-channel edge detector: per-input-channel grey tiles, dark left column, bright right; symmetric norm keeps 0 grey', async () => {
    const m = edgeNet();
    try {
      const w = filterWeights(m, 'conv1');
      const g = await renderFilters(w, { upscale: 10, columns: 3 });
      const img = await readPng(g.png);
      const f0 = g.filters[0]!;
      for (let r = 0; r < 3; r++) {
        expect(img.px(f0.x + 5, f0.y + r * 10 + 5)).toEqual([0, 0, 0]);
        expect(img.px(f0.x + 15, f0.y + r * 10 + 5)).toEqual([128, 128, 128]);
        expect(img.px(f0.x + 25, f0.y + r * 10 + 5)).toEqual([255, 255, 255]);
      }
      const sym = await readPng((await renderFilters(w, { upscale: 10, columns: 3, norm: 'symmetric' })).png);
      expect(sym.px(f0.x + 15, f0.y + 5)).toEqual([128, 128, 128]);
      expect(sym.px(f0.x + 25, f0.y + 5)).toEqual([255, 255, 255]);
      // Depthwise 3x3, 3 inputs x multiplier 2 -> 6 single-channel filters.
      const bars = barNet();
      const dw = filterWeights(bars, 'dw');
      bars.dispose();
      expect([dw.inChannels, dw.filters]).toEqual([1, 6]);
    } finally {
      m.dispose();
    }
  });

  it('the GraphModel of the edge net draws the same PNG as the LayersModel (node or its Relu)', async () => {
    const m = edgeNet();
    const g = await edgeGraph();
    try {
      const a = await renderFilters(filterWeights(m, 'conv1'), { upscale: 8 });
      const b = await renderFilters(filterWeights(g, 'conv1/Conv2D'), { upscale: 8 });
      const c = await renderFilters(filterWeights(g, 'conv1/Relu'), { upscale: 8 });
      expect(b.png.equals(a.png)).toBe(true);
      expect(c.png.equals(a.png)).toBe(true);
      expect(() => filterWeights(g, 'gap/Mean')).toThrow(/not a convolution/);
    } finally {
      m.dispose();
      g.dispose();
    }
  });
});

describe('render filters CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(tmp, 'bar');
    const m = barNet();
    await saveModelDir(m, dir);
    m.dispose();
  });

  async function run(args: string[]) {
    const chunks: string[] = [];
    const program = new Command().exitOverride();
    const render = program.command('render');
    registerFilters(render, { write: (c) => chunks.push(String(c)), isTTY: true });
    await program.parseAsync(['node', 'neurolens', 'render', 'filters', ...args]);
    return chunks.join('');
  }

  it('writes the PNG and JSON; tensors are all released', async () => {
    const start = tf.memory().numTensors;
    const out = path.join(tmp, 'f.png');
    const info = JSON.parse(await run(['--model-dir', dir, '--layer', 'conv1', '--out', out, '--upscale', '4', '--columns', '1', '--json', '--backend', 'wasm']));
    expect(info).toMatchObject({ layer: 'conv1', kind: 'Conv2D', filters: 3, inChannels: 3, columns: 1, upscale: 4 });
    const img = await readPng(out);
    expect([img.width, img.height]).toEqual([info.width, info.height]);
    expect(info.placements[1].y).toBeGreaterThan(info.placements[0].y); // one column: stacked
    const p = info.placements[0];
    expect(img.px(p.x + 2 * 4 + 1, p.y + 1)).toEqual([255, 255, 255]);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('unknown layer: close names; a dense layer: no kernel', async () => {
    await expect(run(['--model-dir', dir, '--layer', 'conv2', '--out', path.join(tmp, 'x.png')])).rejects.toThrow(/'conv2' is not in the model; did you mean: conv1/);
    await expect(run(['--model-dir', dir, '--layer', 'fc', '--out', path.join(tmp, 'x.png')])).rejects.toMatchObject({ code: 'BAD_SPEC', message: expect.stringMatching(/no convolution kernel/) });
    await expect(fs.stat(path.join(tmp, 'x.png'))).rejects.toThrow();
  });

  it('--model DIR (its old meaning here) is refused: --model is a store model name, the directory goes to --model-dir', async () => {
    await expect(run(['--model', dir, '--layer', 'conv1', '--out', path.join(tmp, 'y.png')])).rejects.toMatchObject({
      code: 'BAD_SPEC',
      message: `--model ${dir}: --model is a model name in the store; use --model-dir ${dir}`,
    });
    await expect(fs.stat(path.join(tmp, 'y.png'))).rejects.toThrow();
  });
});
