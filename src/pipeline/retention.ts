/**
 * What a run keeps per tapped layer (spec `retention`), and the store-size estimate that picks
 * the default and refuses a run the disk cannot hold.
 *
 * - `rows`: per-sample rows in `activations` (sample x neuron: max, mean, zero_frac, argmax), as
 *   before; every question can be asked, at ~13 bytes per row in Parquet.
 * - `summary`: no per-sample rows; the mergeable per-shard partials every layer gets anyway
 *   (neuron_stats, exact top-k, per-class statistics, a DDSketch of the per-sample maxima) answer
 *   dead units, sparsity, selectivity, confusion neurons, top-k up to the spec's k, quantiles.
 * - `sample`: rows for a deterministic hash sample of the samples (the same sample ids at every
 *   checkpoint, so they join over training), `rate` of them.
 * `auto` (the default) keeps rows while the estimated rows fit the budget, and turns the layers
 * with the most rows per sample into summaries until they do.
 */
import { statfs } from 'node:fs/promises';
import picomatch from 'picomatch';
import { z } from 'zod';
import { NeurolensError } from '../errors.js';

export const RetentionModeSchema = z.union([z.enum(['rows', 'summary']), z.object({ sample: z.number().gt(0).lte(1) }).strict()]);

export const RetentionSchema = z
  .object({
    /** Layers no `layers` pattern names: auto (rows while they fit the budget) | rows | summary. */
    default: z.enum(['auto', 'rows', 'summary']).default('auto'),
    /** Layer name or glob -> rows | summary | { sample: rate }; the first matching pattern wins. */
    layers: z.record(z.string().min(1), RetentionModeSchema).default({}),
    /** Largest store the per-sample rows of `auto` layers may take, e.g. '20GB', '500MB'; default: half the free disk. */
    budget: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB)$/i, "a size such as '500MB' or '20GB'")
      .optional(),
  })
  .strict()
  .default({});

export type RetentionSpec = z.infer<typeof RetentionSchema>;
export type LayerRetention = { mode: 'rows' } | { mode: 'summary' } | { mode: 'sample'; rate: number };

/** Bytes of one `activations` row in Parquet (measured: ~13 with ZSTD; 16 keeps a margin). */
export const ROW_BYTES = 16;
/** Bytes per (shard, neuron) of the summary partials and their finals (stats, top-k, class, sketch). */
export const SUMMARY_BYTES_PER_NEURON_SHARD = 64;

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)$/i.exec(s.trim());
  if (!m) throw new NeurolensError('BAD_SPEC', `'${s}' is not a size such as '500MB' or '20GB'`);
  return Number(m[1]) * UNITS[m[2].toUpperCase()];
}

export function formatBytes(n: number): string {
  const [u, d] = n >= 1e12 ? ['TB', 1e12] : n >= 1e9 ? ['GB', 1e9] : n >= 1e6 ? ['MB', 1e6] : n >= 1e3 ? ['KB', 1e3] : ['B', 1];
  return `${(n / d).toFixed(n >= d * 100 || d === 1 ? 0 : 1)} ${u}`;
}

export interface LayerSize {
  layer: string;
  channels: number;
}

export interface RetentionPlan {
  /** Per tapped layer, in tap order. */
  layers: { layer: string; channels: number; retention: LayerRetention; bytes: number }[];
  /** Estimated bytes this run adds to the store. */
  bytes: number;
  budget: number;
  free: number;
  /** Human-readable lines: the estimate and what `auto` chose. */
  lines: string[];
}

function explicitMode(spec: RetentionSpec, layer: string): LayerRetention | 'auto' {
  for (const [pattern, mode] of Object.entries(spec.layers)) {
    // The options layer globs are resolved with (src/model/layers.ts), so a pattern means the same layers in both.
    if (pattern === layer || picomatch.isMatch(layer, pattern, { dot: true })) return typeof mode === 'string' ? { mode } : { mode: 'sample', rate: mode.sample };
  }
  return spec.default === 'auto' ? 'auto' : { mode: spec.default };
}

/**
 * The retention of every tapped layer for a run over `samples` samples and `checkpoints`
 * checkpoints (`passes` = passes per checkpoint: 1 + stream ablations), and the store bytes it
 * adds. Refuses (IO) when even that does not fit the free disk.
 */
