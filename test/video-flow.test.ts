/**
 * Optical flow (src/video/flow.ts) on frames with known motion: smooth textures translated,
 * rotated and zoomed, where the true flow field is known in closed form. And the clip writer:
 * it fills exactly the motion slots of an NTHWC buffer (src/video/clip-layout.ts).
 */
import { describe, expect, it } from 'vitest';
import { OpticalFlow, clipMotion, rgbToLuma } from '../src/video/flow.js';
import { pyramidSizes } from '../src/video/flow-pyramid.js';
import { mulberry32 as rng } from '../src/train/prng.js';

type Texture = (x: number, y: number) => number;

/** A few sinusoids with random directions and phases, wavelengths 1/3 to 2/3 of the frame side. */
function sinusoids(size: number, seed: number): Texture {
  const r = rng(seed);
  const waves = Array.from({ length: 5 }, () => {
    const th = r() * Math.PI;
    const k = (2 * Math.PI) / (size * (1 / 3 + r() / 3));
    return { kx: k * Math.cos(th), ky: k * Math.sin(th), ph: r() * 2 * Math.PI, a: 0.05 + 0.05 * r() };
  });
  return (x, y) => 0.5 + waves.reduce((s, w) => s + w.a * Math.sin(w.kx * x + w.ky * y + w.ph), 0);
}

/** Uniform noise blurred by a Gaussian (sigma = size / 16), sampled bilinearly: a random smooth image. */
function blurredNoise(size: number, seed: number): Texture {
  const pad = size; // room for samples that move off the frame
  const n = size + 2 * pad;
  const r = rng(seed);
  let img = Float64Array.from({ length: n * n }, () => r());
  const sigma = size / 16;
  const rad = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * rad + 1 }, (_, i) => Math.exp(-((i - rad) ** 2) / (2 * sigma * sigma)));
  const ks = k.reduce((a, b) => a + b, 0);
  for (const horizontal of [true, false]) {
    const out = new Float64Array(n * n);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
      let s = 0;
      for (let j = -rad; j <= rad; j++) {
        const xx = horizontal ? Math.min(n - 1, Math.max(0, x + j)) : x;
        const yy = horizontal ? y : Math.min(n - 1, Math.max(0, y + j));
        s += k[j + rad] * img[yy * n + xx];
      }
      out[y * n + x] = s / ks;
    }
    img = out;
  }
  // Blurred uniform noise has a small spread around 0.5: stretch it to a video-like contrast.
  const lo = img.reduce((a, b) => Math.min(a, b)), hi = img.reduce((a, b) => Math.max(a, b));
  const at = (x: number, y: number) => img[y * n + x];
  return (x, y) => {
    const fx = x + pad, fy = y + pad;
    const x0 = Math.floor(fx), y0 = Math.floor(fy);
    const tx = fx - x0, ty = fy - y0;
    const v = (1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x0 + 1, y0)) + ty * ((1 - tx) * at(x0, y0 + 1) + tx * at(x0 + 1, y0 + 1));
    return 0.1 + (0.8 * (v - lo)) / (hi - lo);
  };
}

/** Frame of `tex` seen through the inverse of a motion: frame(p) = tex(back(p)). */
function frame(size: number, tex: Texture, back: (x: number, y: number) => [number, number] = (x, y) => [x, y]): Float32Array {
  const a = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) a[y * size + x] = tex(...back(x, y));
  return a;
}

/** Least-squares affine fit of the flow over the interior (border b): mean, curl and divergence. */
function fieldStats(u: Float32Array, v: Float32Array, size: number, b: number) {
  const c = (size - 1) / 2;
  let su = 0, sv = 0, uxx = 0, uyy = 0, vxx = 0, vyy = 0, xx = 0, yy = 0, n = 0;
  for (let y = b; y < size - b; y++) for (let x = b; x < size - b; x++) {
    const i = y * size + x;
    const dx = x - c;
    const dy = y - c;
    su += u[i]; sv += v[i];
    uxx += u[i] * dx; uyy += u[i] * dy; vxx += v[i] * dx; vyy += v[i] * dy;
    xx += dx * dx; yy += dy * dy; n++;
  }
  // On a grid symmetric about its centre the regressors are orthogonal: each slope is one ratio.
  const dudx = uxx / xx, dudy = uyy / yy, dvdx = vxx / xx, dvdy = vyy / yy;
  return { u: su / n, v: sv / n, curl: dvdx - dudy, div: dudx + dvdy };
}

