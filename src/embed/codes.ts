/**
 * A layer's CNN codes read back from a store as one n x d float32 matrix (row i = the pooled
 * vector of sample `sampleIds[i]`, ascending), with labels from the `samples` table. Which
 * (dataset, model, step, layer) hold codes is read from the commit files (`commit_parts`), which
 * is cheap and lists exactly the committed shards the `codes` view shows.
 */
import { NeurolensError } from '../errors.js';
import { parsePartPath, type Store } from '../storage/index.js';
import type { Points } from './validate.js';

export interface CodeSelection {
  layer: string;
  /** Default: the latest step with codes of the layer. */
  step?: number;
  dataset?: string;
  model?: string;
}

/** One (dataset, model, step, layer) with committed codes. */
export interface CodePartition {
  dataset: string;
  model: string;
  step: number;
  layer: string;
  dim: number;
}

export interface LayerCodes extends Points {
  dataset: string;
  model: string;
  step: number;
  layer: string;
  /** Sample id of each row, ascending. */
  sampleIds: Int32Array;
  /** Class label of each row, -1 when unknown. */
  labels: Int32Array;
}

/** Every (dataset, model, step, layer) with committed codes, sorted. */
export async function listCodePartitions(store: Store): Promise<CodePartition[]> {
  const rows = await store.query<{ path: string; dim: number | null }>(`SELECT DISTINCT path, dim FROM commit_parts WHERE "table" = 'codes'`);
  const seen = new Map<string, CodePartition>();
  for (const r of rows) {
    const { partition } = parsePartPath(r.path);
    const p: CodePartition = { dataset: partition.dataset, model: partition.model!, step: partition.step!, layer: partition.layer!, dim: r.dim ?? 0 };
    seen.set(JSON.stringify([p.dataset, p.model, p.step, p.layer]), p);
  }
  return [...seen.values()].sort((a, b) => cmp(a.dataset, b.dataset) || cmp(a.model, b.model) || cmp(a.layer, b.layer) || a.step - b.step);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const uniq = (xs: string[]) => [...new Set(xs)];

/** Picks the one (dataset, model, step) of a layer's codes, or says precisely why there is none. */
export async function resolveCodes(store: Store, sel: CodeSelection): Promise<CodePartition> {
  const all = await listCodePartitions(store);
  if (all.length === 0) {
    throw new NeurolensError('NOT_FOUND', `store ${store.dir} holds no codes: list layers under 'codes:' in the pipeline spec (e.g. codes: [dense1]) and run it`);
  }
  const codeLayers = uniq(all.map((p) => p.layer));
  let parts = all.filter((p) => p.layer === sel.layer);
  if (parts.length === 0) {
    const tapped = await store.query<{ n: bigint }>(
      'SELECT count(*) AS n FROM (SELECT layer FROM neuron_stats WHERE layer = $layer UNION ALL SELECT layer FROM neuron_stats_partial WHERE layer = $layer)',
      { layer: sel.layer },
    );
    const why = Number(tapped[0]?.n ?? 0) > 0 ? `layer '${sel.layer}' has statistics but no codes` : `no layer '${sel.layer}' with codes`;
    throw new NeurolensError(
      'NOT_FOUND',
      `${why} in store ${store.dir}; layers with codes: ${codeLayers.join(', ')} (a layer gets codes when it is listed under 'codes:' in the pipeline spec)`,
    );
  }
  for (const key of ['dataset', 'model'] as const) {
    const want = sel[key];
    if (want === undefined) continue;
    const have = uniq(parts.map((p) => p[key]));
    parts = parts.filter((p) => p[key] === want);
    if (parts.length === 0) throw new NeurolensError('NOT_FOUND', `layer '${sel.layer}' has no codes for ${key} '${want}'; ${key}s with codes: ${have.join(', ')}`);
  }
  const pairs = uniq(parts.map((p) => `${p.dataset} / ${p.model}`));
  if (pairs.length > 1) {
    throw new NeurolensError('BAD_SPEC', `layer '${sel.layer}' has codes for several datasets / models (${pairs.join(', ')}): choose one with --dataset and --model`);
  }
  if (sel.step !== undefined) {
    const at = parts.find((p) => p.step === sel.step);
    if (!at) throw new NeurolensError('NOT_FOUND', `layer '${sel.layer}' has no codes at step ${sel.step}; steps with codes: ${parts.map((p) => p.step).join(', ')}`);
    return at;
  }
  return parts.reduce((a, b) => (b.step > a.step ? b : a));
}

/** Reads the codes of one layer (see resolveCodes for the defaults and errors). */
export async function readCodes(store: Store, sel: CodeSelection): Promise<LayerCodes> {
  const p = await resolveCodes(store, sel);
  const r = await store.queryColumns(
    `SELECT c.sample_id, c.code, s.label FROM codes c
     LEFT JOIN samples s ON s.dataset = c.dataset AND s.sample_id = c.sample_id
     WHERE c.dataset = $dataset AND c.model = $model AND c.step = $step AND c.layer = $layer
     ORDER BY c.sample_id`,
    { dataset: p.dataset, model: p.model, step: p.step, layer: p.layer },
  );
  const n = r.rowCount;
  const ids = r.data.sample_id as number[];
  const codes = r.data.code as (number[] | null)[];
  const labelCol = r.data.label as (number | null)[];
  const d = codes[0]?.length ?? p.dim;
  const data = new Float32Array(n * d);
  const sampleIds = new Int32Array(n);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const code = codes[i];
    if (!code || code.length !== d) {
      throw new NeurolensError('BAD_INPUT', `codes of layer '${p.layer}' step ${p.step}: sample ${ids[i]} has ${code ? code.length : 'no'} values, expected ${d}`);
    }
    // Overlapping shards (a re-run with another shard_size) would give a sample two codes.
    if (i > 0 && ids[i] === ids[i - 1]) {
      throw new NeurolensError('BAD_INPUT', `codes of layer '${p.layer}' step ${p.step}: sample ${ids[i]} appears twice (shards written with different shard sizes?)`);
    }
    data.set(code, i * d);
    sampleIds[i] = ids[i];
    labels[i] = labelCol[i] ?? -1;
  }
  return { ...p, data, n, d, sampleIds, labels };
}
