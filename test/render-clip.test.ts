/**
 * Clip pictures: the Middlebury flow colours at known points of the wheel, frame strips checked
 * pixel by pixel (cells where the layout says, the outline on the argmax frame only, the clipped
 * receptive-field box, heat only where the map is nonzero, motion rows), and animations written
 * through the real ffmpeg and read back with ffprobe / ffmpeg (frame count, size, codec, a pixel).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNeurolensError } from '../src/errors.js';
import { animateClips, writeAnimation } from '../src/render/animation.js';
import type { Image8 } from '../src/render/canvas.js';
import { clipCaption, type ClipItem } from '../src/render/clip-cells.js';
import { clipPictures } from '../src/render/clip-frames.js';
import { clipGridFrames } from '../src/render/clip-grid.js';
import { STRIP_COLORS, clipStripPng, renderClipStrip } from '../src/render/clip-strip.js';
import { FLOW_COLOR_WHEEL, flowColor, flowLegend, flowToRgb } from '../src/render/flow-color.js';
import { resizeImage8 } from '../src/render/frame-resize.js';
import { decodeImage8 } from '../src/render/png.js';

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'neurolens-clip-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const px = (img: Image8, x: number, y: number): number[] => {
  const o = (y * img.width + x) * img.channels;
  return Array.from(img.data.subarray(o, o + img.channels));
};
const solid = (w: number, h: number, c: number[]): Image8 => {
  const data = new Uint8Array(w * h * c.length);
  for (let i = 0; i < w * h; i++) data.set(c, i * c.length);
  return { width: w, height: h, channels: c.length as 1 | 3, data };
};
const filled = (n: number, v: number) => new Float32Array(n).fill(v);

describe('flow colours (Baker et al. 2011, Middlebury wheel)', () => {
  it('builds the 55-colour wheel with its segment starts', () => {
    expect(FLOW_COLOR_WHEEL.length).toBe(55 * 3);
    const entry = (k: number) => Array.from(FLOW_COLOR_WHEEL.subarray(k * 3, k * 3 + 3));
    expect(entry(0)).toEqual([255, 0, 0]); // RY
    expect(entry(15)).toEqual([255, 255, 0]); // YG
    expect(entry(21)).toEqual([0, 255, 0]); // GC
    expect(entry(25)).toEqual([0, 255, 255]); // CB
    expect(entry(36)).toEqual([0, 0, 255]); // BM
    expect(entry(49)).toEqual([255, 0, 255]); // MR
    expect(entry(54)).toEqual([255, 0, 43]);
  });

  it('gives exact colours at known directions and magnitudes', () => {
    expect(flowColor(1, 0)).toEqual([255, 0, 0]); // right: red
    expect(flowColor(1, -0)).toEqual([255, 0, 0]); // the sign of a zero v does not matter
    expect(flowColor(-1, 0)).toEqual([0, 209, 255]); // left: wheel entry 27
    expect(flowColor(0, -1)).toEqual([88, 0, 255]); // up: between entries 40 and 41
    expect(flowColor(0, 1)).toEqual([255, 229, 0]); // down: between entries 13 and 14
    expect(flowColor(0, 0)).toEqual([255, 255, 255]); // no motion: white
    expect(flowColor(0.5, 0)).toEqual([255, 127, 127]); // half the normaliser: half saturated
    expect(flowColor(2, 0, 1)).toEqual([191, 0, 0]); // beyond the normaliser: darkened by 0.75
    expect(flowColor(NaN, 0)).toEqual([0, 0, 0]); // unknown: black
    expect(flowColor(1, 1)).not.toEqual(flowColor(-1, -1));
  });

  it('normalises a field by its largest magnitude unless a normaliser is given', () => {
    const img = flowToRgb(Float32Array.of(4, 2, 0, -4), Float32Array.of(0, 0, 0, 0), 4, 1);
    expect([px(img, 0, 0), px(img, 1, 0), px(img, 2, 0), px(img, 3, 0)]).toEqual([[255, 0, 0], [255, 127, 127], [255, 255, 255], [0, 209, 255]]);
    expect(px(flowToRgb(Float32Array.of(2), Float32Array.of(0), 1, 1, { maxMagnitude: 4 }), 0, 0)).toEqual([255, 127, 127]);
    expect(px(flowToRgb(filled(4, 0), filled(4, 0), 2, 2), 1, 1)).toEqual([255, 255, 255]);
  });

  it('draws a legend wheel: white centre, red to the right, cyan-blue to the left', () => {
    const key = flowLegend(33);
    expect(px(key, 16, 16)).toEqual([255, 255, 255]);
    const right = px(key, 31, 16);
    const left = px(key, 1, 16);
    expect(right[0]).toBeGreaterThan(240);
    expect(right[1]).toBeLessThan(40);
    expect(left[0]).toBeLessThan(40);
    expect(left[2]).toBeGreaterThan(240);
    expect(px(key, 0, 0)).toEqual([255, 255, 255]);
  });
});

describe('frame resize', () => {
  it('keeps uniform images uniform and blocks with nearest', () => {
    const img: Image8 = { width: 2, height: 1, channels: 1, data: Uint8Array.of(0, 200) };
    const near = resizeImage8(img, 8, 2, 'nearest');
    expect(Array.from(near.data.subarray(0, 8))).toEqual([0, 0, 0, 0, 200, 200, 200, 200]);
    const bil = resizeImage8(img, 8, 2, 'bilinear');
    expect(bil.data[0]).toBe(0);
    expect(bil.data[3]).toBeGreaterThan(0);
    expect(bil.data[3]).toBeLessThan(200);
    expect(px(resizeImage8(solid(3, 3, [10, 20, 30]), 7, 5), 6, 4)).toEqual([10, 20, 30]);
  });
});

/** Two 8x8 clips of 3 frames: clip 0 RGB with flow and an RF box reaching past the frame; clip 1 grey with a diff and heat. */
function twoClips(): ClipItem[] {
  const rgb = [[40, 80, 120], [60, 100, 140], [80, 120, 160]];
  const heat = [filled(64, 0), filled(64, 0), filled(64, 0)];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 3; x++) heat[1]![y * 8 + x] = 1; // left columns of frame 1 only
  return [
    {
      frames: rgb.map((c) => solid(8, 8, c)),
      caption: clipCaption(0, 3.14159, 'walk'),
      argmaxT: 1,
      box: { top: -2, left: -2, bottom: 4, right: 4 },
      inputSize: { height: 8, width: 8 },
      motion: { kind: 'flow', width: 8, height: 8, u: [filled(64, 1), filled(64, -1), filled(64, 0)], v: [filled(64, 0), filled(64, 0), filled(64, 0)] },
    },
    {
      frames: [100, 120, 140].map((g) => solid(8, 8, [g])),
      caption: clipCaption(1, 2.5),
      argmaxT: 2,
      box: { top: 2, left: 2, bottom: 6, right: 6 },
      motion: { kind: 'diff', width: 8, height: 8, diff: [filled(64, 0.5), filled(64, 0), filled(64, -0.5)] },
      heat: { width: 8, height: 8, maps: heat },
    },
  ];
}

