/**
 * What a clip picture explains: one scalar per clip [T, H, W, A + M] (src/video/clip-layout.ts),
 * from a LayersModel with a 5-D input [B, T, H, W, C]. The clip counterpart of target.ts, whose
 * Objective only accepts image inputs [H, W, C]; both are PlanObjectives (plan-objective.ts): the
 * same layer-by-layer LayerPlan (forward.ts), which is rank-agnostic, so Grad-CAM can re-enter at
 * a Conv3D layer.
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
import { modelInputShape, shapeText } from '../model/layers.js';
import type { LayerPlan, RunResult } from './forward.js';
import { PlanObjective, classOutput, layerPlanOf, neuronLayer, type PlanTarget } from './plan-objective.js';

type Tensor = tfc.Tensor;

export type ClipReduce = 'mean' | 'max' | 'centre';

export type ClipTarget = PlanTarget<ClipReduce>;

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
export class ClipObjective extends PlanObjective<ClipTarget, ClipShape> {
  private constructor(
    model: tfl.LayersModel,
    plan: LayerPlan,
    target: ClipTarget,
    input: ClipShape,
    valueId: number,
    size: number,
    /** The neuron's layer output shape (with batch), or the model output's. */
    readonly valueShape: (number | null)[],
  ) {
    super(model, plan, target, input, valueId, size);
  }

  static create(model: tfl.LayersModel, target: ClipTarget): ClipObjective {
    const plan = layerPlanOf(model, 'clip pictures need');
    const input = clipInputShape(model);
    if (target.kind === 'class') {
      const { classes, shape } = classOutput(model, target.index, 'a class target');
      return new ClipObjective(model, plan, target, input, plan.outputId, classes, shape);
    }
    const reduce = target.reduce ?? 'mean';
    if (!['mean', 'max', 'centre'].includes(reduce)) throw new NeurolensError('BAD_SPEC', `neuron reduce must be mean|max|centre, got '${String(reduce)}'`);
    const { channels, shape } = neuronLayer(model, target.layer, target.channel, 'a neuron target');
    return new ClipObjective(model, plan, { ...target, reduce }, input, plan.idOf(target.layer), channels, shape);
  }

  /** The neuron at its centre position, [B] (inside a tidy). */
  unitCentre(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind !== 'neuron') throw new NeurolensError('INTERNAL', 'unitCentre needs a neuron target');
    const v = run.values[this.valueId]!;
    const size = v.shape.map((d, i) => (i === 0 ? -1 : 1));
    return tfc.reshape(tfc.slice(v, centreBegin(v.shape, t.channel), size), [v.shape[0]!]);
  }

  /** Reads the per-sample score [B] from a forward run (`centre`: the unit at its centre position). */
  override scoreOf(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind === 'neuron' && t.reduce === 'centre') return this.unitCentre(run);
    return super.scoreOf(run);
  }

  /** Checks a flat [T*H*W*C] clip against the model input. */
  checkClip(data: Float32Array): void {
    const { frames, height, width, channels } = this.input;
    const n = frames * height * width * channels;
    if (data.length !== n) throw new NeurolensError('BAD_INPUT', `clip has ${data.length} values; the model takes ${frames}x${height}x${width}x${channels} = ${n}`);
  }
}
