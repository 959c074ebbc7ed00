/**
 * Image parameterizations for activation maximization (Olah et al. 2017, "Feature
 * Visualization", Distill, section "Preconditioning and Parameterization"; lucid
 * `lucid/optvis/param/{spatial,color}.py`).
 *
 * Both produce an unbounded "logit" image t [1, H, W, C], optionally colour-decorrelated, then
 * squashed into [0, 1] by a sigmoid (lucid `to_valid_rgb(..., sigmoid=True)`):
 * - pixel:   t is the variable itself (lucid `pixel_image`, init N(0, 0.01^2)).
 * - fourier: t = irfft2d(spectrum * scale) / 4 with scale = sqrt(H*W) / max(f, 1/max(H, W))^decay
 *   (lucid `fft_image`, init N(0, 0.01^2) per real/imaginary part). Gradient steps on the
 *   spectrum are whitened for natural images (energy falls as 1/f), so low frequencies move
 *   first and the result has far less high-frequency noise than pixel-space ascent.
 * The real DFT helpers (dft.ts) use only matMul/slice, so both run and differentiate on wasm.
 */
import { tfc } from '../model/tf.js';
import { irfft2d, rfft2dFreqs, rfftBins } from '../model/kernels/dft.js';
import { gaussianBlur } from './actmax-regularizers.js';

type Tensor = tfc.Tensor;

export type ParamKind = 'fourier' | 'pixel';
export const PARAM_KINDS: ParamKind[] = ['fourier', 'pixel'];

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

export interface ParamOptions {
  /** Draws uniform floats in [0, 1): the only source of randomness of the initial image. */
  rand: () => number;
  /** Colour decorrelation (3-channel images only). */
  decorrelate?: boolean;
  /** Standard deviation of the initial values (lucid: 0.01). */
  sd?: number;
  /** Fourier spectrum decay power (lucid: 1). */
  decay?: number;
}

/** A trainable image. `image()` must be called inside a tidy (or a gradient function). */
export interface ImageParam {
  readonly kind: ParamKind;
  readonly shape: ImageShape;
  readonly vars: tfc.Variable[];
  /** The image [1, H, W, C] in (0, 1). */
  image(): Tensor;
  /** Gaussian blur (std `sigma` px) of the pre-sigmoid image t, in place (Yosinski et al. 2015). */
  blur(sigma: number): void;
  dispose(): void;
}

/**
 * lucid `color_correlation_svd_sqrt`: the square root of the colour covariance of ImageNet
 * (via SVD), rows = RGB. Multiplying decorrelated channels by it (normalized by its largest column
 * norm) gives correlated RGB, so each optimized channel moves along a principal colour axis.
 */
export const COLOR_CORRELATION_SVD_SQRT = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];

/** The matrix applied to row vectors of decorrelated channels: (C / max column norm)^T, [3, 3]. */
function colorMatrixT(): number[][] {
  const c = COLOR_CORRELATION_SVD_SQRT;
  const maxNorm = Math.max(...[0, 1, 2].map((j) => Math.hypot(c[0]![j]!, c[1]![j]!, c[2]![j]!)));
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => c[j]![i]! / maxNorm));
}

/** Standard normal draws from uniform ones (Box-Muller), `n` of them times `sd`. */
export function normals(rand: () => number, n: number, sd: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand(); // (0, 1]: log stays finite
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = sd * r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = sd * r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

function toValidImage(t: Tensor, shape: ImageShape, decorrelate: boolean): Tensor {
  if (!decorrelate) return tfc.sigmoid(t);
  const { height: h, width: w } = shape;
  const flat = tfc.matMul(tfc.reshape(t, [h * w, 3]), tfc.tensor2d(colorMatrixT()));
  return tfc.sigmoid(tfc.reshape(flat, [1, h, w, 3]));
}

function checkShape(shape: ImageShape, decorrelate: boolean): void {
  const { height, width, channels } = shape;
  if (![height, width, channels].every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`image shape must be positive integers, got ${height}x${width}x${channels}`);
  }
  if (decorrelate && channels !== 3) throw new Error(`colour decorrelation needs 3 channels, the image has ${channels}`);
}

