/**
 * complex64, FFT/IFFT and the spectral gradients on wasm (src/model/kernels), and the
 * real-valued DFT helpers of src/model/kernels/dft.ts, against the cpu backend and float64
 * references. Error measure: max|a - b| / max|b|, bound 1e-4.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tfc } from '../src/model/tf.js';
import { registerWasmGradientKernels } from '../src/model/kernels/index.js';
import { TOL, footprint, relErr } from './helpers/backend-compare.js';
import { irfft, irfft2d, rfft, rfft2d, rfft2dFreqs, rfftBins } from '../src/model/kernels/dft.js';

type Tensor = tfc.Tensor;

function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Runs f on `backend` inside a tidy and downloads every returned tensor. */
function on(backend: string, f: () => Tensor[]): Float32Array[] {
  tfc.setBackend(backend);
  return tfc.tidy(() => f().map((t) => t.dataSync() as Float32Array));
}

/** float64 DFT of rows of length n (re, im row-major); inverse uses exp(+i) and 1/n. */
function dftRef(re: ArrayLike<number>, im: ArrayLike<number>, n: number, inverse = false): [Float64Array, Float64Array] {
  const rows = re.length / n;
  const or = new Float64Array(re.length);
  const oi = new Float64Array(re.length);
  const sign = inverse ? 1 : -1;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        const t = (sign * 2 * Math.PI * ((j * k) % n)) / n;
        const a = re[r * n + j];
        const b = im[r * n + j];
        sr += a * Math.cos(t) - b * Math.sin(t);
        si += a * Math.sin(t) + b * Math.cos(t);
      }
      or[r * n + k] = inverse ? sr / n : sr;
      oi[r * n + k] = inverse ? si / n : si;
    }
  }
  return [or, oi];
}

/** Moves the last two axes of a [batch, h, w] array: -> [batch, w, h]. */
function swapLast(a: ArrayLike<number>, batch: number, h: number, w: number): Float64Array {
  const out = new Float64Array(batch * h * w);
  for (let b = 0; b < batch; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(b * w + j) * h + i] = a[(b * h + i) * w + j];
  return out;
}

/** Keeps the first nf of every n columns. */
function firstBins(a: Float64Array, n: number, nf: number): Float64Array {
  const rows = a.length / n;
  const out = new Float64Array(rows * nf);
  for (let r = 0; r < rows; r++) for (let k = 0; k < nf; k++) out[r * nf + k] = a[r * n + k];
  return out;
}

beforeAll(async () => {
  registerWasmGradientKernels();
  expect(await tfc.setBackend('cpu')).toBe(true);
  expect(await tfc.setBackend('wasm')).toBe(true);
});

describe('complex64 on wasm: Complex, Real, Imag, ComplexAbs', () => {
  it('round-trips parts exactly, reads back like cpu, and leaks nothing', () => {
    const re = randomArray(24, 1);
    const im = randomArray(24, 2);
    const run = () => {
      const z = tfc.complex(tfc.tensor(re, [2, 3, 4]), tfc.tensor(im, [2, 3, 4]));
      const z2 = tfc.reshape(z, [6, 4]);
      return [tfc.real(z2), tfc.imag(z2), tfc.abs(z), z];
    };
    tfc.setBackend('wasm');
    const before = footprint();
    const [r, i, abs, pairs] = on('wasm', run);
    expect(footprint()).toEqual(before);
    const cpu = on('cpu', run);
    expect(r).toEqual(re);
    expect(i).toEqual(im);
    expect(pairs).toEqual(cpu[3]); // interleaved (re, im), as tfjs returns complex data
    expect(relErr(abs, cpu[2])).toBeLessThan(1e-6);
    expect(relErr(abs, Array.from(re, (a, k) => Math.hypot(a, im[k])))).toBeLessThan(1e-6);
  });
});

