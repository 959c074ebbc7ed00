/**
 * UMAP's layout optimisation (McInnes et al. 2018, sec. 4.2 and Algorithm 5; umap-js 1.4
 * `initializeSimplicialSetEmbedding` + `optimizeLayoutStep`) on typed arrays: edges sampled in
 * proportion to their weight (epochs_per_sample = w_max / w), each positive sample pulls both
 * ends with grad coeff -2ab d^(2(b-1)) / (1 + a d^(2b)), followed by negative_sample_rate
 * uniformly drawn negatives pushing the head with 2 gamma b / ((0.001 + d^2)(1 + a d^(2b)));
 * per-coordinate gradients clipped to +-4; learning rate decays linearly to 0.
 * Same operations in the same order and the same random draws as umap-js, so for the same graph
 * and `random` the layout equals umap-js's (tested), ~10x faster (no per-edge arrays-of-arrays).
 */

export interface SgdOptions {
  nEpochs: number;
  a: number;
  b: number;
  random: () => number;
  learningRate?: number;
  negativeSampleRate?: number;
  repulsionStrength?: number;
  /** Initial layout (n x 2); default: umap-js's uniform [-10, 10]^2 drawn from `random`. */
  init?: Float64Array;
  onEpoch?: (epoch: number, total: number) => void | Promise<void>;
}

function clip(x: number): number {
  return x > 4 ? 4 : x < -4 ? -4 : x;
}

/** Edge list of the graph as umap-js walks it: (row, col) ascending, weights < max / nEpochs dropped. */
export function edgesForOptimisation(rowPtr: Int32Array, cols: Int32Array, vals: Float64Array, n: number, nEpochs: number) {
  let gmax = 0;
  for (let e = 0; e < vals.length; e++) if (gmax < vals[e]) gmax = vals[e];
  let m = 0;
  for (let e = 0; e < vals.length; e++) if (!(vals[e] < gmax / nEpochs) && vals[e]) m++;
  const head = new Int32Array(m);
  const tail = new Int32Array(m);
  const weights = new Float64Array(m);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let e = rowPtr[i]; e < rowPtr[i + 1]; e++) {
      const v = vals[e] < gmax / nEpochs ? 0 : vals[e];
      if (v) {
        weights[t] = v;
        tail[t] = i;
        head[t++] = cols[e];
      }
    }
  }
  return { head, tail, weights };
}

export async function optimizeUmap(n: number, head: Int32Array, tail: Int32Array, weights: Float64Array, o: SgdOptions): Promise<Float64Array> {
  const { nEpochs, a, b, random } = o;
  const rate = o.negativeSampleRate ?? 5;
  const gamma = o.repulsionStrength ?? 1;
  const alpha0 = o.learningRate ?? 1;
  const Y = new Float64Array(2 * n);
  // umap-js draws its random start even when a caller replaces it afterwards: draw it always,
  // so the negative-sampling stream (and the layout) stays the same as umap-js's.
  for (let t = 0; t < 2 * n; t++) Y[t] = random() * 20 + -10;
  if (o.init) Y.set(o.init);
  const m = weights.length;
  // makeEpochsPerSample
  let wmax = 0;
  for (let e = 0; e < m; e++) wmax = weights[e] > wmax ? weights[e] : wmax;
  const eps = new Float64Array(m).fill(-1);
  for (let e = 0; e < m; e++) {
    const ns = (weights[e] / wmax) * nEpochs;
    if (ns > 0) eps[e] = nEpochs / ns;
  }
  const epsNeg = new Float64Array(m);
  for (let e = 0; e < m; e++) epsNeg[e] = eps[e] / rate;
  const nextSample = Float64Array.from(eps);
  const nextNeg = Float64Array.from(epsNeg);
  let alpha = alpha0;
  for (let ep = 0; ep < nEpochs; ep++) {
    for (let e = 0; e < m; e++) {
      if (nextSample[e] > ep) continue;
      const j = head[e], k = tail[e];
      const jx = 2 * j, kx = 2 * k;
      const dist2 = Math.pow(Y[jx] - Y[kx], 2) + Math.pow(Y[jx + 1] - Y[kx + 1], 2);
      let coeff = 0;
      if (dist2 > 0) {
        coeff = -2.0 * a * b * Math.pow(dist2, b - 1.0);
        coeff /= a * Math.pow(dist2, b) + 1.0;
      }
      for (let d = 0; d < 2; d++) {
        const g = clip(coeff * (Y[jx + d] - Y[kx + d]));
        Y[jx + d] += g * alpha;
        Y[kx + d] += -g * alpha;
      }
      nextSample[e] += eps[e];
      const nNeg = Math.floor((ep - nextNeg[e]) / epsNeg[e]);
      for (let p = 0; p < nNeg; p++) {
        const r = Math.floor(random() * n);
        const rx = 2 * r;
        const d2 = Math.pow(Y[jx] - Y[rx], 2) + Math.pow(Y[jx + 1] - Y[rx + 1], 2);
        let c = 0.0;
        if (d2 > 0.0) {
          c = 2.0 * gamma * b;
          c /= (0.001 + d2) * (a * Math.pow(d2, b) + 1);
        } else if (j === r) continue;
        for (let d = 0; d < 2; d++) {
          let g = 4.0;
          if (c > 0.0) g = clip(c * (Y[jx + d] - Y[rx + d]));
          Y[jx + d] += g * alpha;
        }
      }
      nextNeg[e] += nNeg * epsNeg[e];
    }
    alpha = alpha0 * (1.0 - ep / nEpochs);
    if (o.onEpoch) await o.onEpoch(ep + 1, nEpochs);
  }
  return Y;
}
