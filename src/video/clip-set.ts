/**
 * A labelled set of clips in memory, decoded by the pipeline's own clip decoder (ffmpeg + motion
 * channels, decode-clips.ts), for training and evaluating the demo video network. A clip that
 * fails to decode is left out and reported (the training set never silently shrinks).
 */
import { NeurolensError } from '../errors.js';
import type { Preprocess, SampleError } from '../sources/types.js';
import { VideoSource } from '../sources/video.js';
import type { VideoSourceSpec } from '../sources/spec.js';
import { tf, tfc } from '../model/tf.js';
import { clipChannels, clipSize, decodedFrames } from './clip-layout.js';
import { clipLayoutOf, decodeClips } from './decode-clips.js';

export interface ClipSet {
  /** [n, T, H, W, C] float32, clip-major. */
  data: Float32Array;
  labels: Int32Array;
  /** Floats per clip. */
  per: number;
  shape: [number, number, number, number];
  n: number;
  errors: SampleError[];
}

/** Decodes every clip of a video source (tasks of `batch` clips, two at a time). */
export async function loadClipSet(
  spec: VideoSourceSpec,
  baseDir: string,
  pre: Preprocess,
  opts: { classes?: string[]; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClipSet> {
  const layout = clipLayoutOf(spec, pre);
  const source = await VideoSource.create(spec, baseDir, { classes: opts.classes, extraFrames: decodedFrames(layout) - layout.frames });
  const shape: [number, number, number, number] = [layout.frames, layout.height, layout.width, clipChannels(layout)];
  const per = clipSize(layout);
  const parts: { ids: Int32Array; data: Float32Array }[] = [];
  const errors: SampleError[] = [];
  const batch = 32;
  let next = 0;
  let done = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < source.size) {
        const start = next;
        next = Math.min(source.size, next + batch);
        const r = await decodeClips(source.decodeTask(start, next), pre);
        parts.push({ ids: r.sampleIds, data: r.data });
        errors.push(...r.errors);
        done += r.sampleIds.length + r.errors.length;
        opts.onProgress?.(done, source.size);
      }
    }),
  );
  parts.sort((a, b) => (a.ids[0] ?? 0) - (b.ids[0] ?? 0));
  const n = parts.reduce((k, p) => k + p.ids.length, 0);
  if (n === 0) throw new NeurolensError('BAD_INPUT', `${source.where}: no clip could be decoded (${errors[0]?.uri}: ${errors[0]?.reason})`);
  const data = new Float32Array(n * per);
  const labels = new Int32Array(n);
  let k = 0;
  for (const p of parts) {
    data.set(p.data, k * per);
    const refs = p.ids.length ? source.refs(p.ids[0], p.ids[p.ids.length - 1] + 1) : [];
    const byId = new Map(refs.map((r) => [r.sampleId, r.label] as const));
    for (const id of p.ids) labels[k++] = byId.get(id)!;
  }
  errors.sort((a, b) => a.sampleId - b.sampleId);
  return { data, labels, per, shape, n, errors };
}

/** Which input channels to zero: none, the appearance ones [0, A), or the motion ones [A, C). */
export type Ablation = 'none' | 'appearance' | 'motion';

/**
 * Inputs and labels of clips order[start..start+count) (or start.. in order when `order` is
 * null), with one stream's channels zeroed for an ablation. The caller disposes the tensors.
 */
export function clipBatch(set: ClipSet, order: Int32Array | null, start: number, count: number, appearance: number, ablation: Ablation = 'none'): { x: tfc.Tensor; labels: tfc.Tensor1D } {
  const x = new Float32Array(count * set.per);
  const labels = new Int32Array(count);
  for (let b = 0; b < count; b++) {
    const i = order ? order[start + b] : start + b;
    x.set(set.data.subarray(i * set.per, (i + 1) * set.per), b * set.per);
    labels[b] = set.labels[i];
  }
  if (ablation !== 'none') {
    const C = set.shape[3];
    const [from, to] = ablation === 'appearance' ? [0, appearance] : [appearance, C];
    for (let p = 0; p < x.length; p += C) for (let c = from; c < to; c++) x[p + c] = 0;
  }
  return { x: tf.tensor(x, [count, ...set.shape]), labels: tf.tensor1d(labels, 'int32') };
}
