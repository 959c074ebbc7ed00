/**
 * Taps: one forward pass per batch that yields the outputs of the chosen layers (and the model
 * output for predictions), reduced on the backend to [B, C] statistics (see reduce.ts).
 *
 * LayersModel: one extra `tf.model` over the same layers whose outputs are the tapped tensors
 * plus the final output; it shares the weights (no copy) and is run once per batch.
 * GraphModel: `model.execute(x, [tapped nodes..., output node])`, also one pass.
 */
import { tf, tfc, tfl, tfconv } from './tf.js';
import { NeurolensError, errorMessage } from '../errors.js';
import { modelInputShape, resolveLayers, type LayerInfo } from './layers.js';
import { packStats, unpackStats, type PackedLayout, type ReducePlan, type TapResult } from './reduce.js';

export type { TapResult, CodeBatch } from './reduce.js';

/** What Tapper needs of a loaded model (io.ts' LoadedModel fits). */
export type TapTarget = { kind: 'layers'; model: tfl.LayersModel } | { kind: 'graph'; model: tfconv.GraphModel };

export interface TapOptions {
  /** Layers whose global-average-pooled vector (the mean) is kept as a CNN code. */
  codes?: string[];
  /** Also return the top-1 class and probability of the model output. */
  predictions?: boolean;
  /** Per-sample input shape (no batch), needed when the model declares unknown input dims. */
  inputShape?: number[];
}

type SymbolicTensor = tfl.SymbolicTensor;

function asList<T>(x: T | T[]): T[] {
  return Array.isArray(x) ? x : [x];
}

/**
 * Re-applies the layers of `container` to the symbolic `inputs`, descending into nested models,
 * so that layers inside a nested model get an output tensor in the outer graph (tfjs only
 * records a nested model's inner layers on the nested model's own inputs). The re-applied layers
 * share their weights with the original ones. Records every layer's output under its full name.
 */
function rewire(container: tfl.LayersModel, inputs: SymbolicTensor[], prefix: string, named: Map<string, SymbolicTensor>): SymbolicTensor[] {
  const map = new Map<SymbolicTensor, SymbolicTensor>();
  container.inputs.forEach((t, i) => map.set(t, inputs[i]));
  for (const layer of container.layers) {
    if (layer.getClassName() === 'InputLayer') {
      const out = map.get(asList(layer.getOutputAt(0))[0]);
      if (out) named.set(prefix + layer.name, out);
      continue;
    }
    const node = layer.inboundNodes.find((n) => n.inputTensors.length > 0 && n.inputTensors.every((t) => map.has(t)));
    if (!node) throw new NeurolensError('BAD_MODEL', `cannot follow the graph of '${container.name}' at layer '${layer.name}' to tap nested layers`);
    const ins = node.inputTensors.map((t) => map.get(t) as SymbolicTensor);
    const outs =
      layer instanceof tfl.LayersModel
        ? rewire(layer, ins, `${prefix}${layer.name}/`, named)
        : asList(layer.apply(ins.length === 1 ? ins[0] : ins, node.callArgs) as SymbolicTensor | SymbolicTensor[]);
    node.outputTensors.forEach((t, i) => map.set(t, outs[i]));
    if (outs.length === 1) named.set(prefix + layer.name, outs[0]);
  }
  return container.outputs.map((t) => map.get(t) as SymbolicTensor);
}

/** Symbolic outputs of the named layers of a LayersModel, plus its output. */
function layersOutputs(model: tfl.LayersModel, names: string[]): { taps: SymbolicTensor[]; final: SymbolicTensor } {
  if (!names.some((n) => n.includes('/') && !model.layers.some((l) => l.name === n))) {
    const taps = names.map((n) => {
      const out = model.getLayer(n).getOutputAt(0);
      if (Array.isArray(out)) throw new NeurolensError('BAD_SPEC', `layer '${n}' has several outputs; tap a layer with one`);
      return out;
    });
    return { taps, final: model.outputs[0] };
  }
  const named = new Map<string, SymbolicTensor>();
  const [final] = rewire(model, model.inputs, '', named);
  return { taps: names.map((n) => named.get(n) as SymbolicTensor), final };
}

/** Tapped forward pass + on-backend reduction for one model and a fixed set of layers. */
export class Tapper {
  private constructor(
    private readonly forward: (x: tfc.Tensor) => tfc.Tensor[],
    private readonly plan: ReducePlan[],
    private readonly predictions: boolean,
    /** Per-sample input shape (no batch). */
    readonly sampleShape: number[],
    /** The layers whose full statistics are computed, in model order. */
    readonly layers: LayerInfo[],
  ) {}

