/**
 * Where the queue lives: a `redis://[user:pass@]host:port[/db]` URL, parsed into the connection
 * options BullMQ (ioredis) takes. `maxRetriesPerRequest: null` is what BullMQ requires for
 * workers: a blocking command must wait through a Redis restart instead of failing.
 */
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'bullmq';
import { NeurolensError } from '../errors.js';

/** The BullMQ queue every neurolens job goes to (shard, finalize and run jobs). */
export const QUEUE_NAME = 'neurolens';
/** BullMQ's key prefix (its default); the lock key of job J is `<prefix>:<queue>:<J>:lock`. */
export const QUEUE_PREFIX = 'bull';
/** Redis keys of neurolens itself (run contexts), outside BullMQ's namespace. */
export const RUN_KEY_PREFIX = 'neurolens:run:';
export const RUNS_SET = 'neurolens:runs';

export interface QueueTarget {
  url: string;
  connection: ConnectionOptions & { host: string; port: number; db: number };
}

export function parseQueueUrl(url: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NeurolensError('BAD_SPEC', `--queue: expected redis://host:port[/db], got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new NeurolensError('BAD_SPEC', `--queue: expected a redis:// URL, got '${url}'`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new NeurolensError('BAD_SPEC', `--queue: bad database number in '${url}'`);
  return {
    url,
    connection: {
      host: u.hostname || '127.0.0.1',
      port: u.port ? Number(u.port) : 6379,
      db,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      maxRetriesPerRequest: null,
    },
  };
}

/** Short stable hash (job ids carry the store's identity: two stores never share jobs). */
export function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 10);
}

/**
 * Waits until `client` (a Queue or FlowProducer) is connected, or fails with an IO error after
 * `ms`: BullMQ retries a down Redis forever, right for a worker, not for a command a user waits on.
 */
export async function ensureReachable(client: { waitUntilReady(): Promise<unknown> }, url: string, ms = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NeurolensError('IO', `cannot reach Redis at ${url} (no answer within ${ms / 1000} s)`)), ms);
  });
  try {
    await Promise.race([client.waitUntilReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Closes a Queue / FlowProducer without hanging: BullMQ's close never resolves while Redis is
 * unreachable, and a command must still exit with its error.
 */
export async function closeClient(client: { close(): Promise<unknown>; on(event: 'error', fn: (e: Error) => void): unknown }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.close().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 2000).unref()))]);
  clearTimeout(timer);
}

/** Connection errors of a command's client surface through ensureReachable, not as crashes. */
export function quietErrors<T extends { on(event: 'error', fn: (e: Error) => void): unknown }>(client: T): T {
  client.on('error', () => undefined);
  return client;
}
