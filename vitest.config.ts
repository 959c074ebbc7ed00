import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real tfjs, DuckDB, worker pools and child processes: generous per-test limits, never
    // assertions on time.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Servers started by tests cache pictures under $XDG_CACHE_HOME (serve --picture-cache's
    // default): keep that out of the user's ~/.cache.
    env: { XDG_CACHE_HOME: path.join(os.tmpdir(), `neurolens-test-cache-${process.pid}`) },
  },
});
