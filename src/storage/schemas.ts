/**
 * The tables of a store and their columns (DESIGN.md "Storage"). One definition drives the
 * Parquet part checks (parts.ts), the typed empty views of a fresh store and the column casts
 * of every view (catalog.ts), so a file, a view and a query agree on names and types.
 */

/** Physical column types. FLOAT_ARRAY is a fixed-size list of float32 (FLOAT[D] in DuckDB). */
export type ColumnType = 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'VARCHAR' | 'BOOLEAN' | 'FLOAT_ARRAY';

export interface ColumnDef {
  name: string;
  type: ColumnType;
  /** May hold NULLs (Parquet OPTIONAL). */
  nullable?: boolean;
  /** May be absent from a part file; the view then shows NULL (e.g. clip info of image datasets). */
  optional?: boolean;
}

/** Hive partition keys, in path order. */
export type PartitionKey = 'dataset' | 'model' | 'step' | 'layer';
export const PARTITION_ORDER: readonly PartitionKey[] = ['dataset', 'model', 'step', 'layer'];

export interface TableDef {
  name: TableName;
  columns: readonly ColumnDef[];
  partitionKeys: readonly PartitionKey[];
  /**
   * Written per shard: the views show only parts listed in commit files (commit.ts), so a
   * half-written or superseded shard is never visible. Other tables are written whole at
   * finalize (one atomic `part-0.parquet` per partition) and are visible as soon as renamed.
   */
  perShard: boolean;
  /**
   * Columns that get Parquet min/max statistics (default: all). Computing them is ~60% of the
   * Parquet writer's time on activation rows, and on a column whose every row group holds the
   * full range (channel, max, mean, ...) DuckDB cannot skip anything with them.
   */
  statistics?: readonly string[];
}

export const TABLE_NAMES = [
  'samples',
  'activations',
  'codes',
  'neuron_stats',
  'neuron_stats_partial',
  'topk',
  'topk_partial',
  'predictions',
  'embeddings',
  'errors',
  'occlusion',
  'class_stats',
  'class_stats_partial',
  'max_sketch',
  'max_sketch_partial',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

const i32 = (name: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type: 'INT32', ...extra });
const i64 = (name: string): ColumnDef => ({ name, type: 'INT64' });
const f32 = (name: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type: 'FLOAT', ...extra });
const f64 = (name: string): ColumnDef => ({ name, type: 'DOUBLE' });
const str = (name: string, extra: Partial<ColumnDef> = {}): ColumnDef => ({ name, type: 'VARCHAR', ...extra });

const DMSL: readonly PartitionKey[] = ['dataset', 'model', 'step', 'layer'];
const DMS: readonly PartitionKey[] = ['dataset', 'model', 'step'];

/** Position of a sample's maximum (t, y, x) over the pooled axes. */
const ARGMAX = [i32('argmax_t'), i32('argmax_y'), i32('argmax_x')];

/**
 * Mergeable per-neuron state (Chan et al. parallel variance: count, mean, m2 combine exactly).
 * `count` = samples seen, `positions` = pooled positions seen (count * T*H*W), `mean`/`m2` over
 * positions, `zero_count` = positions exactly 0, `active_count` = samples whose max > eps.
 */
const NEURON_STATE = [
  i32('channel'),
  i64('count'),
  i64('positions'),
  f64('mean'),
  f64('m2'),
  f32('min'),
  f32('max'),
  i64('zero_count'),
  i64('active_count'),
];

const TOPK = [i32('channel'), i32('rank'), f32('value'), i32('sample_id'), ...ARGMAX];

/**
 * Per (neuron, class) over the samples of that class (src/stats/class-stats.ts): count, Chan et
 * al. mean and M2 of the per-sample MEAN activation, sum and max of the per-sample MAX, samples
 * whose max > eps. Class selectivity and confusion neurons read these, for every layer.
 */
const CLASS_STATE = [i32('channel'), i32('label'), i64('count'), f64('mean'), f64('m2'), f64('sum_max'), f32('max'), i64('active_count')];

/**
 * DDSketch buckets of the per-sample MAX of every neuron (src/stats/max-sketch.ts): sign -1 / 0
 * (zero count, key 0) / +1, key, count; min/max exact per channel (repeated on its rows).
 */
const SKETCH = [i32('channel'), i32('sign'), i32('key'), i64('count'), f32('min'), f32('max')];

/** Share of samples with per-sample rows in `activations`: 1 rows, 0 summary only, else a hash sample. */
const ROWS_RATE: ColumnDef = { name: 'rows_rate', type: 'DOUBLE', nullable: true, optional: true };

