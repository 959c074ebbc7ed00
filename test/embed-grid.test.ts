/**
 * Grid assignment (LAPJV and the tiled approximation), stratified sampling and kNN placement:
 * optimality against brute force over all permutations, one point per cell, known answers.
 */
import { describe, expect, it } from 'vitest';
import { lapjv } from '../src/embed/lapjv.js';
import { assignGrid, type GridAssignment } from '../src/embed/grid.js';
import { stratifiedSample } from '../src/embed/sample.js';
import { placeByKnn } from '../src/embed/place.js';
import { mulberry32 } from '../src/train/prng.js';
import { NeurolensError } from '../src/errors.js';

/** Every permutation of 0..n-1 (Heap's algorithm). */
function* permutations(n: number): Generator<number[]> {
  const a = Array.from({ length: n }, (_, i) => i);
  const c = new Array<number>(n).fill(0);
  yield a.slice();
  let i = 0;
  while (i < n) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [a[j], a[i]] = [a[i], a[j]];
      yield a.slice();
      c[i]++;
      i = 0;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

function bruteForceLap(cost: Float64Array, n: number): number {
  let best = Infinity;
  for (const p of permutations(n)) {
    let s = 0;
    for (let i = 0; i < n; i++) s += cost[i * n + p[i]];
    if (s < best) best = s;
  }
  return best;
}

/** Min over injective maps of k points into m cells of the summed cost (k <= m), by brute force. */
function bruteForceInjective(cost: (p: number, c: number) => number, k: number, m: number): number {
  let best = Infinity;
  const used = new Uint8Array(m);
  const go = (p: number, acc: number): void => {
    if (acc >= best) return;
    if (p === k) {
      best = acc;
      return;
    }
    for (let c = 0; c < m; c++) {
      if (used[c]) continue;
      used[c] = 1;
      go(p + 1, acc + cost(p, c));
      used[c] = 0;
    }
  };
  go(0, 0);
  return best;
}

function checkOneToOne(g: GridAssignment, n: number): void {
  const seen = new Set<number>();
  for (let cell = 0; cell < g.cellToPoint.length; cell++) {
    const p = g.cellToPoint[cell];
    if (p < 0) continue;
    expect(seen.has(p)).toBe(false);
    seen.add(p);
    expect(g.pointToCell[p]).toBe(cell);
  }
  for (let p = 0; p < n; p++) if (g.pointToCell[p] >= 0) expect(g.cellToPoint[g.pointToCell[p]]).toBe(p);
}

/**
 * The cost assignGrid minimises, written out independently: each axis min-max scaled onto the
 * cell-centre span [0.5/k, 1 - 0.5/k], squared distance to the centre of `cell`.
 */
function costFn(xy: Float32Array, n: number, cols: number, rows: number): (point: number, cell: number) => number {
  const lo = [Infinity, Infinity];
  const hi = [-Infinity, -Infinity];
  for (let i = 0; i < n; i++) for (const a of [0, 1]) (lo[a] = Math.min(lo[a], xy[i * 2 + a])), (hi[a] = Math.max(hi[a], xy[i * 2 + a]));
  const scale = (v: number, a: number, k: number) => (0.5 + ((v - lo[a]) / (hi[a] - lo[a])) * (k - 1)) / k;
  return (i, cell) =>
    (scale(xy[i * 2], 0, cols) - ((cell % cols) + 0.5) / cols) ** 2 + (scale(xy[i * 2 + 1], 1, rows) - (Math.floor(cell / cols) + 0.5) / rows) ** 2;
}

function gridCost(xy: Float32Array, n: number, g: GridAssignment): number {
  const cost = costFn(xy, n, g.cols, g.rows);
  let s = 0;
  for (let i = 0; i < n; i++) if (g.pointToCell[i] >= 0) s += cost(i, g.pointToCell[i]);
  return s;
}

function randomPoints(n: number, seed: number, clusters = 5): Float32Array {
  const r = mulberry32(seed);
  const xy = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    xy[i * 2] = Math.cos(c * 2.1) * 3 + (r() - 0.5) * 2;
    xy[i * 2 + 1] = Math.sin(c * 2.1) * 3 + (r() - 0.5) * 2;
  }
  return xy;
}

