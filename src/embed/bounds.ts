/** Bounding box of n 2-D points stored interleaved (x0, y0, x1, y1, ...). */
export interface Bounds2d {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

export function bounds2d(Y: Float64Array, n: number): Bounds2d {
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = Y[2 * i], y = Y[2 * i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return { minX, maxX, minY, maxY };
}
