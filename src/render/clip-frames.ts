/**
 * A clip tensor back to pictures: float32 [T, H, W, A + M] in the layout of
 * src/video/clip-layout.ts becomes T 8-bit frames (the appearance channels un-normalised) and the
 * motion channels in their own units (flow in pixels per frame, diff on the 0..1 luma scale, both
 * divided by `motion_scale`), ready for clip-strip.ts / clip-grid.ts. This shows the clip exactly
 * as the model saw it (its resolution, its frames), which is what receptive-field boxes refer to.
 */
import { clipChannels, clipSize, motionChannels, type ClipLayout } from '../video/clip-layout.js';
import type { Image8 } from './canvas.js';
import type { ClipMotion } from './clip-cells.js';

/** The appearance normalisation (v * scale - mean[c]) / std[c]; mean / std of length 1 apply to every channel. */
export interface AppearanceNorm {
  scale: number;
  mean: number[];
  std: number[];
}

export interface ClipPictures {
  frames: Image8[];
  motion?: ClipMotion;
}

/** Splits one clip sample into frames and motion maps. */
export function clipPictures(data: Float32Array, l: ClipLayout, norm: AppearanceNorm): ClipPictures {
  if (data.length !== clipSize(l)) throw new Error(`clip has ${data.length} values, layout ${l.frames}x${l.height}x${l.width}x${clipChannels(l)} needs ${clipSize(l)}`);
  const C = clipChannels(l);
  const A = l.appearance;
  const M = motionChannels(l.motion);
  const hw = l.height * l.width;
  const at = (arr: number[], c: number) => arr[arr.length === 1 ? 0 : c]!;
  const frames: Image8[] = [];
  const maps: Float32Array[][] = Array.from({ length: M }, () => []);
  for (let t = 0; t < l.frames; t++) {
    const img = new Uint8Array(hw * A);
    const mot = Array.from({ length: M }, () => new Float32Array(hw));
    for (let p = 0; p < hw; p++) {
      const o = (t * hw + p) * C;
      for (let c = 0; c < A; c++) {
        const v = (data[o + c]! * at(norm.std, c) + at(norm.mean, c)) / norm.scale;
        img[p * A + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
      for (let m = 0; m < M; m++) mot[m]![p] = data[o + A + m]! / l.motionScale;
    }
    frames.push({ width: l.width, height: l.height, channels: A, data: img });
    mot.forEach((a, m) => maps[m]!.push(a));
  }
  if (l.motion === 'flow') return { frames, motion: { kind: 'flow', width: l.width, height: l.height, u: maps[0]!, v: maps[1]! } };
  if (l.motion === 'diff') return { frames, motion: { kind: 'diff', width: l.width, height: l.height, diff: maps[0]! } };
  return { frames };
}
