/**
 * Columns of typed arrays -> Apache Arrow table -> Parquet bytes (parquet-wasm, ZSTD) -> atomic
 * file. Arrow vectors wrap the typed arrays (`makeData`/`makeVector`, no per-row work for
 * numeric columns), the table crosses into wasm once as an IPC stream (DESIGN.md: large ingest
 * goes through typed arrays, never row by row).
 */
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { NeurolensError, errorMessage } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

/** Fixed-size list of float32 (one D-vector per row, row-major in `values`). */
export interface FloatListColumn {
  kind: 'float32_list';
  dim: number;
  values: Float32Array;
}

/** Boolean column given as 0/1 bytes or booleans (explicit, so an empty column keeps its type). */
export interface BoolColumn {
  kind: 'bool';
  values: Uint8Array | boolean[];
}

/** Numeric column with NULLs: `valid[i]` = 0 marks row i as NULL. */
export interface NullableColumn {
  kind: 'nullable';
  values: Int32Array | BigInt64Array | Float32Array | Float64Array;
  valid: Uint8Array;
}

export type ColumnInput =
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | (string | null)[]
  | boolean[]
  | BoolColumn
  | FloatListColumn
  | NullableColumn;

export type Columns = Record<string, ColumnInput>;

export function floatList(values: Float32Array, dim: number): FloatListColumn {
  return { kind: 'float32_list', dim, values };
}

export function bools(values: Uint8Array | boolean[]): BoolColumn {
  return { kind: 'bool', values };
}

export function withNulls(values: NullableColumn['values'], valid: Uint8Array): NullableColumn {
  return { kind: 'nullable', values, valid };
}

/** Rows in a column. */
export function columnLength(col: ColumnInput): number {
  if (Array.isArray(col) || ArrayBuffer.isView(col)) return col.length;
  if (col.kind === 'float32_list') return col.dim > 0 ? col.values.length / col.dim : 0;
  return col.values.length;
}

/** Packs 0/1 flags into an Arrow (LSB-first) bitmap. */
function packBits(n: number, get: (i: number) => boolean): Uint8Array {
  const bits = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) if (get(i)) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

/** Arrow data over a numeric typed array (zero-copy), with an optional validity bitmap. */
function numericData(values: NullableColumn['values'], nullBitmap?: Uint8Array, nullCount = 0): arrow.Data {
  const common = { length: values.length, nullBitmap, nullCount };
  if (values instanceof Int32Array) return arrow.makeData({ type: new arrow.Int32(), data: values, ...common });
  if (values instanceof BigInt64Array) return arrow.makeData({ type: new arrow.Int64(), data: values, ...common });
  if (values instanceof Float32Array) return arrow.makeData({ type: new arrow.Float32(), data: values, ...common });
  return arrow.makeData({ type: new arrow.Float64(), data: values, ...common });
}

function toVector(name: string, col: ColumnInput): arrow.Vector {
  if (col instanceof Int32Array || col instanceof BigInt64Array || col instanceof Float32Array || col instanceof Float64Array) {
    return arrow.makeVector(numericData(col));
  }
  if (Array.isArray(col)) {
    if (col.length > 0 && typeof col.find((v) => v !== null) === 'boolean') return toVector(name, bools(col as boolean[]));
    for (let i = 0; i < col.length; i++) {
      const v = col[i];
      if (v !== null && typeof v !== 'string') {
        throw new NeurolensError('INTERNAL', `column ${name}: row ${i} is ${typeof v}, expected string or null`);
      }
    }
    return arrow.vectorFromArray(col as (string | null)[], new arrow.Utf8());
  }
  if (col.kind === 'bool') {
    const flags = col.values;
    const data = packBits(flags.length, (i) => Boolean(flags[i]));
    return arrow.makeVector(arrow.makeData({ type: new arrow.Bool(), length: flags.length, data }));
  }
  if (col.kind === 'float32_list') {
    if (!Number.isInteger(col.dim) || col.dim <= 0 || col.values.length % col.dim !== 0) {
      throw new NeurolensError('INTERNAL', `column ${name}: ${col.values.length} floats do not split into rows of dim ${col.dim}`);
    }
    const length = col.values.length / col.dim;
    const child = arrow.makeData({ type: new arrow.Float32(), length: col.values.length, data: col.values });
    const type = new arrow.FixedSizeList(col.dim, new arrow.Field('item', new arrow.Float32(), false));
    return arrow.makeVector(arrow.makeData({ type, length, child }));
  }
  const { values, valid } = col;
  if (valid.length !== values.length) {
    throw new NeurolensError('INTERNAL', `column ${name}: validity has ${valid.length} rows, values ${values.length}`);
  }
  let nullCount = 0;
  for (let i = 0; i < valid.length; i++) if (valid[i] === 0) nullCount++;
  const nullBitmap = packBits(valid.length, (i) => valid[i] !== 0);
  return arrow.makeVector(numericData(values, nullBitmap, nullCount));
}

