/**
 * Real-valued DFT helpers built only from matMul/slice/add, so they run fast on any backend
 * (XNNPACK on wasm) and are differentiable everywhere with tfjs-core's own gradients: the
 * building block of the Fourier image parameterization used by activation maximization
 * (Olah et al. 2017, "Feature Visualization", Distill; lucid `fft_image`).
 *
 * Conventions are numpy's: `rfft` keeps bins 0..floor(n/2) of exp(-2*pi*i*j*k/n) sums;
 * `irfft(spec, n)` is numpy.fft.irfft (1/n normalisation, imaginary parts of the DC and, for even
 * n, Nyquist bins ignored); `rfft2d`/`irfft2d` are numpy.fft.rfft2/irfft2 over the last two axes.
 * Spectra are pairs of real tensors {re, im}, not complex64, so callers never need complex
 * support from the backend. Matrices are float64-computed, float32-stored, cached per size.
 */
import { tfc } from '../tf.js';

type Tensor = tfc.Tensor;

/** A spectrum as its real and imaginary parts (same shape). */
export interface RealSpectrum {
  re: Tensor;
  im: Tensor;
}

const CACHE_MAX = 32;
const cache = new Map<string, Float32Array>();

/** A constant matrix, float64-computed and float32-stored once per key. */
function cached(key: string, build: () => Float32Array): Float32Array {
  const hit = cache.get(key);
  if (hit) return hit;
  const m = build();
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(key, m);
  return m;
}

function transposed(key: string, rows: number, cols: number): Float32Array {
  return cached(`${key}^T`, () => {
    const m = cache.get(key) as Float32Array;
    const t = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
    return t;
  });
}

/**
 * x[..., rows] @ M[rows, cols] for a cached constant M, as one 2-D matMul with no transpose
 * flags: wasm sends only that form to XNNPACK (tfjs-backend-wasm batch_mat_mul_impl.cc; batched
 * or transposed products take a naive loop). The gradient, dy @ M^T, uses a stored M^T for the
 * same reason instead of tfjs' default matMul(dy, M, false, true).
 */
function constMatMul(x: Tensor, key: string, rows: number, cols: number, build: () => Float32Array): Tensor {
  const m = cached(key, build);
  const lead = x.shape.slice(0, -1);
  const f = tfc.customGrad((...args: Array<Tensor | tfc.GradSaveFunc>) => {
    const input = args[0] as Tensor;
    const value = tfc.reshape(tfc.matMul(tfc.reshape(input, [-1, rows]), tfc.tensor2d(m, [rows, cols])), [...lead, cols]);
    const gradFunc = (dy: Tensor) => {
      const mT = tfc.tensor2d(transposed(key, rows, cols), [cols, rows]);
      return tfc.reshape(tfc.matMul(tfc.reshape(dy, [-1, cols]), mT), [...lead, rows]);
    };
    return { value, gradFunc };
  });
  return f(x);
}

/** Angle 2*pi*(j*k mod n)/n, reduced first so large j*k keep full precision. */
const angle = (j: number, k: number, n: number) => (2 * Math.PI * ((j * k) % n)) / n;

/** Number of rfft bins for a real axis of length n. */
export const rfftBins = (n: number) => Math.floor(n / 2) + 1;

/** x[..., n] -> [Re | Im] [..., 2*nf] of the rfft (exp(-i*theta): Re = sum x cos, Im = -sum x sin). */
function rfftProduct(x: Tensor, n: number): Tensor {
  const nf = rfftBins(n);
  return constMatMul(x, `rfft:${n}`, n, 2 * nf, () => {
    const a = new Float32Array(n * 2 * nf);
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < nf; k++) {
        a[j * 2 * nf + k] = Math.cos(angle(j, k, n));
        a[j * 2 * nf + nf + k] = -Math.sin(angle(j, k, n));
      }
    }
    return a;
  });
}

/**
 * [Re | Im] [..., 2*nf] -> irfft [..., n]. Hermitian symmetry doubles bins 1..ceil(n/2)-1; the
 * sin row vanishes at k = 0 and k = n/2, which is why those imaginary parts are ignored.
 */
function irfftProduct(reIm: Tensor, n: number): Tensor {
  const nf = rfftBins(n);
  return constMatMul(reIm, `irfft:${n}`, 2 * nf, n, () => {
    const a = new Float32Array(2 * nf * n);
    for (let k = 0; k < nf; k++) {
      const weight = k === 0 || 2 * k === n ? 1 / n : 2 / n;
      for (let j = 0; j < n; j++) {
        a[k * n + j] = weight * Math.cos(angle(j, k, n));
        a[(nf + k) * n + j] = -weight * Math.sin(angle(j, k, n));
      }
    }
    return a;
  });
}

