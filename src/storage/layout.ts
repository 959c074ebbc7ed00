/**
 * Deterministic paths inside a store (DESIGN.md "Storage"):
 *   <store>/<table>/dataset=<D>/model=<M>/step=<S>/layer=<L>/shard-<NNNNN>.parquet
 *   <store>/<table>/.../part-0.parquet                         (finalized tables)
 *   <store>/_commits/<model>/<step>/<dataset>/shard-<NNNNN>.json
 * The same (table, partition, shard) always maps to the same file, so a re-run replaces and
 * never duplicates. Partition values are percent-encoded path segments: GraphModel node names
 * such as `block_1/conv` contain '/', and DuckDB's hive partitioning URL-decodes `key=value`
 * segments, so views show the original names with no extra decoding.
 */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { PARTITION_ORDER, TABLES, isTableName, type PartitionKey, type TableName } from './schemas.js';

export const COMMITS_DIR = '_commits';
export const RUNS_DIR = 'runs';
export const CATALOG_FILE = 'catalog.sql';
/** File name of a finalized (merged) part. */
export const FINAL_PART = 'part-0.parquet';

/** Partition values of one part; which keys are needed depends on the table. */
export interface Partition {
  dataset: string;
  model?: string;
  step?: number;
  layer?: string;
}

/** Identifies one shard of work: its commit file and the parts it lists. */
export interface ShardKey {
  dataset: string;
  model: string;
  step: number;
  shard: number;
}

/** Characters kept as is; everything else (incl. '/', '%', '=', '+', space) is %XX-encoded. */
const SAFE = /^[A-Za-z0-9_.-]$/;

/**
 * Encodes a partition value as one safe path segment (reversible with decodeSegment). A leading
 * '.' is encoded too so a segment can never be '.', '..' or a hidden (temporary) name.
 */
export function encodeSegment(value: string, what = 'partition value'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new NeurolensError('BAD_SPEC', `${what} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    const keep = byte < 0x80 && SAFE.test(ch) && !(out.length === 0 && ch === '.');
    out += keep ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (e) {
    throw new NeurolensError('IO', `bad percent-encoding in store path segment ${JSON.stringify(segment)}`, { cause: e });
  }
}

function checkStep(step: unknown, what: string): number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) {
    throw new NeurolensError('BAD_SPEC', `${what}: step must be a non-negative integer, got ${String(step)}`);
  }
  return step;
}

function checkShard(shard: unknown): number {
  if (typeof shard !== 'number' || !Number.isSafeInteger(shard) || shard < 0) {
    throw new NeurolensError('BAD_SPEC', `shard must be a non-negative integer, got ${String(shard)}`);
  }
  return shard;
}

/** `shard-00012.parquet` (zero-padded to 5 digits; larger numbers simply get more digits). */
export function shardFileName(shard: number, ext = 'parquet'): string {
  return `shard-${String(checkShard(shard)).padStart(5, '0')}.${ext}`;
}

/** Relative ('/'-separated) directory of a table partition, e.g. `activations/dataset=d/model=m/step=3/layer=a%2Fb`. */
export function partitionRelDir(table: TableName, partition: Partition): string {
  const def = TABLES[table];
  const segs: string[] = [table];
  for (const key of PARTITION_ORDER) {
    const value = partition[key];
    const needed = def.partitionKeys.includes(key);
    if (!needed) {
      if (value !== undefined) {
        throw new NeurolensError('INTERNAL', `table ${table} is not partitioned by ${key} (got ${key}=${String(value)})`);
      }
      continue;
    }
    if (value === undefined) throw new NeurolensError('INTERNAL', `table ${table} needs partition key ${key}`);
    const text = key === 'step' ? String(checkStep(value, table)) : encodeSegment(value as string, `${table} ${key}`);
    segs.push(`${key}=${text}`);
  }
  return segs.join('/');
}

/** A part file location: `rel` is relative to the store ('/'-separated), `abs` absolute. */
export interface PartLocation {
  rel: string;
  abs: string;
}

export function partPath(store: string, table: TableName, partition: Partition, file: string): PartLocation {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*\.parquet$/.test(file)) {
    throw new NeurolensError('INTERNAL', `bad part file name ${JSON.stringify(file)}`);
  }
  const rel = `${partitionRelDir(table, partition)}/${file}`;
  return { rel, abs: path.join(path.resolve(store), ...rel.split('/')) };
}

export function shardPartPath(store: string, table: TableName, partition: Partition, shard: number): PartLocation {
  return partPath(store, table, partition, shardFileName(shard));
}

export function finalPartPath(store: string, table: TableName, partition: Partition): PartLocation {
  return partPath(store, table, partition, FINAL_PART);
}

/** Relative path of a shard's commit file: `_commits/<model>/<step>/<dataset>/shard-NNNNN.json`. */
export function commitRelPath(key: ShardKey): string {
  return [
    COMMITS_DIR,
    encodeSegment(key.model, 'model'),
    String(checkStep(key.step, 'commit')),
    encodeSegment(key.dataset, 'dataset'),
    shardFileName(key.shard, 'json'),
  ].join('/');
}

export function commitPath(store: string, key: ShardKey): string {
  return path.join(path.resolve(store), ...commitRelPath(key).split('/'));
}

/** Number of path components of a part path relative to the store (table dir + keys + file). */
export function partDepth(table: TableName): number {
  return TABLES[table].partitionKeys.length + 2;
}

/** Glob (relative to the store) of a table's part files. Temporary files never end in .parquet. */
export function tableGlob(table: TableName): string {
  return [table, ...TABLES[table].partitionKeys.map(() => '*'), '*.parquet'].join('/');
}

/** Parses a relative part path back into table, decoded partition and file name. */
export function parsePartPath(rel: string): { table: TableName; partition: Partition; file: string } {
  const segs = rel.split('/');
  const table = segs[0] ?? '';
  if (!isTableName(table) || segs.length !== partDepth(table)) {
    throw new NeurolensError('IO', `not a part path of a known table: ${JSON.stringify(rel)}`);
  }
  const partition: Partition = { dataset: '' };
  TABLES[table].partitionKeys.forEach((key: PartitionKey, i) => {
    const seg = segs[i + 1] ?? '';
    const prefix = `${key}=`;
    if (!seg.startsWith(prefix)) throw new NeurolensError('IO', `part path ${JSON.stringify(rel)}: expected ${prefix}...`);
    const value = decodeSegment(seg.slice(prefix.length));
    if (key === 'step') partition.step = Number(value);
    else partition[key] = value;
  });
  return { table, partition, file: segs[segs.length - 1] ?? '' };
}
