/**
 * The full output of one layer for one input (renders of a few samples download whole maps;
 * the pipeline only downloads [B, C] statistics). LayersModel: a sub-model over the same layers
 * (shares the weights; never disposed, as in src/model/taps.ts); GraphModel: execute(x, node).
 */
import { NeurolensError } from '../errors.js';
import { isGraphModel, resolveLayers, shapeText, type AnyModel } from '../model/layers.js';
import { tf, type tfc } from '../model/tf.js';

export interface LayerMaps {
  layer: string;
  kind: string;
  height: number;
  width: number;
  channels: number;
  /** [H, W, C] row-major (NHWC without the batch). */
  data: Float32Array;
}

/** Output of `layer` for the input [1, H, W, C]; the layer must have spatial maps [B, H', W', C]. */
export function layerMaps(model: AnyModel, layer: string, input: Float32Array, inputShape: [number, number, number]): LayerMaps {
  const [info] = resolveLayers(model, [layer], { inputShape });
  if (!info || info.name !== layer.replace(/:0$/, '')) throw new NeurolensError('BAD_SPEC', `give one exact layer name, got '${layer}'`);
  const shape = info.outputShape;
  if (!shape || shape.length !== 4) {
    throw new NeurolensError('BAD_SPEC', `layer '${info.name}' (${info.kind}) has no spatial maps: its output is ${shapeText(shape)}; activation maps need a [B, H, W, C] layer`);
  }
  let run: (x: tfc.Tensor) => tfc.Tensor;
  if (isGraphModel(model)) run = (x) => model.execute(x, info.name) as tfc.Tensor;
  else {
    if (!model.layers.some((l) => l.name === info.name)) throw new NeurolensError('BAD_SPEC', `layer '${info.name}' is inside a nested model; activation maps support top-level layers`);
    const out = model.getLayer(info.name).getOutputAt(0);
    if (Array.isArray(out)) throw new NeurolensError('BAD_SPEC', `layer '${info.name}' has several outputs`);
    const sub = tf.model({ inputs: model.inputs, outputs: out });
    run = (x) => sub.predict(x) as tfc.Tensor;
  }
  const result = tf.tidy(() => run(tf.tensor4d(input, [1, ...inputShape])));
  try {
    const [, height, width, channels] = result.shape as number[];
    return { layer: info.name, kind: info.kind, height: height!, width: width!, channels: channels!, data: (result.dataSync() as Float32Array).slice() };
  } finally {
    result.dispose();
  }
}
