/**
 * Spatiotemporal activation maximization: the clip [T, H, W, A + M] (src/video/clip-layout.ts)
 * that most excites one unit of a video network, after Feichtenhofer, Pinz, Wildes & Zisserman,
 * CVPR 2018, "What have we learned from deep representations for action recognition?" (IJCV
 * 2020, "Deep insights into convolutional networks for video recognition"), §3:
 *
 *   x* = argmax_x  a_{l,c}(x) / rho_{l,c}  -  sum over streams s of
 *                  [ lambda_alpha^s R_alpha(u_s)  +  lambda_TV^s R_ST(u_s; beta^s, kappa^s) ]
 *
 * (the form we recall of their eq. 1 with eqs. 2-3 as the regularizers; see the SOURCE NOTE in
 * actmax-clip-regularizers.ts), where a_{l,c} is the unit (mean over its (t, y, x) positions,
 * max, or the centre position), rho its maximum over the dataset (neuron_stats.max; omitted:
 * 1), u_s the values of stream s (appearance centred at grey, motion as flow), and R_ST a spatial
 * total variation (exponent beta) plus kappa times the squared temporal differences. Appearance
 * and motion have separate settings (actmax-clip-settings.ts).
 *
 *   pixel parameterization (actmax-param.ts, a [1, T*H, W, C] image reshaped to the clip)
 *     -> sigmoid in (0, 1) -> appearance: model preprocessing (v * scale - mean) / std;
 *                             motion: (2 s - 1) * B_motion, flow bounded by the motion range
 *     -> random circular shift in y, x (and optionally t) -> model -> unit
 *   Adam on the parameters; the regularizers act on the unshifted clip.
 *
 * Reproducible: the initial clip and the shifts come from mulberry32(seed) streams.
 */
import { tfc, type tfl } from '../model/tf.js';
import { redirectedRelu } from './redirected-relu.js';
import { NeurolensError } from '../errors.js';
import { mulberry32 } from '../train/prng.js';
import { IDENTITY_PREPROCESS, preprocess, type Preprocess } from './actmax-objective.js';
import { createParam } from './actmax-param.js';
import { ClipObjective, clipStreams, type ClipReduce, type ClipShape, type ClipStreams } from './actmax-clip-target.js';
import { clipAlphaNorm, meanTemporalFrequency, spatialVariation, temporalVariation, temporalVariationOf, type ChannelRange } from './actmax-clip-regularizers.js';
import { resolveClipSettings, type ClipActmaxSettings, type ClipActmaxSettingsInput, type ClipStreamRegularization } from './actmax-clip-settings.js';

export { CLIP_ACTMAX_DEFAULTS, CLIP_STREAM_DEFAULTS, type ClipActmaxSettings, type ClipActmaxSettingsInput, type ClipStreamRegularization } from './actmax-clip-settings.js';
export { actmaxTemporalSweep, slownessOf, type TemporalSweepOptions, type TemporalSweepResult } from './actmax-clip-sweep.js';

type Tensor = tfc.Tensor;

export interface ClipActmaxOptions extends ClipActmaxSettingsInput {
  layer: string;
  channel: number;
  /** How the unit's positions become the objective (default mean). */
  reduce?: ClipReduce;
  /** Appearance channels (default: guessed from C, see clipStreams). */
  appearanceChannels?: number;
  /** Appearance preprocessing of the model (default: the model sees [0, 1]). */
  preprocess?: Preprocess;
  /** The unit's max over the dataset; > 0 normalizes the objective. */
  datasetMax?: number | null;
}

export interface ClipUnitActivation {
  mean: number;
  max: number;
  centre: number;
}

/** Values of the regularizers on the final clip, per stream (null: the stream has no channels). */
export interface ClipStreamTerms {
  alphaNorm: number;
  spatial: number;
  /** Temporal part without kappa. */
  temporal: number;
  /** Mean squared frame-to-frame difference of the stream's channels of `clip` (model units). */
  frameDifference: number;
  /** Power-weighted mean temporal frequency of the stream's channels, cycles/frame (0..0.5). */
  temporalFrequency: number;
}