export async function planRetention(
  spec: RetentionSpec,
  layers: LayerSize[],
  o: { samples: number; checkpoints: number; passes: number; shardSize: number; store: string },
): Promise<RetentionPlan> {
  const free = await freeBytes(o.store);
  const budget = spec.budget ? parseSize(spec.budget) : free / 2;
  const runs = o.checkpoints * o.passes;
  const shards = Math.ceil(o.samples / o.shardSize);
  const rowsBytes = (l: LayerSize, rate = 1) => Math.ceil(o.samples * rate) * l.channels * ROW_BYTES * runs;
  const summaryBytes = (l: LayerSize) => l.channels * SUMMARY_BYTES_PER_NEURON_SHARD * (shards + 1) * runs;
  const layerBytes = (l: LayerSize, r: LayerRetention) => summaryBytes(l) + (r.mode === 'rows' ? rowsBytes(l) : r.mode === 'sample' ? rowsBytes(l, r.rate) : 0);
  const chosen = layers.map((l) => ({ ...l, explicit: explicitMode(spec, l.layer) }));
  const fixed = chosen.reduce((n, l) => (l.explicit === 'auto' ? n : n + layerBytes(l, l.explicit)), 0);
  const auto = chosen.filter((l) => l.explicit === 'auto');
  // auto: rows while they fit; the layers with the most rows per sample turn into summaries first.
  const summarized = new Set<string>();
  const allAutoRows = auto.reduce((n, l) => n + layerBytes(l, { mode: 'rows' }), 0);
  let autoBytes = allAutoRows;
  for (const l of [...auto].sort((a, b) => b.channels - a.channels || (a.layer < b.layer ? -1 : 1))) {
    if (fixed + autoBytes <= budget) break;
    summarized.add(l.layer);
    autoBytes -= rowsBytes(l);
  }
  const plan = chosen.map((l) => {
    const retention: LayerRetention = l.explicit !== 'auto' ? l.explicit : summarized.has(l.layer) ? { mode: 'summary' } : { mode: 'rows' };
    return { layer: l.layer, channels: l.channels, retention, bytes: layerBytes(l, retention) };
  });
  const bytes = plan.reduce((n, l) => n + l.bytes, 0);
  const count = (m: string) => plan.filter((l) => l.retention.mode === m).length;
  const lines = [
    `store estimate: ${formatBytes(bytes)} for ${o.samples} samples x ${o.checkpoints} checkpoint(s)${o.passes > 1 ? ` x ${o.passes} passes` : ''} (${count('rows')} layer(s) with rows, ${count('sample')} sampled, ${count('summary')} summary only); budget ${formatBytes(budget)}, ${formatBytes(free)} free`,
  ];
  if (summarized.size) {
    lines.push(`retention auto: per-sample rows of every layer would take ${formatBytes(fixed + allAutoRows)}; summary only for ${[...summarized].join(', ')} (set retention.layers or retention.budget to choose)`);
  }
  if (bytes > free) {
    throw new NeurolensError(
      'IO',
      `${lines[0]}: the disk of ${o.store} has ${formatBytes(free)} free, the run needs about ${formatBytes(bytes)}. Keep summaries only (retention: { default: summary }), sample rows (retention.layers: { 'conv*': { sample: 0.01 } }), tap fewer layers, or free space. Nothing was written.`,
    );
  }
  return { layers: plan, bytes, budget, free, lines };
}

/** Free bytes on the file system that holds `dir` (or its nearest existing parent). */
async function freeBytes(dir: string): Promise<number> {
  let d = dir;
  for (;;) {
    try {
      const s = await statfs(d);
      return s.bavail * s.bsize;
    } catch (e) {
      const parent = d.replace(/\/[^/]*\/?$/, '') || '/';
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === d) throw new NeurolensError('IO', `cannot read the free space of ${dir}: ${(e as Error).message}`, { cause: e });
      d = parent;
    }
  }
}

/** Deterministic sample selection for `sample` retention: the same ids at every checkpoint. */
export function keepsRow(sampleId: number, rate: number): boolean {
  if (rate >= 1) return true;
  // splitmix32-style integer hash of the id -> [0, 1).
  let h = (sampleId + 0x9e3779b9) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296 < rate;
}
