/**
 * Admission check for SQL from HTTP clients: exactly one read-only query (SELECT, WITH, FROM,
 * VALUES, DESCRIBE, SUMMARIZE, SHOW, or EXPLAIN [ANALYZE] of one of those). Everything is decided
 * by DuckDB's own parser, never by matching SQL text:
 *
 * 1. `json_serialize_sql` parses without executing anything and only serializes SELECT
 *    statements, so COPY, ATTACH, INSTALL, LOAD, SET, PRAGMA, CREATE, INSERT, DROP, CALL, ... and
 *    multi-statement strings are refused before DuckDB's statement extraction, which would
 *    already run PRAGMA handlers such as `import_database`.
 * 2. Function calls in the parse tree are checked: table functions against an allow-list, every
 *    function against a deny-list. A SELECT can still have side effects through functions:
 *    `enable_logging(storage = 'file', storage_path = ...)` writes files even with external access
 *    disabled and the configuration locked (verified on DuckDB 1.5), `query('...')` and
 *    `json_execute_serialized_sql` run SQL hidden in a string, `arrow_scan` reads raw pointers.
 * 3. The statement is prepared and its `statementType` must be SELECT (EXPLAIN for EXPLAIN).
 *
 * File access is limited separately by the connection settings (lockdown.ts); this check keeps
 * the endpoint from writing, changing settings or state, and running hidden statements.
 */
import { StatementType, type DuckDBConnection, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { NeurolensError, errorMessage } from '../errors.js';

/** Table functions a dashboard query may use (reads; file readers are confined to the store). */
const ALLOWED_TABLE_FUNCTIONS = new Set([
  'range', 'generate_series', 'unnest', 'repeat', 'repeat_row', 'summary', 'query_table',
  'histogram', 'histogram_values', 'json_each', 'json_tree', 'glob', 'sniff_csv',
  'read_parquet', 'parquet_scan', 'parquet_metadata', 'parquet_schema', 'parquet_file_metadata',
  'parquet_kv_metadata', 'parquet_full_metadata', 'parquet_bloom_probe',
  'read_csv', 'read_csv_auto', 'read_json', 'read_json_auto', 'read_json_objects', 'read_json_objects_auto',
  'read_ndjson', 'read_ndjson_auto', 'read_ndjson_objects', 'read_text', 'read_blob',
  'duckdb_columns', 'duckdb_constraints', 'duckdb_databases', 'duckdb_dependencies', 'duckdb_functions',
  'duckdb_indexes', 'duckdb_keywords', 'duckdb_schemas', 'duckdb_sequences', 'duckdb_settings',
  'duckdb_tables', 'duckdb_types', 'duckdb_views', 'duckdb_memory', 'duckdb_optimizers',
  'pragma_table_info', 'pragma_version', 'pragma_show', 'pragma_platform', 'pragma_collations',
  'pragma_database_size', 'pragma_storage_info', 'pragma_user_agent', 'pragma_metadata_info',
  'pg_timezone_names', 'icu_calendar_names',
]);

/** Functions with side effects or hidden SQL, refused wherever they appear. */
const DENIED_FUNCTIONS = new Set([
  'enable_logging', 'disable_logging', 'truncate_duckdb_logs', 'write_log',
  'enable_profiling', 'disable_profiling', 'enable_peg_parser', 'disable_peg_parser',
  'checkpoint', 'force_checkpoint', 'query', 'json_execute_serialized_sql',
  'arrow_scan', 'arrow_scan_dumb', 'read_duckdb', 'sleep_ms',
]);

const EXPLAIN = /^\s*EXPLAIN(?:\s+ANALY[SZ]E)?\s+/i;

function refuse(message: string): never {
  throw new NeurolensError('BAD_QUERY', message);
}

interface SerializedSql {
  error: boolean;
  error_type?: string;
  error_message?: string;
  statements?: unknown[];
}

/** Table-function names and all function names in a serialized parse tree. */
function collectFunctions(node: unknown, out: { table: Set<string>; all: Set<string> }): void {
  if (Array.isArray(node)) {
    for (const n of node) collectFunctions(n, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (typeof o.function_name === 'string') out.all.add(o.function_name.toLowerCase());
  if (o.type === 'TABLE_FUNCTION') {
    const fn = (o.function as Record<string, unknown> | undefined)?.function_name;
    // A table function whose name is not a plain string is something new: refuse it.
    out.table.add(typeof fn === 'string' ? fn.toLowerCase() : '(unknown)');
  }
  for (const v of Object.values(o)) collectFunctions(v, out);
}

/** Parses without executing; refuses anything but one SELECT with allowed functions. */
async function checkParseTree(c: DuckDBConnection, sql: string, shown: string): Promise<void> {
  const r = await c.runAndReadAll('SELECT json_serialize_sql($sql::VARCHAR) AS j', { sql });
  const j = JSON.parse(String(r.getRows()[0]?.[0])) as SerializedSql;
  if (j.error) {
    if (j.error_type === 'parser' || !/only SELECT/i.test(j.error_message ?? '')) refuse(`cannot parse the query: ${j.error_message ?? 'unknown error'}`);
    const keyword = /^\s*([A-Za-z]+)/.exec(sql)?.[1]?.toUpperCase() ?? 'this';
    refuse(
      `only one read-only query is allowed (SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN); ` +
        `${keyword === 'SELECT' || keyword === 'WITH' || keyword === 'FROM' ? 'a second statement or a non-SELECT part' : `a ${keyword} statement`} is refused: ${shown}`,
    );
  }
  const n = j.statements?.length ?? 0;
  if (n !== 1) refuse(`exactly one statement is allowed, got ${n}: ${shown}`);
  const fns = { table: new Set<string>(), all: new Set<string>() };
  collectFunctions(j.statements, fns);
  for (const f of fns.all) if (DENIED_FUNCTIONS.has(f)) refuse(`function ${f}() is not allowed over HTTP (it has side effects or runs hidden SQL)`);
  for (const f of fns.table) {
    if (!ALLOWED_TABLE_FUNCTIONS.has(f)) refuse(`table function ${f}() is not allowed over HTTP (allowed: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')})`);
  }
}

function preview(sql: string): string {
  const s = sql.replace(/\s+/g, ' ').trim();
  return JSON.stringify(s.length > 120 ? `${s.slice(0, 117)}...` : s);
}

/**
 * Checks `sql` and returns it prepared on `c` (the caller destroys it). Throws BAD_QUERY with
 * the reason for anything but one read-only query.
 */
export async function prepareReadOnly(c: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
  if (sql.trim() === '') refuse('empty query');
  const shown = preview(sql);
  const explain = EXPLAIN.exec(sql);
  await checkParseTree(c, explain ? sql.slice(explain[0].length) : sql, shown);
  let prepared: DuckDBPreparedStatement;
  try {
    const stmts = await c.extractStatements(sql);
    if (stmts.count !== 1) refuse(`exactly one statement is allowed, got ${stmts.count}: ${shown}`);
    prepared = await stmts.prepare(0);
  } catch (e) {
    if (e instanceof NeurolensError) throw e;
    throw new NeurolensError('BAD_QUERY', `query failed: ${errorMessage(e)}`, { cause: e });
  }
  const want = explain ? StatementType.EXPLAIN : StatementType.SELECT;
  if (prepared.statementType !== want) {
    const got = StatementType[prepared.statementType] ?? String(prepared.statementType);
    prepared.destroySync();
    refuse(`only read-only queries are allowed; DuckDB classifies this as a ${got} statement: ${shown}`);
  }
  return prepared;
}
