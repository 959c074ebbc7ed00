export type { SampleRef, Preprocess, DecodedBatch, SampleError, DecodeTask, Source } from './types.js';
export { SourceSpecSchema, type SourceSpec, type IdxSourceSpec, type FolderSourceSpec, type ManifestSourceSpec } from './spec.js';
export { openSource, openDatasetSource } from './open.js';
export type { OpenOptions } from './common.js';
export { IdxSource } from './idx-source.js';
export { FolderSource, DEFAULT_IMAGE_EXTENSIONS } from './folder.js';
export { ManifestSource } from './manifest.js';
export { readIdx, readIdxPair, parseIdx, type IdxArray, type IdxDtype } from './idx.js';
