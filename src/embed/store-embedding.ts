/**
 * Writes a 2-D layout as a part of the `embeddings` table (method, params, sample_id, x, y;
 * partitioned by dataset/model/step/layer). One file per method in the partition,
 * `<method>.parquet`, written atomically (temporary name, fsync, rename: storage/parts.ts), so a
 * re-run of the same method replaces its rows and never duplicates them, while a t-SNE and a
 * UMAP layout of the same codes live side by side. The views glob `*.parquet` in the partition;
 * Store.refresh() makes the table visible when it gets its first file.
 */
import { NeurolensError } from '../errors.js';
import { writeTablePart, type PartRecord, type Store } from '../storage/index.js';

export interface EmbeddingKey {
  dataset: string;
  model: string;
  step: number;
  layer: string;
}

/** JSON with keys sorted: equal parameters always give the same `params` string. */
export function canonicalParams(params: Record<string, number | string | boolean>): string {
  const sorted: Record<string, number | string | boolean> = {};
  for (const k of Object.keys(params).sort()) sorted[k] = params[k]!;
  return JSON.stringify(sorted);
}

export function embeddingFileName(method: string): string {
  if (!/^[a-z][a-z0-9_-]*$/.test(method)) throw new NeurolensError('BAD_SPEC', `embedding method name '${method}' must be lower-case letters, digits, '_' or '-'`);
  return `${method}.parquet`;
}

export async function writeEmbedding(
  store: Store,
  key: EmbeddingKey,
  method: string,
  params: Record<string, number | string | boolean>,
  sampleIds: Int32Array,
  coords: Float32Array,
): Promise<PartRecord> {
  const n = sampleIds.length;
  if (coords.length !== n * 2) throw new NeurolensError('INTERNAL', `writeEmbedding: ${coords.length / 2} points for ${n} sample ids`);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = coords[i * 2];
    y[i] = coords[i * 2 + 1];
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
      throw new NeurolensError('INTERNAL', `embedding of sample ${sampleIds[i]} is not finite (${x[i]}, ${y[i]})`);
    }
  }
  const p = canonicalParams(params);
  const part = await writeTablePart(store.dir, 'embeddings', key, embeddingFileName(method), {
    method: new Array<string>(n).fill(method),
    params: new Array<string>(n).fill(p),
    sample_id: sampleIds,
    x,
    y,
  });
  await store.refresh();
  return part;
}
