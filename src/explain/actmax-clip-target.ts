/**
 * What a clip picture explains: one scalar per clip [T, H, W, A + M] (src/video/clip-layout.ts),
 * from a LayersModel with a 5-D input [B, T, H, W, C]. The clip counterpart of target.ts, whose
 * Objective only accepts image inputs [H, W, C]; the forward pass is the same layer-by-layer
 * LayerPlan (forward.ts), which is rank-agnostic, so Grad-CAM can re-enter at a Conv3D layer.
 *
 * - class C: the model output at C (`prob`), or the input of its final softmax (`logit`), as in
 *   target.ts.
 * - neuron L:C: channel C of layer L ([B, T', H', W', C] for a Conv3D, or [B, C]) reduced over its
 *   (t, y, x) positions by `mean` (the channel objective, Olah et al. 2017; what Feichtenhofer et
 *   al. 2018 maximize for a feature channel), `max`, or `centre`: the single position
 *   (floor(T'/2), floor(H'/2), floor(W'/2)) (lucid's `channel` at n // 2; one unit with one
 *   receptive field, as in Feichtenhofer et al.'s visualizations of single units).
 */
import { tfc, tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { modelInputShape, resolveLayers, shapeText } from '../model/layers.js';
import { LayerPlan, type ReluFn, type RunResult } from './forward.js';
import type { ClassScore } from './target.js';

type Tensor = tfc.Tensor;

export type ClipReduce = 'mean' | 'max' | 'centre';

export type ClipTarget =
  | { kind: 'class'; index: number; score?: ClassScore }
  | { kind: 'neuron'; layer: string; channel: number; reduce?: ClipReduce };

/** Per-sample clip shape [T, H, W, C]. */
export interface ClipShape {
  frames: number;
  height: number;
  width: number;
  channels: number;
}

/** Appearance / motion channel counts of a clip (appearance channels come first). */
export interface ClipStreams {
  appearance: number;
  motion: number;
}

/** The per-sample input shape of a LayersModel with a fixed clip input [T, H, W, C]. */
export function clipInputShape(model: tfl.LayersModel): ClipShape {
  const s = modelInputShape(model);
  if (!s || s.length !== 4 || s.some((d) => d === null)) {
    throw new NeurolensError('BAD_MODEL', `clip pictures need a clip input [T, H, W, C] of known size; the model input is ${s ? shapeText(s) : 'unknown'}`);
  }
  return { frames: s[0]!, height: s[1]!, width: s[2]!, channels: s[3]! };
}

/**
 * Splits C channels into appearance + motion (clip-layout.ts: RGB or grey first, then flow u, v
 * or a frame difference). `appearance` given: checked. Otherwise guessed: 5 = RGB + flow,
 * 4 = RGB + diff, 2 = grey + diff, 1 / 3 = appearance only (3 is taken as RGB, not grey + flow:
 * pass `appearance: 1` for that layout).
 */
export function clipStreams(channels: number, appearance?: number): ClipStreams {
  if (appearance !== undefined) {
    if (!Number.isInteger(appearance) || appearance < 0 || appearance > channels) {
      throw new NeurolensError('BAD_SPEC', `appearance channels must be an integer in [0, ${channels}], got ${appearance}`);
    }
    return { appearance, motion: channels - appearance };
  }
  const guess: Record<number, number> = { 1: 1, 2: 1, 3: 3, 4: 3, 5: 3 };
  const a = guess[channels];
  if (a === undefined) throw new NeurolensError('BAD_SPEC', `cannot tell appearance from motion channels in a ${channels}-channel clip: give the number of appearance channels`);
  return { appearance: a, motion: channels - a };
}

/** The centre position of each non-batch, non-channel axis of a [B, ..., C] value. */
function centreBegin(shape: number[], channel: number): number[] {
  return shape.map((d, i) => (i === 0 ? 0 : i === shape.length - 1 ? channel : Math.floor(d / 2)));
}

/** A model and a clip target, checked, ready to score batches [B, T, H, W, C]. */
export class ClipObjective {
  private constructor(
    readonly model: tfl.LayersModel,
    readonly plan: LayerPlan,
    readonly target: ClipTarget,
    readonly input: ClipShape,
    /** Value id the score is read from (the model output, or the neuron's layer). */
    readonly valueId: number,
    /** Classes (class targets) or channels of the layer (neuron targets). */
    readonly size: number,
    /** The neuron's layer output shape (with batch), or the model output's. */
    readonly valueShape: (number | null)[],
  ) {}

  static create(model: tfl.LayersModel, target: ClipTarget): ClipObjective {
    if (!(model instanceof tfl.LayersModel)) throw new NeurolensError('BAD_MODEL', 'clip pictures need a LayersModel (a GraphModel cannot be re-run layer by layer)');
    const plan = LayerPlan.of(model);
    const input = clipInputShape(model);
    if (target.kind === 'class') {
      const out = model.outputs[0]!.shape;
      const classes = out[out.length - 1];
      if (out.length !== 2 || typeof classes !== 'number') {
        throw new NeurolensError('BAD_MODEL', `a class target needs a model output [B, classes]; this model's output is ${shapeText(out)}`);
      }
      if (!Number.isInteger(target.index) || target.index < 0 || target.index >= classes) {
        throw new NeurolensError('NOT_FOUND', `class ${target.index} is out of range: the model has ${classes} classes (0..${classes - 1})`);
      }
      return new ClipObjective(model, plan, target, input, plan.outputId, classes, out);
    }
    const reduce = target.reduce ?? 'mean';
    if (!['mean', 'max', 'centre'].includes(reduce)) throw new NeurolensError('BAD_SPEC', `neuron reduce must be mean|max|centre, got '${String(reduce)}'`);
    const [info] = resolveLayers(model, [target.layer]);
    if (!info || info.name !== target.layer) throw new NeurolensError('BAD_SPEC', `a neuron target needs one exact layer name, got '${target.layer}'`);
    const shape = info.outputShape!;
    const channels = shape[shape.length - 1];
    if (typeof channels !== 'number') throw new NeurolensError('BAD_MODEL', `layer '${target.layer}' has an unknown number of channels (output ${shapeText(shape)})`);
    if (!Number.isInteger(target.channel) || target.channel < 0 || target.channel >= channels) {
      throw new NeurolensError('NOT_FOUND', `channel ${target.channel} is out of range: layer '${target.layer}' has ${channels} channels (0..${channels - 1})`);
    }
    return new ClipObjective(model, plan, { ...target, reduce }, input, plan.idOf(target.layer), channels, shape);
  }

  /** The neuron's channel over its positions, [B, P] (neuron targets; inside a tidy). */
  unitPositions(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind !== 'neuron') throw new NeurolensError('INTERNAL', 'unitPositions needs a neuron target');
    const v = run.values[this.valueId]!;
    const begin = new Array<number>(v.rank).fill(0);
    begin[v.rank - 1] = t.channel;
    const size = new Array<number>(v.rank).fill(-1);
    size[v.rank - 1] = 1;
    return tfc.reshape(tfc.slice(v, begin, size), [v.shape[0]!, -1]);
  }

  /** The neuron at its centre position, [B] (inside a tidy). */
  unitCentre(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind !== 'neuron') throw new NeurolensError('INTERNAL', 'unitCentre needs a neuron target');
    const v = run.values[this.valueId]!;
    const size = v.shape.map((d, i) => (i === 0 ? -1 : 1));
    return tfc.reshape(tfc.slice(v, centreBegin(v.shape, t.channel), size), [v.shape[0]!]);
  }

  /** Reads the per-sample score [B] from a forward run. */
  scoreOf(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind === 'class') {
      const out = (t.score === 'logit' ? run.logits : run.output)!;
      return tfc.reshape(tfc.slice(out, [0, t.index], [-1, 1]), [-1]);
    }
    if (t.reduce === 'centre') return this.unitCentre(run);
    const unit = this.unitPositions(run);
    return t.reduce === 'max' ? tfc.max(unit, 1) : tfc.mean(unit, 1);
  }

  private runOptions(relu?: ReluFn) {
    const logits = this.target.kind === 'class' && this.target.score === 'logit';
    return { relu, logits, until: this.target.kind === 'neuron' ? this.valueId : undefined };
  }

  /** Forward run for clips x [B, T, H, W, C] (inside a tidy / gradient function). */
  run(x: Tensor, relu?: ReluFn): RunResult {
    return this.plan.run(x, this.runOptions(relu));
  }

  /** Per-sample scores [B] (inside a tidy / gradient function). */
  score(x: Tensor, relu?: ReluFn): Tensor {
    return this.scoreOf(this.run(x, relu));
  }

  /** Scores with value `id` replaced, reusing the other values of `previous` (Grad-CAM). */
  scoreResumed(previous: RunResult, id: number, replacement: Tensor): Tensor {
    return this.scoreOf(this.plan.resume(previous.values, id, replacement, this.runOptions()));
  }

  /** Checks a flat [T*H*W*C] clip against the model input. */
  checkClip(data: Float32Array): void {
    const { frames, height, width, channels } = this.input;
    const n = frames * height * width * channels;
    if (data.length !== n) throw new NeurolensError('BAD_INPUT', `clip has ${data.length} values; the model takes ${frames}x${height}x${width}x${channels} = ${n}`);
  }
}
