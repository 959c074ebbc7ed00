/**
 * TF.js model directories (`model.json` + weight shards) on the local disk, without tfjs-node.
 *
 * The layout is the one tfjs' converter and `file://` saver write (model.json with
 * `modelTopology`, `format`, `weightsManifest: [{paths: ['group1-shard1of1.bin'], weights}]`),
 * so directories written here load in any TF.js runtime and vice versa.
 */
import { fsyncDir, writeFileSynced } from '../storage/atomic.js';
import { readFile, rename, rm, stat, mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { tf, tfl, tfconv } from './tf.js';
import type { tfc } from './tf.js';
import { NeurolensError, errorMessage } from '../errors.js';

type ModelJSON = tfc.io.ModelJSON;
type WeightsManifestEntry = tfc.io.WeightsManifestEntry;

/** Shard size the tfjs converter uses by default (4 MiB). */
const SHARD_BYTES = 4 * 1024 * 1024;

export interface SaveExtra {
  /** Training step; stored in model.json at `userDefinedMetadata.neurolens.step`. */
  step?: number;
  /** Extra JSON-serialisable fields stored next to the step. */
  metadata?: object;
}

export interface LoadedModelInfo {
  dir: string;
  format: 'layers-model' | 'graph-model';
  /** From `userDefinedMetadata.neurolens.step`, else the directory name (`ckpt-000300` -> 300), else null. */
  step: number | null;
  /** The model's `userDefinedMetadata` (null when absent). */
  userDefinedMetadata: Record<string, unknown> | null;
}

export type LoadedModel =
  | (LoadedModelInfo & { kind: 'layers'; model: tfl.LayersModel })
  | (LoadedModelInfo & { kind: 'graph'; model: tfconv.GraphModel });


/**
 * Saves a LayersModel as a model directory, atomically: everything is written and fsynced in a
 * temporary sibling `.<name>.tmp-<pid>`, then renamed into place. An existing directory is
 * renamed away first and removed only after the new one is in place, so a crash leaves either
 * the old or the new model under `dir`, never a half-written one.
 */
export async function saveModelDir(model: tfl.LayersModel, dir: string, extra: SaveExtra = {}): Promise<void> {
  const final = resolve(dir);
  const parent = dirname(final);
  const name = basename(final);
  const tmp = join(parent, `.${name}.tmp-${process.pid}`);
  const old = join(parent, `.${name}.old-${process.pid}`);
  try {
    await mkdir(parent, { recursive: true });
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    const handler = tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []);
      const nShards = Math.max(1, Math.ceil(weightData.byteLength / SHARD_BYTES));
      const paths: string[] = [];
      for (let i = 0; i < nShards; i++) {
        const p = `group1-shard${i + 1}of${nShards}.bin`;
        paths.push(p);
        const bytes = new Uint8Array(weightData, i * SHARD_BYTES, Math.min(SHARD_BYTES, weightData.byteLength - i * SHARD_BYTES));
        await writeFileSynced(join(tmp, p), bytes);
      }
      const prior = (artifacts.userDefinedMetadata ?? {}) as Record<string, object>;
      const neurolens = { ...(prior.neurolens ?? {}), ...(extra.metadata ?? {}), ...(extra.step !== undefined ? { step: extra.step } : {}) };
      const json: ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        userDefinedMetadata: { ...prior, neurolens },
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileSynced(join(tmp, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    });
    await model.save(handler, { includeOptimizer: false });
    await fsyncDir(tmp);
    const exists = await stat(final).then(
      () => true,
      () => false,
    );
    if (exists) {
      await rm(old, { recursive: true, force: true });
      await rename(final, old);
    }
    await rename(tmp, final);
    await fsyncDir(parent);
    if (exists) await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new NeurolensError('IO', `cannot save model to ${final}: ${errorMessage(e)}`, { cause: e });
  }
}

/** Bytes per element of the dtypes tfjs writes (tfjs-core io types). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

/**
 * A weight spec as found in a model.json that may not be valid yet: the watch's completeness
 * check (src/watch/complete.ts) reads manifests that are still being written or are not models.
 */
export interface WeightSpecLike {
  shape?: unknown;
  dtype?: string;
  quantization?: { dtype?: string };
}

/**
 * Bytes a weight occupies in the shard (the quantized dtype when quantized), or null when it
 * cannot be known from the spec (string tensors, unknown dtypes, no shape list). The one rule
 * for both the loader and the watch's completeness check, so they cannot disagree.
 */
export function specBytes(w: WeightSpecLike | WeightsManifestEntry | null | undefined): number | null {
  if (!Array.isArray(w?.shape)) return null;
  const n = (w.shape as number[]).reduce((a, b) => a * b, 1);
  const per = DTYPE_BYTES[w.quantization?.dtype ?? w.dtype ?? ''];
  return per === undefined ? null : n * per;
}

