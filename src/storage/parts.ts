/**
 * Schema-checked part files: the columns handed to the writer must be exactly the table's
 * columns (schemas.ts) with the right typed arrays, so a view never meets a file with a
 * missing, extra or mistyped column. Returns the PartRecord a shard commit lists.
 */
import { NeurolensError } from '../errors.js';
import { partPath, shardFileName, FINAL_PART, type Partition } from './layout.js';
import { bools, columnLength, writeParquetAtomic, type ColumnInput, type Columns } from './parquet-writer.js';
import { TABLES, type ColumnDef, type TableName } from './schemas.js';

/** One written part file, as listed in a commit (commit.ts). */
export interface PartRecord {
  table: TableName;
  /** Relative to the store, '/'-separated. */
  path: string;
  rows: number;
  bytes: number;
  /** Width D of the table's FLOAT[D] column (codes), so the catalog can type the view. */
  dim?: number;
}

function describe(col: ColumnInput): string {
  if (Array.isArray(col)) return `array of ${col.length > 0 ? typeof col.find((v) => v !== null) : 'nothing'}`;
  if (ArrayBuffer.isView(col)) return col.constructor.name;
  return col.kind === 'nullable' ? `nullable ${col.values.constructor.name}` : col.kind;
}

/** Checks one column against its definition; returns the column in writer form. */
function checkColumn(table: TableName, def: ColumnDef, col: ColumnInput): ColumnInput {
  const bad = (): never => {
    throw new NeurolensError('INTERNAL', `${table}.${def.name}: expected ${def.type}${def.nullable ? ' (nullable)' : ''}, got ${describe(col)}`);
  };
  const numeric: Record<string, Function> = { INT32: Int32Array, INT64: BigInt64Array, FLOAT: Float32Array, DOUBLE: Float64Array };
  switch (def.type) {
    case 'INT32':
    case 'INT64':
    case 'FLOAT':
    case 'DOUBLE': {
      const ctor = numeric[def.type]!;
      if (col instanceof ctor) return col;
      if (def.nullable && !Array.isArray(col) && !ArrayBuffer.isView(col) && col.kind === 'nullable' && col.values instanceof ctor) return col;
      return bad();
    }
    case 'VARCHAR': {
      if (!Array.isArray(col)) return bad();
      for (let i = 0; i < col.length; i++) {
        const v = col[i];
        if (typeof v === 'string') continue;
        if (v === null && def.nullable) continue;
        throw new NeurolensError('INTERNAL', `${table}.${def.name}: row ${i} is ${v === null ? 'null' : typeof v}, expected a string`);
      }
      return col;
    }
    case 'BOOLEAN':
      if (Array.isArray(col) && col.every((v) => typeof v === 'boolean')) return bools(col as boolean[]);
      if (!Array.isArray(col) && !ArrayBuffer.isView(col) && col.kind === 'bool') return col;
      return bad();
    case 'FLOAT_ARRAY':
      if (!Array.isArray(col) && !ArrayBuffer.isView(col) && col.kind === 'float32_list') return col;
      return bad();
  }
}

/** Validates columns against the table schema and orders them as the schema does. */
export function checkColumns(table: TableName, columns: Columns): Columns {
  const defs = TABLES[table].columns;
  const known = new Set(defs.map((d) => d.name));
  for (const name of Object.keys(columns)) {
    if (!known.has(name)) throw new NeurolensError('INTERNAL', `${table}: unknown column ${name} (columns: ${[...known].join(', ')})`);
  }
  const out: Columns = {};
  let rows: number | undefined;
  for (const def of defs) {
    const col = columns[def.name];
    if (col === undefined) {
      if (def.optional) continue;
      throw new NeurolensError('INTERNAL', `${table}: missing column ${def.name}`);
    }
    out[def.name] = checkColumn(table, def, col);
    const n = columnLength(col);
    if (rows === undefined) rows = n;
    else if (n !== rows) throw new NeurolensError('INTERNAL', `${table}.${def.name} has ${n} rows, other columns ${rows}`);
  }
  return out;
}

/**
 * Writes one part of `table` at its deterministic path (`file` is a shard number or a file
 * name such as FINAL_PART) atomically, after checking the columns against the schema.
 */
export async function writeTablePart(
  store: string,
  table: TableName,
  partition: Partition,
  file: number | string,
  columns: Columns,
): Promise<PartRecord> {
  const checked = checkColumns(table, columns);
  const loc = partPath(store, table, partition, typeof file === 'number' ? shardFileName(file) : file);
  const written = await writeParquetAtomic(loc.abs, checked, { metadata: { 'neurolens.table': table }, statistics: TABLES[table].statistics });
  const record: PartRecord = { table, path: loc.rel, rows: written.rows, bytes: written.bytes };
  for (const col of Object.values(checked)) {
    if (!Array.isArray(col) && !ArrayBuffer.isView(col) && col.kind === 'float32_list') record.dim = col.dim;
  }
  return record;
}

/** Writes a finalized table partition (`part-0.parquet`), replacing the previous one. */
export function writeFinalPart(store: string, table: TableName, partition: Partition, columns: Columns): Promise<PartRecord> {
  if (TABLES[table].perShard) throw new NeurolensError('INTERNAL', `${table} is written per shard, not finalized`);
  return writeTablePart(store, table, partition, FINAL_PART, columns);
}
