/**
 * Fashion-MNIST as float points for embedding tests and the embedding benchmark: pixels scaled to
 * [0, 1], row-major n x 784, with labels. Reads the installed IDX files with the project's reader.
 */
import path from 'node:path';
import { readIdxPair } from '../src/sources/idx.js';
import type { Points } from '../src/embed/index.js';

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

export interface LabelledPoints extends Points {
  labels: Int32Array;
}

/** The first `n` images of the test split (10k) then, if more are asked, the train split (60k). */
export async function loadFashion(n: number): Promise<LabelledPoints> {
  const parts = [
    ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  ];
  const d = 784;
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  let filled = 0;
  for (const [img, lab] of parts) {
    if (filled >= n) break;
    const { images, labels: l } = await readIdxPair(path.join(FASHION_DIR, img), path.join(FASHION_DIR, lab));
    const m = Math.min(n - filled, images.dims[0]);
    for (let i = 0; i < m * d; i++) data[filled * d + i] = images.data[i] / 255;
    for (let i = 0; i < m; i++) labels[filled + i] = l.data[i];
    filled += m;
  }
  if (filled < n) throw new Error(`Fashion-MNIST has only ${filled} images, ${n} asked`);
  return { data, n, d, labels };
}
