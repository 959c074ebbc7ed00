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

/**
 * Video files, cut into clips. The files come from `root` (class sub-directories, the
 * ImageFolder layout) or from a `manifest` (uri,label[,split]; relative uris resolve against
 * `root` when given, else the manifest's directory). Each video gives `clips_per_video` clips of
 * `frames` frames taken every `stride` frames (after resampling to `fps` when given), their starts
 * spread uniformly over the video's length (one clip: centred). sample_id = video index *
 * clips_per_video + clip index, so ids do not depend on video lengths or on which files fail.
 */
export const VideoSourceSpecSchema = z
  .object({
    kind: z.literal('video'),
    root: NonEmpty.optional(),
    manifest: NonEmpty.optional(),
    /** With `root` only: the split every video gets. */
    split: z.string().optional(),
    /** With `manifest`: keep only rows whose split column is one of these (e.g. [test]). */
    splits: z.array(NonEmpty).min(1).optional(),
    /** File extensions to take from `root` (case-insensitive); default: common video containers. */
    extensions: z.array(NonEmpty).min(1).optional(),
    /** Frames per clip (T): the model's time axis. */
    frames: z.number().int().positive().max(1024),
    /** Take every `stride`-th frame (of the source, or of the `fps`-resampled stream). */
    stride: z.number().int().positive().default(1),
    /** Resample the video to this frame rate first (ffmpeg's fps filter); default: native rate. */
    fps: z.number().positive().max(1000).optional(),
    clips_per_video: z.number().int().positive().max(10000).default(1),
  })
  .strict();

export const SourceSpecSchema = z.discriminatedUnion('kind', [
  IdxSourceSpecSchema,
  FolderSourceSpecSchema,
  ManifestSourceSpecSchema,
  VideoSourceSpecSchema,
]);

export type IdxSourceSpec = z.infer<typeof IdxSourceSpecSchema>;
export type FolderSourceSpec = z.infer<typeof FolderSourceSpecSchema>;
export type ManifestSourceSpec = z.infer<typeof ManifestSourceSpecSchema>;
export type VideoSourceSpec = z.infer<typeof VideoSourceSpecSchema>;
export type SourceSpec = z.infer<typeof SourceSpecSchema>;