/**
 * [Re | Im] [..., 2n] -> [Re | Im] of the complex DFT of length n (inverse: exp(+i*theta)/n).
 * Row-vector form of (a + ib) exp(-/+ i t): [a | b] @ [[C, -/+S], [+/-S, C]] (C, S symmetric).
 */
function complexDftProduct(reIm: Tensor, n: number, inverse: boolean): Tensor {
  return constMatMul(reIm, `cdft:${n}:${inverse}`, 2 * n, 2 * n, () => {
    const sigma = inverse ? 1 : -1;
    const scale = inverse ? 1 / n : 1;
    const a = new Float32Array(4 * n * n);
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        const c = Math.cos(angle(j, k, n)) * scale;
        const s = Math.sin(angle(j, k, n)) * scale;
        a[j * 2 * n + k] = c;
        a[j * 2 * n + n + k] = sigma * s;
        a[(n + j) * 2 * n + k] = -sigma * s;
        a[(n + j) * 2 * n + n + k] = c;
      }
    }
    return a;
  });
}

function splitLast(t: Tensor, size: number): [Tensor, Tensor] {
  const [a, b] = tfc.split(t, [size, size], -1);
  return [a, b];
}

/** rfft over the last axis: [..., n] -> {re, im} of shape [..., floor(n/2)+1]. */
export function rfft(x: Tensor): RealSpectrum {
  const n = x.shape[x.rank - 1];
  const [re, im] = tfc.tidy(() => splitLast(rfftProduct(x, n), rfftBins(n)));
  return { re, im };
}

/** Inverse of rfft for a real signal of length n: {re, im} [..., floor(n/2)+1] -> [..., n]. */
export function irfft(spec: RealSpectrum, n: number): Tensor {
  checkBins(spec, n);
  return tfc.tidy(() => irfftProduct(tfc.concat([spec.re, spec.im], -1), n));
}

/** Complex DFT along axis -2 of {re, im} [..., h, k] (moved last, transformed, moved back). */
function dftRows(re: Tensor, im: Tensor, inverse: boolean): [Tensor, Tensor] {
  const h = re.shape[re.rank - 2];
  const perm = [...re.shape.keys()];
  [perm[re.rank - 2], perm[re.rank - 1]] = [perm[re.rank - 1], perm[re.rank - 2]];
  const z = tfc.concat([tfc.transpose(re, perm), tfc.transpose(im, perm)], -1); // [..., k, 2h]
  const [r, i] = splitLast(complexDftProduct(z, h, inverse), h);
  return [tfc.transpose(r, perm), tfc.transpose(i, perm)];
}

/** numpy.fft.rfft2 over the last two axes: [..., h, w] -> {re, im} [..., h, floor(w/2)+1]. */
export function rfft2d(x: Tensor): RealSpectrum {
  if (x.rank < 2) throw new Error(`rfft2d: need rank >= 2, got shape [${x.shape}]`);
  const [re, im] = tfc.tidy(() => {
    const half = rfft(x);
    return dftRows(half.re, half.im, false);
  });
  return { re, im };
}

/** numpy.fft.irfft2 with s = [h, w]: {re, im} [..., h, floor(w/2)+1] -> real [..., h, w]. */
export function irfft2d(spec: RealSpectrum, h: number, w: number): Tensor {
  checkBins(spec, w);
  const rows = spec.re.shape[spec.re.rank - 2];
  if (rows !== h) throw new Error(`irfft2d: spectrum has ${rows} rows, expected h = ${h}`);
  return tfc.tidy(() => {
    const [re, im] = dftRows(spec.re, spec.im, true);
    return irfft({ re, im }, w);
  });
}

/**
 * Frequency magnitude sqrt(fy^2 + fx^2) of each rfft2d bin, [h, floor(w/2)+1] row-major, with
 * numpy.fft.fftfreq spacing (cycles per pixel). Lucid scales the Fourier parameters by
 * 1/max(freq, 1/max(h, w)) so low frequencies dominate (lucid `rfft2d_freqs`).
 */
export function rfft2dFreqs(h: number, w: number): Float32Array {
  const nf = rfftBins(w);
  const out = new Float32Array(h * nf);
  for (let i = 0; i < h; i++) {
    const fy = (i < Math.ceil(h / 2) ? i : i - h) / h;
    for (let k = 0; k < nf; k++) out[i * nf + k] = Math.hypot(fy, k / w);
  }
  return out;
}

function checkBins(spec: RealSpectrum, n: number): void {
  const bins = spec.re.shape[spec.re.rank - 1];
  if (!tfc.util.arraysEqual(spec.re.shape, spec.im.shape)) {
    throw new Error(`spectrum re [${spec.re.shape}] and im [${spec.im.shape}] differ in shape`);
  }
  if (bins !== rfftBins(n)) throw new Error(`spectrum has ${bins} bins; a length-${n} signal needs ${rfftBins(n)}`);
}
