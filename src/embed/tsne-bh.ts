/**
 * Barnes-Hut t-SNE repulsion (van der Maaten 2014, "Accelerating t-SNE using Tree-Based
 * Algorithms", JMLR 15; bhtsne's SPTree in 2-D): a quadtree over the layout, each cell keeping
 * its point count and centre of mass; a cell whose width / distance < theta acts on a point as
 * one mass at its centre, with w = 1 / (1 + d^2):  Z_i += N w,  F_i += N w^2 (y_i - c).
 * Leaves hold one point (or several identical ones, below a depth limit), evaluated exactly with
 * the point itself skipped. Same interface as the exact and interpolated repulsion: fills the
 * numerators F_i, returns Z = sum_{i != j} w_ij.
 */
import { bounds2d } from './bounds.js';

const MAX_DEPTH = 40;

export class BarnesHutRepulsion {
  // Node storage (grown as needed). Children: 4 per node (-1 = none), leaf points in a linked list.
  private cap = 0;
  private child = new Int32Array(0);
  private count = new Int32Array(0);
  private massX = new Float64Array(0);
  private massY = new Float64Array(0);
  private halfW = new Float64Array(0);
  private midX = new Float64Array(0);
  private midY = new Float64Array(0);
  private firstPoint = new Int32Array(0); // leaf: first point index, -1 for internal nodes / empty
  private readonly nextPoint: Int32Array;
  private nodes = 0;
  private readonly stack: Int32Array;

  constructor(readonly n: number, readonly theta = 0.5) {
    this.nextPoint = new Int32Array(n);
    this.stack = new Int32Array(4 * MAX_DEPTH + 8);
    this.grow(Math.max(64, 2 * n));
  }

  private grow(cap: number): void {
    const copyI = (a: Int32Array, size: number, fill: number) => {
      const b = new Int32Array(size).fill(fill);
      b.set(a);
      return b;
    };
    const copyF = (a: Float64Array, size: number) => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.child = copyI(this.child, 4 * cap, -1);
    this.count = copyI(this.count, cap, 0);
    this.firstPoint = copyI(this.firstPoint, cap, -1);
    this.massX = copyF(this.massX, cap);
    this.massY = copyF(this.massY, cap);
    this.halfW = copyF(this.halfW, cap);
    this.midX = copyF(this.midX, cap);
    this.midY = copyF(this.midY, cap);
    this.cap = cap;
  }

  private newNode(mx: number, my: number, hw: number): number {
    if (this.nodes === this.cap) this.grow(2 * this.cap);
    const id = this.nodes++;
    this.child.fill(-1, 4 * id, 4 * id + 4);
    this.count[id] = 0;
    this.firstPoint[id] = -1;
    this.massX[id] = 0;
    this.massY[id] = 0;
    this.midX[id] = mx;
    this.midY[id] = my;
    this.halfW[id] = hw;
    return id;
  }

  private build(Y: Float64Array): void {
    const n = this.n;
    const { minX, maxX, minY, maxY } = bounds2d(Y, n);
    this.nodes = 0;
    const hw = Math.max(maxX - minX, maxY - minY) / 2 + 1e-5;
    this.newNode((minX + maxX) / 2, (minY + maxY) / 2, hw);
    for (let i = 0; i < n; i++) this.insert(Y, i);
  }

  private quadrant(node: number, x: number, y: number): number {
    return (x > this.midX[node] ? 1 : 0) + (y > this.midY[node] ? 2 : 0);
  }

  private insert(Y: Float64Array, i: number): void {
    const x = Y[2 * i], y = Y[2 * i + 1];
    let node = 0;
    for (let depth = 0; ; depth++) {
      // Running centre of mass and count of every cell on the way down.
      const c = this.count[node] + 1;
      this.massX[node] += (x - this.massX[node]) / c;
      this.massY[node] += (y - this.massY[node]) / c;
      this.count[node] = c;
      if (c === 1) {
        // Was empty: becomes a leaf holding i.
        this.firstPoint[node] = i;
        this.nextPoint[i] = -1;
        return;
      }
      const first = this.firstPoint[node];
      if (first >= 0) {
        // A leaf: keep identical points (or too-deep cells) together, else split.
        if ((Y[2 * first] === x && Y[2 * first + 1] === y) || depth >= MAX_DEPTH) {
          this.nextPoint[i] = first;
          this.firstPoint[node] = i;
          return;
        }
        this.firstPoint[node] = -1;
        // Push the old occupants one level down (they are identical, so one child).
        const q = this.quadrant(node, Y[2 * first], Y[2 * first + 1]);
        const ch = this.makeChild(node, q);
        let p = first;
        let k = 0;
        while (p >= 0) {
          k++;
          p = this.nextPoint[p];
        }
        this.firstPoint[ch] = first;
        this.count[ch] = k;
        this.massX[ch] = Y[2 * first];
        this.massY[ch] = Y[2 * first + 1];
      }
      const q = this.quadrant(node, x, y);
      let ch = this.child[4 * node + q];
      if (ch < 0) ch = this.makeChild(node, q);
      node = ch;
    }
  }

  private makeChild(node: number, q: number): number {
    const h = this.halfW[node] / 2;
    const ch = this.newNode(this.midX[node] + (q & 1 ? h : -h), this.midY[node] + (q & 2 ? h : -h), h);
    this.child[4 * node + q] = ch;
    return ch;
  }

  /** Fills `out` (n x 2) with F_i; returns Z. */
  compute(Y: Float64Array, out: Float64Array): number {
    this.build(Y);
    const theta2 = this.theta * this.theta;
    const stack = this.stack;
    const { child, count, massX, massY, halfW, firstPoint, nextPoint } = this;
    let z = 0;
    for (let i = 0; i < this.n; i++) {
      const xi = Y[2 * i], yi = Y[2 * i + 1];
      let fx = 0, fy = 0, zi = 0;
      let sp = 0;
      stack[sp++] = 0;
      while (sp > 0) {
        const node = stack[--sp];
        const first = firstPoint[node];
        if (first >= 0) {
          for (let p = first; p >= 0; p = nextPoint[p]) {
            if (p === i) continue;
            const dx = xi - Y[2 * p], dy = yi - Y[2 * p + 1];
            const w = 1 / (1 + dx * dx + dy * dy);
            zi += w;
            fx += w * w * dx;
            fy += w * w * dy;
          }
          continue;
        }
        const dx = xi - massX[node], dy = yi - massY[node];
        const d2 = dx * dx + dy * dy;
        const width = halfW[node]; // bhtsne compares the half-width (its Cell "width")
        if (width * width < theta2 * d2) {
          const w = 1 / (1 + d2);
          const nw = count[node] * w;
          zi += nw;
          fx += nw * w * dx;
          fy += nw * w * dy;
        } else {
          for (let q = 0; q < 4; q++) {
            const ch = child[4 * node + q];
            if (ch >= 0) stack[sp++] = ch;
          }
        }
      }
      out[2 * i] = fx;
      out[2 * i + 1] = fy;
      z += zi;
    }
    return z;
  }
}