  static async create(loaded: TapTarget, layerNames: string[], opts: TapOptions = {}): Promise<Tapper> {
    const { model } = loaded;
    if (model.inputs.length !== 1) {
      throw new NeurolensError('BAD_MODEL', `the model has ${model.inputs.length} inputs; neurolens taps models with one image or clip input`);
    }
    const declared = modelInputShape(model);
    const sampleShape = opts.inputShape ?? declared;
    if (!sampleShape || sampleShape.some((d) => d === null)) {
      throw new NeurolensError('BAD_MODEL', `the model input shape [null,${(declared ?? []).join(',')}] has unknown dims; give the input size (preprocess height/width/channels)`);
    }
    const listOpts = { inputShape: sampleShape as number[] };
    const statsLayers = layerNames.length ? resolveLayers(model, layerNames, listOpts) : [];
    const codeLayers = opts.codes?.length ? resolveLayers(model, opts.codes, listOpts) : [];
    const statsSet = new Set(statsLayers.map((l) => l.name));
    const codeSet = new Set(codeLayers.map((l) => l.name));
    const plan: ReducePlan[] = [...statsLayers, ...codeLayers.filter((l) => !statsSet.has(l.name))].map((l) => ({
      name: l.name,
      stats: statsSet.has(l.name),
      code: codeSet.has(l.name),
    }));
    const predictions = opts.predictions ?? false;
    if (plan.length === 0 && !predictions) throw new NeurolensError('BAD_SPEC', 'nothing to tap: no layers, no codes, no predictions');
    const names = plan.map((p) => p.name);
    let forward: (x: tfc.Tensor) => tfc.Tensor[];
    if (loaded.kind === 'layers') {
      const { taps, final } = layersOutputs(loaded.model, names);
      // Deduplicate (a tapped layer may be the output layer); index back into the unique list.
      const unique = [...new Set(predictions ? [...taps, final] : taps)];
      const index = (predictions ? [...taps, final] : taps).map((t) => unique.indexOf(t));
      // Shares the layers (and weights) of the loaded model. It must never be disposed: disposing
      // it would decrement the shared layers' ref counts and free the loaded model's weights.
      const tapModel = tf.model({ inputs: loaded.model.inputs, outputs: unique });
      forward = (x) => {
        const outs = asList(tapModel.predictOnBatch(x) as tfc.Tensor | tfc.Tensor[]);
        return index.map((i) => outs[i]);
      };
    } else {
      const graph = loaded.model;
      const outNames = predictions ? [...names, graph.outputNodes[0]] : names;
      forward = (x) => asList(graph.execute(x, outNames));
    }
    return new Tapper(forward, plan, predictions, sampleShape as number[], statsLayers);
  }

  /**
   * Runs one batch. `input` is NHWC (or NTHWC) float32 of `batch` samples; `sampleIds` (length
   * batch) are copied into the stats, default 0..batch-1; `labels` (length batch, -1 unknown)
   * add the probability of the true label to the predictions.
   */
  run(input: Float32Array, batch: number, sampleIds?: Int32Array, labels: Int32Array | null = null): TapResult {
    const per = this.sampleShape.reduce((a, b) => a * b, 1);
    if (input.length !== batch * per) {
      throw new NeurolensError('INTERNAL', `tap input holds ${input.length} values; ${batch} samples of [${this.sampleShape.join(',')}] need ${batch * per}`);
    }
    const ids = sampleIds ?? Int32Array.from({ length: batch }, (_, i) => i);
    if (ids.length !== batch) throw new NeurolensError('INTERNAL', `${ids.length} sample ids for a batch of ${batch}`);
    if (labels && labels.length !== batch) throw new NeurolensError('INTERNAL', `${labels.length} labels for a batch of ${batch}`);
    let layout: PackedLayout | null = null;
    const [floats, ints] = tf.tidy(() => {
      const x = tf.tensor(input, [batch, ...this.sampleShape], 'float32');
      let outs: tfc.Tensor[];
      try {
        outs = this.forward(x);
      } catch (e) {
        throw new NeurolensError('BAD_MODEL', `forward pass on a batch of ${batch} x [${this.sampleShape.join(',')}] failed: ${errorMessage(e)}`, { cause: e });
      }
      const packed = packStats(outs.slice(0, this.plan.length), this.plan, this.predictions ? outs[this.plan.length] : null, { labels });
      layout = packed.layout;
      return packed.ints ? [packed.floats, packed.ints] : [packed.floats];
    });
    try {
      const f = floats.dataSync() as Float32Array;
      const i = ints ? (ints.dataSync() as Int32Array) : null;
      return unpackStats(f, i, layout as unknown as PackedLayout, ids);
    } finally {
      floats.dispose();
      ints?.dispose();
    }
  }

  /**
   * Releases what the Tapper owns. The loaded model stays usable (it belongs to the caller) and
   * the tap model holds no tensors of its own, so there is nothing to free on the backend.
   */
  dispose(): void {}
}
