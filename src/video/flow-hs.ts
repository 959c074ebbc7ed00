/**
 * One warping step of Horn & Schunck optical flow (Horn & Schunck 1981, "Determining optical
 * flow") inside a coarse-to-fine scheme (Brox, Bruhn, Papenberg & Weickert 2004; the quadratic-
 * penalty "classic" HS of Sun, Roth & Black 2010). Used by src/video/flow.ts.
 *
 * With the second frame warped by the current flow (u0, v0), brightness constancy is linearised
 * around it: I2(x + u) ~ Iw + Ix (u - u0) + Iy (v - v0), so the data residual of a flow (u, v) is
 * Ix u + Iy v + c with c = It - Ix u0 - Iy v0, It = Iw - I1. The smoothness term acts on the
 * total flow (u, v), not on the increment, so the coarse estimate is not re-smoothed from zero
 * at every level. Minimising sum (Ix u + Iy v + c)^2 + alpha^2 (|grad u|^2 + |grad v|^2) pointwise
 * given the neighbours' mean (ubar, vbar) gives HS's update (their eq. for the iterative solution)
 *   u = ubar - Ix (Ix ubar + Iy vbar + c) / (alpha^2 + Ix^2 + Iy^2),   v likewise with Iy,
 * which we apply in place (red-black Gauss-Seidel) with over-relaxation (SOR), which needs far
 * fewer sweeps than HS's Jacobi iteration. ubar is the mean of the 4-neighbours present
 * (Neumann border).
 *
 * Derivatives: central differences (I[x+1] - I[x-1]) / 2 (one-sided at the border) averaged over
 * the first frame and the warped second frame, rather than HS's 2x2x2-cube average: the cube
 * estimates gradients half a pixel off the grid, which does not line up with a per-pixel warp.
 */

/** Central-difference gradient (one-sided at the border), added times `k` into gx, gy. */
function addGradient(img: Float32Array, w: number, h: number, gx: Float32Array, gy: Float32Array, k: number, init: boolean): void {
  const half = 0.5 * k;
  for (let y = 0, i = 0; y < h; y++) {
    const up = y > 0 ? -w : 0;
    const dn = y < h - 1 ? w : 0;
    const sy = up !== 0 && dn !== 0 ? half : k;
    for (let x = 0; x < w; x++, i++) {
      const l = x > 0 ? i - 1 : i;
      const r = x < w - 1 ? i + 1 : i;
      const sx = l !== i && r !== i ? half : k;
      const dx = (img[r] - img[l]) * sx;
      const dy = (img[i + dn] - img[i + up]) * sy;
      if (init) { gx[i] = dx; gy[i] = dy; } else { gx[i] += dx; gy[i] += dy; }
    }
  }
}

export interface HsScratch {
  /** Warped second frame. */
  warped: Float32Array;
  inside: Uint8Array;
  ix: Float32Array;
  iy: Float32Array;
  /** Constant part of the data residual, It - Ix u0 - Iy v0. */
  c: Float32Array;
  /** 1 / (alpha^2 + Ix^2 + Iy^2). */
  den: Float32Array;
}

/**
 * Linearises brightness constancy around the current flow: fills ix, iy, c and den from the
 * first frame and the warped second frame (already in scratch.warped / scratch.inside).
 * Points whose warp left the image get no data term (ix = iy = c = 0).
 */
export function linearize(i1: Float32Array, w: number, h: number, u: Float32Array, v: Float32Array, alpha2: number, s: HsScratch): void {
  const { warped, inside, ix, iy, c, den } = s;
  addGradient(i1, w, h, ix, iy, 0.5, true);
  addGradient(warped, w, h, ix, iy, 0.5, false);
  const n = w * h;
  for (let i = 0; i < n; i++) {
    if (inside[i] === 0) {
      ix[i] = 0;
      iy[i] = 0;
      c[i] = 0;
      den[i] = 1 / alpha2;
      continue;
    }
    const gx = ix[i];
    const gy = iy[i];
    c[i] = warped[i] - i1[i] - gx * u[i] - gy * v[i];
    den[i] = 1 / (alpha2 + gx * gx + gy * gy);
  }
}

/** The HS update at a border pixel: mean over the neighbours present (Neumann boundary). */
function borderUpdate(i: number, x: number, y: number, w: number, h: number, u: Float32Array, v: Float32Array, s: HsScratch, omega: number): void {
  let su = 0;
  let sv = 0;
  let m = 0;
  if (x > 0) { su += u[i - 1]; sv += v[i - 1]; m++; }
  if (x < w - 1) { su += u[i + 1]; sv += v[i + 1]; m++; }
  if (y > 0) { su += u[i - w]; sv += v[i - w]; m++; }
  if (y < h - 1) { su += u[i + w]; sv += v[i + w]; m++; }
  const ub = su / m;
  const vb = sv / m;
  const gx = s.ix[i];
  const gy = s.iy[i];
  const t = (gx * ub + gy * vb + s.c[i]) * s.den[i];
  u[i] += omega * (ub - gx * t - u[i]);
  v[i] += omega * (vb - gy * t - v[i]);
}

/**
 * `sweeps` SOR passes of the HS update over (u, v) in place, in red-black order: first the
 * pixels with x + y even, then the odd ones. Each half-sweep only reads the other colour, so
 * its updates are independent and the CPU pipelines them; a lexicographic Gauss-Seidel scan
 * chains every update on the one just written and ran 1.7x slower per update here, for the same
 * convergence (red-black SOR is the standard parallel ordering for 5-point stencils).
 */
export function relax(w: number, h: number, u: Float32Array, v: Float32Array, s: HsScratch, sweeps: number, omega: number): void {
  const { ix, iy, c, den } = s;
  for (let k = 0; k < sweeps; k++) {
    for (let colour = 0; colour < 2; colour++) {
      for (let y = 0; y < h; y++) {
        const row = y * w;
        const x0 = (colour + y) & 1;
        if (y === 0 || y === h - 1 || w < 3) {
          for (let x = x0; x < w; x += 2) borderUpdate(row + x, x, y, w, h, u, v, s, omega);
          continue;
        }
        if (x0 === 0) borderUpdate(row, 0, y, w, h, u, v, s, omega);
        // Interior: all four neighbours exist, no branches (the hot loop).
        const end = row + w - 1;
        for (let i = row + (x0 === 0 ? 2 : 1); i < end; i += 2) {
          const ub = 0.25 * (u[i - 1] + u[i + 1] + u[i - w] + u[i + w]);
          const vb = 0.25 * (v[i - 1] + v[i + 1] + v[i - w] + v[i + w]);
          const gx = ix[i];
          const gy = iy[i];
          const t = (gx * ub + gy * vb + c[i]) * den[i];
          u[i] += omega * (ub - gx * t - u[i]);
          v[i] += omega * (vb - gy * t - v[i]);
        }
        if (((w - 1 + y) & 1) === colour) borderUpdate(end, w - 1, y, w, h, u, v, s, omega);
      }
    }
  }
}
