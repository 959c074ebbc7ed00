/**
 * Where an explanation gets its model and its one input from.
 *
 * Model: `--model-dir DIR`, or the checkpoint of the store's run (`--store DIR [--step S]`, default
 * the latest step): the newest run record (of `--dataset` / `--model NAME`, when given) names the
 * checkpoint directories it read (src/model/run-checkpoint.ts), the input preprocessing and the
 * dataset source.
 * Input: `--sample ID` (needs `--store`): the sample as the pipeline fed it (the same decode
 * and preprocessing code, src/stages/decode.ts), or `--image FILE`: decoded and resized to the
 * model input with sharp, preprocessed as the store's run did (without a store: pixels / 255).
 * Also the picture the heat map is drawn over: the original pixels resized to the model input.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';
import { loadModelDir } from '../model/io.js';
import { runCheckpointDir } from '../model/run-checkpoint.js';
import { validateModelInput } from '../model/validate.js';
import type { tfl } from '../model/tf.js';
import type { Image8 } from '../render/canvas.js';
import { openRunSource } from '../render/neuron-mosaic.js';
import { decodeBatch, decodeImage, loadSampleImage, resizeRaster, type Raster } from '../stages/decode.js';
import type { Preprocess, Source } from '../sources/types.js';
import { listRunIds, readRun } from '../storage/runs.js';
import { imageInputShape } from './target.js';

export interface ExplainModelOptions {
  modelDir?: string;
  store?: string;
  step?: number;
  dataset?: string;
  /** Model name in the store (when it holds several). */
  model?: string;
}

interface RunSpecLike {
  file?: string;
  dataset?: { name?: string; classes?: string[] };
  model?: { name?: string; checkpoints?: string; input?: Partial<Preprocess> };
}

export interface ExplainModel {
  model: tfl.LayersModel;
  dir: string;
  step: number | null;
  /** The model name of the store's run (null with --model-dir and no store). */
  name: string | null;
  pre: Preprocess;
  /** Dataset of the run (for --sample). */
  dataset: string | null;
  classes: string[] | null;
  runId: string | null;
  dispose(): void;
}

/**
 * Newest run record of a store with a model (of that name, and over the dataset, when given).
 * `hint` ends the NOT_FOUND message: what else the calling command accepts instead of a store run.
 */
export async function newestModelRun(
  store: string,
  dataset?: string,
  model?: string,
  hint = 'run a pipeline first, or give --model-dir DIR and --image FILE',
): Promise<{ runId: string; spec: RunSpecLike }> {
  for (const id of (await listRunIds(store)).reverse()) {
    const spec = (await readRun(store, id)).spec as RunSpecLike | undefined;
    if (!spec?.model?.name || (dataset !== undefined && spec.dataset?.name !== dataset) || (model !== undefined && spec.model.name !== model)) continue;
    return { runId: id, spec };
  }
  const which = `${model === undefined ? ' a model' : ` model '${model}'`}${dataset === undefined ? '' : ` over dataset '${dataset}'`}`;
  throw new NeurolensError('NOT_FOUND', `no run record in ${path.join(store, 'runs')} describes${which}; ${hint}`);
}

