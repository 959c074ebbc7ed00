/** Storage: Parquet parts, shard commits, run records, the DuckDB catalog and Store. */
export * from './schemas.js';
export * from './layout.js';
export * from './atomic.js';
export * from './parquet-writer.js';
export * from './parts.js';
export * from './commit.js';
export * from './runs.js';
export * from './catalog.js';
export * from './store.js';
export * from './fingerprint.js';
