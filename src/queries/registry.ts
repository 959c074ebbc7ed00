/**
 * The query registry: `queries/*.sql`, one question per file (DESIGN.md "Queries"). The CLI and
 * the HTTP server both go through loadQueries / getQuery / bindParams / runQuery, so a question
 * behaves the same everywhere.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NeurolensError, errorMessage } from '../errors.js';
import type { StoreInventory } from '../storage/catalog.js';
import type { ColumnarResult, Store } from '../storage/store.js';
import { parseQueryFile } from './header.js';
import { bindParams, closeNames } from './params.js';
import type { QueryDef, RawParam } from './types.js';

/** `<repo>/queries`, next to `src/`. */
export const QUERIES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../queries');

const FILE_NAME = /^[a-z][a-z0-9_]*\.sql$/;

/** All queries of `dir`, sorted by name. A malformed file is an error (BAD_QUERY naming it). */
export async function loadQueries(dir: string = QUERIES_DIR): Promise<QueryDef[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  } catch (e) {
    throw new NeurolensError('IO', `cannot list the query directory ${dir}: ${errorMessage(e)}`, { cause: e });
  }
  const defs: QueryDef[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    if (!FILE_NAME.test(n)) {
      throw new NeurolensError('BAD_QUERY', `query file ${file}: name must be lower-case letters, digits and '_' (e.g. top_k_activators.sql)`);
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new NeurolensError('IO', `cannot read query file ${file}: ${errorMessage(e)}`, { cause: e });
    }
    defs.push(parseQueryFile(n.slice(0, -4), file, text));
  }
  return defs;
}

/** One query by name; an unknown name is BAD_QUERY listing the close names (or all of them). */
export async function getQuery(name: string, dir: string = QUERIES_DIR): Promise<QueryDef> {
  const defs = await loadQueries(dir);
  const def = defs.find((d) => d.name === name);
  if (def) return def;
  const all = defs.map((d) => d.name);
  const close = closeNames(name, all);
  const hint = close.length ? `did you mean ${close.join(', ')}?` : `known queries: ${all.join(', ')}`;
  throw new NeurolensError('BAD_QUERY', `unknown query '${name}': ${hint} ('neurolens queries' lists them with their parameters)`);
}

/**
 * The SQL to run on this store: with `@array-fallback`, array_* distance functions become their
 * list_* equivalents when `codes.code` is FLOAT[] (codes of several widths, or none; catalog.ts).
 */
export function sqlForStore(def: QueryDef, store: { info: Pick<StoreInventory, 'codeDims'> }): string {
  // One width: FLOAT[D]. None (no codes yet: a typed empty FLOAT[] view) or several: FLOAT[].
  if (!def.arrayFallback || store.info.codeDims.length === 1) return def.sql;
  return def.sql.replace(/\barray_(cosine_distance|cosine_similarity|distance|inner_product|negative_inner_product)\s*\(/g, 'list_$1(');
}

/**
 * Runs a query with caller parameters (bound and checked here, so raw or already bound values
 * both work). Query failures are NeurolensError('BAD_QUERY') naming the query.
 */
export async function runQuery(store: Store, def: QueryDef, params: Record<string, RawParam | undefined> = {}): Promise<ColumnarResult> {
  const bound = bindParams(def, params);
  try {
    return await store.queryColumns(sqlForStore(def, store), bound);
  } catch (e) {
    if (e instanceof NeurolensError) throw new NeurolensError(e.code, `query ${def.name}: ${e.message}`, { cause: e.cause ?? e });
    throw e;
  }
}
