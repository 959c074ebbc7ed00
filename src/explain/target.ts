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
import { modelInputShape, shapeText } from '../model/layers.js';
import { PlanObjective, classOutput, layerPlanOf, neuronLayer, type PlanTarget } from './plan-objective.js';

export type { ClassScore } from './plan-objective.js';

type Tensor = tfc.Tensor;

export type NeuronReduce = 'mean' | 'max';

export type Target = PlanTarget<NeuronReduce>;

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
export class Objective extends PlanObjective<Target, InputShape> {
  static create(model: tfl.LayersModel, target: Target): Objective {
    const plan = layerPlanOf(model, 'attribution methods need');
    const input = imageInputShape(model);
    if (target.kind === 'class') {
      const { classes } = classOutput(model, target.index, '--class');
      return new Objective(model, plan, target, input, plan.outputId, classes);
    }
    const { channels } = neuronLayer(model, target.layer, target.channel, '--neuron');
    return new Objective(model, plan, target, input, plan.idOf(target.layer), channels);
  }

  /** Per-sample scores [B] with no gradient to follow: intermediates are freed as the pass goes. */
  predict(x: Tensor): Tensor {
    return this.scoreOf(this.plan.run(x, { ...this.runOptions(), release: true }));
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