describe('optical flow: translations', () => {
  for (const size of [32, 64]) {
    for (const [name, make] of [['sinusoids', sinusoids], ['blurred noise', blurredNoise]] as const) {
      it(`${size}x${size} ${name}: mean interior flow = the shift within 10%, 0.3 to 3 px`, () => {
        const of = new OpticalFlow(size, size);
        const r = rng(size + name.length);
        for (const d of [0.3, 0.6, 1, 1.5, 2, 3]) {
          for (let k = 0; k < 3; k++) {
            const tex = make(size, 1000 * d + k);
            const th = r() * 2 * Math.PI;
            const dx = d * Math.cos(th);
            const dy = d * Math.sin(th);
            // next(x, y) = prev(x - dx, y - dy): content moves by (dx, dy).
            of.compute(frame(size, tex), frame(size, tex, (x, y) => [x - dx, y - dy]));
            const s = fieldStats(of.u, of.v, size, Math.ceil(d) + 3);
            expect(Math.hypot(s.u - dx, s.v - dy) / d, `d=${d} theta=${th.toFixed(2)}: (${s.u.toFixed(3)}, ${s.v.toFixed(3)})`).toBeLessThan(0.1);
          }
        }
      });
    }
  }

  it('the bicubic warp (default) removes most of the bilinear warp\'s sub-pixel bias', () => {
    const meanError = (warp: 'bilinear' | 'bicubic') => {
      const of = new OpticalFlow(32, 32, { warp });
      let e = 0;
      for (let k = 0; k < 8; k++) {
        const tex = sinusoids(32, 500 + k);
        const [dx, dy] = [0.4 * Math.cos(k), 0.4 * Math.sin(k)];
        of.compute(frame(32, tex), frame(32, tex, (x, y) => [x - dx, y - dy]));
        const s = fieldStats(of.u, of.v, 32, 4);
        e += Math.hypot(s.u - dx, s.v - dy) / 0.4;
      }
      return e / 8;
    };
    expect(meanError('bicubic')).toBeLessThan(0.5 * meanError('bilinear'));
  });

  it('a square moving over a still background: its own motion inside, ~0 away from it', () => {
    const size = 32, half = 8, c = 16, [dx, dy] = [1.5, -1];
    const bg = blurredNoise(size, 5);
    const fg = blurredNoise(size, 99);
    const img = (t: number) => frame(size, (x, y) =>
      Math.abs(x - c - dx * t) < half && Math.abs(y - c - dy * t) < half ? fg(x - dx * t, y - dy * t) : bg(x, y));
    const of = new OpticalFlow(size, size);
    of.compute(img(0), img(1));
    let fu = 0, fv = 0, fn = 0, bg2 = 0, bn = 0;
    for (let y = 3; y < size - 3; y++) for (let x = 3; x < size - 3; x++) {
      const i = y * size + x;
      const ax = Math.abs(x - c), ay = Math.abs(y - c);
      if (ax < half - 3 && ay < half - 3) { fu += of.u[i]; fv += of.v[i]; fn++; }
      else if (ax > half + 4 || ay > half + 4) { bg2 += Math.hypot(of.u[i], of.v[i]); bn++; }
    }
    expect(Math.hypot(fu / fn - dx, fv / fn - dy) / Math.hypot(dx, dy)).toBeLessThan(0.1);
    expect(bg2 / bn).toBeLessThan(0.1);
  });

  it('identical frames give zero flow', () => {
    const of = new OpticalFlow(32, 32);
    const f = frame(32, blurredNoise(32, 7));
    const u = new Float32Array(32 * 32).fill(9);
    const v = new Float32Array(32 * 32).fill(9);
    of.compute(f, f, u, v);
    expect(Math.max(...u.map(Math.abs), ...v.map(Math.abs))).toBeLessThan(1e-6);
  });
});

describe('optical flow: rotation and zoom', () => {
  const size = 64;
  const c = (size - 1) / 2;
  const tex = blurredNoise(size, 11);
  const of = new OpticalFlow(size, size);

  for (const theta of [0.05, -0.05]) {
    it(`rotation by ${theta} rad: curl 2 theta (sign and ~25%), no divergence`, () => {
      // Content rotated by theta about the centre: next(p) = prev(R(-theta)(p - c) + c),
      // flow ~ theta (-(y - c), x - c), curl = dv/dx - du/dy = 2 theta.
      const cs = Math.cos(-theta), sn = Math.sin(-theta);
      of.compute(frame(size, tex), frame(size, tex, (x, y) => [c + cs * (x - c) - sn * (y - c), c + sn * (x - c) + cs * (y - c)]));
      const s = fieldStats(of.u, of.v, size, 6);
      expect(Math.sign(s.curl)).toBe(Math.sign(theta));
      expect(Math.abs(s.curl / (2 * theta) - 1)).toBeLessThan(0.25);
      expect(Math.abs(s.div)).toBeLessThan(0.25 * Math.abs(s.curl));
    });
  }

  for (const zoom of [1.06, 1 / 1.06]) {
    it(`zoom x${zoom.toFixed(3)}: divergence 2 (s - 1) (sign and ~25%), no curl`, () => {
      // next(p) = prev(c + (p - c) / s): flow (s - 1)(p - c), divergence 2 (s - 1).
      of.compute(frame(size, tex), frame(size, tex, (x, y) => [c + (x - c) / zoom, c + (y - c) / zoom]));
      const s = fieldStats(of.u, of.v, size, 6);
      expect(Math.sign(s.div)).toBe(Math.sign(zoom - 1));
      expect(Math.abs(s.div / (2 * (zoom - 1)) - 1)).toBeLessThan(0.25);
      expect(Math.abs(s.curl)).toBeLessThan(0.25 * Math.abs(s.div));
    });
  }
});