describe('clip strips', () => {
  const { image, layout } = renderClipStrip(twoClips(), { cellSize: 32, kernel: 'nearest', title: 'unit 3' });
  const [r0, r1] = layout.rows;

  it('puts every frame cell where the layout says, in its colour', () => {
    expect(layout.cell).toEqual({ width: 32, height: 32 });
    expect(r0!.frames).toHaveLength(3);
    const colours = [[40, 80, 120], [60, 100, 140], [80, 120, 160]];
    r0!.frames.forEach((r, t) => expect(px(image, r.x + 28, r.y + 28)).toEqual(colours[t]));
    // Clip 1's frame 0 and 2 have no heat: grey replicated to RGB.
    expect(px(image, r1!.frames[0]!.x + 16, r1!.frames[0]!.y + 16)).toEqual([100, 100, 100]);
    // Columns line up across rows, rows do not overlap.
    expect(r1!.cells.map((c) => c.x)).toEqual(r0!.cells.map((c) => c.x));
    expect(r1!.cells[0]!.y).toBeGreaterThan(r0!.motionY! + 32);
  });

  it('outlines the argmax frame only', () => {
    for (const [row, argmax] of [[r0!, 1], [r1!, 2]] as const) {
      row.cells.forEach((c, t) => {
        const left = px(image, c.x - 1, c.y + 16);
        if (t === argmax) {
          expect(left).toEqual([...STRIP_COLORS.highlight]);
          expect(px(image, c.x - 2, c.y + 16)).toEqual([...STRIP_COLORS.highlight]);
        } else {
          expect(left).toEqual([...STRIP_COLORS.frame]);
          expect(px(image, c.x - 2, c.y + 16)).toEqual([...STRIP_COLORS.background]);
        }
      });
    }
  });

  it('draws the receptive-field box on the argmax frame, clipped to it', () => {
    const green = [...STRIP_COLORS.box];
    const f = r0!.frames[1]!;
    // Box [-2, 4) on 8 px drawn at 4x: pixels [-8, 16) clipped to [0, 15].
    expect(r0!.box).toEqual({ x0: f.x, y0: f.y, x1: f.x + 15, y1: f.y + 15 });
    for (const [x, y] of [[f.x, f.y], [f.x + 15, f.y], [f.x, f.y + 15], [f.x + 15, f.y + 15]]) expect(px(image, x!, y!)).toEqual(green);
    expect(px(image, f.x + 8, f.y + 8)).toEqual([60, 100, 140]); // inside, off the outline
    expect(px(image, f.x + 16, f.y + 16)).toEqual([60, 100, 140]); // outside the box
    // Not on the other frames.
    expect(px(image, r0!.frames[0]!.x, r0!.frames[0]!.y)).toEqual([40, 80, 120]);
    const g = r1!.frames[2]!;
    expect(r1!.box).toEqual({ x0: g.x + 8, y0: g.y + 8, x1: g.x + 23, y1: g.y + 23 });
    expect(px(image, g.x + 23, g.y + 8)).toEqual(green);
    expect(px(image, g.x + 7, g.y + 7)).toEqual([140, 140, 140]);
    expect(r0!.motionBox).not.toBeNull();
  });

  it('blends heat only where the map is nonzero', () => {
    const f = r1!.frames[1]!;
    const left = px(image, f.x + 2, f.y + 16);
    expect(left).not.toEqual([120, 120, 120]);
    // Far from the nonzero columns (bilinear spreads one map pixel at most): the frame itself.
    for (let x = 20; x < 32; x++) expect(px(image, f.x + x, f.y + 16)).toEqual([120, 120, 120]);
    expect(layout.colorBar).not.toBeNull();
  });

  it('shows motion rows: flow in wheel colours, diff in grey around 128', () => {
    const m = r0!.motion!;
    expect(px(image, m[0]!.x + 16, m[0]!.y + 16)).toEqual([255, 0, 0]);
    expect(px(image, m[1]!.x + 16, m[1]!.y + 16)).toEqual([0, 209, 255]);
    expect(px(image, m[2]!.x + 16, m[2]!.y + 16)).toEqual([255, 255, 255]);
    const d = r1!.motion!;
    expect([0, 1, 2].map((t) => px(image, d[t]!.x + 16, d[t]!.y + 16)[0])).toEqual([255, 128, 1]);
    expect(layout.flowKey).not.toBeNull();
  });

  it('writes the same pixels as PNG', async () => {
    const { png } = await clipStripPng(twoClips(), { cellSize: 32, kernel: 'nearest', title: 'unit 3' });
    const back = await decodeImage8(png);
    expect([back.width, back.height]).toEqual([layout.width, layout.height]);
    expect(Buffer.from(back.data).equals(Buffer.from(image.data))).toBe(true);
  });

  it('refuses an argmax outside the clip', () => {
    const clips = twoClips();
    clips[1]!.argmaxT = 3;
    expect(() => renderClipStrip(clips)).toThrow(/argmax frame t=3/);
  });
});

