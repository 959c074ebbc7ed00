/**
 * The temporal-weight sweep of Feichtenhofer et al. (CVPR 2018 / IJCV 2020): optimize the same
 * unit under increasing kappa (the weight of the temporal part of the spatiotemporal variation,
 * actmax-clip-regularizers.ts). A unit that needs fast change between frames (a temporal
 * derivative, "fast motion") loses its optimum as kappa grows; a unit that is happy with a
 * constant or slowly changing input ("slow") keeps it. Their "slow" / "fast" motion pictures are
 * the two ends of such a sweep.
 *
 * Slowness of the unit: its activation at the largest kappa over its activation at the smallest,
 * ~1 for a slow unit, -> 0 for a fast one (null when the smallest-kappa activation is <= 0: the
 * unit was never excited). Each optimized clip also reports its power-weighted mean temporal
 * frequency (cycles/frame), which falls with kappa.
 */
import type { tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { actmaxClip, type ClipActmaxOptions, type ClipActmaxResult } from './actmax-clip.js';

export interface TemporalSweepOptions extends Omit<ClipActmaxOptions, 'layer' | 'channel'> {
  /** Whose kappa is swept (default both: every stream present gets the same kappa). */
  stream?: 'appearance' | 'motion' | 'both';
}

export interface TemporalSweepResult {
  layer: string;
  channel: number;
  kappas: number[];
  /** One optimized clip per kappa (same seed, same other settings). */
  results: ClipActmaxResult[];
  /** The maximized reduce of the unit on each clip (normalized by datasetMax when given). */
  activation: number[];
  /** Mean temporal frequency of the swept stream(s) of each clip, cycles/frame. */
  temporalFrequency: number[];
  /** Mean squared frame-to-frame difference of the swept stream(s) of each clip. */
  frameDifference: number[];
  /** activation at max kappa / activation at min kappa (null when the latter is <= 0). */
  slowness: number | null;
}

/** activation(max kappa) / activation(min kappa), or null when the unit was not excited at min kappa. */
export function slownessOf(kappas: number[], activation: number[]): number | null {
  if (kappas.length !== activation.length || kappas.length < 2) throw new NeurolensError('BAD_SPEC', 'slowness needs at least two kappas, one activation each');
  let lo = 0;
  let hi = 0;
  kappas.forEach((k, i) => {
    if (k < kappas[lo]!) lo = i;
    if (k > kappas[hi]!) hi = i;
  });
  const base = activation[lo]!;
  return base > 0 ? activation[hi]! / base : null;
}

/** One optimized clip per kappa for unit (layer, channel), and the unit's slowness. */
export async function actmaxTemporalSweep(model: tfl.LayersModel, layer: string, channel: number, kappas: number[], o: TemporalSweepOptions = {}): Promise<TemporalSweepResult> {
  if (kappas.length < 2 || kappas.some((k) => !(k >= 0) || !Number.isFinite(k))) {
    throw new NeurolensError('BAD_SPEC', `a temporal sweep needs at least two kappas >= 0, got [${kappas.join(', ')}]`);
  }
  const stream = o.stream ?? 'both';
  if (!['appearance', 'motion', 'both'].includes(stream)) throw new NeurolensError('BAD_SPEC', `sweep stream must be appearance|motion|both, got '${String(stream)}'`);
  const results: ClipActmaxResult[] = [];
  for (const kappa of kappas) {
    const appearance = stream === 'motion' ? o.appearance : { ...o.appearance, kappa };
    const motion = stream === 'appearance' ? o.motion : { ...o.motion, kappa };
    results.push(await actmaxClip(model, { ...o, layer, channel, appearance, motion }));
  }
  const activation = results.map((r) => {
    const a = r.normalized ?? r.activation;
    return a[r.reduce];
  });
  // Both streams: weight each stream's measure by its channel count.
  const combine = (r: ClipActmaxResult, pick: (t: NonNullable<ClipActmaxResult['appearance']>) => number) => {
    const parts: [number, number][] = [];
    if (stream !== 'motion' && r.appearance) parts.push([pick(r.appearance), r.streams.appearance]);
    if (stream !== 'appearance' && r.motion) parts.push([pick(r.motion), r.streams.motion]);
    const n = parts.reduce((s, [, w]) => s + w, 0);
    return n ? parts.reduce((s, [v, w]) => s + v * w, 0) / n : 0;
  };
  return {
    layer,
    channel,
    kappas: [...kappas],
    results,
    activation,
    temporalFrequency: results.map((r) => combine(r, (t) => t.temporalFrequency)),
    frameDifference: results.map((r) => combine(r, (t) => t.frameDifference)),
    slowness: slownessOf(kappas, activation),
  };
}
