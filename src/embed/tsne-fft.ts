/**
 * 2-D radix-2 FFT (Cooley & Tukey 1965) for the t-SNE grid convolution, written for JS speed:
 * each 1-D pass runs ALONG ROWS-OF-THE-ARRAY, i.e. a butterfly combines two whole rows with one
 * twiddle factor, so the inner loop is a contiguous, branch-free sweep over the columns (no
 * twiddle lookups or strided access per element). A 2-D transform is: pass, transpose, pass.
 * The spectrum is therefore left TRANSPOSED ([kx][ky]); that is fine for a convolution, where the
 * data and kernel spectra use the same layout and are multiplied pointwise, and the inverse
 * (pass, transpose, pass) restores the original layout.
 *
 * Pruning for zero-padded convolution: the input grid is zero outside its top-left m x m block,
 * so the first forward pass only sweeps m columns; the inverse's last pass only sweeps the m
 * columns that are read back.
 */

interface Plan {
  n: number;
  rev: Int32Array;
  cos: Float64Array; // cos(2 pi j / n), j < n/2
  sin: Float64Array;
}

const plans = new Map<number, Plan>();

function plan(n: number): Plan {
  let p = plans.get(n);
  if (p) return p;
  if (n < 2 || (n & (n - 1)) !== 0) throw new Error(`fft size ${n} is not a power of two >= 2`);
  const bits = Math.round(Math.log2(n));
  const rev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  const cos = new Float64Array(n >> 1);
  const sin = new Float64Array(n >> 1);
  for (let j = 0; j < n >> 1; j++) {
    cos[j] = Math.cos((2 * Math.PI * j) / n);
    sin[j] = Math.sin((2 * Math.PI * j) / n);
  }
  p = { n, rev, cos, sin };
  plans.set(n, p);
  return p;
}

/**
 * 1-D FFTs of length n down the rows of an n x w row-major block (row stride `w`), for the first
 * `len` columns. sign -1: forward; +1: inverse without 1/n.
 */
const STRIP_DOUBLES = Number(process.env.NL_FFT_STRIP ?? 16384);
export function fftRowsPass(re: Float64Array, im: Float64Array, n: number, w: number, len: number, sign: 1 | -1): void {
  // Column strips small enough to stay in cache through all log2(n) stages (one trip to memory
  // per pass instead of one per stage).
  const strip = Math.max(8, Math.min(len, Math.floor(STRIP_DOUBLES / n)));
  for (let c0 = 0; c0 < len; c0 += strip) fftStrip(re, im, n, w, c0, Math.min(len, c0 + strip), sign);
}

function fftStrip(re: Float64Array, im: Float64Array, n: number, w: number, c0: number, c1: number, sign: 1 | -1): void {
  const { rev, cos, sin } = plan(n);
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      const a = i * w, b = j * w;
      for (let c = c0; c < c1; c++) {
        let t = re[a + c];
        re[a + c] = re[b + c];
        re[b + c] = t;
        t = im[a + c];
        im[a + c] = im[b + c];
        im[b + c] = t;
      }
    }
  }
  // size-2 stage: twiddle 1
  for (let s = 0; s < n; s += 2) {
    const a = s * w, b = a + w;
    for (let c = c0; c < c1; c++) {
      const xr = re[b + c], xi = im[b + c];
      re[b + c] = re[a + c] - xr;
      im[b + c] = im[a + c] - xi;
      re[a + c] += xr;
      im[a + c] += xi;
    }
  }
  for (let size = 4; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let j = 0; j < half; j++) {
        const wr = cos[j * step];
        const wi = sign * sin[j * step];
        const a = (start + j) * w;
        const b = a + half * w;
        for (let c = c0; c < c1; c++) {
          const br = re[b + c], bi = im[b + c];
          const xr = br * wr - bi * wi;
          const xi = br * wi + bi * wr;
          re[b + c] = re[a + c] - xr;
          im[b + c] = im[a + c] - xi;
          re[a + c] += xr;
          im[a + c] += xi;
        }
      }
    }
  }
}

/** dst[c][r] = src[r][c] for r < rows, c < cols (n x n arrays), in cache-sized tiles. */
function transpose(src: Float64Array, dst: Float64Array, n: number, rows: number, cols: number): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const o = r * n;
        for (let c = c0; c < c1; c++) dst[c * n + r] = src[o + c];
      }
    }
  }
}

/** Work buffers for the transposes, per size. */
const scratch = new Map<number, { re: Float64Array; im: Float64Array }>();
function work(n: number) {
  let s = scratch.get(n);
  if (!s) {
    s = { re: new Float64Array(n * n), im: new Float64Array(n * n) };
    scratch.set(n, s);
  }
  return s;
}

/**
 * Forward 2-D FFT of an n x n grid that is zero outside rows/cols < m. Result: the TRANSPOSED
 * spectrum, in place.
 */
export function fft2dForward(re: Float64Array, im: Float64Array, n: number, m = n): void {
  fftRowsPass(re, im, n, n, m, -1); // along axis 0, only m non-zero columns
  const s = work(n);
  transpose(re, s.re, n, n, m);
  transpose(im, s.im, n, n, m);
  // s is now m x n non-zero rows (rest stale: zero them so the pass sees the zero padding)
  s.re.fill(0, m * n);
  s.im.fill(0, m * n);
  fftRowsPass(s.re, s.im, n, n, n, -1);
  re.set(s.re);
  im.set(s.im);
}

/**
 * Inverse of fft2dForward (with the 1/n^2 factor), from a transposed spectrum; only the top-left
 * m x m block of the result is computed correctly (the rest is left undefined).
 */
export function fft2dInverse(re: Float64Array, im: Float64Array, n: number, m = n): void {
  fftRowsPass(re, im, n, n, n, 1);
  const s = work(n);
  transpose(re, s.re, n, m, n); // rows < m of the [c][kr] array -> columns < m
  transpose(im, s.im, n, m, n);
  fftRowsPass(s.re, s.im, n, n, m, 1);
  const k = 1 / (n * n);
  for (let r = 0; r < m; r++) {
    const o = r * n;
    for (let c = 0; c < m; c++) {
      re[o + c] = s.re[o + c] * k;
      im[o + c] = s.im[o + c] * k;
    }
  }
}