describe('clip tensors back to pictures', () => {
  it('un-normalises appearance and divides motion by motion_scale', () => {
    const l = { frames: 2, height: 1, width: 2, appearance: 1 as const, motion: 'flow' as const, motionScale: 0.5 };
    // Channels per pixel: grey (normalised with mean 0.5, std 0.25, scale 1/255), u, v.
    const data = Float32Array.of(2, 1, 0.5, -2, 0, 0, 0, -1, 1, 0, 0, 0);
    const { frames, motion } = clipPictures(data, l, { scale: 1 / 255, mean: [0.5], std: [0.25] });
    expect(Array.from(frames[0]!.data)).toEqual([255, 0]);
    expect(Array.from(frames[1]!.data)).toEqual([128, 128]);
    expect(motion?.kind).toBe('flow');
    if (motion?.kind !== 'flow') return;
    expect(Array.from(motion.u[0]!)).toEqual([2, 0]);
    expect(Array.from(motion.v[0]!)).toEqual([1, 0]);
    expect(Array.from(motion.u[1]!)).toEqual([-2, 0]);
  });
});

function probe(file: string): { nb_read_frames: string; width: number; height: number; codec_name: string } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames,width,height,codec_name', '-of', 'json', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout).streams[0];
}

function firstFrame(file: string, width: number, height: number): Image8 {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
  expect(r.status, String(r.stderr)).toBe(0);
  expect(r.stdout.length).toBe(width * height * 3);
  return { width, height, channels: 3, data: new Uint8Array(r.stdout) };
}

