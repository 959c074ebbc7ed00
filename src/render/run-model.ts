/**
 * The model a render uses and how its inputs are prepared, from a store's run record or from
 * flags: `--model-dir DIR` (preprocessing from flags, default: the model sees pixels / 255 at its
 * declared input size), or `--store DIR [--step S] [--model NAME]` (the newest run record names
 * the checkpoint directories it read, the dataset and the input preprocessing exactly as the
 * pipeline applied it: src/pipeline/spec.ts `model.input`). Both: the given directory with the
 * store's preprocessing.
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { loadModelDir, type LoadedModel } from '../model/io.js';
import { modelInputShape, shapeText } from '../model/layers.js';
import { runCheckpointDir } from '../model/run-checkpoint.js';
import type { SourceSpec } from '../sources/spec.js';
import type { Preprocess } from '../sources/types.js';
import { listRunIds, readRun } from '../storage/runs.js';

export interface RunSpecRecord {
  runId: string;
  /** The store holding the record (absolute). */
  store: string;
  /** Absolute path of the spec file (relative paths in the spec resolve against its directory). */
  file: string;
  dataset: { name: string; source?: SourceSpec; classes?: string[] };
  model: { name: string; checkpoints: string; input: Preprocess };
}

interface RawSpec {
  file?: string;
  dataset?: { name?: string; source?: SourceSpec; classes?: string[] };
  model?: { name?: string; checkpoints?: string; input?: Preprocess };
}

/** The newest run record of the store matching dataset / model (when given). */
export async function findRunSpec(storeDir: string, o: { dataset?: string; model?: string } = {}): Promise<RunSpecRecord> {
  for (const id of (await listRunIds(storeDir)).reverse()) {
    const s = (await readRun(storeDir, id)).spec as RawSpec | undefined;
    if (!s?.model?.name || !s.dataset?.name || typeof s.file !== 'string' || !s.model.checkpoints || !s.model.input) continue;
    if (o.dataset !== undefined && s.dataset.name !== o.dataset) continue;
    if (o.model !== undefined && s.model.name !== o.model) continue;
    return { runId: id, store: path.resolve(storeDir), file: s.file, dataset: s.dataset as RunSpecRecord['dataset'], model: s.model as RunSpecRecord['model'] };
  }
  const which = [o.dataset && `dataset '${o.dataset}'`, o.model && `model '${o.model}'`].filter(Boolean).join(' and ');
  throw new NeurolensError('NOT_FOUND', `no run record in ${path.join(storeDir, 'runs')} describes ${which || 'a model with its spec file'}; run a pipeline first or give --model-dir DIR`);
}

/**
 * The checkpoint directory of `step` (default: the latest) that the run read: the directories its
 * record lists (src/model/run-checkpoint.ts), the spec glob only for records older than that list.
 */
export async function runCheckpoint(run: RunSpecRecord, step?: number): Promise<{ dir: string; step: number }> {
  const c = await runCheckpointDir(run.store, run.runId, step);
  return { dir: c.dir, step: c.step };
}

export interface RenderModelOptions {
  modelDir?: string;
  store?: string;
  step?: number;
  dataset?: string;
  /** Model name in the store (when it holds several). */
  model?: string;
  /** Preprocessing flags; any field given overrides the run's. */
  preprocess?: Partial<Pick<Preprocess, 'scale' | 'mean' | 'std'>>;
}

export interface RenderModel {
  loaded: LoadedModel;
  preprocess: Preprocess;
  run: RunSpecRecord | null;
  step: number | null;
}

/** Preprocessing for a model used without a run record: its declared input size, pixels / 255. */
function defaultPreprocess(loaded: LoadedModel): Preprocess {
  const s = modelInputShape(loaded.model);
  if (!s || s.length !== 3 || s.some((d) => d === null) || (s[2] !== 1 && s[2] !== 3)) {
    throw new NeurolensError('BAD_MODEL', `${loaded.dir}: renders need an image input [H, W, 1|3] of known size; the model input is ${s ? shapeText(s) : 'unknown'} (use --store with a run that records the input size)`);
  }
  return { height: s[0]!, width: s[1]!, channels: s[2] as 1 | 3, scale: 1 / 255, mean: [0], std: [1], fit: 'stretch' };
}

/** Loads the model (the caller disposes `loaded.model`) and settles its input preprocessing. */
export async function openRenderModel(o: RenderModelOptions): Promise<RenderModel> {
  if (!o.modelDir && !o.store) throw new NeurolensError('BAD_SPEC', 'give --model-dir DIR or --store DIR (with --step S)');
  const run = o.store ? await findRunSpec(o.store, { dataset: o.dataset, model: o.model }) : null;
  const ckpt = o.modelDir ? null : await runCheckpoint(run!, o.step);
  const loaded = await loadModelDir(o.modelDir ?? ckpt!.dir);
  try {
    const flags = Object.fromEntries(Object.entries(o.preprocess ?? {}).filter(([, v]) => v !== undefined));
    const preprocess: Preprocess = { ...(run ? run.model.input : defaultPreprocess(loaded)), ...flags };
    return { loaded, preprocess, run, step: ckpt?.step ?? o.step ?? loaded.step };
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}