export const TABLES: Record<TableName, TableDef> = {
  samples: {
    name: 'samples',
    columns: [
      i32('sample_id'),
      str('uri'),
      i32('label', { nullable: true }),
      str('split', { nullable: true }),
      i32('video_start', { nullable: true, optional: true }),
      i32('video_frames', { nullable: true, optional: true }),
      i32('video_stride', { nullable: true, optional: true }),
    ],
    partitionKeys: ['dataset'],
    perShard: false,
  },
  activations: {
    name: 'activations',
    // TensorBoard zero_fraction: share of positions exactly 0.
    columns: [i32('sample_id'), i32('channel'), f32('max'), f32('mean'), f32('zero_frac'), ...ARGMAX],
    partitionKeys: DMSL,
    perShard: true,
    // A part holds one shard's contiguous sample range: sample_id ranges let a scan skip parts.
    statistics: ['sample_id'],
  },
  codes: {
    name: 'codes',
    columns: [i32('sample_id'), { name: 'code', type: 'FLOAT_ARRAY' }],
    partitionKeys: DMSL,
    perShard: true,
  },
  neuron_stats: {
    name: 'neuron_stats',
    columns: [
      ...NEURON_STATE.slice(0, 4), // channel, count, positions, mean
      f64('std'),
      f32('min'),
      f32('max'),
      f64('zero_frac'),
      f64('active_frac'),
      // CS231n "dead": max <= eps over the whole dataset.
      { name: 'dead', type: 'BOOLEAN' },
      f64('m2'),
      i64('zero_count'),
      i64('active_count'),
      ROWS_RATE,
    ],
    partitionKeys: DMSL,
    perShard: false,
  },
  neuron_stats_partial: { name: 'neuron_stats_partial', columns: [...NEURON_STATE, ROWS_RATE], partitionKeys: DMSL, perShard: true },
  class_stats: { name: 'class_stats', columns: CLASS_STATE, partitionKeys: DMSL, perShard: false },
  class_stats_partial: { name: 'class_stats_partial', columns: CLASS_STATE, partitionKeys: DMSL, perShard: true },
  max_sketch: { name: 'max_sketch', columns: SKETCH, partitionKeys: DMSL, perShard: false },
  max_sketch_partial: { name: 'max_sketch_partial', columns: SKETCH, partitionKeys: DMSL, perShard: true },
  topk: { name: 'topk', columns: TOPK, partitionKeys: DMSL, perShard: false },
  topk_partial: { name: 'topk_partial', columns: TOPK, partitionKeys: DMSL, perShard: true },
  predictions: {
    name: 'predictions',
    // label_prob: the probability of the true label (NULL when unknown), for the loss -ln p(label).
    columns: [i32('sample_id'), i32('label', { nullable: true }), i32('pred'), f32('prob'), f32('label_prob', { nullable: true, optional: true })],
    partitionKeys: DMS,
    perShard: true,
  },
  embeddings: {
    name: 'embeddings',
    // params: the method's parameters as canonical JSON (perplexity, seed, ...).
    columns: [str('method'), str('params'), i32('sample_id'), f32('x'), f32('y')],
    partitionKeys: DMSL,
    perShard: false,
  },
  errors: {
    name: 'errors',
    columns: [i32('sample_id'), str('uri', { nullable: true }), str('stage'), str('reason')],
    partitionKeys: DMS,
    perShard: true,
  },
  occlusion: {
    name: 'occlusion',
    // Coarse occlusion maps (Zeiler & Fergus 2014; src/explain/occlusion-map.ts): drop[gy * grid_w + gx]
    // = score - score with the patch at (gy * stride, gx * stride) set to fill; score = the class
    // probability of the unoccluded sample. One atomic part per (class, patch, stride, fill, shard):
    // the rename is the commit, so the table is not listed in shard commits.
    columns: [
      i32('sample_id'),
      i32('class'),
      i32('patch'),
      i32('stride'),
      f32('fill'),
      i32('grid_h'),
      i32('grid_w'),
      f32('score'),
      { name: 'drop', type: 'FLOAT_ARRAY' },
    ],
    partitionKeys: DMS,
    perShard: false,
  },
};

export function isTableName(name: string): name is TableName {
  return (TABLE_NAMES as readonly string[]).includes(name);
}

/** DuckDB SQL type of a column; `dim` makes FLOAT_ARRAY a fixed-size FLOAT[dim]. */
export function sqlType(type: ColumnType, dim?: number): string {
  switch (type) {
    case 'INT32':
      return 'INTEGER';
    case 'INT64':
      return 'BIGINT';
    case 'FLOAT':
      return 'FLOAT';
    case 'DOUBLE':
      return 'DOUBLE';
    case 'VARCHAR':
      return 'VARCHAR';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'FLOAT_ARRAY':
      return dim === undefined ? 'FLOAT[]' : `FLOAT[${dim}]`;
  }
}

/** SQL type of a hive partition column (step is an integer checkpoint step). */
export function partitionSqlType(key: PartitionKey): string {
  return key === 'step' ? 'BIGINT' : 'VARCHAR';
}
