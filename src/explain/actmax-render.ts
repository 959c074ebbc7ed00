/**
 * Activation maximization end to end: model and statistics from a directory or store
 * (actmax-source.ts), optimization (actmax.ts), the picture as PNG (sharp; nearest-neighbour
 * upscaling keeps pixels sharp) and a JSON sidecar with everything needed to make it again
 * (settings, seed, preprocessing, model, backend) and the activations it reached (raw,
 * normalized by the unit's dataset max, and for seeded uniform noise).
 */
import sharp from 'sharp';
import { tfc } from '../model/tf.js';
import { actmax, type ActmaxOptions, type ActmaxResult } from './actmax.js';
import { openActmaxSource, type ActmaxSourceOptions } from './actmax-source.js';

export interface RenderActmaxOptions extends Omit<ActmaxOptions, 'preprocess' | 'datasetMax'>, Omit<ActmaxSourceOptions, 'layer' | 'channel'> {
  /** Integer nearest-neighbour upscale of the PNG (default 1). */
  upscale?: number;
}

export interface ActmaxSidecar {
  kind: 'actmax';
  layer: string;
  channel: number;
  layerKind: string;
  layerOutputShape: (number | null)[] | null;
  model: { dir: string; step: number | null; name: string | null };
  store: string | null;
  runId: string | null;
  backend: string;
  image: { height: number; width: number; channels: number; upscale: number };
  settings: ActmaxResult['settings'];
  seed: number;
  preprocess: ActmaxResult['preprocess'];
  preprocessFrom: string;
  activation: {
    /** Mean over positions (the objective) and max over positions, final image. */
    raw: { mean: number; max: number };
    /** raw / datasetMax; null when not normalized (see normalization.note). */
    normalized: { mean: number; max: number } | null;
    datasetMax: number | null;
    /** The same unit on seeded uniform [0, 1] noise. */
    noise: { mean: number; max: number };
    /** raw.mean / noise.mean (null when the noise mean is <= 0, e.g. a linear unit, where a ratio means nothing). */
    ratioToNoise: number | null;
  };
  normalization: { dataset: string | null; model: string | null; step: number | null; note: string | null };
  totalVariation: number;
  trace: [number, number][];
}

/** The image [0, 1] HWC as PNG bytes (grey for 1 channel, RGB for 3), upscaled `upscale` times. */
export async function actmaxPng(r: Pick<ActmaxResult, 'image' | 'height' | 'width' | 'channels'>, upscale = 1): Promise<Buffer> {
  if (!Number.isInteger(upscale) || upscale < 1) throw new Error(`upscale must be an integer >= 1, got ${upscale}`);
  if (r.channels !== 1 && r.channels !== 3) throw new Error(`a PNG needs 1 or 3 channels, the image has ${r.channels}`);
  const bytes = Buffer.alloc(r.image.length);
  for (let i = 0; i < r.image.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, r.image[i]!)) * 255);
  let img = sharp(bytes, { raw: { width: r.width, height: r.height, channels: r.channels } });
  if (upscale > 1) img = img.resize(r.width * upscale, r.height * upscale, { kernel: 'nearest' });
  // sharp writes RGB unless told otherwise; a grey image stays a 1-channel PNG.
  if (r.channels === 1) img = img.toColourspace('b-w');
  return img.png().toBuffer();
}

/** Loads, optimizes, encodes. The model is loaded and disposed here. */
export async function renderActmax(o: RenderActmaxOptions): Promise<{ png: Buffer; sidecar: ActmaxSidecar; result: ActmaxResult }> {
  const source = await openActmaxSource(o);
  let result: ActmaxResult;
  try {
    result = await actmax(source.loaded, {
      ...o,
      preprocess: source.preprocess,
      datasetMax: source.normalization.datasetMax,
      size: o.size ?? source.size,
    });
  } finally {
    source.loaded.model.dispose();
  }
  const upscale = o.upscale ?? 1;
  const png = await actmaxPng(result, upscale);
  const n = source.normalization;
  const sidecar: ActmaxSidecar = {
    kind: 'actmax',
    layer: result.layer.name,
    channel: result.channel,
    layerKind: result.layer.kind,
    layerOutputShape: result.layer.outputShape,
    model: source.model,
    store: o.store ?? null,
    runId: source.runId,
    backend: tfc.getBackend(),
    image: { height: result.height, width: result.width, channels: result.channels, upscale },
    settings: result.settings,
    seed: result.settings.seed,
    preprocess: result.preprocess,
    preprocessFrom: source.preprocessFrom,
    activation: {
      raw: result.activation,
      normalized: result.normalized,
      datasetMax: result.datasetMax,
      noise: result.noise,
      ratioToNoise: result.noise.mean > 0 ? result.activation.mean / result.noise.mean : null,
    },
    normalization: { dataset: n.dataset, model: n.model, step: n.step, note: n.note },
    totalVariation: result.totalVariation,
    trace: result.trace,
  };
  return { png, sidecar, result };
}
