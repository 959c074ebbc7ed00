/**
 * Receptive fields of every layer of a model, computed from the model graph: for each layer, the
 * box of input pixels one output position sees (size), how far the box moves per output step
 * (jump) and where the box of position (0, 0) starts (negative: it reaches into the padding).
 * The recurrence and box helpers live in receptive-field-math.ts; LayersModels are walked through
 * their layer configs (receptive-field-layers.ts), GraphModels through node attributes
 * (receptive-field-graph.ts).
 *
 * Known answers (test/receptive-field.test.ts): VGG16 conv5_3 sees 196 x 196 pixels with jump 16
 * (Simonyan & Zisserman 2015; Araujo et al., Distill 2019, list 212 for vgg_16 at pool5), MobileNetV2
 * Conv_1 491 with jump 32 (Distill 2019, mobilenet_v2). The "theoretical" receptive field: the
 * effective one (Luo et al. 2016) is smaller, concentrated at its centre.
 */
import { NeurolensError } from '../errors.js';
import { closeMatches, isGraphModel, type AnyModel, type ListOptions } from './layers.js';
import { graphModelFields } from './receptive-field-graph.js';
import { layersModelFields, type FieldWalk } from './receptive-field-layers.js';
import type { ReceptiveField } from './receptive-field-math.js';

export { rfBox, type ReceptiveField, type RfBox, type Pair } from './receptive-field-math.js';
export type { FieldWalk } from './receptive-field-layers.js';

/** Per model, per input shape (GraphModel grids depend on it). */
const cache = new WeakMap<object, Map<string, FieldWalk>>();

/**
 * Fields of all layers whose field can be computed, plus the reason for those that cannot
 * (transposed convs, upsampling, unknown grid-changing layers, and everything after them).
 */
export function computeReceptiveFields(model: AnyModel, opts: ListOptions = {}): FieldWalk {
  const key = JSON.stringify(opts.inputShape ?? null);
  const perModel = cache.get(model) ?? new Map<string, FieldWalk>();
  cache.set(model, perModel);
  const hit = perModel.get(key);
  if (hit) return hit;
  const r = isGraphModel(model) ? graphModelFields(model, opts) : layersModelFields(model);
  perModel.set(key, r);
  return r;
}

/** Receptive field of every layer (name -> field) whose field can be computed. */
export function receptiveFields(model: AnyModel, opts: ListOptions = {}): Map<string, ReceptiveField> {
  return computeReceptiveFields(model, opts).fields;
}

/** The receptive field of one layer; errors name close layer names or say why it is not computable. */
export function receptiveField(model: AnyModel, layer: string, opts: ListOptions = {}): ReceptiveField {
  const { fields, problems } = computeReceptiveFields(model, opts);
  const name = isGraphModel(model) ? layer.replace(/:0$/, '') : layer;
  const f = fields.get(name);
  if (f) return f;
  const why = problems.get(name);
  if (why) throw new NeurolensError('BAD_MODEL', `cannot compute the receptive field of layer '${layer}': ${why}`);
  const names = [...fields.keys(), ...problems.keys()];
  throw new NeurolensError('NOT_FOUND', `layer '${layer}' is not in the model; did you mean: ${closeMatches(name, names).join(', ')}?`);
}
