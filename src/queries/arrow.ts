/**
 * A query result (ColumnarResult: DuckDB type names + JS values) as an Apache Arrow table, typed
 * from the DuckDB type names: integers, floats, booleans, strings, dates and timestamps map to
 * their Arrow types, `T[]` to List<T>, `T[N]` to FixedSizeList<N, T> (codes stay FLOAT[D]).
 * STRUCT, MAP, UNION, INTERVAL and HUGEINT values become text (JSON for nested values), which
 * every Arrow and Parquet reader understands.
 */
import * as arrow from 'apache-arrow';
import type { ColumnarResult } from '../storage/store.js';

interface Mapping {
  type: arrow.DataType;
  /** JS value from DuckDB (never null here) -> value the Arrow builder takes. */
  convert: (v: unknown) => unknown;
}

const same = (v: unknown) => v;

/** JSON text of any DuckDB JS value (bigint as number when safe, else as a string). */
export function jsonText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => jsonSafe(x));
}

/** A DuckDB JS value made JSON-safe: bigint -> number (string beyond 2^53), Date -> ISO, bytes -> base64. */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  return v;
}

const SCALARS: Record<string, () => Mapping> = {
  BOOLEAN: () => ({ type: new arrow.Bool(), convert: same }),
  TINYINT: () => ({ type: new arrow.Int8(), convert: Number }),
  SMALLINT: () => ({ type: new arrow.Int16(), convert: Number }),
  INTEGER: () => ({ type: new arrow.Int32(), convert: Number }),
  BIGINT: () => ({ type: new arrow.Int64(), convert: (v) => BigInt(v as bigint) }),
  UTINYINT: () => ({ type: new arrow.Uint8(), convert: Number }),
  USMALLINT: () => ({ type: new arrow.Uint16(), convert: Number }),
  UINTEGER: () => ({ type: new arrow.Uint32(), convert: Number }),
  UBIGINT: () => ({ type: new arrow.Uint64(), convert: (v) => BigInt(v as bigint) }),
  FLOAT: () => ({ type: new arrow.Float32(), convert: Number }),
  DOUBLE: () => ({ type: new arrow.Float64(), convert: Number }),
  VARCHAR: () => ({ type: new arrow.Utf8(), convert: String }),
  UUID: () => ({ type: new arrow.Utf8(), convert: String }),
  JSON: () => ({ type: new arrow.Utf8(), convert: String }),
  BLOB: () => ({ type: new arrow.Binary(), convert: same }),
  DATE: () => ({ type: new arrow.DateDay(), convert: (v) => (v as Date).getTime() }),
  TIMESTAMP: () => ({ type: new arrow.TimestampMillisecond(), convert: (v) => (v as Date).getTime() }),
  'TIMESTAMP WITH TIME ZONE': () => ({ type: new arrow.TimestampMillisecond('UTC'), convert: (v) => (v as Date).getTime() }),
};

/** Arrow type and value conversion for a DuckDB type name. */
export function arrowMapping(duckType: string): Mapping {
  const t = duckType.trim();
  const list = /^(.*)\[(\d*)\]$/.exec(t);
  if (list && !t.startsWith('STRUCT(') && !t.startsWith('MAP(') && !t.startsWith('UNION(')) {
    const inner = arrowMapping(list[1]!);
    const field = new arrow.Field('item', inner.type, true);
    const convert = (v: unknown) => (v as unknown[]).map((x) => (x === null || x === undefined ? null : inner.convert(x)));
    return list[2] ? { type: new arrow.FixedSizeList(Number(list[2]), field), convert } : { type: new arrow.List(field), convert };
  }
  const scalar = SCALARS[t];
  if (scalar) return scalar();
  if (t.startsWith('DECIMAL')) return { type: new arrow.Float64(), convert: Number };
  if (t.startsWith('ENUM')) return { type: new arrow.Utf8(), convert: String };
  if (t.startsWith('TIMESTAMP')) return { type: new arrow.TimestampMillisecond(), convert: (v) => (v as Date).getTime() };
  return { type: new arrow.Utf8(), convert: jsonText };
}

/** Arrow data of one column: typed arrays for INTEGER/FLOAT/DOUBLE without NULLs, a builder otherwise. */
function columnData(values: unknown[], m: Mapping): arrow.Data {
  const noNulls = values.every((v) => v !== null && v !== undefined);
  if (noNulls && m.type instanceof arrow.Int32) return arrow.makeVector(Int32Array.from(values as number[])).data[0]!;
  if (noNulls && m.type instanceof arrow.Float32) return arrow.makeVector(Float32Array.from(values as number[])).data[0]!;
  if (noNulls && m.type instanceof arrow.Float64) return arrow.makeVector(Float64Array.from(values as number[])).data[0]!;
  const b = arrow.makeBuilder({ type: m.type, nullValues: [null, undefined] });
  for (const v of values) b.append(v === null || v === undefined ? null : m.convert(v));
  return b.finish().flush();
}

/** The result as one Arrow record batch (column order and names as in the result). */
export function toArrow(result: ColumnarResult): arrow.Table {
  const fields: arrow.Field[] = [];
  const children: arrow.Data[] = [];
  for (const c of result.columns) {
    const m = arrowMapping(c.type);
    const values = result.data[c.name] ?? [];
    fields.push(new arrow.Field(c.name, m.type, true));
    children.push(columnData(values, m));
  }
  const schema = new arrow.Schema(fields);
  const data = arrow.makeData({ type: new arrow.Struct(fields), length: result.rowCount, nullCount: 0, children });
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, data)]);
}
