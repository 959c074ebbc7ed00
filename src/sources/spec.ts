/**
 * The `dataset.source` part of a pipeline spec: where the samples come from. Paths are relative to
 * the spec file's directory (the `baseDir` given to `openSource`).
 */
import { z } from 'zod';

const NonEmpty = z.string().min(1);

export const IdxSourceSpecSchema = z
  .object({
    kind: z.literal('idx'),
    /** IDX images file (uint8 [n, H, W] or [n, H, W, C]), gzip-compressed or raw. */
    images: NonEmpty,
    /** IDX labels file (integer [n]); without it every label is -1. */
    labels: NonEmpty.optional(),
    split: z.string().optional(),
  })
  .strict();

export const FolderSourceSpecSchema = z
  .object({
    kind: z.literal('folder'),
    /** Directory of images; its sub-directories are the classes (the ImageFolder layout). */
    root: NonEmpty,
    split: z.string().optional(),
    /** File extensions to take, e.g. ['.png', 'jpg'] (case-insensitive); default: all decodable ones. */
    extensions: z.array(NonEmpty).min(1).optional(),
  })
  .strict();

export const ManifestSourceSpecSchema = z
  .object({
    kind: z.literal('manifest'),
    /** CSV (.csv, .tsv) or Parquet (.parquet) file with columns uri, label (optional), split (optional). */
    path: NonEmpty,
    /** Directory relative uris resolve against; default: the manifest's directory. */
    root: NonEmpty.optional(),
  })
  .strict();

export const SourceSpecSchema = z.discriminatedUnion('kind', [
  IdxSourceSpecSchema,
  FolderSourceSpecSchema,
  ManifestSourceSpecSchema,
]);

export type IdxSourceSpec = z.infer<typeof IdxSourceSpecSchema>;
export type FolderSourceSpec = z.infer<typeof FolderSourceSpecSchema>;
export type ManifestSourceSpec = z.infer<typeof ManifestSourceSpecSchema>;
export type SourceSpec = z.infer<typeof SourceSpecSchema>;
