/**
 * The clips of a store's video dataset for pictures: the run record names the video source and
 * the model input (src/render/run-model.ts findRunSpec); the source is opened as the pipeline
 * opened it, with the frame after each clip reserved when the model takes motion channels
 * (pipeline/spec.ts extraFrames), so clip starts, and hence sample ids and argmax frames, match
 * the stored statistics. A clip tensor is made by the pipeline's own decode (decodeBatch ->
 * decode-clips.ts), so attribution sees exactly what the model saw.
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { openDatasetSource } from '../sources/open.js';
import type { Preprocess, Source } from '../sources/types.js';
import { decodeBatch } from '../stages/decode.js';
import { clipSize, type ClipLayout } from '../video/clip-layout.js';
import { clipLayoutOf } from '../video/decode-clips.js';
import { checkSampleId } from './render-input.js';
import { findRunSpec, type RunSpecRecord } from './run-model.js';

export interface ClipRun {
  run: RunSpecRecord;
  source: Source;
  pre: Preprocess;
  layout: ClipLayout;
}

/** The newest run of a video dataset in the store (of `dataset` / `model` when given). */
export async function openClipRun(storeDir: string, o: { dataset?: string; model?: string } = {}): Promise<ClipRun> {
  const run = await findRunSpec(storeDir, o);
  const spec = run.dataset.source;
  if (!spec) throw new NeurolensError('NOT_FOUND', `run ${run.runId} does not record the source of dataset '${run.dataset.name}'`);
  if (spec.kind !== 'video') {
    throw new NeurolensError('BAD_SPEC', `dataset '${run.dataset.name}' of store ${storeDir} is a '${spec.kind}' dataset; clip pictures need a video dataset (render mosaic draws images)`);
  }
  const pre = run.model.input;
  const source = await openDatasetSource({ source: spec, classes: run.dataset.classes }, pre, path.dirname(run.file));
  return { run, source, pre, layout: clipLayoutOf(spec, pre) };
}

/** One clip sample as the model input [T, H, W, A + M], decoded as the pipeline decodes it. */
export async function clipInput(c: ClipRun, sampleId: number): Promise<Float32Array> {
  checkSampleId(c.source, sampleId, c.run.dataset.name);
  const batch = await decodeBatch(c.source.decodeTask(sampleId, sampleId + 1), c.pre);
  const err = batch.errors[0];
  if (err) throw new NeurolensError('BAD_INPUT', `sample ${sampleId} of dataset '${c.run.dataset.name}' (${err.uri}): ${err.reason}`);
  if (batch.data.length !== clipSize(c.layout)) throw new NeurolensError('INTERNAL', `sample ${sampleId}: decoded ${batch.data.length} values, the clip layout needs ${clipSize(c.layout)}`);
  return batch.data;
}

/** `file.mp4 fr 12` for captions (the pixel font has no '@'): the video's name and the clip's first frame. */
export function clipLabel(source: Source, sampleId: number): string {
  const ref = source.refs(sampleId, sampleId + 1)[0]!;
  return `${path.basename(ref.uri)} fr ${ref.clip?.start ?? '?'}`;
}
