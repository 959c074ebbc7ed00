/**
 * Attribution over time for one clip as a figure (src/explain/clip-attribution.ts): the clip's
 * frames as the model saw them with one heat map per frame blended over them.
 * - Grad-CAM: one row, the CAM of the chosen Conv3D layer upsampled in space and time.
 * - Saliency: two rows, max |d score / d x| over the appearance channels, then over the motion
 *   channels (drawn over the grey frames so the heat stays readable); each stream is scaled by
 *   its own largest value, since appearance and flow gradients are different quantities and one
 *   range would let one stream hide the other (the raw maxima go into the JSON).
 */
import type { ClipGradCamResult, ClipSaliencyResult } from '../explain/clip-attribution.js';
import type { Image8 } from './canvas.js';
import type { ClipItem, ClipMotion } from './clip-cells.js';

function grey(img: Image8): Image8 {
  if (img.channels === 1) return img;
  const data = new Uint8Array(img.width * img.height);
  for (let p = 0; p < data.length; p++) data[p] = Math.round(0.299 * img.data[p * 3]! + 0.587 * img.data[p * 3 + 1]! + 0.114 * img.data[p * 3 + 2]!);
  return { width: img.width, height: img.height, channels: 1, data };
}

function maxOf(maps: Float32Array[]): number {
  let m = 0;
  for (const a of maps) for (const v of a) if (Number.isFinite(v) && v > m) m = v;
  return m;
}

/** Maps divided by their largest value over all frames (all zero stays zero). */
function scaled(maps: Float32Array[]): Float32Array[] {
  const m = maxOf(maps);
  return maps.map((a) => (m > 0 ? a.map((v) => v / m) : Float32Array.from(a)));
}

/** Per-frame mean and max of a list of maps (what the JSON reports per frame). */
export function frameSummary(maps: Float32Array[]): { mean: number; max: number }[] {
  return maps.map((a) => {
    let s = 0;
    let m = -Infinity;
    for (const v of a) {
      s += v;
      if (v > m) m = v;
    }
    return { mean: a.length ? s / a.length : 0, max: a.length ? m : 0 };
  });
}

export function gradCamItems(frames: Image8[], r: ClipGradCamResult, motion: ClipMotion | undefined, caption: string[]): ClipItem[] {
  return [{ frames, caption: [`grad-cam`, r.layer, ...caption], heat: { width: r.width, height: r.height, maps: r.frames }, ...(motion ? { motion } : {}) }];
}

export function saliencyItems(frames: Image8[], r: ClipSaliencyResult, motion: ClipMotion | undefined, caption: string[]): ClipItem[] {
  const { width, height } = r.shape;
  const items: ClipItem[] = [];
  if (r.appearance.length) items.push({ frames, caption: ['appearance', 'saliency', ...caption], heat: { width, height, maps: scaled(r.appearance) }, ...(motion ? { motion } : {}) });
  if (r.motion.length) items.push({ frames: frames.map(grey), caption: ['motion', 'saliency', ...caption], heat: { width, height, maps: scaled(r.motion) } });
  return items;
}

export { maxOf as largestValue };