export interface ClipActmaxResult {
  /** The optimized clip in the model's input space [T, H, W, A + M] (the clip-layout contract). */
  clip: Float32Array;
  shape: ClipShape;
  streams: ClipStreams;
  settings: ClipActmaxSettings;
  preprocess: Preprocess;
  layer: { name: string; outputShape: (number | null)[] };
  channel: number;
  reduce: ClipReduce;
  /** The unit on the final clip (no shift). */
  activation: ClipUnitActivation;
  datasetMax: number | null;
  /** activation / datasetMax (null when not normalized). */
  normalized: ClipUnitActivation | null;
  appearance: ClipStreamTerms | null;
  motion: ClipStreamTerms | null;
  /** Loss at (up to) 17 evenly spaced steps, [step, loss]. */
  trace: [number, number][];
}

const STREAM_JITTER = 0x9e3779b9;

/** Circular shift of a clip [1, T, H, W, C] by (dt, dy, dx) (numpy.roll over axes 1, 2, 3). */
export function rollClip(x: Tensor, dt: number, dy: number, dx: number): Tensor {
  let out = x;
  [dt, dy, dx].forEach((d, i) => {
    const axis = i + 1;
    const n = x.shape[axis]!;
    const s = ((d % n) + n) % n;
    if (!s) return;
    const begin = [0, 0, 0, 0, 0];
    const size = [-1, -1, -1, -1, -1];
    const tailBegin = begin.slice();
    tailBegin[axis] = n - s;
    const tailSize = size.slice();
    tailSize[axis] = s;
    const headSize = size.slice();
    headSize[axis] = n - s;
    out = tfc.concat([tfc.slice(out, tailBegin, tailSize), tfc.slice(out, begin, headSize)], axis);
  });
  return out;
}

/** The clip being optimized: pixel parameters -> model input and the per-stream values u. */
class ClipParam {
  private readonly param;
  constructor(
    readonly shape: ClipShape,
    readonly streams: ClipStreams,
    private readonly pre: Preprocess,
    private readonly motionRange: number,
    seed: number,
  ) {
    const { frames: T, height: H, width: W, channels: C } = shape;
    this.param = createParam('pixel', { height: T * H, width: W, channels: C }, { rand: mulberry32(seed) });
  }
  get vars(): tfc.Variable[] {
    return this.param.vars;
  }
  /** Model input [1, T, H, W, C] and stream values (appearance - 0.5, flow); inside a tidy. */
  build(): { input: Tensor; appearance: Tensor | null; motion: Tensor | null } {
    const { frames: T, height: H, width: W, channels: C } = this.shape;
    const { appearance: A, motion: M } = this.streams;
    const s = tfc.reshape(this.param.image(), [1, T, H, W, C]);
    const parts: Tensor[] = [];
    let appearance: Tensor | null = null;
    let motion: Tensor | null = null;
    if (A > 0) {
      const a01 = A === C ? s : tfc.slice(s, [0, 0, 0, 0, 0], [1, T, H, W, A]);
      parts.push(preprocess(a01, this.pre, A));
      appearance = tfc.sub(a01, 0.5);
    }
    if (M > 0) {
      const m01 = M === C ? s : tfc.slice(s, [0, 0, 0, 0, A], [1, T, H, W, M]);
      motion = tfc.mul(tfc.sub(tfc.mul(m01, 2), 1), this.motionRange);
      parts.push(motion);
    }
    return { input: parts.length === 1 ? parts[0]! : tfc.concat(parts, 4), appearance, motion };
  }
  dispose(): void {
    this.param.dispose();
  }
}

function regularizer(u: Tensor, r: ClipStreamRegularization): Tensor {
  let loss: Tensor = tfc.scalar(0);
  if (r.alphaWeight > 0) loss = tfc.add(loss, tfc.mul(clipAlphaNorm(u, r.range, r.alpha), r.alphaWeight));
  if (r.tvWeight > 0) {
    const st = tfc.add(spatialVariation(u, r.range, r.beta), tfc.mul(temporalVariation(u, r.range), r.kappa));
    loss = tfc.add(loss, tfc.mul(st, r.tvWeight));
  }
  return loss;
}

function read(t: Tensor): number {
  try {
    return t.dataSync()[0]!;
  } finally {
    t.dispose();
  }
}

function streamTerms(u: Tensor | null, r: ClipStreamRegularization, clip: Float32Array, shape: ClipShape, ch: ChannelRange): ClipStreamTerms | null {
  if (!u) return null;
  return {
    alphaNorm: read(tfc.tidy(() => clipAlphaNorm(u, r.range, r.alpha))),
    spatial: read(tfc.tidy(() => spatialVariation(u, r.range, r.beta))),
    temporal: read(tfc.tidy(() => temporalVariation(u, r.range))),
    frameDifference: temporalVariationOf(clip, shape, ch),
    temporalFrequency: meanTemporalFrequency(clip, shape, ch),
  };
}

