/**
 * The `embed:` section of a pipeline spec: layouts to compute after a run (run-section.ts runs
 * them). Only zod here, so the spec schema (src/pipeline/spec.ts) can import it without loading
 * the embedding algorithms. Same names and meanings as the `neurolens embed` options.
 */
import { z } from 'zod';

export const EMBED_METHODS = ['tsne', 'umap', 'pca'] as const;
export type EmbedMethod = (typeof EMBED_METHODS)[number];

export const EmbedEntrySchema = z
  .object({
    /** Layer whose codes to embed: one of the spec's `codes`. */
    layer: z.string().min(1),
    method: z.enum(EMBED_METHODS).default('tsne'),
    /** Stratified sample size; the other points are placed by kNN interpolation (>= n: all points). */
    sample: z.number().int().positive().optional(),
    seed: z.number().int().nonnegative().default(0),
    perplexity: z.number().positive().optional(),
    neighbors: z.number().int().min(2).optional(),
    iterations: z.number().int().positive().optional(),
    /** 'last': the latest step with codes of the layer; 'all': every step the run processed. */
    steps: z.enum(['last', 'all']).default('last'),
  })
  .strict();

export const EmbedSectionSchema = z.array(EmbedEntrySchema).default([]);

export type EmbedEntry = z.infer<typeof EmbedEntrySchema>;
export type EmbedSection = z.infer<typeof EmbedSectionSchema>;
