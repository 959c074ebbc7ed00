/**
 * A uniform grid over 2-D points, built once (a counting sort: two passes, no per-cell arrays), so
 * "which point is under the pointer" looks at a handful of cells instead of every point: O(1) per
 * mouse move at 70k points. Coordinates are in a fixed frame (the plot's unzoomed pixels); a
 * zoomed view converts its query into that frame, so zooming never rebuilds the index.
 * Within a cell points keep their index order, so among points at the same distance the lowest
 * index wins (the first drawn, as the plot's click has always chosen).
 */
export class PointIndex {
  readonly cols: number;
  readonly rows: number;
  /** Points of cell c: items[start[c] .. start[c + 1]). */
  private readonly start: Int32Array;
  private readonly items: Int32Array;

  /**
   * @param xs, ys point coordinates in [0, width] x [0, height] (values outside are clamped to the border cells)
   * @param cell cell side in the same units
   */
  constructor(
    readonly xs: Float32Array,
    readonly ys: Float32Array,
    width: number,
    height: number,
    readonly cell: number,
  ) {
    this.cols = Math.max(1, Math.ceil(width / cell));
    this.rows = Math.max(1, Math.ceil(height / cell));
    const n = xs.length;
    const cellOf = new Int32Array(n);
    const start = new Int32Array(this.cols * this.rows + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cellAt(xs[i]!, ys[i]!);
      cellOf[i] = c;
      start[c + 1]!++;
    }
    for (let c = 0; c < this.cols * this.rows; c++) start[c + 1]! += start[c]!;
    const fill = start.slice(0, -1);
    const items = new Int32Array(n);
    for (let i = 0; i < n; i++) items[fill[cellOf[i]!]!++] = i;
    this.start = start;
    this.items = items;
  }

  private col(x: number): number {
    return Math.min(this.cols - 1, Math.max(0, Math.floor(x / this.cell)));
  }

  private row(y: number): number {
    return Math.min(this.rows - 1, Math.max(0, Math.floor(y / this.cell)));
  }

  private cellAt(x: number, y: number): number {
    return this.row(y) * this.cols + this.col(x);
  }

  /** Index of the point nearest (x, y) within `radius` (same units), or -1. */
  nearest(x: number, y: number, radius: number, accept: (i: number) => boolean = () => true): number {
    let best = -1;
    let bestD = radius * radius;
    const c0 = this.col(x - radius), c1 = this.col(x + radius);
    const r0 = this.row(y - radius), r1 = this.row(y + radius);
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.cols + c;
        for (let k = this.start[cell]!; k < this.start[cell + 1]!; k++) {
          const i = this.items[k]!;
          const dx = this.xs[i]! - x;
          const dy = this.ys[i]! - y;
          const d = dx * dx + dy * dy;
          if ((d < bestD || (d === bestD && best >= 0 && i < best)) && accept(i)) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  /**
   * The point nearest (x, y) in direction (dx, dy) (a unit axis vector): within the 90-degree cone
   * around the direction, excluding `from`. Rings of cells are searched outwards until no nearer
   * point can exist; `accept` limits the search (e.g. to points on screen).
   */
  nearestToward(from: number, dx: number, dy: number, accept: (i: number) => boolean, maxRadius: number): number {
    const x = this.xs[from]!;
    const y = this.ys[from]!;
    const cx = this.col(x), cy = this.row(y);
    let best = -1;
    let bestD = Infinity;
    const maxRing = Math.ceil(maxRadius / this.cell) + 1;
    for (let ring = 0; ring <= maxRing; ring++) {
      // Every point of ring `ring` is at least (ring - 1) cells away.
      if (best >= 0 && (ring - 1) * this.cell > Math.sqrt(bestD)) break;
      for (let r = cy - ring; r <= cy + ring; r++) {
        if (r < 0 || r >= this.rows) continue;
        const edge = r === cy - ring || r === cy + ring;
        for (let c = cx - ring; c <= cx + ring; c += edge || ring === 0 ? 1 : 2 * ring) {
          if (c < 0 || c >= this.cols) continue;
          const cell = r * this.cols + c;
          for (let k = this.start[cell]!; k < this.start[cell + 1]!; k++) {
            const i = this.items[k]!;
            if (i === from) continue;
            const px = this.xs[i]! - x;
            const py = this.ys[i]! - y;
            const along = px * dx + py * dy;
            if (along <= 0 || Math.abs(px * dy - py * dx) > along) continue;
            const d = px * px + py * py;
            if ((d < bestD || (d === bestD && i < best)) && accept(i)) {
              bestD = d;
              best = i;
            }
          }
        }
      }
    }
    return best;
  }
}
