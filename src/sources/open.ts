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
