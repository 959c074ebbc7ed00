import type { Command } from 'commander';
import { startServer } from '../server/index.js';
import { intOption } from './options.js';

interface ServeOptions {
  store: string;
  port: number;
  host: string;
  token?: string;
  queries?: string;
  queryTimeout: number;
  rowLimit: number;
  downloadRowLimit: number;
  maxBody: number;
  concurrency: number;
  memoryLimit?: number;
  pictureThreads: number;
  pictureQueue: number;
  pictureCache?: string;
  pictureMemory: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `neurolens serve --store DIR`: a read-only HTTP API over a store for dashboards (named queries,
 * SQL, sample images). Runs until SIGINT/SIGTERM; a pipeline run may write the store meanwhile.
 */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a store over HTTP for dashboards: named queries, read-only SQL, sample images, pictures rendered on demand')
    .requiredOption('--store <dir>', 'store directory')
    .option('--port <n>', 'TCP port (0 = any free port)', intOption('--port', 0), 8080)
    .option('--host <addr>', 'address to bind (default loopback only)', '127.0.0.1')
    .option('--token <token>', 'require "Authorization: Bearer <token>" on every route but /healthz (default: env NEUROLENS_TOKEN)')
    .option('--queries <dir>', 'directory of named query files (default: the shipped queries)')
    .option('--query-timeout <ms>', 'time limit per query', intOption('--query-timeout'), 10_000)
    .option('--row-limit <n>', 'rows returned at most in JSON (tables); longer answers are cut and marked X-Neurolens-Truncated', intOption('--row-limit'), 100_000)
    .option('--download-row-limit <n>', 'rows at most in CSV, NDJSON, Arrow and Parquet answers (downloads; at least --row-limit)', intOption('--download-row-limit'), 1_000_000)
    .option('--max-body <bytes>', 'largest request body', intOption('--max-body'), 256 * 1024)
    .option('--concurrency <n>', 'queries running at once', intOption('--concurrency'), 2)
    .option('--memory-limit <MiB>', "DuckDB memory limit (default: a quarter of the machine's memory, at least 1024)", intOption('--memory-limit', 64))
    .option('--picture-threads <n>', 'worker threads rendering activation maximization and attribution pictures', intOption('--picture-threads'), 1)
    .option('--picture-queue <n>', 'picture renders that may wait for a worker; more are answered 503 with Retry-After', intOption('--picture-queue', 0), 16)
    .option('--picture-cache <dir>', 'directory of rendered pictures, kept across restarts (default $XDG_CACHE_HOME/neurolens/pictures, else ~/.cache/neurolens/pictures; never inside the store)')
    .option('--picture-memory <MiB>', 'rendered pictures kept in memory', intOption('--picture-memory', 0), 64)
    .action(async (o: ServeOptions) => {
      const token = o.token ?? (process.env.NEUROLENS_TOKEN || undefined);
      const server = await startServer({
        store: o.store,
        port: o.port,
        host: o.host,
        token,
        queriesDir: o.queries,
        timeoutMs: o.queryTimeout,
        rowLimit: o.rowLimit,
        downloadRowLimit: o.downloadRowLimit,
        maxBodyBytes: o.maxBody,
        concurrency: o.concurrency,
        memoryLimitBytes: o.memoryLimit === undefined ? undefined : o.memoryLimit * 2 ** 20,
        pictureThreads: o.pictureThreads,
        pictureQueue: o.pictureQueue,
        pictureCacheDir: o.pictureCache,
        pictureMemoryBytes: o.pictureMemory * 2 ** 20,
      });
      process.stderr.write(`neurolens: serving ${server.store.dir} at ${server.url}${token ? ' (bearer token required)' : ''}\n`);
      if (!token && !LOOPBACK.has(o.host)) {
        process.stderr.write(`neurolens: warning: listening on ${o.host} without a token; anyone who can reach it can query the store\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
    });
}
