/**
 * Conv3D as ONE 2-D convolution: the shared geometry and data movement of conv3d.ts and
 * conv3d_backprop_*.ts.
 *
 * A 3-D correlation with kernel depth kd reads, for output frame od, the input frames
 *   d(od, dt) = od*sd + dt*dd - front,   dt = 0 .. kd-1
 * (frames outside the clip read as zeros). Stacking those kd frames along the channel axis
 * ("temporal im2col") gives S [B*Do, H, W, kd*Ci] with S[b*Do + od, h, w, dt*Ci + ci] =
 * x[b, d(od, dt), h, w, ci], and with the filter W [kd, kh, kw, Ci, Co] read as
 * Ws [kh, kw, kd*Ci, Co] (Ws[kh, kw, dt*Ci + ci, co] = W[dt, kh, kw, ci, co]) the 3-D convolution
 * is the 2-D convolution of S with Ws, frames folded into the batch axis, which runs on XNNPACK.
 * Its gradients follow the same way: dW = Conv2DBackpropFilter(S, dy) read back through Ws, and
 * dx = the adjoint of the stacking (scatterFrames) applied to Conv2DBackpropInput(dy, Ws).
 *
 * Why stack the input rather than run kd convolutions and add them up: one product with a kd
 * times deeper reduction keeps XNNPACK's micro-kernels busy (the motion stream's first layer has
 * Ci = 2, so 18 products per output per tap), costs kd*|x| of copying instead of kd-1 output
 * additions and padded frame slices, and its gradients are single calls to the fast 2-D kernels.
 * For a temporal kernel of 1 at temporal stride 1, S is x itself (a reshape, no copy).
 */
import { tfc } from '../tf.js';
import { heapBackend, numericView } from './heap.js';

/** What the frame stacking needs to know (from tfc.backend_util.computeConv3DInfo). */
export interface FrameTaps {
  batch: number;
  inDepth: number;
  outDepth: number;
  /** Kernel depth kd. */
  taps: number;
  stride: number;
  dilation: number;
  front: number;
  /** H * W of a frame. */
  pixels: number;
  channels: number;
}

export function frameTaps(info: tfc.backend_util.Conv3DInfo): FrameTaps {
  return {
    batch: info.batchSize,
    inDepth: info.inDepth,
    outDepth: info.outDepth,
    taps: info.filterDepth,
    stride: info.strideDepth,
    dilation: info.dilationDepth,
    front: info.padInfo.front,
    pixels: info.inHeight * info.inWidth,
    channels: info.inChannels,
  };
}

/** True when S is x itself: one tap that reads frame od for output frame od. */
export function isPlainFrames(t: FrameTaps): boolean {
  return t.taps === 1 && t.stride === 1 && t.front === 0 && t.outDepth === t.inDepth;
}

/** The 2-D convolution geometry of the folded frames: strides, dilations and explicit padding. */
export function spatialConv(info: tfc.backend_util.Conv3DInfo) {
  const { top, bottom, left, right } = info.padInfo;
  return {
    strides: [info.strideHeight, info.strideWidth] as [number, number],
    dilations: [info.dilationHeight, info.dilationWidth] as [number, number],
    // Explicit, from the 3-D info: so 'same' is split exactly as the cpu Conv3D splits it.
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]] as tfc.backend_util.ExplicitPadding,
  };
}

