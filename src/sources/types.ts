/** One sample's metadata, as enumerated by a source (pixels are read by the decode stage). */
export interface SampleRef {
  /** Stable within a dataset: IDX/manifest order, sorted path order for folders. */
  sampleId: number;
  /** Where it comes from: a file path, or `idx://<images-file>#<index>`. */
  uri: string;
  /** Class index, or -1 when unknown. */
  label: number;
  /** 'train' | 'test' | ... or '' when unknown. */
  split: string;
}

/** Preprocessing the model expects, from the pipeline spec. */
export interface Preprocess {
  height: number;
  width: number;
  channels: 1 | 3;
  /** Pixel value v in [0,255] becomes (v * scale - mean[c]) / std[c]. */
  scale: number;
  mean: number[];
  std: number[];
  /** How to fit non-matching sizes: 'stretch' (resize to exactly HxW) or 'cover' (crop centre). */
  fit: 'stretch' | 'cover';
}

/** A decoded batch ready for inference: NHWC float32, transferred between threads. */
export interface DecodedBatch {
  sampleIds: Int32Array;
  data: Float32Array;
  /** Samples that failed to decode: they are absent from sampleIds/data. */
  errors: SampleError[];
}

export interface SampleError {
  sampleId: number;
  uri: string;
  stage: 'source' | 'decode' | 'infer';
  reason: string;
}

/**
 * Work for one decode-pool task: a contiguous run of samples. Plain data plus typed arrays so it
 * can be posted to a worker thread (the Uint8Array buffer is transferred, not copied).
 */
export type DecodeTask =
  | {
      kind: 'pixels';
      sampleIds: Int32Array;
      uris: string[];
      /** Raw uint8 pixels [n, height, width, channels] (IDX and other in-memory sources). */
      pixels: Uint8Array;
      height: number;
      width: number;
      channels: number;
    }
  | {
      kind: 'files';
      sampleIds: Int32Array;
      uris: string[];
    };

/** A dataset as a sequence of samples with stable ids 0..size-1. */
export interface Source {
  readonly kind: 'idx' | 'folder' | 'manifest';
  /** Number of samples. */
  readonly size: number;
  /** Class names when known (folder sub-directory names, spec `classes`). */
  readonly classes: string[] | null;
  /** Metadata of samples [start, end). */
  refs(start: number, end: number): SampleRef[];
  /** The decode task for samples [start, end). */
  decodeTask(start: number, end: number): DecodeTask;
}
