import pino from 'pino';

/**
 * Structured logs go to stderr so stdout stays clean for `--json` results and query output.
 * NEUROLENS_LOG_LEVEL=debug|info|warn|error (default warn).
 */
export const log = pino(
  { level: process.env.NEUROLENS_LOG_LEVEL ?? 'warn', base: undefined },
  pino.destination({ fd: 2, sync: true }),
);
