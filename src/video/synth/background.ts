/**
 * Static background textures for the synthetic action videos: smooth value noise, soft stripes
 * or a linear gradient, each a per-pixel mix t in 0..1 between two colours. The background never
 * moves, so every bit of motion in a clip is the object's (the property a motion stream should
 * pick up), while the texture gives the appearance stream edges to be distracted by.
 */
import type { Rgb } from './colour.js';
import type { Rand } from './seed.js';

export const TEXTURES = ['noise', 'stripes', 'gradient'] as const;
export type Texture = (typeof TEXTURES)[number];

export interface BackgroundSpec {
  texture: Texture;
  colours: [Rgb, Rgb];
  /** Texture parameters in pixels / radians, drawn from the video's seed. */
  params: Record<string, number>;
}

/** Draws the texture parameters for `texture` at frame size `size` (pixels). */
export function backgroundParams(texture: Texture, size: number, r: Rand): Record<string, number> {
  const u = size / 64;
  if (texture === 'noise') return { cell: r.uniform(8, 16) * u, seed: r.int(2 ** 31) };
  if (texture === 'stripes') return { period: r.uniform(6, 16) * u, angle: r.uniform(0, Math.PI), phase: r.uniform(0, 2 * Math.PI) };
  return { angle: r.uniform(0, 2 * Math.PI) };
}

/** A lattice value in 0..1 for integer cell (i, j), from a hash (no table: any frame size). */
function lattice(i: number, j: number, seed: number): number {
  let h = (Math.imul(i, 0x27d4eb2d) ^ Math.imul(j, 0x165667b1) ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 0) / 4294967296;
}

/** Value noise with smoothstep interpolation (Perlin 1985's "noise" before gradients). */
function valueNoise(x: number, y: number, seed: number): number {
  const i = Math.floor(x);
  const j = Math.floor(y);
  const fx = x - i;
  const fy = y - j;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = lattice(i, j, seed) * (1 - sx) + lattice(i + 1, j, seed) * sx;
  const b = lattice(i, j + 1, seed) * (1 - sx) + lattice(i + 1, j + 1, seed) * sx;
  return a * (1 - sy) + b * sy;
}

/** The mix t in 0..1 at pixel centre (x, y). */
function mixAt(spec: BackgroundSpec, x: number, y: number, size: number): number {
  const p = spec.params;
  if (spec.texture === 'noise') return valueNoise(x / p.cell, y / p.cell, p.seed);
  if (spec.texture === 'stripes') {
    const d = x * Math.cos(p.angle) + y * Math.sin(p.angle);
    return 0.5 + 0.5 * Math.sin((2 * Math.PI * d) / p.period + p.phase);
  }
  // Gradient across the frame along `angle`, from the corner where the projection is lowest.
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const span = size * (Math.abs(c) + Math.abs(s));
  const lo = Math.min(0, c * size) + Math.min(0, s * size);
  return (x * c + y * s - lo) / span;
}

/** The background as one RGB24 frame (copied under the object in every frame). */
export function renderBackground(spec: BackgroundSpec, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const [a, b] = spec.colours;
  const size = Math.max(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, mixAt(spec, x + 0.5, y + 0.5, size)));
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) out[o + k] = Math.round(a[k] * (1 - t) + b[k] * t);
    }
  }
  return out;
}
