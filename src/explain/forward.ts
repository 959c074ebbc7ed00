/**
 * The forward pass of a LayersModel, re-run layer by layer (eagerly, so tf.grad records it), with
 * the hooks the attribution methods need and a plain `model.apply` cannot give:
 *
 * - ReLU replacement (guided backprop): every ReLU-family activation - a `ReLU` layer (with its
 *   `maxValue`, MobileNetV2's ReLU6), an `Activation('relu'|'relu6')` layer, or the activation
 *   fused into a Conv/Dense layer - is computed by a caller-given function instead. A fused
 *   activation is separated by calling the layer with its activation swapped for the identity
 *   for the duration of that one synchronous call (no await in between, so nothing else in the
 *   process can observe the swap), then applying the replacement to the pre-activation.
 *   Nothing global is patched: other code running tfjs in the same process is unaffected.
 * - Logits: when the model's output layer ends in a softmax (fused, `Activation('softmax')` or a
 *   `Softmax` layer), its input is returned too.
 * - Re-entry at a layer (Grad-CAM): `resume` re-runs only the steps downstream of one value,
 *   with that value replaced, reusing every other value of a previous run; gradients w.r.t. the
 *   replacement are then d score / d A for the layer's activations A.
 *
 * Nested models are flattened into one list of steps (the idea of src/model/taps.ts' rewire):
 * a layer of a nested model is named `outer/inner`. Values are held by integer id.
 */
import { tfc, tfl } from '../model/tf.js';
import { NeurolensError } from '../errors.js';

type Tensor = tfc.Tensor;
type SymbolicTensor = tfl.SymbolicTensor;
type Layer = tfl.layers.Layer;

/** Computes a ReLU-family activation: relu(x), or min(relu(x), maxValue) when maxValue is set. */
export type ReluFn = (x: Tensor, maxValue: number | null) => Tensor;

export interface Step {
  /** Layer name; `outer/inner` inside nested models. */
  name: string;
  kind: string;
  layer: Layer;
  inputs: number[];
  outputs: number[];
  kwargs: Record<string, unknown>;
}

interface ActivationLike {
  getClassName(): string;
  apply(x: Tensor): Tensor;
}

const IDENTITY: ActivationLike = { getClassName: () => 'linear', apply: (x) => x };

function asList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

function activationOf(layer: Layer): ActivationLike | null {
  const a = (layer as unknown as { activation?: ActivationLike | null }).activation;
  return a && typeof a.getClassName === 'function' ? a : null;
}

/** Calls the layer with its activation replaced by the identity (see the file comment). */
function callLinear(layer: Layer, ins: Tensor[], kwargs: Record<string, unknown>): Tensor {
  const holder = layer as unknown as { activation: ActivationLike };
  const saved = holder.activation;
  holder.activation = IDENTITY;
  try {
    return layer.apply(ins.length === 1 ? ins[0]! : ins, kwargs) as Tensor;
  } finally {
    holder.activation = saved;
  }
}

/** The ReLU family member a step computes at its end, or null. */
function reluOf(step: Step): { maxValue: number | null; fused: boolean } | null {
  if (step.kind === 'ReLU') {
    const max = (step.layer as unknown as { maxValue?: number | null }).maxValue;
    return { maxValue: typeof max === 'number' ? max : null, fused: false };
  }
  const act = activationOf(step.layer)?.getClassName();
  if (act === 'relu') return { maxValue: null, fused: true };
  if (act === 'relu6') return { maxValue: 6, fused: true };
  return null;
}

function softmaxAtEnd(step: Step): 'fused' | 'input' | null {
  if (step.kind === 'Softmax') return 'input';
  if (activationOf(step.layer)?.getClassName() === 'softmax') return step.kind === 'Activation' ? 'input' : 'fused';
  return null;
}

