/**
 * t-SNE building blocks against brute-force references: perplexity calibration (entropy of the
 * conditional distribution computed directly), the FFT, the interpolated and Barnes-Hut
 * repulsion vs the exact O(n^2) sums, determinism (also across the worker-thread path), and
 * the documented fallbacks for small / degenerate / invalid input.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { isNeurolensError } from '../src/errors.js';
import { calibratePerplexity, embed2d, exactKl, tsne } from '../src/embed/index.js';
import { fft2dForward, fft2dInverse } from '../src/embed/tsne-fft.js';
import { InterpRepulsion } from '../src/embed/tsne-interp.js';
import { BarnesHutRepulsion } from '../src/embed/tsne-bh.js';
import { exactRepulsion } from '../src/embed/tsne-exact.js';
import { symmetrize } from '../src/embed/tsne-p.js';
import { mulberry32 } from '../src/train/prng.js';

function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-300))) * Math.cos(2 * Math.PI * rand());
}

/** Gaussian mixture: `c` clusters in `d` dims, cluster i % c. */
function mixture(n: number, d: number, c: number, seed: number) {
  const rand = mulberry32(seed);
  const centers = Array.from({ length: c }, () => Array.from({ length: d }, () => 5 * gauss(rand)));
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data[i * d + j] = centers[i % c][j] + gauss(rand);
  return { data, n, d };
}

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('perplexity calibration', () => {
  it('matches the brute-force entropy of each conditional distribution (within 1e-3 relative)', () => {
    const rand = mulberry32(3);
    const n = 6, k = 40;
    const d2 = new Float64Array(n * k);
    for (let t = 0; t < d2.length; t++) d2[t] = (t % k < 3 ? 0.1 : 1) * (1 + 50 * rand()) ** 2; // spread scales
    for (const perplexity of [5, 12.5, 30]) {
      const cal = calibratePerplexity(d2, n, k, perplexity);
      expect(cal.unconverged).toBe(0);
      for (let i = 0; i < n; i++) {
        // Brute force from beta alone: p_j = exp(-beta d_j^2) / sum, H = -sum p ln p, perplexity = e^H.
        const beta = cal.beta[i];
        const w = Array.from({ length: k }, (_, j) => Math.exp(-beta * (d2[i * k + j] - Math.min(...d2.subarray(i * k, i * k + k)))));
        const s = w.reduce((a, b) => a + b, 0);
        const p = w.map((x) => x / s);
        const H = -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0);
        expect(Math.abs(Math.exp(H) - perplexity) / perplexity).toBeLessThan(1e-3);
        for (let j = 0; j < k; j++) expect(cal.P[i * k + j]).toBeCloseTo(p[j], 12);
      }
    }
  });

  it('all-equal distances: bounded search, uniform rows, reported as unconverged', () => {
    const d2 = new Float64Array(3 * 10); // all zero: every beta gives entropy ln 10
    const cal = calibratePerplexity(d2, 3, 10, 3);
    expect(cal.unconverged).toBe(3);
    for (let t = 0; t < 30; t++) expect(cal.P[t]).toBeCloseTo(0.1, 12);
  });

  it('symmetrised P sums to 1 and is symmetric', () => {
    const idx = Int32Array.from([1, 2, 0, 2, 0, 1, 0, 1]); // 4 points, k = 2 (point 3 -> 0, 1)
    const cond = Float64Array.from([0.7, 0.3, 0.5, 0.5, 0.9, 0.1, 0.6, 0.4]);
    const P = symmetrize(idx, cond, 4, 2);
    let sum = 0;
    const get = (i: number, j: number) => {
      for (let e = P.rowPtr[i]; e < P.rowPtr[i + 1]; e++) if (P.cols[e] === j) return P.vals[e];
      return 0;
    };
    for (let e = 0; e < P.vals.length; e++) sum += P.vals[e];
    expect(sum).toBeCloseTo(1, 6);
    expect(get(0, 1)).toBeCloseTo((0.7 + 0.5) / 8, 7);
    expect(get(1, 0)).toBeCloseTo(get(0, 1), 7);
    expect(get(3, 0)).toBeCloseTo(0.6 / 8, 7);
    expect(get(0, 3)).toBeCloseTo(0.6 / 8, 7);
  });
});

