/**
 * What an attribution explains: one scalar per input sample, built from a LayersModel.
 *
 * - class C: the model output at index C. `score: 'prob'` takes the output as it is - the
 *   softmax probability when the model ends in a softmax (Zeiler & Fergus 2014 plot the drop in
 *   the correct class' probability); `score: 'logit'` takes the input of that final softmax, the
 *   unnormalised class score (Simonyan et al. 2014, §2: "the class score S_c", not the posterior,
 *   which can grow by suppressing other classes; Selvaraju et al. 2017: "y^c before the softmax").
 *   A model without a final softmax has one score: both options take its output.
 * - neuron L:C: channel C of layer L, reduced over its spatial (and temporal) positions by `mean`
 *   (the channel objective of Olah et al. 2017; every position contributes, so gradients are
 *   dense) or `max` (the statistic neurolens stores per sample; the gradient reaches only the
 *   arg-max position). A dense layer [B, C] has one position: both are the unit's value.
 *
 * The score is computed by the layer-by-layer forward pass of forward.ts, so every method can
 * ask for ReLU replacement (guided backprop) or re-enter at a layer (Grad-CAM).
 */
import { tfc, tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { modelInputShape, resolveLayers, shapeText } from '../model/layers.js';
import { LayerPlan, type ReluFn, type RunResult } from './forward.js';

type Tensor = tfc.Tensor;

export type ClassScore = 'prob' | 'logit';
export type NeuronReduce = 'mean' | 'max';

export type Target =
  | { kind: 'class'; index: number; score?: ClassScore }
  | { kind: 'neuron'; layer: string; channel: number; reduce?: NeuronReduce };

/** Per-sample model input shape. */
export interface InputShape {
  height: number;
  width: number;
  channels: number;
}

/** `L:C` (the layer name may itself contain ':'; the last one separates the channel). */
export function parseNeuron(spec: string): { layer: string; channel: number } {
  const i = spec.lastIndexOf(':');
  const layer = i > 0 ? spec.slice(0, i) : '';
  const channel = Number(spec.slice(i + 1));
  if (!layer || i < 0 || !/^\d+$/.test(spec.slice(i + 1)) || !Number.isSafeInteger(channel)) {
    throw new NeurolensError('BAD_SPEC', `--neuron: expected LAYER:CHANNEL (e.g. conv2:5), got '${spec}'`);
  }
  return { layer, channel };
}

export function describeTarget(t: Target): string {
  return t.kind === 'class' ? `class ${t.index} (${t.score ?? 'prob'})` : `${t.layer}:${t.channel} (${t.reduce ?? 'mean'})`;
}

/** The per-sample input shape of a LayersModel with a fixed [H, W, C] image input. */
export function imageInputShape(model: tfl.LayersModel): InputShape {
  const s = modelInputShape(model);
  if (!s || s.length !== 3 || s.some((d) => d === null)) {
    throw new NeurolensError('BAD_MODEL', `attribution needs an image input [H, W, C] of known size; the model input is ${s ? shapeText(s) : 'unknown'}`);
  }
  return { height: s[0]!, width: s[1]!, channels: s[2]! };
}

/** A model and a target, checked, ready to score batches [B, H, W, C]. */
export class Objective {
  private constructor(
    readonly model: tfl.LayersModel,
    readonly plan: LayerPlan,
    readonly target: Target,
    readonly input: InputShape,
    /** Value id the score is read from (the model output, or the neuron's layer). */
    readonly valueId: number,
    /** Number of classes (class targets) or channels of the layer (neuron targets). */
    readonly size: number,
  ) {}

  static create(model: tfl.LayersModel, target: Target): Objective {
    if (!(model instanceof tfl.LayersModel)) throw new NeurolensError('BAD_MODEL', 'attribution methods need a LayersModel (a GraphModel cannot be re-run layer by layer)');
    const plan = LayerPlan.of(model);
    const input = imageInputShape(model);
    if (target.kind === 'class') {
      const out = model.outputs[0]!.shape;
      const classes = out[out.length - 1];
      if (out.length !== 2 || typeof classes !== 'number') {
        throw new NeurolensError('BAD_MODEL', `--class needs a model output [B, classes]; this model's output is ${shapeText(out)}`);
      }
      if (!Number.isInteger(target.index) || target.index < 0 || target.index >= classes) {
        throw new NeurolensError('NOT_FOUND', `class ${target.index} is out of range: the model has ${classes} classes (0..${classes - 1})`);
      }
      return new Objective(model, plan, target, input, plan.outputId, classes);
    }
    // resolveLayers names close matches for a typo (NOT_FOUND) and says why a layer cannot be used.
    const [info] = resolveLayers(model, [target.layer], { inputShape: [input.height, input.width, input.channels] });
    if (!info || info.name !== target.layer) throw new NeurolensError('BAD_SPEC', `--neuron needs one exact layer name, got '${target.layer}'`);
    const shape = info.outputShape!;
    const channels = shape[shape.length - 1];
    if (typeof channels !== 'number') throw new NeurolensError('BAD_MODEL', `layer '${target.layer}' has an unknown number of channels (output ${shapeText(shape)})`);
    if (!Number.isInteger(target.channel) || target.channel < 0 || target.channel >= channels) {
      throw new NeurolensError('NOT_FOUND', `channel ${target.channel} is out of range: layer '${target.layer}' has ${channels} channels (0..${channels - 1})`);
    }
    return new Objective(model, plan, target, input, plan.idOf(target.layer), channels);
  }

  /** Reads the per-sample score [B] from a forward run. */
  scoreOf(run: RunResult): Tensor {
    const t = this.target;
    if (t.kind === 'class') {
      const out = (t.score === 'logit' ? run.logits : run.output)!;
      return tfc.reshape(tfc.slice(out, [0, t.index], [-1, 1]), [-1]);
    }
    const v = run.values[this.valueId]!;
    const begin = new Array<number>(v.rank).fill(0);
    begin[v.rank - 1] = t.channel;
    const size = new Array<number>(v.rank).fill(-1);
    size[v.rank - 1] = 1;
    const unit = tfc.reshape(tfc.slice(v, begin, size), [v.shape[0]!, -1]);
    return t.reduce === 'max' ? tfc.max(unit, 1) : tfc.mean(unit, 1);
  }

  private runOptions(relu?: ReluFn) {
    const logits = this.target.kind === 'class' && this.target.score === 'logit';
    // A neuron target needs the forward pass only up to its layer.
    return { relu, logits, until: this.target.kind === 'neuron' ? this.valueId : undefined };
  }

  /** Forward run for inputs x [B, H, W, C] (inside a tidy / gradient function). */
  run(x: Tensor, relu?: ReluFn): RunResult {
    return this.plan.run(x, this.runOptions(relu));
  }

  /** Per-sample scores [B] for inputs x [B, H, W, C] (inside a tidy / gradient function). */
  score(x: Tensor, relu?: ReluFn): Tensor {
    return this.scoreOf(this.run(x, relu));
  }

  /** Per-sample scores [B] with no gradient to follow: intermediates are freed as the pass goes. */
  predict(x: Tensor): Tensor {
    return this.scoreOf(this.plan.run(x, { ...this.runOptions(), release: true }));
  }

  /** Scores with value `id` replaced, reusing the other values of `previous` (Grad-CAM). */
  scoreResumed(previous: RunResult, id: number, replacement: Tensor, relu?: ReluFn): Tensor {
    const o = this.runOptions(relu);
    return this.scoreOf(this.plan.resume(previous.values, id, replacement, o));
  }

  /** Checks a flat [H*W*C] input against the model input. */
  checkInput(data: Float32Array): void {
    const { height, width, channels } = this.input;
    if (data.length !== height * width * channels) {
      throw new NeurolensError('BAD_INPUT', `input has ${data.length} values; the model takes ${height}x${width}x${channels} = ${height * width * channels}`);
    }
  }
}

/**
 * Default samples per pass, from the input size: forward-only passes (occlusion) free their
 * intermediates and take up to 32 inputs of 224x224x3 / 4M values; backward passes keep every
 * activation of the batch (on the 4 GiB wasm heap MobileNetV2 fails at 16 x 224x224x3), so they
 * take 512K input values (3 at 224x224x3), at most 16.
 */
export function defaultBatch(input: InputShape, pass: 'forward' | 'gradient'): number {
  const per = input.height * input.width * input.channels;
  return pass === 'forward' ? Math.max(1, Math.min(32, Math.floor(2 ** 22 / per))) : Math.max(1, Math.min(16, Math.floor(2 ** 19 / per)));
}

/** Sums |values| of an [H, W, C] array over channels (or takes the max): one value per pixel. */
export function perPixel(values: Float32Array, hw: number, channels: number, how: 'maxabs' | 'sum' | 'sumabs'): Float32Array {
  const out = new Float32Array(hw);
  for (let p = 0; p < hw; p++) {
    let acc = 0;
    for (let c = 0; c < channels; c++) {
      const v = values[p * channels + c]!;
      if (how === 'maxabs') acc = Math.max(acc, Math.abs(v));
      else acc += how === 'sum' ? v : Math.abs(v);
    }
    out[p] = acc;
  }
  return out;
}
