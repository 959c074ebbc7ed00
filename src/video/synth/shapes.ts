/**
 * The objects of the synthetic action videos, as unions of convex pieces (polygons and
 * ellipses) in local units. Every shape is centred on its area centroid and scaled so that its
 * farthest point is at distance 1: a pose's `scale` is then the object's radius in pixels, and
 * rotating about the origin spins the object in place.
 *
 * The generic shapes are the appearance nuisance of the motion classes; most have little or no
 * rotational symmetry (the Latin cross, the L, the scalene triangle) so a spin is visible in any
 * frame pair. The "instrument" (elongated body with a small head) is the violin/cello shape.
 */
export type Piece =
  | { kind: 'poly'; pts: number[] } // convex, x0 y0 x1 y1 ..., counter-clockwise after normalise()
  | { kind: 'ellipse'; cx: number; cy: number; rx: number; ry: number };

export interface Shape {
  name: string;
  pieces: Piece[];
  /** Points on the outline, for rotated extents (polygon vertices, sampled ellipses). */
  outline: number[];
  /** Vertical extent at angle 0, in local units (the instrument's length). */
  height: number;
}

export const GENERIC_SHAPES = ['bar', 'triangle', 'cross', 'l-shape', 'square'] as const;
export type GenericShape = (typeof GENERIC_SHAPES)[number];

const rect = (x0: number, y0: number, x1: number, y1: number): Piece => ({ kind: 'poly', pts: [x0, y0, x1, y0, x1, y1, x0, y1] });

const RAW: Record<GenericShape | 'instrument', Piece[]> = {
  bar: [rect(-1, -0.22, 1, 0.22)],
  triangle: [{ kind: 'poly', pts: [-0.8, 0.7, 1.0, 0.7, -0.4, -0.9] }],
  // Latin cross: the crossbar sits above the centre, so only a mirror symmetry is left.
  cross: [rect(-0.18, -1, 0.18, 1), rect(-0.65, -0.55, 0.65, -0.19)],
  'l-shape': [rect(-0.6, -0.9, -0.2, 0.9), rect(-0.2, 0.5, 0.6, 0.9)],
  square: [rect(-0.7, -0.7, 0.7, 0.7)],
  // Lower bout, upper bout, neck, scroll (head): upright, head at the top (y grows downwards).
  instrument: [
    { kind: 'ellipse', cx: 0, cy: 0.38, rx: 0.4, ry: 0.36 },
    { kind: 'ellipse', cx: 0, cy: -0.08, rx: 0.31, ry: 0.27 },
    rect(-0.06, -0.75, 0.06, -0.25),
    { kind: 'ellipse', cx: 0, cy: -0.82, rx: 0.1, ry: 0.12 },
  ],
};

/** Whether local point (x, y) is inside any piece. */
export function insideShape(pieces: Piece[], x: number, y: number): boolean {
  for (const p of pieces) {
    if (p.kind === 'ellipse') {
      const dx = (x - p.cx) / p.rx;
      const dy = (y - p.cy) / p.ry;
      if (dx * dx + dy * dy <= 1) return true;
      continue;
    }
    const q = p.pts;
    const n = q.length;
    let inside = true;
    for (let i = 0; i < n; i += 2) {
      const x0 = q[i];
      const y0 = q[i + 1];
      const x1 = q[(i + 2) % n];
      const y1 = q[(i + 3) % n];
      if ((x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) < 0) {
        inside = false;
        break;
      }
    }
    if (inside) return true;
  }
  return false;
}

function outlineOf(pieces: Piece[]): number[] {
  const out: number[] = [];
  for (const p of pieces) {
    if (p.kind === 'poly') out.push(...p.pts);
    else for (let k = 0; k < 64; k++) out.push(p.cx + p.rx * Math.cos((k * Math.PI) / 32), p.cy + p.ry * Math.sin((k * Math.PI) / 32));
  }
  return out;
}

function mapPieces(pieces: Piece[], f: (x: number, y: number) => [number, number], s: number): Piece[] {
  return pieces.map((p) => {
    if (p.kind === 'ellipse') {
      const [cx, cy] = f(p.cx, p.cy);
      return { ...p, cx, cy, rx: p.rx * s, ry: p.ry * s };
    }
    const pts: number[] = [];
    for (let i = 0; i < p.pts.length; i += 2) pts.push(...f(p.pts[i], p.pts[i + 1]));
    // Edge test in insideShape() wants one orientation: flip clockwise polygons.
    let area = 0;
    for (let i = 0; i < pts.length; i += 2) area += pts[i] * pts[(i + 3) % pts.length] - pts[(i + 2) % pts.length] * pts[i + 1];
    if (area < 0) for (let i = 0, j = pts.length - 2; i < j; i += 2, j -= 2) [pts[i], pts[i + 1], pts[j], pts[j + 1]] = [pts[j], pts[j + 1], pts[i], pts[i + 1]];
    return { kind: 'poly', pts };
  });
}

/** Centres on the area centroid (found on a fine grid: pieces may overlap) and scales to radius 1. */
function normalise(name: string, raw: Piece[]): Shape {
  const o = outlineOf(raw);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < o.length; i += 2) {
    x0 = Math.min(x0, o[i]); x1 = Math.max(x1, o[i]);
    y0 = Math.min(y0, o[i + 1]); y1 = Math.max(y1, o[i + 1]);
  }
  const N = 256;
  let sx = 0, sy = 0, n = 0;
  const oriented = mapPieces(raw, (x, y) => [x, y], 1);
  for (let j = 0; j < N; j++) {
    for (let i = 0; i < N; i++) {
      const x = x0 + ((i + 0.5) / N) * (x1 - x0);
      const y = y0 + ((j + 0.5) / N) * (y1 - y0);
      if (insideShape(oriented, x, y)) { sx += x; sy += y; n++; }
    }
  }
  const cx = sx / n;
  const cy = sy / n;
  let r = 0;
  for (let i = 0; i < o.length; i += 2) r = Math.max(r, Math.hypot(o[i] - cx, o[i + 1] - cy));
  const pieces = mapPieces(raw, (x, y) => [(x - cx) / r, (y - cy) / r], 1 / r);
  return { name, pieces, outline: outlineOf(pieces), height: (y1 - y0) / r };
}

export const SHAPES: Record<GenericShape | 'instrument', Shape> = Object.fromEntries(
  Object.entries(RAW).map(([name, raw]) => [name, normalise(name, raw)]),
) as Record<GenericShape | 'instrument', Shape>;

/** Pixel extents of `shape` rotated by `angle` (radians) and scaled by `scale`, around its centre. */
export function extents(shape: Shape, angle: number, scale: number): { left: number; right: number; top: number; bottom: number } {
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  let left = 0, right = 0, top = 0, bottom = 0;
  const o = shape.outline;
  for (let i = 0; i < o.length; i += 2) {
    const x = (c * o[i] - s * o[i + 1]) * scale;
    const y = (s * o[i] + c * o[i + 1]) * scale;
    left = Math.max(left, -x); right = Math.max(right, x);
    top = Math.max(top, -y); bottom = Math.max(bottom, y);
  }
  return { left, right, top, bottom };
}
