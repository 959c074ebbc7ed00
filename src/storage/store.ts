/**
 * In-process DuckDB over a store: an in-memory database holding only the catalog views, so no
 * `.duckdb` file is locked and any number of readers can query while a run writes Parquet
 * (DESIGN.md "Parquet is the record, DuckDB is the engine").
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { NeurolensError, errorMessage } from '../errors.js';
import { inspectStore, renderCatalog, writeCatalog, type StoreInventory } from './catalog.js';
import { treeFingerprint } from './fingerprint.js';
import { COMMITS_DIR } from './layout.js';

export type QueryParams = DuckDBValue[] | Record<string, DuckDBValue>;

export interface StoreOptions {
  /** Do not create the directory or write catalog.sql (readers: CLI query, server). */
  readOnly?: boolean;
  /**
   * Before each query, check whether the commits changed since the views were made and refresh
   * them if so (default true), so a reader always sees the shards committed when it asks. The
   * server keeps it on too, so a request never sees fewer commits than the run has written.
   */
  followCommits?: boolean;
}

/** Column-oriented result: names and DuckDB type names in order, values per column. */
export interface ColumnarResult {
  columns: { name: string; type: string }[];
  data: Record<string, unknown[]>;
  rowCount: number;
}

export class Store {
  private constructor(
    readonly dir: string,
    private readonly instance: DuckDBInstance,
    private readonly readOnly: boolean,
    private inventory: StoreInventory,
    private readonly followCommits: boolean,
  ) {}

  private stamp = '';
  private refreshing: Promise<void> | undefined;

  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    const root = path.resolve(dir);
    // DuckDB expands glob characters in the paths the views read.
    if (/[*?[\]{}]/.test(root)) {
      throw new NeurolensError('BAD_SPEC', `store path ${root} contains a glob character (* ? [ ] { }); use another directory`);
    }
    const readOnly = opts.readOnly ?? false;
    let isDir = false;
    try {
      isDir = (await stat(root)).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new NeurolensError('IO', `cannot open store ${root}: ${errorMessage(e)}`, { cause: e });
      }
    }
    if (!isDir && readOnly) throw new NeurolensError('NOT_FOUND', `store ${root} does not exist`);
    const instance = await DuckDBInstance.create(':memory:');
    const store = new Store(root, instance, readOnly, { tablesWithFiles: [], codeDims: [], hasCommits: false, hasRuns: false, committed: {} }, opts.followCommits ?? true);
    try {
      await store.refresh();
    } catch (e) {
      store.dispose();
      throw e;
    }
    return store;
  }

  /** Fingerprint of the commit records (_commits/ tree): a commit or uncommit changes it. */
  private async commitStamp(): Promise<string> {
    return (await treeFingerprint(path.join(this.dir, COMMITS_DIR))).id;
  }

  /** What the views were built from (tables with files, code widths, ...). */
  get info(): StoreInventory {
    return this.inventory;
  }

  /**
   * Re-inspects the store and recreates the views; unless read-only also rewrites catalog.sql.
   * The views of per-shard tables list the parts committed at this moment (catalog.ts 'listed'):
   * shards committed or uncommitted later become visible or hidden at the next refresh, which a
   * long-lived reader (the server's store-watch) does when the commits change. New final parts
   * (neuron_stats, topk, ...) of an existing table are visible without a refresh.
   */
  async refresh(): Promise<void> {
    // Concurrent callers share one refresh.
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    // Taken before inspecting: a commit during the refresh changes the stamp again, so the next
    // query refreshes once more instead of missing it.
    const stamp = await this.commitStamp();
    const inv = await inspectStore(this.dir);
    if (!this.readOnly) await writeCatalog(this.dir, inv);
    const sql = renderCatalog(inv, `${this.dir}/`, 'listed');
    await this.connection(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const stmts = await c.extractStatements(sql);
        for (let i = 0; i < stmts.count; i++) {
          const prepared = await stmts.prepare(i);
          try {
            await prepared.run();
          } finally {
            prepared.destroySync();
          }
        }
        await c.run('COMMIT');
      } catch (e) {
        await c.run('ROLLBACK');
        throw new NeurolensError('IO', `cannot create the views of store ${this.dir}: ${errorMessage(e)}`, { cause: e });
      }
    });
    this.inventory = inv;
    this.stamp = stamp;
  }

  /**
   * Runs `fn` on a fresh connection (views are shared by all connections of the instance). With
   * followCommits the views are first brought up to the commits made so far (sync), so every
   * reader, whichever way it queries, sees each shard committed before it asked.
   */
  async withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    await this.sync();
    return this.connection(fn);
  }

  private async connection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const c = await this.instance.connect();
    try {
      return await fn(c);
    } finally {
      c.closeSync();
    }
  }

  /** Refreshes the views if the commits changed since they were made (with followCommits). */
  private async sync(): Promise<void> {
    if (!this.followCommits) return;
    // refresh() joins a refresh already under way, which may have taken its stamp before the
    // commit this query saw: check again after it (bounded: commits may keep coming).
    for (let i = 0; i < 4; i++) {
      await this.refreshing;
      if ((await this.commitStamp()) === this.stamp) break;
      await this.refresh();
    }
  }

  private async read(sql: string, params?: QueryParams) {
    return this.withConnection(async (c) => {
      try {
        return await c.runAndReadAll(sql, params);
      } catch (e) {
        throw new NeurolensError('BAD_QUERY', `query failed: ${errorMessage(e)}`, { cause: e });
      }
    });
  }

  /** Rows as plain JS objects (BIGINT as bigint, lists/arrays as arrays). `$name` or `?` params. */
  async query<T = Record<string, unknown>>(sql: string, params?: QueryParams): Promise<T[]> {
    return (await this.read(sql, params)).getRowObjectsJS() as T[];
  }

  /** Rows as JSON-safe objects (BIGINT as string when large; see @duckdb/node-api Json converter). */
  async queryJson(sql: string, params?: QueryParams): Promise<Record<string, unknown>[]> {
    return (await this.read(sql, params)).getRowObjectsJson() as Record<string, unknown>[];
  }

  /** Column-oriented result with DuckDB type names (for table/CSV/Arrow-like output). */
  async queryColumns(sql: string, params?: QueryParams): Promise<ColumnarResult> {
    const r = await this.read(sql, params);
    const names = r.columnNames();
    const types = r.columnTypes();
    return {
      columns: names.map((name, i) => ({ name, type: types[i]!.toString() })),
      data: r.getColumnsObjectJS() as Record<string, unknown[]>,
      rowCount: r.currentRowCount,
    };
  }

  dispose(): void {
    this.instance.closeSync();
  }
}
