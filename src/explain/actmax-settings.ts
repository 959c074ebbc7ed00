/**
 * Settings of activation maximization, their defaults (lucid's `render_vis` with
 * `standard_transforms`, Olah et al. 2017) and their validation. Every field is recorded in the
 * JSON sidecar so a picture can be re-made bit for bit on the same backend.
 */
import { NeurolensError } from '../errors.js';
import { PARAM_KINDS, type ParamKind } from './actmax-param.js';

export interface ActmaxSettings {
  param: ParamKind;
  /** Adam steps. */
  steps: number;
  /** Adam learning rate (lucid: 0.05). */
  lr: number;
  /** Seeds the initial image, the per-step transformations and the noise baseline. */
  seed: number;
  /** Largest circular shift per step, px. */
  jitter: number;
  /** Scale factors, one drawn per step. */
  scale: number[];
  /** Largest rotation per step, degrees. */
  rotate: number;
  /** Weight of the total-variation penalty. */
  tv: number;
  /** Weight of the alpha-norm penalty (L2 when alpha = 2). */
  l2: number;
  /** Exponent of the alpha-norm (Mahendran & Vedaldi use 6). */
  alpha: number;
  /** Std (px) of the Gaussian blur applied every `blurEvery` steps; 0 = off. */
  blur: number;
  blurEvery: number;
  /** lucid colour decorrelation (3-channel inputs). */
  decorrelate: boolean;
  /** Fourier spectrum decay power. */
  decay: number;
}

export const ACTMAX_DEFAULTS: ActmaxSettings = {
  param: 'fourier',
  steps: 256,
  lr: 0.05,
  seed: 0,
  jitter: 8,
  scale: [0.95, 0.975, 1, 1.025, 1.05],
  rotate: 5,
  tv: 0,
  l2: 0,
  alpha: 2,
  blur: 0,
  blurEvery: 4,
  decorrelate: false,
  decay: 1,
};

function bad(field: string, reason: string, value: unknown): never {
  throw new NeurolensError('BAD_SPEC', `actmax ${field}: ${reason}, got ${JSON.stringify(value)}`);
}

/** Defaults filled in and every value checked (errors name the setting). */
export function resolveSettings(given: Partial<ActmaxSettings>): ActmaxSettings {
  // Only the settings' own keys: callers pass wider option objects (layer, channel, ...).
  const keys = Object.keys(ACTMAX_DEFAULTS) as (keyof ActmaxSettings)[];
  const defined = Object.fromEntries(keys.filter((k) => given[k] !== undefined).map((k) => [k, given[k]]));
  const s: ActmaxSettings = { ...ACTMAX_DEFAULTS, ...defined, scale: [...(given.scale ?? ACTMAX_DEFAULTS.scale)] };
  if (!PARAM_KINDS.includes(s.param)) bad('param', `expected ${PARAM_KINDS.join('|')}`, s.param);
  const int = (k: keyof ActmaxSettings, min: number) => {
    const v = s[k] as number;
    if (!Number.isInteger(v) || v < min) bad(k, `expected an integer >= ${min}`, v);
  };
  const num = (k: keyof ActmaxSettings, ok: (v: number) => boolean, what: string) => {
    const v = s[k] as number;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) bad(k, `expected ${what}`, v);
  };
  int('steps', 1);
  int('jitter', 0);
  int('blurEvery', 1);
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) bad('seed', 'expected an integer in [0, 2^32)', s.seed);
  num('lr', (v) => v > 0, 'a number > 0');
  num('rotate', (v) => v >= 0 && v <= 180, 'degrees in [0, 180]');
  num('tv', (v) => v >= 0, 'a weight >= 0');
  num('l2', (v) => v >= 0, 'a weight >= 0');
  num('alpha', (v) => v >= 1, 'an exponent >= 1');
  num('blur', (v) => v >= 0, 'a std in px >= 0');
  num('decay', (v) => v >= 0, 'a power >= 0');
  if (s.scale.length === 0 || s.scale.some((v) => !Number.isFinite(v) || v <= 0)) bad('scale', 'expected a list of factors > 0', s.scale);
  if (typeof s.decorrelate !== 'boolean') bad('decorrelate', 'expected true or false', s.decorrelate);
  return s;
}