describe('FFT and repulsion approximations', () => {
  it('2-D FFT: a bin equals the direct DFT; forward + inverse is the identity', () => {
    const p = 32, m = 16;
    const rand = mulberry32(5);
    const re = new Float64Array(p * p), im = new Float64Array(p * p);
    for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) (re[r * p + c] = rand()), (im[r * p + c] = rand());
    const orig = { re: re.slice(), im: im.slice() };
    fft2dForward(re, im, p, m);
    for (const [kr, kc] of [[0, 0], [3, 7], [31, 1]]) {
      let sr = 0, si = 0;
      for (let r = 0; r < p; r++) {
        for (let c = 0; c < p; c++) {
          const a = (-2 * Math.PI * (kr * r + kc * c)) / p;
          sr += orig.re[r * p + c] * Math.cos(a) - orig.im[r * p + c] * Math.sin(a);
          si += orig.re[r * p + c] * Math.sin(a) + orig.im[r * p + c] * Math.cos(a);
        }
      }
      // spectrum is stored transposed: [kc][kr]
      expect(re[kc * p + kr]).toBeCloseTo(sr, 9);
      expect(im[kc * p + kr]).toBeCloseTo(si, 9);
    }
    fft2dInverse(re, im, p, m);
    for (let r = 0; r < m; r++) for (let c = 0; c < m; c++) expect(re[r * p + c]).toBeCloseTo(orig.re[r * p + c], 12);
  });

  it('interpolation (FIt-SNE) and Barnes-Hut forces and Z agree with the exact sums', () => {
    const n = 1500, rand = mulberry32(9);
    const Y = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const c = i % 5;
      Y[2 * i] = 12 * Math.cos(c) + (1 + c) * gauss(rand);
      Y[2 * i + 1] = 12 * Math.sin(c) + (1 + c) * gauss(rand);
    }
    const ex = new Float64Array(2 * n);
    const zEx = exactRepulsion(Y, n, ex);
    const err = (out: Float64Array, z: number) => {
      let num = 0, den = 0;
      for (let i = 0; i < 2 * n; i++) {
        num += (out[i] / z - ex[i] / zEx) ** 2;
        den += (ex[i] / zEx) ** 2;
      }
      return { f: Math.sqrt(num / den), z: Math.abs(z - zEx) / zEx };
    };
    const outI = new Float64Array(2 * n);
    const eI = err(outI, new InterpRepulsion(n).compute(Y, outI));
    expect(eI.z).toBeLessThan(1e-3);
    expect(eI.f).toBeLessThan(0.02);
    const outB = new Float64Array(2 * n);
    const eB = err(outB, new BarnesHutRepulsion(n, 0.5).compute(Y, outB));
    expect(eB.z).toBeLessThan(0.06);
    expect(eB.f).toBeLessThan(0.1);
    // theta -> 0 makes Barnes-Hut exact
    const out0 = new Float64Array(2 * n);
    const e0 = err(out0, new BarnesHutRepulsion(n, 0).compute(Y, out0));
    expect(e0.z).toBeLessThan(1e-12);
    expect(e0.f).toBeLessThan(1e-12);
  });
});

