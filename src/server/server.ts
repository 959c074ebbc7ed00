/**
 * `neurolens serve` as a library: opens the store read-only (an in-memory DuckDB with views over
 * the Parquet files, so no file lock and a run may write meanwhile), confines DuckDB to the
 * store (lockdown.ts), and serves the API (app.ts) with @hono/node-server.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { NeurolensError, errorMessage } from '../errors.js';
import { loadQueries } from '../queries/index.js';
import { Store } from '../storage/index.js';
import { createApp } from './app.js';
import { AnswerCache } from './cache.js';
import { QueryExecutor, type ExecutorOptions } from './executor.js';
import { lockDownStore } from './lockdown.js';
import { SampleImages } from './samples.js';
import { StoreWatch, type StoreWatchOptions } from './store-watch.js';

export interface ServerOptions extends ExecutorOptions {
  store: string;
  /** Default 8080; 0 = an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Bearer token for every route but /healthz; undefined = no authentication. */
  token?: string;
  /** Directory of named query files (default: the queries shipped with neurolens). */
  queriesDir?: string;
  maxBodyBytes?: number;
  /** DuckDB memory limit (default: a quarter of the machine's memory, at least 1 GiB). */
  memoryLimitBytes?: number;
  /** Bytes of encoded named-query answers kept (default 64 MiB). */
  cacheBytes?: number;
  watch?: StoreWatchOptions;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  store: Store;
  close(): Promise<void>;
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(server));
    server.once('error', (e) => reject(new NeurolensError('IO', `cannot listen on ${host}:${port}: ${errorMessage(e)}`, { cause: e })));
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  if (opts.token !== undefined && opts.token.trim() === '') throw new NeurolensError('BAD_SPEC', 'the bearer token must not be empty');
  // followCommits: each query sees the commits made up to that moment (a few stat calls), not
  // only those the background store-watch has noticed.
  const store = await Store.open(opts.store, { readOnly: true });
  try {
    await lockDownStore(store, { memoryLimitBytes: opts.memoryLimitBytes });
    const queries = await loadQueries(opts.queriesDir);
    const watch = await StoreWatch.create(store, opts.watch);
    const app = createApp({
      store,
      executor: new QueryExecutor(store, opts),
      watch,
      queries,
      samples: new SampleImages(store.dir),
      cache: new AnswerCache(opts.cacheBytes),
      token: opts.token,
      maxBodyBytes: opts.maxBodyBytes,
    });
    const host = opts.host ?? '127.0.0.1';
    const server = await listen(app, host, opts.port ?? 8080);
    const port = (server.address() as AddressInfo).port;
    let closed: Promise<void> | undefined;
    return {
      url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      host,
      port,
      store,
      close: () =>
        (closed ??= new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Keep-alive connections would hold close() open until their idle timeout.
          if ('closeIdleConnections' in server) server.closeIdleConnections();
        })
          .then(() => watch.close())
          .finally(() => store.dispose())),
    };
  } catch (e) {
    store.dispose();
    throw e;
  }
}
