import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { NeurolensError, errorMessage } from '../errors.js';
import { SourceSpecSchema } from '../sources/spec.js';
import { EmbedSectionSchema } from '../embed/section.js';
import { motionChannels } from '../video/clip-layout.js';
import { RetentionSchema } from './retention.js';

/** Partition values end up in paths and SQL: keep them to a safe alphabet. */
const SafeName = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-" (it becomes a directory name)');

export const PreprocessSchema = z
  .object({
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]),
    /** Pixel v in [0,255] becomes (v*scale - mean[c]) / std[c]. */
    scale: z.number().positive().default(1 / 255),
    mean: z.array(z.number()).min(1).default([0]),
    std: z.array(z.number().positive()).min(1).default([1]),
    fit: z.enum(['stretch', 'cover']).default('stretch'),
    /**
     * Clips only: motion channels after the appearance ones (src/video/clip-layout.ts): optical
     * flow (u, v), a luma frame difference, or none.
     */
    motion: z.enum(['none', 'flow', 'diff']).default('none'),
    /** Multiplies the motion channels (flow in pixels per frame, difference on 0..1). */
    motion_scale: z.number().positive().default(1),
  })
  .strict();

export const PipelineSpecSchema = z
  .object({
    name: SafeName,
    /** Store directory, relative to the spec file. */
    store: z.string().default('../store'),
    dataset: z
      .object({
        name: SafeName,
        source: SourceSpecSchema,
        classes: z.array(z.string()).optional(),
      })
      .strict(),
    model: z
      .object({
        name: SafeName,
        /** Glob of TF.js model directories (one per checkpoint), relative to the spec file. */
        checkpoints: z.string().min(1),
        input: PreprocessSchema,
      })
      .strict(),
    /** Layer names or glob patterns to tap. */
    layers: z.array(z.string().min(1)).min(1),
    /** Layers whose pooled vector per sample is stored in `codes` (embedding input). */
    codes: z.array(z.string().min(1)).default([]),
    /** 2-D layouts of code layers computed after the last checkpoint (src/embed/run-section.ts). */
    embed: EmbedSectionSchema,
    /**
     * Clips with motion: also run every checkpoint with one stream's input channels zeroed, stored
     * as model `<name>.no-<stream>` (the stream_drivers query compares them with the full model).
     */
    ablate: z.array(z.enum(['appearance', 'motion'])).default([]),
    /** Per-layer retention of per-sample rows (src/pipeline/retention.ts). */
    retention: RetentionSchema,
    predictions: z.boolean().default(true),
    topk: z.number().int().positive().max(1024).default(32),
    shard_size: z.number().int().positive().default(1024),
    batch_size: z.number().int().positive().max(4096).default(64),
    /** A neuron is dead when its max over the dataset is <= eps. */
    eps: z.number().nonnegative().default(0),
    max_error_rate: z.number().min(0).max(1).default(0.01),
  })
  .strict();

export type PipelineSpec = z.infer<typeof PipelineSpecSchema>;

export interface LoadedSpec {
  spec: PipelineSpec;
  /** Absolute path of the spec file. */
  file: string;
  /** Directory relative paths in the spec resolve against. */
  baseDir: string;
}

/** Formats zod issues as "file: field a.b.c: reason" lines. */
export function formatIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const field = i.path.length ? i.path.join('.') : '(top level)';
      let reason = i.message;
      if (i.code === 'unrecognized_keys') reason = `unknown field(s) ${i.keys.map((k) => `'${k}'`).join(', ')}`;
      return `${file}: field '${field}': ${reason}`;
    })
    .join('\n');
}

export function parseSpec(text: string, file: string): PipelineSpec {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new NeurolensError('BAD_SPEC', `${file}: not valid YAML: ${errorMessage(e)}`, { cause: e });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new NeurolensError('BAD_SPEC', `${file}: a pipeline spec must be a YAML mapping (name, dataset, model, layers, ...)`);
  }
  const parsed = PipelineSpecSchema.safeParse(raw);
  if (!parsed.success) throw new NeurolensError('BAD_SPEC', `invalid pipeline spec\n${formatIssues(file, parsed.error)}`);
  const spec = parsed.data;
  const c = spec.model.input.channels;
  for (const key of ['mean', 'std'] as const) {
    const v = spec.model.input[key];
    if (v.length !== 1 && v.length !== c) {
      throw new NeurolensError('BAD_SPEC', `${file}: field 'model.input.${key}': has ${v.length} values, expected 1 or ${c} (channels)`);
    }
  }
  if (spec.model.input.motion !== 'none' && spec.dataset.source.kind !== 'video') {
    throw new NeurolensError('BAD_SPEC', `${file}: field 'model.input.motion': '${spec.model.input.motion}' needs a video source (dataset.source.kind: video), the source is '${spec.dataset.source.kind}'`);
  }
  if (spec.ablate.length && spec.model.input.motion === 'none') {
    throw new NeurolensError('BAD_SPEC', `${file}: field 'ablate': stream ablations need clips with motion channels (model.input.motion: flow or diff)`);
  }
  return spec;
}

/**
 * Shape of one sample as the model takes it: [H, W, C] for images, [T, H, W, A + M] for clips
 * (T frames from the video source, motion channels after the appearance ones).
 */
export function sampleShape(spec: PipelineSpec): number[] {
  const i = spec.model.input;
  const src = spec.dataset.source;
  if (src.kind !== 'video') return [i.height, i.width, i.channels];
  return [src.frames, i.height, i.width, i.channels + motionChannels(i.motion)];
}

export async function loadSpec(file: string): Promise<LoadedSpec> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (e) {
    throw new NeurolensError('BAD_SPEC', `${file}: cannot read pipeline spec (${errorMessage(e)})`, { cause: e });
  }
  return { spec: parseSpec(text, file), file: abs, baseDir: path.dirname(abs) };
}
