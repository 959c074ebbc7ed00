/**
 * Query parameters of `/api/pictures/...` -> normalized picture requests, every default filled
 * in (the normalized request is part of the cache key, so `?size=224` and no size are one entry).
 * Bounds cap the work one request can ask for: a render runs for steps x model passes.
 */
import { checkKnown, intParam } from './params.js';
import { NeurolensError } from '../errors.js';
import { ACTMAX_DEFAULTS } from '../explain/actmax-settings.js';
import { METHODS, type MethodName } from '../explain/explain.js';
import { parseNeuron, type NeuronReduce } from '../explain/target.js';

const PICTURE_LIMITS = { size: 512, minSize: 8, steps: 2048, seed: 0xffffffff };
/** Longest side of the PNG box when `size` is not given (the CLI's attribution default). */
const DEFAULT_SIZE = 224;

export type PictureFormat = 'png' | 'json';

export interface ActmaxRequest {
  kind: 'actmax';
  layer: string;
  channel: number;
  step?: number;
  model?: string;
  dataset?: string;
  size: number;
  steps: number;
  seed: number;
}

export type AttributionTarget = { kind: 'class'; index: number } | { kind: 'neuron'; layer: string; channel: number; reduce: NeuronReduce } | { kind: 'predicted' };

export interface AttributionRequest {
  kind: 'attribution';
  method: MethodName;
  dataset: string;
  sample: number;
  target: AttributionTarget;
  step?: number;
  model?: string;
  size: number;
}

export type PictureRequest = ActmaxRequest | AttributionRequest;

export interface ParsedPicture {
  request: PictureRequest;
  format: PictureFormat;
  /** `cached=only`: answer from the cache or 204, never render. */
  cachedOnly: boolean;
}

function bad(what: string, message: string): never {
  throw new NeurolensError('BAD_QUERY', `${what}: ${message}`);
}

/** `<id>.png` / `<id>.json` of the last path segment. */
function fileOf(what: string, name: string, file: string): { id: number; format: PictureFormat } {
  const m = /^(\d{1,10})\.(png|json)$/.exec(file);
  if (!m) bad(what, `expected <${name}>.png or <${name}>.json (${name} a non-negative integer), got '${file}'`);
  const id = Number(m[1]);
  if (id > 2 ** 31 - 1) throw new NeurolensError('NOT_FOUND', `${what}: ${name} ${id} is out of range`);
  return { id, format: m[2] as PictureFormat };
}

function cachedOnly(what: string, v: string | undefined): boolean {
  if (v === undefined) return false;
  if (v !== 'only') bad(what, `cached must be 'only' (answer 204 when not cached), got '${v}'`);
  return true;
}

function common(what: string, q: Record<string, string>): { step?: number; model?: string; size: number } {
  const step = intParam(what, 'step', q.step, 0, Number.MAX_SAFE_INTEGER);
  const size = intParam(what, 'size', q.size, PICTURE_LIMITS.minSize, PICTURE_LIMITS.size) ?? DEFAULT_SIZE;
  return { ...(step === undefined ? {} : { step }), ...(q.model ? { model: q.model } : {}), size };
}

const ACTMAX_PARAMS = ['step', 'model', 'dataset', 'size', 'steps', 'seed', 'cached'] as const;

export function actmaxRequest(layer: string, file: string, q: Record<string, string>): ParsedPicture {
  const what = 'actmax';
  checkKnown(what, q, ACTMAX_PARAMS);
  const { id: channel, format } = fileOf(what, 'channel', file);
  if (layer === '') bad(what, 'layer must not be empty');
  const request: ActmaxRequest = {
    kind: 'actmax',
    layer,
    channel,
    ...common(what, q),
    ...(q.dataset ? { dataset: q.dataset } : {}),
    steps: intParam(what, 'steps', q.steps, 1, PICTURE_LIMITS.steps) ?? ACTMAX_DEFAULTS.steps,
    seed: intParam(what, 'seed', q.seed, 0, PICTURE_LIMITS.seed) ?? ACTMAX_DEFAULTS.seed,
  };
  return { request, format, cachedOnly: cachedOnly(what, q.cached) };
}

const ATTRIBUTION_PARAMS = ['class', 'neuron', 'reduce', 'step', 'model', 'size', 'cached'] as const;

function targetOf(what: string, q: Record<string, string>): AttributionTarget {
  if (q.class !== undefined && q.neuron !== undefined) bad(what, 'give class or neuron, not both');
  if (q.neuron === undefined && q.reduce !== undefined) bad(what, 'reduce applies to a neuron target (neuron=LAYER:CHANNEL)');
  if (q.class !== undefined) return { kind: 'class', index: intParam(what, 'class', q.class, 0, 2 ** 31 - 1) ?? bad(what, 'class must not be empty') };
  if (q.neuron === undefined) return { kind: 'predicted' };
  if (q.reduce !== undefined && q.reduce !== 'mean' && q.reduce !== 'max') bad(what, `reduce must be mean or max, got '${q.reduce}'`);
  let unit: { layer: string; channel: number };
  try {
    unit = parseNeuron(q.neuron);
  } catch (e) {
    bad(what, `neuron must be LAYER:CHANNEL (e.g. conv1:1), got '${q.neuron}' (${(e as Error).message})`);
  }
  return { kind: 'neuron', ...unit, reduce: (q.reduce as NeuronReduce | undefined) ?? 'mean' };
}

export function attributionRequest(method: string, dataset: string, file: string, q: Record<string, string>): ParsedPicture {
  const what = 'attribution';
  if (!METHODS.includes(method as MethodName)) bad(what, `unknown method '${method}' (methods: ${METHODS.join(', ')})`);
  checkKnown(what, q, ATTRIBUTION_PARAMS);
  const { id: sample, format } = fileOf(what, 'sample', file);
  const request: AttributionRequest = { kind: 'attribution', method: method as MethodName, dataset, sample, target: targetOf(what, q), ...common(what, q) };
  return { request, format, cachedOnly: cachedOnly(what, q.cached) };
}

/** `X-Neurolens-Target` value of a resolved target: `class:3`, `neuron:conv1:1:mean`. */
export function targetHeader(t: { kind: 'class'; index: number } | { kind: 'neuron'; layer: string; channel: number; reduce: NeuronReduce }): string {
  return t.kind === 'class' ? `class:${t.index}` : `neuron:${t.layer}:${t.channel}:${t.reduce}`;
}
