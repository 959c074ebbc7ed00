/**
 * Runs queries for the server with a time limit, a row limit and bounded concurrency.
 *
 * - Each query gets its own connection (views are shared by the instance), so one slow query
 *   does not hold up others; at most `concurrency` run at once because @duckdb/node-api runs
 *   every call on the libuv thread pool (4 threads by default), which file reads also use.
 * - Time limit: from arrival, queueing included; past it the connection is interrupted
 *   (`connection.interrupt()`), repeatedly, so an interrupt that lands between two calls is
 *   not lost.
 * - Row limit: the result is streamed and reading stops after `rowLimit + 1` rows, so
 *   `SELECT * FROM range(1e9)` costs a few chunks; the answer says it was truncated.
 */
import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import { NeurolensError, errorMessage } from '../errors.js';
import { Semaphore } from '../pipeline/semaphore.js';
import type { ColumnarResult, Store } from '../storage/index.js';
import { prepareReadOnly } from './sql-guard.js';

export interface ExecutorOptions {
  /** Milliseconds from arrival to answer (default 10 000). */
  timeoutMs?: number;
  /** Rows returned at most (default 100 000). */
  rowLimit?: number;
  /**
   * Rows at most in a download (CSV, NDJSON, Arrow, Parquet answers; default 1 000 000): files
   * are for tools that take more than a browser table, but the answer is still built in memory.
   */
  downloadRowLimit?: number;
  /** Queries running at once (default 2). */
  concurrency?: number;
}

export interface LimitedResult extends ColumnarResult {
  /** More rows existed than the row limit; `rowCount` rows were kept. */
  truncated: boolean;
}

export interface RunOptions {
  /** SQL from a client: check it with the read-only guard (sql-guard.ts). */
  untrusted: boolean;
  params?: Record<string, DuckDBValue>;
  /** Overrides the executor's limit (tests). */
  timeoutMs?: number;
  /** A download: the download row limit applies instead of the row limit. */
  download?: boolean;
}

const INTERRUPT_REPEAT_MS = 50;

export class QueryExecutor {
  readonly timeoutMs: number;
  readonly rowLimit: number;
  readonly downloadRowLimit: number;
  private readonly slots: Semaphore;

  constructor(
    private readonly store: Store,
    opts: ExecutorOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.rowLimit = opts.rowLimit ?? 100_000;
    this.downloadRowLimit = Math.max(this.rowLimit, opts.downloadRowLimit ?? 1_000_000);
    this.slots = new Semaphore(opts.concurrency ?? 2);
  }

  async run(sql: string, opts: RunOptions): Promise<LimitedResult> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = performance.now() + timeoutMs;
    const timedOut = (): NeurolensError =>
      new NeurolensError('BAD_QUERY', `query cancelled: it ran past the time limit of ${timeoutMs} ms (serve --query-timeout)`);
    if (!(await this.acquire(deadline))) throw timedOut();
    try {
      return await this.store.withConnection(async (c) => {
        let expired = false;
        let repeat: NodeJS.Timeout | undefined;
        const timer = setTimeout(() => {
          expired = true;
          c.interrupt();
          repeat = setInterval(() => c.interrupt(), INTERRUPT_REPEAT_MS);
        }, Math.max(0, deadline - performance.now()));
        try {
          return await this.execute(c, sql, opts);
        } catch (e) {
          if (expired) throw timedOut();
          if (e instanceof NeurolensError) throw e;
          throw new NeurolensError('BAD_QUERY', `query failed: ${errorMessage(e)}`, { cause: e });
        } finally {
          clearTimeout(timer);
          clearInterval(repeat);
        }
      });
    } finally {
      this.slots.release();
    }
  }

  /**
   * Runs `fn` holding a query slot (work that queries the store through other code, e.g. a
   * mosaic). The time limit applies to the wait for the slot only: `fn` cannot be interrupted.
   */
  async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (!(await this.acquire(performance.now() + this.timeoutMs))) {
      throw new NeurolensError('BAD_QUERY', `no free query slot within the time limit of ${this.timeoutMs} ms (the server is busy)`);
    }
    try {
      return await fn();
    } finally {
      this.slots.release();
    }
  }

  /** Waits for a free slot until the deadline; false when it passed (the slot is not taken). */
  private async acquire(deadline: number): Promise<boolean> {
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const got = this.slots.acquire().then(() => {
      // Acquired after giving up: hand the slot straight back.
      if (expired) this.slots.release();
      return !expired;
    });
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        expired = true;
        resolve(false);
      }, Math.max(0, deadline - performance.now()));
    });
    try {
      return await Promise.race([got, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async execute(c: DuckDBConnection, sql: string, opts: RunOptions): Promise<LimitedResult> {
    let prepared: DuckDBPreparedStatement;
    if (opts.untrusted) {
      prepared = await prepareReadOnly(c, sql);
    } else {
      prepared = await c.prepare(sql);
    }
    try {
      if (opts.params) prepared.bind(opts.params);
      const limit = opts.download ? this.downloadRowLimit : this.rowLimit;
      const reader = await prepared.streamAndReadUntil(limit + 1);
      const truncated = reader.currentRowCount > limit;
      const rowCount = Math.min(reader.currentRowCount, limit);
      // Deduplicated names: `SELECT 1 AS a, 2 AS a` keeps both columns (a, a_1).
      const names = reader.deduplicatedColumnNames();
      const types = reader.columnTypes();
      const cols = reader.getColumnsJS();
      const data: Record<string, unknown[]> = {};
      names.forEach((n, i) => {
        const col = cols[i] ?? [];
        data[n] = truncated ? col.slice(0, rowCount) : col;
      });
      return { columns: names.map((name, i) => ({ name, type: types[i]!.toString() })), data, rowCount, truncated };
    } finally {
      prepared.destroySync();
    }
  }
}
