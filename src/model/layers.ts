/**
 * The layers (LayersModel) or graph nodes (GraphModel) of a model, their output shapes, and the
 * resolution of user-given names and glob patterns into layers that can be tapped.
 *
 * A layer can be tapped when its output has channels: [B, C] (dense), [B, H, W, C] (image conv)
 * or [B, T, H, W, C] (video conv). Each channel is one neuron; the other axes are pooled (CS231n,
 * Network Dissection).
 */
import picomatch from 'picomatch';
import { distance } from 'fastest-levenshtein';
import { tf, tfc, tfl, tfconv } from './tf.js';
import { NeurolensError, errorMessage } from '../errors.js';

export type AnyModel = tfl.LayersModel | tfconv.GraphModel;

export interface LayerInfo {
  /** Layer name; a layer of a nested model is `outer/inner`. Graph node names as in the graph. */
  name: string;
  /** Layer class name (`Conv2D`) or graph op (`Relu`). */
  kind: string;
  /** Output shape including the batch dimension (null dims unknown); null when unknown or several outputs. */
  outputShape: (number | null)[] | null;
  tappable: boolean;
  /** Why the layer cannot be tapped (when tappable is false). */
  why?: string;
}

export interface ListOptions {
  /** Per-sample input shape (no batch) for GraphModels whose input dims are unknown (-1). */
  inputShape?: number[];
}

const TAPPABLE_RANKS = [2, 4, 5];
const INPUT_KINDS = new Set(['InputLayer', 'Placeholder']);

export function isGraphModel(model: AnyModel): model is tfconv.GraphModel {
  return model instanceof tfconv.GraphModel;
}

