/**
 * Receptive fields of the layers of a tf.LayersModel, walking layer configs in topological order
 * along each layer's first inbound node (nested models are entered: `outer/inner`).
 */
import type { tfl } from './tf.js';
import { tfl as layersNs } from './tf.js';
import { applyShift, applyWindow, globalField, inputField, mergeFields, type Pair, type Padding, type ReceptiveField } from './receptive-field-math.js';
import { applyTimeWindow, globalTime, inputTime, mergeTimes, timeOf, withTime, type TimeField } from './receptive-field-time.js';

export interface FieldWalk {
  fields: Map<string, ReceptiveField>;
  /** Layers whose field cannot be computed, with the reason (and everything downstream of them). */
  problems: Map<string, string>;
}

type Shape = (number | null)[];
type Layer = tfl.layers.Layer;

interface InboundNode {
  inboundLayers: Layer[];
  inputShapes: Shape | Shape[];
}

/** Spatial [h, w] of an NHWC (rank 4) or NTHWC (rank 5) shape; null for other ranks. */
function hwOf(shape: Shape | null | undefined): { hw: Pair | null; spatial: boolean } {
  if (!shape || (shape.length !== 4 && shape.length !== 5)) return { hw: null, spatial: false };
  const h = shape[shape.length - 3];
  const w = shape[shape.length - 2];
  return { hw: typeof h === 'number' && typeof w === 'number' ? [h, w] : null, spatial: true };
}

/** Frames T of an NTHWC (rank 5) shape; undefined for other ranks, null when unknown. */
function framesOf(shape: Shape | null | undefined): number | null | undefined {
  if (!shape || shape.length !== 5) return undefined;
  return typeof shape[1] === 'number' ? shape[1] : null;
}

/** The field of a network input: rank-5 (clip) inputs also get a time axis. */
function inputFieldOf(shape: Shape | null): ReceptiveField {
  const frames = framesOf(shape);
  return withTime(inputField(hwOf(shape).hw), frames === undefined ? null : inputTime(frames));
}

function outputShape(layer: Layer): Shape | null {
  try {
    const s = layer.outputShape;
    return Array.isArray(s) && s.every((d) => d === null || typeof d === 'number') ? (s as Shape) : null;
  } catch {
    return null;
  }
}

/** First entry (time) of a 3-D kernel / pool / strides / dilation config value. */
function first(v: unknown, what: string): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v[0] as number;
  throw new Error(`unexpected ${what} ${JSON.stringify(v)}`);
}

/**
 * The temporal field of a layer (receptive-field-time.ts), given its spatial field: null when the
 * inputs have no time axis or the layer's output has none and no global field needs one.
 */
function layerTime(layer: Layer, inputs: ReceptiveField[], inShape: Shape | null, spatial: ReceptiveField): TimeField | null {
  const ins = inputs.map(timeOf);
  if (ins.length === 0 || ins.some((t) => t === null)) return null;
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const outFrames = framesOf(outputShape(layer));
  const inFrames = framesOf(inShape);
  const t = mergeTimes(ins as TimeField[], outFrames ?? null);
  if (outFrames === undefined) return globalTime(t, inFrames ?? t.output);
  if (spatial.global) return t.global ? t : globalTime(t, inFrames ?? t.output, outFrames);
  if (cls === 'Conv3D' || cls === 'MaxPooling3D' || cls === 'AveragePooling3D') {
    const pooling = cls.includes('Pooling');
    const kernel = first(pooling ? cfg.poolSize : cfg.kernelSize, 'kernel size');
    const stride = first(cfg.strides ?? (pooling ? cfg.poolSize : 1), 'strides');
    const dilation = pooling ? 1 : first(cfg.dilationRate ?? 1, 'dilation rate');
    return applyTimeWindow(t, { kernel, stride, dilation, padding: cfg.padding as 'same' | 'valid' }, inFrames ?? null, outFrames);
  }
  if (typeof inFrames === 'number' && typeof outFrames === 'number' && inFrames !== outFrames) {
    throw new Error(`${cls} changes the time axis from ${inFrames} to ${outFrames} frames and neurolens does not know its geometry`);
  }
  return t;
}

/** Last two entries of a number or list config value (2-D: [h, w]; 3-D: [t, h, w] -> [h, w]). */
function pair(v: unknown, what: string): Pair {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length >= 2 && v.every((x) => typeof x === 'number')) return [v[v.length - 2], v[v.length - 1]];
  throw new Error(`unexpected ${what} ${JSON.stringify(v)}`);
}

/** Before-padding [top, left] of a ZeroPadding2D / Cropping2D config ([[t, b], [l, r]] or shorthands). */
function beforePair(v: unknown, what: string): Pair {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    if (typeof a === 'number' && typeof b === 'number') return [a, b];
    if (Array.isArray(a) && Array.isArray(b) && typeof a[0] === 'number' && typeof b[0] === 'number') return [a[0], b[0]];
  }
  throw new Error(`unexpected ${what} ${JSON.stringify(v)}`);
}

const WINDOW_LAYERS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv3D', 'MaxPooling2D', 'AveragePooling2D', 'MaxPooling3D', 'AveragePooling3D']);
const UNSUPPORTED = new Set(['Conv2DTranspose', 'Conv3DTranspose', 'UpSampling2D', 'ConvLSTM2D']);