describe('lapjv', () => {
  it('finds the brute-force optimum on random, tied and degenerate square matrices', () => {
    const r = mulberry32(7);
    let cases = 0;
    for (let n = 1; n <= 7; n++) {
      for (let t = 0; t < 12; t++) {
        // Real costs, small integer costs (many ties) and rank-one costs (all rows proportional).
        const kind = t % 3;
        const u = Array.from({ length: n }, () => r());
        const cost = Float64Array.from({ length: n * n }, (_, k) => (kind === 0 ? r() * 10 : kind === 1 ? Math.floor(r() * 3) : u[Math.floor(k / n)] * (k % n)));
        const a = lapjv(cost, n);
        expect([...a.rowToCol].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
        for (let i = 0; i < n; i++) expect(a.colToRow[a.rowToCol[i]]).toBe(i);
        let s = 0;
        for (let i = 0; i < n; i++) s += cost[i * n + a.rowToCol[i]];
        expect(a.cost).toBeCloseTo(s, 9);
        expect(a.cost).toBeCloseTo(bruteForceLap(cost, n), 9);
        // The augmenting-row-reduction variant reaches the same optimum.
        expect(lapjv(cost, n, 2).cost).toBeCloseTo(a.cost, 9);
        cases++;
      }
    }
    expect(cases).toBe(84);
  });

  it('rejects a cost matrix with a non-finite entry', () => {
    expect(() => lapjv(Float64Array.from([0, NaN, 1, 2]), 2)).toThrow(/cost\[0\]\[1\] is NaN/);
  });
});

describe('assignGrid', () => {
  it('exact: equals the brute-force optimum over all placements of 7 points in a 3x3 grid', () => {
    for (const seed of [1, 2, 3]) {
      const xy = randomPoints(7, seed, 3);
      const g = assignGrid(xy, 7, { cols: 3, rows: 3 });
      expect(g.exact).toBe(true);
      checkOneToOne(g, 7);
      expect([...g.pointToCell].every((c) => c >= 0)).toBe(true);
      expect(g.cellToPoint.filter((p) => p < 0).length).toBe(2);
      expect(g.cost).toBeCloseTo(bruteForceInjective(costFn(xy, 7, 3, 3), 7, 9), 9);
      expect(gridCost(xy, 7, g)).toBeCloseTo(g.cost, 9);
    }
  });

  it('exact with more points than cells: shows the subset of minimum cost, one per cell', () => {
    const xy = randomPoints(7, 11, 2);
    const g = assignGrid(xy, 7, { cols: 2, rows: 2 });
    checkOneToOne(g, 7);
    expect([...g.cellToPoint].every((p) => p >= 0)).toBe(true);
    expect([...g.pointToCell].filter((c) => c >= 0).length).toBe(4);
    // Brute force over cells -> points (4 cells, 7 candidates).
    const cost = costFn(xy, 7, 2, 2);
    expect(g.cost).toBeCloseTo(bruteForceInjective((c, i) => cost(i, c), 4, 7), 9);
    expect(gridCost(xy, 7, g)).toBeCloseTo(g.cost, 9);
  });

  it('points already on the cell centres go to their own cells (exact and tiled)', () => {
    const cols = 40;
    const rows = 35;
    const n = cols * rows;
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const r = mulberry32(3);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const xy = new Float32Array(n * 2);
    order.forEach((cell, p) => {
      xy[p * 2] = cell % cols;
      xy[p * 2 + 1] = Math.floor(cell / cols);
    });
    for (const exactLimit of [n, 0]) {
      const g = assignGrid(xy, n, { cols, rows, exactLimit });
      expect(g.exact).toBe(exactLimit > 0);
      expect([...g.pointToCell]).toEqual([...order]);
      expect(g.cost).toBeCloseTo(0, 9);
    }
  });

  it('tiled approximation: one point per cell, every point placed, cost close to the exact optimum, refinement only helps', () => {
    const n = 1200;
    const xy = randomPoints(n, 5);
    const cols = 35;
    const rows = 35; // 1225 cells, 25 empty
    const exact = assignGrid(xy, n, { cols, rows });
    expect(exact.exact).toBe(true);
    const costs: number[] = [];
    for (const refinePasses of [0, 2, 4, 8]) {
      const g = assignGrid(xy, n, { cols, rows, exactLimit: 0, refinePasses });
      expect(g.exact).toBe(false);
      checkOneToOne(g, n);
      expect([...g.pointToCell].every((c) => c >= 0)).toBe(true);
      expect(g.cost).toBeCloseTo(gridCost(xy, n, g), 6);
      expect(g.cost).toBeGreaterThanOrEqual(exact.cost - 1e-9);
      costs.push(g.cost);
    }
    for (let i = 1; i < costs.length; i++) expect(costs[i]).toBeLessThanOrEqual(costs[i - 1] + 1e-9);
    expect(costs[3] / exact.cost).toBeLessThan(1.05);
    expect(costs[0] / exact.cost).toBeGreaterThan(costs[3] / exact.cost);
  });

  it('tiled with more points than cells shows a seeded subset, one per cell', () => {
    const n = 4000;
    const xy = randomPoints(n, 9);
    const a = assignGrid(xy, n, { cols: 30, rows: 30, seed: 1 });
    const b = assignGrid(xy, n, { cols: 30, rows: 30, seed: 1 });
    const c = assignGrid(xy, n, { cols: 30, rows: 30, seed: 2 });
    checkOneToOne(a, n);
    expect([...a.cellToPoint].every((p) => p >= 0)).toBe(true);
    expect([...a.cellToPoint]).toEqual([...b.cellToPoint]);
    expect([...a.cellToPoint]).not.toEqual([...c.cellToPoint]);
  });

  it('rejects an empty grid and non-finite coordinates', () => {
    expect(() => assignGrid(new Float32Array(2), 1, { cols: 0, rows: 1 })).toThrow(NeurolensError);
    expect(() => assignGrid(Float32Array.from([0, 0, NaN, 1]), 2, { cols: 2, rows: 1 })).toThrow(/point 1 has a non-finite/);
  });
});

describe('stratifiedSample', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 500 ? 0 : i < 800 ? 1 : i < 990 ? 2 : i < 995 ? 3 : -1));

  it('keeps every class share (largest remainder), is seeded and sorted', () => {
    const s = stratifiedSample(labels, 100, 42);
    expect(s.length).toBe(100);
    expect(new Set(s).size).toBe(100);
    expect([...s]).toEqual([...s].sort((a, b) => a - b));
    const count = (l: number) => [...s].filter((i) => labels[i] === l).length;
    expect([count(0), count(1), count(2)]).toEqual([50, 30, 19]);
    // 0.5 + 0.5 remainders: one of the two small strata gets the last point.
    expect(count(3) + count(-1)).toBe(1);
    expect([...stratifiedSample(labels, 100, 42)]).toEqual([...s]);
    expect([...stratifiedSample(labels, 100, 43)]).not.toEqual([...s]);
  });

  it('size n is every point; larger is an error naming both numbers', () => {
    expect([...stratifiedSample(labels, 1000, 1)]).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(() => stratifiedSample(labels, 1001, 1)).toThrow(/1001 points asked, but only 1000/);
  });
});