/** 4 frames of 20x15: left half red, right half blue, a white bar moving down. */
function testFrames(): Uint8Array[] {
  return [0, 1, 2, 3].map((i) => {
    const img = solid(20, 15, [0, 0, 0]);
    for (let y = 0; y < 15; y++) for (let x = 0; x < 20; x++) img.data.set(y >= 10 + i && y < 11 + i ? [255, 255, 255] : x < 10 ? [220, 20, 20] : [20, 20, 220], (y * 20 + x) * 3);
    return img.data;
  });
}

describe('animations through ffmpeg', () => {
  it('writes a GIF with all frames, readable back', async () => {
    const file = path.join(tmp, 'a.gif');
    await writeAnimation(file, testFrames(), { width: 20, height: 15, fps: 5 });
    expect(probe(file)).toMatchObject({ codec_name: 'gif', width: 20, height: 15, nb_read_frames: '4' });
    const f = firstFrame(file, 20, 15);
    const near = (a: number[], b: number[]) => a.every((v, k) => Math.abs(v - b[k]!) <= 12);
    expect(near(px(f, 3, 3), [220, 20, 20])).toBe(true);
    expect(near(px(f, 16, 3), [20, 20, 220])).toBe(true);
    expect(near(px(f, 5, 10), [255, 255, 255])).toBe(true);
    expect((await fs.readdir(tmp)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writes an H.264 MP4, padded to an even size', async () => {
    const file = path.join(tmp, 'a.mp4');
    await writeAnimation(file, testFrames(), { width: 20, height: 15, fps: 5 });
    expect(probe(file)).toMatchObject({ codec_name: 'h264', width: 20, height: 16, nb_read_frames: '4' });
    const f = firstFrame(file, 20, 16);
    expect(px(f, 3, 3)[0]).toBeGreaterThan(150);
    expect(px(f, 16, 3)[2]).toBeGreaterThan(150);
  });

  it('fails with an IO error naming the file and ffmpeg\'s reason', async () => {
    const file = path.join(tmp, 'missing-dir', 'x.gif');
    const err = await writeAnimation(file, testFrames(), { width: 20, height: 15, fps: 5 }).catch((e) => e);
    expect(isNeurolensError(err) && err.code).toBe('IO');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/does not exist/);
    expect(err.message).toMatch(/No such file or directory/);
    const noFfmpeg = await writeAnimation(path.join(tmp, 'y.gif'), testFrames(), { width: 20, height: 15, fps: 5, ffmpeg: path.join(tmp, 'no-ffmpeg') }).catch((e) => e);
    expect(isNeurolensError(noFfmpeg) && noFfmpeg.code).toBe('IO');
    expect(noFfmpeg.message).toMatch(/cannot run/);
    expect((await fs.readdir(tmp)).filter((n) => n.startsWith('.y.gif') || n === 'y.gif')).toEqual([]);
  });
});

describe('animated clip grids', () => {
  it('plays clips together, box on every frame, border on the argmax frame only', async () => {
    const clips = twoClips();
    clips[1]!.frames = clips[1]!.frames.slice(0, 2); // shorter clip holds its last frame
    clips[1]!.heat!.maps = clips[1]!.heat!.maps.slice(0, 2);
    clips[1]!.argmaxT = 1;
    delete clips[1]!.motion;
    const { frames, layout } = clipGridFrames(clips, { cellSize: 32, kernel: 'nearest', columns: 2 });
    expect(frames).toHaveLength(3);
    const img = (i: number): Image8 => ({ width: layout.width, height: layout.height, channels: 3, data: frames[i]!.data });
    expect(frames.map((f) => f.tiles.map((t) => t.argmax))).toEqual([[false, false], [true, true], [false, true]]);
    for (let i = 0; i < 3; i++) {
      const c = layout.tiles[0]!.cell;
      expect(px(img(i), c.x - 1, c.y + 16)).toEqual(i === 1 ? [...STRIP_COLORS.highlight] : [...STRIP_COLORS.frame]);
      expect(px(img(i), c.x, c.y)).toEqual([...STRIP_COLORS.box]); // clipped box corner at the image corner
      expect(px(img(i), c.x + 28, c.y + 28)).toEqual([[40, 80, 120], [60, 100, 140], [80, 120, 160]][i]);
    }
    const file = path.join(tmp, 'grid.gif');
    const written = await animateClips(file, clips, { cellSize: 32, kernel: 'nearest', fps: 2 });
    expect(probe(file)).toMatchObject({ codec_name: 'gif', width: written.width, height: written.height, nb_read_frames: '3' });
  });
});
