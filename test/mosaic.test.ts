/**
 * Top-k activator mosaics on the known-answer store: the PNG is read back and every tile is
 * checked against the fixture image of the sample the topk query ranks there (nearest-neighbour
 * blocks), the argmax box against the stored argmax cell, and the label text pixel for pixel
 * against the bitmap font.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import sharp from 'sharp';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { fixtureImage, makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { cli as childCli } from './helpers/cli.js';
import { H, W } from './fixtures/models.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { getQuery, resultRows, runQuery } from '../src/queries/index.js';
import { registerMosaic } from '../src/cli/mosaic.js';
import { inferGrid, neuronMosaic } from '../src/render/neuron-mosaic.js';
import { MOSAIC_COLORS } from '../src/render/mosaic.js';
import { GLYPH_ADVANCE, glyph, rasterizeText, textWidth } from '../src/render/bitmap-font.js';

let fx: PipelineFixture;
let store: Store;
let tmp: string;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-mosaic-'));
  fx = await makePipelineFixture(tmp, 40);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  store = await Store.open(fx.store, { readOnly: true });
}, 180_000);
afterAll(async () => {
  store?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function readPng(file: string | Buffer) {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const px = (x: number, y: number) => [data[(y * info.width + x) * 3], data[(y * info.width + x) * 3 + 1], data[(y * info.width + x) * 3 + 2]];
  return { width: info.width, height: info.height, channels: info.channels, px };
}

describe('pieces', () => {
  it('bitmap font: every glyph is 7x5, text width follows the advance, pixels follow the glyph', () => {
    for (const ch of '0123456789abcdefghijklmnopqrstuvwxyz #.-+:=') {
      const g = glyph(ch);
      expect(g.length).toBe(7);
      expect(g.every((r) => r.length === 5)).toBe(true);
    }
    expect(glyph('A')).toEqual(glyph('a'));
    expect(glyph('\u00e9')).toEqual(glyph('?'));
    expect(textWidth('abc', 2)).toBe((3 * GLYPH_ADVANCE - 1) * 2);
    const on: [number, number][] = [];
    rasterizeText('1', 10, 20, 2, (x, y) => on.push([x, y]));
    expect(on.length).toBe(glyph('1').flat().filter(Boolean).length * 4);
    expect(on).toContainEqual([10 + 2 * 2, 20]); // top of the '1' stem: row 0, column 2
  });

  it('inferGrid recovers the output grid from positions and the input aspect ratio', () => {
    expect(inferGrid(36, 0, 3, { height: 8, width: 8 })).toEqual({ height: 6, width: 6 });
    expect(inferGrid(12, 0, 0, { height: 60, width: 80 })).toEqual({ height: 3, width: 4 });
    expect(inferGrid(12, 3, 0, { height: 60, width: 80 })).toEqual({ height: 4, width: 3 }); // argmax row 3 needs 4 rows
    expect(inferGrid(1, 0, 0)).toBeNull();
  });
});

describe('neuron mosaic', () => {
  it('draws the top-k samples with their real pixels, the argmax cell and exact labels', async () => {
    const k = 6;
    const m = await neuronMosaic(store, { layer: 'conv1', channel: 0, k });
    const expected = resultRows(await runQuery(store, await getQuery('top_k_activators'), { layer: 'conv1', channel: 0, k }));
    expect(m.rows.map((r) => r.sampleId)).toEqual(expected.map((r) => r.sample_id));
    expect(m.step).toBe(100);
    expect(m.grid).toEqual({ height: 6, width: 6 });
    const png = await readPng(m.png);
    expect([png.width, png.height]).toEqual([m.layout.width, m.layout.height]);
    expect(m.layout.tiles.length).toBe(k);
    const { tileSize, lineHeight, textScale } = m.layout;
    expect(png.width).toBe(2 * 8 + 3 * tileSize + 2 * 8); // 3 columns for 6 tiles

    m.layout.tiles.forEach((t, i) => {
      const row = m.rows[i]!;
      const img = fixtureImage(row.sampleId);
      const block = t.image.width / W;
      expect(t.image.width).toBe(tileSize);
      expect(block).toBe(tileSize / 8);
      const box = t.box!;
      const onBox = (x: number, y: number) =>
        x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1 && (x <= box.x0 + 1 || x >= box.x1 - 1 || y <= box.y0 + 1 || y >= box.y1 - 1);
      // Every image pixel is a block of the tile (nearest-neighbour enlargement).
      const seen = new Set<number>();
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++) {
          const x = t.image.x + c * block + block / 2;
          const y = t.image.y + r * block + block / 2;
          if (onBox(x, y)) continue;
          const v = img[r * W + c]!;
          expect(png.px(x, y)).toEqual([v, v, v]);
          seen.add(v);
        }
      }
      expect(seen.size).toBeGreaterThan(1); // not a constant tile
      // The argmax cell of the 6x6 conv1 grid, scaled to the image, outlined in red.
      expect(box.x0).toBe(t.image.x + Math.floor((row.argmax.x * tileSize) / 6));
      expect(box.y0).toBe(t.image.y + Math.floor((row.argmax.y * tileSize) / 6));
      expect(box.x1).toBe(t.image.x + Math.ceil(((row.argmax.x + 1) * tileSize) / 6) - 1);
      for (let y = box.y0; y <= box.y1; y++) expect(png.px(box.x0, y)).toEqual([...MOSAIC_COLORS.box]);
      for (let x = box.x0; x <= box.x1; x++) expect(png.px(x, box.y1)).toEqual([...MOSAIC_COLORS.box]);
      // Labels: exactly the font's pixels of the three lines, nothing else in the label area.
      const lines = [`#${row.rank + 1} id ${row.sampleId}`, `max ${row.value}`, `class ${row.sampleId % 4}`];
      const expectedOn = new Set<string>();
      lines.forEach((line, j) => rasterizeText(line, t.x, t.labelY + j * lineHeight, textScale, (x, y) => expectedOn.add(`${x},${y}`)));
      let on = 0;
      for (let y = t.labelY; y < t.labelY + 3 * lineHeight; y++) {
        for (let x = t.x; x < t.x + tileSize; x++) {
          const isText = png.px(x, y).every((v, ch) => v === MOSAIC_COLORS.text[ch]);
          expect(isText).toBe(expectedOn.has(`${x},${y}`));
          if (isText) on++;
        }
      }
      expect(on).toBe(expectedOn.size);
      expect(on).toBeGreaterThan(100);
    });
  });

  it('the CLI writes the same PNG; a dense layer gets no boxes; unknown layers and missing runs are clear errors', async () => {
    const out = path.join(tmp, 'm.png');
    const chunks: string[] = [];
    const program = new Command().exitOverride();
    registerMosaic(program, { write: (c) => chunks.push(String(c)), isTTY: true });
    await program.parseAsync(['node', 'neurolens', 'mosaic', '--store', fx.store, '--layer', 'conv1', '--channel', '0', '--k', '6', '--out', out, '--json']);
    const info = JSON.parse(chunks.join(''));
    expect(info.samples.map((s: { sampleId: number }) => s.sampleId)).toHaveLength(6);
    expect(await fs.readFile(out)).toEqual((await neuronMosaic(store, { layer: 'conv1', channel: 0, k: 6 })).png);

    const fc = await neuronMosaic(store, { layer: 'fc', channel: 1, k: 4, step: 0 });
    expect(fc.grid).toBeNull();
    expect(fc.layout.tiles.every((t) => t.box === undefined)).toBe(true);
    const png = await readPng(fc.png);
    let red = 0;
    for (let y = 0; y < png.height; y++) for (let x = 0; x < png.width; x++) if (png.px(x, y).join() === '255,0,0') red++;
    expect(red).toBe(0);

    await expect(neuronMosaic(store, { layer: 'conv9', channel: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/no top-k activators for layer 'conv9'/) });
    const bare = path.join(tmp, 'bare-store');
    await fs.cp(fx.store, bare, { recursive: true });
    await fs.rm(path.join(bare, 'runs'), { recursive: true });
    const s2 = await Store.open(bare, { readOnly: true });
    try {
      await expect(neuronMosaic(s2, { layer: 'conv1', channel: 0 })).rejects.toThrow(/no run record .* names dataset 'edges'/);
    } finally {
      s2.dispose();
    }
  });

  it('runs as `neurolens mosaic` in a child process', async () => {
    const out = path.join(tmp, 'child.png');
    const r = await childCli(['mosaic', '--store', fx.store, '--layer', 'conv1', '--channel', '1', '--k', '4', '--tile', '64', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/4 samples of conv1 channel 1 at step 100/);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width]).toEqual(['png', 2 * 8 + 2 * 64 + 8]);
  }, 60_000);
});