export interface RunOptions {
  /** Replaces every ReLU-family activation (guided backprop). */
  relu?: ReluFn;
  /** Also compute the pre-softmax output (null when the model does not end in a softmax). */
  logits?: boolean;
  /** Stop after the step that produces this value id. */
  until?: number;
  /**
   * Dispose each intermediate value after its last use (forward-only scoring: keeps memory at a
   * few activations instead of all of them). Never inside a gradient function: the backward
   * pass needs them.
   */
  release?: boolean;
}

export interface RunResult {
  /** Values by id (entries of steps not run are undefined). */
  values: (Tensor | undefined)[];
  /** The model output (undefined when the run stopped early, `until`). */
  output: Tensor | undefined;
  logits: Tensor | null;
}

export class LayerPlan {
  private constructor(
    readonly model: tfl.LayersModel,
    readonly steps: Step[],
    readonly inputId: number,
    readonly outputId: number,
    /** Value id of each named layer's (single) output. */
    readonly valueOf: Map<string, number>,
    /** Index of the last step reading each value id (the output step's inputs: never released). */
    private readonly lastUse: Map<number, number>,
  ) {}

  private static cache = new WeakMap<tfl.LayersModel, LayerPlan>();

  static of(model: tfl.LayersModel): LayerPlan {
    const hit = LayerPlan.cache.get(model);
    if (hit) return hit;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new NeurolensError('BAD_MODEL', `attribution needs a model with one input and one output; '${model.name}' has ${model.inputs.length} and ${model.outputs.length}`);
    }
    const steps: Step[] = [];
    const valueOf = new Map<string, number>();
    let next = 0;
    const plan = (container: tfl.LayersModel, inputIds: number[], prefix: string): number[] => {
      const ids = new Map<SymbolicTensor, number>();
      container.inputs.forEach((t, i) => ids.set(t, inputIds[i]!));
      for (const layer of container.layers) {
        if (layer.getClassName() === 'InputLayer') {
          const id = ids.get(asList(layer.getOutputAt(0))[0]!);
          if (id !== undefined) valueOf.set(prefix + layer.name, id);
          continue;
        }
        const node = layer.inboundNodes.find((n) => n.inputTensors.length > 0 && n.inputTensors.every((t) => ids.has(t)));
        if (!node) throw new NeurolensError('BAD_MODEL', `cannot follow the graph of '${container.name}' at layer '${layer.name}'`);
        const ins = node.inputTensors.map((t) => ids.get(t)!);
        let outs: number[];
        if (layer instanceof tfl.LayersModel) {
          outs = plan(layer, ins, `${prefix}${layer.name}/`);
        } else {
          outs = node.outputTensors.map(() => next++);
          steps.push({ name: prefix + layer.name, kind: layer.getClassName(), layer, inputs: ins, outputs: outs, kwargs: (node.callArgs ?? {}) as Record<string, unknown> });
        }
        node.outputTensors.forEach((t, i) => ids.set(t, outs[i]!));
        if (outs.length === 1) valueOf.set(prefix + layer.name, outs[0]!);
      }
      return container.outputs.map((t) => ids.get(t)!);
    };
    const inputId = next++;
    const [outputId] = plan(model, [inputId], '');
    const lastUse = new Map<number, number>();
    steps.forEach((st, i) => st.inputs.forEach((id) => lastUse.set(id, i)));
    // The output step's inputs may be returned as logits.
    for (const st of steps) if (st.outputs.includes(outputId!)) for (const id of st.inputs) lastUse.set(id, Infinity);
    const p = new LayerPlan(model, steps, inputId, outputId!, valueOf, lastUse);
    LayerPlan.cache.set(model, p);
    return p;
  }

  /** The value id of a layer's output (exact name, as listLayers names it). */
  idOf(layer: string): number {
    const id = this.valueOf.get(layer);
    if (id === undefined) throw new NeurolensError('NOT_FOUND', `layer '${layer}' has no single output in the model`);
    return id;
  }

  private exec(step: Step, values: (Tensor | undefined)[], o: RunOptions): { outs: Tensor[]; logits: Tensor | null } {
    const ins = step.inputs.map((id) => {
      const v = values[id];
      if (!v) throw new NeurolensError('INTERNAL', `layer '${step.name}': input value ${id} not computed`);
      return v;
    });
    const relu = o.relu ? reluOf(step) : null;
    if (relu && o.relu) {
      const pre = relu.fused ? callLinear(step.layer, ins, step.kwargs) : ins[0]!;
      return { outs: [o.relu(pre, relu.maxValue)], logits: null };
    }
    const isOutput = step.outputs.length === 1 && step.outputs[0] === this.outputId;
    const soft = o.logits && isOutput ? softmaxAtEnd(step) : null;
    if (soft === 'input') return { outs: [step.layer.apply(ins[0]!, step.kwargs) as Tensor], logits: ins[0]! };
    if (soft === 'fused') {
      const pre = callLinear(step.layer, ins, step.kwargs);
      return { outs: [activationOf(step.layer)!.apply(pre)], logits: pre };
    }
    return { outs: asList(step.layer.apply(ins.length === 1 ? ins[0]! : ins, step.kwargs) as Tensor | Tensor[]), logits: null };
  }

  /** Runs the model on x (call inside tf.tidy / tf.grad). */
  run(x: Tensor, o: RunOptions = {}): RunResult {
    const values: (Tensor | undefined)[] = [];
    values[this.inputId] = x;
    let logits: Tensor | null = null;
    // Slots holding each tensor: a layer may return its input (Dropout in inference), so a
    // tensor is disposed only when no live slot holds it any more.
    const holders = new Map<Tensor, number>([[x, 1]]);
    for (const [i, step] of this.steps.entries()) {
      const r = this.exec(step, values, o);
      step.outputs.forEach((id, k) => {
        values[id] = r.outs[k];
        if (o.release) holders.set(r.outs[k]!, (holders.get(r.outs[k]!) ?? 0) + 1);
      });
      if (r.logits) logits = r.logits;
      if (o.until !== undefined && step.outputs.includes(o.until)) break;
      if (o.release) {
        for (const id of new Set(step.inputs)) {
          const t = values[id];
          if (!t || id === this.inputId || this.lastUse.get(id) !== i) continue;
          values[id] = undefined;
          const left = (holders.get(t) ?? 1) - 1;
          holders.set(t, left);
          if (left === 0 && t !== logits) t.dispose();
        }
      }
    }
    const output = values[this.outputId];
    return { values, output, logits: o.logits ? (logits ?? output ?? null) : null };
  }

  /**
   * Re-runs only the steps downstream of value `id`, with `replacement` in its place; every
   * other value comes from `previous` (a full run on the same input).
   */
  resume(previous: (Tensor | undefined)[], id: number, replacement: Tensor, o: RunOptions = {}): RunResult {
    const values = previous.slice();
    values[id] = replacement;
    const live = new Set<number>([id]);
    let logits: Tensor | null = null;
    for (const step of this.steps) {
      if (!step.inputs.some((i) => live.has(i))) continue;
      const r = this.exec(step, values, o);
      step.outputs.forEach((out, i) => {
        values[out] = r.outs[i];
        live.add(out);
      });
      if (r.logits) logits = r.logits;
      if (o.until !== undefined && live.has(o.until)) break;
    }
    const wanted = o.until ?? this.outputId;
    if (!live.has(wanted)) {
      throw new NeurolensError('BAD_SPEC', `the score does not depend on the chosen layer (it is not upstream of what is explained)`);
    }
    const output = values[this.outputId];
    return { values, output, logits: o.logits ? (logits ?? output ?? null) : null };
  }

  /** Whether value `to` depends on value `from` (is downstream of it). */
  dependsOn(to: number, from: number): boolean {
    if (to === from) return true;
    const live = new Set<number>([from]);
    for (const step of this.steps) {
      if (step.inputs.some((i) => live.has(i))) for (const o of step.outputs) live.add(o);
    }
    return live.has(to);
  }
}
