/**
 * IDX dataset (MNIST, Fashion-MNIST, ...): the images file is small enough to keep in memory, so
 * decode tasks carry the raw pixels themselves (a copy per task, so its buffer can be transferred
 * to a decode worker without detaching the source's array).
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { readIdx, readIdxPair, type IdxArray } from './idx.js';
import type { IdxSourceSpec } from './spec.js';
import type { DecodeTask, SampleRef, Source } from './types.js';
import { checkRange, statInput, type OpenOptions } from './common.js';

export class IdxSource implements Source {
  readonly kind = 'idx' as const;
  readonly size: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  private readonly perSample: number;

  private constructor(
    readonly imagesPath: string,
    private readonly pixels: Uint8Array,
    dims: number[],
    private readonly labels: ArrayLike<number> | null,
    private readonly split: string,
    readonly classes: string[] | null,
  ) {
    this.size = dims[0];
    this.height = dims[1];
    this.width = dims[2];
    this.channels = dims[3] ?? 1;
    this.perSample = this.height * this.width * this.channels;
  }

  static async create(spec: IdxSourceSpec, baseDir: string, opts: OpenOptions = {}): Promise<IdxSource> {
    const imagesPath = path.resolve(baseDir, spec.images);
    const labelsPath = spec.labels === undefined ? undefined : path.resolve(baseDir, spec.labels);
    await statInput(imagesPath, 'IDX images file', 'file');
    if (labelsPath) await statInput(labelsPath, 'IDX labels file', 'file');
    let images: IdxArray;
    let labels: IdxArray | null = null;
    if (labelsPath) ({ images, labels } = await readIdxPair(imagesPath, labelsPath));
    else images = await readIdx(imagesPath);

    const { dims, dtype } = images;
    if (dtype !== 'uint8') {
      throw new NeurolensError('BAD_INPUT', `${imagesPath}: IDX images must be uint8 (type 0x08), this file holds ${dtype}`);
    }
    const ok = (dims.length === 3 || dims.length === 4) && (dims.length === 3 || [1, 3, 4].includes(dims[3]));
    if (!ok) {
      throw new NeurolensError(
        'BAD_INPUT',
        `${imagesPath}: IDX images must be [n, height, width] or [n, height, width, 1|3|4], this file is [${dims.join(', ')}]`,
      );
    }
    if (dims[0] === 0) throw new NeurolensError('BAD_INPUT', `${imagesPath}: the dataset is empty (0 images)`);

    if (labels) {
      if (labels.dtype === 'float32' || labels.dtype === 'float64') {
        throw new NeurolensError('BAD_INPUT', `${labelsPath}: IDX labels must be integers, this file holds ${labels.dtype}`);
      }
      const limit = opts.classes?.length ?? Infinity;
      const data = labels.data;
      for (let i = 0; i < data.length; i++) {
        if (data[i] < -1 || data[i] >= limit) {
          const why = data[i] < -1 ? 'a label must be >= 0 (or -1 for unknown)' : `spec dataset.classes has only ${limit} classes`;
          throw new NeurolensError('BAD_INPUT', `${labelsPath}: sample ${i}: bad label ${data[i]}: ${why}`);
        }
      }
    }
    return new IdxSource(
      imagesPath,
      images.data as Uint8Array,
      dims,
      labels ? labels.data : null,
      spec.split ?? '',
      opts.classes ? [...opts.classes] : null,
    );
  }

  private uri(i: number): string {
    return `idx://${this.imagesPath}#${i}`;
  }

  refs(start: number, end: number): SampleRef[] {
    checkRange(this.imagesPath, this.size, start, end);
    const out: SampleRef[] = [];
    for (let i = start; i < end; i++) {
      out.push({ sampleId: i, uri: this.uri(i), label: this.labels ? Number(this.labels[i]) : -1, split: this.split });
    }
    return out;
  }

  decodeTask(start: number, end: number): DecodeTask {
    checkRange(this.imagesPath, this.size, start, end);
    const sampleIds = new Int32Array(end - start);
    const uris: string[] = [];
    for (let i = start; i < end; i++) {
      sampleIds[i - start] = i;
      uris.push(this.uri(i));
    }
    return {
      kind: 'pixels',
      sampleIds,
      uris,
      // slice() copies: the task owns its buffer and may transfer it.
      pixels: this.pixels.slice(start * this.perSample, end * this.perSample),
      height: this.height,
      width: this.width,
      channels: this.channels,
    };
  }
}
