import type { MotionKind } from '../video/clip-layout.js';
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
  /** Video clips: where the clip lies in its video (absent for images). */
  clip?: ClipRef;
}

/** A clip's place in its video: frames start, start + stride, ... (T of them). */
export interface ClipRef {
  /** First frame, counted in the sampled stream (the source, or its `fps` resampling); -1 when the video could not be read. */
  start: number;
  frames: number;
  stride: number;
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
  /** Clips: motion channels after the appearance ones (src/video/clip-layout.ts). */
  motion?: MotionKind;
  motion_scale?: number;
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
    }
  | ClipDecodeTask;

/** Clips of videos: one ffmpeg decode per video in the task (src/video/decode-clips.ts). */
export interface ClipDecodeTask {
  kind: 'clips';
  sampleIds: Int32Array;
  /** Video file of each sample (clips of one video are adjacent). */
  uris: string[];
  /** First frame of each clip in the sampled stream; -1 when `failures` holds the reason. */
  starts: Int32Array;
  /** Why a clip cannot be decoded, known before decoding (unreadable or too short video), or null. */
  failures: (string | null)[];
  /** Input frames per clip (T). */
  frames: number;
  stride: number;
  /** Resample to this rate first, or null for the native rate. */
  fps: number | null;
}

/** A dataset as a sequence of samples with stable ids 0..size-1. */
export interface Source {
  readonly kind: 'idx' | 'folder' | 'manifest' | 'video';
  /** Number of samples. */
  readonly size: number;
  /** Class names when known (folder sub-directory names, spec `classes`). */
  readonly classes: string[] | null;
  /** Metadata of samples [start, end). */
  refs(start: number, end: number): SampleRef[];
  /** The decode task for samples [start, end). */
  decodeTask(start: number, end: number): DecodeTask;
}