describe('placeByKnn', () => {
  it('interpolates the 2-D positions of the nearest sampled codes, inverse-distance weighted', () => {
    // Codes on a line at 0, 1, 2, 3 (sampled) and 0.5, 2 (duplicate of a sampled point), 2.75.
    const codes = { data: Float32Array.from([0, 1, 2, 3, 0.5, 2, 2.75]), n: 7, d: 1 };
    const sampled = Int32Array.from([0, 1, 2, 3]);
    const coords = Float32Array.from([0, 0, 10, 0, 10, 10, 0, 10]);
    const p = placeByKnn(codes, sampled, coords, 2);
    expect(p.k).toBe(2);
    expect([...p.coords.subarray(0, 8)]).toEqual([...coords]);
    // 0.5: equidistant from codes 0 and 1 -> midpoint of (0,0) and (10,0).
    expect(p.coords[8]).toBeCloseTo(5, 4);
    expect(p.coords[9]).toBeCloseTo(0, 4);
    // 2: coincides with sampled code 2 -> its position.
    expect(p.coords[10]).toBeCloseTo(10, 3);
    expect(p.coords[11]).toBeCloseTo(10, 3);
    // 2.75: neighbours 3 (d 0.25, w 4) and 2 (d 0.75, w 4/3): (4*(0,10) + 4/3*(10,10)) / (16/3).
    expect(p.coords[12]).toBeCloseTo(2.5, 4);
    expect(p.coords[13]).toBeCloseTo(10, 4);
  });
});