/** dst[(b*Do + od), p, dt*C + c] = src[b, d(od, dt), p, c], zeros outside the clip. */
export function gatherFramesInto(src: ArrayLike<number>, dst: Float32Array, t: FrameTaps): void {
  const { batch, inDepth, outDepth, taps, stride, dilation, front, pixels, channels: c } = t;
  const k = taps * c;
  for (let b = 0; b < batch; b++) {
    for (let od = 0; od < outDepth; od++) {
      const out = (b * outDepth + od) * pixels * k;
      for (let dt = 0; dt < taps; dt++) {
        const d = od * stride + dt * dilation - front;
        const o0 = out + dt * c;
        if (d < 0 || d >= inDepth) {
          for (let p = 0, o = o0; p < pixels; p++, o += k) for (let ch = 0; ch < c; ch++) dst[o + ch] = 0;
          continue;
        }
        let s = (b * inDepth + d) * pixels * c;
        if (k === c) {
          // One tap: the frame is one contiguous block.
          for (let i = 0; i < pixels * c; i++) dst[o0 + i] = src[s + i];
          continue;
        }
        for (let p = 0, o = o0; p < pixels; p++, o += k, s += c) for (let ch = 0; ch < c; ch++) dst[o + ch] = src[s + ch];
      }
    }
  }
}

/** The adjoint of gatherFramesInto: dst[b, d, p, c] = sum of src over the (od, dt) reading frame d. */
export function scatterFramesInto(src: ArrayLike<number>, dst: Float32Array, t: FrameTaps): void {
  const { batch, inDepth, outDepth, taps, stride, dilation, front, pixels, channels: c } = t;
  const k = taps * c;
  dst.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let od = 0; od < outDepth; od++) {
      const from = (b * outDepth + od) * pixels * k;
      for (let dt = 0; dt < taps; dt++) {
        const d = od * stride + dt * dilation - front;
        if (d < 0 || d >= inDepth) continue;
        let o = (b * inDepth + d) * pixels * c;
        for (let p = 0, s = from + dt * c; p < pixels; p++, s += k, o += c) for (let ch = 0; ch < c; ch++) dst[o + ch] += src[s + ch];
      }
    }
  }
}

/** S [B*Do, H, W, kd*C] of a float32 NDHWC tensor `x` (a fresh heap buffer; see header). */
export function gatherFrames(x: tfc.TensorInfo, t: FrameTaps, backend: unknown): tfc.Tensor4D {
  const be = heapBackend(backend);
  const [, , h, w] = x.shape;
  const out = be.makeOutput([t.batch * t.outDepth, h, w, t.taps * t.channels], 'float32');
  // Views after the allocation (heap.ts).
  gatherFramesInto(numericView(be, x), be.typedArrayFromHeap(out) as Float32Array, t);
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor4D;
}

/** dx [B, D, H, W, C] from dS [B*Do, H, W, kd*C] (the adjoint of gatherFrames). */
export function scatterFrames(dS: tfc.TensorInfo, t: FrameTaps, backend: unknown): tfc.Tensor5D {
  const be = heapBackend(backend);
  const [, h, w] = dS.shape;
  const out = be.makeOutput([t.batch, t.inDepth, h, w, t.channels], 'float32');
  scatterFramesInto(numericView(be, dS), be.typedArrayFromHeap(out) as Float32Array, t);
  return tfc.engine().makeTensorFromTensorInfo(out) as tfc.Tensor5D;
}

/** W [kd, kh, kw, Ci, Co] as Ws [kh, kw, kd*Ci, Co]. Call inside a tidy. */
export function stackedFilter(w: tfc.Tensor): tfc.Tensor4D {
  const [kd, kh, kw, ci, co] = w.shape;
  const t = kd === 1 ? w : tfc.transpose(w, [1, 2, 0, 3, 4]);
  return tfc.reshape(t, [kh, kw, kd * ci, co]);
}

/** Ws [kh, kw, kd*Ci, Co] back to W [kd, kh, kw, Ci, Co]. Call inside a tidy. */
export function unstackedFilter(ws: tfc.Tensor, filterShape: number[]): tfc.Tensor5D {
  const [kd, kh, kw, ci, co] = filterShape;
  const t = tfc.reshape(ws, [kh, kw, kd, ci, co]);
  return (kd === 1 ? tfc.reshape(t, [kd, kh, kw, ci, co]) : tfc.transpose(t, [2, 0, 1, 3, 4])) as tfc.Tensor5D;
}