function badModel(msg: string, cause?: unknown): NeurolensError {
  return new NeurolensError('BAD_MODEL', msg, cause ? { cause } : undefined);
}

/** Reads and checks model.json and all shards; throws before any tfjs work if something is off. */
async function readModelFiles(dir: string): Promise<{ json: ModelJSON; format: LoadedModelInfo['format']; shards: ArrayBuffer[] }> {
  const st = await stat(dir).catch(() => null);
  if (!st) throw badModel(`${dir}: model directory does not exist`);
  if (!st.isDirectory()) throw badModel(`${dir}: not a directory (expected a TF.js model directory with model.json)`);
  const jsonPath = join(dir, 'model.json');
  const text = await readFile(jsonPath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw badModel(e.code === 'ENOENT' ? `${jsonPath}: missing (not a TF.js model directory)` : `${jsonPath}: ${e.message}`, e);
  });
  let json: ModelJSON;
  try {
    json = JSON.parse(text) as ModelJSON;
  } catch (e) {
    throw badModel(`${jsonPath}: invalid JSON (${errorMessage(e)})`, e);
  }
  if (json === null || typeof json !== 'object' || json.modelTopology == null || typeof json.modelTopology !== 'object') {
    throw badModel(`${jsonPath}: no modelTopology object (not a TF.js model.json)`);
  }
  const topo = json.modelTopology as { class_name?: unknown; node?: unknown; model_config?: unknown };
  let format: LoadedModelInfo['format'];
  if (json.format === 'layers-model' || json.format === 'graph-model') format = json.format;
  else if (topo.class_name !== undefined || topo.model_config !== undefined) format = 'layers-model';
  else if (Array.isArray(topo.node)) format = 'graph-model';
  else throw badModel(`${jsonPath}: cannot tell LayersModel from GraphModel (format '${String(json.format)}', no class_name or node list)`);
  if (!Array.isArray(json.weightsManifest)) throw badModel(`${jsonPath}: weightsManifest is missing or not a list`);

  const shards: ArrayBuffer[] = [];
  for (const [g, group] of json.weightsManifest.entries()) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      throw badModel(`${jsonPath}: weightsManifest[${g}] needs 'paths' and 'weights' lists`);
    }
    let have = 0;
    for (const p of group.paths) {
      const shardPath = join(dir, p);
      const buf = await readFile(shardPath).catch((e: NodeJS.ErrnoException) => {
        throw badModel(e.code === 'ENOENT' ? `${shardPath}: weights shard listed in model.json is missing` : `${shardPath}: ${e.message}`, e);
      });
      have += buf.byteLength;
      shards.push(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
    }
    const sizes = group.weights.map(specBytes);
    if (sizes.every((s) => s !== null)) {
      const need = (sizes as number[]).reduce((a, b) => a + b, 0);
      if (have < need) {
        throw badModel(`${join(dir, group.paths.join(', '))}: weights shards hold ${have} bytes but model.json's manifest needs ${need} (truncated shard?)`);
      }
      if (have > need) {
        throw badModel(`${join(dir, group.paths.join(', '))}: weights shards hold ${have} bytes, more than the ${need} model.json's manifest describes (shards from another model?)`);
      }
    }
  }
  return { json, format, shards };
}

function stepOf(dir: string, meta: Record<string, unknown> | null): number | null {
  const s = (meta?.neurolens as { step?: unknown } | undefined)?.step;
  if (typeof s === 'number' && Number.isFinite(s)) return s;
  const m = /(?:^|[-_])(\d+)$/.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

/** Loads a TF.js model directory (LayersModel or GraphModel) from disk. Errors are 'BAD_MODEL'. */
export async function loadModelDir(dir: string): Promise<LoadedModel> {
  const abs = resolve(dir);
  const { json, format, shards } = await readModelFiles(abs);
  // One handler for both model kinds: tfjs decodes the manifest + concatenated shard bytes.
  const handler: tfc.io.IOHandler = {
    load: () =>
      tf.io.getModelArtifactsForJSON(json, async (manifest) => [tf.io.getWeightSpecs(manifest), tf.io.CompositeArrayBuffer.join(shards)]),
  };
  const userDefinedMetadata = (json.userDefinedMetadata as Record<string, unknown> | undefined) ?? null;
  const info: LoadedModelInfo = { dir: abs, format, step: stepOf(abs, userDefinedMetadata), userDefinedMetadata };
  try {
    if (format === 'layers-model') return { ...info, kind: 'layers', model: await tfl.loadLayersModel(handler) };
    return { ...info, kind: 'graph', model: await tfconv.loadGraphModel(handler) };
  } catch (e) {
    throw badModel(`${join(abs, 'model.json')}: cannot build the ${format}: ${errorMessage(e)}`, e);
  }
}
