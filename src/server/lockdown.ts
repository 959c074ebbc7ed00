/**
 * Confines the DuckDB instance behind a Store to the store directory, for SQL that comes from
 * HTTP clients (DuckDB "Securing DuckDB": allowed_directories, enable_external_access,
 * lock_configuration). Settings are instance-wide, so every connection, named queries included,
 * is confined.
 *
 * Order matters: `allowed_directories` can only be set while external access is still enabled;
 * then external access goes off (local files outside the allowed prefixes, http(s), ATTACH of
 * files, extension install/load all fail with a Permission Error), and `lock_configuration`
 * refuses every later SET, so a query cannot turn any of it back on. The views keep working: they
 * read the store with absolute paths under the allowed prefix, and Store.refresh() may recreate
 * them (CREATE VIEW is not configuration). Verified on DuckDB 1.5: reading `<store>/../x` is
 * refused (paths are checked after normalization).
 */
import os from 'node:os';
import type { Store } from '../storage/index.js';
import { sqlString } from '../storage/index.js';
import { NeurolensError, errorMessage } from '../errors.js';

export interface LockdownOptions {
  /** DuckDB memory_limit in bytes (default: a quarter of the machine's memory, at least 1 GiB). */
  memoryLimitBytes?: number;
}

export function defaultMemoryLimit(): number {
  return Math.max(2 ** 30, Math.floor(os.totalmem() / 4));
}

export async function lockDownStore(store: Store, opts: LockdownOptions = {}): Promise<void> {
  const mib = Math.max(64, Math.floor((opts.memoryLimitBytes ?? defaultMemoryLimit()) / 2 ** 20));
  const statements = [
    // Bounds what the queries take together (hash tables, sorts, lists); past it, a clear Out of
    // Memory error for the query that asked, instead of the process running out.
    `SET memory_limit = '${mib}MiB'`,
    // No spill files: with a temp directory DuckDB adds it to the allowed prefixes (a second
    // readable and writable place outside the store). Queries over the memory limit fail instead.
    `SET temp_directory = ''`,
    `SET allowed_directories = [${sqlString(`${store.dir}/`)}]`,
    'SET autoinstall_known_extensions = false',
    'SET autoload_known_extensions = false',
    'SET enable_external_access = false',
    'SET lock_configuration = true',
  ];
  await store.withConnection(async (c) => {
    for (const sql of statements) {
      try {
        await c.run(sql);
      } catch (e) {
        throw new NeurolensError('INTERNAL', `cannot confine DuckDB to the store (${sql}): ${errorMessage(e)}`, { cause: e });
      }
    }
  });
}
