/**
 * Plain per-frame arrays from a clip in the model's input space [T, H, W, A + M]
 * (src/video/clip-layout.ts), for the clip pictures (actmax-clip.ts, clip-attribution.ts) and the
 * renderers that draw them (src/render/flow-color.ts: flow -> Middlebury colour wheel;
 * src/render/clip-strip.ts: frame strips with heat overlays). No drawing here:
 *
 * - appearanceFrames: RGB uint8 [H * W * 3] per frame, de-normalized by inverting the model's
 *   preprocessing x = (v * scale - mean[c]) / std[c] (v on 0..255), so v = (x * std + mean) / scale,
 *   rounded and clamped; grey (A = 1) is repeated into R, G, B.
 * - motionFrames: the motion channels per frame as plain arrays, `u` and `v` for flow (M = 2),
 *   `u` only for a frame difference (M = 1); divided by the clip's motion scale, so flow comes
 *   back in pixels per frame (u right, v down).
 * - heatFrames / normalizeHeatFrames: a [T * H * W] map split per frame, and scaled to [0, 1]
 *   with ONE range over all frames (so a frame that matters less also looks weaker) or per frame.
 */
import { NeurolensError } from '../errors.js';
import type { Preprocess } from './actmax-objective.js';
import type { ClipShape, ClipStreams } from './actmax-clip-target.js';

export interface MotionFrame {
  /** Horizontal flow (or the frame difference), [H * W]. */
  u: Float32Array;
  /** Vertical flow, [H * W]; null for a 1-channel motion input (frame difference). */
  v: Float32Array | null;
}

function checkClip(clip: ArrayLike<number>, s: ClipShape): void {
  const n = s.frames * s.height * s.width * s.channels;
  if (clip.length !== n) throw new NeurolensError('BAD_INPUT', `clip has ${clip.length} values, expected ${s.frames}x${s.height}x${s.width}x${s.channels} = ${n}`);
}

function perChannel(v: number[], n: number, what: string): number[] {
  if (v.length !== 1 && v.length !== n) throw new NeurolensError('BAD_SPEC', `${what} has ${v.length} values, expected 1 or ${n}`);
  return Array.from({ length: n }, (_, c) => v[v.length === 1 ? 0 : c]!);
}

/** The appearance channels of each frame as RGB uint8 [H * W * 3]. */
export function appearanceFrames(clip: ArrayLike<number>, shape: ClipShape, streams: ClipStreams, pre: Preprocess): Uint8Array[] {
  checkClip(clip, shape);
  const A = streams.appearance;
  if (A !== 1 && A !== 3) throw new NeurolensError('BAD_SPEC', `appearance frames need 1 (grey) or 3 (RGB) appearance channels, the clip has ${A}`);
  if (!(pre.scale > 0)) throw new NeurolensError('BAD_SPEC', `input scale must be > 0, got ${pre.scale}`);
  const mean = perChannel(pre.mean, A, 'input mean');
  const std = perChannel(pre.std, A, 'input std');
  const hw = shape.height * shape.width;
  const C = shape.channels;
  return Array.from({ length: shape.frames }, (_, t) => {
    const out = new Uint8Array(hw * 3);
    for (let p = 0; p < hw; p++) {
      const base = (t * hw + p) * C;
      for (let k = 0; k < 3; k++) {
        const c = A === 1 ? 0 : k;
        const v = (clip[base + c]! * std[c]! + mean[c]!) / pre.scale;
        out[p * 3 + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
    return out;
  });
}

/** The motion channels of each frame, divided by `motionScale` (default 1). */
export function motionFrames(clip: ArrayLike<number>, shape: ClipShape, streams: ClipStreams, motionScale = 1): MotionFrame[] {
  checkClip(clip, shape);
  const { appearance: A, motion: M } = streams;
  if (M !== 1 && M !== 2) throw new NeurolensError('BAD_SPEC', `motion frames need 1 (difference) or 2 (flow u, v) motion channels, the clip has ${M}`);
  if (!(motionScale > 0) || !Number.isFinite(motionScale)) throw new NeurolensError('BAD_SPEC', `motion scale must be > 0, got ${motionScale}`);
  const hw = shape.height * shape.width;
  const C = shape.channels;
  return Array.from({ length: shape.frames }, (_, t) => {
    const u = new Float32Array(hw);
    const v = M === 2 ? new Float32Array(hw) : null;
    for (let p = 0; p < hw; p++) {
      const base = (t * hw + p) * C + A;
      u[p] = clip[base]! / motionScale;
      if (v) v[p] = clip[base + 1]! / motionScale;
    }
    return { u, v };
  });
}

/** A [T * H * W] map split into T frames of [H * W] (copies). */
export function heatFrames(map: ArrayLike<number>, frames: number, height: number, width: number): Float32Array[] {
  const hw = height * width;
  if (map.length !== frames * hw) throw new NeurolensError('BAD_INPUT', `heat map has ${map.length} values, expected ${frames}x${height}x${width} = ${frames * hw}`);
  return Array.from({ length: frames }, (_, t) => Float32Array.from({ length: hw }, (_, p) => map[t * hw + p]!));
}

/**
 * Heat frames scaled to [0, 1]: (v - min) / (max - min) with min / max over all frames
 * (`range: 'clip'`, default) or over each frame (`'frame'`). A constant range maps to 0.
 * Returns the frames and the range(s) used, for a colour bar.
 */
export function normalizeHeatFrames(frames: Float32Array[], range: 'clip' | 'frame' = 'clip'): { frames: Float32Array[]; ranges: { min: number; max: number }[] } {
  const bounds = (fs: Float32Array[]) => {
    let min = Infinity;
    let max = -Infinity;
    for (const f of fs) for (const v of f) if (Number.isFinite(v)) (min = Math.min(min, v)), (max = Math.max(max, v));
    return Number.isFinite(min) ? { min, max } : { min: 0, max: 0 };
  };
  const ranges = range === 'clip' ? frames.map(() => bounds(frames)) : frames.map((f) => bounds([f]));
  return {
    frames: frames.map((f, i) => {
      const { min, max } = ranges[i]!;
      const d = max - min;
      return f.map((v) => (d > 0 && Number.isFinite(v) ? (v - min) / d : 0));
    }),
    ranges,
  };
}
