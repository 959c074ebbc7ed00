/**
 * Spatiotemporal activation maximization as a picture (src/explain/actmax-clip*.ts): one strip
 * per kappa (the temporal-variation weight of Feichtenhofer et al., CVPR 2018), the optimized
 * appearance frames with the motion channels under them (flow in the Middlebury colours, one
 * normaliser for the whole figure so colours compare across kappas), and the numbers that go
 * into the JSON sidecar: the unit's activation per kappa, slowness, temporal frequency.
 */
import { appearanceFrames, motionFrames } from '../explain/clip-render.js';
import type { ClipActmaxResult } from '../explain/actmax-clip.js';
import type { ClipItem, ClipMotion } from './clip-cells.js';
import { clipStripPng, type StripLayout } from './clip-strip.js';

/** The clip's motion channels in their own units (px/frame for flow). */
function motionOf(r: ClipActmaxResult, motionScale: number): ClipMotion | undefined {
  if (r.streams.motion !== 1 && r.streams.motion !== 2) return undefined;
  const m = motionFrames(r.clip, r.shape, r.streams, motionScale);
  const { width, height } = r.shape;
  if (r.streams.motion === 2) return { kind: 'flow', width, height, u: m.map((f) => f.u), v: m.map((f) => f.v!) };
  return { kind: 'diff', width, height, diff: m.map((f) => f.u) };
}

/** The unit's activation the optimization maximized (normalized by the dataset max when known). */
export function objectiveValue(r: ClipActmaxResult): number {
  return (r.normalized ?? r.activation)[r.reduce];
}

export function actmaxClipItem(r: ClipActmaxResult, kappa: number, motionScale = 1): ClipItem {
  const { width, height } = r.shape;
  const frames = appearanceFrames(r.clip, r.shape, r.streams, r.preprocess).map((data) => ({ width, height, channels: 3 as const, data }));
  const act = objectiveValue(r);
  const freq = [r.appearance, r.motion].filter((t) => t !== null).map((t) => t!.temporalFrequency.toFixed(2));
  const motion = motionOf(r, motionScale);
  return {
    frames,
    caption: [`kappa ${kappa}`, `${r.normalized ? 'act/max' : 'act'} ${Number(act.toPrecision(3))}`, ...(freq.length ? [`freq ${freq.join('/')}`] : [])],
    ...(motion ? { motion } : {}),
  };
}

export async function actmaxClipPng(results: ClipActmaxResult[], kappas: number[], o: { title: string; cellSize?: number; motionScale?: number }): Promise<{ png: Buffer; layout: StripLayout }> {
  const items = results.map((r, i) => actmaxClipItem(r, kappas[i]!, o.motionScale));
  return clipStripPng(items, { title: o.title, cellSize: o.cellSize ?? 64, kernel: 'nearest' });
}