describe('FFT / IFFT on wasm', () => {
  // 521 is prime (one 1042 x 1042 product); 1000 and 1024 take the four-step split.
  const lengths = [1, 2, 3, 5, 8, 12, 64, 256, 521, 1000, 1024];
  it.each(lengths)('n = %i matches cpu and the float64 DFT, both directions', (n) => {
    const rows = n > 256 ? 2 : 6;
    const re = randomArray(rows * n, n);
    const im = randomArray(rows * n, n + 1);
    const run = () => {
      const z = tfc.complex(tfc.tensor(re, [rows, n]), tfc.tensor(im, [rows, n]));
      const f = tfc.spectral.fft(z);
      const b = tfc.spectral.ifft(z);
      return [tfc.real(f), tfc.imag(f), tfc.real(b), tfc.imag(b)];
    };
    tfc.setBackend('wasm');
    const before = footprint();
    const w = on('wasm', run);
    expect(footprint()).toEqual(before);
    const c = on('cpu', run);
    const [fr, fi] = dftRef(re, im, n);
    const [br, bi] = dftRef(re, im, n, true);
    [fr, fi, br, bi].forEach((ref, k) => {
      expect(relErr(w[k], c[k]), `vs cpu, output ${k}`).toBeLessThan(TOL);
      expect(relErr(w[k], ref), `vs float64, output ${k}`).toBeLessThan(TOL);
    });
  });

  it('tf.spectral.rfft / irfft on a [3, 256, 256] batch match float64 (and cpu on a slice)', () => {
    const [c, h, n] = [3, 256, 256];
    const nf = rfftBins(n);
    const x = randomArray(c * h * n, 5);
    const run = (rows: number) => () => {
      const s = tfc.spectral.rfft(tfc.tensor(x.subarray(0, rows * n), [rows, n]));
      return [tfc.real(s), tfc.imag(s), tfc.spectral.irfft(s)];
    };
    const [re, im, back] = on('wasm', run(c * h));
    const [fr, fi] = dftRef(x, new Float64Array(x.length), n);
    expect(relErr(re, firstBins(fr, n, nf))).toBeLessThan(TOL);
    expect(relErr(im, firstBins(fi, n, nf))).toBeLessThan(TOL);
    expect(relErr(back, x)).toBeLessThan(TOL); // irfft(rfft(x)) = x
    // cpu's FFT is ~100x slower than wasm's here: compare a slice of the batch.
    const w = on('wasm', run(8));
    on('cpu', run(8)).forEach((v, k) => expect(relErr(w[k], v), `output ${k}`).toBeLessThan(TOL));
  });

  it('complex64 tensors clone (wasm Identity) and survive their source', () => {
    tfc.setBackend('wasm');
    const before = footprint();
    const parts = [tfc.tensor([1, 2, 3]), tfc.tensor([4, 5, 6])];
    const z = tfc.complex(parts[0], parts[1]);
    const copy = tfc.clone(z);
    tfc.dispose([z, ...parts]);
    expect(Array.from(copy.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(copy.dtype).toBe('complex64');
    copy.dispose();
    expect(footprint()).toEqual(before);
  });
});

describe('dft.ts real-valued helpers (numpy conventions)', () => {
  it('rfft / irfft match the float64 DFT for even and odd lengths, on wasm and cpu', () => {
    for (const n of [1, 2, 7, 16, 33]) {
      const x = randomArray(4 * n, 30 + n);
      const nf = rfftBins(n);
      const [fr, fi] = dftRef(x, new Float64Array(4 * n), n);
      const re = firstBins(fr, n, nf);
      const im = firstBins(fi, n, nf);
      for (const backend of ['wasm', 'cpu']) {
        const [gr, gi, back] = on(backend, () => {
          const s = rfft(tfc.tensor(x, [4, n]));
          return [s.re, s.im, irfft(s, n)];
        });
        expect(relErr(gr, re), `${backend} re n=${n}`).toBeLessThan(TOL);
        expect(relErr(gi, im), `${backend} im n=${n}`).toBeLessThan(TOL);
        expect(relErr(back, x), `${backend} round trip n=${n}`).toBeLessThan(TOL);
      }
    }
  });

  it('rfft2d / irfft2d on [3, 256, 256] match the float64 2-D DFT and invert each other', () => {
    const [c, h, w] = [3, 256, 256];
    const nf = rfftBins(w);
    const x = randomArray(c * h * w, 41);
    const [gr, gi, back] = on('wasm', () => {
      const s = rfft2d(tfc.tensor(x, [c, h, w]));
      return [s.re, s.im, irfft2d(s, h, w)];
    });
    // Reference: DFT along w (keep nf bins), then along h.
    const [ar, ai] = dftRef(x, new Float64Array(x.length), w);
    const [cr, ci] = dftRef(swapLast(firstBins(ar, w, nf), c, h, nf), swapLast(firstBins(ai, w, nf), c, h, nf), h);
    expect(relErr(gr, swapLast(cr, c, nf, h))).toBeLessThan(TOL);
    expect(relErr(gi, swapLast(ci, c, nf, h))).toBeLessThan(TOL);
    expect(relErr(back, x)).toBeLessThan(TOL);
  });

  it('irfft2d of an arbitrary (non-Hermitian) spectrum equals numpy irfft2: ifft over rows, then irfft', () => {
    const [h, w] = [6, 9];
    const nf = rfftBins(w);
    const re = randomArray(2 * h * nf, 51);
    const im = randomArray(2 * h * nf, 52);
    const [zr, zi] = dftRef(swapLast(re, 2, h, nf), swapLast(im, 2, h, nf), h, true);
    const [rowsR, rowsI] = [swapLast(zr, 2, nf, h), swapLast(zi, 2, nf, h)];
    // numpy irfft of each row: x_j = (1/w)(Re a_0 + 2 sum_{0<k<w/2} Re(a_k e^{i t}) [+ Re a_{w/2} (-1)^j]).
    const ref = new Float64Array(2 * h * w);
    for (let r = 0; r < 2 * h; r++) for (let j = 0; j < w; j++) {
      let s = 0;
      for (let k = 0; k < nf; k++) {
        const t = (2 * Math.PI * j * k) / w;
        const weight = k === 0 || 2 * k === w ? 1 : 2;
        s += weight * (rowsR[r * nf + k] * Math.cos(t) - rowsI[r * nf + k] * Math.sin(t));
      }
      ref[r * w + j] = s / w;
    }
    for (const backend of ['wasm', 'cpu']) {
      const [out] = on(backend, () => [irfft2d({ re: tfc.tensor(re, [2, h, nf]), im: tfc.tensor(im, [2, h, nf]) }, h, w)]);
      expect(relErr(out, ref), backend).toBeLessThan(TOL);
    }
  });

  it('gradients of irfft2d and rfft2d are the true adjoints (<f(S), r> = <S, grad>) and leak nothing', () => {
    const [h, w] = [8, 10];
    const nf = rfftBins(w);
    const re = randomArray(3 * h * nf, 61);
    const im = randomArray(3 * h * nf, 62);
    const r = randomArray(3 * h * w, 63);
    tfc.setBackend('wasm');
    const before = footprint();
    const [out, gre, gim, x2, gx, f2r, f2i] = on('wasm', () => {
      const rt = tfc.tensor(r, [3, h, w]);
      const inv = (a: Tensor, b: Tensor) => irfft2d({ re: a, im: b }, h, w);
      const [ga, gb] = tfc.grads((a: Tensor, b: Tensor) => tfc.sum(tfc.mul(inv(a, b), rt)))([tfc.tensor(re, [3, h, nf]), tfc.tensor(im, [3, h, nf])]);
      // Forward transform: L = <Re rfft2d(x), re> + <Im rfft2d(x), im> with x = r.
      const fwd = (x: Tensor) => {
        const s = rfft2d(x);
        return tfc.add(tfc.sum(tfc.mul(s.re, tfc.tensor(re, [3, h, nf]))), tfc.sum(tfc.mul(s.im, tfc.tensor(im, [3, h, nf]))));
      };
      const s = rfft2d(rt);
      return [inv(tfc.tensor(re, [3, h, nf]), tfc.tensor(im, [3, h, nf])), ga, gb, rt, tfc.grad(fwd)(rt), s.re, s.im];
    });
    expect(footprint()).toEqual(before);
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((acc, v, i) => acc + v * b[i], 0);
    const lhs = dot(out, r);
    expect(Math.abs(lhs - (dot(re, gre) + dot(im, gim))) / Math.abs(lhs)).toBeLessThan(TOL);
    const lhs2 = dot(f2r, re) + dot(f2i, im);
    expect(Math.abs(lhs2 - dot(x2, gx)) / Math.abs(lhs2)).toBeLessThan(TOL);
  });

  it('rfft2dFreqs follows numpy.fft.fftfreq; mismatched spectra are rejected', () => {
    // h = 4: fy = [0, .25, -.5, -.25]; w = 5: fx = [0, .2, .4].
    const f = rfft2dFreqs(4, 5);
    const fy = [0, 0.25, -0.5, -0.25];
    const fx = [0, 0.2, 0.4];
    expect(Array.from(f)).toEqual(fy.flatMap((y) => fx.map((x) => Math.fround(Math.hypot(y, x)))));
    tfc.setBackend('wasm');
    const s = { re: tfc.zeros([4, 3]), im: tfc.zeros([4, 3]) };
    expect(() => irfft(s, 6)).toThrow(/3 bins; a length-6 signal needs 4/);
    expect(() => irfft2d(s, 5, 5)).toThrow(/4 rows, expected h = 5/);
    tfc.dispose([s.re, s.im]);
  });
});