describe('clipMotion', () => {
  const W = 24, H = 16, T = 3, A = 3;
  const n = W * H;
  const tex = sinusoids(24, 3);
  const frames = new Float32Array((T + 1) * n);
  for (let t = 0; t <= T; t++) frames.set(frame(24, tex, (x, y) => [x - 0.7 * t, y + 0.4 * t]).subarray(0, n), t * n);
  const SENTINEL = -12345.5;

  for (const kind of ['flow', 'diff'] as const) {
    it(`${kind}: writes exactly its slots of the second clip of a batch`, () => {
      const M = kind === 'flow' ? 2 : 1;
      const stride = A + M;
      const clip = T * n * stride;
      const out = new Float32Array(2 * clip).fill(SENTINEL);
      const scale = 0.5;
      clipMotion(frames, T, W, H, kind, scale, out, { offset: clip, channel: A, stride }, new OpticalFlow(W, H));
      const ref = new OpticalFlow(W, H);
      for (let t = 0; t < T; t++) {
        const prev = frames.subarray(t * n, (t + 1) * n);
        const next = frames.subarray((t + 1) * n, (t + 2) * n);
        if (kind === 'flow') ref.compute(prev, next);
        for (let i = 0; i < n; i++) {
          const base = clip + (t * n + i) * stride;
          for (let ch = 0; ch < A; ch++) expect(out[base + ch]).toBe(SENTINEL);
          if (kind === 'diff') {
            expect(out[base + A]).toBe(Math.fround((next[i] - prev[i]) * scale));
          } else {
            expect(out[base + A]).toBe(Math.fround(ref.u[i] * scale));
            expect(out[base + A + 1]).toBe(Math.fround(ref.v[i] * scale));
          }
        }
      }
      for (let i = 0; i < clip; i++) expect(out[i]).toBe(SENTINEL);
      if (kind === 'flow') {
        // The clip moves by (0.7, -0.4) px per frame: the written channels carry it, scaled.
        let su = 0, sv = 0, m = 0;
        for (let t = 0; t < T; t++) for (let y = 4; y < H - 4; y++) for (let x = 4; x < W - 4; x++) {
          const base = clip + (t * n + y * W + x) * stride;
          su += out[base + A]; sv += out[base + A + 1]; m++;
        }
        expect(su / m).toBeCloseTo(0.7 * scale, 1);
        expect(sv / m).toBeCloseTo(-0.4 * scale, 1);
      }
    });
  }

  it('refuses slots that do not fit and a flow of the wrong size', () => {
    const out = new Float32Array(T * n * 4);
    expect(() => clipMotion(frames, T, W, H, 'flow', 1, out, { channel: 3, stride: 4 }, new OpticalFlow(W, H))).toThrow(RangeError);
    expect(() => clipMotion(frames, T, W, H, 'flow', 1, new Float32Array(T * n * 5), { channel: 3, stride: 5 }, new OpticalFlow(H, W))).toThrow(RangeError);
    expect(() => clipMotion(frames, T + 1, W, H, 'diff', 1, new Float32Array((T + 1) * n * 4), { channel: 3, stride: 4 })).toThrow(RangeError);
  });
});

describe('rgbToLuma and pyramid sizes', () => {
  it('BT.601 weights on 0..255 -> 0..1, RGB and RGBA', () => {
    const rgb = Uint8Array.from([255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
    const y = rgbToLuma(rgb);
    const want = [1, 0.299, 0.587, 0.114, (0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255];
    y.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    const rgba = Uint8Array.from([255, 0, 0, 7, 10, 20, 30, 99]);
    const y4 = rgbToLuma(rgba, new Float32Array(2), 4);
    expect(y4[0]).toBeCloseTo(0.299, 6);
    expect(y4[1]).toBeCloseTo(want[4], 6);
  });

  it('levels halve down to about 8 px', () => {
    expect(pyramidSizes(32, 32)).toEqual([[32, 32], [16, 16], [8, 8]]);
    expect(pyramidSizes(112, 112)).toEqual([[112, 112], [56, 56], [28, 28], [14, 14]]);
    expect(pyramidSizes(40, 24)).toEqual([[40, 24], [20, 12]]);
  });
});
