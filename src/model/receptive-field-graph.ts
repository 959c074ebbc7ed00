/**
 * Receptive fields of the nodes of a tfjs GraphModel, from the graph nodes' attributes (strides,
 * padding, dilations, ksize; NHWC) and the shapes of their filter weights. Output grids come from
 * the node shapes listLayers learns in one forward pass.
 */
import type { tfconv } from './tf.js';
import { listLayers, type ListOptions } from './layers.js';
import { applyShift, applyWindow, globalField, inputField, mergeFields, type Pair, type ReceptiveField } from './receptive-field-math.js';
import type { FieldWalk } from './receptive-field-layers.js';
import { NeurolensError } from '../errors.js';

interface GraphNode {
  name: string;
  op: string;
  inputs: GraphNode[];
  attrParams: Record<string, { value: unknown } | undefined>;
}

const CONV_OPS = new Set(['Conv2D', '_FusedConv2D', 'FusedConv2D', 'DepthwiseConv2d', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'Conv3D']);
const POOL_OPS = new Set(['MaxPool', 'AvgPool', 'MaxPool3D', 'AvgPool3D', 'MaxPoolWithArgmax']);
const PAD_OPS = new Set(['Pad', 'PadV2', 'MirrorPad']);
const UNSUPPORTED = new Set(['Conv2DBackpropInput', 'ResizeBilinear', 'ResizeNearestNeighbor', 'DepthToSpace', 'Dilation2D']);

function attr<T>(n: GraphNode, key: string): T | undefined {
  return n.attrParams[key]?.value as T | undefined;
}

/** [h, w] of an NHWC (4) / NDHWC (5) attribute list like strides [1, sh, sw, 1]. */
function hwAttr(v: unknown, fallback: Pair): Pair {
  if (!Array.isArray(v) || v.length < 4) return fallback;
  return [v[v.length - 3] as number, v[v.length - 2] as number];
}

function hwOf(shape: (number | null)[] | null | undefined): { hw: Pair | null; spatial: boolean } {
  if (!shape || (shape.length !== 4 && shape.length !== 5)) return { hw: null, spatial: false };
  const h = shape[shape.length - 3];
  const w = shape[shape.length - 2];
  return { hw: typeof h === 'number' && typeof w === 'number' ? [h, w] : null, spatial: true };
}

export function graphModelFields(model: tfconv.GraphModel, opts: ListOptions = {}): FieldWalk {
  const graph = (model as unknown as { executor?: { graph?: { nodes?: Record<string, GraphNode> } } }).executor?.graph;
  if (!graph?.nodes) throw new NeurolensError('INTERNAL', 'GraphModel has no executor graph (tfjs-converter internals changed?)');
  const shapes = new Map(listLayers(model, opts).map((l) => [l.name, l.outputShape]));
  const weights = model.weights;
  const result: FieldWalk = { fields: new Map(), problems: new Map() };
  // undefined: a constant (does not depend on the input); string: why it cannot be computed.
  const memo = new Map<string, ReceptiveField | string | undefined>();

  const weightShape = (n: GraphNode | undefined): number[] | null => (n && weights[n.name]?.[0]?.shape) || null;

  function compute(n: GraphNode, ins: ReceptiveField[]): ReceptiveField {
    const out = hwOf(shapes.get(n.name));
    const inp = hwOf(shapes.get(n.inputs[0]?.name ?? ''));
    if (UNSUPPORTED.has(n.op)) throw new Error(`${n.op} maps one input position to several outputs; its receptive field is not a strided box`);
    const format = attr<string>(n, 'dataFormat');
    if (format && !/^n.*c$/i.test(format)) throw new Error(`data format ${format} is not supported (NHWC only)`);
    const rf = mergeFields(ins, out.hw);
    if (rf.global) return { ...rf, output: out.hw };
    if (CONV_OPS.has(n.op) || POOL_OPS.has(n.op)) {
      let kernel: Pair;
      if (POOL_OPS.has(n.op)) kernel = hwAttr(attr(n, 'kernelSize'), [1, 1]);
      else {
        const f = weightShape(n.inputs[1]);
        if (!f) throw new Error(`filter ${n.inputs[1]?.name} is not a stored weight, its size is unknown`);
        kernel = n.op === 'Conv3D' ? [f[1]!, f[2]!] : [f[0]!, f[1]!];
      }
      const pad = String(attr(n, 'pad') ?? 'valid').toLowerCase();
      const explicit = attr<number[]>(n, 'explicitPaddings') ?? [];
      const padding = pad === 'explicit' ? ([explicit[2] ?? 0, explicit[4] ?? 0] as Pair) : pad === 'same' ? 'same' : 'valid';
      return applyWindow(rf, { kernel, stride: hwAttr(attr(n, 'strides'), [1, 1]), dilation: hwAttr(attr(n, 'dilations'), [1, 1]), padding }, inp.hw, out.hw);
    }
    if (PAD_OPS.has(n.op)) {
      const t = weights[n.inputs[1]?.name ?? '']?.[0];
      if (!t) throw new Error(`paddings ${n.inputs[1]?.name} are not a stored constant`);
      const p = Array.from(t.dataSync());
      const rank = p.length / 2;
      return applyShift(rf, [p[2 * (rank - 3)]!, p[2 * (rank - 2)]!], out.hw);
    }
    if (!out.spatial) return globalField(rf, inp.hw ?? rf.output);
    if (inp.hw && out.hw && (inp.hw[0] !== out.hw[0] || inp.hw[1] !== out.hw[1])) {
      throw new Error(`${n.op} changes the grid from ${inp.hw.join('x')} to ${out.hw.join('x')} and neurolens does not know its geometry`);
    }
    return rf;
  }

  function visit(n: GraphNode, depth = 0): ReceptiveField | string | undefined {
    if (memo.has(n.name)) return memo.get(n.name);
    if (depth > 10_000) throw new NeurolensError('BAD_MODEL', `graph too deep at node ${n.name}`);
    let value: ReceptiveField | string | undefined;
    if (n.op === 'Placeholder') value = inputField(hwOf(shapes.get(n.name)).hw);
    else if (n.op === 'Const' || weights[n.name]) value = undefined;
    else {
      const ins = n.inputs.map((i) => visit(i, depth + 1));
      const blocked = ins.find((x): x is string => typeof x === 'string');
      const fields = ins.filter((x): x is ReceptiveField => typeof x === 'object');
      if (blocked !== undefined) value = blocked.startsWith('after ') ? blocked : `after ${blocked}`;
      else if (fields.length === 0) value = undefined;
      else {
        try {
          value = compute(n, fields);
        } catch (e) {
          value = `${n.name} (${n.op}): ${e instanceof Error ? e.message : String(e)}`;
        }
      }
    }
    memo.set(n.name, value);
    if (typeof value === 'string') result.problems.set(n.name, value);
    else if (value) result.fields.set(n.name, value);
    return value;
  }

  for (const n of Object.values(graph.nodes)) visit(n);
  return result;
}