/** Loads the model (LayersModel) and the preprocessing; the caller disposes. */
export async function openExplainModel(o: ExplainModelOptions): Promise<ExplainModel> {
  if (!o.modelDir && !o.store) throw new NeurolensError('BAD_SPEC', 'give --model-dir DIR or --store DIR (with --step S)');
  if (o.modelDir && o.step !== undefined) throw new NeurolensError('BAD_SPEC', '--step picks a checkpoint of the store run; it cannot be combined with --model-dir DIR');
  const run = o.store ? await newestModelRun(o.store, o.dataset, o.model) : null;
  const dir = o.modelDir ?? (await runCheckpointDir(o.store!, run!.runId, o.step)).dir;
  const loaded = await loadModelDir(dir);
  if (loaded.kind !== 'layers') {
    loaded.model.dispose();
    throw new NeurolensError('BAD_MODEL', `${dir}: attribution methods need a LayersModel (this is a GraphModel, which cannot be re-run layer by layer)`);
  }
  try {
    const shape = imageInputShape(loaded.model);
    const inp = run?.spec.model?.input ?? {};
    const pre: Preprocess = {
      height: shape.height,
      width: shape.width,
      channels: shape.channels as 1 | 3,
      scale: inp.scale ?? 1 / 255,
      mean: inp.mean ?? [0],
      std: inp.std ?? [1],
      fit: inp.fit ?? 'stretch',
    };
    if (pre.channels !== 1 && pre.channels !== 3) throw new NeurolensError('BAD_MODEL', `the model input has ${shape.channels} channels; images have 1 or 3`);
    validateModelInput(loaded, pre);
    const model = loaded.model;
    return {
      model,
      dir: loaded.dir,
      step: o.step ?? loaded.step,
      name: run?.spec.model?.name ?? null,
      pre,
      dataset: run?.spec.dataset?.name ?? null,
      classes: run?.spec.dataset?.classes ?? null,
      runId: run?.runId ?? null,
      dispose: () => model.dispose(),
    };
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}

/** One input, as the model takes it and as it is drawn. */
export interface ExplainInput {
  /** Model input [H, W, C] (row-major, preprocessed). */
  data: Float32Array;
  height: number;
  width: number;
  channels: number;
  /** The original pixels resized to H x W (grey or RGB), for overlays. */
  image: Image8;
  /** What it is: `sample 12 (idx://...)` or the file. */
  label: string;
  sampleId: number | null;
  uri: string;
  /** Class label of the sample (-1 unknown; null for files). */
  classLabel: number | null;
}

function to8bit(r: Raster): Image8 {
  if (r.data instanceof Uint8Array) return { width: r.width, height: r.height, channels: r.channels, data: r.data };
  const d = new Uint8Array(r.data.length);
  for (let i = 0; i < d.length; i++) d[i] = Math.round(r.data[i]! / 257);
  return { width: r.width, height: r.height, channels: r.channels, data: d };
}

async function preprocessed(source: Pick<Source, 'decodeTask'> | null, uri: string, sampleId: number, pre: Preprocess): Promise<Float32Array> {
  const task = source ? source.decodeTask(sampleId, sampleId + 1) : { kind: 'files' as const, sampleIds: Int32Array.of(0), uris: [uri] };
  const batch = await decodeBatch(task, pre);
  if (batch.errors.length) throw new NeurolensError('BAD_INPUT', `${uri}: ${batch.errors[0]!.reason}`);
  return batch.data;
}

/** Loads sample `sampleId` of the run's dataset (`store` must hold the run record). */
export async function loadSampleInput(store: string, m: ExplainModel, sampleId: number, dataset?: string): Promise<ExplainInput> {
  const ds = dataset ?? m.dataset;
  if (!ds) throw new NeurolensError('BAD_SPEC', '--sample needs --store DIR (the run record names the dataset)');
  const { source } = await openRunSource(store, ds, m.name ?? undefined);
  if (!Number.isInteger(sampleId) || sampleId < 0 || sampleId >= source.size) {
    throw new NeurolensError('NOT_FOUND', `sample ${sampleId} is not in dataset '${ds}' of store ${store} (sample ids 0..${source.size - 1})`);
  }
  const ref = source.refs(sampleId, sampleId + 1)[0]!;
  const data = await preprocessed(source, ref.uri, sampleId, m.pre);
  const raw = await loadSampleImage(source, sampleId);
  const image = to8bit(await resizeRaster(raw, m.pre));
  return { data, height: m.pre.height, width: m.pre.width, channels: m.pre.channels, image, label: `sample ${sampleId} of ${ds}`, sampleId, uri: ref.uri, classLabel: ref.label };
}

/** Loads an image file resized to the model input. */
export async function loadImageInput(file: string, m: Pick<ExplainModel, 'pre'>): Promise<ExplainInput> {
  const abs = path.resolve(file);
  const data = await preprocessed(null, abs, 0, m.pre);
  let r: Raster;
  try {
    r = await decodeImage(await readFile(abs), m.pre);
  } catch (e) {
    throw new NeurolensError('BAD_INPUT', `${file}: ${errorMessage(e)}`, { cause: e });
  }
  return { data, height: m.pre.height, width: m.pre.width, channels: m.pre.channels, image: to8bit(r), label: path.basename(file), sampleId: null, uri: abs, classLabel: null };
}

/** Pixels (8-bit, at the model size, 1 or 3 channels) as model input, by the run's preprocessing. */
export function pixelsToInput(img: Image8, pre: Preprocess): Float32Array {
  const n = pre.height * pre.width;
  if (img.width !== pre.width || img.height !== pre.height) throw new NeurolensError('INTERNAL', `pixels ${img.width}x${img.height}, model input ${pre.width}x${pre.height}`);
  const C = pre.channels;
  const out = new Float32Array(n * C);
  const at = (v: number[], c: number) => v[v.length === 1 ? 0 : c]!;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < C; c++) {
      let v: number;
      if (img.channels === C) v = img.data[p * C + c]!;
      else if (img.channels === 1) v = img.data[p]!;
      else v = 0.299 * img.data[p * 3]! + 0.587 * img.data[p * 3 + 1]! + 0.114 * img.data[p * 3 + 2]!; // BT.601 luma, as decode.ts
      out[p * C + c] = (v * pre.scale - at(pre.mean, c)) / at(pre.std, c);
    }
  }
  return out;
}
