/**
 * Fault injection for the queue tests only (never set in production): NEUROLENS_QUEUE_TEST_HOOKS
 * is JSON read by the processor thread.
 *   busyMs       block the processor thread's event loop this long per shard job (CPU-bound work)
 *   busyBeforeCommitMs  the same, after the shard's parts are written and before its commit
 *                (the window a crash test kills the worker in)
 *   failShards   shard indices whose jobs throw a BAD_INPUT error (a shard with bad data)
 *   failSteps    restrict failShards to these checkpoint steps
 */
export interface TestHooks {
  busyMs?: number;
  busyBeforeCommitMs?: number;
  failShards?: number[];
  failSteps?: number[];
}

export function readTestHooks(): TestHooks {
  const raw = process.env.NEUROLENS_QUEUE_TEST_HOOKS;
  if (!raw) return {};
  try {
    return JSON.parse(raw) as TestHooks;
  } catch {
    return {};
  }
}
