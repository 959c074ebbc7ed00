/**
 * FFT / IFFT on the last axis of complex64 tensors for the wasm backend, as matrix products.
 *
 * On the interleaved (re, im) layout of complex.ts, one DFT of length n is one real matMul of
 * the [rows, 2n] pairs with a 2n x 2n matrix (cached per n): for W = exp(sigma * 2*pi*i*j*k/n),
 * (a + ib) W = (a c - sigma b s) + i (b c + sigma a s) with c = cos, s = sin, so
 *   M[2j, 2k] = c,  M[2j+1, 2k] = -sigma s,  M[2j, 2k+1] = sigma s,  M[2j+1, 2k+1] = c,
 * sigma = -1 for FFT and +1 (with a 1/n factor) for IFFT, the tf.signal conventions.
 * The product runs on XNNPACK; for n up to a few hundred that beats an O(n log n) radix-2 pass
 * written as many small ops. Longer axes use the "four-step" Cooley-Tukey split n = n1 * n2
 * (Bailey 1990, "FFTs in external or hierarchical memory"): DFTs of length n1, a twiddle
 * product, DFTs of length n2, and a transpose, so no matrix is larger than DIRECT_MAX.
 */
import { tfc } from '../tf.js';
import { complexAsPairs, pairsAsComplex } from './complex.js';
import { inputInfo, type RefCountingBackend } from './tensors.js';

type Tensor = tfc.Tensor;

/** Longest axis done as one matrix product (a 2n x 2n float32 matrix: 4 MiB at 512). */
const DIRECT_MAX = 512;
const CACHE_MAX = 16;
const matrices = new Map<string, Float32Array>();

/** Angle 2*pi*(j*k mod n)/n, reduced first so large j*k keep full precision. */
function angle(j: number, k: number, n: number): number {
  return (2 * Math.PI * ((j * k) % n)) / n;
}

function dftMatrix(n: number, inverse: boolean): Float32Array {
  const key = `${n}:${inverse}`;
  const hit = matrices.get(key);
  if (hit) return hit;
  const sigma = inverse ? 1 : -1;
  const scale = inverse ? 1 / n : 1;
  const m = new Float32Array(4 * n * n);
  const row = 2 * n;
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < n; k++) {
      const t = angle(j, k, n);
      const c = Math.cos(t) * scale;
      const s = Math.sin(t) * scale;
      m[2 * j * row + 2 * k] = c;
      m[(2 * j + 1) * row + 2 * k] = -sigma * s;
      m[2 * j * row + 2 * k + 1] = sigma * s;
      m[(2 * j + 1) * row + 2 * k + 1] = c;
    }
  }
  if (matrices.size >= CACHE_MAX) matrices.delete(matrices.keys().next().value as string);
  matrices.set(key, m);
  return m;
}

/** Largest divisor of n that is <= sqrt(n) (1 when n is prime). */
function splitFactor(n: number): number {
  for (let f = Math.floor(Math.sqrt(n)); f > 1; f--) if (n % f === 0) return f;
  return 1;
}

/** Complex product of interleaved pairs [..., 2] with pairs broadcast from [..., 2]. */
function mulPairs(a: Tensor, b: Tensor): Tensor {
  const [ar, ai] = tfc.unstack(a, -1);
  const [br, bi] = tfc.unstack(b, -1);
  return tfc.stack([tfc.sub(tfc.mul(ar, br), tfc.mul(ai, bi)), tfc.add(tfc.mul(ar, bi), tfc.mul(ai, br))], -1);
}

/** DFT (or inverse DFT) along axis 1 of interleaved pairs [rows, n, 2]. */
export function dftPairs(pairs: Tensor, inverse: boolean): Tensor {
  const [rows, n] = pairs.shape;
  const n1 = n > DIRECT_MAX ? splitFactor(n) : 1;
  if (n1 === 1) {
    const m = tfc.tensor2d(dftMatrix(n, inverse), [2 * n, 2 * n]);
    return tfc.reshape(tfc.matMul(tfc.reshape(pairs, [rows, 2 * n]), m), [rows, n, 2]);
  }
  const n2 = n / n1;
  // x[n2*j1 + j2] -> DFT over j1 (length n1) for each j2.
  const byJ2 = tfc.transpose(tfc.reshape(pairs, [rows, n1, n2, 2]), [0, 2, 1, 3]);
  const a = tfc.reshape(dftPairs(tfc.reshape(byJ2, [rows * n2, n1, 2]), inverse), [rows, n2, n1, 2]);
  // Twiddle exp(sigma * 2*pi*i*j2*k1/n).
  const sigma = inverse ? 1 : -1;
  const tw = new Float32Array(n2 * n1 * 2);
  for (let j2 = 0; j2 < n2; j2++) {
    for (let k1 = 0; k1 < n1; k1++) {
      const t = angle(j2, k1, n);
      tw[(j2 * n1 + k1) * 2] = Math.cos(t);
      tw[(j2 * n1 + k1) * 2 + 1] = sigma * Math.sin(t);
    }
  }
  const twiddled = mulPairs(a, tfc.tensor4d(tw, [1, n2, n1, 2]));
  // DFT over j2 (length n2) for each k1, then X[k1 + n1*k2] puts k2 first.
  const byK1 = tfc.transpose(twiddled, [0, 2, 1, 3]);
  const b = tfc.reshape(dftPairs(tfc.reshape(byK1, [rows * n1, n2, 2]), inverse), [rows, n1, n2, 2]);
  return tfc.reshape(tfc.transpose(b, [0, 2, 1, 3]), [rows, n, 2]);
}

function fftKernel(inverse: boolean): tfc.KernelFunc {
  return ({ inputs, backend }) => {
    const be = backend as RefCountingBackend;
    const z = inputInfo(inputs, 'input');
    return tfc.tidy(() => {
      const n = z.shape[z.shape.length - 1];
      const rows = tfc.util.sizeFromShape(z.shape) / n;
      const out = dftPairs(tfc.reshape(complexAsPairs(z, be), [rows, n, 2]), inverse);
      return pairsAsComplex(out, z.shape, be);
    });
  };
}

export const fftConfigs: tfc.KernelConfig[] = [
  { kernelName: tfc.FFT, backendName: 'wasm', kernelFunc: fftKernel(false) },
  { kernelName: tfc.IFFT, backendName: 'wasm', kernelFunc: fftKernel(true) },
];