function isContainer(layer: tfl.layers.Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

function tappability(shape: (number | null)[] | null): Pick<LayerInfo, 'tappable' | 'why'> {
  if (shape === null) return { tappable: false, why: 'output shape unknown (several outputs, or a graph input of unknown size)' };
  if (TAPPABLE_RANKS.includes(shape.length)) return { tappable: true };
  return { tappable: false, why: `output has rank ${shape.length}; taps need [B,C], [B,H,W,C] or [B,T,H,W,C]` };
}

function info(name: string, kind: string, outputShape: (number | null)[] | null): LayerInfo {
  return { name, kind, outputShape, ...tappability(outputShape) };
}

/** Output shape of a layer, or null when it has several outputs or inconsistent inbound nodes. */
function layerShape(layer: tfl.layers.Layer): (number | null)[] | null {
  try {
    const s = layer.outputShape;
    return Array.isArray(s) && s.every((d) => d === null || typeof d === 'number') ? (s as (number | null)[]) : null;
  } catch {
    // tfjs throws when a shared layer's inbound nodes have different shapes: no single answer.
    return null;
  }
}

function layersModelInfos(model: tfl.LayersModel, prefix = ''): LayerInfo[] {
  const out: LayerInfo[] = [];
  for (const layer of model.layers) {
    out.push(info(prefix + layer.name, layer.getClassName(), layerShape(layer)));
    if (isContainer(layer)) out.push(...layersModelInfos(layer, `${prefix}${layer.name}/`));
  }
  return out;
}

/** The graph of a GraphModel. tfjs keeps it in the private executor; there is no public accessor. */
export function graphNodes(model: tfconv.GraphModel): { name: string; op: string }[] {
  const executor = (model as unknown as { executor?: { graph?: { nodes?: Record<string, { name: string; op: string }> } } }).executor;
  const nodes = executor?.graph?.nodes;
  if (!nodes) throw new NeurolensError('INTERNAL', 'GraphModel has no executor graph (tfjs-converter internals changed?)');
  return Object.values(nodes).map((n) => ({ name: n.name, op: n.op }));
}

/** Graph node kinds that are not computations over the input. */
const SKIP_OPS = new Set(['Const', 'NoOp']);

const graphShapeCache = new WeakMap<tfconv.GraphModel, Map<string, number[]>>();

/** The per-sample input shape (no batch) of a model, with null for unknown dims. */
export function modelInputShape(model: AnyModel): (number | null)[] | null {
  const inputs = model.inputs;
  if (inputs.length !== 1) return null;
  const shape = inputs[0].shape as (number | null | undefined)[] | undefined;
  if (!shape) return null;
  return shape.slice(1).map((d) => (d === null || d === undefined || d < 0 ? null : d));
}

/**
 * Output shapes of the nodes of a GraphModel, from one forward pass of a zero input with batch 1
 * (the graph has no static shape information we can trust).
 */
function graphShapes(model: tfconv.GraphModel, names: string[], opts: ListOptions): Map<string, number[]> | null {
  const cached = graphShapeCache.get(model);
  if (cached) return cached;
  const declared = modelInputShape(model);
  const sample = opts.inputShape ?? declared;
  if (!sample || sample.some((d) => d === null)) return null;
  const shapes = new Map<string, number[]>();
  tf.tidy(() => {
    let outs: tfc.Tensor[];
    try {
      const r = model.execute(tf.zeros([1, ...(sample as number[])], model.inputs[0].dtype as tfc.DataType), names);
      outs = Array.isArray(r) ? r : [r];
    } catch (e) {
      throw new NeurolensError('BAD_MODEL', `cannot run the graph once to learn its node shapes (input [1,${sample.join(',')}]): ${errorMessage(e)}`, { cause: e });
    }
    names.forEach((n, i) => shapes.set(n, outs[i].shape));
  });
  graphShapeCache.set(model, shapes);
  return shapes;
}

function graphInfos(model: tfconv.GraphModel, opts: ListOptions): LayerInfo[] {
  const nodes = graphNodes(model).filter((n) => !SKIP_OPS.has(n.op));
  const computed = nodes.filter((n) => n.op !== 'Placeholder').map((n) => n.name);
  const shapes = graphShapes(model, computed, opts);
  return nodes.map((n) => {
    if (n.op === 'Placeholder') {
      const s = modelInputShape(model);
      return info(n.name, n.op, s ? [null, ...s] : null);
    }
    const s = shapes?.get(n.name);
    // The batch dimension is the dummy batch of 1: report it as unknown, like LayersModel does.
    return info(n.name, n.op, s ? [null, ...s.slice(1)] : null);
  });
}

/** All layers (LayersModel, nested models flattened as `outer/inner`) or graph nodes (GraphModel). */
export function listLayers(model: AnyModel, opts: ListOptions = {}): LayerInfo[] {
  return isGraphModel(model) ? graphInfos(model, opts) : layersModelInfos(model);
}

/** Up to five names closest to `name` by edit distance. */
export function closeMatches(name: string, candidates: string[], n = 5): string[] {
  return candidates
    .map((c) => ({ c, d: distance(name.toLowerCase(), c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, n)
    .map((x) => x.c);
}

function shapeText(s: (number | null)[] | null): string {
  return s ? `[${s.map((d) => (d === null ? 'null' : d)).join(',')}]` : 'unknown';
}

/**
 * Layers named by `patterns`, in model order. A pattern is an exact name or a glob
 * (picomatch: `conv*`, `block_*_expand*`; `*` does not cross `/`). Globs pick only tappable
 * non-input layers; an exact name that cannot be tapped is an error that says why.
 */
export function resolveLayers(model: AnyModel, patterns: string[], opts: ListOptions = {}): LayerInfo[] {
  if (patterns.length === 0) throw new NeurolensError('BAD_SPEC', 'no layers given to tap');
  const all = listLayers(model, opts);
  const byName = new Map(all.map((l) => [l.name, l]));
  const names = all.map((l) => l.name);
  const chosen = new Set<string>();
  for (const raw of patterns) {
    // Graph tensor names may carry an output index (`conv/Relu:0`); nodes are named without it.
    const p = isGraphModel(model) ? raw.replace(/:0$/, '') : raw;
    if (picomatch.scan(p).isGlob) {
      const isMatch = picomatch(p, { dot: true });
      const hits = all.filter((l) => isMatch(l.name) && l.tappable && !INPUT_KINDS.has(l.kind));
      if (hits.length === 0) {
        throw new NeurolensError('NOT_FOUND', `layer pattern '${raw}' matches no tappable layer; close names: ${closeMatches(p, names).join(', ')}`);
      }
      for (const h of hits) chosen.add(h.name);
      continue;
    }
    const l = byName.get(p);
    if (!l) throw new NeurolensError('NOT_FOUND', `layer '${raw}' is not in the model; did you mean: ${closeMatches(p, names).join(', ')}?`);
    if (!l.tappable) throw new NeurolensError('BAD_SPEC', `layer '${raw}' (${l.kind}, output ${shapeText(l.outputShape)}) cannot be tapped: ${l.why}`);
    chosen.add(l.name);
  }
  return all.filter((l) => chosen.has(l.name));
}

export { shapeText };
