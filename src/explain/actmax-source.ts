/**
 * Where activation maximization gets its model, input preprocessing and normalization from:
 * - `--model-dir DIR`: a TF.js model directory; preprocessing from flags (default: the model sees
 *   [0, 1]).
 * - `--store DIR` (with `--step S`, default the latest checkpoint; `--model NAME` when the store
 *   holds several models): the newest run record of the store names the checkpoint directories
 *   it read (src/model/run-checkpoint.ts), the input preprocessing (`model.input` scale/mean/std, as
 *   the pipeline applied it) and the model name; the unit's dataset maximum is read from
 *   `neuron_stats` (max over all samples and positions, at that step). Both flags together: the
 *   given directory, with the store's preprocessing and statistics.
 * A unit without statistics (layer not tapped, other step) or a dead unit (max <= 0) is not an
 * error: the objective is left unnormalized and `note` says why (it goes into the JSON sidecar).
 */
import { NeurolensError } from '../errors.js';
import { loadModelDir, type LoadedModel } from '../model/io.js';
import { runCheckpointDir } from '../model/run-checkpoint.js';
import { Store } from '../storage/store.js';
import { IDENTITY_PREPROCESS, type Preprocess } from './actmax-objective.js';
import { newestModelRun } from './input.js';

export interface ActmaxSourceOptions {
  modelDir?: string;
  store?: string;
  step?: number;
  /** Dataset whose statistics normalize (needed when the store holds several for the unit). */
  dataset?: string;
  /** Model name in the store (when it holds several). */
  model?: string;
  layer: string;
  channel: number;
  /** Preprocessing flags; any field given overrides the store's. */
  preprocess?: Partial<Preprocess>;
}

export interface Normalization {
  datasetMax: number | null;
  dataset: string | null;
  model: string | null;
  step: number | null;
  /** Why the objective is not normalized (null when it is). */
  note: string | null;
}

export interface ActmaxSource {
  loaded: LoadedModel;
  model: { dir: string; step: number | null; name: string | null };
  preprocess: Preprocess;
  preprocessFrom: 'store' | 'flags' | 'default' | 'store+flags';
  /** Input size recorded by the run (for models with unknown input dims). */
  size?: { height: number; width: number };
  normalization: Normalization;
  /** The run record used (when --store). */
  runId: string | null;
}

/** The unit's max over the dataset from neuron_stats, or null with the reason. */
async function datasetMax(storeDir: string, model: string, step: number | null, o: ActmaxSourceOptions): Promise<Normalization> {
  const base = { datasetMax: null, dataset: o.dataset ?? null, model, step };
  const unit = `layer '${o.layer}' channel ${o.channel} of model '${model}'`;
  if (step === null) return { ...base, note: `the model has no training step, so its statistics in ${storeDir} cannot be found; objective not normalized` };
  const store = await Store.open(storeDir, { readOnly: true });
  try {
    if (!store.info.tablesWithFiles.includes('neuron_stats')) {
      return { ...base, note: `store ${storeDir} has no neuron_stats yet; objective not normalized` };
    }
    const rows = await store.query<{ dataset: string; max: number }>(
      `SELECT dataset, max FROM neuron_stats WHERE model = $model AND step = $step AND layer = $layer AND channel = $channel${o.dataset === undefined ? '' : ' AND dataset = $dataset'} ORDER BY dataset`,
      { model, step, layer: o.layer, channel: o.channel, ...(o.dataset === undefined ? {} : { dataset: o.dataset }) },
    );
    if (rows.length === 0) {
      return { ...base, note: `no neuron_stats for ${unit} at step ${step}${o.dataset ? ` on dataset '${o.dataset}'` : ''} in ${storeDir} (layer not tapped by the run?); objective not normalized` };
    }
    if (rows.length > 1) {
      throw new NeurolensError('BAD_SPEC', `${unit} has statistics on several datasets (${rows.map((r) => r.dataset).join(', ')}): choose one with --dataset`);
    }
    const { dataset, max } = rows[0]!;
    if (!(max > 0)) return { ...base, dataset, note: `${unit} never activates on dataset '${dataset}' (max ${max} <= 0: dead); objective not normalized` };
    return { datasetMax: max, dataset, model, step, note: null };
  } finally {
    store.dispose();
  }
}

/** Loads the model and reads what actmax needs from the store; the caller disposes `loaded.model`. */
export async function openActmaxSource(o: ActmaxSourceOptions): Promise<ActmaxSource> {
  if (!o.modelDir && !o.store) throw new NeurolensError('BAD_SPEC', 'give --model-dir DIR or --store DIR (with --step S)');
  // actmax draws no input, so the hint leaves out input.ts's --image FILE.
  const run = o.store ? await newestModelRun(o.store, o.dataset, o.model, 'run a pipeline first or give --model-dir DIR') : null;
  const dir = o.modelDir ?? (await runCheckpointDir(o.store!, run!.runId, o.step)).dir;
  const loaded = await loadModelDir(dir);
  try {
    const step = o.step ?? loaded.step;
    const flags = Object.fromEntries(Object.entries(o.preprocess ?? {}).filter(([, v]) => v !== undefined)) as Partial<Preprocess>;
    const input = run?.spec.model?.input;
    const fromStore: Partial<Preprocess> = input ? { scale: input.scale, mean: input.mean, std: input.std } : {};
    const preprocess: Preprocess = { ...IDENTITY_PREPROCESS, ...Object.fromEntries(Object.entries(fromStore).filter(([, v]) => v !== undefined)), ...flags };
    const given = Object.keys(flags).length > 0;
    const preprocessFrom = input ? (given ? 'store+flags' : 'store') : given ? 'flags' : 'default';
    const modelName = run?.spec.model?.name ?? null;
    const normalization: Normalization =
      o.store && modelName
        ? await datasetMax(o.store, modelName, step, o)
        : { datasetMax: null, dataset: null, model: null, step, note: 'no --store: objective not normalized' };
    const size = input?.height && input.width ? { height: input.height, width: input.width } : undefined;
    return { loaded, model: { dir: loaded.dir, step, name: modelName }, preprocess, preprocessFrom, size, normalization, runId: run?.runId ?? null };
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}
