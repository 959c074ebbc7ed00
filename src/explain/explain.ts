/**
 * One entry point over the per-image attribution methods: run a method for a target on one
 * input and draw it (what `neurolens render <method>` does, usable from code).
 *
 * Default class scores: occlusion explains the softmax probability (the drop Zeiler & Fergus
 * plot); the gradient methods explain the logit (Simonyan et al. 2014; Selvaraju et al. 2017).
 * Either can be chosen with `target.score`.
 */
import type { tfl } from '../model/tf.js';
import { gradCam, type GradCamOptions, type GradCamResult } from './gradcam.js';
import { guidedBackprop } from './guided-backprop.js';
import type { ExplainInput } from './input.js';
import { integratedGradients, type IgOptions, type IgResult } from './integrated-gradients.js';
import { occlusion, type OcclusionOptions, type OcclusionResult } from './occlusion.js';
import { renderAttribution, type MapKind, type RenderOptions, type RenderedAttribution } from './render.js';
import { saliency, type GradientResult, type SaliencyOptions } from './saliency.js';
import { Objective, describeTarget, type Target } from './target.js';

export const METHODS = ['occlusion', 'saliency', 'guided-backprop', 'gradcam', 'integrated-gradients'] as const;
export type MethodName = (typeof METHODS)[number];

export type MethodOptions =
  | ({ method: 'occlusion' } & OcclusionOptions)
  | ({ method: 'saliency' } & SaliencyOptions)
  | { method: 'guided-backprop' }
  | ({ method: 'gradcam' } & GradCamOptions)
  | ({ method: 'integrated-gradients' } & IgOptions);

export type AnyResult = OcclusionResult | GradientResult | GradCamResult | IgResult;

export interface Explanation {
  result: AnyResult;
  target: Target;
  /** The map drawn, its grid and how it is coloured. */
  map: Float32Array;
  hw: { height: number; width: number };
  kind: MapKind;
  /** JSON-able facts: method, target, scores, grid, checks. */
  summary: Record<string, unknown>;
}

/** The target with the method's default class score filled in. */
export function withDefaultScore(target: Target, method: MethodName): Target {
  if (target.kind !== 'class' || target.score) return target;
  return { ...target, score: method === 'occlusion' ? 'prob' : 'logit' };
}

export function explain(model: tfl.LayersModel, input: Pick<ExplainInput, 'data'>, targetIn: Target, o: MethodOptions): Explanation {
  const target = withDefaultScore(targetIn, o.method);
  const obj = Objective.create(model, target);
  const base = { method: o.method, target: describeTarget(target) };
  switch (o.method) {
    case 'occlusion': {
      const r = occlusion(obj, input.data, o);
      return { result: r, target, map: r.map, hw: { height: r.height, width: r.width }, kind: 'signed', summary: { ...base, score: r.score, patch: r.patch, stride: r.stride, fill: r.fill, grid: [r.gridH, r.gridW] } };
    }
    case 'saliency':
    case 'guided-backprop': {
      const r = o.method === 'saliency' ? saliency(obj, input.data, o) : guidedBackprop(obj, input.data);
      return { result: r, target, map: r.map, hw: { height: r.height, width: r.width }, kind: 'magnitude', summary: { ...base, method: r.method, score: r.score, ...(r.smooth ? { smooth: r.smooth } : {}) } };
    }
    case 'gradcam': {
      const r = gradCam(obj, input.data, o);
      return { result: r, target, map: r.map, hw: { height: r.mapH, width: r.mapW }, kind: 'magnitude', summary: { ...base, method: r.method, score: r.score, layer: r.layer, grid: [r.camH, r.camW] } };
    }
    case 'integrated-gradients': {
      const r = integratedGradients(obj, input.data, o);
      const diff = r.score - r.baselineScore;
      return {
        result: r,
        target,
        map: r.map,
        hw: { height: r.height, width: r.width },
        kind: 'signed',
        summary: { ...base, score: r.score, baselineScore: r.baselineScore, steps: r.steps, sum: r.sum, delta: r.delta, relativeDelta: diff === 0 ? null : Math.abs(r.delta / diff) },
      };
    }
  }
}

/** Draws an explanation over the input's pixels. */
export function renderExplanation(e: Explanation, input: Pick<ExplainInput, 'image'>, o: RenderOptions = {}): Promise<RenderedAttribution> {
  return renderAttribution(input.image, e.map, e.hw, e.kind, o);
}
