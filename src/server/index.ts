/** HTTP API over a store (`neurolens serve`). */
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export { createApp, type AppDeps } from './app.js';
export { QueryExecutor, type ExecutorOptions, type LimitedResult } from './executor.js';
export { prepareReadOnly } from './sql-guard.js';
export { lockDownStore, defaultMemoryLimit, type LockdownOptions } from './lockdown.js';
export { StoreWatch, type Generation, type StoreWatchOptions } from './store-watch.js';
export { AnswerCache } from './cache.js';
export { negotiateFormat, type HttpFormat } from './negotiate.js';
export { HTTP_STATUS, HttpError } from './http-errors.js';
