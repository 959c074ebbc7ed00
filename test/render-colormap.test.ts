/**
 * Colormaps and heat maps: table entries against matplotlib's published floats, Moreland's
 * coolwarm against his paper's table, perceptual properties (monotone lightness), bilinear
 * upsampling by known answers, and a heat-map PNG read back with sharp.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { applyColormap, colormap, colormapTable, resolveRange, type ColormapName } from '../src/render/colormap.js';
import { colorBar, heatmapFigure, heatmapPng, overlayHeatmap, resizeBilinear } from '../src/render/heatmap.js';
import type { Image8 } from '../src/render/canvas.js';

/** CIE L* of an 8-bit sRGB colour. */
function lightness([r, g, b]: number[]): number {
  const lin = (c: number) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const y = 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
  return y > 0.008856 ? 116 * Math.cbrt(y) - 16 : 903.3 * y;
}

const entry = (name: ColormapName, i: number) => Array.from(colormapTable(name).subarray(i * 3, i * 3 + 3));

describe('colormap', () => {
  it('viridis and inferno entries equal matplotlib _cm_listed.py floats x 255 (rounded)', () => {
    const known: [ColormapName, number, number[]][] = [
      ['viridis', 0, [0.267004, 0.004874, 0.329415]],
      ['viridis', 64, [0.229739, 0.322361, 0.545706]],
      ['viridis', 128, [0.127568, 0.566949, 0.550556]],
      ['viridis', 192, [0.369214, 0.788888, 0.382914]],
      ['viridis', 255, [0.993248, 0.906157, 0.143936]],
      ['inferno', 0, [0.001462, 0.000466, 0.013866]],
      ['inferno', 64, [0.3415, 0.062325, 0.429425]],
      ['inferno', 128, [0.735683, 0.215906, 0.330245]],
      ['inferno', 255, [0.988362, 0.998364, 0.644924]],
    ];
    for (const [name, i, f] of known) expect(entry(name, i), `${name}[${i}]`).toEqual(f.map((v) => Math.round(v * 255)));
  });

  it('viridis / inferno / gray are smooth and monotone in lightness (every entry, so a mistyped table fails)', () => {
    for (const name of ['viridis', 'inferno', 'gray'] as const) {
      let prev = -1;
      for (let i = 0; i < 256; i++) {
        const c = entry(name, i);
        const L = lightness(c);
        expect(L, `${name}[${i}] lightness`).toBeGreaterThan(prev - 0.05);
        prev = L;
        if (i > 0) {
          const p = entry(name, i - 1);
          expect(Math.max(...c.map((v, k) => Math.abs(v - p[k]!))), `${name}[${i}] step`).toBeLessThanOrEqual(6);
        }
      }
    }
  });

  it('coolwarm follows Moreland (2009): endpoints, grey middle, symmetric lightness', () => {
    expect(colormap('coolwarm', 0)).toEqual([59, 76, 192]);
    expect(colormap('coolwarm', 1)).toEqual([180, 4, 38]);
    // Moreland's published 33-entry table: 0.25 -> (141,176,254), 0.5 -> (221,221,221), 0.75 -> (244,154,123).
    const near = (a: number[], b: number[]) => a.forEach((v, k) => expect(Math.abs(v - b[k]!)).toBeLessThanOrEqual(1));
    near(colormap('coolwarm', 0.25), [141, 176, 254]);
    near(colormap('coolwarm', 0.5), [221, 221, 221]);
    near(colormap('coolwarm', 0.75), [244, 154, 123]);
    for (const t of [0, 0.1, 0.25, 0.4]) expect(Math.abs(lightness(colormap('coolwarm', t)) - lightness(colormap('coolwarm', 1 - t)))).toBeLessThan(2.5);
  });

  it('t is clamped; NaN is the bad-value grey', () => {
    expect(colormap('viridis', -3)).toEqual(colormap('viridis', 0));
    expect(colormap('inferno', 7)).toEqual(colormap('inferno', 1));
    expect(colormap('gray', 0.5)).toEqual([128, 128, 128]);
    expect(colormap('viridis', NaN)).toEqual([128, 128, 128]);
  });

  it('applyColormap: data range by default, given bounds, symmetric puts 0 in the middle', () => {
    const v = new Float32Array([-2, 0, 1, 2]);
    const img = applyColormap(v, 2, 2, { name: 'gray' });
    expect([img.width, img.height, img.channels]).toEqual([2, 2, 3]);
    expect(Array.from(img.data.filter((_, i) => i % 3 === 0))).toEqual([0, 128, 191, 255]);
    const clipped = applyColormap(v, 4, 1, { name: 'gray', min: 0, max: 1 });
    expect(Array.from(clipped.data.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 255, 255]);
    const sym = applyColormap(new Float32Array([-1, 0, 4]), 3, 1, { name: 'coolwarm', symmetric: true });
    expect(Array.from(sym.data.subarray(3, 6))).toEqual(colormap('coolwarm', 0.5));
    expect(resolveRange(new Float32Array([-1, 4]), { symmetric: true })).toEqual({ min: -4, max: 4 });
    expect(resolveRange(new Float32Array([NaN, 3, Infinity, 5]))).toEqual({ min: 3, max: 5 });
    // A constant map is drawn at the low end (a dead feature map stays dark).
    expect(Array.from(applyColormap(new Float32Array(4), 2, 2, { name: 'gray' }).data)).toEqual(new Array(12).fill(0));
    expect(() => applyColormap(v, 3, 3, { name: 'gray' })).toThrow(/4 values for a 3x3/);
  });
});