/** Builds an Arrow table; all columns must have the same number of rows. */
export function toArrowTable(columns: Columns): arrow.Table {
  const names = Object.keys(columns);
  if (names.length === 0) throw new NeurolensError('INTERNAL', 'cannot write a Parquet file without columns');
  const rows = columnLength(columns[names[0]!]!);
  const vectors: Record<string, arrow.Vector> = {};
  for (const name of names) {
    const col = columns[name]!;
    const n = columnLength(col);
    if (n !== rows) throw new NeurolensError('INTERNAL', `column ${name} has ${n} rows, column ${names[0]} has ${rows}`);
    vectors[name] = toVector(name, col);
  }
  return new arrow.Table(vectors);
}

export interface EncodeOptions {
  /** Key-value metadata stored in the Parquet footer. */
  metadata?: Record<string, string>;
  /** Columns with min/max statistics (default: all columns). */
  statistics?: readonly string[];
}

/** Encodes columns as Parquet bytes (ZSTD). */
export function encodeParquet(columns: Columns, opts: EncodeOptions = {}): Uint8Array {
  const ipc = arrow.tableToIPC(toArrowTable(columns), 'stream');
  // writeParquet consumes (frees) both wasm objects, so they are built per call.
  const wasmTable = pw.Table.fromIPCStream(ipc);
  // Dictionary encoding is off for numeric columns: on activation statistics (mostly distinct
  // floats) it costs ~2x the encode time for ~7% smaller files; ZSTD does the compressing.
  // Strings (uri, reason, method ...) repeat, so they keep it.
  let builder = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).setDictionaryEnabled(false);
  for (const [name, col] of Object.entries(columns)) if (Array.isArray(col)) builder = builder.setColumnDictionaryEnabled(name, true);
  if (opts.statistics) {
    builder = builder.setStatisticsEnabled(pw.EnabledStatistics.None);
    for (const name of opts.statistics) builder = builder.setColumnStatisticsEnabled(name, pw.EnabledStatistics.Chunk);
  }
  if (opts.metadata) builder = builder.setKeyValueMetadata(new Map(Object.entries(opts.metadata)));
  return pw.writeParquet(wasmTable, builder.build());
}

export interface WrittenFile {
  path: string;
  rows: number;
  bytes: number;
}

/**
 * Writes `columns` as a Parquet file at `path` atomically (temp name, fsync, rename, fsync dir):
 * a crash never leaves a partial file under the final name.
 */
export async function writeParquetAtomic(path: string, columns: Columns, opts: EncodeOptions = {}): Promise<WrittenFile> {
  let bytes: Uint8Array;
  try {
    bytes = encodeParquet(columns, opts);
  } catch (e) {
    if (e instanceof NeurolensError) throw e;
    throw new NeurolensError('IO', `cannot encode Parquet for ${path}: ${errorMessage(e)}`, { cause: e });
  }
  const size = await writeFileAtomic(path, bytes);
  const first = Object.values(columns)[0]!;
  return { path, rows: columnLength(first), bytes: size };
}