describe('tsne', () => {
  const x = mixture(400, 8, 4, 1);

  it('is deterministic for a seed, on the main thread and with the worker thread alike', async () => {
    const a = await tsne(x, { seed: 7, iterations: 300, init: 'random' });
    const b = await tsne(x, { seed: 7, iterations: 300, init: 'random' });
    const w = await tsne(x, { seed: 7, iterations: 300, init: 'random', workerThread: true });
    expect(Array.from(b.coords)).toEqual(Array.from(a.coords));
    expect(Array.from(w.coords)).toEqual(Array.from(a.coords));
    // Interpolated repulsion with grid b and attraction on the worker: identical too.
    const ia = await tsne(x, { seed: 7, iterations: 300, init: 'random', repulsion: 'interp' });
    const iw = await tsne(x, { seed: 7, iterations: 300, init: 'random', repulsion: 'interp', workerThread: true });
    expect(Array.from(iw.coords)).toEqual(Array.from(ia.coords));
    const c = await tsne(x, { seed: 8, iterations: 300, init: 'random' });
    expect(Array.from(c.coords)).not.toEqual(Array.from(a.coords));
    expect(a.stats.kl).toBeGreaterThan(0);
    // Reported KL is the exact KL of the sparse P.
    expect(a.stats.klExact).toBe(1);
  });

  it('separates a well-clustered mixture and reaches a low exact KL', async () => {
    const r = await tsne(x, { seed: 1 });
    expect(r.repulsion).toBe('exact');
    expect(exactKl(x, r.coords, 30)).toBeLessThan(1.0);
    // every point's nearest layout neighbour is in its own cluster
    let same = 0;
    for (let i = 0; i < x.n; i++) {
      let best = -1, bd = Infinity;
      for (let j = 0; j < x.n; j++) {
        if (j === i) continue;
        const dd = (r.coords[2 * i] - r.coords[2 * j]) ** 2 + (r.coords[2 * i + 1] - r.coords[2 * j + 1]) ** 2;
        if (dd < bd) (bd = dd), (best = j);
      }
      if (best % 4 === i % 4) same++;
    }
    expect(same / x.n).toBeGreaterThan(0.99);
  });
});

describe('embed2d fallbacks and errors', () => {
  it('NaN / Inf codes: BAD_INPUT naming row and column', async () => {
    const x = mixture(20, 3, 2, 2);
    x.data[5 * 3 + 2] = Infinity;
    try {
      await embed2d(x, { method: 'tsne' });
      throw new Error('no throw');
    } catch (e) {
      expect(isNeurolensError(e) && e.code).toBe('BAD_INPUT');
      expect((e as Error).message).toMatch(/row 5 column 2 is Infinity/);
    }
  });

  it('fewer points than 3 * perplexity / nNeighbors: clamped and flagged, finite layout', async () => {
    const x = mixture(12, 4, 2, 3);
    const t = await embed2d(x, { method: 'tsne', perplexity: 30, seed: 1 });
    expect(t.stats.perplexityClamped).toBe(1);
    expect(t.params.k).toBe(11);
    expect(t.params.perplexity).toBeCloseTo(11 / 3, 12);
    expect(t.coords.every(Number.isFinite)).toBe(true);
    const u = await embed2d(x, { method: 'umap', nNeighbors: 15, seed: 1 });
    expect(u.stats.nNeighborsClamped).toBe(1);
    expect(u.params.nNeighbors).toBe(11);
    expect(u.coords.every(Number.isFinite)).toBe(true);
  });

  it('all-identical points: all-zero layout flagged degenerate, for every method; n <= 2 handled', async () => {
    const data = new Float32Array(50 * 6).fill(0.25);
    for (const method of ['tsne', 'umap', 'pca'] as const) {
      const r = await embed2d({ data, n: 50, d: 6 }, { method });
      expect(r.stats.degenerate).toBe(1);
      expect(r.coords.every((v) => v === 0)).toBe(true);
    }
    expect((await embed2d({ data: new Float32Array(0), n: 0, d: 3 }, { method: 'tsne' })).coords.length).toBe(0);
    expect(Array.from((await embed2d({ data: Float32Array.from([1, 2]), n: 2, d: 1 }, { method: 'umap' })).coords)).toEqual([-1, 0, 1, 0]);
  });

  it('duplicates among distinct points do not break t-SNE (kNN distance 0, finite P)', async () => {
    const x = mixture(200, 5, 3, 4);
    for (let i = 0; i < 40; i++) x.data.copyWithin((100 + i) * 5, i * 5, i * 5 + 5);
    const r = await embed2d(x, { method: 'tsne', seed: 2, iterations: 300 });
    expect(r.coords.every(Number.isFinite)).toBe(true);
    expect(r.stats.kl).toBeGreaterThan(0);
  });
});