describe('heat map', () => {
  it('bilinear upsampling with half-pixel centres: known values, constants and ramps preserved', () => {
    // 1x2 [0, 1] -> 1x4: centres at input x = -0.25, 0.25, 0.75, 1.25 -> clamp -> 0, 0.25, 0.75, 1.
    expect(Array.from(resizeBilinear(new Float32Array([0, 1]), { height: 1, width: 2 }, { height: 1, width: 4 }))).toEqual([0, 0.25, 0.75, 1]);
    const c = resizeBilinear(new Float32Array(6).fill(3), { height: 2, width: 3 }, { height: 7, width: 5 });
    expect(c.every((v) => Math.abs(v - 3) < 1e-6)).toBe(true);
    const ramp = new Float32Array([0, 1, 2, 3, 0, 1, 2, 3]); // 2x4, value = x
    const up = resizeBilinear(ramp, { height: 2, width: 4 }, { height: 4, width: 8 });
    for (let x = 2; x < 7; x++) expect(up[8 + x]! - up[8 + x - 1]!).toBeCloseTo(0.5, 6);
  });

  it('overlay: the hot cell of a coarse map lands on the right image region; alpha 0 keeps the image', async () => {
    const base: Image8 = { width: 40, height: 40, channels: 1, data: new Uint8Array(1600).fill(100) };
    const heat = new Float32Array(16); // 4x4, hot at cell (0, 0)
    heat[0] = 1;
    const out = await overlayHeatmap(base, heat, { height: 4, width: 4 }, { alpha: 0.6 });
    expect([out.width, out.height, out.channels]).toEqual([40, 40, 3]);
    const px = (x: number, y: number) => Array.from(out.data.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3));
    const hot = colormap('inferno', 1).map((c) => Math.round(0.4 * 100 + 0.6 * c));
    const cold = colormap('inferno', 0).map((c) => Math.round(0.4 * 100 + 0.6 * c));
    expect(px(2, 2)).toEqual(hot);
    expect(px(37, 37)).toEqual(cold);
    expect(lightness(px(5, 5))).toBeGreaterThan(lightness(px(25, 25)) + 20);
    const same = await overlayHeatmap(base, heat, { height: 4, width: 4 }, { alpha: 0 });
    expect(same.data.every((v) => v === 100)).toBe(true);
  });

  it('heatmapPng: figure read back with sharp has the image, a colour bar dark-to-bright and labels', async () => {
    const base: Image8 = { width: 28, height: 28, channels: 3, data: new Uint8Array(28 * 28 * 3).fill(200) };
    const heat = new Float32Array(49).map((_, i) => (i % 7) / 6); // brighter to the right
    const fig = await heatmapFigure(base, heat, { height: 7, width: 7 }, { size: 112, colormap: 'viridis', title: 'test' });
    expect(fig.overlay.width).toBe(112);
    expect(fig.range).toEqual({ min: 0, max: 1 });
    const png = await heatmapPng(base, heat, { height: 7, width: 7 }, { size: 112, colormap: 'viridis', title: 'test' });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([fig.image.width, fig.image.height]);
    expect(info.height).toBeGreaterThan(112 + 10);
    const at = (x: number, y: number) => [data[(y * info.width + x) * 3]!, data[(y * info.width + x) * 3 + 1]!, data[(y * info.width + x) * 3 + 2]!];
    const oy = fig.overlay.y + 56;
    expect(lightness(at(fig.overlay.x + 108, oy))).toBeGreaterThan(lightness(at(fig.overlay.x + 3, oy)) + 20);
    // The bar row: first pixel viridis(0), last viridis(1).
    const barY = fig.overlay.y + 112 + 6 + 4;
    expect(at(4, barY)).toEqual(colormap('viridis', 0));
    expect(at(info.width - 5, barY)).toEqual(colormap('viridis', 1));
    // Labels ('0' and '1') are dark text under the bar.
    const textRows = Array.from({ length: 7 }, (_, r) => at(4 + 1, barY + 6 + 3 + r));
    expect(textRows.some((c) => c[0]! < 50)).toBe(true);
  });

  it('colorBar alone: labels widen it when the bar is narrow', () => {
    const bar = colorBar(10, 'inferno', { min: -0.000123, max: 12345.6 });
    expect(bar.width).toBeGreaterThan(40);
    expect(bar.height).toBeGreaterThanOrEqual(17);
  });
});
