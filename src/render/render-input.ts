/**
 * One input for a render, prepared exactly as the pipeline prepares samples
 * (src/stages/decode.ts decodeBatch: resize/crop to the model input, channel conversion,
 * (v * scale - mean) / std), plus the image as the model sees it (resized, 8-bit) for display
 * and crops. From a store sample (`--sample ID`: the dataset source recorded in the run) or an
 * image file (`--image FILE`).
 */
import path from 'node:path';
import sharp from 'sharp';
import { NeurolensError } from '../errors.js';
import { openDatasetSource } from '../sources/open.js';
import type { Preprocess, Source } from '../sources/types.js';
import { decodeBatch, loadSampleImage } from '../stages/decode.js';
import type { Image8 } from './canvas.js';
import { decodeImage8 } from './png.js';
import type { RunSpecRecord } from './run-model.js';

export interface RenderInput {
  /** Model input [1, H, W, C], normalised. */
  data: Float32Array;
  /** The image resized as the model sees it (H x W), original colour channels, 8-bit. */
  view: Image8;
  /** 'sample 12' or the file name. */
  label: string;
  sampleId: number | null;
  file: string | null;
}

/** Resizes an 8-bit image to the model input size with the pipeline's fit rule (stretch | centre crop). */
export async function modelView(img: Image8, pre: Pick<Preprocess, 'height' | 'width' | 'fit'>): Promise<Image8> {
  if (img.width === pre.width && img.height === pre.height) return img;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
    .resize(pre.width, pre.height, { fit: pre.fit === 'cover' ? 'cover' : 'fill', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels === 1 ? 1 : 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** The dataset source a run recorded (relative paths against the spec file's directory). */
export async function runSource(run: RunSpecRecord): Promise<Source> {
  if (!run.dataset.source) throw new NeurolensError('NOT_FOUND', `run ${run.runId} does not record the source of dataset '${run.dataset.name}'`);
  return openDatasetSource({ source: run.dataset.source, classes: run.dataset.classes }, run.model.input, path.dirname(run.file));
}

export function checkSampleId(source: Source, sampleId: number, dataset: string): void {
  if (!Number.isInteger(sampleId) || sampleId < 0 || sampleId >= source.size) {
    throw new NeurolensError('NOT_FOUND', `sample ${sampleId} is not in dataset '${dataset}' (sample ids 0..${source.size - 1})`);
  }
}

export async function sampleInput(source: Source, dataset: string, sampleId: number, pre: Preprocess): Promise<RenderInput> {
  checkSampleId(source, sampleId, dataset);
  const batch = await decodeBatch(source.decodeTask(sampleId, sampleId + 1), pre);
  if (batch.errors.length > 0) throw new NeurolensError('BAD_INPUT', `sample ${sampleId} of dataset '${dataset}' (${batch.errors[0]!.uri}): ${batch.errors[0]!.reason}`);
  const view = await modelView(await loadSampleImage(source, sampleId), pre);
  return { data: batch.data, view, label: `sample ${sampleId}`, sampleId, file: null };
}

export async function fileInput(file: string, pre: Preprocess): Promise<RenderInput> {
  const abs = path.resolve(file);
  const batch = await decodeBatch({ kind: 'files', sampleIds: Int32Array.of(0), uris: [abs] }, pre);
  if (batch.errors.length > 0) throw new NeurolensError('BAD_INPUT', `--image ${file}: ${batch.errors[0]!.reason}`);
  const view = await modelView(await decodeImage8(abs), pre);
  return { data: batch.data, view, label: path.basename(file), sampleId: null, file: abs };
}
