/**
 * What the image Objective (target.ts, inputs [H, W, C]) and the ClipObjective
 * (actmax-clip-target.ts, inputs [T, H, W, C]) have in common: a checked class or neuron target
 * on a LayersModel, scored through the layer-by-layer LayerPlan (forward.ts), which is
 * rank-agnostic. Each subclass adds its own input shape check and, for clips, extra reductions.
 */
import { tfc, tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { resolveLayers, shapeText } from '../model/layers.js';
import { LayerPlan, type ReluFn, type RunOptions, type RunResult } from './forward.js';

type Tensor = tfc.Tensor;

export type ClassScore = 'prob' | 'logit';

/** A class output, or a neuron's channel reduced over its positions by one of `R`. */
export type PlanTarget<R extends string = string> =
  | { kind: 'class'; index: number; score?: ClassScore }
  | { kind: 'neuron'; layer: string; channel: number; reduce?: R };

/** The model's LayerPlan; `needs` starts the error for a GraphModel ("attribution methods need"). */
export function layerPlanOf(model: tfl.LayersModel, needs: string): LayerPlan {
  if (!(model instanceof tfl.LayersModel)) throw new NeurolensError('BAD_MODEL', `${needs} a LayersModel (a GraphModel cannot be re-run layer by layer)`);
  return LayerPlan.of(model);
}

/** The model output shape [B, classes], with class `index` checked; `what` names the target in errors ("--class"). */
export function classOutput(model: tfl.LayersModel, index: number, what: string): { classes: number; shape: (number | null)[] } {
  const out = model.outputs[0]!.shape;
  const classes = out[out.length - 1];
  if (out.length !== 2 || typeof classes !== 'number') {
    throw new NeurolensError('BAD_MODEL', `${what} needs a model output [B, classes]; this model's output is ${shapeText(out)}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= classes) {
    throw new NeurolensError('NOT_FOUND', `class ${index} is out of range: the model has ${classes} classes (0..${classes - 1})`);
  }
  return { classes, shape: out };
}

/**
 * The output shape and channels of a neuron's layer, with the channel checked; `what` names the
 * target in errors ("--neuron"). resolveLayers names close matches for a typo (NOT_FOUND) and says
 * why a layer cannot be used.
 */
export function neuronLayer(model: tfl.LayersModel, layer: string, channel: number, what: string): { channels: number; shape: (number | null)[] } {
  const [info] = resolveLayers(model, [layer]);
  if (!info || info.name !== layer) throw new NeurolensError('BAD_SPEC', `${what} needs one exact layer name, got '${layer}'`);
  const shape = info.outputShape!;
  const channels = shape[shape.length - 1];
  if (typeof channels !== 'number') throw new NeurolensError('BAD_MODEL', `layer '${layer}' has an unknown number of channels (output ${shapeText(shape)})`);
  if (!Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw new NeurolensError('NOT_FOUND', `channel ${channel} is out of range: layer '${layer}' has ${channels} channels (0..${channels - 1})`);
  }
  return { channels, shape };
}

/** A model and a target, checked, ready to score batches [B, ...input]. */
export abstract class PlanObjective<T extends PlanTarget, I> {
  protected constructor(
    readonly model: tfl.LayersModel,
    readonly plan: LayerPlan,
    readonly target: T,
    readonly input: I,
    /** Value id the score is read from (the model output, or the neuron's layer). */
    readonly valueId: number,
    /** Number of classes (class targets) or channels of the layer (neuron targets). */
    readonly size: number,
  ) {}

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

  /** Reads the per-sample score [B] from a forward run: the class output, or the unit's mean / max. */
  scoreOf(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind === 'class') {
      const out = (t.score === 'logit' ? run.logits : run.output)!;
      return tfc.reshape(tfc.slice(out, [0, t.index], [-1, 1]), [-1]);
    }
    const unit = this.unitPositions(run);
    return t.reduce === 'max' ? tfc.max(unit, 1) : tfc.mean(unit, 1);
  }

  protected runOptions(relu?: ReluFn): RunOptions {
    const logits = this.target.kind === 'class' && this.target.score === 'logit';
    // A neuron target needs the forward pass only up to its layer.
    return { relu, logits, until: this.target.kind === 'neuron' ? this.valueId : undefined };
  }

  /** Forward run for inputs x [B, ...input] (inside a tidy / gradient function). */
  run(x: Tensor, relu?: ReluFn): RunResult {
    return this.plan.run(x, this.runOptions(relu));
  }

  /** Per-sample scores [B] for inputs x [B, ...input] (inside a tidy / gradient function). */
  score(x: Tensor, relu?: ReluFn): Tensor {
    return this.scoreOf(this.run(x, relu));
  }

  /** Scores with value `id` replaced, reusing the other values of `previous` (Grad-CAM). */
  scoreResumed(previous: RunResult, id: number, replacement: Tensor, relu?: ReluFn): Tensor {
    return this.scoreOf(this.plan.resume(previous.values, id, replacement, this.runOptions(relu)));
  }
}
