/** Opens the dataset a pipeline spec's `dataset.source` describes. */
import { FolderSource } from './folder.js';
import { IdxSource } from './idx-source.js';
import { ManifestSource } from './manifest.js';
import { VideoSource } from './video.js';
import type { SourceSpec } from './spec.js';
import type { Source } from './types.js';
import type { OpenOptions } from './common.js';

/**
 * Relative paths in `spec` resolve against `baseDir` (the spec file's directory). A missing
 * file or directory, an unreadable table and an empty dataset are NeurolensError('BAD_INPUT').
 */
/**
 * The source of a spec's `dataset` as the pipeline reads it: clips of a model with motion
 * channels leave room for the frame after each clip (clip starts depend on it), so every reader
 * of a store (pipeline, pictures, server) must open the source through here to agree on them.
 */
export function openDatasetSource(dataset: { source: SourceSpec; classes?: string[] }, input: { motion?: string } | undefined, baseDir: string): Promise<Source> {
  return openSource(dataset.source, baseDir, { classes: dataset.classes, extraFrames: input?.motion && input.motion !== 'none' ? 1 : 0 });
}

export async function openSource(spec: SourceSpec, baseDir: string, opts: OpenOptions = {}): Promise<Source> {
  switch (spec.kind) {
    case 'idx':
      return IdxSource.create(spec, baseDir, opts);
    case 'folder':
      return FolderSource.create(spec, baseDir, opts);
    case 'manifest':
      return ManifestSource.create(spec, baseDir, opts);
    case 'video':
      return VideoSource.create(spec, baseDir, opts);
  }
}
