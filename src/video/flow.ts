/**
 * Dense optical flow between two luma frames for the motion stream of two-stream networks
 * (Simonyan & Zisserman 2014 feed stacked optical flow; see src/video/clip-layout.ts for the
 * contract: u right, v down, pixels per frame at the model's resolution).
 *
 * Method: Horn & Schunck (1981) with quadratic penalties, solved coarse to fine with warping
 * (Brox, Bruhn, Papenberg & Weickert, ECCV 2004; the multi-scale "classic" HS of Sun, Roth &
 * Black, CVPR 2010). Plain HS linearises brightness constancy and so only sees motions of about
 * a pixel; the pyramid halves the image until its smaller side is about `minSize` px, solves
 * there, then at each finer level expands the flow x2, warps the second frame by it (bicubic by
 * default, bilinear on request: see `warp`) and solves HS for the remaining motion. At 32x32
 * (levels 32, 16, 8) this recovers shifts of several pixels per frame. The per-level step lives in flow-hs.ts, the pyramid in flow-pyramid.ts.
 *
 * Runs in the decode worker threads once per frame pair, so an `OpticalFlow` is made once per
 * (width, height) and owns all its scratch arrays: `compute` allocates nothing.
 */
import { expandFlow2, pyramidSizes, reduce2, warpBicubic, warpBilinear } from './flow-pyramid.js';
import { linearize, relax, type HsScratch } from './flow-hs.js';

export { clipMotion, rgbToLuma, type MotionSlots } from './flow-clip.js';

export interface OpticalFlowOptions {
  /**
   * HS smoothness weight on the 0..1 intensity scale (HS's alpha; 0.04 here is 10 on 0..255
   * images). Larger: smoother flow, motion leaking further across object boundaries and large
   * motions underestimated; much smaller (0.02 and below) lets the coarse levels, where the data
   * term is strongest, lock onto wrong matches that warping then keeps. Tuned on the synthetic
   * motions of test/video-flow.test.ts.
   */
  alpha?: number;
  /**
   * SOR sweeps per warp at each level. Each level starts from the coarser level's flow, so few
   * are needed: 10 is within 1% of 30 on the tests' motions at a third of the cost.
   */
  iterations?: number;
  /** Warps (re-linearisations) per level; Brox et al. use several, one or two suffice at these sizes. */
  warps?: number;
  /** Coarsest level's smaller side is at least this many pixels. */
  minSize?: number;
  /** Upper bound on pyramid levels (1 = single-scale HS). */
  maxLevels?: number;
  /** SOR relaxation factor in (0, 2); 1 is plain Gauss-Seidel. */
  omega?: number;
  /** Interpolation of the warped frame (see flow-pyramid.ts). */
  warp?: 'bilinear' | 'bicubic';
}

const DEFAULTS: Required<OpticalFlowOptions> = { alpha: 0.04, iterations: 10, warps: 2, minSize: 8, maxLevels: 8, omega: 1.8, warp: 'bicubic' };

export class OpticalFlow {
  readonly width: number;
  readonly height: number;
  readonly options: Readonly<Required<OpticalFlowOptions>>;
  /** Level sizes, finest first. */
  readonly levels: ReadonlyArray<readonly [number, number]>;
  // Per level (index 0 = finest): both frames and the flow. Level 0's frames are the inputs.
  private readonly p1: Float32Array[];
  private readonly p2: Float32Array[];
  private readonly fu: Float32Array[];
  private readonly fv: Float32Array[];
  private readonly tmp: Float32Array;
  private readonly s: HsScratch;

  constructor(width: number, height: number, options: OpticalFlowOptions = {}) {
    if (!(width >= 2 && height >= 2) || !Number.isInteger(width) || !Number.isInteger(height)) {
      throw new RangeError(`optical flow needs an integer size of at least 2x2, got ${width}x${height}`);
    }
    this.width = width;
    this.height = height;
    this.options = { ...DEFAULTS, ...options };
    this.levels = pyramidSizes(width, height, this.options.minSize, Math.max(1, this.options.maxLevels));
    const n = width * height;
    const alloc = () => this.levels.map(([w, h]) => new Float32Array(w * h));
    this.p1 = alloc();
    this.p2 = alloc();
    this.fu = alloc();
    this.fv = alloc();
    this.tmp = new Float32Array(n);
    this.s = {
      warped: new Float32Array(n),
      inside: new Uint8Array(n),
      ix: new Float32Array(n),
      iy: new Float32Array(n),
      c: new Float32Array(n),
      den: new Float32Array(n),
    };
  }

  /** Horizontal flow of the last `compute` (a view into this object, overwritten by the next call). */
  get u(): Float32Array {
    return this.fu[0];
  }

  /** Vertical flow of the last `compute` (see `u`). */
  get v(): Float32Array {
    return this.fv[0];
  }

  /**
   * Flow from `prev` to `next` (luma, 0..1, row-major H*W): next(x + u, y + v) ~ prev(x, y).
   * Writes it to outU / outV when given; it is also readable as `this.u` / `this.v`.
   */
  compute(prev: Float32Array, next: Float32Array, outU?: Float32Array, outV?: Float32Array): void {
    const n = this.width * this.height;
    if (prev.length < n || next.length < n) throw new RangeError(`optical flow frames need ${n} values, got ${prev.length} and ${next.length}`);
    const { alpha, iterations, warps, omega } = this.options;
    const alpha2 = alpha * alpha;
    const L = this.levels.length;
    this.p1[0].set(prev.subarray(0, n));
    this.p2[0].set(next.subarray(0, n));
    for (let l = 1; l < L; l++) {
      const [w, h] = this.levels[l - 1];
      const [wc, hc] = this.levels[l];
      reduce2(this.p1[l - 1], w, h, this.p1[l], wc, hc, this.tmp);
      reduce2(this.p2[l - 1], w, h, this.p2[l], wc, hc, this.tmp);
    }
    this.fu[L - 1].fill(0);
    this.fv[L - 1].fill(0);
    for (let l = L - 1; l >= 0; l--) {
      const [w, h] = this.levels[l];
      if (l < L - 1) {
        const [wc, hc] = this.levels[l + 1];
        expandFlow2(this.fu[l + 1], wc, hc, this.fu[l], w, h);
        expandFlow2(this.fv[l + 1], wc, hc, this.fv[l], w, h);
      }
      const u = this.fu[l];
      const v = this.fv[l];
      for (let k = 0; k < warps; k++) {
        (this.options.warp === 'bicubic' ? warpBicubic : warpBilinear)(this.p2[l], w, h, u, v, this.s.warped, this.s.inside);
        linearize(this.p1[l], w, h, u, v, alpha2, this.s);
        relax(w, h, u, v, this.s, iterations, omega);
      }
    }
    if (outU) outU.set(this.fu[0]);
    if (outV) outV.set(this.fv[0]);
  }
}
