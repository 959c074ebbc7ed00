/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) as in-memory uint8 arrays, and batch tensors built
 * from them. 70k 28x28 images take 55 MB, so the whole split stays in memory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readIdxPair } from '../sources/idx.js';
import { tf, tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { DEMO_CLASSES } from './cnn.js';

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export interface LabeledImages {
  /** [n, 28, 28] uint8 pixels, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

function splitFile(dir: string, stem: string): string {
  for (const name of [`${stem}.gz`, stem]) if (existsSync(join(dir, name))) return join(dir, name);
  // Let readIdx produce the "does not exist" error, naming the expected (compressed) file.
  return join(dir, `${stem}.gz`);
}

/** Loads one split ('train' 60k or 't10k' 10k), optionally only its first `limit` samples. */
export async function loadFashionMnist(dir: string, split: 'train' | 't10k', limit?: number): Promise<LabeledImages> {
  const { images, labels } = await readIdxPair(splitFile(dir, `${split}-images-idx3-ubyte`), splitFile(dir, `${split}-labels-idx1-ubyte`));
  if (images.dtype !== 'uint8' || images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new NeurolensError('BAD_INPUT', `${images.path}: expected uint8 images [n, 28, 28], got ${images.dtype} [${images.dims.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8') throw new NeurolensError('BAD_INPUT', `${labels.path}: expected uint8 labels, got ${labels.dtype}`);
  const lab = labels.data as Uint8Array;
  const bad = lab.findIndex((l) => l >= DEMO_CLASSES);
  if (bad >= 0) throw new NeurolensError('BAD_INPUT', `${labels.path}: label ${lab[bad]} of sample ${bad} is outside 0..${DEMO_CLASSES - 1}`);
  const n = limit !== undefined ? Math.min(limit, images.dims[0]) : images.dims[0];
  return { images: (images.data as Uint8Array).subarray(0, n * 784), labels: lab.subarray(0, n), n };
}

/**
 * Inputs [count, 28, 28, 1] scaled to [0, 1] and labels, for samples order[start..start+count).
 * The caller owns (and disposes) the returned tensors.
 */
export function batchTensors(ds: LabeledImages, order: Int32Array | null, start: number, count: number): { x: tfc.Tensor4D; labels: tfc.Tensor1D } {
  const px = new Float32Array(count * 784);
  const lab = new Int32Array(count);
  for (let b = 0; b < count; b++) {
    const i = order ? order[start + b] : start + b;
    const src = ds.images.subarray(i * 784, (i + 1) * 784);
    const off = b * 784;
    for (let p = 0; p < 784; p++) px[off + p] = src[p] / 255;
    lab[b] = ds.labels[i];
  }
  return { x: tf.tensor4d(px, [count, 28, 28, 1]), labels: tf.tensor1d(lab, 'int32') };
}
