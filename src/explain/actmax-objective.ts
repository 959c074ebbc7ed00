/**
 * The objective of activation maximization: the mean activation of one channel of one layer
 * (Olah et al. 2017 "channel" objective; Erhan et al. 2009), over all positions of a
 * [1, H', W', C] map or the single value of a [1, C] layer. Also the model's input
 * preprocessing, applied to images in [0, 1] exactly as the pipeline applies it to pixels
 * (src/pipeline/spec.ts: pixel v in [0, 255] becomes (v * scale - mean[c]) / std[c]).
 */
import { tf, tfc, tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { modelInputShape, resolveLayers, shapeText, type LayerInfo } from '../model/layers.js';
import type { TapTarget } from '../model/taps.js';

type Tensor = tfc.Tensor;

export interface Preprocess {
  /** Pixel scale (the pipeline's `model.input.scale`, default 1/255). */
  scale: number;
  /** Per-channel mean (1 value or one per channel). */
  mean: number[];
  /** Per-channel std (1 value or one per channel). */
  std: number[];
}

export const IDENTITY_PREPROCESS: Preprocess = { scale: 1 / 255, mean: [0], std: [1] };

/** Model input for an image x [1, H, W, C] in [0, 1]: (255 x scale - mean) / std per channel. */
export function preprocess(x: Tensor, p: Preprocess, channels: number): Tensor {
  const per = (v: number[], what: string) => {
    if (v.length !== 1 && v.length !== channels) throw new NeurolensError('BAD_SPEC', `input ${what} has ${v.length} values, expected 1 or ${channels} (channels)`);
    return Array.from({ length: channels }, (_, c) => v[v.length === 1 ? 0 : c]!);
  };
  const mean = per(p.mean, 'mean');
  const std = per(p.std, 'std');
  if (std.some((s) => !(s > 0))) throw new NeurolensError('BAD_SPEC', `input std must be > 0, got [${std.join(',')}]`);
  const a = std.map((s) => (255 * p.scale) / s);
  const b = mean.map((m, c) => -m / std[c]!);
  return tfc.add(tfc.mul(x, tfc.tensor1d(a)), tfc.tensor1d(b));
}

/** A unit (layer, channel) of a model, ready to be evaluated on model inputs [1, H, W, C]. */
export interface Unit {
  layer: LayerInfo;
  channel: number;
  /** Input image shape (no batch). */
  input: { height: number; width: number; channels: number };
  /** The layer output [1, ..., C] for a model input (call inside a tidy). */
  layerOutput(x: Tensor): Tensor;
  /** Per sample [B]: mean of the channel over positions, and its max (call inside a tidy). */
  activation(x: Tensor): { mean: Tensor; max: Tensor };
}

/**
 * Resolves `layer` (exact name; close matches on a typo, via resolveLayers), checks `channel`,
 * and builds the forward pass to that layer: for a LayersModel a sub-model over the same layers
 * (shares the weights, like src/model/taps.ts; never disposed), for a GraphModel
 * `execute(x, node)`. `size` fixes the input when the model leaves height/width unknown.
 */
export function resolveUnit(target: TapTarget, layer: string, channel: number, size?: { height: number; width: number }): Unit {
  const { model } = target;
  if (model.inputs.length !== 1) throw new NeurolensError('BAD_MODEL', `the model has ${model.inputs.length} inputs; actmax needs one image input`);
  const declared = modelInputShape(model);
  if (!declared || declared.length !== 3) {
    throw new NeurolensError('BAD_MODEL', `actmax needs an image input [H, W, C]; the model input is ${declared ? shapeText(declared) : 'unknown'}`);
  }
  const [dh, dw, dc] = declared;
  if (dc === null) throw new NeurolensError('BAD_MODEL', 'the model input has an unknown number of channels');
  for (const [k, d] of [['height', dh], ['width', dw]] as const) {
    if (d !== null && size && size[k] !== d) throw new NeurolensError('BAD_SPEC', `--size: the model input ${k} is ${d}, not ${size[k]}`);
  }
  const height = dh ?? size?.height;
  const width = dw ?? size?.width;
  if (!height || !width) throw new NeurolensError('BAD_SPEC', `the model input is ${shapeText(declared)}: give the image size (--size HxW)`);
  const input = { height, width, channels: dc };
  const [info] = resolveLayers(model, [layer], { inputShape: [height, width, dc] });
  if (!info || info.name !== layer) throw new NeurolensError('BAD_SPEC', `actmax needs one exact layer name, got '${layer}'`);
  const shape = info.outputShape;
  const channels = shape?.[shape.length - 1];
  if (typeof channels !== 'number') throw new NeurolensError('BAD_MODEL', `layer '${layer}' has an unknown number of channels (output ${shapeText(shape)})`);
  if (!Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw new NeurolensError('NOT_FOUND', `channel ${channel} is out of range: layer '${layer}' has ${channels} channels (0..${channels - 1})`);
  }
  let layerOutput: (x: Tensor) => Tensor;
  if (target.kind === 'layers') {
    if (!target.model.layers.some((l) => l.name === layer)) {
      throw new NeurolensError('BAD_SPEC', `layer '${layer}' is inside a nested model; actmax supports top-level layers only`);
    }
    const out = target.model.getLayer(layer).getOutputAt(0);
    if (Array.isArray(out)) throw new NeurolensError('BAD_SPEC', `layer '${layer}' has several outputs`);
    const sub: tfl.LayersModel = tf.model({ inputs: target.model.inputs, outputs: out });
    layerOutput = (x) => sub.apply(x, { training: false }) as Tensor;
  } else {
    const graph = target.model;
    layerOutput = (x) => graph.execute(x, layer) as Tensor;
  }
  const activation = (x: Tensor) => {
    const out = layerOutput(x);
    const rank = out.rank;
    const begin = new Array<number>(rank).fill(0);
    begin[rank - 1] = channel;
    const size = new Array<number>(rank).fill(-1);
    size[rank - 1] = 1;
    const unit = tfc.reshape(tfc.slice(out, begin, size), [out.shape[0]!, -1]);
    return { mean: tfc.mean(unit, 1), max: tfc.max(unit, 1) };
  };
  return { layer: info, channel, input, layerOutput, activation };
}
