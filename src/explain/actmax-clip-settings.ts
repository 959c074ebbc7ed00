/**
 * Settings of spatiotemporal activation maximization (actmax-clip.ts) and their validation:
 * the optimizer and jitter shared by the clip, and one set of regularization weights per stream
 * (appearance, motion), since Feichtenhofer et al. (CVPR 2018) regularize and normalize the
 * appearance and the optical-flow inputs separately. The terms are defined in
 * actmax-clip-regularizers.ts. Every field is returned with the result so a clip can be re-made.
 */
import { NeurolensError } from '../errors.js';

export interface ClipStreamRegularization {
  /**
   * The stream's value range B: values are normalized by it in every term. Appearance: the
   * half-range of the [0, 1] image around grey (default 0.5). Motion: also the bound of the
   * parameterization, the optimized flow stays in (-B, B) in model input units (default 1).
   */
  range: number;
  /** lambda_alpha, weight of the alpha-norm. */
  alphaWeight: number;
  /** alpha, exponent of the alpha-norm. */
  alpha: number;
  /** lambda_TV, weight of the spatiotemporal variation R_ST. */
  tvWeight: number;
  /** beta, exponent of the spatial total variation (2: quadratic, 1: classical TV). */
  beta: number;
  /** kappa, weight of the temporal part of R_ST relative to its spatial part. */
  kappa: number;
}

export interface ClipActmaxSettings {
  /** Adam steps. */
  steps: number;
  /** Adam learning rate. */
  lr: number;
  /** Seeds the initial clip and the per-step jitter. */
  seed: number;
  /** Largest circular shift per step in y and x, px (the same for every frame). */
  jitter: number;
  /** Largest circular shift per step in time, frames (0: off; a roll joins the last frame to the first). */
  jitterTime: number;
  appearance: ClipStreamRegularization;
  motion: ClipStreamRegularization;
}

export const CLIP_STREAM_DEFAULTS = {
  appearance: { range: 0.5, alphaWeight: 0.05, alpha: 3, tvWeight: 0.05, beta: 2, kappa: 1 },
  motion: { range: 1, alphaWeight: 0.05, alpha: 3, tvWeight: 0.05, beta: 2, kappa: 1 },
} as const satisfies Record<'appearance' | 'motion', ClipStreamRegularization>;

export const CLIP_ACTMAX_DEFAULTS: ClipActmaxSettings = {
  steps: 128,
  lr: 0.05,
  seed: 0,
  jitter: 2,
  jitterTime: 0,
  appearance: { ...CLIP_STREAM_DEFAULTS.appearance },
  motion: { ...CLIP_STREAM_DEFAULTS.motion },
};

export type ClipActmaxSettingsInput = Partial<Omit<ClipActmaxSettings, 'appearance' | 'motion'>> & {
  appearance?: Partial<ClipStreamRegularization>;
  motion?: Partial<ClipStreamRegularization>;
};

function bad(field: string, reason: string, value: unknown): never {
  throw new NeurolensError('BAD_SPEC', `clip actmax ${field}: ${reason}, got ${JSON.stringify(value)}`);
}

function defined<T extends object>(o: Partial<T> | undefined, keys: (keyof T)[]): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<T>;
}

function checkStream(name: string, s: ClipStreamRegularization): void {
  const num = (k: keyof ClipStreamRegularization, ok: (v: number) => boolean, what: string) => {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) bad(`${name}.${k}`, `expected ${what}`, v);
  };
  num('range', (v) => v > 0, 'a range > 0');
  num('alphaWeight', (v) => v >= 0, 'a weight >= 0');
  num('alpha', (v) => v >= 1, 'an exponent >= 1');
  num('tvWeight', (v) => v >= 0, 'a weight >= 0');
  num('beta', (v) => v >= 1, 'an exponent >= 1');
  num('kappa', (v) => v >= 0, 'a weight >= 0');
}

/** Defaults filled in and every value checked (errors name the setting). */
export function resolveClipSettings(given: ClipActmaxSettingsInput = {}): ClipActmaxSettings {
  const top = ['steps', 'lr', 'seed', 'jitter', 'jitterTime'] as const;
  const streamKeys = Object.keys(CLIP_STREAM_DEFAULTS.appearance) as (keyof ClipStreamRegularization)[];
  const s: ClipActmaxSettings = {
    ...CLIP_ACTMAX_DEFAULTS,
    ...defined<ClipActmaxSettings>(given as Partial<ClipActmaxSettings>, [...top]),
    appearance: { ...CLIP_STREAM_DEFAULTS.appearance, ...defined(given.appearance, streamKeys) },
    motion: { ...CLIP_STREAM_DEFAULTS.motion, ...defined(given.motion, streamKeys) },
  };
  const int = (k: 'steps' | 'jitter' | 'jitterTime', min: number) => {
    if (!Number.isInteger(s[k]) || s[k] < min) bad(k, `expected an integer >= ${min}`, s[k]);
  };
  int('steps', 1);
  int('jitter', 0);
  int('jitterTime', 0);
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) bad('seed', 'expected an integer in [0, 2^32)', s.seed);
  if (typeof s.lr !== 'number' || !Number.isFinite(s.lr) || !(s.lr > 0)) bad('lr', 'expected a number > 0', s.lr);
  checkStream('appearance', s.appearance);
  checkStream('motion', s.motion);
  return s;
}
