/**
 * Embedding jobs over a store: `embedLayer` (one layer's codes -> 2-D layout -> `embeddings`
 * part), used by `neurolens embed`, and `runEmbedSection`, the `embed:` section of a pipeline
 * spec, which `neurolens run` calls once after the last checkpoint is finalized (codes of every
 * checkpoint are then committed; the default embeds only the latest step, `steps: all` every
 * step the run wrote).
 *
 * Large N: with `sample` smaller than the number of codes, a stratified sample (sample.ts) is
 * embedded and the other points are placed by kNN interpolation in code space (place.ts), so
 * every sample gets coordinates.
 */
import { NeurolensError } from '../errors.js';
import type { Store } from '../storage/index.js';
import { readCodes, listCodePartitions, type CodeSelection } from './codes.js';
import { embed2d, type EmbedProgress } from './index.js';
import { placeByKnn, selectRows } from './place.js';
import { stratifiedSample } from './sample.js';
import { writeEmbedding } from './store-embedding.js';
import { EMBED_METHODS, type EmbedMethod, type EmbedSection } from './section.js';

export { EMBED_METHODS, EmbedSectionSchema, type EmbedMethod, type EmbedSection } from './section.js';

/** Neighbours used to place the points left out of a sample. */
export const PLACE_K = 10;

export interface EmbedLayerOptions extends CodeSelection {
  method: EmbedMethod;
  /** Embed a stratified sample of this many points and place the rest (default: all points). */
  sample?: number;
  /**
   * `sample` larger than the number of codes: false (CLI) = BAD_SPEC error; true (spec section,
   * whose dataset size varies with --limit) = embed every point.
   */
  sampleAtMost?: boolean;
  seed?: number;
  perplexity?: number;
  neighbors?: number;
  iterations?: number;
  onProgress?: (p: EmbedProgress) => void;
}

export interface EmbedLayerResult {
  dataset: string;
  model: string;
  step: number;
  layer: string;
  method: EmbedMethod;
  /** Points written (every sample with codes). */
  n: number;
  /** Code width. */
  d: number;
  /** Points the method embedded (the sample); the others were placed by kNN. */
  embedded: number;
  placed: number;
  params: Record<string, number | string>;
  stats: Record<string, number>;
  /** The part written, relative to the store. */
  path: string;
  seconds: number;
}

export async function embedLayer(store: Store, o: EmbedLayerOptions): Promise<EmbedLayerResult> {
  const t0 = performance.now();
  if (!(EMBED_METHODS as readonly string[]).includes(o.method)) {
    throw new NeurolensError('BAD_SPEC', `unknown embedding method '${o.method}' (use ${EMBED_METHODS.join('|')})`);
  }
  const seed = o.seed ?? 0;
  const codes = await readCodes(store, o);
  if (o.sample !== undefined && o.sample > codes.n && !o.sampleAtMost) {
    throw new NeurolensError('BAD_SPEC', `--sample ${o.sample} is larger than the ${codes.n} samples with codes of layer '${codes.layer}' at step ${codes.step}`);
  }
  const sampled = o.sample !== undefined && o.sample < codes.n ? stratifiedSample(codes.labels, o.sample, seed) : null;
  const input = sampled ? selectRows(codes, sampled) : codes;
  const emb = await embed2d(input, {
    method: o.method,
    seed,
    perplexity: o.perplexity,
    nNeighbors: o.neighbors,
    iterations: o.iterations,
    onProgress: o.onProgress,
  });
  let coords = emb.coords;
  const params: Record<string, number | string> = { ...emb.params, method: o.method, seed };
  if (sampled) {
    o.onProgress?.({ phase: 'place', done: 0, total: codes.n - sampled.length });
    const placed = placeByKnn(codes, sampled, emb.coords, PLACE_K);
    coords = placed.coords;
    Object.assign(params, { sample: sampled.length, placement: 'knn', place_k: placed.k });
    o.onProgress?.({ phase: 'place', done: codes.n - sampled.length, total: codes.n - sampled.length });
  }
  const key = { dataset: codes.dataset, model: codes.model, step: codes.step, layer: codes.layer };
  const part = await writeEmbedding(store, key, o.method, params, codes.sampleIds, coords);
  return {
    ...key,
    method: o.method,
    n: codes.n,
    d: codes.d,
    embedded: input.n,
    placed: codes.n - input.n,
    params,
    stats: emb.stats,
    path: part.path,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
  };
}

/**
 * Runs every entry of a spec's `embed:` section on `store` for the run's dataset and model.
 * `steps`: the checkpoint steps the run processed (for `steps: all`). An entry whose layer has
 * no codes fails with the same NOT_FOUND as `neurolens embed`.
 */
export async function runEmbedSection(
  store: Store,
  section: EmbedSection,
  run: { dataset: string; model: string; steps: number[] },
  onProgress?: (p: EmbedProgress, job: string) => void,
): Promise<EmbedLayerResult[]> {
  const out: EmbedLayerResult[] = [];
  if (section.length === 0) return out;
  await store.refresh();
  const available = await listCodePartitions(store);
  for (const e of section) {
    let steps: (number | undefined)[] = [undefined];
    if (e.steps === 'all') {
      const have = new Set(available.filter((p) => p.layer === e.layer && p.dataset === run.dataset && p.model === run.model).map((p) => p.step));
      steps = [...new Set(run.steps)].filter((s) => have.has(s)).sort((a, b) => a - b);
      if (steps.length === 0) steps = [undefined]; // readCodes then explains what is missing
    }
    for (const step of steps) {
      const r = await embedLayer(store, {
        layer: e.layer,
        step,
        dataset: run.dataset,
        model: run.model,
        method: e.method,
        sample: e.sample,
        sampleAtMost: true,
        seed: e.seed,
        perplexity: e.perplexity,
        neighbors: e.neighbors,
        iterations: e.iterations,
        onProgress: onProgress ? (p) => onProgress(p, `${e.method} ${e.layer}${step === undefined ? '' : ` step ${step}`}`) : undefined,
      });
      out.push(r);
    }
  }
  return out;
}

/** Where progress lines go (process.stderr, or a test's collector). */
export interface ProgressSink {
  write(chunk: string): unknown;
}

/**
 * Progress for embedding jobs: a line when a phase starts or ends and at most every 2 s in
 * between, as text (`embed tsne dense1: optimize 250/1000`) or NDJSON `{"event":"progress",...}`
 * objects (machine output keeps stdout for the result).
 */
export function embedProgressPrinter(json: boolean, err: ProgressSink = process.stderr): (p: EmbedProgress, job?: string) => void {
  let last = 0;
  let phase = '';
  return (p, job) => {
    const now = performance.now();
    const key = `${job ?? ''}/${p.phase}`;
    const edge = key !== phase || p.done === 0 || p.done >= p.total;
    if (!edge && now - last < 2000) return;
    last = now;
    phase = key;
    if (json) err.write(`${JSON.stringify({ event: 'progress', ...(job ? { job } : {}), ...p })}\n`);
    else err.write(`embed${job ? ` ${job}` : ''}: ${p.phase} ${p.done}/${p.total}\n`);
  };
}
