/**
 * `neurolens serve` as a library: opens the store read-only (an in-memory DuckDB with views over
 * the Parquet files, so no file lock and a run may write meanwhile), confines DuckDB to the
 * store (lockdown.ts), and serves the API (app.ts) with @hono/node-server.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { NeurolensError, errorMessage } from '../errors.js';
import { loadQueries } from '../queries/index.js';
import { Store } from '../storage/index.js';
import { createApp } from './app.js';
import { AnswerCache } from './cache.js';
import { QueryExecutor, type ExecutorOptions } from './executor.js';
import { lockDownStore } from './lockdown.js';
import { defaultPictureCacheDir } from './picture-cache.js';
import { PictureService } from './pictures.js';
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
  /** Worker threads rendering pictures (default 1). */
  pictureThreads?: number;
  /** Renders that may wait for a picture worker (default 16); more answer 503. */
  pictureQueue?: number;
  /**
   * Picture cache directory (default `$XDG_CACHE_HOME/neurolens/pictures`, else
   * `~/.cache/neurolens/pictures`); null = memory only. Never inside the store.
   */
  pictureCacheDir?: string | null;
  /** Bytes of rendered pictures kept in memory (default 64 MiB). */
  pictureMemoryBytes?: number;
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

/** The picture cache directory, refused inside the store (the server must never write there). */
function pictureCacheDir(storeDir: string, given: string | null | undefined): string | null {
  if (given === null) return null;
  const dir = path.resolve(given ?? defaultPictureCacheDir());
  const rel = path.relative(path.resolve(storeDir), dir);
  if (rel === '' || (rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel))) {
    throw new NeurolensError('BAD_SPEC', `--picture-cache ${dir} is inside the store ${storeDir}; the server never writes there (a change would refresh every dashboard): choose another directory`);
  }
  return dir;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  if (opts.token !== undefined && opts.token.trim() === '') throw new NeurolensError('BAD_SPEC', 'the bearer token must not be empty');
  const cacheDir = pictureCacheDir(opts.store, opts.pictureCacheDir);
  // followCommits: each query sees the commits made up to that moment (a few stat calls), not
  // only those the background store-watch has noticed.
  const store = await Store.open(opts.store, { readOnly: true });
  try {
    await lockDownStore(store, { memoryLimitBytes: opts.memoryLimitBytes });
    const queries = await loadQueries(opts.queriesDir);
    const watch = await StoreWatch.create(store, opts.watch);
    const pictures = new PictureService(store.dir, {
      threads: opts.pictureThreads,
      queue: opts.pictureQueue,
      cacheDir,
      memoryBytes: opts.pictureMemoryBytes,
    });
    const app = createApp({
      store,
      executor: new QueryExecutor(store, opts),
      watch,
      queries,
      samples: new SampleImages(store.dir),
      cache: new AnswerCache(opts.cacheBytes),
      token: opts.token,
      maxBodyBytes: opts.maxBodyBytes,
      pictures,
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
      // Pictures first: terminating the workers fails their renders, so the requests waiting on
      // them are answered and the HTTP server can close.
      close: () =>
        (closed ??= pictures
          .close()
          .then(
            () =>
              new Promise<void>((resolve) => {
                server.close(() => resolve());
                // Keep-alive connections would hold close() open until their idle timeout.
                if ('closeIdleConnections' in server) server.closeIdleConnections();
              }),
          )
          .then(() => watch.close())
          .finally(() => store.dispose())),
    };
  } catch (e) {
    store.dispose();
    throw e;
  }
}