class PixelParam implements ImageParam {
  readonly kind = 'pixel' as const;
  readonly vars: tfc.Variable[];
  constructor(
    readonly shape: ImageShape,
    private readonly decorrelate: boolean,
    o: ParamOptions,
  ) {
    const { height: h, width: w, channels: c } = shape;
    // tidy frees the initial value: a variable holds its own copy (tidy never frees variables).
    this.vars = [tfc.tidy(() => tfc.variable(tfc.tensor4d(normals(o.rand, h * w * c, o.sd ?? 0.01), [1, h, w, c]), true, undefined, 'float32'))];
  }
  image(): Tensor {
    return toValidImage(this.vars[0]!, this.shape, this.decorrelate);
  }
  blur(sigma: number): void {
    const v = this.vars[0]!;
    tfc.tidy(() => v.assign(gaussianBlur(v, sigma) as tfc.Tensor4D));
  }
  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

class FourierParam implements ImageParam {
  readonly kind = 'fourier' as const;
  readonly vars: tfc.Variable[];
  /** Frequency magnitudes per rfft2d bin [H, W/2+1] (cycles per pixel). */
  private readonly freqs: Float32Array;
  private readonly scale: Float32Array;
  constructor(
    readonly shape: ImageShape,
    private readonly decorrelate: boolean,
    o: ParamOptions,
  ) {
    const { height: h, width: w, channels: c } = shape;
    const nf = rfftBins(w);
    const decay = o.decay ?? 1;
    this.freqs = rfft2dFreqs(h, w);
    const floor = 1 / Math.max(h, w);
    // lucid: 1/max(f, 1/max(h,w))^decay, times sqrt(h*w) so that the map is roughly unitary and
    // the learning rates of pixel-space ascent carry over.
    this.scale = this.freqs.map((f) => Math.sqrt(w * h) / Math.max(f, floor) ** decay);
    const sd = o.sd ?? 0.01;
    const re = normals(o.rand, c * h * nf, sd);
    const im = normals(o.rand, c * h * nf, sd);
    this.vars = [re, im].map((v) => tfc.tidy(() => tfc.variable(tfc.tensor3d(v, [c, h, nf]), true, undefined, 'float32')));
  }
  image(): Tensor {
    const { height: h, width: w } = this.shape;
    const s = tfc.tensor2d(this.scale, [h, rfftBins(w)]);
    const t = irfft2d({ re: tfc.mul(this.vars[0]!, s), im: tfc.mul(this.vars[1]!, s) }, h, w); // [C, H, W]
    const hwc = tfc.div(tfc.expandDims(tfc.transpose(t, [1, 2, 0]), 0), 4);
    return toValidImage(hwc, this.shape, this.decorrelate);
  }
  /**
   * A Gaussian of std sigma px has the transfer function exp(-2 pi^2 sigma^2 f^2); scaling the
   * spectrum by it blurs t exactly (circularly, as the DFT is periodic).
   */
  blur(sigma: number): void {
    const g = this.freqs.map((f) => Math.exp(-2 * Math.PI * Math.PI * sigma * sigma * f * f));
    tfc.tidy(() => {
      const gt = tfc.tensor2d(g, [this.shape.height, rfftBins(this.shape.width)]);
      for (const v of this.vars) v.assign(tfc.mul(v, gt));
    });
  }
  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}

/** A new seeded image parameterization of `kind`. */
export function createParam(kind: ParamKind, shape: ImageShape, o: ParamOptions): ImageParam {
  const decorrelate = o.decorrelate ?? false;
  checkShape(shape, decorrelate);
  if (kind === 'pixel') return new PixelParam(shape, decorrelate, o);
  if (kind === 'fourier') return new FourierParam(shape, decorrelate, o);
  throw new Error(`unknown image parameterization '${String(kind)}' (use ${PARAM_KINDS.join('|')})`);
}
