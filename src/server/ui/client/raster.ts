/**
 * Points as pixels: every point written as a small square straight into an ImageData's
 * Uint32Array view (one store per pixel, no canvas path per point), so 70k points take a few
 * milliseconds (bench/dashboard.ts measures it).
 */

/** '#rrggbb' as a little-endian RGBA word for a Uint32Array view of ImageData. */
export function rgba(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  return ((0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | ((v >> 16) & 0xff)) >>> 0;
}

export const WHITE = 0xffffffff;

/** Extents of the values; a zero-width range is widened so the points sit in the middle. */
export function extent(v: Float32Array): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    if (v[i]! < lo) lo = v[i]!;
    if (v[i]! > hi) hi = v[i]!;
  }
  if (!Number.isFinite(lo)) return [0, 1];
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

/** Pixel x = ox + x * sx, pixel y = oy - y * sy (y up). */
export interface Affine {
  ox: number;
  sx: number;
  oy: number;
  sy: number;
}

/**
 * Clears the S x S picture to white and draws point i as a 2r x 2r square of palette[colours[i]]
 * (later points over earlier ones); points off the picture are skipped.
 */
export function rasterize(pix: Uint32Array, S: number, xs: Float32Array, ys: Float32Array, m: Affine, colours: ArrayLike<number>, palette: Uint32Array, r: number): void {
  pix.fill(WHITE);
  for (let i = 0; i < xs.length; i++) {
    const px = Math.round(m.ox + xs[i]! * m.sx) - r;
    const py = Math.round(m.oy - ys[i]! * m.sy) - r;
    if (px >= S || py >= S || px + 2 * r <= 0 || py + 2 * r <= 0) continue;
    const c = palette[colours[i] ?? 0] ?? palette[0]!;
    const xa = Math.max(0, px), xb = Math.min(S, px + 2 * r);
    for (let y = Math.max(0, py), yb = Math.min(S, py + 2 * r); y < yb; y++) pix.fill(c, y * S + xa, y * S + xb);
  }
}
