/**
 * Query results in the output formats of `neurolens query` / `sql` and the HTTP server:
 *   table   aligned text (src/cli/table.ts)
 *   csv     RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF quoted, quotes doubled;
 *           NULL is an empty field, lists and structs are JSON text
 *   json    one array of row objects (BIGINT as a number when exact, else a string; lists as arrays)
 *   ndjson  one row object per line
 *   arrow   Arrow IPC stream (arrow.ts types the columns from the DuckDB type names)
 *   parquet Parquet (ZSTD) written from the same Arrow table by parquet-wasm
 */
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm';
import { formatTable } from '../cli/table.js';
import { NeurolensError, errorMessage } from '../errors.js';
import type { ColumnarResult } from '../storage/store.js';
import { jsonSafe, jsonText, toArrow } from './arrow.js';

export const FORMATS = ['table', 'csv', 'json', 'ndjson', 'arrow', 'parquet'] as const;
export type OutputFormat = (typeof FORMATS)[number];

/** Formats whose output is bytes, not text. */
export const BINARY_FORMATS: readonly OutputFormat[] = ['arrow', 'parquet'];

/** MIME types, for HTTP responses. */
export const FORMAT_MIME: Record<OutputFormat, string> = {
  table: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  arrow: 'application/vnd.apache.arrow.stream',
  parquet: 'application/vnd.apache.parquet',
};

export function isOutputFormat(f: string): f is OutputFormat {
  return (FORMATS as readonly string[]).includes(f);
}

/** Row objects in column order (JS values as DuckDB returned them). */
export function resultRows(result: ColumnarResult): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < result.rowCount; i++) {
    const row: Record<string, unknown> = {};
    for (const c of result.columns) row[c.name] = result.data[c.name]?.[i] ?? null;
    rows.push(row);
  }
  return rows;
}

function jsonRow(result: ColumnarResult, i: number): string {
  const row: Record<string, unknown> = {};
  for (const c of result.columns) row[c.name] = result.data[c.name]?.[i] ?? null;
  return JSON.stringify(row, (_k, v) => jsonSafe(v));
}

function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') s = String(v);
  else if (v instanceof Date) s = v.toISOString();
  else s = jsonText(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(result: ColumnarResult): string {
  const lines = [result.columns.map((c) => csvField(c.name)).join(',')];
  for (let i = 0; i < result.rowCount; i++) lines.push(result.columns.map((c) => csvField(result.data[c.name]?.[i])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function toText(result: ColumnarResult): string {
  if (result.rowCount === 0) return `(no rows; columns: ${result.columns.map((c) => c.name).join(', ')})\n`;
  // Dates and bytes read better as ISO text / base64 than as JSON objects.
  const rows = resultRows(result).map((r) => {
    for (const k of Object.keys(r)) if (r[k] instanceof Date || r[k] instanceof Uint8Array) r[k] = jsonSafe(r[k]);
    return r;
  });
  return `${formatTable(rows)}\n`;
}

/** Parquet bytes of an Arrow table (ZSTD, as the store's own parts). */
export function arrowToParquet(table: arrow.Table): Uint8Array {
  // writeParquet consumes the wasm table and properties.
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  return pw.writeParquet(wasmTable, new pw.WriterPropertiesBuilder().setCompression(pw.Compression.ZSTD).build());
}

/** The result in `format`: text for table/csv/json/ndjson, bytes for arrow/parquet. */
export function formatResult(result: ColumnarResult, format: OutputFormat): Uint8Array | string {
  switch (format) {
    case 'table':
      return toText(result);
    case 'csv':
      return toCsv(result);
    case 'json': {
      const rows = Array.from({ length: result.rowCount }, (_, i) => jsonRow(result, i));
      return `[${rows.join(',\n')}]\n`;
    }
    case 'ndjson':
      return Array.from({ length: result.rowCount }, (_, i) => `${jsonRow(result, i)}\n`).join('');
    case 'arrow':
      return arrow.tableToIPC(toArrow(result), 'stream');
    case 'parquet':
      try {
        return arrowToParquet(toArrow(result));
      } catch (e) {
        throw new NeurolensError('INTERNAL', `cannot encode the result as Parquet: ${errorMessage(e)}`, { cause: e });
      }
    default:
      throw new NeurolensError('BAD_QUERY', `unknown format '${String(format)}' (formats: ${FORMATS.join(', ')})`);
  }
}
