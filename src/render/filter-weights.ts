/**
 * The weights of a convolution layer as filters to draw: [frames, kh, kw, in, out] float32,
 * from a LayersModel layer (Conv2D, DepthwiseConv2D, SeparableConv2D's depthwise part, Conv3D)
 * or a GraphModel conv node (or a BiasAdd / activation node right after one).
 */
import { NeurolensError } from '../errors.js';
import { closeMatches, isGraphModel, listLayers, type AnyModel } from '../model/layers.js';
import { tfl } from '../model/tf.js';

export interface FilterWeights {
  layer: string;
  kind: string;
  /** Kernel time depth (Conv3D), 1 otherwise. */
  frames: number;
  kh: number;
  kw: number;
  /** Input channels each filter has (1 for depthwise filters). */
  inChannels: number;
  filters: number;
  /** Row-major [frames, kh, kw, inChannels, filters]. */
  data: Float32Array;
}

const GRAPH_CONVS = new Set(['Conv2D', '_FusedConv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'DepthwiseConv2d', 'FusedDepthwiseConv2dNative', 'Conv3D']);
const GRAPH_PASS = new Set(['BiasAdd', 'Add', 'AddV2', 'Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Identity', 'FusedBatchNorm', 'FusedBatchNormV3']);

function notFound(model: AnyModel, layer: string): NeurolensError {
  const names = listLayers(model).map((l) => l.name);
  return new NeurolensError('NOT_FOUND', `layer '${layer}' is not in the model; did you mean: ${closeMatches(layer, names).join(', ')}?`);
}

/** Depthwise [kh, kw, in, mult] -> one single-channel filter per (in, mult), in tf's output order. */
function depthwise(layer: string, kind: string, shape: number[], values: Float32Array): FilterWeights {
  const [kh, kw, cin, mult] = shape as [number, number, number, number];
  return { layer, kind, frames: 1, kh, kw, inChannels: 1, filters: cin * mult, data: values };
}

function fromShape(layer: string, kind: string, shape: number[], values: Float32Array): FilterWeights {
  if (shape.length === 4) return { layer, kind, frames: 1, kh: shape[0]!, kw: shape[1]!, inChannels: shape[2]!, filters: shape[3]!, data: values };
  if (shape.length === 5) return { layer, kind, frames: shape[0]!, kh: shape[1]!, kw: shape[2]!, inChannels: shape[3]!, filters: shape[4]!, data: values };
  throw new NeurolensError('BAD_SPEC', `layer '${layer}' (${kind}) has a kernel of shape [${shape.join(',')}]; filters are drawn for 2-D and 3-D convolutions`);
}

function findLayer(model: tfl.LayersModel, name: string): tfl.layers.Layer | null {
  const parts = name.split('/');
  let container: tfl.LayersModel = model;
  for (let i = 0; i < parts.length; i++) {
    const hit = container.layers.find((l) => l.name === parts[i]);
    if (!hit) return null;
    if (i === parts.length - 1) return hit;
    if (!(hit instanceof tfl.LayersModel)) return null;
    container = hit;
  }
  return null;
}

/** The filters of `layer`; errors list close layer names or say why the layer has none. */
export function filterWeights(model: AnyModel, layer: string): FilterWeights {
  if (isGraphModel(model)) {
    const nodes = (model as unknown as { executor: { graph: { nodes: Record<string, { name: string; op: string; inputs: { name: string }[] }> } } }).executor.graph.nodes;
    let node = nodes[layer.replace(/:0$/, '')];
    if (!node) throw notFound(model, layer);
    for (let hops = 0; node && !GRAPH_CONVS.has(node.op) && GRAPH_PASS.has(node.op) && hops < 4; hops++) node = nodes[node.inputs[0]?.name ?? ''];
    if (!node || !GRAPH_CONVS.has(node.op)) throw new NeurolensError('BAD_SPEC', `graph node '${layer}' is not a convolution (nor right after one); its filters cannot be drawn`);
    const w = model.weights[node.inputs[1]?.name ?? '']?.[0];
    if (!w) throw new NeurolensError('BAD_MODEL', `the filter of graph node '${node.name}' is not a stored weight`);
    const values = w.dataSync() as Float32Array;
    return node.op.includes('Depthwise') ? depthwise(layer, node.op, w.shape, values) : fromShape(layer, node.op, w.shape, values);
  }
  const l = findLayer(model, layer);
  if (!l) throw notFound(model, layer);
  const kind = l.getClassName();
  const kernel = kind === 'SeparableConv2D' || kind === 'DepthwiseConv2D' ? l.weights.find((w) => /depthwise_kernel/.test(w.originalName)) : l.weights.find((w) => /(^|\/)kernel/.test(w.originalName));
  if (!kernel || !/Conv/.test(kind) || kernel.shape.length < 4) {
    throw new NeurolensError('BAD_SPEC', `layer '${layer}' (${kind}) has no convolution kernel; filters are drawn for Conv2D, DepthwiseConv2D, SeparableConv2D and Conv3D layers`);
  }
  const values = kernel.read().dataSync() as Float32Array;
  return kind === 'SeparableConv2D' || kind === 'DepthwiseConv2D' ? depthwise(layer, kind, kernel.shape as number[], values) : fromShape(layer, kind, kernel.shape as number[], values);
}