function spatialField(layer: Layer, inputs: ReceptiveField[], inShape: Shape | null): ReceptiveField {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  const out = hwOf(outputShape(layer));
  const inp = hwOf(inShape);
  if (cfg.dataFormat === 'channelsFirst') throw new Error(`${cls} with channelsFirst data format is not supported`);
  if (UNSUPPORTED.has(cls)) throw new Error(`${cls} maps one input position to several outputs; its receptive field is not a strided box`);
  const rf = mergeFields(inputs, out.hw);
  if (WINDOW_LAYERS.has(cls) && !rf.global) {
    const pooling = cls.includes('Pooling');
    const kernel = pair(pooling ? cfg.poolSize : cfg.kernelSize, 'kernel size');
    const stride = pair(cfg.strides ?? kernel, 'strides');
    const dilation: Pair = pooling ? [1, 1] : pair(cfg.dilationRate ?? 1, 'dilation rate');
    const padding = cfg.padding;
    if (padding !== 'same' && padding !== 'valid') throw new Error(`${cls} padding '${String(padding)}' is not supported`);
    return applyWindow(rf, { kernel, stride, dilation, padding: padding as Padding }, inp.hw, out.hw);
  }
  if ((cls === 'ZeroPadding2D' || cls === 'Cropping2D') && !rf.global) {
    const before = beforePair(cls === 'ZeroPadding2D' ? cfg.padding : cfg.cropping, cls === 'ZeroPadding2D' ? 'padding' : 'cropping');
    return applyShift(rf, cls === 'ZeroPadding2D' ? before : [-before[0], -before[1]], out.hw);
  }
  if (rf.global) return { ...rf, output: out.hw };
  if (!out.spatial) return globalField(rf, inp.hw ?? rf.output);
  if (inp.hw && out.hw && (inp.hw[0] !== out.hw[0] || inp.hw[1] !== out.hw[1])) {
    throw new Error(`${cls} changes the grid from ${inp.hw.join('x')} to ${out.hw.join('x')} and neurolens does not know its geometry`);
  }
  return rf; // per-position layers: activations, batch norm, 1x1 dense on maps, Add, Concatenate
}

function layerField(layer: Layer, inputs: ReceptiveField[], inShape: Shape | null): ReceptiveField {
  const spatial = spatialField(layer, inputs, inShape);
  return withTime(spatial, layerTime(layer, inputs, inShape, spatial));
}

function inboundOf(layer: Layer): InboundNode | null {
  const nodes = (layer as unknown as { inboundNodes?: InboundNode[] }).inboundNodes;
  return nodes && nodes.length > 0 ? nodes[0]! : null;
}

/**
 * Walks `model`, filling `known` (shared across nesting: a Sequential added to a Sequential
 * splices its inner layers into the outer graph). `seed`: the field of the model's inputs when
 * it is called as a layer. Returns the field of the model's first output layer.
 */
function walk(model: tfl.LayersModel, seed: ReceptiveField | null, prefix: string, known: Map<Layer, ReceptiveField | string>, result: FieldWalk): ReceptiveField | string {
  for (const t of model.inputs) {
    const l = (t as unknown as { sourceLayer: Layer }).sourceLayer;
    if (seed) known.set(l, seed);
    else if (!known.has(l)) known.set(l, inputFieldOf(outputShape(l)));
  }
  for (const layer of model.layers) {
    const name = prefix + layer.name;
    let value: ReceptiveField | string;
    if (layer.getClassName() === 'InputLayer' && known.has(layer)) value = known.get(layer)!;
    else {
      const node = inboundOf(layer);
      const ins = (node?.inboundLayers ?? []).map((l) => known.get(l) ?? (l.getClassName() === 'InputLayer' ? inputFieldOf(outputShape(l)) : `${l.name} not reached`));
      const blocked = ins.find((x): x is string => typeof x === 'string');
      if (blocked !== undefined) value = blocked.startsWith('after ') ? blocked : `after ${blocked}`;
      else if (layer instanceof layersNs.LayersModel) {
        value = walk(layer, ins.length > 0 ? mergeFields(ins as ReceptiveField[], null) : null, `${name}/`, known, result);
      } else if (ins.length === 0) value = 'layer has no inbound node';
      else {
        try {
          const shapes = node!.inputShapes;
          const first = Array.isArray(shapes[0]) ? (shapes[0] as Shape) : (shapes as Shape);
          value = layerField(layer, ins as ReceptiveField[], first);
        } catch (e) {
          value = `${layer.name} (${layer.getClassName()}): ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    known.set(layer, value);
    if (typeof value === 'string') result.problems.set(name, value);
    else result.fields.set(name, value);
  }
  const outLayer = (model.outputs[0] as unknown as { sourceLayer?: Layer } | undefined)?.sourceLayer;
  return (outLayer && known.get(outLayer)) ?? `model ${model.name} has no output layer`;
}

export function layersModelFields(model: tfl.LayersModel): FieldWalk {
  const result: FieldWalk = { fields: new Map(), problems: new Map() };
  walk(model, null, '', new Map(), result);
  return result;
}
