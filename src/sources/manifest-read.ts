/**
 * Reads a manifest table (CSV/TSV with csv-parse, Parquet with DuckDB) into columns, keeping
 * enough position information (row, and the CSV line) for errors that point at the bad cell.
 */
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { DuckDBInstance } from '@duckdb/node-api';
import { NeurolensError, errorMessage } from '../errors.js';

export type Cell = string | number | bigint | boolean | null;

export interface ManifestTable {
  file: string;
  /** Column names in file order. */
  columns: string[];
  /** Only the wanted columns that exist, each with one cell per row. */
  cells: Map<string, Cell[]>;
  rows: number;
  /** "row 3 (line 4)" for CSV, "row 3" for Parquet; rows count from 1 (after the header). */
  where(row: number): string;
}

export type ManifestFormat = 'csv' | 'tsv' | 'parquet';

export function manifestFormat(file: string): ManifestFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv') return 'tsv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new NeurolensError('BAD_INPUT', `manifest ${file}: unknown format '${ext}' (expected .csv, .tsv or .parquet)`);
}

async function readCsv(file: string, delimiter: string, wanted: string[]): Promise<ManifestTable> {
  const parser = createReadStream(file).pipe(
    parse({ delimiter, bom: true, trim: true, skip_empty_lines: true, info: true }),
  );
  let columns: string[] | null = null;
  const cells = new Map<string, Cell[]>();
  let picks: [string, number][] = [];
  const lines: number[] = [];
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!columns) {
        columns = record;
        picks = wanted.filter((w) => columns!.includes(w)).map((w) => [w, columns!.indexOf(w)]);
        for (const [w] of picks) cells.set(w, []);
        continue;
      }
      lines.push(info.lines);
      for (const [w, i] of picks) cells.get(w)!.push(record[i] === '' ? null : record[i]);
    }
  } catch (e) {
    throw new NeurolensError('BAD_INPUT', `manifest ${file}: not valid CSV: ${errorMessage(e)}`, { cause: e });
  }
  return {
    file,
    columns: columns ?? [],
    cells,
    rows: lines.length,
    where: (row) => `row ${row} (line ${lines[row - 1]})`,
  };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function readParquet(file: string, wanted: string[]): Promise<ManifestTable> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const head = await conn.runAndReadAll('SELECT * FROM read_parquet($1) LIMIT 0', [file]);
    const columns = head.columnNames();
    const picks = wanted.filter((w) => columns.includes(w));
    const cells = new Map<string, Cell[]>();
    let rows = 0;
    if (picks.length > 0) {
      // file_row_number pins the order to the file's row order (sample_id = row order).
      const sql = `SELECT ${picks.map(quoteIdent).join(', ')} FROM read_parquet($1, file_row_number = true) ORDER BY file_row_number`;
      const res = await conn.runAndReadAll(sql, [file]);
      const cols = res.getColumnsJS() as unknown[][];
      picks.forEach((w, i) => cells.set(w, cols[i] as Cell[]));
      rows = res.currentRowCount;
    } else {
      const res = await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM read_parquet($1)', [file]);
      rows = Number(res.getColumnsJS()[0][0]);
    }
    return { file, columns, cells, rows, where: (row) => `row ${row}` };
  } catch (e) {
    throw new NeurolensError('BAD_INPUT', `manifest ${file}: cannot read Parquet: ${errorMessage(e)}`, { cause: e });
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Reads the `wanted` columns of a manifest file (which must exist). */
export async function readManifestTable(file: string, wanted: string[]): Promise<ManifestTable> {
  const format = manifestFormat(file);
  if (format === 'parquet') return readParquet(file, wanted);
  return readCsv(file, format === 'tsv' ? '\t' : ',', wanted);
}