/** The unit's mean, max and centre value on one clip [1, T, H, W, C]. */
export function measureClipUnit(obj: ClipObjective, x: Tensor): ClipUnitActivation {
  const [mean, max, centre] = tfc.tidy(() => {
    const run = obj.run(x);
    const pos = obj.unitPositions(run);
    return [tfc.mean(pos), tfc.max(pos), tfc.sum(obj.unitCentre(run))];
  });
  return { mean: read(mean), max: read(max), centre: read(centre) };
}

/** Optimizes a clip for unit (layer, channel) of a clip model (the model stays the caller's). */
export async function actmaxClip(model: tfl.LayersModel, o: ClipActmaxOptions): Promise<ClipActmaxResult> {
  const settings = resolveClipSettings(o);
  const reduce = o.reduce ?? 'mean';
  const obj = ClipObjective.create(model, { kind: 'neuron', layer: o.layer, channel: o.channel, reduce });
  const shape = obj.input;
  const streams = clipStreams(shape.channels, o.appearanceChannels);
  const pre = o.preprocess ?? IDENTITY_PREPROCESS;
  if (o.datasetMax != null && !(o.datasetMax >= 0 && Number.isFinite(o.datasetMax))) {
    throw new NeurolensError('BAD_SPEC', `datasetMax must be a number >= 0, got ${o.datasetMax}`);
  }
  const datasetMax = o.datasetMax != null && o.datasetMax > 0 ? o.datasetMax : null;
  const norm = datasetMax ?? 1;

  const param = new ClipParam(shape, streams, pre, settings.motion.range, settings.seed);
  const optimizer = tfc.train.adam(settings.lr);
  const rand = mulberry32((settings.seed ^ STREAM_JITTER) >>> 0);
  const shift = (m: number) => Math.min(m, Math.floor(rand() * (2 * m + 1)) - m);
  const trace: [number, number][] = [];
  const every = Math.max(1, Math.floor(settings.steps / 16));
  try {
    for (let step = 0; step < settings.steps; step++) {
      // A fixed number of draws per step, so a seed gives the same shifts whatever the settings.
      const dt = shift(settings.jitterTime);
      const dy = shift(settings.jitter);
      const dx = shift(settings.jitter);
      const cost = optimizer.minimize(
        () =>
          tfc.tidy(() => {
            const c = param.build();
            const act = tfc.sum(obj.score(rollClip(c.input, dt, dy, dx), redirectedRelu));
            let loss = tfc.neg(tfc.div(act, norm));
            if (c.appearance) loss = tfc.add(loss, regularizer(c.appearance, settings.appearance));
            if (c.motion) loss = tfc.add(loss, regularizer(c.motion, settings.motion));
            return loss as tfc.Scalar;
          }),
        true,
        param.vars,
      );
      if (cost && (step % every === 0 || step === settings.steps - 1)) trace.push([step, cost.dataSync()[0]!]);
      cost?.dispose();
      if (step % 32 === 31) await new Promise((r) => setImmediate(r));
    }
    const { appearance: A, motion: M } = streams;
    // tidy cannot return null: absent streams come back as a placeholder scalar, disposed below.
    const final = tfc.tidy(() => {
      const c = param.build();
      return [c.input, c.appearance ?? tfc.scalar(0), c.motion ?? tfc.scalar(0)];
    });
    const [input, app, mot] = final as [Tensor, Tensor, Tensor];
    try {
      const clip = Float32Array.from(input.dataSync());
      const activation = measureClipUnit(obj, input);
      return {
        clip,
        shape,
        streams,
        settings,
        preprocess: pre,
        layer: { name: o.layer, outputShape: obj.valueShape },
        channel: o.channel,
        reduce,
        activation,
        datasetMax,
        normalized: datasetMax ? { mean: activation.mean / datasetMax, max: activation.max / datasetMax, centre: activation.centre / datasetMax } : null,
        appearance: streamTerms(A > 0 ? app : null, settings.appearance, clip, shape, { from: 0, count: A }),
        motion: streamTerms(M > 0 ? mot : null, settings.motion, clip, shape, { from: A, count: M }),
        trace,
      };
    } finally {
      for (const t of final) t.dispose();
    }
  } finally {
    optimizer.dispose();
    param.dispose();
  }
}
