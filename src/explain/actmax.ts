/**
 * Activation maximization: the image that most excites one unit (Erhan et al. 2009; Simonyan et
 * al. 2014; Olah et al. 2017 "Feature Visualization", Distill, and its library lucid).
 *
 *   param (pixel | Fourier, seeded) -> sigmoid image x in [0, 1]
 *     -> random roll / zoom / rotation -> model preprocessing -> layer -> mean of channel c
 *   loss = -mean / datasetMax + tv * TV(x) + l2 * mean|x - 0.5|^alpha,  Adam on the parameters,
 *   Gaussian blur of the pre-sigmoid image every k steps (Yosinski et al. 2015).
 *
 * The objective is divided by the unit's maximum over the dataset (neuron_stats.max) when one is
 * given, as Feichtenhofer et al. (CVPR 2018) normalize by the max activation over the training
 * set: the regularizer weights then mean the same for every unit. The result reports the final
 * activation raw and normalized, and the mean activation of seeded uniform noise images for
 * comparison.
 *
 * Reproducible: every random draw comes from mulberry32(seed) streams in JavaScript and every
 * tensor op is deterministic on wasm and cpu, so a seed gives the same pixels on one backend.
 */
import { tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import type { TapTarget } from '../model/taps.js';
import { mulberry32 } from '../train/prng.js';
import { createParam } from './actmax-param.js';
import { IDENTITY_PREPROCESS, preprocess, resolveUnit, type Preprocess, type Unit } from './actmax-objective.js';
import { alphaNorm, totalVariation, totalVariationOf } from './actmax-regularizers.js';
import { resolveSettings, type ActmaxSettings } from './actmax-settings.js';
import { applyTransform, drawTransform } from './actmax-transforms.js';

export { ACTMAX_DEFAULTS, type ActmaxSettings } from './actmax-settings.js';
export { IDENTITY_PREPROCESS, type Preprocess } from './actmax-objective.js';

export interface ActmaxOptions extends Partial<ActmaxSettings> {
  layer: string;
  channel: number;
  /** Model input preprocessing (default: the model sees [0, 1]). */
  preprocess?: Preprocess;
  /** The unit's max over the dataset; > 0 normalizes the objective. null/undefined: raw objective. */
  datasetMax?: number | null;
  /** Image size when the model input has unknown height/width. */
  size?: { height: number; width: number };
}

export interface UnitActivation {
  /** Mean of the channel over positions (the objective). */
  mean: number;
  /** Max of the channel over positions. */
  max: number;
}

export interface ActmaxResult {
  /** The image in [0, 1], HWC row-major. */
  image: Float32Array;
  height: number;
  width: number;
  channels: number;
  settings: ActmaxSettings;
  preprocess: Preprocess;
  layer: { name: string; kind: string; outputShape: (number | null)[] | null };
  channel: number;
  /** Activation of the final image (no transformation). */
  activation: UnitActivation;
  /** Activation of seeded uniform [0, 1] noise, averaged over NOISE_SAMPLES images. */
  noise: UnitActivation;
  /** datasetMax used for normalization (null: not normalized). */
  datasetMax: number | null;
  /** activation / datasetMax (null when not normalized). */
  normalized: { mean: number; max: number } | null;
  /** Total variation of the final image (regularizers.ts definition). */
  totalVariation: number;
  /** Loss at (up to) 17 evenly spaced steps, [step, loss]. */
  trace: [number, number][];
}

/** Seed streams: independent draws for the initial image, the transformations and the noise. */
const STREAM_TRANSFORMS = 0x9e3779b9;
const STREAM_NOISE = 0x85ebca6b;
/**
 * Noise images averaged for the baseline: one image is not enough, because overlapping windows
 * make a conv unit's positions strongly correlated (the mean over one 28x28 noise image of a 7x7
 * edge unit varies by +-25% between seeds).
 */
export const NOISE_SAMPLES = 8;

/** Unit activation of a batch x [B, H, W, C], averaged over the batch. */
function measure(unit: Unit, x: tfc.Tensor, p: Preprocess): UnitActivation {
  const [mean, max] = tfc.tidy(() => {
    const a = unit.activation(preprocess(x, p, unit.input.channels));
    return [tfc.mean(a.mean), tfc.mean(a.max)];
  });
  try {
    return { mean: mean.dataSync()[0]!, max: max.dataSync()[0]! };
  } finally {
    mean.dispose();
    max.dispose();
  }
}

/** Optimizes an image for unit (layer, channel) of `target` (the model stays the caller's). */
export async function actmax(target: TapTarget, o: ActmaxOptions): Promise<ActmaxResult> {
  const settings = resolveSettings(o);
  const pre = o.preprocess ?? IDENTITY_PREPROCESS;
  const unit = resolveUnit(target, o.layer, o.channel, o.size);
  const { height, width, channels } = unit.input;
  if (settings.decorrelate && channels !== 3) {
    throw new NeurolensError('BAD_SPEC', `--decorrelate needs a 3-channel (RGB) input; layer '${o.layer}' is reached from a ${channels}-channel input`);
  }
  const datasetMax = o.datasetMax != null && o.datasetMax > 0 ? o.datasetMax : null;
  const norm = datasetMax ?? 1;

  const param = createParam(settings.param, unit.input, { rand: mulberry32(settings.seed), decorrelate: settings.decorrelate, decay: settings.decay });
  const optimizer = tfc.train.adam(settings.lr);
  const randT = mulberry32((settings.seed ^ STREAM_TRANSFORMS) >>> 0);
  const trace: [number, number][] = [];
  const every = Math.max(1, Math.floor(settings.steps / 16));
  try {
    for (let step = 0; step < settings.steps; step++) {
      const t = drawTransform(randT, settings);
      const cost = optimizer.minimize(
        () =>
          tfc.tidy(() => {
            const x = param.image();
            const act = tfc.sum(unit.activation(preprocess(applyTransform(x, t), pre, channels)).mean);
            let loss = tfc.neg(tfc.div(act, norm));
            if (settings.tv > 0) loss = tfc.add(loss, tfc.mul(totalVariation(x), settings.tv));
            if (settings.l2 > 0) loss = tfc.add(loss, tfc.mul(alphaNorm(x, settings.alpha), settings.l2));
            return loss as tfc.Scalar;
          }),
        true,
        param.vars,
      );
      if (cost && (step % every === 0 || step === settings.steps - 1)) trace.push([step, cost.dataSync()[0]!]);
      cost?.dispose();
      if (settings.blur > 0 && (step + 1) % settings.blurEvery === 0) param.blur(settings.blur);
      // Let other tasks (progress, signals) run between steps.
      if (step % 32 === 31) await new Promise((r) => setImmediate(r));
    }
    const finalImage = tfc.tidy(() => param.image());
    let image: Float32Array;
    let activation: UnitActivation;
    try {
      activation = measure(unit, finalImage, pre);
      image = finalImage.dataSync() as Float32Array;
    } finally {
      finalImage.dispose();
    }
    const randN = mulberry32((settings.seed ^ STREAM_NOISE) >>> 0);
    const noiseImage = tfc.tensor4d(Float32Array.from({ length: NOISE_SAMPLES * height * width * channels }, () => randN()), [NOISE_SAMPLES, height, width, channels]);
    let noise: UnitActivation;
    try {
      noise = measure(unit, noiseImage, pre);
    } finally {
      noiseImage.dispose();
    }
    return {
      image: Float32Array.from(image),
      height,
      width,
      channels,
      settings,
      preprocess: pre,
      layer: { name: unit.layer.name, kind: unit.layer.kind, outputShape: unit.layer.outputShape },
      channel: o.channel,
      activation,
      noise,
      datasetMax,
      normalized: datasetMax ? { mean: activation.mean / datasetMax, max: activation.max / datasetMax } : null,
      totalVariation: totalVariationOf(image, height, width, channels),
      trace,
    };
  } finally {
    optimizer.dispose();
    param.dispose();
  }
}
