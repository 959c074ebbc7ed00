/**
 * Anti-aliased drawing of a shape into an RGB24 frame. Coverage is estimated by 4x4
 * supersampling per pixel (a box filter), and the object is blended over the background by that
 * coverage: edges move smoothly at sub-pixel speeds, so slow motion is visible to optical flow
 * instead of jumping a whole pixel every few frames.
 */
import type { Rgb } from './colour.js';
import { extents, insideShape, type Shape } from './shapes.js';

/** Where the object is in one frame: centre in pixels (pixel (i, j) spans [i, i+1) x [j, j+1)). */
export interface Pose {
  x: number;
  y: number;
  /** Radians; positive turns clockwise on screen (y grows downwards). */
  angle: number;
  /** Radius of the shape in pixels (shapes are normalised to radius 1). */
  scale: number;
}

const SS = 4;

/** Fraction of pixel (px, py) covered by the shape, in 0..1. */
function coverage(shape: Shape, px: number, py: number, pose: Pose, c: number, s: number): number {
  let hits = 0;
  for (let j = 0; j < SS; j++) {
    const wy = py + (j + 0.5) / SS - pose.y;
    for (let i = 0; i < SS; i++) {
      const wx = px + (i + 0.5) / SS - pose.x;
      // Inverse of world = centre + scale * R(angle) * local.
      const lx = (c * wx + s * wy) / pose.scale;
      const ly = (-s * wx + c * wy) / pose.scale;
      if (insideShape(shape.pieces, lx, ly)) hits++;
    }
  }
  return hits / (SS * SS);
}

/** Blends `shape` at `pose` in colour `rgb` over `frame` (RGB24, width x height) in place. */
export function drawShape(frame: Uint8Array, width: number, height: number, shape: Shape, pose: Pose, rgb: Rgb): void {
  const e = extents(shape, pose.angle, pose.scale);
  const x0 = Math.max(0, Math.floor(pose.x - e.left));
  const x1 = Math.min(width - 1, Math.ceil(pose.x + e.right));
  const y0 = Math.max(0, Math.floor(pose.y - e.top));
  const y1 = Math.min(height - 1, Math.ceil(pose.y + e.bottom));
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const a = coverage(shape, px, py, pose, c, s);
      if (a === 0) continue;
      const o = (py * width + px) * 3;
      frame[o] = Math.round(frame[o] * (1 - a) + rgb[0] * a);
      frame[o + 1] = Math.round(frame[o + 1] * (1 - a) + rgb[1] * a);
      frame[o + 2] = Math.round(frame[o + 2] * (1 - a) + rgb[2] * a);
    }
  }
}
